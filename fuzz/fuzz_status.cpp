// libFuzzer target for status lines and what popfs makes of a "-ERR" (src/pop3/status.cpp,
// src/pop3/errors.cpp).
//
// Input: byte 0: bit 0 allows SASL continuations, bits 1..5 pick the command answered, bit 6
// gives it a message number; the rest, up to its first LF, is one status line. Properties:
// - a line is accepted only with its keyword ("+OK"/"-ERR" in any case, then a blank or the
//   end; "+ " or "+" only where continuations are allowed); the text is the line's tail,
//   without NUL; a response code is the bracketed word it came from, classified alike in any
//   case and with any sub-level ("SYS/TEMP/DISK" is SYS/TEMP);
// - the line parses the same through ResponseParser, whole and in pieces, and the same
//   after "+OK" as after "-ERR";
// - error_from_status() gives a bounded, printable message and the category the response
//   code or the command dictates (header comment of include/popfs/pop3/errors.hpp).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "popfs/pop3/command.hpp"
#include "popfs/pop3/errors.hpp"
#include "popfs/pop3/response_parser.hpp"
#include "popfs/pop3/status.hpp"

namespace {

using popfs::Errc;
using popfs::fuzz::check;
namespace pop3 = popfs::pop3;
using pop3::ResponseCodeKind;
using pop3::StatusLine;

constexpr int kCommandKinds = static_cast<int>(pop3::CommandKind::quit) + 1;

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && popfs::fuzz::ascii_upper(text.substr(0, prefix.size())) == prefix;
}

std::string describe(const popfs::Result<StatusLine>& status) {
  if (!status) return "error";
  std::string out = std::to_string(static_cast<int>(status->kind));
  if (status->code) out += "[" + status->code->text + "]" + std::to_string(static_cast<int>(status->code->kind));
  return out + "|" + status->text;
}

// The status line as ResponseParser reports it, the line sent with CRLF in pieces of `piece`.
std::string through_parser(std::string_view line, bool allow_continuation, std::size_t piece) {
  pop3::ResponseParser parser;
  parser.expect(allow_continuation ? pop3::ResponseShape::status_or_continuation : pop3::ResponseShape::status);
  const std::string wire = std::string(line) + "\r\n";
  std::size_t pos = 0;
  while (pos < wire.size()) {
    const std::size_t n = std::min(piece, wire.size() - pos);
    std::string_view in = std::string_view(wire).substr(pos, n);
    pos += n;
    const auto step = parser.consume(in);
    check(step.consumed <= in.size(), "consume() uses at most its input");
    using Kind = pop3::ParseEvent::Kind;
    if (step.event.kind == Kind::error) return "error";
    if (step.event.kind == Kind::status) {
      check(step.event.complete && pos == wire.size() && step.consumed == in.size(),
            "a status line ends at its LF");
      return describe(popfs::Result<StatusLine>(step.event.status));
    }
    check(step.event.kind == Kind::need_more && step.consumed == in.size(), "a partial line waits for more");
  }
  check(false, "a whole line always gives an event");
  return {};
}

void check_status(std::string_view line, bool allow_continuation, const StatusLine& status) {
  check(status.text.find('\0') == std::string::npos, "no NUL in a status text");
  check(line.size() >= status.text.size() &&
            line.substr(line.size() - status.text.size()) == status.text,
        "the text is the line's tail");
  switch (status.kind) {
    case StatusLine::Kind::ok:
      check(starts_with_nocase(line, "+OK") && (line.size() == 3 || line[3] == ' ' || line[3] == '\t'),
            "+OK is the keyword and a blank or the end");
      break;
    case StatusLine::Kind::err:
      check(starts_with_nocase(line, "-ERR") && (line.size() == 4 || line[4] == ' ' || line[4] == '\t'),
            "-ERR is the keyword and a blank or the end");
      break;
    case StatusLine::Kind::continuation:
      check(allow_continuation, "a continuation only where one is allowed");
      check(line[0] == '+' && (line.size() == 1 || line[1] == ' '), "a continuation is \"+\" or \"+ \"");
      check(!status.code.has_value(), "a continuation has no response code");
      break;
  }
  if (status.code) {
    const std::string& code = status.code->text;
    check(!code.empty() && code.size() < 128, "a response code is short");
    check(code.find_first_of(std::string_view(" \t", 2)) == std::string::npos, "a response code is one word");
    check(line.find("[" + code + "]") != std::string_view::npos, "the code is the bracketed word of the line");
    const auto kind = pop3::classify_response_code(code);
    check(status.code->kind == kind, "the code's kind is its classification");
    check(pop3::classify_response_code(popfs::fuzz::ascii_lower(code)) == kind &&
              pop3::classify_response_code(popfs::fuzz::ascii_upper(code)) == kind,
          "response codes are classified alike in any case");
    if (kind != ResponseCodeKind::other) {
      check(pop3::classify_response_code(code + "/SUB") == kind, "a sub-level keeps the code's kind");
    }
  }
}

