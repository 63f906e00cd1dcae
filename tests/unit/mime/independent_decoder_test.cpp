// Every part's decoded bytes, name and type equal what an independent decoder, Python's
// email package, makes of the same message. The corpus (attachments as base64 PDF-like
// bytes, quoted-printable text, RFC 2231 and RFC 2047 file names, a multipart/mixed inside
// a multipart/alternative, forwarded message/rfc822 parts, 8bit, uuencode, a 1 MiB binary)
// is built by Python's email package too: tests/unit/mime/independent_mime.py.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "popfs/mime/part_tree.hpp"
#include "popfs/mime/header_decode.hpp"
#include "popfs_test/process.hpp"
#include "popfs_test/temp_dir.hpp"
#include "tree_checks.hpp"

namespace {

namespace fs = std::filesystem;
using popfs::mime::decode_part;
using popfs::mime::parse_parts;
using popfs::mime::PartEntry;
using popfs::mime::test::list_files;
using popfs::mime::test::tree_problems;

const fs::path kScript = fs::path(POPFS_MIME_TEST_DIR) / "independent_mime.py";

struct PythonPart {
  std::string filename;  // empty: none
  bool has_filename = false;
  std::string content_type;
  std::string bytes;
};

std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return out;
}

// path -> part, from msgN.parts.
std::map<std::string, PythonPart> python_parts(const fs::path& dir, const std::string& stem) {
  std::map<std::string, PythonPart> parts;
  std::ifstream manifest(dir / (stem + ".parts"));
  std::string line;
  while (std::getline(manifest, line)) {
    std::istringstream fields(line);
    std::string path, hexname, type, bytes_file;
    std::getline(fields, path, '\t');
    std::getline(fields, hexname, '\t');
    std::getline(fields, type, '\t');
    std::getline(fields, bytes_file, '\t');
    PythonPart part;
    part.has_filename = hexname != "-";
    if (part.has_filename) part.filename = from_hex(hexname);
    part.content_type = type;
    part.bytes = popfs::test::read_file(dir / bytes_file);
    parts[path] = std::move(part);
  }
  return parts;
}

void run_python(const std::string& mode, const fs::path& dir) {
  const auto result = popfs::test::run_command({"python3", kScript.string(), mode, dir.string()});
  ASSERT_EQ(result.exit_code, 0) << mode << ": " << result.output;
}

TEST(IndependentDecoder, EveryPartDecodesAsPythonDecodesIt) {
  popfs::test::TempDir dir("popfs-mime-");
  ASSERT_NO_FATAL_FAILURE(run_python("generate", dir.path()));
  ASSERT_NO_FATAL_FAILURE(run_python("decode", dir.path()));

  std::size_t messages = 0;
  std::size_t compared = 0;
  std::size_t raw_messages = 0;
  for (int n = 1; fs::exists(dir / ("msg" + std::to_string(n) + ".eml")); ++n) {
    const std::string stem = "msg" + std::to_string(n);
    SCOPED_TRACE(stem);
    ++messages;
    const std::string message = popfs::test::read_file(dir / (stem + ".eml"));
    const auto expected = python_parts(dir.path(), stem);
    ASSERT_FALSE(expected.empty());

    const auto tree = parse_parts(message);
    EXPECT_EQ(tree_problems(tree), "");
    EXPECT_FALSE(tree.truncated);
    std::map<std::string, const PartEntry*> ours;
    for (const auto& file : list_files(tree)) {
      if (file.entry->raw_message) {
        ++raw_messages;
        continue;  // Python has no raw form of a forwarded message to compare with
      }
      ours[file.entry->path.to_string()] = file.entry;
    }
    ASSERT_EQ(ours.size(), expected.size());
    for (const auto& [path, part] : expected) {
      SCOPED_TRACE(path);
      ASSERT_EQ(ours.count(path), 1u);
      const PartEntry& entry = *ours.at(path);
      const std::string decoded = decode_part(message, entry);
      EXPECT_EQ(decoded.size(), part.bytes.size());
      EXPECT_TRUE(decoded == part.bytes) << "decoded bytes differ";
      EXPECT_EQ(entry.decoded_size, part.bytes.size());
      EXPECT_EQ(entry.content_type, part.content_type);
      if (part.has_filename) {
        EXPECT_EQ(entry.name, part.filename);
      }
      ++compared;
    }
    EXPECT_EQ(popfs::mime::decoded_header(message, "From"), "Sender <sender@example.org>");
  }
  EXPECT_EQ(messages, 5u);
  EXPECT_EQ(compared, 17u);
  EXPECT_EQ(raw_messages, 2u);
}

}  // namespace
