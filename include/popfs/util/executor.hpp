#pragma once
// Where work runs. The filesystem core and the maildrop never start threads or read the
// time themselves: they post tasks and timers to an Executor they are given. Production
// uses a ThreadPool (thread_pool.hpp); tests use a manual executor they run by hand.
//
// Contract of every implementation:
// - post() and post_at() never run the task inline; they are safe from any thread, also
//   from inside a task.
// - Timers run once clock().now() has reached their time; cancel() of a timer that has not
//   started yet guarantees it never runs.
// - After the executor stops, new tasks and timers are dropped (never run).

#include <cstdint>
#include <functional>

#include "popfs/util/clock.hpp"

namespace popfs {

class Executor {
 public:
  using Task = std::function<void()>;
  using TimerId = std::uint64_t;  // 0 is never a timer

  virtual ~Executor() = default;
  virtual void post(Task task) = 0;
  virtual TimerId post_at(Clock::time_point when, Task task) = 0;
  // True if the timer was pending and now never runs.
  virtual bool cancel(TimerId timer) = 0;
  virtual const Clock& clock() const = 0;
  // Whether the calling thread is one that runs this executor's tasks (a task that waits for
  // another task of the same executor must not, when it is).
  virtual bool running_in_this_thread() const = 0;

  TimerId post_after(Clock::duration delay, Task task) { return post_at(clock().now() + delay, std::move(task)); }
};

}  // namespace popfs
