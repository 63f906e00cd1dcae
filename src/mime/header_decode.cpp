#include "popfs/mime/header_decode.hpp"

#include <algorithm>
#include <array>
#include <string>

#include "gmime_support.hpp"
#include "input_guard.hpp"

namespace popfs::mime {
namespace {

using detail::GObjectPtr;
using detail::GString;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return g_ascii_tolower(x) == g_ascii_tolower(y);
         });
}

bool is_address_field(std::string_view field) {
  static constexpr std::array<std::string_view, 6> kFields{"from", "to",       "cc",
                                                           "bcc",  "reply-to", "sender"};
  if (field.size() > 7 && iequals(field.substr(0, 7), "resent-")) field.remove_prefix(7);
  return std::any_of(kFields.begin(), kFields.end(),
                     [&](std::string_view f) { return iequals(f, field); });
}

// Valid UTF-8, no control characters (an xattr value is read as one line of text), trimmed.
std::string clean_text(const char* text) {
  GString valid(g_utf8_make_valid(text, -1));
  std::string out = detail::to_string(valid.get());
  for (char& c : out) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) c = ' ';
  }
  const auto first = out.find_first_not_of(' ');
  if (first == std::string::npos) return {};
  return out.substr(first, out.find_last_not_of(' ') - first + 1);
}

// The raw value of the first `field` in the header block, or nullopt.
struct FoundHeader {
  std::string raw_value;
};

std::optional<FoundHeader> find_header(std::string_view header_block, std::string_view field,
                                       GMimeParserOptions* options) {
  const auto guard = detail::guard_input(header_block, PartLimits{});
  const std::string_view input = header_block.substr(0, guard.allowed_bytes);
  auto message = detail::parse_message(input, options);
  if (!message) return std::nullopt;
  const std::string name(field);
  // GMime files Content-* fields under the message's body, the others under the message.
  GMimeObject* body = g_mime_message_get_mime_part(message.get());
  for (GMimeObject* object : {GMIME_OBJECT(message.get()), body}) {
    if (object == nullptr) continue;
    GMimeHeaderList* headers = g_mime_object_get_header_list(object);
    GMimeHeader* header = headers != nullptr ? g_mime_header_list_get_header(headers, name.c_str())
                                             : nullptr;
    if (header != nullptr) return FoundHeader{detail::to_string(g_mime_header_get_raw_value(header))};
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> decoded_header(std::string_view header_block, std::string_view field) {
  auto options = detail::make_parser_options();
  const auto found = find_header(header_block, field, options.get());
  if (!found) return std::nullopt;
  GString unfolded(g_mime_utils_header_unfold(found->raw_value.c_str()));
  if (is_address_field(field)) {
    GObjectPtr<InternetAddressList> list(internet_address_list_parse(options.get(), unfolded.get()));
    if (list && internet_address_list_length(list.get()) > 0) {
      GString text(internet_address_list_to_string(list.get(), nullptr, FALSE));
      return clean_text(text.get());
    }
  }
  GString decoded(g_mime_utils_header_decode_text(options.get(), unfolded.get()));
  return clean_text(decoded.get());
}

std::optional<std::int64_t> parse_date_value(std::string_view value) {
  detail::ensure_gmime();
  const std::string text(value);
  GDateTime* date = g_mime_utils_header_decode_date(text.c_str());
  if (date == nullptr) return std::nullopt;
  const std::int64_t seconds = g_date_time_to_unix(date);
  g_date_time_unref(date);
  return seconds;
}

std::optional<std::int64_t> decoded_date(std::string_view header_block) {
  auto options = detail::make_parser_options();
  const auto found = find_header(header_block, "Date", options.get());
  if (!found) return std::nullopt;
  GString unfolded(g_mime_utils_header_unfold(found->raw_value.c_str()));
  return parse_date_value(unfolded.get());
}

}  // namespace popfs::mime
