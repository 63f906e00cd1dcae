#pragma once
// Small ASCII helpers shared by the pop3 sources (private to src/pop3).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace popfs::pop3::detail {

inline char ascii_upper(char c) noexcept {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_upper(a[i]) != ascii_upper(b[i])) return false;
  }
  return true;
}

inline bool istarts_with(std::string_view text, std::string_view prefix) noexcept {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

inline std::string to_upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = ascii_upper(c);
  return out;
}

inline bool is_blank(char c) noexcept { return c == ' ' || c == '\t'; }

inline std::string_view trim_blanks(std::string_view text) noexcept {
  while (!text.empty() && (is_blank(text.front()))) text.remove_prefix(1);
  while (!text.empty() && (is_blank(text.back()) || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

// Case-insensitive substring search.
inline bool icontains(std::string_view text, std::string_view needle) noexcept {
  if (needle.size() > text.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= text.size(); ++i) {
    if (iequals(text.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

// Unsigned decimal without sign or spaces, within `max`.
inline std::optional<std::uint64_t> parse_decimal(std::string_view digits,
                                                  std::uint64_t max) noexcept {
  if (digits.empty() || digits.size() > 20) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (max - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

// Server text made safe for a log line or an error message: bounded, control bytes as '?'.
inline std::string printable(std::string_view text, std::size_t max_bytes = 200) {
  std::string out;
  const std::size_t n = text.size() < max_bytes ? text.size() : max_bytes;
  out.reserve(n + 3);
  for (std::size_t i = 0; i < n; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    out += (byte < 0x20 || byte == 0x7f) ? '?' : text[i];
  }
  if (n < text.size()) out += "...";
  return out;
}

}  // namespace popfs::pop3::detail
