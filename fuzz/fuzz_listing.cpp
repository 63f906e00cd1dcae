// libFuzzer target for the UIDL, LIST and STAT parsers (src/pop3/listing.cpp).
//
// Input: byte 0: low 4 bits the piece size for the ResponseParser pass, high 4 bits the UIDL
// length limit (0: the default); the rest is a UIDL/LIST body (its lines also serve as
// "+OK" texts of STAT, LIST n and UIDL n). Properties:
// - direct, CRLF and ResponseParser-delivered (dot-stuffed, in pieces) bodies parse alike;
// - a listing is its lines: it fails exactly when a non-blank line fails or a message number
//   repeats, and otherwise holds the lines' entries in order;
// - entries are well formed (number >= 1, UIDL within the limit and without blank, CR, LF,
//   NUL) and survive a round trip through the wire form "n uidl" / "n size";
// - blanks around a line do not matter; error messages are bounded and printable.

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "popfs/pop3/listing.hpp"

namespace {

using popfs::fuzz::check;
namespace pop3 = popfs::pop3;

bool is_blank_line(std::string_view line) {
  return line.find_first_not_of(std::string_view(" \t\r", 3)) == std::string_view::npos;
}

void check_error(const popfs::Error& error) {
  check(error.message.size() <= 300, "error messages are bounded");
  for (char c : error.message) {
    const auto byte = static_cast<unsigned char>(c);
    check(byte >= 0x20 && byte != 0x7f, "error messages hold no control characters");
  }
}

std::string describe(const std::vector<pop3::UidlEntry>& entries) {
  std::string out;
  for (const auto& e : entries) out += std::to_string(e.number) + " " + e.uidl + "\n";
  return out;
}

std::string describe(const std::vector<pop3::ListEntry>& entries) {
  std::string out;
  for (const auto& e : entries) out += std::to_string(e.number) + " " + std::to_string(e.size) + "\n";
  return out;
}

template <typename Entry>
std::string describe(const popfs::Result<std::vector<Entry>>& result) {
  return result ? describe(*result) : std::string("error");
}

void check_uidl_entry(const pop3::UidlEntry& entry, std::size_t max_uidl) {
  check(entry.number >= 1, "message numbers start at 1");
  check(!entry.uidl.empty() && entry.uidl.size() <= max_uidl, "a UIDL is 1..limit bytes");
  check(entry.uidl.find_first_of(std::string_view(" \t\r\n\0", 5)) == std::string::npos,
        "a UIDL has no blank, CR, LF or NUL");
}

void fuzz_uidl(std::string_view body, std::size_t piece, std::size_t max_uidl) {
  const auto listing = pop3::parse_uidl_listing(body, max_uidl);
  const std::string expected = describe(listing);
  if (!listing) check_error(listing.error());

  check(describe(pop3::parse_uidl_listing(popfs::fuzz::lf_to_crlf(body), max_uidl)) == expected,
        "UIDL: bare LF and CRLF parse alike");
  const auto delivered = popfs::fuzz::parse_multi_line(popfs::fuzz::multi_line_response(body), piece);
  check(delivered.has_value(), "ResponseParser delivers any dot-stuffed body");
  check(describe(pop3::parse_uidl_listing(*delivered, max_uidl)) == expected,
        "UIDL: the delivered body parses like the body");

  bool failed = false;
  std::set<std::uint32_t> numbers;
  std::vector<pop3::UidlEntry> entries;
  for (auto line : pop3::split_lines(body)) {
    const auto alone = pop3::parse_uidl_line(line, max_uidl);
    const auto padded = pop3::parse_uidl_line(" \t" + std::string(line) + "\t ", max_uidl);
    check(alone.ok() == padded.ok() && (!alone || (alone->number == padded->number && alone->uidl == padded->uidl)),
          "UIDL: blanks around a line do not matter");
    const auto single = pop3::parse_uidl_single(line, max_uidl);
    check(single.ok() == alone.ok() && (!alone || single->uidl == alone->uidl), "UIDL n answers parse like lines");
    if (is_blank_line(line)) continue;
    if (!alone) {
      check_error(alone.error());
      failed = true;
      continue;
    }
    check_uidl_entry(*alone, max_uidl);
    if (!numbers.insert(alone->number).second) failed = true;
    entries.push_back(*alone);
  }
  check(failed == !listing, "UIDL: the listing fails exactly when a line fails or a number repeats");
  if (!listing) return;
  check(describe(entries) == expected, "UIDL: the listing holds its lines' entries in order");

  std::string wire;
  for (const auto& entry : *listing) wire += std::to_string(entry.number) + " " + entry.uidl + "\r\n";
  check(describe(pop3::parse_uidl_listing(wire, max_uidl)) == expected, "UIDL: entries survive a round trip");
}

void fuzz_list(std::string_view body, std::size_t piece) {
  const auto listing = pop3::parse_list_listing(body);
  const std::string expected = describe(listing);
  if (!listing) check_error(listing.error());

  check(describe(pop3::parse_list_listing(popfs::fuzz::lf_to_crlf(body))) == expected,
        "LIST: bare LF and CRLF parse alike");
  const auto delivered = popfs::fuzz::parse_multi_line(popfs::fuzz::multi_line_response(body), piece);
  check(delivered.has_value(), "ResponseParser delivers any dot-stuffed body");
  check(describe(pop3::parse_list_listing(*delivered)) == expected, "LIST: the delivered body parses like the body");

  bool failed = false;
  std::set<std::uint32_t> numbers;
  std::vector<pop3::ListEntry> entries;
  for (auto line : pop3::split_lines(body)) {
    const auto alone = pop3::parse_list_line(line);
    const auto padded = pop3::parse_list_line("\t " + std::string(line) + " \t");
    check(alone.ok() == padded.ok() && (!alone || (alone->number == padded->number && alone->size == padded->size)),
          "LIST: blanks around a line do not matter");
    const auto single = pop3::parse_list_single(line);
    check(single.ok() == alone.ok() && (!alone || single->size == alone->size), "LIST n answers parse like lines");

    // The same text as the answer to STAT: count and size survive a round trip.
    const auto stat = pop3::parse_stat(line);
    if (stat) {
      const auto again = pop3::parse_stat(std::to_string(stat->count) + " " + std::to_string(stat->size));
      check(again && again->count == stat->count && again->size == stat->size, "STAT survives a round trip");
    } else {
      check_error(stat.error());
    }

    if (is_blank_line(line)) continue;
    if (!alone) {
      check_error(alone.error());
      failed = true;
      continue;
    }
    check(alone->number >= 1, "message numbers start at 1");
    if (!numbers.insert(alone->number).second) failed = true;
    entries.push_back(*alone);
  }
  check(failed == !listing, "LIST: the listing fails exactly when a line fails or a number repeats");
  if (!listing) return;
  check(describe(entries) == expected, "LIST: the listing holds its lines' entries in order");

  std::string wire;
  for (const auto& entry : *listing) wire += std::to_string(entry.number) + " " + std::to_string(entry.size) + "\r\n";
  check(describe(pop3::parse_list_listing(wire)) == expected, "LIST: entries survive a round trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t piece = data[0] & 0x0f;  // 0: the whole response at once
  const std::size_t limit_selector = data[0] >> 4;
  const std::size_t max_uidl = limit_selector == 0 ? pop3::default_max_uidl_bytes : limit_selector * 4;
  const std::string_view body = popfs::fuzz::as_text(data + 1, size - 1);
  fuzz_uidl(body, piece, max_uidl);
  fuzz_list(body, piece);
  return 0;
}
