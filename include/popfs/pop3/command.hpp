#pragma once
// POP3 commands and their wire encoding (RFC 1939, 2449, 2595, 5034).
//
// Build a Command with one of the factories, then encode() it (or hand it to
// pop3::Session::send, which also checks the session state). encode() refuses arguments
// that contain CR, LF or NUL (command injection) and lines that are too long.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "popfs/pop3/response_parser.hpp"
#include "popfs/util/result.hpp"

namespace popfs::pop3 {

enum class CommandKind {
  greeting,       // not a command: the server's greeting, the first response of a session
  user,
  pass,
  apop,
  auth,           // AUTH <mechanism> [initial-response]
  auth_response,  // a client line inside a SASL exchange (base64, or "*" to cancel)
  capa,
  stls,
  stat,
  list,           // LIST or LIST n
  uidl,           // UIDL or UIDL n
  top,
  retr,
  dele,
  rset,
  noop,
  quit,
};

// "USER", "PASS", ... ("greeting" and "AUTH-RESPONSE" for the two non-commands).
std::string_view command_name(CommandKind kind) noexcept;

// Ordinary command lines are limited to 255 octets including CRLF (RFC 2449). PASS and
// SASL response lines get a larger limit: passwords and OAuth tokens can be long, and
// servers accept them.
inline constexpr std::size_t max_command_line_bytes = 255;
inline constexpr std::size_t max_credential_line_bytes = 64 * 1024;

struct Command {
  CommandKind kind = CommandKind::noop;
  std::string argument;                  // USER/APOP name, PASS secret, AUTH mechanism,
                                         // auth_response line
  std::string argument2;                 // APOP digest, AUTH initial response (may be "=")
  std::optional<std::uint32_t> message;  // LIST/UIDL (optional), TOP/RETR/DELE (required)
  std::uint32_t lines = 0;               // TOP: body lines wanted (0 = headers only)

  static Command user(std::string name);
  static Command pass(std::string secret);
  // digest: 32 lowercase hex digits, see pop3::apop_digest (sasl.hpp).
  static Command apop(std::string name, std::string digest);
  // initial_response: already base64-encoded; empty for none; "=" for an empty one
  // (RFC 5034). If AUTH with the initial response would exceed 255 octets, encode()
  // fails with invalid_argument: send AUTH without it and answer the "+ " instead.
  static Command auth(std::string mechanism, std::string initial_response = {});
  static Command auth_response(std::string line);  // base64, or "*" to cancel
  static Command capa();
  static Command stls();
  static Command stat();
  static Command list(std::optional<std::uint32_t> message = {});
  static Command uidl(std::optional<std::uint32_t> message = {});
  static Command top(std::uint32_t message, std::uint32_t lines);
  static Command retr(std::uint32_t message);
  static Command dele(std::uint32_t message);
  static Command rset();
  static Command noop();
  static Command quit();

  // For logs: the command line without secrets ("PASS ***", "AUTH PLAIN ***").
  std::string redacted() const;
};

// The wire bytes, "VERB[ args]\r\n". Errc::invalid_argument for CR/LF/NUL in an argument,
// an empty required argument, a message number of 0, a missing message number for
// TOP/RETR/DELE, a space in a USER/APOP name or AUTH mechanism, or a line over the limit.
Result<std::string> encode(const Command& command);

// The shape of the server's answer to this command (what ResponseParser::expect needs).
ResponseShape response_shape(const Command& command) noexcept;

}  // namespace popfs::pop3
