// libFuzzer target for header_field() (src/fs/header_fields.cpp), which reads fields out of
// the header stubs the server sends for TOP n 0.
//
// Input: byte 0 is the length of the field name (mod 32), then the name, then the header
// block. Properties:
// - the value is trimmed, holds no LF, and is no longer than the block;
// - the name matches in any case;
// - LF and CRLF line endings give the same value (for blocks without CR of their own);
// - the blank line ends the block: what follows it is never read;
// - a found value comes back from a block holding only "Name: value" (round trip);
// - fields of other names before it do not change it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "popfs/fs/header_fields.hpp"

namespace {

using popfs::fs::header_field;
using popfs::fuzz::check;

bool same(const std::optional<std::string>& a, const std::optional<std::string>& b) {
  return a.has_value() == b.has_value() && (!a || *a == *b);
}

bool is_blank(char c) { return c == ' ' || c == '\t'; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t name_size = std::min<std::size_t>(data[0] % 32, size - 1);
  const std::string_view name = popfs::fuzz::as_text(data + 1, name_size);
  const std::string_view block = popfs::fuzz::as_text(data + 1 + name_size, size - 1 - name_size);

  const auto value = header_field(block, name);
  if (value) {
    check(value->size() <= block.size(), "a value is no longer than the block");
    check(value->find('\n') == std::string::npos, "a value is unfolded: no LF");
    check(value->empty() || (!is_blank(value->front()) && !is_blank(value->back())), "a value is trimmed");
  }

  check(same(header_field(block, popfs::fuzz::ascii_upper(name)), value) &&
            same(header_field(block, popfs::fuzz::ascii_lower(name)), value),
        "field names match in any case");

  const std::string lf_only = popfs::fuzz::without_cr(block);
  check(same(header_field(popfs::fuzz::lf_to_crlf(lf_only), name), header_field(lf_only, name)),
        "LF and CRLF line endings read alike");

  // Whatever follows the blank line is body, never a header.
  const std::string fenced = std::string(block) + "\n\n" + std::string(name) + ": from the body\n";
  check(same(header_field(fenced, name), value), "the blank line ends the header block");

  // Other fields in front change nothing (a name with ':' or a blank would not be one name).
  const bool plain_name = !name.empty() && name.find_first_of(":\r\n \t") == std::string_view::npos;
  if (plain_name && popfs::fuzz::ascii_lower(name) != "x-popfs-fuzz") {
    const std::string prefixed = "X-Popfs-Fuzz: one\r\n\tfolded\r\n" + std::string(block);
    check(same(header_field(prefixed, name), value), "other fields before it change nothing");
  }

  // The value alone, as one field, reads back unchanged.
  if (plain_name && value && value->find('\r') == std::string::npos) {
    const std::string alone = std::string(name) + ": " + *value + "\r\n\r\n";
    check(same(header_field(alone, name), value), "a value reads back from its own field");
  }
  return 0;
}
