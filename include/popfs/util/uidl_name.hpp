#pragma once
// File names from UIDLs, reversibly (doc/SEMANTICS.md, "The directory"):
// '%' -> %25, '/' -> %2F, a leading '.' -> %2E, any byte outside 0x21..0x7E -> %XX.
// Duplicate UIDLs get "~2", "~3"... before ".eml"; '~' is escaped (%7E) inside a UIDL
// whenever it could be mistaken for such a suffix, so every name maps back to one message.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace popfs {

// Escaped UIDL, without the ".eml" extension.
std::string escape_uidl(std::string_view uidl);
std::optional<std::string> unescape_uidl(std::string_view escaped);

// occurrence is 1 for the first message with this UIDL, 2 for the second, ...
std::string message_file_name(std::string_view uidl, std::uint32_t occurrence = 1);

struct ParsedName {
  std::string uidl;
  std::uint32_t occurrence = 1;
};
// Inverse of message_file_name; nullopt for a name popfs never produces.
std::optional<ParsedName> parse_message_file_name(std::string_view name);

}  // namespace popfs
