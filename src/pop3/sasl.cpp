#include "popfs/pop3/sasl.hpp"

#include <array>
#include <cstdint>

namespace popfs::pop3 {

namespace {

constexpr std::string_view base64_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += base64_alphabet[(v >> 18) & 63];
    out += base64_alphabet[(v >> 12) & 63];
    out += base64_alphabet[(v >> 6) & 63];
    out += base64_alphabet[v & 63];
  }
  const std::size_t left = bytes.size() - i;
  if (left == 1) {
    const std::uint32_t v = byte(i) << 16;
    out += base64_alphabet[(v >> 18) & 63];
    out += base64_alphabet[(v >> 12) & 63];
    out += "==";
  } else if (left == 2) {
    const std::uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8);
    out += base64_alphabet[(v >> 18) & 63];
    out += base64_alphabet[(v >> 12) & 63];
    out += base64_alphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  auto bad = [&] {
    return Error(Errc::protocol_violation, "invalid base64 from server");
  };
  if (text.size() % 4 != 0) return bad();
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    std::array<int, 4> v{};
    int padding = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = text[i + k];
      if (c == '=' && last && k >= 2) {
        ++padding;
        v[k] = 0;
        continue;
      }
      if (padding > 0) return bad();  // data after '='
      v[k] = base64_value(c);
      if (v[k] < 0) return bad();
    }
    const auto quad = (static_cast<std::uint32_t>(v[0]) << 18) |
                      (static_cast<std::uint32_t>(v[1]) << 12) |
                      (static_cast<std::uint32_t>(v[2]) << 6) | static_cast<std::uint32_t>(v[3]);
    out += static_cast<char>((quad >> 16) & 0xff);
    if (padding < 2) out += static_cast<char>((quad >> 8) & 0xff);
    if (padding < 1) out += static_cast<char>(quad & 0xff);
  }
  return out;
}

std::string sasl_plain(std::string_view authcid, std::string_view password,
                       std::string_view authzid) {
  std::string raw;
  raw.append(authzid);
  raw += '\0';
  raw.append(authcid);
  raw += '\0';
  raw.append(password);
  return base64_encode(raw);
}

std::string sasl_xoauth2(std::string_view user, std::string_view access_token) {
  std::string raw = "user=";
  raw.append(user);
  raw += "\x01" "auth=Bearer ";
  raw.append(access_token);
  raw += "\x01\x01";
  return base64_encode(raw);
}

std::string sasl_oauthbearer(std::string_view user, std::string_view host, std::uint16_t port,
                             std::string_view access_token) {
  std::string raw = "n,a=";
  for (char c : user) {
    if (c == ',') raw += "=2C";
    else if (c == '=') raw += "=3D";
    else raw += c;
  }
  raw += ",\x01" "host=";
  raw.append(host);
  raw += "\x01" "port=" + std::to_string(port);
  raw += "\x01" "auth=Bearer ";
  raw.append(access_token);
  raw += "\x01\x01";
  return base64_encode(raw);
}

std::string sasl_oauthbearer_failure_ack() { return base64_encode("\x01"); }

std::optional<std::string> apop_timestamp(std::string_view greeting_text) {
  const auto open = greeting_text.find('<');
  if (open == std::string_view::npos) return std::nullopt;
  const auto close = greeting_text.find('>', open);
  if (close == std::string_view::npos) return std::nullopt;
  auto stamp = greeting_text.substr(open, close - open + 1);
  // RFC 1939's msg-id: "<" something "@" something ">"; no blanks inside.
  if (stamp.find('@') == std::string_view::npos ||
      stamp.find_first_of(" \t") != std::string_view::npos) {
    return std::nullopt;
  }
  return std::string(stamp);
}

// MD5 (RFC 1321), written from the specification.
std::string md5_hex(std::string_view bytes) {
  static constexpr std::array<std::uint32_t, 64> k = {
      0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
      0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
      0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
      0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
      0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
      0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
      0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
      0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
      0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
      0xeb86d391};
  static constexpr std::array<unsigned, 64> shift = {
      7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
      5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
      4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
      6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};

  std::string message(bytes);
  const std::uint64_t bit_length = static_cast<std::uint64_t>(bytes.size()) * 8;
  message += static_cast<char>(0x80);
  while (message.size() % 64 != 56) message += '\0';
  for (unsigned i = 0; i < 8; ++i) message += static_cast<char>((bit_length >> (8 * i)) & 0xff);

  std::uint32_t a0 = 0x67452301, b0 = 0xefcdab89, c0 = 0x98badcfe, d0 = 0x10325476;
  auto rotl = [](std::uint32_t x, unsigned c) { return (x << c) | (x >> (32 - c)); };
  for (std::size_t block = 0; block < message.size(); block += 64) {
    std::array<std::uint32_t, 16> m{};
    for (std::size_t w = 0; w < 16; ++w) {
      for (std::size_t b = 0; b < 4; ++b) {
        m[w] |= static_cast<std::uint32_t>(static_cast<unsigned char>(message[block + w * 4 + b]))
                << (8 * b);
      }
    }
    std::uint32_t a = a0, b = b0, c = c0, d = d0;
    for (std::size_t i = 0; i < 64; ++i) {
      std::uint32_t f = 0;
      std::size_t g = 0;
      if (i < 16) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (i < 32) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) % 16;
      } else if (i < 48) {
        f = b ^ c ^ d;
        g = (3 * i + 5) % 16;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) % 16;
      }
      f = f + a + k[i] + m[g];
      a = d;
      d = c;
      c = b;
      b = b + rotl(f, shift[i]);
    }
    a0 += a;
    b0 += b;
    c0 += c;
    d0 += d;
  }
  static constexpr std::string_view hex = "0123456789abcdef";
  std::string out;
  for (std::uint32_t word : {a0, b0, c0, d0}) {
    for (unsigned i = 0; i < 4; ++i) {
      const auto byte = (word >> (8 * i)) & 0xff;
      out += hex[byte >> 4];
      out += hex[byte & 15];
    }
  }
  return out;
}

std::string apop_digest(std::string_view timestamp, std::string_view secret) {
  std::string input(timestamp);
  input.append(secret);
  return md5_hex(input);
}

}  // namespace popfs::pop3
