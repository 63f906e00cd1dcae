#include "popfs/pop3/listing.hpp"

#include <limits>
#include <unordered_set>

#include "text_util.hpp"

namespace popfs::pop3 {

namespace {

Error violation(std::string_view what, std::string_view line) {
  return Error(Errc::protocol_violation,
               std::string(what) + ": \"" + detail::printable(line, 80) + "\"");
}

// Splits off the first blank-separated word.
std::string_view next_word(std::string_view& text) {
  while (!text.empty() && detail::is_blank(text.front())) text.remove_prefix(1);
  std::size_t end = 0;
  while (end < text.size() && !detail::is_blank(text[end])) ++end;
  auto word = text.substr(0, end);
  text.remove_prefix(end);
  return word;
}

std::optional<std::uint32_t> message_number(std::string_view word) {
  auto n = detail::parse_decimal(word, std::numeric_limits<std::uint32_t>::max());
  if (!n || *n == 0) return std::nullopt;
  return static_cast<std::uint32_t>(*n);
}

Result<std::pair<std::uint32_t, std::uint64_t>> number_pair(std::string_view line,
                                                            std::string_view what) {
  std::string_view rest = detail::trim_blanks(line);
  auto first = message_number(next_word(rest));
  auto second = detail::parse_decimal(next_word(rest), std::numeric_limits<std::uint64_t>::max());
  if (!first || !second) return violation(std::string("malformed ") + std::string(what), line);
  return std::pair<std::uint32_t, std::uint64_t>{*first, *second};
}

}  // namespace

Result<UidlEntry> parse_uidl_line(std::string_view line, std::size_t max_uidl_bytes) {
  std::string_view rest = detail::trim_blanks(line);
  auto number = message_number(next_word(rest));
  if (!number) return violation("malformed UIDL line (message number)", line);
  while (!rest.empty() && detail::is_blank(rest.front())) rest.remove_prefix(1);
  if (rest.empty()) return violation("UIDL line without a unique id", line);
  if (rest.size() > max_uidl_bytes) {
    return violation("unique id longer than " + std::to_string(max_uidl_bytes) + " bytes", line);
  }
  if (rest.find_first_of(std::string_view(" \t\r\n\0", 5)) != std::string_view::npos) {
    return violation("unique id contains a blank, CR, LF or NUL", line);
  }
  return UidlEntry{*number, std::string(rest)};
}

Result<UidlEntry> parse_uidl_single(std::string_view status_text, std::size_t max_uidl_bytes) {
  return parse_uidl_line(status_text, max_uidl_bytes);
}

Result<ListEntry> parse_list_line(std::string_view line) {
  auto pair = number_pair(line, "LIST line");
  if (!pair) return pair.error();
  return ListEntry{pair->first, pair->second};
}

Result<ListEntry> parse_list_single(std::string_view status_text) {
  return parse_list_line(status_text);
}

Result<StatInfo> parse_stat(std::string_view status_text) {
  std::string_view rest = detail::trim_blanks(status_text);
  auto count = detail::parse_decimal(next_word(rest), std::numeric_limits<std::uint32_t>::max());
  auto size = detail::parse_decimal(next_word(rest), std::numeric_limits<std::uint64_t>::max());
  if (!count || !size) return violation("malformed STAT answer", status_text);
  return StatInfo{static_cast<std::uint32_t>(*count), *size};
}

std::vector<std::string_view> split_lines(std::string_view body) {
  std::vector<std::string_view> lines;
  while (!body.empty()) {
    auto newline = body.find('\n');
    std::string_view line = body.substr(0, newline);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (newline == std::string_view::npos) break;
    body.remove_prefix(newline + 1);
  }
  return lines;
}

Result<std::vector<UidlEntry>> parse_uidl_listing(std::string_view body,
                                                  std::size_t max_uidl_bytes) {
  std::vector<UidlEntry> entries;
  std::unordered_set<std::uint32_t> seen;
  for (auto line : split_lines(body)) {
    if (detail::trim_blanks(line).empty()) continue;
    auto entry = parse_uidl_line(line, max_uidl_bytes);
    if (!entry) return entry.error();
    if (!seen.insert(entry->number).second) {
      return violation("message number listed twice in UIDL", line);
    }
    entries.push_back(std::move(entry).value());
  }
  return entries;
}

Result<std::vector<ListEntry>> parse_list_listing(std::string_view body) {
  std::vector<ListEntry> entries;
  std::unordered_set<std::uint32_t> seen;
  for (auto line : split_lines(body)) {
    if (detail::trim_blanks(line).empty()) continue;
    auto entry = parse_list_line(line);
    if (!entry) return entry.error();
    if (!seen.insert(entry->number).second) {
      return violation("message number listed twice in LIST", line);
    }
    entries.push_back(*entry);
  }
  return entries;
}

}  // namespace popfs::pop3
