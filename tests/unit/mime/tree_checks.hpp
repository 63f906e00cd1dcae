#pragma once
// Invariants every PartTree must hold, whatever the message: shared by the unit tests and
// the fuzz target (fuzz/fuzz_mime_parts.cpp). Written without GLib so that it does not
// repeat the code under test's UTF-8 handling.

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "popfs/mime/part_names.hpp"
#include "popfs/mime/part_tree.hpp"

namespace popfs::mime::test {

// Well-formed UTF-8 (no overlong forms, surrogates or code points above U+10FFFF); fills
// `points` with the code points.
inline bool decode_utf8(std::string_view text, std::vector<std::uint32_t>& points) {
  points.clear();
  for (std::size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (b < 0x80) {
      n = 1;
      cp = b;
    } else if ((b & 0xE0) == 0xC0) {
      n = 2;
      cp = b & 0x1Fu;
    } else if ((b & 0xF0) == 0xE0) {
      n = 3;
      cp = b & 0x0Fu;
    } else if ((b & 0xF8) == 0xF0) {
      n = 4;
      cp = b & 0x07u;
    } else {
      return false;
    }
    if (i + n > text.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3Fu);
    }
    static constexpr std::uint32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinimum[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    points.push_back(cp);
    i += n;
  }
  return true;
}

// A name the sanitiser could have produced: one safe directory entry.
inline bool is_sanitised(std::string_view name) {
  std::vector<std::uint32_t> points;
  if (name.empty() || name.size() > kMaxNameBytes || !decode_utf8(name, points)) return false;
  if (name.front() == '.' || name.front() == ' ' || name.back() == ' ') return false;
  for (const std::uint32_t cp : points) {
    if (cp == '/' || cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) return false;
  }
  return true;
}

// Empty when the tree holds its invariants, else what is wrong (for a test message).
inline std::string tree_problems(const std::vector<PartEntry>& entries, const std::string& where) {
  std::string problems;
  std::set<std::string> seen;
  for (const PartEntry& entry : entries) {
    const std::string at = where + "/" + entry.name;
    if (!is_sanitised(entry.name)) problems += "not sanitised: " + at + "\n";
    if (!seen.insert(entry.name).second) problems += "duplicate: " + at + "\n";
    if (entry.path.indices.empty()) problems += "empty path: " + at + "\n";
    if (entry.kind == PartEntry::Kind::folder) {
      for (const PartEntry& child : entry.children) {
        const auto& own = entry.path.indices;
        const auto& sub = child.path.indices;
        if (sub.size() <= own.size() || !std::equal(own.begin(), own.end(), sub.begin())) {
          problems += "child path not below its folder: " + at + "/" + child.name + "\n";
        }
      }
      problems += tree_problems(entry.children, at);
    } else if (!entry.children.empty()) {
      problems += "file with children: " + at + "\n";
    }
  }
  return problems;
}

inline std::string tree_problems(const PartTree& tree) { return tree_problems(tree.entries, ""); }

// Every file entry, depth first, with its folder path ("a/b/name").
struct ListedFile {
  std::string location;
  const PartEntry* entry;
};
inline void list_files(const std::vector<PartEntry>& entries, const std::string& where,
                       std::vector<ListedFile>& out) {
  for (const PartEntry& entry : entries) {
    const std::string at = where.empty() ? entry.name : where + "/" + entry.name;
    if (entry.kind == PartEntry::Kind::file) {
      out.push_back({at, &entry});
    } else {
      list_files(entry.children, at, out);
    }
  }
}
inline std::vector<ListedFile> list_files(const PartTree& tree) {
  std::vector<ListedFile> out;
  list_files(tree.entries, "", out);
  return out;
}

}  // namespace popfs::mime::test
