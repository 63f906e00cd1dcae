#include "popfs/mime/part_names.hpp"

#include <glib.h>

#include <array>
#include <string>
#include <utility>

namespace popfs::mime {
namespace {

constexpr std::size_t kMaxExtensionBytes = 16;

bool is_continuation_byte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// The longest prefix of `text` of at most `max_bytes` that ends on a character boundary.
std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t cut = max_bytes;
  while (cut > 0 && is_continuation_byte(text[cut])) --cut;
  return text.substr(0, cut);
}

// Splits "name.ext" before its last dot when that gives a short extension and a stem.
std::pair<std::string_view, std::string_view> split_extension(std::string_view name) {
  const auto dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || name.size() - dot > kMaxExtensionBytes) {
    return {name, {}};
  }
  return {name.substr(0, dot), name.substr(dot)};
}

// stem + middle + extension, the stem shortened so the whole fits in max_bytes.
std::string fit(std::string_view stem, std::string_view middle, std::string_view extension,
                std::size_t max_bytes = kMaxNameBytes) {
  const std::size_t fixed = middle.size() + extension.size();
  std::string out(utf8_prefix(stem, fixed < max_bytes ? max_bytes - fixed : 0));
  out += middle;
  out += extension;
  return out;
}

// Each byte that is not part of valid UTF-8 becomes U+FFFD; NUL becomes '_' first (GLib
// would make it U+FFFD too).
std::string repair_utf8(std::string_view raw) {
  std::string bytes(raw);
  for (char& c : bytes) {
    if (c == '\0') c = '_';
  }
  char* valid = g_utf8_make_valid(bytes.data(), static_cast<gssize>(bytes.size()));
  std::string out = valid != nullptr ? valid : "";
  g_free(valid);
  return out;
}

}  // namespace

std::string sanitize_part_name(std::string_view raw) {
  const std::string valid = repair_utf8(raw);
  std::string name;
  name.reserve(valid.size());
  for (const char* p = valid.data(); p < valid.data() + valid.size();) {
    const gunichar c = g_utf8_get_char(p);
    const char* next = g_utf8_next_char(p);
    if (c == '/' || c < 0x20 || (c >= 0x7F && c <= 0x9F)) {
      name += '_';
    } else {
      name.append(p, static_cast<std::size_t>(next - p));
    }
    p = next;
  }
  std::string_view trimmed = name;
  while (!trimmed.empty() && trimmed.front() == ' ') trimmed.remove_prefix(1);
  while (!trimmed.empty() && trimmed.back() == ' ') trimmed.remove_suffix(1);
  if (trimmed.find_first_not_of(". ") == std::string_view::npos) return {};

  std::string out(trimmed);
  for (char& c : out) {
    if (c != '.') break;
    c = '_';
  }
  if (out.size() <= kMaxNameBytes) return out;
  const auto [stem, extension] = split_extension(out);
  return fit(stem, {}, extension);
}

std::string_view extension_for_type(std::string_view content_type) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 34> kTable{{
      {"text/plain", ".txt"},
      {"text/html", ".html"},
      {"text/calendar", ".ics"},
      {"text/csv", ".csv"},
      {"text/xml", ".xml"},
      {"text/markdown", ".md"},
      {"text/vcard", ".vcf"},
      {"text/x-vcard", ".vcf"},
      {"text/rfc822-headers", ".txt"},
      {"message/rfc822", ".eml"},
      {"message/global", ".eml"},
      {"message/delivery-status", ".txt"},
      {"message/disposition-notification", ".txt"},
      {"application/pdf", ".pdf"},
      {"application/zip", ".zip"},
      {"application/gzip", ".gz"},
      {"application/json", ".json"},
      {"application/xml", ".xml"},
      {"application/ics", ".ics"},
      {"application/pgp-signature", ".asc"},
      {"application/pgp-encrypted", ".asc"},
      {"application/pgp-keys", ".asc"},
      {"application/pkcs7-signature", ".p7s"},
      {"application/pkcs7-mime", ".p7m"},
      {"application/msword", ".doc"},
      {"application/vnd.ms-excel", ".xls"},
      {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx"},
      {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"},
      {"application/vnd.openxmlformats-officedocument.presentationml.presentation", ".pptx"},
      {"image/png", ".png"},
      {"image/jpeg", ".jpg"},
      {"image/gif", ".gif"},
      {"image/svg+xml", ".svg"},
      {"image/webp", ".webp"},
  }};
  for (const auto& [type, extension] : kTable) {
    if (type == content_type) return extension;
  }
  // A multipart listed as a file is one GMime could not split: its body is text.
  if (content_type.substr(0, 5) == "text/" || content_type.substr(0, 10) == "multipart/") {
    return ".txt";
  }
  return ".bin";
}

std::string generated_part_name(std::string_view path, std::string_view content_type) {
  std::string name = "part-";
  name += path;
  name += extension_for_type(content_type);
  return name;
}

std::string UniqueNames::claim(std::string_view name) {
  if (taken_.emplace(name).second) return std::string(name);
  const auto [stem, extension] = split_extension(name);
  // Counting on from the last suffix handed out for this name keeps n equal names O(n).
  auto& next = next_suffix_[std::string(name)];
  for (std::size_t n = next < 2 ? 2 : next;; ++n) {
    std::string candidate = fit(stem, "~" + std::to_string(n), extension);
    if (taken_.emplace(candidate).second) {
      next = n + 1;
      return candidate;
    }
  }
}

std::string UniqueNames::claim_pair(std::string_view stem, std::string_view suffix) {
  auto& next = next_suffix_["\n" + std::string(stem)];  // '\n' never starts a real name
  for (std::size_t n = next < 1 ? 1 : next;; ++n) {
    const std::string middle = n == 1 ? std::string() : "~" + std::to_string(n);
    const std::string candidate = fit(stem, middle, {}, kMaxNameBytes - suffix.size());
    const std::string partner = candidate + std::string(suffix);
    if (!taken(candidate) && !taken(partner)) {
      taken_.insert(candidate);
      taken_.insert(partner);
      next = n + 1;
      return candidate;
    }
  }
}

}  // namespace popfs::mime
