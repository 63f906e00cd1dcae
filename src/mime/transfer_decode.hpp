#pragma once
// Transfer decoding of one part's encoded bytes with GMime's basic filter (base64,
// quoted-printable, uuencode), fed in pieces so no whole copy of the part is made.

#include <cstdint>
#include <functional>
#include <string_view>

#include "popfs/mime/part_tree.hpp"

namespace popfs::mime::detail {

inline constexpr std::size_t kDecodeChunkBytes = 64 * 1024;

void transfer_decode(std::string_view encoded, TransferEncoding encoding,
                     const std::function<void(std::string_view)>& sink);

std::uint64_t decoded_length(std::string_view encoded, TransferEncoding encoding);

}  // namespace popfs::mime::detail
