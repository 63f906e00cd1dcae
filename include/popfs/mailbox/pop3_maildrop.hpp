#pragma once
// The real Maildrop: short POP3 sessions over net::Connection (see maildrop.hpp for the
// contract and doc/SEMANTICS.md, "Sessions, new mail, deletion"). It is the Asio driver of
// a SessionScheduler (session_scheduler.hpp), where every rule of when to log in, what to
// send, when to retry and when to QUIT lives; this class only carries the scheduler's
// actions out on connections and feeds their outcome back.
//
// - One I/O thread per maildrop; every public function is thread-safe and only posts.
// - Its timers (idle grace, LOGIN-DELAY) and its notion of now come from the Executor it is
//   given, the one the filesystem core uses.
// - UIDL and LIST answers are parsed as they stream in, into a MessageTable: a listing of a
//   million messages is never held as text.

#include <chrono>
#include <memory>

#include "popfs/mailbox/maildrop.hpp"
#include "popfs/net/account.hpp"
#include "popfs/net/connection.hpp"
#include "popfs/net/io_thread.hpp"
#include "popfs/util/executor.hpp"

namespace popfs::mailbox {

struct Pop3MaildropOptions {
  net::ConnectionLimits limits{};
  // After a refused login: no new login for auth_backoff_initial, doubled after each further
  // refusal up to auth_backoff_max; a successful login resets it.
  std::chrono::milliseconds auth_backoff_initial{std::chrono::seconds(60)};
  std::chrono::milliseconds auth_backoff_max{std::chrono::hours(1)};
  // shutdown() with a session open: answers already in flight are awaited this long, then
  // QUIT's answer this long; a server that does not keep up is cut off.
  std::chrono::milliseconds shutdown_drain_timeout{std::chrono::seconds(2)};
  std::chrono::milliseconds shutdown_quit_timeout{std::chrono::seconds(1)};
};

class Pop3Maildrop final : public Maildrop {
 public:
  // `executor` (for timers and the clock) must outlive the maildrop; null: a thread of its
  // own (tests and tools).
  explicit Pop3Maildrop(net::Account account, Pop3MaildropOptions options = {}, Executor* executor = nullptr);
  ~Pop3Maildrop() override;  // shutdown(), then stops the I/O thread
  Pop3Maildrop(const Pop3Maildrop&) = delete;
  Pop3Maildrop& operator=(const Pop3Maildrop&) = delete;

  void list(ListDone done, ListOptions options) override;
  void list(ListDone done) { list(std::move(done), ListOptions{}); }
  void top(MessageId id, std::uint32_t lines, TextDone done) override;
  void top_many(std::vector<MessageId> ids, std::uint32_t lines, TopEach done) override;
  void retr(MessageId id, ChunkSink sink, Done done) override;
  void commit_deletions(std::vector<MessageId> ids, DeletionsDone done) override;
  void shutdown() override;

  // Observations for tests and `popfs status` (thread-safe snapshots).
  struct Stats {
    std::uint64_t sessions_started = 0;
    bool session_open = false;
    bool top_unsupported = false;
    bool pipelining_disabled = false;  // after a server broke on a batch
  };
  Stats stats() const;

 private:
  class Impl;
  std::unique_ptr<Executor> own_executor_;  // when none was given
  std::unique_ptr<net::IoThread> io_;       // declared before impl_: outlives its use of it
  std::shared_ptr<Impl> impl_;
};

}  // namespace popfs::mailbox
