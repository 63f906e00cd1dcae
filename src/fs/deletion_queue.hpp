#pragma once
// Deletions: an unlink is recorded in the cache (synced) before it returns, hides the
// message at once, and is committed (DELE, QUIT) in a batch soon after, retried with
// backoff until the server confirms it. A UIDL reset keeps them (doc/SEMANTICS.md): the
// Message-IDs of the deleted messages are carried over, and a message that reappears under
// a new UIDL with one of them is deleted again.
//
// Threading: any thread may call in. One mutex guards the sets, timers and waiters; it is
// never held while calling out (cache, maildrop, callbacks), only the Namespace (a leaf).
// Commits complete on the executor; timers are the executor's.

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core_context.hpp"

namespace popfs::fs {

class DeletionQueue {
 public:
  explicit DeletionQueue(CoreContext& core) : core_(core) {}

  // The deletions of earlier runs (from the cache); start() commits them.
  Result<void> load();
  void start();
  // Durable before it returns; hides the message; commits soon.
  Result<void> add(const Message& message);
  // Pending, or committed by this run (a listing taken before the QUIT may still show it).
  std::set<MessageId> hidden_ids();
  std::size_t pending();
  // Commits now; done runs once they are all committed, a commit failed, or `timeout`.
  void flush(std::function<void(Result<void>)> done, Clock::duration timeout);

  // A UIDL reset: remembers the Message-ID of every pending deletion whose header is
  // cached, so the message is deleted again when it shows up under a new UIDL.
  void carry_over_reset();
  // A header stub arrived after a reset: deletes the message if it is one of those.
  void check_carried(const Message& message, const std::string& stub);
  // After the cache was reset: the old ids mean nothing any more.
  void forget_all();
  void stop();

 private:
  struct FlushWaiter {
    std::uint64_t id = 0;
    std::uint64_t started_at = 0;  // commits_finished_ when it began
    std::uint64_t target = 0;      // finished once this many commits have finished
    Executor::TimerId timeout = 0;
    std::function<void(Result<void>)> done;
  };

  void schedule_locked(Clock::duration delay);
  void commit();
  void committed(Result<std::vector<MessageId>> result);
  using Finished = std::vector<std::pair<std::function<void(Result<void>)>, Result<void>>>;
  // Waiters whose wait is over, with their results (mu_ held).
  Finished finished_waiters_locked();
  // What a waiter hears now (mu_ held).
  Result<void> outcome_locked() const;
  void save_carried();

  CoreContext& core_;
  std::mutex mu_;
  std::set<MessageId> pending_;
  std::set<MessageId> committed_;
  std::set<std::string> carried_message_ids_;
  bool in_flight_ = false;
  Executor::TimerId timer_ = 0;
  Clock::time_point timer_at_{};
  Clock::duration retry_delay_{};
  std::uint64_t commits_finished_ = 0;
  std::optional<Error> last_error_;
  std::vector<FlushWaiter> waiters_;
  std::uint64_t next_waiter_ = 0;
  bool stopped_ = false;
};

}  // namespace popfs::fs
