#pragma once
// RFC 5322 dates (section 3.3, including the obsolete syntax of 4.3): "Date:" header values
// to seconds since the epoch, UTC. Written for popfs; no locale, no time zone database.

#include <cstdint>
#include <optional>
#include <string_view>

namespace popfs::fs {

// Accepts an optional day name, 1- or 2-digit days, English month names in any case,
// 2-, 3- and 4-digit years (obsolete: 00-49 -> 20xx, 50-99 -> 19xx, 3 digits + 1900),
// optional seconds, comments in parentheses, folding white space, numeric zones (+hhmm),
// UT/GMT/Z, the US zones (EST, EDT, CST, CDT, MST, MDT, PST, PDT) and military letters
// (treated as +0000, as RFC 5322 advises). nullopt if the value is not a date.
std::optional<std::int64_t> parse_mail_date(std::string_view value);

}  // namespace popfs::fs
