#pragma once
// How much of a message GMime may see (PartLimits in part_tree.hpp). GMime has no bound on
// the parts or header fields it builds (1 KiB or more of objects per 7-byte part), and it
// compares every line starting with "--" against every open boundary (1024 deep at most):
// a few MiB of hostile input would cost GiBs and seconds. This pre-scan counts, line by
// line and conservatively (it may count a line GMime would not treat so, never the other way
// round), the lines that may start a part, the lines that may be header lines and the
// boundary comparisons, and returns the longest prefix within the limits.
//
// It is not a MIME parser: it recognises Content-Type fields only to learn the boundary
// strings and whether a body may itself start with headers (message/*, multipart/digest).

#include <cstddef>
#include <string_view>

#include "popfs/mime/part_tree.hpp"

namespace popfs::mime::detail {

struct GuardResult {
  std::size_t allowed_bytes = 0;  // parse message.substr(0, allowed_bytes)
  bool cut = false;               // allowed_bytes < message.size()
};

GuardResult guard_input(std::string_view message, const PartLimits& limits);

}  // namespace popfs::mime::detail
