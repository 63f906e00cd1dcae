#include "popfs/util/strand.hpp"

namespace popfs {

struct Strand::Queue {
  explicit Queue(Executor& e) : inner(e) {}
  Executor& inner;
  std::mutex mu;
  std::deque<Task> tasks;
  bool scheduled = false;  // a drain is posted to the inner executor or running
  bool closed = false;     // the Strand is gone: drop everything

  static void push(const std::shared_ptr<Queue>& self, Task task) {
    {
      std::lock_guard lock(self->mu);
      if (self->closed) return;
      self->tasks.push_back(std::move(task));
      if (self->scheduled) return;
      self->scheduled = true;
    }
    self->inner.post([self] { drain(self); });
  }

  // Runs the queued tasks one by one, until none is left.
  static void drain(const std::shared_ptr<Queue>& self) {
    for (;;) {
      Task task;
      {
        std::lock_guard lock(self->mu);
        if (self->closed || self->tasks.empty()) {
          self->scheduled = false;
          return;
        }
        task = std::move(self->tasks.front());
        self->tasks.pop_front();
      }
      task();
    }
  }
};

Strand::Strand(Executor& inner) : inner_(inner), queue_(std::make_shared<Queue>(inner)) {}

Strand::~Strand() {
  std::lock_guard lock(queue_->mu);
  queue_->closed = true;
  queue_->tasks.clear();
}

void Strand::post(Task task) { Queue::push(queue_, std::move(task)); }

Executor::TimerId Strand::post_at(Clock::time_point when, Task task) {
  // At its time the task joins the strand's queue like any other.
  return inner_.post_at(when, [weak = std::weak_ptr<Queue>(queue_), task = std::move(task)]() mutable {
    if (auto queue = weak.lock()) Queue::push(queue, std::move(task));
  });
}

bool Strand::cancel(TimerId timer) { return inner_.cancel(timer); }

const Clock& Strand::clock() const { return inner_.clock(); }

}  // namespace popfs
