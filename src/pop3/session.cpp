#include "popfs/pop3/session.hpp"

#include <utility>

#include "popfs/pop3/errors.hpp"
#include "popfs/pop3/sasl.hpp"

namespace popfs::pop3 {

std::string_view session_state_name(SessionState state) noexcept {
  switch (state) {
    case SessionState::authorization: return "AUTHORIZATION";
    case SessionState::transaction: return "TRANSACTION";
    case SessionState::update: return "UPDATE";
    case SessionState::closed: return "closed";
  }
  return "?";
}

Session::Session(bool tls_active, ParserLimits limits)
    : parser_(limits), tls_active_(tls_active) {
  pending_.push_back(Pending{CommandKind::greeting, std::nullopt});
  parser_.expect(ResponseShape::status);
}

namespace {

Error refuse(const Command& command, std::string why) {
  return Error(Errc::invalid_argument,
               "cannot send " + std::string(command_name(command.kind)) + " now: " + why);
}

bool is_transaction_command(CommandKind kind) {
  switch (kind) {
    case CommandKind::stat:
    case CommandKind::list:
    case CommandKind::uidl:
    case CommandKind::top:
    case CommandKind::retr:
    case CommandKind::dele:
    case CommandKind::rset:
    case CommandKind::noop:
      return true;
    default:
      return false;
  }
}

}  // namespace

Result<void> Session::check(const Command& command) const {
  if (state_ == SessionState::closed) return refuse(command, "the session is closed");
  if (quit_sent_) return refuse(command, "QUIT was already sent");
  if (command.kind == CommandKind::greeting) return refuse(command, "the greeting is not a command");
  if (!greeted_) return refuse(command, "the server's greeting has not arrived");
  if (awaiting_tls_) return refuse(command, "STLS was accepted; complete the TLS handshake first");
  if (stls_pending_) return refuse(command, "nothing may follow STLS until it is answered");

  if (sasl_active_) {
    if (command.kind != CommandKind::auth_response) {
      return refuse(command, "a SASL exchange is in progress");
    }
    if (!sasl_continuation_) return refuse(command, "the server has not sent a \"+\" challenge");
    return {};
  }
  if (command.kind == CommandKind::auth_response) return refuse(command, "no SASL exchange in progress");

  if (state_ == SessionState::authorization) {
    switch (command.kind) {
      case CommandKind::user:
      case CommandKind::apop:
      case CommandKind::capa:
      case CommandKind::quit:
        return {};
      case CommandKind::auth:
        if (!pending_.empty()) return refuse(command, "AUTH must wait for earlier answers");
        return {};
      case CommandKind::pass:
        if (!user_accepted_or_pending_) return refuse(command, "PASS must follow an accepted USER");
        return {};
      case CommandKind::stls:
        if (tls_active_) return refuse(command, "TLS is already active");
        if (!pending_.empty()) return refuse(command, "STLS must wait for earlier answers");
        return {};
      default:
        return refuse(command, "not logged in (AUTHORIZATION state)");
    }
  }
  if (state_ == SessionState::transaction) {
    if (is_transaction_command(command.kind) || command.kind == CommandKind::capa ||
        command.kind == CommandKind::quit) {
      return {};
    }
    return refuse(command, "already logged in (TRANSACTION state)");
  }
  return refuse(command, "the session is in UPDATE state");
}

Result<std::string> Session::send(const Command& command,
                                  std::optional<std::uint64_t> max_response_bytes) {
  if (auto allowed = check(command); !allowed) return allowed.error();
  auto bytes = encode(command);
  if (!bytes) return bytes;

  pending_.push_back(Pending{command.kind, command.message});
  parser_.expect(response_shape(command), max_response_bytes);
  switch (command.kind) {
    case CommandKind::user: user_accepted_or_pending_ = true; break;
    case CommandKind::pass: user_accepted_or_pending_ = false; break;
    case CommandKind::stls: stls_pending_ = true; break;
    case CommandKind::auth:
      sasl_active_ = true;
      sasl_continuation_ = false;
      break;
    case CommandKind::auth_response: sasl_continuation_ = false; break;
    case CommandKind::quit:
      quit_sent_ = true;
      if (state_ == SessionState::transaction) state_ = SessionState::update;
      break;
    default: break;
  }
  return bytes;
}

void Session::on_status(const Pending& pending, const StatusLine& status, bool /*complete*/) {
  switch (pending.kind) {
    case CommandKind::greeting:
      if (status.ok()) {
        greeted_ = true;
        apop_timestamp_ = pop3::apop_timestamp(status.text);
      } else {
        state_ = SessionState::closed;
      }
      break;
    case CommandKind::user:
      if (!status.ok()) user_accepted_or_pending_ = false;
      break;
    case CommandKind::pass:
    case CommandKind::apop:
      if (status.ok()) state_ = SessionState::transaction;
      break;
    case CommandKind::auth:
    case CommandKind::auth_response:
      if (status.continuation()) {
        sasl_continuation_ = true;
      } else {
        sasl_active_ = false;
        sasl_continuation_ = false;
        if (status.ok()) state_ = SessionState::transaction;
      }
      break;
    case CommandKind::stls:
      stls_pending_ = false;
      if (status.ok()) {
        awaiting_tls_ = true;
        parser_.reset();
      }
      break;
    case CommandKind::quit:
      state_ = SessionState::closed;
      break;
    default:
      break;
  }
}

SessionStep Session::consume(std::string_view input) {
  SessionStep out;
  if (awaiting_tls_) {
    // Clear-text bytes after STLS's +OK are an injection attempt or junk: never parse them.
    out.consumed = input.size();
    return out;
  }
  if (state_ == SessionState::closed && !parser_.failed()) {
    out.event.kind = SessionEvent::Kind::idle;
    return out;
  }

  ParseStep step = parser_.consume(input);
  out.consumed = step.consumed;
  SessionEvent& event = out.event;
  event.kind = step.event.kind;
  if (!pending_.empty()) {
    event.command = pending_.front().kind;
    event.message = pending_.front().message;
  }
  switch (step.event.kind) {
    case ParseEvent::Kind::status: {
      const Pending current = pending_.front();
      if (step.event.complete) pending_.pop_front();
      event.status = std::move(step.event.status);
      event.complete = step.event.complete;
      if (event.status.err()) {
        event.error = error_from_status(current.kind, event.status, current.message);
      }
      on_status(current, event.status, event.complete);
      break;
    }
    case ParseEvent::Kind::body_chunk:
      event.data = step.event.data;
      break;
    case ParseEvent::Kind::body_end:
      pending_.pop_front();
      break;
    case ParseEvent::Kind::error:
      event.error = std::move(step.event.error);
      state_ = SessionState::closed;
      break;
    case ParseEvent::Kind::need_more:
    case ParseEvent::Kind::idle:
      break;
  }
  return out;
}

void Session::tls_established() {
  if (!awaiting_tls_) return;
  awaiting_tls_ = false;
  tls_active_ = true;
  parser_.reset();
  pending_.clear();
}

void Session::connection_lost() {
  state_ = SessionState::closed;
  pending_.clear();
  parser_.reset();
  awaiting_tls_ = false;
  stls_pending_ = false;
  sasl_active_ = false;
}

}  // namespace popfs::pop3
