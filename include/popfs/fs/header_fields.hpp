#pragma once
// Reading single fields out of a message's header block (a TOP n 0 stub).

#include <optional>
#include <string>
#include <string_view>

namespace popfs::fs {

// The first field named `name` (case-insensitive), unfolded (CRLF/LF followed by white space
// becomes that white space), with surrounding white space trimmed. Stops at the blank line
// that ends the header block. nullopt if the field is absent.
std::optional<std::string> header_field(std::string_view header_block, std::string_view name);

}  // namespace popfs::fs
