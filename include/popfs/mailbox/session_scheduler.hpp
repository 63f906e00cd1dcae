#pragma once
// When to log in, what to send on which session, when to QUIT, and in which order callers
// hear back: the scheduling of Pop3Maildrop as a sans-I/O state machine, like the protocol
// session in pop3/. Events go in (a request, a session opened, an answer, a timer), each
// with the time it happened; actions come out (open a session, send a command, quit, arm
// a timer, complete a request). It does no I/O and reads no clock, so every rule below is
// a unit test with fake time (tests/unit/mailbox). Pop3Maildrop is its Asio driver.
//
// The rules (doc/SEMANTICS.md, "Sessions, new mail, deletion"):
// - A session starts when there is work, serves every queued request, stays open for
//   idle_grace after the last one, then QUITs: other clients are not locked out.
// - list() and commit_deletions() always use a session that began after the request: a
//   POP3 session sees a snapshot taken at login.
// - UIDL is the first command of every session (message numbers are learnt before LIST,
//   pop3-facts 18); a queued list's LIST is pipelined right behind it.
// - Message numbers come from the session's own UIDL answer, never from an earlier
//   session; commit sends DELE by the numbers of a fresh snapshot, then QUIT.
// - The one retry layer for questions: a UIDL, LIST or TOP lost because the connection
//   broke is asked again once on a new session. RETR and DELE never are: whether a
//   download is worth repeating is the caller's decision (someone may be waiting for it,
//   or not), and a DELE is never replayed.
// - A server that breaks on pipelined commands (garbage in answer to a batch, or two cut
//   batches) gets one command at a time from then on.
// - LOGIN-DELAY: no new login before the server's delay has passed; a wait shorter than
//   connect_timeout is waited out, a longer one fails the requests (Errc::login_delay).
// - After the server refuses the credentials, no login for auth_backoff_initial, doubling
//   up to auth_backoff_max; requests fail at once with the refusal and when popfs tries
//   again. A request with try_login_now (popfs refresh --now) makes one attempt anyway.
// - TOP missing from CAPA, or refused for a message the snapshot has, is remembered: TOP
//   requests then fail at once with Errc::unsupported.
// - Completions are delivered in the order the requests were made.
// - Shutdown fails queued requests with Errc::cancelled and closes an open session
//   politely; it is finished once every request has completed and the session is closed.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "popfs/util/clock.hpp"
#include "popfs/util/message_table.hpp"
#include "popfs/util/result.hpp"

namespace popfs::mailbox {

using RequestId = std::uint64_t;  // also the order completions are delivered in
using SessionId = std::uint64_t;

enum class RequestKind { list, top, retr, commit };

struct Request {
  RequestKind kind = RequestKind::list;
  MessageId id;                    // top, retr
  std::uint32_t lines = 0;         // top
  std::vector<MessageId> ids;      // commit
  bool try_login_now = false;      // even during the login backoff (one attempt)
};

struct SchedulerOptions {
  std::string account_name;  // "user@host:port", for messages
  Clock::duration idle_grace = std::chrono::seconds(3);
  Clock::duration connect_timeout = std::chrono::seconds(15);
  Clock::duration auth_backoff_initial = std::chrono::seconds(60);
  Clock::duration auth_backoff_max = std::chrono::hours(1);
  bool pipelining = true;  // the account allows it (the server must also advertise it)
};

enum class Timer { idle, login_delay };

namespace action {
struct OpenSession {
  SessionId session;
  bool pipelining;  // false once the server broke on a batch
};
struct SendUidl {
  SessionId session;
};
// Send the request's command(s). For commit: DELE each of `deletions` (by this session's
// numbers), then QUIT; ids not in the snapshot are in `absent`.
struct Send {
  SessionId session = 0;
  RequestId request = 0;
  RequestKind kind = RequestKind::list;
  std::uint32_t number = 0;  // top, retr
  std::uint32_t lines = 0;   // top
  std::vector<std::pair<MessageId, std::uint32_t>> deletions;
  std::vector<MessageId> absent;
};
struct Quit {
  SessionId session;
};
struct Abort {
  SessionId session;
  Error reason;
};
struct ClosePolitely {
  SessionId session;
};
// Replaces an earlier ArmTimer of the same timer.
struct ArmTimer {
  Timer timer;
  Clock::time_point at;
};
struct CancelTimer {
  Timer timer;
};
// The request is finished: its callback runs now (with the payload the driver kept for
// it on success). Emitted in request order.
struct Complete {
  RequestId request;
  std::optional<Error> error;
};
struct ShutdownFinished {};
}  // namespace action

using Action = std::variant<action::OpenSession, action::SendUidl, action::Send, action::Quit, action::Abort,
                            action::ClosePolitely, action::ArmTimer, action::CancelTimer, action::Complete,
                            action::ShutdownFinished>;
using Actions = std::vector<Action>;

// How a session's login went.
struct Opened {
  std::optional<Error> error;
  bool credentials_refused = false;           // the server refused them (not [IN-USE] etc.)
  std::optional<std::uint32_t> login_delay_seconds;  // from CAPA LOGIN-DELAY or the refusal
  bool capabilities_known = false;            // CAPA answered
  bool top_advertised = true;
};

// How a request's command(s) ended on the wire.
struct Answered {
  std::optional<Error> error;
  bool failed_while_pipelining = false;  // the connection broke with a batch in flight
};

class SessionScheduler {
 public:
  explicit SessionScheduler(SchedulerOptions options);

