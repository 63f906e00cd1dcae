#pragma once
// The POP3 session state machine, sans I/O: it checks every command against the state
// (RFC 1939 AUTHORIZATION -> TRANSACTION -> UPDATE, plus closed), encodes it, remembers what
// answer to expect, and parses the server's bytes into events tagged with the command they
// answer, in order, so pipelined commands are matched with their answers.
//
// The net layer owns the socket and does:
//
//   pop3::Session s(/*tls_active=*/implicit_tls);
//   // feed every read:   for (;;) { auto step = s.consume(in); in.remove_prefix(step.consumed);
//   //                               ... handle step.event; stop on need_more / idle / error }
//   // the first event is the greeting (command == CommandKind::greeting)
//   auto bytes = s.send(pop3::Command::capa());   // Result<std::string>: write these bytes
//
// Rules it enforces (send() returns Errc::invalid_argument and changes nothing otherwise):
// - Nothing may be sent before the greeting's +OK, nor after QUIT was sent, nor once closed.
// - AUTHORIZATION: USER, PASS (right after a USER that was not refused), APOP, AUTH, CAPA,
//   STLS, QUIT. TRANSACTION: STAT, LIST, UIDL, TOP, RETR, DELE, RSET, NOOP, CAPA, QUIT.
//   Login commands are refused after login; mailbox commands before it. Transaction
//   commands need the +OK of the login to have arrived (no pipelining across login).
// - STLS only in AUTHORIZATION, only when TLS is not already active, only with nothing else
//   pending, and nothing at all may be sent until its answer. After its +OK the session
//   waits for tls_established(); bytes the server sent in clear after the +OK are consumed
//   and discarded, never parsed (curl CVE-2021-22947). Drop your plaintext read buffer too.
// - AUTH needs all earlier answers in and starts a SASL exchange: until it ends, only
//   auth_response lines are accepted, and only after a "+ " continuation arrived (one line
//   per challenge). The final +OK enters TRANSACTION; a -ERR ends the exchange.
// - A +OK to PASS/APOP/AUTH enters TRANSACTION; sending QUIT from TRANSACTION enters UPDATE;
//   the answer to QUIT (either kind) closes the session. A -ERR greeting closes it, as does
//   any parse error or connection_lost().
//
// Events: like ResponseParser's, plus `command`/`message` naming the command answered, and
// for a -ERR status, `error` holds error_from_status() (the session stays usable: a -ERR is
// an answer, not a broken connection). Kind::error is reserved for fatal parse errors.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "popfs/pop3/command.hpp"
#include "popfs/pop3/response_parser.hpp"
#include "popfs/pop3/status.hpp"
#include "popfs/util/error.hpp"
#include "popfs/util/result.hpp"

namespace popfs::pop3 {

enum class SessionState {
  authorization,  // greeting awaited or received, not yet logged in
  transaction,    // logged in: the mailbox commands work
  update,         // QUIT sent from TRANSACTION: the server is committing DELEs
  closed,         // QUIT answered, -ERR greeting, protocol error or connection lost
};

std::string_view session_state_name(SessionState state) noexcept;

struct SessionEvent {
  using Kind = ParseEvent::Kind;
  Kind kind = Kind::need_more;
  CommandKind command = CommandKind::greeting;  // the command this event answers
  std::optional<std::uint32_t> message;         // its message number, if it had one
  StatusLine status;                            // Kind::status
  bool complete = false;                        // Kind::status: no body follows
  std::string_view data;                        // Kind::body_chunk, valid until next consume
  std::optional<Error> error;                   // Kind::error, or Kind::status with -ERR
};

struct SessionStep {
  std::size_t consumed = 0;
  SessionEvent event;
};

class Session {
 public:
  // tls_active: true for implicit TLS (pop3s), so STLS is refused from the start.
  explicit Session(bool tls_active = false, ParserLimits limits = {});

  SessionState state() const noexcept { return state_; }
  bool greeted() const noexcept { return greeted_; }
  bool tls_active() const noexcept { return tls_active_; }
  // STLS got +OK: do the TLS handshake, then call tls_established().
  bool awaiting_tls() const noexcept { return awaiting_tls_; }
  bool in_sasl_exchange() const noexcept { return sasl_active_; }
  // The APOP timestamp from the greeting, if it had one.
  const std::optional<std::string>& apop_timestamp() const noexcept { return apop_timestamp_; }
  // Commands sent whose answer is not complete yet (the greeting counts until it arrives).
  std::size_t pending() const noexcept { return pending_.size(); }

  // Would send() accept this command now? (Does not encode it.)
  Result<void> check(const Command& command) const;
  // Checks, encodes and records the command; returns the bytes to write. max_response_bytes
  // bounds a multi-line answer (e.g. a RETR's LIST size with slack); default: the limits.
  Result<std::string> send(const Command& command,
                           std::optional<std::uint64_t> max_response_bytes = {});

  // Parse server bytes; one event per call, same loop as ResponseParser::consume.
  SessionStep consume(std::string_view input);

  // The TLS handshake after STLS succeeded: clear-text state is dropped. Ask CAPA again.
  void tls_established();
  // The connection is gone: closed; pending commands are abandoned.
  void connection_lost();

 private:
  struct Pending {
    CommandKind kind;
    std::optional<std::uint32_t> message;
  };
  void on_status(const Pending& pending, const StatusLine& status, bool complete);

  ResponseParser parser_;
  std::deque<Pending> pending_;
  SessionState state_ = SessionState::authorization;
  bool greeted_ = false;
  bool tls_active_ = false;
  bool awaiting_tls_ = false;
  bool stls_pending_ = false;
  bool sasl_active_ = false;
  bool sasl_continuation_ = false;  // last SASL answer was "+ ": a client line may follow
  bool user_accepted_or_pending_ = false;
  bool quit_sent_ = false;
  std::optional<std::string> apop_timestamp_;
};

}  // namespace popfs::pop3
