// Malformed and hostile MIME: a best-effort listing, never a crash, bounded cost.
// (Time and memory are measured by scripts/bench-mime; here the bounds show as the guard
// cutting the input and the limits holding.)

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "message_text.hpp"
#include "popfs/mime/header_decode.hpp"
#include "popfs/mime/part_tree.hpp"
#include "tree_checks.hpp"

namespace {

using popfs::mime::decode_part;
using popfs::mime::parse_parts;
using popfs::mime::PartEntry;
using popfs::mime::PartLimits;
using popfs::mime::PartTree;
using popfs::mime::test::all_bytes;
using popfs::mime::test::base64_lines;
using popfs::mime::test::crlf;
using popfs::mime::test::list_files;
using popfs::mime::test::tree_problems;

// Names sane and unique, every file's range inside the message, every file decodes to its
// listed size. Returns the number of files.
std::size_t expect_sound(const std::string& message, const PartTree& tree) {
  EXPECT_EQ(tree_problems(tree), "");
  const auto files = list_files(tree);
  for (const auto& file : files) {
    const PartEntry& entry = *file.entry;
    EXPECT_LE(entry.content_offset + entry.content_length, message.size()) << file.location;
    EXPECT_EQ(decode_part(message, entry).size(), entry.decoded_size) << file.location;
  }
  return files.size();
}

std::size_t max_depth_of(const std::vector<PartEntry>& entries) {
  std::size_t deepest = 0;
  for (const auto& entry : entries) {
    deepest = std::max(deepest, 1 + max_depth_of(entry.children));
  }
  return deepest;
}

TEST(MalformedMime, MultipartWithoutBoundaryParameter) {
  const std::string message = crlf(
      "Subject: x\nContent-Type: multipart/mixed\n\n--x\nContent-Type: text/plain\n\nhi\n--x--\n");
  const PartTree tree = parse_parts(message);
  // GMime finds no parts; the body is still offered, as it is, in one file.
  ASSERT_EQ(expect_sound(message, tree), 1u);
  EXPECT_EQ(tree.entries[0].name, "part-1.txt");
  EXPECT_EQ(decode_part(message, tree.entries[0]),
            crlf("--x\nContent-Type: text/plain\n\nhi\n--x--\n"));
}

TEST(MalformedMime, BoundaryThatNeverAppears) {
  const std::string message = crlf(
      "Content-Type: multipart/mixed; boundary=declared\n\n"
      "--other\nContent-Type: text/plain\n\nhi\n--other--\n");
  expect_sound(message, parse_parts(message));
}

TEST(MalformedMime, BoundaryThatNeverEnds) {
  const std::string message = crlf(
      "Content-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Type: text/plain\n\nfirst\n"
      "--b\nContent-Type: text/plain; name=last.txt\n\nlast part\nand more\n");
  const PartTree tree = parse_parts(message);
  ASSERT_EQ(expect_sound(message, tree), 2u);
  const auto files = list_files(tree);
  EXPECT_EQ(files[1].location, "last.txt");
  EXPECT_EQ(decode_part(message, *files[1].entry).substr(0, 19), "last part\r\nand more");
}

TEST(MalformedMime, BadBase64) {
  const std::string message = crlf(
      "Content-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Type: application/pdf; name=a.pdf\nContent-Transfer-Encoding: base64\n\n"
      "!!!!@@@@ ### not base64 at all ===\n\x01\x02\xFF\xFE\naGVsbG8=\n=====\nQQ\n"
      "--b\nContent-Type: image/png; name=b.png\nContent-Transfer-Encoding: base64\n\n"
      "A\n--b--\n");
  EXPECT_EQ(expect_sound(message, parse_parts(message)), 2u);
}

TEST(MalformedMime, BadQuotedPrintableAndUuencode) {
  const std::string message = crlf(
      "Content-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n"
      "=ZZ =4 trailing= \n=\n=0\n"
      "--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: x-uuencode\n\n"
      "begin 644 x\nM\xFF\xFE garbage\nend\n--b\nContent-Transfer-Encoding: x-uuencode\n\nno begin\n"
      "--b--\n");
  EXPECT_EQ(expect_sound(message, parse_parts(message)), 3u);
}

TEST(MalformedMime, EveryPrefixOfAMessage) {
  const std::string message =
      crlf("Subject: t\nContent-Type: multipart/mixed; boundary=\"o\"\n\n"
           "--o\nContent-Type: multipart/alternative; boundary=a\n\n"
           "--a\nContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n"
           "caf=C3=A9 soft=\nbreak\n--a\nContent-Type: text/html\n\n<b>x</b>\n--a--\n"
           "--o\nContent-Type: message/rfc822\n\nSubject: in\n\ninner\n"
           "--o\nContent-Type: application/pdf; name*=UTF-8''%C3%A9.pdf\n"
           "Content-Transfer-Encoding: base64\n\n") +
      base64_lines(all_bytes(400)) + crlf("--o--\n");
  for (std::size_t cut = 0; cut <= message.size(); cut += 3) {
    const std::string prefix = message.substr(0, cut);
    expect_sound(prefix, parse_parts(prefix));
  }
}

TEST(MalformedMime, MegabyteHeaderAndFilename) {
  std::string subject = "Subject: " + std::string(1024 * 1024, 's');
  const std::string message =
      crlf(subject + "\nContent-Type: multipart/mixed; boundary=b\n\n"
           "--b\nContent-Type: text/plain\nContent-Disposition: attachment; filename=\"" +
           std::string(1024 * 1024, 'f') + ".txt\"\n\nbody\n--b--\n");
  const PartTree tree = parse_parts(message);
  ASSERT_EQ(expect_sound(message, tree), 1u);
  EXPECT_EQ(tree.entries[0].name, std::string(251, 'f') + ".txt");
  EXPECT_EQ(decode_part(message, tree.entries[0]), "body");
  const auto decoded = popfs::mime::decoded_header(message, "Subject");
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->size(), 1024u * 1024u);
}

