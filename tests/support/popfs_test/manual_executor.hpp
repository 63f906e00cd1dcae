#pragma once
// An Executor and Clock that tests run by hand: nothing happens until the test calls
// run_until_idle() or advance(), and time moves only when the test says so. Tasks may be
// posted from any thread (a fake maildrop's, say); they run on the thread that drives.

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "popfs/util/executor.hpp"

namespace popfs::test {

class ManualClock final : public Clock {
 public:
  time_point now() const override;
  std::int64_t wall_seconds() const override;
  void advance(duration by);
  void set_wall_seconds(std::int64_t seconds);

 private:
  mutable std::mutex mu_;
  time_point now_{std::chrono::hours(1000)};
  std::int64_t wall_base_ = 1'700'000'000;  // Nov 2023: any fixed time will do
  duration elapsed_{};
};

class ManualExecutor final : public Executor {
 public:
  ManualExecutor();
  void post(Task task) override;
  TimerId post_at(Clock::time_point when, Task task) override;
  bool cancel(TimerId timer) override;
  const Clock& clock() const override { return clock_; }
  bool running_in_this_thread() const override;
  ManualClock& manual_clock() { return clock_; }

  // Runs ready tasks (and what they post) until none is left; timers due now run too.
  // Returns how many ran.
  std::size_t run_until_idle();
  // Moves the clock forward by `by`, running each timer at its time (in order) and the
  // tasks it posts, then what is ready at the end.
  std::size_t advance(Clock::duration by);
  // Advances to the next pending timer and runs it; false if there is none.
  bool run_next_timer();
  bool has_timers() const;
  std::size_t pending() const;  // ready tasks not run yet

  // Stops accepting work (tasks and timers are dropped from then on).
  void stop();

 private:
  bool run_one_ready();
  bool run_one_due();

  ManualClock clock_;
  mutable std::mutex mu_;
  std::deque<Task> ready_;
  std::multimap<Clock::time_point, std::pair<TimerId, Task>> timers_;
  TimerId next_timer_ = 1;
  bool stopped_ = false;
  std::thread::id driver_;  // the thread inside run_until_idle/advance, if any
};

}  // namespace popfs::test
