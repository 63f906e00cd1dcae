#pragma once
// The real Maildrop: short POP3 sessions over net::Connection (see maildrop.hpp for the
// contract and doc/SEMANTICS.md, "Sessions, new mail, deletion").
//
// - One I/O thread per maildrop; every public function is thread-safe and only posts.
// - A session starts when there is work (connect, TLS, login, UIDL), serves every queued
//   request (pipelined when the server allows), stays open for Account::idle_grace, then
//   QUITs so other clients are not locked out.
// - list() and commit_deletions() always use a session that began after the call.
//   commit_deletions() sends DELE by the numbers of that fresh snapshot, then QUIT.
// - Message numbers are looked up per session from its UIDL answer, never remembered
//   across sessions. A safe request (UIDL/LIST/TOP, or RETR before any byte arrived) that
//   fails because the connection broke is retried once on a new session; DELE never is.
// - LOGIN-DELAY is honoured: no new login before the server's delay has passed (a short wait
//   is absorbed, a long one fails with Errc::login_delay).
// - TOP missing from CAPA, or refused for a message the snapshot has, marks TOP unsupported
//   for this maildrop: top() then fails at once with Errc::unsupported.
// - After the server refuses the credentials, no login is tried for a while (see
//   Pop3MaildropOptions): every request fails at once with that error, so a mount with a
//   stale password does not lock the account by polling. [IN-USE], [LOGIN-DELAY] and
//   [SYS/TEMP] are not refusals of the credentials and do not start this backoff.
// - shutdown() ends an open session politely within bounds: answers in flight, then QUIT.

#include <chrono>
#include <memory>

#include "popfs/mailbox/maildrop.hpp"
#include "popfs/net/account.hpp"
#include "popfs/net/connection.hpp"
#include "popfs/net/io_thread.hpp"

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
  explicit Pop3Maildrop(net::Account account, Pop3MaildropOptions options = {});
  ~Pop3Maildrop() override;  // shutdown(), then stops the I/O thread
  Pop3Maildrop(const Pop3Maildrop&) = delete;
  Pop3Maildrop& operator=(const Pop3Maildrop&) = delete;

  void list(ListDone done) override;
  void top(MessageId id, std::uint32_t lines, TextDone done) override;
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
  std::unique_ptr<net::IoThread> io_;  // declared first: outlives the Impl's use of it
  std::shared_ptr<Impl> impl_;
};

std::unique_ptr<Maildrop> make_pop3_maildrop(net::Account account);

}  // namespace popfs::mailbox
