#pragma once
// Helpers shared by the libFuzzer targets: a check that aborts (so libFuzzer records the
// input), and the path server bytes really take to a multi-line parser: a "+OK" response,
// dot-stuffed, fed through ResponseParser in pieces of a chosen size.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "popfs/pop3/response_parser.hpp"

namespace popfs::fuzz {

// A failed property: print what was expected, then abort so libFuzzer keeps the input.
inline void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "fuzz property failed: %s\n", what);
    std::abort();
  }
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Every bare LF (not after a CR) becomes CRLF; everything else is kept.
inline std::string lf_to_crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) out += '\r';
    out += text[i];
  }
  return out;
}

inline std::string without_cr(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c != '\r') out += c;
  }
  return out;
}

inline std::string ascii_upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

inline std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The bytes a server sends for a multi-line answer whose body is `body`: "+OK" line, every
// line starting with '.' stuffed, a line ending added to a last line without one (a bare LF,
// so a trailing CR of that line stays a line-ending CR), then ".\r\n".
inline std::string multi_line_response(std::string_view body) {
  std::string out = "+OK fuzz\r\n";
  bool line_start = true;
  for (char c : body) {
    if (line_start && c == '.') out += '.';
    out += c;
    line_start = c == '\n';
  }
  if (!body.empty() && body.back() != '\n') out += '\n';
  out += ".\r\n";
  return out;
}

// Feeds `response` to a ResponseParser expecting one multi-line answer, `piece` bytes per
// consume() (0: all at once), and returns the body it delivered; nullopt if it reported an
// error or did not finish. Checks the parser's promises on the way.
inline std::optional<std::string> parse_multi_line(std::string_view response, std::size_t piece,
                                                   const pop3::ParserLimits& limits = {}) {
  pop3::ResponseParser parser(limits);
  parser.expect(pop3::ResponseShape::multi_line);
  std::string body;
  bool ended = false;
  std::size_t pos = 0;
  while (!ended) {
    const std::size_t n = piece == 0 ? response.size() - pos : std::min(piece, response.size() - pos);
    std::string_view in = response.substr(pos, n);
    pos += n;
    for (int guard = 0;; ++guard) {
      check(guard < 1'000'000, "consume() makes progress");
      auto step = parser.consume(in);
      check(step.consumed <= in.size(), "consume() uses at most its input");
      in.remove_prefix(step.consumed);
      using Kind = pop3::ParseEvent::Kind;
      const auto& event = step.event;
      if (event.kind == Kind::error) return std::nullopt;
      if (event.kind == Kind::need_more) break;
      check(event.kind != Kind::idle, "the answer is not over before its terminator");
      if (event.kind == Kind::status) check(event.status.ok() && !event.complete, "+OK opens the body");
      if (event.kind == Kind::body_chunk) body.append(event.data);
      if (event.kind == Kind::body_end) {
        check(in.empty() && pos == response.size(), "the body ends at the terminator the server sent");
        ended = true;
        break;
      }
    }
    if (pos >= response.size() && !ended) return std::nullopt;
  }
  return body;
}

}  // namespace popfs::fuzz
