#include "popfs/pop3/command.hpp"

namespace popfs::pop3 {

std::string_view command_name(CommandKind kind) noexcept {
  switch (kind) {
    case CommandKind::greeting: return "greeting";
    case CommandKind::user: return "USER";
    case CommandKind::pass: return "PASS";
    case CommandKind::apop: return "APOP";
    case CommandKind::auth: return "AUTH";
    case CommandKind::auth_response: return "AUTH-RESPONSE";
    case CommandKind::capa: return "CAPA";
    case CommandKind::stls: return "STLS";
    case CommandKind::stat: return "STAT";
    case CommandKind::list: return "LIST";
    case CommandKind::uidl: return "UIDL";
    case CommandKind::top: return "TOP";
    case CommandKind::retr: return "RETR";
    case CommandKind::dele: return "DELE";
    case CommandKind::rset: return "RSET";
    case CommandKind::noop: return "NOOP";
    case CommandKind::quit: return "QUIT";
  }
  return "?";
}

namespace {

Command make(CommandKind kind) {
  Command c;
  c.kind = kind;
  return c;
}

Error refuse(const Command& c, std::string why) {
  return Error(Errc::invalid_argument,
               "refusing to send " + std::string(command_name(c.kind)) + ": " + why);
}

bool has_line_break_or_nul(std::string_view s) noexcept {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

bool has_blank(std::string_view s) noexcept {
  return s.find_first_of(" \t") != std::string_view::npos;
}

}  // namespace

Command Command::user(std::string name) { auto c = make(CommandKind::user); c.argument = std::move(name); return c; }
Command Command::pass(std::string secret) { auto c = make(CommandKind::pass); c.argument = std::move(secret); return c; }
Command Command::apop(std::string name, std::string digest) {
  auto c = make(CommandKind::apop);
  c.argument = std::move(name);
  c.argument2 = std::move(digest);
  return c;
}
Command Command::auth(std::string mechanism, std::string initial_response) {
  auto c = make(CommandKind::auth);
  c.argument = std::move(mechanism);
  c.argument2 = std::move(initial_response);
  return c;
}
Command Command::auth_response(std::string line) { auto c = make(CommandKind::auth_response); c.argument = std::move(line); return c; }
Command Command::capa() { return make(CommandKind::capa); }
Command Command::stls() { return make(CommandKind::stls); }
Command Command::stat() { return make(CommandKind::stat); }
Command Command::list(std::optional<std::uint32_t> message) { auto c = make(CommandKind::list); c.message = message; return c; }
Command Command::uidl(std::optional<std::uint32_t> message) { auto c = make(CommandKind::uidl); c.message = message; return c; }
Command Command::top(std::uint32_t message, std::uint32_t lines) {
  auto c = make(CommandKind::top);
  c.message = message;
  c.lines = lines;
  return c;
}
Command Command::retr(std::uint32_t message) { auto c = make(CommandKind::retr); c.message = message; return c; }
Command Command::dele(std::uint32_t message) { auto c = make(CommandKind::dele); c.message = message; return c; }
Command Command::rset() { return make(CommandKind::rset); }
Command Command::noop() { return make(CommandKind::noop); }
Command Command::quit() { return make(CommandKind::quit); }

std::string Command::redacted() const {
  std::string out(command_name(kind));
  switch (kind) {
    case CommandKind::user: out += " " + argument; break;
    case CommandKind::pass: out += " ***"; break;
    case CommandKind::apop: out += " " + argument + " ***"; break;
    case CommandKind::auth:
      out += " " + argument;
      if (!argument2.empty()) out += " ***";
      break;
    case CommandKind::auth_response: out = argument == "*" ? "*" : "***"; break;
    case CommandKind::top:
      out += " " + std::to_string(message.value_or(0)) + " " + std::to_string(lines);
      break;
    default:
      if (message) out += " " + std::to_string(*message);
      break;
  }
  return out;
}

Result<std::string> encode(const Command& c) {
  if (has_line_break_or_nul(c.argument) || has_line_break_or_nul(c.argument2)) {
    return refuse(c, "argument contains CR, LF or NUL");
  }
  if (c.message && *c.message == 0) return refuse(c, "message numbers start at 1");

  std::string line;
  std::size_t limit = max_command_line_bytes;
  switch (c.kind) {
    case CommandKind::greeting:
      return refuse(c, "the greeting is not a command");
    case CommandKind::user:
      if (c.argument.empty() || has_blank(c.argument)) return refuse(c, "user name empty or contains blanks");
      line = "USER " + c.argument;
      break;
    case CommandKind::pass:
      // RFC 1939 lets the password contain spaces: PASS takes the rest of the line.
      if (c.argument.empty()) return refuse(c, "empty password");
      line = "PASS " + c.argument;
      limit = max_credential_line_bytes;
      break;
    case CommandKind::apop:
      if (c.argument.empty() || has_blank(c.argument)) return refuse(c, "user name empty or contains blanks");
      if (c.argument2.size() != 32 || has_blank(c.argument2)) return refuse(c, "APOP digest must be 32 hex digits");
      line = "APOP " + c.argument + " " + c.argument2;
      break;
    case CommandKind::auth:
      if (c.argument.empty() || has_blank(c.argument)) return refuse(c, "mechanism empty or contains blanks");
      if (has_blank(c.argument2)) return refuse(c, "initial response contains blanks");
      line = "AUTH " + c.argument;
      if (!c.argument2.empty()) line += " " + c.argument2;
      break;
    case CommandKind::auth_response:
      line = c.argument;  // may be empty: an empty line answers an error challenge
      limit = max_credential_line_bytes;
      break;
    case CommandKind::capa: line = "CAPA"; break;
    case CommandKind::stls: line = "STLS"; break;
    case CommandKind::stat: line = "STAT"; break;
    case CommandKind::rset: line = "RSET"; break;
    case CommandKind::noop: line = "NOOP"; break;
    case CommandKind::quit: line = "QUIT"; break;
    case CommandKind::list:
    case CommandKind::uidl:
      line = std::string(command_name(c.kind));
      if (c.message) line += " " + std::to_string(*c.message);
      break;
    case CommandKind::top:
    case CommandKind::retr:
    case CommandKind::dele:
      if (!c.message) return refuse(c, "a message number is required");
      line = std::string(command_name(c.kind)) + " " + std::to_string(*c.message);
      if (c.kind == CommandKind::top) line += " " + std::to_string(c.lines);
      break;
  }
  line += "\r\n";
  if (line.size() > limit) {
    return refuse(c, "command line of " + std::to_string(line.size()) + " bytes exceeds " +
                         std::to_string(limit));
  }
  return line;
}

ResponseShape response_shape(const Command& c) noexcept {
  switch (c.kind) {
    case CommandKind::capa:
    case CommandKind::top:
    case CommandKind::retr:
      return ResponseShape::multi_line;
    case CommandKind::list:
    case CommandKind::uidl:
      return c.message ? ResponseShape::status : ResponseShape::multi_line;
    case CommandKind::auth:
    case CommandKind::auth_response:
      return ResponseShape::status_or_continuation;
    default:
      return ResponseShape::status;
  }
}

}  // namespace popfs::pop3
