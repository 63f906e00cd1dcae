#include "popfs/fs/header_fields.hpp"

#include <cctype>

namespace popfs::fs {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string_view without_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

std::optional<std::string> header_field(std::string_view block, std::string_view name) {
  std::size_t pos = 0;
  std::optional<std::string> value;
  while (pos < block.size()) {
    std::size_t eol = block.find('\n', pos);
    if (eol == std::string_view::npos) eol = block.size();
    const std::string_view line = without_cr(block.substr(pos, eol - pos));
    pos = eol + 1;
    if (line.empty()) break;  // end of the header block
    const bool continuation = line.front() == ' ' || line.front() == '\t';
    if (continuation) {
      if (value) *value += line;  // unfolding keeps the white space, drops the line break
      continue;
    }
    if (value) break;  // the field we collected has ended
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    if (iequals(trim(line.substr(0, colon)), name)) value = std::string(line.substr(colon + 1));
  }
  if (value) *value = std::string(trim(*value));
  return value;
}

}  // namespace popfs::fs
