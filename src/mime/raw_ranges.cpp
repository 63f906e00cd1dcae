#include "raw_ranges.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>

namespace popfs::mime::detail {
namespace {

std::optional<std::size_t> first_header_offset(GMimeHeaderList* headers, std::size_t limit) {
  if (headers == nullptr) return std::nullopt;
  std::optional<std::size_t> best;
  const int count = g_mime_header_list_get_count(headers);
  for (int i = 0; i < count; ++i) {
    const gint64 offset = g_mime_header_get_offset(g_mime_header_list_get_header_at(headers, i));
    if (offset < 0 || static_cast<std::uint64_t>(offset) >= limit) continue;
    const auto at = static_cast<std::size_t>(offset);
    if (!best || at < *best) best = at;
  }
  return best;
}

// The offset after the blank line that ends the header block holding `inside`.
std::size_t after_header_block(std::string_view input, std::size_t inside) {
  std::size_t pos = inside;
  while (true) {
    const auto newline = input.find('\n', pos);
    if (newline == std::string_view::npos) return input.size();
    const std::size_t next = newline + 1;
    if (input.substr(next, 1) == "\n") return next + 1;
    if (input.substr(next, 2) == "\r\n") return next + 2;
    pos = next;
  }
}

bool only_blanks(std::string_view text) {
  return text.find_first_not_of(" \t\r") == std::string_view::npos;
}

bool is_boundary_line(std::string_view line, const std::vector<std::string>& boundaries) {
  if (line.size() < 2 || line[0] != '-' || line[1] != '-') return false;
  const std::string_view rest = line.substr(2);
  for (const std::string& boundary : boundaries) {
    if (rest.substr(0, boundary.size()) != boundary) continue;
    std::string_view tail = rest.substr(boundary.size());
    if (tail.substr(0, 2) == "--") tail.remove_prefix(2);
    if (only_blanks(tail)) return true;
  }
  return false;
}

// Where content starting at `start` ends: before the line break preceding the first
// boundary line, or at the end of the input.
std::size_t content_end(std::string_view input, std::size_t start,
                        const std::vector<std::string>& boundaries) {
  if (boundaries.empty()) return input.size();
  std::size_t line_start = start;
  while (line_start < input.size()) {
    const auto newline = input.find('\n', line_start);
    const std::size_t line_end = newline == std::string_view::npos ? input.size() : newline;
    if (is_boundary_line(input.substr(line_start, line_end - line_start), boundaries)) {
      std::size_t end = line_start;
      if (end > start && input[end - 1] == '\n') --end;
      if (end > start && input[end - 1] == '\r') --end;
      return end;
    }
    line_start = line_end + 1;
  }
  return input.size();
}

}  // namespace

ByteRange body_range(GMimeObject* part, std::string_view input,
                     const std::vector<std::string>& enclosing_boundaries) {
  const auto own = first_header_offset(g_mime_object_get_header_list(part), input.size());
  if (!own) return {};
  const std::size_t start = after_header_block(input, *own);
  const std::size_t end = content_end(input, start, enclosing_boundaries);
  return {start, end - start};
}

ByteRange message_part_range(GMimeObject* part, GMimeMessage* forwarded, std::string_view input,
                             const std::vector<std::string>& enclosing_boundaries) {
  std::optional<std::size_t> start;
  if (const auto own = first_header_offset(g_mime_object_get_header_list(part), input.size())) {
    start = after_header_block(input, *own);
  } else if (forwarded != nullptr) {
    // A part without headers of its own (in a multipart/digest): the forwarded message
    // starts at its first header (GMime files the Content-* ones under its body).
    auto first = first_header_offset(g_mime_object_get_header_list(GMIME_OBJECT(forwarded)),
                                     input.size());
    GMimeObject* body = g_mime_message_get_mime_part(forwarded);
    if (body != nullptr) {
      const auto in_body = first_header_offset(g_mime_object_get_header_list(body), input.size());
      if (in_body && (!first || *in_body < *first)) first = in_body;
    }
    start = first;
  }
  if (!start || *start > input.size()) return {};
  const std::size_t end = content_end(input, *start, enclosing_boundaries);
  return {*start, end - *start};
}

}  // namespace popfs::mime::detail
