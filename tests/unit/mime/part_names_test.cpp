// Names of MIME parts: sanitising, generated names, uniqueness within a folder.

#include "popfs/mime/part_names.hpp"

#include <gtest/gtest.h>

#include <string>

#include "tree_checks.hpp"

namespace {

using popfs::mime::extension_for_type;
using popfs::mime::generated_part_name;
using popfs::mime::kMaxNameBytes;
using popfs::mime::sanitize_part_name;
using popfs::mime::UniqueNames;
using popfs::mime::test::is_sanitised;

TEST(SanitizePartName, KeepsAnOrdinaryName) {
  EXPECT_EQ(sanitize_part_name("report 2024.pdf"), "report 2024.pdf");
  EXPECT_EQ(sanitize_part_name("r\xC3\xA9sum\xC3\xA9.pdf"), "r\xC3\xA9sum\xC3\xA9.pdf");
}

TEST(SanitizePartName, PathsCannotLeaveTheFolder) {
  EXPECT_EQ(sanitize_part_name("../../etc/passwd"), "___.._etc_passwd");
  EXPECT_EQ(sanitize_part_name("a/b"), "a_b");
  EXPECT_EQ(sanitize_part_name("/"), "_");
}

TEST(SanitizePartName, EmptyDotsAndSpacesLeaveNothing) {
  EXPECT_EQ(sanitize_part_name(""), "");
  EXPECT_EQ(sanitize_part_name("."), "");
  EXPECT_EQ(sanitize_part_name(".."), "");
  EXPECT_EQ(sanitize_part_name(" . .. "), "");
  EXPECT_EQ(sanitize_part_name("   "), "");
}

TEST(SanitizePartName, LeadingDotsAreNotHidden) {
  EXPECT_EQ(sanitize_part_name(".bashrc"), "_bashrc");
  EXPECT_EQ(sanitize_part_name("...x"), "___x");
  EXPECT_EQ(sanitize_part_name("a.b.c"), "a.b.c");
}

TEST(SanitizePartName, ControlBytesAndNulAreReplaced) {
  EXPECT_EQ(sanitize_part_name(std::string("a\0b", 3)), "a_b");
  EXPECT_EQ(sanitize_part_name("a\x01\tb\r\n\x7F.txt"), "a__b___.txt");
  // C1 controls (U+0085 NEL, U+009B CSI) are replaced too; U+00A0 and above are kept.
  EXPECT_EQ(sanitize_part_name("x\xC2\x85y\xC2\x9Bz\xC2\xA0"), "x_y_z\xC2\xA0");
}

TEST(SanitizePartName, InvalidUtf8IsRepaired) {
  const std::string name = sanitize_part_name("caf\xE9 \xFF\xFE.txt");  // Latin-1 bytes
  EXPECT_EQ(name, "caf\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD.txt");       // U+FFFD each
  EXPECT_TRUE(is_sanitised(name));
  // A truncated sequence at the end: each of its bytes.
  EXPECT_EQ(sanitize_part_name("ab\xE2\x82"), "ab\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(SanitizePartName, LongNamesAreCutKeepingTheExtension) {
  const std::string name = sanitize_part_name(std::string(300, 'a') + ".pdf");
  EXPECT_EQ(name.size(), kMaxNameBytes);
  EXPECT_EQ(name, std::string(kMaxNameBytes - 4, 'a') + ".pdf");

  EXPECT_EQ(sanitize_part_name(std::string(300, 'b')), std::string(kMaxNameBytes, 'b'));
}

TEST(SanitizePartName, LongNamesAreCutOnACharacterBoundary) {
  std::string raw;
  for (int i = 0; i < 150; ++i) raw += "\xC3\xA9";  // 300 bytes of two-byte characters
  const std::string name = sanitize_part_name(raw);
  EXPECT_EQ(name.size(), 254u);  // 255 would split a character
  EXPECT_TRUE(is_sanitised(name));

  std::string with_ext;
  for (int i = 0; i < 100; ++i) with_ext += "\xE2\x82\xAC";  // 300 bytes of euro signs
  with_ext += ".txt";
  const std::string cut = sanitize_part_name(with_ext);
  EXPECT_LE(cut.size(), kMaxNameBytes);
  EXPECT_EQ(cut.substr(cut.size() - 4), ".txt");
  EXPECT_TRUE(is_sanitised(cut));
}

TEST(GeneratedPartName, ExtensionFollowsTheContentType) {
  EXPECT_EQ(generated_part_name("1.2", "text/plain"), "part-1.2.txt");
  EXPECT_EQ(generated_part_name("3", "text/html"), "part-3.html");
  EXPECT_EQ(generated_part_name("2", "application/pdf"), "part-2.pdf");
  EXPECT_EQ(generated_part_name("2", "application/x-unheard-of"), "part-2.bin");
  EXPECT_EQ(extension_for_type("text/x-unheard-of"), ".txt");
  EXPECT_EQ(extension_for_type("image/jpeg"), ".jpg");
}

TEST(UniqueNames, TwinsGetNumberedBeforeTheExtension) {
  UniqueNames names;
  EXPECT_EQ(names.claim("a.txt"), "a.txt");
  EXPECT_EQ(names.claim("a.txt"), "a~2.txt");
  EXPECT_EQ(names.claim("a.txt"), "a~3.txt");
  EXPECT_EQ(names.claim("b"), "b");
  EXPECT_EQ(names.claim("b"), "b~2");
  EXPECT_EQ(names.claim("archive.tar.gz"), "archive.tar.gz");
  EXPECT_EQ(names.claim("archive.tar.gz"), "archive.tar~2.gz");
}

TEST(UniqueNames, ASuffixAlreadyTakenIsSkipped) {
  UniqueNames names;
  EXPECT_EQ(names.claim("a~2.txt"), "a~2.txt");
  EXPECT_EQ(names.claim("a.txt"), "a.txt");
  EXPECT_EQ(names.claim("a.txt"), "a~3.txt");
  EXPECT_EQ(names.claim("a~2.txt"), "a~2~2.txt");
}

TEST(UniqueNames, SuffixedLongNamesStayWithinTheLimit) {
  UniqueNames names;
  const std::string long_name = std::string(kMaxNameBytes - 4, 'x') + ".pdf";
  EXPECT_EQ(names.claim(long_name), long_name);
  const std::string second = names.claim(long_name);
  EXPECT_EQ(second.size(), kMaxNameBytes);
  EXPECT_EQ(second, std::string(kMaxNameBytes - 6, 'x') + "~2.pdf");
}

TEST(UniqueNames, ManyTwinsAreCheap) {
  UniqueNames names;
  std::string last;
  for (int i = 0; i < 20000; ++i) last = names.claim("same.bin");
  EXPECT_EQ(last, "same~20000.bin");
}

TEST(UniqueNames, PairsKeepAFolderAndItsFileTogether) {
  UniqueNames names;
  EXPECT_EQ(names.claim("mail.eml"), "mail.eml");
  // "mail" is free but "mail.eml" is not: both must be free.
  EXPECT_EQ(names.claim_pair("mail", ".eml"), "mail~2");
  EXPECT_TRUE(names.taken("mail~2.eml"));
  EXPECT_EQ(names.claim_pair("other", ".eml"), "other");
  EXPECT_EQ(names.claim("other.eml"), "other~2.eml");
}

}  // namespace
