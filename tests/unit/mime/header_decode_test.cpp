// decoded_header / decoded_date: the values behind user.mail.subject, user.mail.from.

#include "popfs/mime/header_decode.hpp"

#include <gtest/gtest.h>

#include <string>

#include "message_text.hpp"
#include "tree_checks.hpp"

namespace {

using popfs::mime::decoded_date;
using popfs::mime::decoded_header;
using popfs::mime::parse_date_value;
using popfs::mime::test::crlf;

std::optional<std::string> subject_of(const std::string& subject_line) {
  return decoded_header(crlf("From: a@example.org\n" + subject_line + "\nTo: b@example.org\n\n"),
                        "Subject");
}

TEST(DecodedHeader, PlainSubject) {
  EXPECT_EQ(subject_of("Subject: hello world"), "hello world");
}

TEST(DecodedHeader, EncodedWordsBase64AndQ) {
  EXPECT_EQ(subject_of("Subject: =?UTF-8?B?R3LDvMOfZQ==?="), "Gr\xC3\xBC\xC3\x9F" "e");
  EXPECT_EQ(subject_of("Subject: =?iso-8859-1?q?caf=E9_cr=E8me?="), "caf\xC3\xA9 cr\xC3\xA8me");
  EXPECT_EQ(subject_of("Subject: =?windows-1252?Q?=80_100?="), "\xE2\x82\xAC 100");
}

TEST(DecodedHeader, WhiteSpaceBetweenEncodedWordsIsDropped) {
  EXPECT_EQ(subject_of("Subject: =?UTF-8?Q?one?= =?UTF-8?Q?two?= three"), "onetwo three");
}

TEST(DecodedHeader, FoldedValuesAreUnfolded) {
  // A line break and the white space after it read as one space.
  EXPECT_EQ(subject_of("Subject: a long\n subject that\n\twas folded"),
            "a long subject that was folded");
  EXPECT_EQ(subject_of("Subject: =?UTF-8?Q?first?=\n =?UTF-8?Q?_second?="), "first second");
}

TEST(DecodedHeader, UndeclaredEightBitText) {
  EXPECT_EQ(subject_of("Subject: gr\xC3\xBC\xC3\x9F" "e"), "gr\xC3\xBC\xC3\x9F" "e");  // UTF-8
  EXPECT_EQ(subject_of("Subject: caf\xE9"), "caf\xC3\xA9");  // not UTF-8: windows-1252
}

TEST(DecodedHeader, ResultIsCleanUtf8OnOneLine) {
  const auto value = subject_of("Subject: =?UTF-8?Q?a=00b=0D=0Ac=FF?=");
  ASSERT_TRUE(value.has_value());
  std::vector<std::uint32_t> points;
  EXPECT_TRUE(popfs::mime::test::decode_utf8(*value, points)) << *value;
  for (const auto cp : points) EXPECT_GE(cp, 0x20u) << *value;
  EXPECT_EQ(value->substr(0, 1), "a");
}

TEST(DecodedHeader, UnknownCharsetDoesNotFail) {
  const auto value = subject_of("Subject: =?x-no-such-charset?Q?abc?= tail");
  ASSERT_TRUE(value.has_value());
  EXPECT_NE(value->find("tail"), std::string::npos);
}

TEST(DecodedHeader, AddressesWithEncodedNames) {
  const std::string block = crlf(
      "From: =?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg@example.org>\n"
      "To: \"Doe, Jane\" <jane@example.org>, bob@example.org\nSubject: x\n\n");
  EXPECT_EQ(decoded_header(block, "From"), "J\xC3\xB6rg M\xC3\xBCller <joerg@example.org>");
  EXPECT_EQ(decoded_header(block, "to"), "\"Doe, Jane\" <jane@example.org>, bob@example.org");
}

TEST(DecodedHeader, FieldNamesAreCaseInsensitiveAndTheFirstOneCounts) {
  const std::string block = crlf("SUBJECT: first\nSubject: second\n\n");
  EXPECT_EQ(decoded_header(block, "subject"), "first");
}

TEST(DecodedHeader, MissingFieldIsNullopt) {
  EXPECT_EQ(decoded_header(crlf("From: a@example.org\n\n"), "Subject"), std::nullopt);
  EXPECT_EQ(decoded_header("", "Subject"), std::nullopt);
}

TEST(DecodedHeader, ContentFieldsAreFoundToo) {
  EXPECT_EQ(decoded_header(crlf("Content-Type: text/plain; charset=utf-8\n\n"), "Content-Type"),
            "text/plain; charset=utf-8");
}

TEST(DecodedHeader, BlockWithBodyAndLfLineEndings) {
  EXPECT_EQ(decoded_header("Subject: =?UTF-8?Q?lf_only?=\n\nbody\nSubject: not this\n",
                           "Subject"),
            "lf only");
}

TEST(DecodedHeader, HugeSubjectIsDecoded) {
  std::string subject = "Subject: ";
  for (int i = 0; i < 20000; ++i) subject += "=?UTF-8?Q?ab?= ";
  const auto value = subject_of(subject);
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(value->size(), 40000u);
}

// Expected values: seconds since the epoch computed independently (Python's
// email.utils.mktime_tz(parsedate_tz(...))).
TEST(DecodedDate, ReadsTheDateField) {
  EXPECT_EQ(decoded_date(crlf("Subject: x\nDate: Tue, 1 Jul 2003 10:52:37 +0200\n\n")),
            1057049557);
  EXPECT_EQ(parse_date_value("Sun, 09 Mar 2025 23:05:00 -0800"), 1741590300);
  EXPECT_EQ(decoded_date(crlf("Subject: no date\n\n")), std::nullopt);
  EXPECT_EQ(parse_date_value("not a date at all"), std::nullopt);
}

}  // namespace