Errc expected_category(pop3::CommandKind command, const StatusLine& status, bool has_message) {
  if (status.code) {
    switch (status.code->kind) {
      case ResponseCodeKind::in_use: return Errc::in_use;
      case ResponseCodeKind::login_delay: return Errc::login_delay;
      case ResponseCodeKind::sys_temp: return Errc::temporary;
      case ResponseCodeKind::sys_perm: return Errc::permanent;
      case ResponseCodeKind::auth: return Errc::auth_failed;
      case ResponseCodeKind::other: break;
    }
  }
  switch (command) {
    case pop3::CommandKind::retr:
    case pop3::CommandKind::top:
    case pop3::CommandKind::dele:
      return Errc::message_gone;
    case pop3::CommandKind::stls:
      return Errc::stls_unavailable;
    case pop3::CommandKind::capa:
      return Errc::unsupported;
    case pop3::CommandKind::list:
    case pop3::CommandKind::uidl:
      // The per-message forms name a message that is gone, unless a code said otherwise.
      return has_message && !status.code ? Errc::message_gone : Errc::unsupported;
    default:
      return Errc::permanent;  // placeholder: the text heuristics decide, checked below
  }
}

void check_error(pop3::CommandKind command, std::optional<std::uint32_t> message, const StatusLine& status) {
  const popfs::Error error = pop3::error_from_status(command, status, message);
  check(!error.message.empty() && error.message.size() <= 512, "a refusal's message is bounded");
  for (char c : error.message) {
    const auto byte = static_cast<unsigned char>(c);
    check(byte >= 0x20 && byte != 0x7f, "a refusal's message holds no control characters");
  }
  if (command != pop3::CommandKind::greeting) {
    check(error.message.find(std::string(pop3::command_name(command))) != std::string::npos,
          "a refusal's message names the command");
  }
  const Errc expected = expected_category(command, status, message.has_value());
  const bool known_code = status.code && status.code->kind != ResponseCodeKind::other;
  const bool by_command = command == pop3::CommandKind::retr || command == pop3::CommandKind::top ||
                          command == pop3::CommandKind::dele || command == pop3::CommandKind::stls ||
                          command == pop3::CommandKind::capa || command == pop3::CommandKind::list ||
                          command == pop3::CommandKind::uidl;
  if (known_code || by_command) {
    check(error.code == expected, "a response code or the command decides the category");
  } else {
    // Text heuristics: only these categories can come out of them.
    const bool login = command == pop3::CommandKind::user || command == pop3::CommandKind::pass ||
                       command == pop3::CommandKind::apop || command == pop3::CommandKind::auth ||
                       command == pop3::CommandKind::auth_response;
    const bool greeting = command == pop3::CommandKind::greeting;
    const Errc c = error.code;
    if (login) {
      check(c == Errc::in_use || c == Errc::login_delay || c == Errc::temporary || c == Errc::auth_failed,
            "a refused login is auth_failed, in_use, login_delay or temporary");
    } else if (greeting) {
      check(c == Errc::in_use || c == Errc::login_delay || c == Errc::temporary,
            "a refused greeting is in_use, login_delay or temporary");
    } else {
      check(c == Errc::temporary || c == Errc::permanent, "other refusals are temporary or permanent");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const bool allow_continuation = (data[0] & 1) != 0;
  const auto command = static_cast<pop3::CommandKind>(((data[0] >> 1) & 0x1f) % kCommandKinds);
  const std::optional<std::uint32_t> message =
      (data[0] & 0x40) != 0 ? std::optional<std::uint32_t>(size) : std::nullopt;
  std::string_view line = popfs::fuzz::as_text(data + 1, size - 1);
  line = line.substr(0, line.find('\n'));  // a status line never holds an LF
  // ResponseParser takes one CR of the CRLF off; a line of its own may end in more.
  const auto status = pop3::parse_status_line(line, allow_continuation);
  const std::string expected = describe(status);
  if (status) {
    check_status(line, allow_continuation, *status);
    check_error(command, message, *status);
  } else {
    check(status.error().code == Errc::protocol_violation, "a bad status line is a protocol violation");
    check(status.error().message.size() <= 300, "its message is bounded");
  }

  for (std::size_t piece : {std::size_t{1}, std::size_t{3}, line.size() + 2}) {
    check(through_parser(line, allow_continuation, piece) == expected,
          "ResponseParser reports the line as parse_status_line does, in any pieces");
  }

  // The same tail after either keyword gives the same code and text.
  if (status && !status->continuation()) {
    const std::string_view tail = line.substr(status->ok() ? 3 : 4);
    const auto as_ok = pop3::parse_status_line("+OK" + std::string(tail), allow_continuation);
    const auto as_err = pop3::parse_status_line("-ERR" + std::string(tail), allow_continuation);
    check(as_ok && as_ok->ok() && as_err && as_err->err(), "either keyword with the same tail parses");
    check(as_ok->text == as_err->text && as_ok->code.has_value() == as_err->code.has_value() &&
              (!as_ok->code || as_ok->code->text == as_err->code->text),
          "the keyword does not change the code or the text");
  }
  return 0;
}
