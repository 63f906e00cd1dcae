#include "input_guard.hpp"

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace popfs::mime::detail {
namespace {

constexpr std::uint64_t kGMimeMaxNesting = 1024;  // GMime stops pushing boundaries there
constexpr std::size_t kMaxCandidates = 1024;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowered(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Characters every reading of an unquoted boundary token includes; stopping at anything else
// yields a prefix of what GMime reads, which matches at least the lines GMime's does.
bool safe_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '\'' || c == '+' || c == '_' || c == '-' || c == '.';
}

class Scanner {
 public:
  explicit Scanner(const PartLimits& limits) : limits_(limits) {}

  // False when this line must not reach GMime.
  bool accept(std::string_view line) {
    std::string_view text = line;
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);

    if (text.size() >= 2 && text[0] == '-' && text[1] == '-') {
      checks_ += std::min(declarations_, kGMimeMaxNesting);
      if (checks_ > limits_.max_boundary_checks) return false;
      if (may_be_boundary(text)) {
        if (++boundary_lines_ > limits_.max_boundary_lines) return false;
        finish_field();
        in_headers_ = true;
        block_nests_ = false;
        block_after_boundary_ = true;
        return true;
      }
    }
    if (!in_headers_) return true;

    ++header_lines_;
    header_bytes_ += line.size();
    if (header_lines_ > limits_.max_header_lines || header_bytes_ > limits_.max_header_bytes) {
      return false;
    }
    if (text.empty()) {  // end of a header block
      finish_field();
      // A message/* body starts with headers; so does each part of a digest (its default
      // type is message/rfc822), after the part's own header block.
      in_headers_ = block_nests_ || (digest_seen_ && block_after_boundary_);
      block_nests_ = false;
      block_after_boundary_ = false;
      return true;
    }
    if (text.front() == ' ' || text.front() == '\t') {
      if (in_content_type_) field_.append(text);
      return true;
    }
    finish_field();
    const auto colon = text.find(':');
    if (colon != std::string_view::npos && iequals(trim(text.substr(0, colon)), "content-type")) {
      in_content_type_ = true;
      field_.assign(text.substr(colon + 1));
    }
    return true;
  }

 private:
  bool may_be_boundary(std::string_view text) const {
    if (any_dash_line_) return true;
    const std::string_view rest = text.substr(2);
    return std::any_of(candidates_.begin(), candidates_.end(),
                       [&](const std::string& c) { return rest.substr(0, c.size()) == c; });
  }

  void finish_field() {
    if (!in_content_type_) return;
    in_content_type_ = false;
    const std::string low = lowered(field_);
    if (low.find("message") != std::string::npos) block_nests_ = true;
    if (low.find("digest") != std::string::npos) {
      block_nests_ = true;
      digest_seen_ = true;
    }
    for (auto at = low.find("boundary"); at != std::string::npos;
         at = low.find("boundary", at + 1)) {
      learn_boundary(std::string_view(field_).substr(at + 8));
    }
    field_.clear();
  }

  // `rest` follows the word "boundary" in a Content-Type value.
  void learn_boundary(std::string_view rest) {
    ++declarations_;
    if (any_dash_line_) return;
    rest = trim(rest);
    if (rest.empty() || rest.front() != '=') {
      // "boundary*0=..." (RFC 2231) and anything else odd: the real boundary is unknown.
      if (!rest.empty() && rest.front() == '*') any_dash_line_ = true;
      return;
    }
    rest = trim(rest.substr(1));
    std::string_view value;
    if (!rest.empty() && rest.front() == '"') {
      rest.remove_prefix(1);
      value = rest.substr(0, rest.find_first_of("\"\\"));
      const bool plain = !value.empty() && value.front() != ' ' && value.back() != ' ' &&
                         value.find("=?") == std::string_view::npos &&
                         std::all_of(value.begin(), value.end(),
                                     [](char c) { return c >= 0x20 && c <= 0x7E; });
      if (!plain) any_dash_line_ = true;
    } else {
      std::size_t n = 0;
      while (n < rest.size() && safe_token_char(rest[n])) ++n;
      value = rest.substr(0, n);
      if (value.empty()) any_dash_line_ = true;
    }
    if (any_dash_line_ || !known_.emplace(value).second) return;
    if (candidates_.size() >= kMaxCandidates) {
      any_dash_line_ = true;
      return;
    }
    candidates_.emplace_back(value);
  }

  const PartLimits& limits_;
  bool in_headers_ = true;
  bool block_nests_ = false;
  bool block_after_boundary_ = false;
  bool digest_seen_ = false;
  bool in_content_type_ = false;
  bool any_dash_line_ = false;
  std::string field_;
  std::vector<std::string> candidates_;
  std::set<std::string, std::less<>> known_;
  std::uint64_t declarations_ = 0;
  std::uint64_t checks_ = 0;
  std::size_t boundary_lines_ = 0;
  std::size_t header_lines_ = 0;
  std::size_t header_bytes_ = 0;
};

}  // namespace

GuardResult guard_input(std::string_view message, const PartLimits& limits) {
  Scanner scanner(limits);
  std::size_t pos = 0;
  while (pos < message.size()) {
    const auto newline = message.find('\n', pos);
    const std::size_t end = newline == std::string_view::npos ? message.size() : newline + 1;
    if (!scanner.accept(message.substr(pos, end - pos))) return {pos, true};
    pos = end;
  }
  return {message.size(), false};
}

}  // namespace popfs::mime::detail
