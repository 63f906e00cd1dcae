#include "popfs/util/thread_pool.hpp"

#include <pthread.h>

namespace popfs {

ThreadPool::ThreadPool(std::size_t threads, std::string name) {
  if (name.size() > 15) name.resize(15);  // the kernel's limit for thread names
  for (std::size_t i = 0; i < std::max<std::size_t>(threads, 1); ++i) {
    threads_.emplace_back([this] { run(); });
    pthread_setname_np(threads_.back().native_handle(), name.c_str());
  }
}

ThreadPool::~ThreadPool() { stop(); }

namespace {
thread_local const ThreadPool* current_pool = nullptr;
}

bool ThreadPool::running_in_this_thread() const { return current_pool == this; }

void ThreadPool::post(Task task) {
  std::lock_guard lock(mu_);
  if (joined_) return;  // while stopping, tasks still run: queued work may post more
  ready_.push_back(std::move(task));
  // Under the lock: a thread outside the pool may post and the pool then be destroyed at
  // once; a notify after the unlock would touch a condition variable being destroyed.
  cv_.notify_one();
}

Executor::TimerId ThreadPool::post_at(Clock::time_point when, Task task) {
  TimerId id = 0;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return 0;
    id = next_timer_++;
    const auto timer = timers_.emplace(when, std::make_pair(id, std::move(task)));
    timer_times_.emplace(id, when);
    // Only a new earliest deadline changes what an idle thread waits for; one thread waking
    // to wait for it is enough (a timer per directory page must not wake the whole pool).
    if (timer == timers_.begin()) cv_.notify_one();
  }
  return id;
}

bool ThreadPool::cancel(TimerId timer) {
  std::lock_guard lock(mu_);
  const auto at = timer_times_.find(timer);
  if (at == timer_times_.end()) return false;
  for (auto [it, end] = timers_.equal_range(at->second); it != end; ++it) {
    if (it->second.first == timer) {
      timers_.erase(it);
      break;
    }
  }
  timer_times_.erase(at);
  return true;
}

void ThreadPool::stop() {
  std::vector<std::thread> joining;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    timers_.clear();
    timer_times_.clear();
  }
  cv_.notify_all();
  // Threads leave once the ready queue is empty; tasks they run may still post.
  std::unique_lock lock(mu_);
  joining.swap(threads_);
  lock.unlock();
  for (auto& t : joining) {
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();  // stop() from one of our own tasks: it cannot join itself
    } else {
      t.join();
    }
  }
  lock.lock();
  joined_ = true;
  ready_.clear();
}

void ThreadPool::run() {
  current_pool = this;
  std::unique_lock lock(mu_);
  for (;;) {
    if (!ready_.empty()) {
      Task task = std::move(ready_.front());
      ready_.pop_front();
      lock.unlock();
      task();
      lock.lock();
      continue;
    }
    if (stopping_) return;
    if (timers_.empty()) {
      cv_.wait(lock);
      continue;
    }
    const auto first = timers_.begin();
    const Clock::time_point due = first->first;  // a copy: the node may go while we wait
    if (std::chrono::steady_clock::now() < due) {
      cv_.wait_until(lock, due);
      continue;
    }
    Task task = std::move(first->second.second);
    timer_times_.erase(first->second.first);
    timers_.erase(first);
    lock.unlock();
    task();
    lock.lock();
  }
}

}  // namespace popfs
