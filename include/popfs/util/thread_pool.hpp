#pragma once
// The production Executor: a fixed number of threads taking ready tasks in order, and a
// timer heap on the machine's steady clock. Tasks may run in parallel on different threads;
// use a Strand (strand.hpp) for work that must not.

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "popfs/util/executor.hpp"

namespace popfs {

class ThreadPool final : public Executor {
 public:
  // `name` is given to the threads (shown by top -H and in debuggers), at most 15 bytes.
  explicit ThreadPool(std::size_t threads, std::string name = "popfs-pool");
  ~ThreadPool() override;  // stop()
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void post(Task task) override;
  TimerId post_at(Clock::time_point when, Task task) override;
  bool cancel(TimerId timer) override;
  const Clock& clock() const override { return system_clock(); }
  bool running_in_this_thread() const override;

  // Runs every task already posted (and what they post, until the queue is empty), drops
  // pending timers, then joins. Idempotent; not from a task of this pool.
  void stop();

 private:
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> ready_;
  std::multimap<Clock::time_point, std::pair<TimerId, Task>> timers_;
  std::map<TimerId, Clock::time_point> timer_times_;
  TimerId next_timer_ = 1;
  bool stopping_ = false;
  bool joined_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace popfs