TEST(MalformedMime, TenThousandNestedMultiparts) {
  std::string message = "Subject: deep\n";
  for (int i = 0; i < 10000; ++i) {
    message += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\n\n--b" +
               std::to_string(i) + "\n";
  }
  message += "Content-Type: text/plain\n\ndeepest\n";
  message = crlf(message);
  const PartTree tree = parse_parts(message);
  expect_sound(message, tree);
  EXPECT_LE(max_depth_of(tree.entries), PartLimits{}.max_depth);
  EXPECT_GE(tree.omitted, 1u);
  EXPECT_TRUE(tree.truncated);  // GMime itself stops at 1024 levels
}

TEST(MalformedMime, TenThousandNestedForwardedMessages) {
  std::string message;
  for (int i = 0; i < 10000; ++i) message += "Subject: " + std::to_string(i) + "\nContent-Type: message/rfc822\n\n";
  message += "Subject: last\n\nbody\n";
  message = crlf(message);
  const PartTree tree = parse_parts(message);
  expect_sound(message, tree);
  EXPECT_LE(max_depth_of(tree.entries), PartLimits{}.max_depth);
  EXPECT_GE(tree.omitted, 1u);
}

TEST(MalformedMime, AMillionTinyPartsAreCut) {
  std::string message = "Content-Type: multipart/mixed; boundary=b\r\n\r\n";
  for (int i = 0; i < 1000000; ++i) message += "--b\r\n\r\n";
  const PartTree tree = parse_parts(message);
  EXPECT_TRUE(tree.truncated);
  EXPECT_LE(expect_sound(message, tree), PartLimits{}.max_boundary_lines);
  EXPECT_GE(list_files(tree).size(), PartLimits{}.max_boundary_lines - 1);
}

TEST(MalformedMime, TwoMillionTinyHeadersAreCut) {
  std::string message;
  for (int i = 0; i < 2000000; ++i) message += "a:b\r\n";
  message += "\r\nbody\r\n";
  const PartTree tree = parse_parts(message);
  EXPECT_TRUE(tree.truncated);
  expect_sound(message, tree);
}

TEST(MalformedMime, DashLinesUnderDeepNestingAreCut) {
  std::string message;
  for (int i = 0; i < 1000; ++i) {
    message += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" +
               std::to_string(i) + "\r\n";
  }
  message += "Content-Type: text/plain\r\n\r\n";
  for (int i = 0; i < 1000000; ++i) message += "--x\r\n";
  const PartTree tree = parse_parts(message);
  EXPECT_TRUE(tree.truncated);
  expect_sound(message, tree);
}

