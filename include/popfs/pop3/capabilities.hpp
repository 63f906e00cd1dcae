#pragma once
// CAPA response (RFC 2449): one capability per line, names case-insensitive, arguments kept.
// Ask again after STLS and after login: servers often show more (TOP, UIDL, PIPELINING)
// once authenticated.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "popfs/util/result.hpp"

namespace popfs::pop3 {

struct Capability {
  std::string name;               // upper-cased ("SASL", "LOGIN-DELAY", "X-FOO")
  std::vector<std::string> args;  // as sent, split on spaces/tabs
};

struct Capabilities {
  std::vector<Capability> entries;  // in server order, unknown ones included

  // Convenience views of the well-known ones.
  bool top = false;
  bool uidl = false;
  bool user = false;
  bool stls = false;
  bool pipelining = false;
  bool resp_codes = false;
  bool auth_resp_code = false;
  std::vector<std::string> sasl_mechanisms;      // upper-cased, from "SASL m1 m2 ..."
  std::optional<std::uint32_t> login_delay_seconds;  // "LOGIN-DELAY n" (n = 0 allowed)
  std::optional<std::string> expire;             // "EXPIRE n|NEVER [USER]" first argument
  std::optional<std::string> implementation;     // "IMPLEMENTATION text" (args rejoined)

  bool has(std::string_view name) const noexcept;  // case-insensitive
  const Capability* find(std::string_view name) const noexcept;
  bool has_sasl(std::string_view mechanism) const noexcept;  // case-insensitive
};

// Parses the body of a CAPA response (dot-unstuffed, CRLF or LF line endings, as delivered
// by ResponseParser). Blank lines are ignored. Errc::protocol_violation for a line that
// contains NUL or a malformed argument to a known capability (e.g. "LOGIN-DELAY x").
Result<Capabilities> parse_capabilities(std::string_view body);

}  // namespace popfs::pop3
