#include "transfer_decode.hpp"

#include <algorithm>
#include <cstring>
#include <memory>

#include "gmime_support.hpp"

namespace popfs::mime::detail {
namespace {

GMimeContentEncoding gmime_encoding(TransferEncoding encoding) {
  switch (encoding) {
    case TransferEncoding::base64: return GMIME_CONTENT_ENCODING_BASE64;
    case TransferEncoding::quoted_printable: return GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
    case TransferEncoding::uuencode: return GMIME_CONTENT_ENCODING_UUENCODE;
    case TransferEncoding::identity: break;
  }
  return GMIME_CONTENT_ENCODING_BINARY;
}

}  // namespace

void transfer_decode(std::string_view encoded, TransferEncoding encoding,
                     const std::function<void(std::string_view)>& sink) {
  if (encoding == TransferEncoding::identity) {
    for (std::size_t at = 0; at < encoded.size(); at += kDecodeChunkBytes) {
      sink(encoded.substr(at, kDecodeChunkBytes));
    }
    return;
  }
  ensure_gmime();
  GObjectPtr<GMimeFilter> filter(g_mime_filter_basic_new(gmime_encoding(encoding), FALSE));
  // The filter API takes a writable buffer; each piece is copied into one so the caller's
  // bytes are never handed to GMime as writable. All input goes through filter() and
  // complete() gets none: the uudecoder looks for its "begin" line in filter() only.
  const std::size_t buffer_size = std::max<std::size_t>(1, std::min(encoded.size(), kDecodeChunkBytes));
  auto buffer = std::make_unique_for_overwrite<char[]>(buffer_size);
  char* out = nullptr;
  std::size_t out_length = 0;
  std::size_t out_prespace = 0;
  for (std::size_t at = 0; at < encoded.size(); at += kDecodeChunkBytes) {
    const std::string_view piece = encoded.substr(at, kDecodeChunkBytes);
    std::memcpy(buffer.get(), piece.data(), piece.size());
    g_mime_filter_filter(filter.get(), buffer.get(), piece.size(), 0, &out, &out_length,
                         &out_prespace);
    if (out_length > 0) sink(std::string_view(out, out_length));
  }
  g_mime_filter_complete(filter.get(), buffer.get(), 0, 0, &out, &out_length, &out_prespace);
  if (out_length > 0) sink(std::string_view(out, out_length));
}

std::uint64_t decoded_length(std::string_view encoded, TransferEncoding encoding) {
  if (encoding == TransferEncoding::identity) return encoded.size();
  std::uint64_t total = 0;
  transfer_decode(encoded, encoding, [&](std::string_view piece) { total += piece.size(); });
  return total;
}

}  // namespace popfs::mime::detail
