#include "popfs/pop3/status.hpp"

#include "text_util.hpp"

namespace popfs::pop3 {

using detail::iequals;
using detail::istarts_with;

ResponseCodeKind classify_response_code(std::string_view code_text) noexcept {
  // Hierarchical codes: "SYS/TEMP/DISK" is a kind of SYS/TEMP.
  auto matches = [&](std::string_view known) {
    return iequals(code_text, known) ||
           (istarts_with(code_text, known) && code_text.size() > known.size() &&
            code_text[known.size()] == '/');
  };
  if (matches("IN-USE")) return ResponseCodeKind::in_use;
  if (matches("LOGIN-DELAY")) return ResponseCodeKind::login_delay;
  if (matches("SYS/TEMP")) return ResponseCodeKind::sys_temp;
  if (matches("SYS/PERM")) return ResponseCodeKind::sys_perm;
  if (matches("AUTH")) return ResponseCodeKind::auth;
  return ResponseCodeKind::other;
}

namespace {

Error violation(std::string_view what, std::string_view line) {
  return Error(Errc::protocol_violation,
               std::string(what) + ": \"" + detail::printable(line, 80) + "\"");
}

// Splits "[CODE] rest" off the text after +OK/-ERR.
void split_code(std::string_view text, StatusLine& out) {
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    // A code is a short token without spaces; otherwise it is just text starting with '['.
    if (close != std::string_view::npos && close > 1 && close <= 128) {
      const auto code = text.substr(1, close - 1);
      if (code.find_first_of(" \t") == std::string_view::npos) {
        out.code = ResponseCode{classify_response_code(code), std::string(code)};
        text.remove_prefix(close + 1);
        while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
      }
    }
  }
  out.text = std::string(text);
}

}  // namespace

Result<StatusLine> parse_status_line(std::string_view line, bool allow_continuation) {
  if (line.find('\0') != std::string_view::npos) {
    return violation("NUL byte in status line", line);
  }
  StatusLine out;
  std::string_view rest;
  if (istarts_with(line, "+OK")) {
    out.kind = StatusLine::Kind::ok;
    rest = line.substr(3);
  } else if (istarts_with(line, "-ERR")) {
    out.kind = StatusLine::Kind::err;
    rest = line.substr(4);
  } else if (allow_continuation && !line.empty() && line.front() == '+' &&
             (line.size() == 1 || line[1] == ' ')) {
    out.kind = StatusLine::Kind::continuation;
    out.text = std::string(line.size() > 2 ? line.substr(2) : std::string_view{});
    return out;
  } else {
    return violation("not a POP3 status line", line);
  }
  // "+OKAY" is not "+OK": the keyword must end the line or be followed by a blank.
  if (!rest.empty() && !detail::is_blank(rest.front())) {
    return violation("not a POP3 status line", line);
  }
  while (!rest.empty() && detail::is_blank(rest.front())) rest.remove_prefix(1);
  split_code(rest, out);
  return out;
}

}  // namespace popfs::pop3
