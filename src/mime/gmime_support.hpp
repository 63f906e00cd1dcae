#pragma once
// GMime plumbing shared by the mime layer: one-time initialisation, owning pointers for
// GObjects and g_malloc'd strings, and a parse of bytes the caller keeps alive.

#include <gmime/gmime.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace popfs::mime::detail {

// g_mime_init() exactly once per process, from whichever thread gets here first.
void ensure_gmime();

struct GObjectUnref {
  void operator()(void* object) const noexcept {
    if (object != nullptr) g_object_unref(object);
  }
};
template <class T>
using GObjectPtr = std::unique_ptr<T, GObjectUnref>;

struct GFree {
  void operator()(void* p) const noexcept { g_free(p); }
};
using GString = std::unique_ptr<char, GFree>;

inline std::string to_string(const char* text) { return text != nullptr ? text : std::string(); }

struct ParserOptionsFree {
  void operator()(GMimeParserOptions* options) const noexcept {
    g_mime_parser_options_free(options);
  }
};
using ParserOptions = std::unique_ptr<GMimeParserOptions, ParserOptionsFree>;

// Loose RFC compliance (GMime's default) and windows-1252 as the fallback for 8-bit text
// that is not UTF-8 (what mail clients assume).
ParserOptions make_parser_options();

// A read-only GMimeStream over `bytes`, which must outlive the stream and every substream
// GMime makes of it (the parser keeps leaf contents as substreams: nothing is copied).
GObjectPtr<GMimeStream> make_view_stream(std::string_view bytes);

struct ByteRange {
  std::size_t offset = 0;
  std::size_t length = 0;
};
// Where a substream the parser made of a view stream over `bytes` lies in them; nullopt for
// any other stream (e.g. content GMime holds in memory).
std::optional<ByteRange> view_range(GMimeStream* stream, std::string_view bytes);

// The parsed message, or null if GMime found no message at all. `bytes` must outlive it.
GObjectPtr<GMimeMessage> parse_message(std::string_view bytes, GMimeParserOptions* options);

}  // namespace popfs::mime::detail
