#pragma once
// POP3 status lines: "+OK ...", "-ERR ...", and the SASL continuation "+ ..." (RFC 5034),
// with the RFC 2449 / RFC 3206 response code ("[IN-USE]", "[SYS/TEMP]"...) split out.

#include <optional>
#include <string>
#include <string_view>

#include "popfs/util/result.hpp"

namespace popfs::pop3 {

// The response codes popfs acts on; anything else is `other` and kept verbatim.
enum class ResponseCodeKind {
  in_use,       // [IN-USE]       (RFC 2449) maildrop locked by another session
  login_delay,  // [LOGIN-DELAY]  (RFC 2449) logged in too recently
  sys_temp,     // [SYS/TEMP]     (RFC 3206) transient server failure
  sys_perm,     // [SYS/PERM]     (RFC 3206) permanent server failure
  auth,         // [AUTH]         (RFC 3206) credentials were wrong
  other,        // any other code, e.g. [UTF8] or a vendor one
};

struct ResponseCode {
  ResponseCodeKind kind = ResponseCodeKind::other;
  std::string text;  // what was inside the brackets, as sent (e.g. "SYS/TEMP", "X-FOO/BAR")
};

// Recognises a code case-insensitively: "sys/temp" is SYS/TEMP. Codes with sub-levels beyond
// the known ones ("SYS/TEMP/DISK") count as the known prefix.
ResponseCodeKind classify_response_code(std::string_view code_text) noexcept;

struct StatusLine {
  enum class Kind {
    ok,            // "+OK"
    err,           // "-ERR"
    continuation,  // "+ " or a lone "+": a SASL server challenge (only where expected)
  };
  Kind kind = Kind::ok;
  std::optional<ResponseCode> code;  // only for +OK / -ERR lines that start with "[...]"
  // The text after "+OK " / "-ERR " with the code and the space after it removed, or for a
  // continuation the (base64) challenge. No CR/LF.
  std::string text;

  bool ok() const noexcept { return kind == Kind::ok; }
  bool err() const noexcept { return kind == Kind::err; }
  bool continuation() const noexcept { return kind == Kind::continuation; }
};

// Parses one status line without its line ending. "+OK"/"-ERR" are matched
// case-insensitively (some servers say "+ok"). A "+" followed by a space or nothing is a
// continuation only when `allow_continuation` is set; otherwise it is a protocol violation,
// as is anything that is not a status line at all. Errc::protocol_violation on failure.
Result<StatusLine> parse_status_line(std::string_view line, bool allow_continuation = false);

}  // namespace popfs::pop3
