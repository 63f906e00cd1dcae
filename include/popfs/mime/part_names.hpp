#pragma once
// File names for MIME parts (doc/SEMANTICS.md, "MIME parts"): what a sender wrote, made
// safe to show as one directory entry, and unique within its folder.

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <string_view>

namespace popfs::mime {

inline constexpr std::size_t kMaxNameBytes = 255;  // NAME_MAX

// A name that stays in its folder and displays sanely:
// - invalid UTF-8 is repaired (each bad byte becomes U+FFFD);
// - '/', NUL, other C0 controls, DEL and C1 controls (U+0080..U+009F) become '_';
// - leading and trailing spaces are trimmed; each leading '.' becomes '_' (no hidden names,
//   no "." or "..");
// - at most kMaxNameBytes bytes, cut on a character boundary, keeping an extension of up
//   to 16 bytes ("long...name.pdf" stays a .pdf).
// Returns an empty string when nothing usable is left (empty, only dots or
// spaces); the caller then uses a generated name.
std::string sanitize_part_name(std::string_view raw);

// "part-1.2" + the extension for the content type: ".txt", ".html", ".pdf", ... ".bin".
std::string generated_part_name(std::string_view path, std::string_view content_type);

// Extension (with the dot) for a lower-case "type/subtype"; ".bin" when none is known,
// ".txt" for any other text/* and for multipart/* (listed as a file only when GMime found no
// parts in it).
std::string_view extension_for_type(std::string_view content_type);

// Hands out names unique within one folder, in the order asked: the first "a.txt" stays
// "a.txt", the next become "a~2.txt", "a~3.txt" ... (suffix before the last extension,
// stem shortened so the name stays within kMaxNameBytes). Names are compared byte for byte.
class UniqueNames {
 public:
  // `name` must already be sanitised and non-empty.
  std::string claim(std::string_view name);
  // A stem S such that both S and S + suffix are free, e.g. a folder and its ".eml" file.
  std::string claim_pair(std::string_view stem, std::string_view suffix);
  bool taken(std::string_view name) const { return taken_.count(std::string(name)) != 0; }

 private:
  std::set<std::string, std::less<>> taken_;
  std::map<std::string, std::size_t, std::less<>> next_suffix_;  // per name asked for
};

}  // namespace popfs::mime
