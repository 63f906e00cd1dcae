// ThreadPool, Strand and the tests' ManualExecutor: the Executor contract.

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <vector>

#include "popfs/util/strand.hpp"
#include "popfs/util/thread_pool.hpp"
#include "popfs_test/manual_executor.hpp"

namespace popfs {
namespace {

using namespace std::chrono_literals;

TEST(ThreadPool, RunsPostedTasksAndTimersInTimeOrder) {
  ThreadPool pool(2);
  std::mutex mu;
  std::vector<int> order;
  std::promise<void> all;
  const auto now = pool.clock().now();
  auto record = [&](int n) {
    std::lock_guard lock(mu);
    order.push_back(n);
    if (order.size() == 3) all.set_value();
  };
  pool.post_at(now + 60ms, [&] { record(3); });
  pool.post_at(now + 20ms, [&] { record(2); });
  pool.post([&] { record(1); });
  ASSERT_EQ(all.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_GE(pool.clock().now() - now, 60ms);
}

TEST(ThreadPool, CancelledTimerNeverRuns) {
  ThreadPool pool(1);
  std::atomic<bool> ran{false};
  const auto id = pool.post_after(50ms, [&] { ran = true; });
  EXPECT_TRUE(pool.cancel(id));
  EXPECT_FALSE(pool.cancel(id));
  std::promise<void> later;
  pool.post_after(100ms, [&] { later.set_value(); });
  ASSERT_EQ(later.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_FALSE(ran);
}

TEST(ThreadPool, StopRunsWhatIsQueuedThenDropsNewWork) {
  std::atomic<int> ran{0};
  ThreadPool pool(2);
  for (int i = 0; i < 100; ++i) pool.post([&] { ++ran; });
  pool.post_after(1h, [&] { ran += 1000; });
  pool.stop();
  EXPECT_EQ(ran.load(), 100);
  pool.post([&] { ran += 1000; });
  EXPECT_EQ(ran.load(), 100);
}

TEST(Strand, RunsItsTasksOneAtATimeInOrderOnAPool) {
  ThreadPool pool(4);
  Strand strand(pool);
  std::atomic<int> running{0};
  std::atomic<bool> overlapped{false};
  std::vector<int> order;
  std::promise<void> done;
  for (int i = 0; i < 500; ++i) {
    strand.post([&, i] {
      if (++running > 1) overlapped = true;
      order.push_back(i);  // unsynchronised on purpose: the strand must serialise
      --running;
      if (i == 499) done.set_value();
    });
  }
  ASSERT_EQ(done.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(overlapped);
  ASSERT_EQ(order.size(), 500u);
  for (int i = 0; i < 500; ++i) EXPECT_EQ(order[static_cast<std::size_t>(i)], i);
}

TEST(Strand, DestroyedStrandDropsWhatIsStillQueued) {
  test::ManualExecutor executor;
  bool ran = false;
  {
    Strand strand(executor);
    strand.post([&] { ran = true; });
    strand.post_after(1s, [&] { ran = true; });
  }
  executor.advance(2s);
  EXPECT_FALSE(ran);
}

TEST(ManualExecutor, NothingRunsUntilDrivenAndTimeMovesOnlyByHand) {
  test::ManualExecutor executor;
  std::vector<std::string> log;
  const auto start = executor.clock().now();
  executor.post([&] { log.push_back("task"); });
  executor.post_after(10s, [&] {
    log.push_back("timer@" + std::to_string((executor.clock().now() - start) / 1s));
    executor.post([&] { log.push_back("posted by timer"); });
  });
  const auto cancelled = executor.post_after(5s, [&] { log.push_back("cancelled"); });
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(executor.run_until_idle(), 1u);
  EXPECT_EQ(log, (std::vector<std::string>{"task"}));
  EXPECT_TRUE(executor.cancel(cancelled));
  executor.advance(9s);
  EXPECT_EQ(log.size(), 1u);
  executor.advance(1s);
  EXPECT_EQ(log, (std::vector<std::string>{"task", "timer@10", "posted by timer"}));
  EXPECT_EQ(executor.clock().now() - start, 10s);
  EXPECT_FALSE(executor.has_timers());
}

}  // namespace
}  // namespace popfs
