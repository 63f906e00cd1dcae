#pragma once
// Header fields decoded for display (the xattrs user.mail.subject, user.mail.from): RFC 2047
// encoded words decoded and converted to UTF-8 by GMime (iconv), folding removed. The raw
// header stays in the .headers/ stub; these are for people and tools that want text.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace popfs::mime {

// The first `field` (case-insensitive name, e.g. "Subject") of a header block (the header
// lines of a message, with or without the blank line and body after them), decoded:
// - unstructured fields (Subject, ...): RFC 2047 words decoded, unfolded (a line break and
//   the white space after it read as one space); 8-bit text that is not UTF-8 is read as
//   windows-1252;
// - address fields (From, To, Cc, Bcc, Reply-To, Sender and their Resent- forms): parsed as
//   an address list and written back as UTF-8 text, e.g. `Jörg Müller <j@example.org>`;
// - then invalid UTF-8 repaired (U+FFFD), control characters (NUL, CR, LF, ...) turned into
//   spaces, leading and trailing white space trimmed.
// nullopt when the block has no such field.
std::optional<std::string> decoded_header(std::string_view header_block, std::string_view field);

// The Date: field of a header block read by GMime's date parser, in seconds since the epoch
// (UTC); nullopt when there is none or GMime cannot read it.
std::optional<std::int64_t> decoded_date(std::string_view header_block);

// One Date: value (without "Date:") read by GMime's date parser.
std::optional<std::int64_t> parse_date_value(std::string_view value);

}  // namespace popfs::mime