TEST(MalformedMime, GarbageBytes) {
  std::uint32_t state = 12345;
  for (int round = 0; round < 200; ++round) {
    std::string bytes(static_cast<std::size_t>(round * 37), '\0');
    for (char& c : bytes) {
      state = state * 1103515245u + 12345u;
      const auto r = static_cast<unsigned>(state >> 16);
      // Mostly MIME-ish characters so that the parser gets somewhere.
      static constexpr char kAlphabet[] = "-\r\n:;=\"ab boundary Content-Type multipart/ ";
      c = (r % 5 == 0) ? static_cast<char>(r & 0xFF) : kAlphabet[r % (sizeof(kAlphabet) - 1)];
    }
    expect_sound(bytes, parse_parts(bytes));
  }
  expect_sound("", parse_parts(""));
  expect_sound("\n", parse_parts("\n"));
  expect_sound(std::string(100, '\0'), parse_parts(std::string(100, '\0')));
}

TEST(InputGuard, OrdinaryMessagesWithManyDashAndColonLinesAreNotCut) {
  // A SQL dump with "-- " comments and a log with "Key: value" lines, attached as text,
  // then a binary attachment: far more such lines than the guard allows for parts and
  // headers, none of them a boundary or in a header block.
  std::string sql;
  for (int i = 0; i < 50000; ++i) sql += "-- comment " + std::to_string(i) + "\nSELECT 1;\n";
  std::string log;
  for (int i = 0; i < 50000; ++i) log += "Key-" + std::to_string(i) + ": value\n";
  const std::string binary = all_bytes(100000);
  const std::string message =
      crlf("Subject: dump\nContent-Type: multipart/mixed; boundary=\"=_sep_=\"\n\n"
           "--=_sep_=\nContent-Type: text/plain; name=dump.sql\n\n" + sql +
           "--=_sep_=\nContent-Type: text/plain; name=app.log\n\n" + log +
           "--=_sep_=\nContent-Type: application/zip; name=data.zip\n"
           "Content-Transfer-Encoding: base64\n\n") +
      base64_lines(binary) + crlf("--=_sep_=--\n");
  const PartTree tree = parse_parts(message);
  EXPECT_FALSE(tree.truncated);
  ASSERT_EQ(expect_sound(message, tree), 3u);
  const auto files = list_files(tree);
  EXPECT_EQ(decode_part(message, *files[0].entry), crlf(sql).substr(0, crlf(sql).size() - 2));
  EXPECT_EQ(decode_part(message, *files[1].entry), crlf(log).substr(0, crlf(log).size() - 2));
  EXPECT_EQ(decode_part(message, *files[2].entry), binary);
}

TEST(PartLimitsTest, EntryAndDepthLimitsAreHonoured) {
  std::string parts;
  for (int i = 0; i < 10; ++i) parts += "--b\nContent-Type: text/plain\n\n" + std::to_string(i) + "\n";
  const std::string message = crlf("Content-Type: multipart/mixed; boundary=b\n\n" + parts + "--b--\n");
  PartLimits limits;
  limits.max_entries = 3;
  const PartTree tree = parse_parts(message, limits);
  EXPECT_EQ(list_files(tree).size(), 3u);
  EXPECT_EQ(tree.omitted, 7u);

  const std::string nested = crlf(
      "Content-Type: multipart/mixed; boundary=a\n\n--a\n"
      "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
      "Content-Type: multipart/mixed; boundary=c\n\n--c\nContent-Type: text/plain\n\ndeep\n"
      "--c--\n--b--\n--a\nContent-Type: text/plain\n\nshallow\n--a--\n");
  limits = PartLimits{};
  limits.max_depth = 2;
  const PartTree shallow = parse_parts(nested, limits);
  EXPECT_EQ(max_depth_of(shallow.entries), 2u);  // part-1/part-1.1/ is listed, empty
  EXPECT_EQ(shallow.omitted, 1u);
  ASSERT_EQ(list_files(shallow).size(), 1u);
  EXPECT_EQ(decode_part(nested, *list_files(shallow)[0].entry), "shallow");
}

}  // namespace
