#pragma once
// Where a message/rfc822 part's raw bytes lie in the message. GMime parses the forwarded
// message into objects and keeps no range for it, so the range is found from what GMime
// does keep: header offsets (the content starts after the blank line ending the part's
// header block) and the boundaries of the enclosing multiparts (it ends before the CRLF in
// front of the first line that is one of them, the rule GMime itself applies).

#include <string>
#include <string_view>
#include <vector>

#include "gmime_support.hpp"

namespace popfs::mime::detail {

// `enclosing_boundaries`: the boundary strings of every multipart around the part.
ByteRange message_part_range(GMimeObject* part, GMimeMessage* forwarded, std::string_view input,
                             const std::vector<std::string>& enclosing_boundaries);

// The undecoded body of any part with headers of its own (e.g. a multipart GMime could not
// split); empty when the part has no headers.
ByteRange body_range(GMimeObject* part, std::string_view input,
                     const std::vector<std::string>& enclosing_boundaries);

}  // namespace popfs::mime::detail
