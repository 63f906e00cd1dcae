// libFuzzer target for the mime layer: arbitrary bytes as a message.
//
// Byte 0 picks the limits (bit 0: tiny guard limits, so the fuzzer reaches the cut; bit 1:
// tiny depth and entry limits); the rest is the message. Invariants: every name sanitised
// and unique within its folder, every listed range inside the message, every file decodes
// to exactly its listed size (by entry and, for the first, by path after a re-parse),
// decoded headers are valid UTF-8 without control characters.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "popfs/mime/header_decode.hpp"
#include "popfs/mime/part_tree.hpp"
#include "tree_checks.hpp"

namespace {

using popfs::mime::PartLimits;

void check(bool condition) {
  if (!condition) std::abort();
}

void check_text(const std::optional<std::string>& text) {
  if (!text) return;
  std::vector<std::uint32_t> points;
  check(popfs::mime::test::decode_utf8(*text, points));
  for (const std::uint32_t cp : points) check(cp >= 0x20 && cp != 0x7F);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t mode = data[0];
  const std::string_view message(reinterpret_cast<const char*>(data + 1), size - 1);

  PartLimits limits;
  if ((mode & 1) != 0) {
    limits.max_boundary_lines = 8;
    limits.max_header_lines = 40;
    limits.max_header_bytes = 2048;
    limits.max_boundary_checks = 64;
  }
  if ((mode & 2) != 0) {
    limits.max_depth = 2;
    limits.max_entries = 4;
  }

  const auto tree = popfs::mime::parse_parts(message, limits);
  check(popfs::mime::test::tree_problems(tree).empty());
  const auto files = popfs::mime::test::list_files(tree);
  check(files.size() <= limits.max_entries);
  std::size_t by_path = 0;
  for (const auto& file : files) {
    const auto& entry = *file.entry;
    check(entry.content_offset <= message.size());
    check(entry.content_length <= message.size() - entry.content_offset);
    const std::string decoded = popfs::mime::decode_part(message, entry);
    check(decoded.size() == entry.decoded_size);
    if (by_path++ == 0) {  // a re-parse is the costly part: once per input
      const auto again = popfs::mime::decode_part(message, entry.path, limits);
      check(again.has_value() && *again == decoded);
    }
  }

  // Each of these parses the message again; one per input, chosen by the mode byte.
  switch ((mode >> 2) % 3) {
    case 0: check_text(popfs::mime::decoded_header(message, "Subject")); break;
    case 1: check_text(popfs::mime::decoded_header(message, "From")); break;
    default: (void)popfs::mime::decoded_date(message); break;
  }
  return 0;
}
