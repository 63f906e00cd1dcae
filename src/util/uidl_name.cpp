#include "popfs/util/uidl_name.hpp"

#include <charconv>

namespace popfs {
namespace {

constexpr std::string_view kExtension = ".eml";
constexpr char kHex[] = "0123456789ABCDEF";

void append_percent(std::string& out, unsigned char byte) {
  out += '%';
  out += kHex[byte >> 4];
  out += kHex[byte & 0x0F];
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string escape_uidl(std::string_view uidl) {
  std::string out;
  out.reserve(uidl.size());
  for (std::size_t i = 0; i < uidl.size(); ++i) {
    const auto byte = static_cast<unsigned char>(uidl[i]);
    // '~' is escaped so that the duplicate suffix "~N" can never come from a UIDL itself.
    const bool needs_escape = byte < 0x21 || byte > 0x7E || byte == '%' || byte == '/' ||
                              byte == '~' || (i == 0 && byte == '.');
    if (needs_escape) {
      append_percent(out, byte);
    } else {
      out += static_cast<char>(byte);
    }
  }
  return out;
}

std::optional<std::string> unescape_uidl(std::string_view escaped) {
  std::string out;
  out.reserve(escaped.size());
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    const char c = escaped[i];
    if (c == '/' || c == '~' || (i == 0 && c == '.')) return std::nullopt;
    if (c != '%') {
      out += c;
      continue;
    }
    if (i + 2 >= escaped.size()) return std::nullopt;
    const int high = hex_value(escaped[i + 1]);
    const int low = hex_value(escaped[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  if (out.empty()) return std::nullopt;
  // Only the canonical spelling is accepted, so one message has exactly one name.
  if (escape_uidl(out) != escaped) return std::nullopt;
  return out;
}

std::string message_file_name(std::string_view uidl, std::uint32_t occurrence) {
  std::string name = escape_uidl(uidl);
  if (occurrence > 1) {
    name += '~';
    name += std::to_string(occurrence);
  }
  name += kExtension;
  return name;
}

std::optional<ParsedName> parse_message_file_name(std::string_view name) {
  if (name.size() <= kExtension.size() || !name.ends_with(kExtension)) return std::nullopt;
  name.remove_suffix(kExtension.size());
  ParsedName parsed;
  if (const auto tilde = name.rfind('~'); tilde != std::string_view::npos) {
    const std::string_view digits = name.substr(tilde + 1);
    std::uint32_t occurrence = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), occurrence);
    if (ec != std::errc{} || end != digits.data() + digits.size() || occurrence < 2 ||
        digits.front() == '0') {
      return std::nullopt;
    }
    parsed.occurrence = occurrence;
    name = name.substr(0, tilde);
  }
  auto uidl = unescape_uidl(name);
  if (!uidl) return std::nullopt;
  parsed.uidl = std::move(*uidl);
  return parsed;
}

}  // namespace popfs
