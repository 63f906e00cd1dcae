// RFC 5322 date parsing and header field extraction. Expected values computed by hand from
// the calendar (days since 1970 * 86400 + time - zone offset).

#include <gtest/gtest.h>

#include <cstdio>

#include "popfs/fs/header_fields.hpp"
#include "popfs/fs/mail_date.hpp"

namespace popfs::fs {
namespace {

struct DateCase {
  const char* text;
  std::optional<std::int64_t> expected;
};

// 2006-01-02 is day 13150 since the epoch: 13150 * 86400 = 1136160000.
constexpr std::int64_t kJan2_2006 = 1136160000;

const DateCase kCases[] = {
    {"Mon, 2 Jan 2006 15:04:05 -0700", kJan2_2006 + 22 * 3600 + 4 * 60 + 5},
    {"Mon, 02 Jan 2006 15:04:05 +0000", kJan2_2006 + 15 * 3600 + 4 * 60 + 5},
    {"2 Jan 2006 15:04:05 +0100", kJan2_2006 + 14 * 3600 + 4 * 60 + 5},
    {"Mon, 2 Jan 2006 15:04 GMT", kJan2_2006 + 15 * 3600 + 4 * 60},
    {"Mon, 2 Jan 06 15:04:05 EST", kJan2_2006 + 20 * 3600 + 4 * 60 + 5},       // 2-digit year, US zone
    {"Mon, 2 Jan 106 15:04:05 PDT", kJan2_2006 + 22 * 3600 + 4 * 60 + 5},      // 3-digit year
    {"Mon, 2 Jan 99 00:00:00 UT", 915235200},                                  // 1999-01-02
    {"Monday, 2 January 2006 15:04:05 +0000", kJan2_2006 + 15 * 3600 + 4 * 60 + 5},
    {"Mon, 2 Jan 2006 15:04:05 +0000 (UTC)", kJan2_2006 + 15 * 3600 + 4 * 60 + 5},  // comment
    {" Mon,\r\n 2 Jan 2006\t15 : 04 : 05 +0000", kJan2_2006 + 15 * 3600 + 4 * 60 + 5},  // FWS
    {"Mon, 2 jan 2006 15:04:05 z", kJan2_2006 + 15 * 3600 + 4 * 60 + 5},
    {"Mon, 2 Jan 2006 15:04:05 A", kJan2_2006 + 15 * 3600 + 4 * 60 + 5},       // military: -0000
    {"Mon, 2 Jan 2006 15:04:05", kJan2_2006 + 15 * 3600 + 4 * 60 + 5},         // no zone
    {"Jan 2 2006 15:04:05 +0000", kJan2_2006 + 15 * 3600 + 4 * 60 + 5},        // month first
    {"Thu, 29 Feb 2024 12:00:00 +0000", 1709208000},                            // leap day
    {"Fri, 31 Dec 1999 23:59:60 +0000", 946684800},                             // leap second
    {"Thu, 1 Jan 1970 00:00:00 +0000", 0},
    {"", std::nullopt},
    {"yesterday", std::nullopt},
    {"Mon, 30 Feb 2006 15:04:05 +0000", std::nullopt},
    {"Mon, 2 Foo 2006 15:04:05 +0000", std::nullopt},
    {"Mon, 2 Jan 2006 25:04:05 +0000", std::nullopt},
    {"Mon, 2 Jan 2006 15:04:05 +0099", std::nullopt},
    {"Mon, 2 Jan 2006 15:04:05 Nowhere", std::nullopt},
    {"Mon, 2 Jan 2006", std::nullopt},
    {"1 Jan 1900 -1:00:00 +9959", std::nullopt},  // a sign is not a digit (found by fuzz_mail_date)
    {"1 Jan -1 00:00:00 +0000", std::nullopt},
    {"Mon, 2 Jan 2006 15:-4:05 +0000", std::nullopt},
};

TEST(MailDate, Table) {
  for (const auto& c : kCases) {
    EXPECT_EQ(parse_mail_date(c.text), c.expected) << "date: \"" << c.text << "\"";
  }
}

TEST(HeaderField, FindsUnfoldsAndStopsAtTheBody) {
  const std::string block =
      "Received: from x\r\n"
      "Subject: a long\r\n"
      "  folded\tsubject  \r\n"
      "FROM:  Alice <a@example.org>\r\n"
      "\r\n"
      "Date: not a header, body\r\n";
  EXPECT_EQ(header_field(block, "subject"), std::optional<std::string>("a long  folded\tsubject"));
  EXPECT_EQ(header_field(block, "From"), std::optional<std::string>("Alice <a@example.org>"));
  EXPECT_EQ(header_field(block, "Date"), std::nullopt);
  EXPECT_EQ(header_field("Subject: lf only\nX: y\n\n", "Subject"), std::optional<std::string>("lf only"));
}

// The common form is read by a fast path; a comment after it sends the same date through
// the general parser. Both must agree on every such date, valid or not.
TEST(MailDate, TheCommonFormAgreesWithTheGeneralParser) {
  static constexpr const char* kDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "dec"};
  std::uint64_t state = 12345;
  auto next = [&](std::uint64_t bound) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (state >> 33) % bound;
  };
  int parsed = 0;
  for (int i = 0; i < 20000; ++i) {
    char text[64];
    std::snprintf(text, sizeof text, "%s%u %s %u %02u:%02u:%02u %c%02u%02u", next(3) == 0 ? "" : kDays[next(7)],
                  static_cast<unsigned>(next(32)), kMonths[next(12)], static_cast<unsigned>(1890 + next(220)),
                  static_cast<unsigned>(next(25)), static_cast<unsigned>(next(61)), static_cast<unsigned>(next(62)),
                  next(2) == 0 ? '+' : '-', static_cast<unsigned>(next(15)), static_cast<unsigned>(next(62)));
    std::string date(text);
    if (date.size() > 3 && date[0] >= 'A' && date[3] != ' ') date.insert(3, ", ");
    const auto fast = parse_mail_date(date);
    const auto general = parse_mail_date(date + " (via the general parser)");
    ASSERT_EQ(fast, general) << date;
    parsed += fast ? 1 : 0;
  }
  EXPECT_GT(parsed, 10000) << "most of them are valid dates";
}

}  // namespace
}  // namespace popfs::fs
