#pragma once
// Parsers for UIDL, LIST and STAT answers (RFC 1939), multi-line and single-message forms.
// All return Errc::protocol_violation with a readable message on malformed input.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "popfs/util/result.hpp"

namespace popfs::pop3 {

// RFC 1939 limits a UIDL to 70 characters in 0x21..0x7E; servers exceed both. popfs accepts
// any bytes except CR, LF, NUL, space and tab, up to this many (file names escape the rest).
inline constexpr std::size_t default_max_uidl_bytes = 1024;

struct UidlEntry {
  std::uint32_t number = 0;  // message number, valid for this session only
  std::string uidl;          // verbatim: may contain '/', "..", bytes >= 0x80
};

struct ListEntry {
  std::uint32_t number = 0;
  std::uint64_t size = 0;  // octets as the server counts them: provisional
};

struct StatInfo {
  std::uint32_t count = 0;
  std::uint64_t size = 0;
};

// One line of a multi-line UIDL answer: "n uidl". Leading/trailing spaces and tabs and a
// trailing CR are tolerated.
Result<UidlEntry> parse_uidl_line(std::string_view line,
                                  std::size_t max_uidl_bytes = default_max_uidl_bytes);
// The text of "+OK n uidl" (StatusLine::text) for "UIDL n".
Result<UidlEntry> parse_uidl_single(std::string_view status_text,
                                    std::size_t max_uidl_bytes = default_max_uidl_bytes);
// One line of a multi-line LIST answer: "n size" (extra words after the size are ignored,
// RFC 1939 allows them).
Result<ListEntry> parse_list_line(std::string_view line);
// The text of "+OK n size" for "LIST n".
Result<ListEntry> parse_list_single(std::string_view status_text);
// The text of "+OK count size" for "STAT".
Result<StatInfo> parse_stat(std::string_view status_text);

// Whole bodies of multi-line answers as delivered by ResponseParser (CRLF lines, no
// terminator). Server order is kept; duplicate UIDLs are kept (they are legal); a message
// number listed twice is a protocol violation. Blank lines are ignored.
Result<std::vector<UidlEntry>> parse_uidl_listing(
    std::string_view body, std::size_t max_uidl_bytes = default_max_uidl_bytes);
Result<std::vector<ListEntry>> parse_list_listing(std::string_view body);

// Splits a body into lines without their CRLF/LF. A last line without a line ending is
// returned too.
std::vector<std::string_view> split_lines(std::string_view body);

}  // namespace popfs::pop3
