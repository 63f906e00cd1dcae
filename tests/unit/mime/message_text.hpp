#pragma once
// Small helpers for writing test messages: LF-written literals to CRLF (what RETR gives),
// and a base64 encoder of the test's own, so expected bytes are the plain input.

#include <cstddef>
#include <string>
#include <string_view>

namespace popfs::mime::test {

inline std::string crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 16);
  for (const char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

// RFC 2045 base64, lines of 76 characters ending in CRLF.
inline std::string base64_lines(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t column = 0;
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t n = bytes.size() - i < 3 ? bytes.size() - i : 3;
    unsigned value = 0;
    for (std::size_t k = 0; k < 3; ++k) {
      value = (value << 8) | (k < n ? static_cast<unsigned char>(bytes[i + k]) : 0u);
    }
    for (std::size_t k = 0; k < 4; ++k) {
      out += k <= n ? kAlphabet[(value >> (18 - 6 * k)) & 0x3F] : '=';
    }
    column += 4;
    if (column == 76) {
      out += "\r\n";
      column = 0;
    }
  }
  if (column != 0) out += "\r\n";
  return out;
}

// Bytes 0..255 repeated: "binary" content with every byte value, NUL and CR/LF included.
inline std::string all_bytes(std::size_t size) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>((i * 7 + i / 256) & 0xFF);
  return out;
}

}  // namespace popfs::mime::test
