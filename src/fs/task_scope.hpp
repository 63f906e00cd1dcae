#pragma once
// The core's tasks and timers, posted to an Executor it does not own, must never run on a
// component that is gone. A TaskScope wraps each: close() makes those not started yet do
// nothing and waits for those running. Every component of the core posts through the
// Filesystem's one scope.

#include <condition_variable>
#include <memory>
#include <mutex>

#include "popfs/util/executor.hpp"

namespace popfs::fs {

class TaskScope {
 public:
  explicit TaskScope(Executor& executor) : executor_(executor), state_(std::make_shared<State>()) {}
  ~TaskScope() { close(); }
  TaskScope(const TaskScope&) = delete;
  TaskScope& operator=(const TaskScope&) = delete;

  void post(Executor::Task task) { executor_.post(wrap(std::move(task))); }
  // On another executor (a Strand over the same pool), in this scope.
  void post_to(Executor& other, Executor::Task task) { other.post(wrap(std::move(task))); }
  Executor::TimerId post_at(Clock::time_point when, Executor::Task task) {
    return executor_.post_at(when, wrap(std::move(task)));
  }
  Executor::TimerId post_after(Clock::duration delay, Executor::Task task) {
    return post_at(clock().now() + delay, std::move(task));
  }
  bool cancel(Executor::TimerId timer) { return timer != 0 && executor_.cancel(timer); }
  const Clock& clock() const { return executor_.clock(); }
  Executor& executor() { return executor_; }

  // Not from one of the scope's own tasks.
  void close() {
    std::unique_lock lock(state_->mu);
    state_->closed = true;
    state_->cv.wait(lock, [&] { return state_->running == 0; });
  }

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    bool closed = false;
    int running = 0;
  };

  Executor::Task wrap(Executor::Task task) {
    return [state = state_, task = std::move(task)] {
      {
        std::lock_guard lock(state->mu);
        if (state->closed) return;
        ++state->running;
      }
      task();
      std::lock_guard lock(state->mu);
      if (--state->running == 0) state->cv.notify_all();
    };
  }

  Executor& executor_;
  std::shared_ptr<State> state_;
};

}  // namespace popfs::fs
