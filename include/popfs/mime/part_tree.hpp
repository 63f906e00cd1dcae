#pragma once
// A message's MIME parts as a tree of folders and files (doc/SEMANTICS.md, "MIME parts").
// GMime 3 does the MIME work (structure, transfer decoding, RFC 2047/2231); this layer names
// the parts, bounds what a hostile message can cost, and decodes one part on request.
//
// Layout:
// - The root holds the message body: the children of a top-level multipart, or one file for
//   a single-part message.
// - A leaf part is a file; a nested multipart is a folder; a message/rfc822 part is a folder
//   holding the forwarded message's own parts AND, beside it, a file "<folder>.eml" with the
//   forwarded message's raw bytes (raw_message = true), so it can be saved or opened whole.
// - Paths are IMAP section numbers (RFC 3501 6.4.5): the root's entries are 1, 2, ...; a
//   single-part message's body is 1; the parts of a forwarded message at P are P.1, P.2, ...
//   (P.1 alone when its body is not multipart). A folder and its raw .eml share a path.
//
// Costs: one parse reads the message once with GMime (no copy of the message is made) and
// once more to decode every leaf into a counter, so decoded_size is exact for every file.
// The tree keeps names, types and offsets only, no content: about 250 bytes per entry
// (scripts/bench-mime). On a 10 MiB message with a 7 MiB base64 attachment a parse took
// 55 ms (about half of it decoding the attachment to count its bytes) and 1.4 MiB of peak
// memory.
// GMime's own objects are freed before parse_parts returns.
//
// Thread safety: every function may be called from several threads at once (GMime is
// initialised once, on first use, under std::call_once).

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace popfs::mime {

// IMAP-style section number of a part, e.g. {1, 2, 1} for "1.2.1". Every index is >= 1.
struct PartPath {
  std::vector<std::uint32_t> indices;

  std::string to_string() const;
  // nullopt unless `text` is dot-separated decimal indices >= 1 (no empty or leading-zero ones).
  static std::optional<PartPath> parse(std::string_view text);

  friend auto operator<=>(const PartPath&, const PartPath&) = default;
  friend bool operator==(const PartPath&, const PartPath&) = default;
};

// How a file's bytes are stored in the message. identity covers 7bit, 8bit, binary and any
// encoding GMime does not know (those bytes are served as they are, as Python's email does).
enum class TransferEncoding { identity, base64, quoted_printable, uuencode };

struct PartEntry {
  enum class Kind { file, folder };
  Kind kind = Kind::file;
  std::string name;  // sanitised (part_names.hpp) and unique within its folder
  PartPath path;

  // Files only.
  std::string content_type;        // lower case "type/subtype", as GMime read it
  std::uint64_t decoded_size = 0;  // exact: what decode_part returns, byte for byte
  std::uint64_t content_offset = 0;  // the encoded bytes: message[offset, offset + length)
  std::uint64_t content_length = 0;
  TransferEncoding encoding = TransferEncoding::identity;
  bool raw_message = false;  // the raw form of a message/rfc822 part (its folder is beside it)

  // Folders only.
  std::vector<PartEntry> children;
};

struct PartTree {
  std::vector<PartEntry> entries;  // the root folder's entries, in part order
  // Some of the message was not looked at: the input guard (below) cut it, or GMime's own
  // nesting limit (1024 multiparts) was reached. The entries listed are still exact.
  bool truncated = false;
  std::size_t omitted = 0;  // parts not listed because of max_depth or max_entries
};

// Bounds on what one message can cost (defaults in doc/SEMANTICS.md). GMime has no limits of
// its own on parts or headers, and it compares every line that starts with "--" against
// every open boundary; a pre-scan (not a parser: it only counts lines) gives GMime the
// longest prefix of the message within these bounds. A message within them is parsed whole.
struct PartLimits {
  std::size_t max_depth = 32;       // folder nesting listed; deeper parts are omitted
  std::size_t max_entries = 10000;  // files + folders listed
  // The pre-scan's bounds on the input given to GMime, each conservative (it over-counts).
  std::size_t max_boundary_lines = 10000;          // lines that may start a part
  std::size_t max_header_lines = 20000;            // lines that may be header lines
  std::size_t max_header_bytes = 4 * 1024 * 1024;  // and their bytes
  std::uint64_t max_boundary_checks = 5'000'000;  // "--" lines x boundaries open
};

// Never fails: malformed MIME gives a best-effort tree (possibly empty).
PartTree parse_parts(std::string_view message, const PartLimits& limits = {});

// The file entry with this path (a folder has no bytes), or nullptr.
const PartEntry* find_file(const PartTree& tree, const PartPath& path);

// The decoded bytes of a file entry of a tree parsed from this same message; no re-parse.
// Malformed encoded bytes decode best-effort (GMime skips what is not base64, etc.), and the
// result always has exactly file.decoded_size bytes.
std::string decode_part(std::string_view message, const PartEntry& file);
// The same, handed out in pieces of at most 64 KiB, so a large part need not be held whole.
void decode_part(std::string_view message, const PartEntry& file,
                 const std::function<void(std::string_view)>& sink);
// Parses again, then decodes the file with this path; nullopt if there is none.
std::optional<std::string> decode_part(std::string_view message, const PartPath& path,
                                       const PartLimits& limits = {});

}  // namespace popfs::mime
