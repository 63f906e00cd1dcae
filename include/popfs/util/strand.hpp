#pragma once
// Tasks posted to a Strand run one at a time, in the order posted, on the executor under
// it: a serial queue without a thread of its own (cache writes, for instance, must not run
// two at once but must not hold up the other work of the pool either).
//
// The Strand may be destroyed while tasks are still queued in the executor under it: they
// hold its queue by shared ownership and are dropped without running.

#include <deque>
#include <memory>
#include <mutex>

#include "popfs/util/executor.hpp"

namespace popfs {

class Strand final : public Executor {
 public:
  explicit Strand(Executor& inner);
  ~Strand() override;

  void post(Task task) override;
  TimerId post_at(Clock::time_point when, Task task) override;
  bool cancel(TimerId timer) override;
  const Clock& clock() const override;
  bool running_in_this_thread() const override { return inner_.running_in_this_thread(); }

 private:
  struct Queue;
  Executor& inner_;
  std::shared_ptr<Queue> queue_;
};

}  // namespace popfs
