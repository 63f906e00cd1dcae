// parse_parts / decode_part on hand-written messages: names, layout, paths, decoding.

#include "popfs/mime/part_tree.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "message_text.hpp"
#include "tree_checks.hpp"

namespace {

using popfs::mime::decode_part;
using popfs::mime::find_file;
using popfs::mime::parse_parts;
using popfs::mime::PartEntry;
using popfs::mime::PartPath;
using popfs::mime::PartTree;
using popfs::mime::TransferEncoding;
using popfs::mime::test::all_bytes;
using popfs::mime::test::base64_lines;
using popfs::mime::test::crlf;
using popfs::mime::test::list_files;
using popfs::mime::test::tree_problems;
using testing::ElementsAre;

// location ("folder/name") -> entry, for every file of the tree.
std::map<std::string, const PartEntry*> files_of(const PartTree& tree) {
  std::map<std::string, const PartEntry*> out;
  for (const auto& file : list_files(tree)) out[file.location] = file.entry;
  return out;
}

std::vector<std::string> locations(const PartTree& tree) {
  std::vector<std::string> out;
  for (const auto& file : list_files(tree)) out.push_back(file.location);
  return out;
}

// A multipart/mixed message with the given parts (each: headers, blank line, body).
std::string mixed(const std::vector<std::string>& parts) {
  std::string m = "From: a@example.org\nSubject: test\nMIME-Version: 1.0\n"
                  "Content-Type: multipart/mixed; boundary=\"XX\"\n\npreamble\n";
  for (const auto& part : parts) m += "--XX\n" + part + "\n";
  m += "--XX--\nepilogue\n";
  return crlf(m);
}

std::string name_of_single_attachment(const std::string& disposition_and_type) {
  const PartTree tree =
      parse_parts(mixed({"Content-Type: text/plain\n\nbody", disposition_and_type + "\n\nx"}));
  EXPECT_EQ(tree_problems(tree), "");
  const auto files = list_files(tree);
  EXPECT_EQ(files.size(), 2u);
  return files.size() == 2 ? files[1].entry->name : std::string();
}

TEST(PartPath, PrintsAndParsesSectionNumbers) {
  EXPECT_EQ((PartPath{{1, 2, 1}}).to_string(), "1.2.1");
  EXPECT_EQ(PartPath::parse("1.2.1"), (PartPath{{1, 2, 1}}));
  EXPECT_EQ(PartPath::parse("7"), (PartPath{{7}}));
  for (const char* bad : {"", ".", "1.", ".1", "1..2", "0", "1.01", "a", "1.-2", "99999999999"}) {
    EXPECT_FALSE(PartPath::parse(bad).has_value()) << bad;
  }
}

TEST(PartNamesFromHeaders, ContentDispositionFilename) {
  EXPECT_EQ(name_of_single_attachment("Content-Type: application/pdf\n"
                                      "Content-Disposition: attachment; filename=\"report.pdf\""),
            "report.pdf");
}

TEST(PartNamesFromHeaders, FilenameWinsOverContentTypeName) {
  EXPECT_EQ(name_of_single_attachment("Content-Type: application/pdf; name=\"type-name.pdf\"\n"
                                      "Content-Disposition: attachment; filename=\"disp.pdf\""),
            "disp.pdf");
  EXPECT_EQ(name_of_single_attachment("Content-Type: application/pdf; name=\"only-type.pdf\""),
            "only-type.pdf");
}

TEST(PartNamesFromHeaders, Rfc2231ExtendedValue) {
  EXPECT_EQ(name_of_single_attachment(
                "Content-Type: application/pdf\n"
                "Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"),
            "r\xC3\xA9sum\xC3\xA9.pdf");
  EXPECT_EQ(name_of_single_attachment("Content-Type: text/plain\n"
                                      "Content-Disposition: attachment;\n"
                                      " filename*=iso-8859-1'fr'caf%E9.txt"),
            "caf\xC3\xA9.txt");
}

TEST(PartNamesFromHeaders, Rfc2231Continuations) {
  EXPECT_EQ(name_of_single_attachment("Content-Type: text/plain\n"
                                      "Content-Disposition: attachment;\n"
                                      " filename*0*=UTF-8''Gr%C3%BC;\n"
                                      " filename*1*=%C3%9Fe%20aus;\n"
                                      " filename*2=\" Berlin.txt\""),
            "Gr\xC3\xBC\xC3\x9F" "e aus Berlin.txt");
}

TEST(PartNamesFromHeaders, Rfc2047EncodedWords) {
  EXPECT_EQ(name_of_single_attachment("Content-Type: image/jpeg\n"
                                      "Content-Disposition: attachment;\n"
                                      " filename=\"=?UTF-8?B?w6l0w6kuanBn?=\""),
            "\xC3\xA9t\xC3\xA9.jpg");
  EXPECT_EQ(name_of_single_attachment("Content-Type: text/plain; name=\"=?iso-8859-1?Q?na=EFve.txt?=\""),
            "na\xC3\xAFve.txt");
}

TEST(PartNamesFromHeaders, HostileNamesAreSanitised) {
  EXPECT_EQ(name_of_single_attachment("Content-Type: text/plain\n"
                                      "Content-Disposition: attachment; filename=\"../../etc/passwd\""),
            "___.._etc_passwd");
  EXPECT_EQ(name_of_single_attachment("Content-Type: text/plain\n"
                                      "Content-Disposition: attachment; filename=\"a/b\""),
            "a_b");
  // Control bytes smuggled in through an encoded word.
  const std::string controls = name_of_single_attachment(
      "Content-Type: text/plain\n"
      "Content-Disposition: attachment; filename=\"=?UTF-8?Q?x=01y=0Az=7F.txt?=\"");
  EXPECT_EQ(controls, "x_y_z_.txt");
  // Undeclared 8-bit bytes that are not UTF-8 are read as windows-1252.
  EXPECT_EQ(name_of_single_attachment(
                "Content-Type: text/plain\nContent-Disposition: attachment; filename=\"caf\xE9.txt\""),
            "caf\xC3\xA9.txt");
}

TEST(PartNamesFromHeaders, EmptyDotAndDotDotGetGeneratedNames) {
  EXPECT_EQ(name_of_single_attachment("Content-Type: text/html\n"
                                      "Content-Disposition: attachment; filename=\"\""),
            "part-2.html");
  EXPECT_EQ(name_of_single_attachment("Content-Type: application/pdf\n"
                                      "Content-Disposition: attachment; filename=\".\""),
            "part-2.pdf");
  EXPECT_EQ(name_of_single_attachment("Content-Type: application/x-thing\n"
                                      "Content-Disposition: attachment; filename=\"..\""),
            "part-2.bin");
}

TEST(PartNamesFromHeaders, LongNamesAreBounded) {
  const std::string name = name_of_single_attachment(
      "Content-Type: application/pdf\nContent-Disposition: attachment; filename=\"" +
      std::string(300, 'n') + ".pdf\"");
  EXPECT_EQ(name, std::string(251, 'n') + ".pdf");
}

TEST(PartNamesFromHeaders, NamesAreUniqueWithinTheirFolder) {
  const std::string message = mixed({
      "Content-Type: text/plain; name=\"a.txt\"\n\none",
      "Content-Type: text/plain; name=\"a.txt\"\n\ntwo",
      "Content-Type: text/plain\n\nthree",
      "Content-Type: text/plain; name=\"part-3.txt\"\n\nfour",
  });
  const PartTree tree = parse_parts(message);
  EXPECT_EQ(tree_problems(tree), "");
  EXPECT_THAT(locations(tree), ElementsAre("a.txt", "a~2.txt", "part-3.txt", "part-3~2.txt"));
  EXPECT_EQ(decode_part(message, *files_of(tree).at("a~2.txt")), "two");
  EXPECT_EQ(decode_part(message, *files_of(tree).at("part-3~2.txt")), "four");
}

TEST(PartLayout, SinglePartMessageIsOneFile) {
  const std::string message = crlf("Subject: hi\n\nhello\n");
  const PartTree tree = parse_parts(message);
  ASSERT_EQ(tree.entries.size(), 1u);
  const PartEntry& body = tree.entries[0];
  EXPECT_EQ(body.name, "part-1.txt");  // GMime's default type is text/plain
  EXPECT_EQ(body.path, (PartPath{{1}}));
  EXPECT_EQ(body.content_type, "text/plain");
  EXPECT_EQ(decode_part(message, body), "hello\r\n");
  EXPECT_EQ(body.decoded_size, 7u);
}

TEST(PartLayout, NestedMixedInsideAlternative) {
  const std::string png = all_bytes(300);
  const std::string message = crlf(
      "Subject: nested\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=outer\n\n"
      "--outer\nContent-Type: multipart/alternative; boundary=alt\n\n"
      "--alt\nContent-Type: text/plain\n\nplain text\n"
      "--alt\nContent-Type: multipart/mixed; boundary=inner\n\n"
      "--inner\nContent-Type: text/html\n\n<p>html</p>\n"
      "--inner\nContent-Type: image/png; name=logo.png\nContent-Transfer-Encoding: base64\n\n") +
      base64_lines(png) +
      crlf("--inner--\n--alt--\n"
           "--outer\nContent-Type: application/pdf\nContent-Disposition: attachment; "
           "filename=doc.pdf\n\n%PDF\n--outer--\n");
  const PartTree tree = parse_parts(message);
  EXPECT_EQ(tree_problems(tree), "");
  EXPECT_FALSE(tree.truncated);
  EXPECT_THAT(locations(tree), ElementsAre("part-1/part-1.1.txt", "part-1/part-1.2/part-1.2.1.html",
                                           "part-1/part-1.2/logo.png", "doc.pdf"));
  const auto files = files_of(tree);
  EXPECT_EQ(files.at("part-1/part-1.2/logo.png")->path, (PartPath{{1, 2, 2}}));
  EXPECT_EQ(files.at("doc.pdf")->path, (PartPath{{2}}));
  EXPECT_EQ(decode_part(message, *files.at("part-1/part-1.1.txt")), "plain text");
  EXPECT_EQ(decode_part(message, *files.at("part-1/part-1.2/part-1.2.1.html")), "<p>html</p>");
  EXPECT_EQ(decode_part(message, *files.at("part-1/part-1.2/logo.png")), png);
  EXPECT_EQ(files.at("part-1/part-1.2/logo.png")->decoded_size, png.size());
  EXPECT_EQ(files.at("part-1/part-1.2/logo.png")->encoding, TransferEncoding::base64);
  EXPECT_EQ(decode_part(message, *files.at("doc.pdf")), "%PDF");
  ASSERT_EQ(tree.entries[0].kind, PartEntry::Kind::folder);
  EXPECT_EQ(tree.entries[0].path, (PartPath{{1}}));
}

const std::string kInnerMessage = crlf(
    "From: inner@example.org\nSubject: the forwarded one\nMIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=in\n\n"
    "--in\nContent-Type: text/plain\n\ninner body\n"
    "--in\nContent-Type: text/plain; name=inner.txt\nContent-Transfer-Encoding: base64\n\n"
    "aW5uZXIgYXR0YWNobWVudA==\n--in--\n");

TEST(PartLayout, ForwardedMessageIsAFolderAndARawFile) {
  const std::string message =
      crlf("Subject: fwd\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=out\n\n"
           "--out\nContent-Type: text/plain\n\nsee below\n"
           "--out\nContent-Type: message/rfc822\nContent-Disposition: inline\n\n") +
      kInnerMessage + crlf("\n--out--\n");
  const PartTree tree = parse_parts(message);
  EXPECT_EQ(tree_problems(tree), "");
  EXPECT_THAT(locations(tree), ElementsAre("part-1.txt", "part-2/part-2.1.txt",
                                           "part-2/inner.txt", "part-2.eml"));
  const auto files = files_of(tree);
  const PartEntry& raw = *files.at("part-2.eml");
  EXPECT_TRUE(raw.raw_message);
  EXPECT_EQ(raw.path, (PartPath{{2}}));
  EXPECT_EQ(raw.content_type, "message/rfc822");
  // The forwarded message exactly as it was attached; the CRLF before "--out--" belongs to
  // the boundary.
  EXPECT_EQ(decode_part(message, raw), kInnerMessage);
  EXPECT_EQ(raw.decoded_size, kInnerMessage.size());
  EXPECT_EQ(files.at("part-2/inner.txt")->path, (PartPath{{2, 2}}));
  EXPECT_EQ(decode_part(message, *files.at("part-2/inner.txt")), "inner attachment");
  EXPECT_EQ(decode_part(message, *files.at("part-2/part-2.1.txt")), "inner body");
  // The path of the forwarded message names its raw file.
  EXPECT_EQ(find_file(tree, PartPath{{2}}), &raw);
  EXPECT_EQ(decode_part(message, PartPath{{2}}), kInnerMessage);
}

TEST(PartLayout, ForwardedMessageNamedByItsFilename) {
  const std::string message =
      crlf("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=out\n\n"
           "--out\nContent-Type: message/rfc822; name=\"Meeting.EML\"\n\n"
           "Subject: s\n\nsingle part body\n--out--\n");
  const PartTree tree = parse_parts(message);
  EXPECT_THAT(locations(tree), ElementsAre("Meeting/part-1.1.txt", "Meeting.eml"));
  const auto files = files_of(tree);
  EXPECT_EQ(files.at("Meeting/part-1.1.txt")->path, (PartPath{{1, 1}}));
  EXPECT_EQ(decode_part(message, *files.at("Meeting/part-1.1.txt")), "single part body");
  EXPECT_EQ(decode_part(message, *files.at("Meeting.eml")), crlf("Subject: s\n\nsingle part body"));
}

TEST(PartLayout, MessageThatIsAForwardedMessage) {
  const std::string message = crlf("Subject: outer\nContent-Type: message/rfc822\n\n") +
                              kInnerMessage;
  const PartTree tree = parse_parts(message);
  EXPECT_THAT(locations(tree), ElementsAre("part-1/part-1.1.txt", "part-1/inner.txt",
                                           "part-1.eml"));
  EXPECT_EQ(decode_part(message, *files_of(tree).at("part-1.eml")), kInnerMessage);
  EXPECT_EQ(decode_part(message, PartPath{{1, 2}}), "inner attachment");
}

TEST(PartDecoding, Base64Body) {
  const std::string bytes = all_bytes(5000);
  const std::string message =
      crlf("Subject: b\nContent-Type: application/octet-stream\n"
           "Content-Transfer-Encoding: base64\n\n") + base64_lines(bytes);
  const PartTree tree = parse_parts(message);
  ASSERT_EQ(tree.entries.size(), 1u);
  EXPECT_EQ(tree.entries[0].name, "part-1.bin");
  EXPECT_EQ(tree.entries[0].decoded_size, bytes.size());
  EXPECT_EQ(decode_part(message, tree.entries[0]), bytes);
}

TEST(PartDecoding, QuotedPrintableBody) {
  const std::string message = crlf(
      "Subject: q\nContent-Type: text/plain; charset=utf-8\n"
      "Content-Transfer-Encoding: quoted-printable\n\n"
      "caf=C3=A9 a=3Db soft=\nly broken\nsecond line=20\nend");
  const PartTree tree = parse_parts(message);
  ASSERT_EQ(tree.entries.size(), 1u);
  // Hard line breaks stay CRLF (the transfer form of text); soft ones go.
  const std::string expected = "caf\xC3\xA9 a=b softly broken\r\nsecond line \r\nend";
  EXPECT_EQ(decode_part(message, tree.entries[0]), expected);
  EXPECT_EQ(tree.entries[0].decoded_size, expected.size());
  EXPECT_EQ(tree.entries[0].encoding, TransferEncoding::quoted_printable);
}

TEST(PartDecoding, UuencodedBody) {
  const std::string message = crlf(
      "Subject: u\nContent-Type: application/octet-stream; name=hello.txt\n"
      "Content-Transfer-Encoding: x-uuencode\n\n"
      "begin 644 hello.txt\n,:&5L;&\\@=V]R;&0*\n`\nend\n");
  const PartTree tree = parse_parts(message);
  ASSERT_EQ(tree.entries.size(), 1u);
  EXPECT_EQ(tree.entries[0].name, "hello.txt");
  EXPECT_EQ(decode_part(message, tree.entries[0]), "hello world\n");
  EXPECT_EQ(tree.entries[0].decoded_size, 12u);
}

TEST(PartDecoding, PiecesAddUpToTheWhole) {
  const std::string bytes = all_bytes(300 * 1024);
  const std::string message =
      crlf("Content-Type: application/zip\nContent-Transfer-Encoding: base64\n\n") +
      base64_lines(bytes);
  const PartTree tree = parse_parts(message);
  ASSERT_EQ(tree.entries.size(), 1u);
  std::string joined;
  std::size_t pieces = 0;
  decode_part(message, tree.entries[0], [&](std::string_view piece) {
    EXPECT_LE(piece.size(), 64u * 1024u + 16u);
    joined.append(piece);
    ++pieces;
  });
  EXPECT_GT(pieces, 1u);
  EXPECT_EQ(joined, bytes);
}

TEST(PartDecoding, ByPathParsesAgain) {
  const std::string message = mixed({"Content-Type: text/plain\n\nfirst",
                                     "Content-Type: text/plain\n\nsecond"});
  EXPECT_EQ(decode_part(message, PartPath{{2}}), "second");
  EXPECT_EQ(decode_part(message, PartPath{{3}}), std::nullopt);
  EXPECT_EQ(decode_part(message, PartPath{{1, 1}}), std::nullopt);
}

}  // namespace