  // ---- events; each returns what the driver must do now, in order ----
  Actions submit(RequestId id, Request request, Clock::time_point now);
  Actions opened(SessionId session, Opened result, Clock::time_point now);
  // The session's UIDL answer (parsed, numbers and occurrences), or why there is none.
  Actions uidl_answered(SessionId session, Result<std::shared_ptr<MessageTable>> table, Clock::time_point now);
  Actions answered(SessionId session, RequestId request, Answered result, Clock::time_point now);
  // QUIT answered, or the connection is gone (a quit after a commit is reported by
  // answered() for the commit instead).
  Actions quit_done(SessionId session, Clock::time_point now);
  // The driver found the session's connection dead while nothing was in flight (a server
  // that hung up an idle session): the next request starts a new one.
  Actions lost(SessionId session, Clock::time_point now);
  Actions timer_fired(Timer timer, Clock::time_point now);
  Actions shutdown(Clock::time_point now);
  Actions closed(SessionId session, Clock::time_point now);  // ClosePolitely finished

  // ---- observations ----
  // The UIDL table of an open session (for the driver's LIST), null if none yet.
  std::shared_ptr<MessageTable> session_table(SessionId session) const;
  std::uint64_t sessions_started() const noexcept { return sessions_started_; }
  bool session_open() const noexcept { return current_ != nullptr; }
  bool top_unsupported() const noexcept { return top_unsupported_; }
  bool pipelining_disabled() const noexcept { return pipelining_broken_; }
  bool shut_down() const noexcept { return shutdown_finished_; }

 private:
  struct Pending {
    RequestId id;
    Request request;
    std::uint64_t serial;  // sessions with start_serial > serial began after it
    bool retried = false;
  };
  struct Session {
    SessionId id = 0;
    std::uint64_t start_serial = 0;
    bool ready = false;   // UIDL known
    bool ending = false;  // QUIT queued: takes no new work
    bool batch_failure_noted = false;
    std::shared_ptr<MessageTable> table;
    std::size_t active = 0;  // requests sent on it and not answered
  };
  struct InFlight {
    Pending pending;
    SessionId session;
  };

  void pump(Clock::time_point now, Actions& out);
  void start_session(Clock::time_point now, Actions& out);
  void dispatch(Session& session, Pending pending, Actions& out);
  void back_off_logins(const Error& refusal, Clock::time_point now);
  void end_session(Session& session, Actions& out);
  void drop_session(SessionId session);
  void complete(RequestId id, std::optional<Error> error, Actions& out);
  void fail_pending(const Error& error, Actions& out);
  void note_batch_failure(const Error& error);
  void arm_idle_timer(Clock::time_point now, Actions& out);
  void cancel_idle_timer(Actions& out);
  void after_request(Clock::time_point now, Actions& out);
  void maybe_finish_shutdown(Actions& out);
  Error refused_login_error(Clock::duration left) const;
  Error unsupported_top() const;
  Error gone(const MessageId& id) const;
  Session* find(SessionId session);

  SchedulerOptions options_;
  std::deque<Pending> pending_;
  std::unique_ptr<Session> current_;
  std::unique_ptr<Session> closing_;  // politely closed at shutdown
  std::map<RequestId, InFlight> in_flight_;
  std::uint64_t request_serial_ = 0;
  SessionId next_session_ = 1;
  std::uint64_t sessions_started_ = 0;
  // Completions wait here until every earlier request has completed.
  std::map<RequestId, std::optional<Error>> finished_;
  std::deque<RequestId> order_;  // requests not yet delivered, in order
  Clock::time_point not_before_{};
  bool delay_timer_armed_ = false;
  bool idle_timer_armed_ = false;
  std::optional<Error> refused_login_;
  Clock::duration login_backoff_{};
  Clock::time_point login_retry_at_{};
  bool top_unsupported_ = false;
  bool pipelining_broken_ = false;
  int batch_failures_ = 0;
  bool shutting_down_ = false;
  bool shutdown_finished_ = false;
};

}  // namespace popfs::mailbox
