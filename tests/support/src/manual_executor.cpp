#include "popfs_test/manual_executor.hpp"

namespace popfs::test {

Clock::time_point ManualClock::now() const {
  std::lock_guard lock(mu_);
  return now_;
}

std::int64_t ManualClock::wall_seconds() const {
  std::lock_guard lock(mu_);
  return wall_base_ + std::chrono::duration_cast<std::chrono::seconds>(elapsed_).count();
}

void ManualClock::advance(duration by) {
  std::lock_guard lock(mu_);
  now_ += by;
  elapsed_ += by;
}

void ManualClock::set_wall_seconds(std::int64_t seconds) {
  std::lock_guard lock(mu_);
  wall_base_ = seconds - std::chrono::duration_cast<std::chrono::seconds>(elapsed_).count();
}

ManualExecutor::ManualExecutor() = default;

void ManualExecutor::post(Task task) {
  std::lock_guard lock(mu_);
  if (!stopped_) ready_.push_back(std::move(task));
}

Executor::TimerId ManualExecutor::post_at(Clock::time_point when, Task task) {
  std::lock_guard lock(mu_);
  if (stopped_) return 0;
  const TimerId id = next_timer_++;
  timers_.emplace(when, std::make_pair(id, std::move(task)));
  return id;
}

bool ManualExecutor::cancel(TimerId timer) {
  std::lock_guard lock(mu_);
  for (auto it = timers_.begin(); it != timers_.end(); ++it) {
    if (it->second.first == timer) {
      timers_.erase(it);
      return true;
    }
  }
  return false;
}

bool ManualExecutor::run_one_ready() {
  Task task;
  {
    std::lock_guard lock(mu_);
    if (ready_.empty()) return false;
    task = std::move(ready_.front());
    ready_.pop_front();
  }
  task();
  return true;
}

bool ManualExecutor::run_one_due() {
  Task task;
  {
    std::lock_guard lock(mu_);
    if (timers_.empty() || timers_.begin()->first > clock_.now()) return false;
    task = std::move(timers_.begin()->second.second);
    timers_.erase(timers_.begin());
  }
  task();
  return true;
}

bool ManualExecutor::running_in_this_thread() const {
  std::lock_guard lock(mu_);
  return driver_ == std::this_thread::get_id();
}

std::size_t ManualExecutor::run_until_idle() {
  {
    std::lock_guard lock(mu_);
    driver_ = std::this_thread::get_id();
  }
  std::size_t ran = 0;
  while (run_one_ready() || run_one_due()) ++ran;
  std::lock_guard lock(mu_);
  driver_ = {};
  return ran;
}

std::size_t ManualExecutor::advance(Clock::duration by) {
  const auto target = clock_.now() + by;
  std::size_t ran = run_until_idle();
  for (;;) {
    Clock::time_point next;
    {
      std::lock_guard lock(mu_);
      if (timers_.empty() || timers_.begin()->first > target) break;
      next = timers_.begin()->first;
    }
    if (next > clock_.now()) clock_.advance(next - clock_.now());
    ran += run_until_idle();
  }
  if (target > clock_.now()) clock_.advance(target - clock_.now());
  return ran + run_until_idle();
}

bool ManualExecutor::run_next_timer() {
  Clock::time_point next;
  {
    std::lock_guard lock(mu_);
    if (timers_.empty()) return false;
    next = timers_.begin()->first;
  }
  if (next > clock_.now()) clock_.advance(next - clock_.now());
  run_until_idle();
  return true;
}

bool ManualExecutor::has_timers() const {
  std::lock_guard lock(mu_);
  return !timers_.empty();
}

std::size_t ManualExecutor::pending() const {
  std::lock_guard lock(mu_);
  return ready_.size();
}

void ManualExecutor::stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  ready_.clear();
  timers_.clear();
}

}  // namespace popfs::test
