#include "popfs/pop3/listing.hpp"

#include <gtest/gtest.h>

#include "popfs/pop3/capabilities.hpp"

namespace popfs::pop3 {
namespace {

TEST(Uidl, PlainLine) {
  auto e = parse_uidl_line("1 whqtswO00WBw418f9t5JxYwZ");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->number, 1u);
  EXPECT_EQ(e->uidl, "whqtswO00WBw418f9t5JxYwZ");
}

TEST(Uidl, HostileValuesAreKeptVerbatim) {
  for (const std::string uidl : {"../x", "a/b", "..", ".", "%2F", "~2", "\xc3\xa9t\xc3\xa9"}) {
    auto e = parse_uidl_line("7 " + uidl);
    ASSERT_TRUE(e.ok()) << uidl;
    EXPECT_EQ(e->number, 7u);
    EXPECT_EQ(e->uidl, uidl);
  }
}

TEST(Uidl, LongerThanRfcButBounded) {
  const std::string two_hundred(200, 'u');
  auto ok = parse_uidl_line("3 " + two_hundred);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->uidl.size(), 200u);
  EXPECT_TRUE(parse_uidl_line("3 " + std::string(1024, 'u')).ok());
  auto too_long = parse_uidl_line("3 " + std::string(1025, 'u'));
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error().code, Errc::protocol_violation);
  EXPECT_FALSE(parse_uidl_line("3 abcdef", 5).ok());
}

TEST(Uidl, MalformedLines) {
  for (const std::string& bad : std::vector<std::string>{"", "x abc", "0 abc", "1", "1 ", "-1 abc", "99999999999 abc",
                                std::string("1 a\0b", 5), "1 two words"}) {
    auto e = parse_uidl_line(bad);
    EXPECT_FALSE(e.ok()) << bad;
    if (!e.ok()) {
      EXPECT_EQ(e.error().code, Errc::protocol_violation);
    }
  }
}

TEST(Uidl, ToleratesExtraBlanksAndCr) {
  auto e = parse_uidl_line("  12\t  abc  \r");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->number, 12u);
  EXPECT_EQ(e->uidl, "abc");
}

TEST(Uidl, SingleForm) {
  auto e = parse_uidl_single("2 QhdPYR:00WBw1Ph7x7");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->number, 2u);
  EXPECT_EQ(e->uidl, "QhdPYR:00WBw1Ph7x7");
}

TEST(Uidl, ListingKeepsOrderAndDuplicates) {
  auto list = parse_uidl_listing("1 aaa\r\n2 a/b\r\n3 aaa\r\n4 ../x\r\n");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 4u);
  EXPECT_EQ((*list)[0].uidl, "aaa");
  EXPECT_EQ((*list)[1].uidl, "a/b");
  EXPECT_EQ((*list)[2].uidl, "aaa");
  EXPECT_EQ((*list)[2].number, 3u);
  EXPECT_EQ((*list)[3].uidl, "../x");
}

TEST(Uidl, ListingRejectsRepeatedNumberAndBadLine) {
  EXPECT_FALSE(parse_uidl_listing("1 aaa\r\n1 bbb\r\n").ok());
  EXPECT_FALSE(parse_uidl_listing("1 aaa\r\nfoo\r\n").ok());
  auto empty = parse_uidl_listing("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(List, LinesAndSingle) {
  auto e = parse_list_line("2 200");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->number, 2u);
  EXPECT_EQ(e->size, 200u);
  auto extra = parse_list_line("3 5000000000 extra info");
  ASSERT_TRUE(extra.ok());
  EXPECT_EQ(extra->size, 5000000000u);
  auto single = parse_list_single("4 1234");
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(single->number, 4u);
  EXPECT_EQ(single->size, 1234u);
  EXPECT_FALSE(parse_list_line("2").ok());
  EXPECT_FALSE(parse_list_line("2 x").ok());
  EXPECT_FALSE(parse_list_line("0 10").ok());
  EXPECT_FALSE(parse_list_line("2 -10").ok());
  EXPECT_FALSE(parse_list_line("2 99999999999999999999999").ok());
}

TEST(List, Listing) {
  auto list = parse_list_listing("1 120\r\n2 200\n\r\n3 0\r\n");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[1].size, 200u);
  EXPECT_EQ((*list)[2].number, 3u);
  EXPECT_EQ((*list)[2].size, 0u);
  EXPECT_FALSE(parse_list_listing("1 1\r\n1 2\r\n").ok());
}

TEST(Stat, Parses) {
  auto s = parse_stat("2 320");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->count, 2u);
  EXPECT_EQ(s->size, 320u);
  auto zero = parse_stat("0 0");
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(zero->count, 0u);
  EXPECT_FALSE(parse_stat("").ok());
  EXPECT_FALSE(parse_stat("two 320").ok());
}

TEST(SplitLines, HandlesCrlfLfAndUnterminated) {
  auto lines = split_lines("a\r\nb\nc");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "a");
  EXPECT_EQ(lines[1], "b");
  EXPECT_EQ(lines[2], "c");
  EXPECT_TRUE(split_lines("").empty());
}

TEST(Capa, DovecotStyle) {
  auto caps = parse_capabilities(
      "CAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nSTLS\r\n"
      "USER\r\nSASL PLAIN login xoauth2\r\nIMPLEMENTATION Dovecot (Debian) ready\r\n");
  ASSERT_TRUE(caps.ok());
  EXPECT_TRUE(caps->top);
  EXPECT_TRUE(caps->uidl);
  EXPECT_TRUE(caps->resp_codes);
  EXPECT_TRUE(caps->pipelining);
  EXPECT_TRUE(caps->auth_resp_code);
  EXPECT_TRUE(caps->stls);
  EXPECT_TRUE(caps->user);
  EXPECT_EQ(caps->sasl_mechanisms, (std::vector<std::string>{"PLAIN", "LOGIN", "XOAUTH2"}));
  EXPECT_TRUE(caps->has_sasl("plain"));
  EXPECT_FALSE(caps->has_sasl("CRAM-MD5"));
  ASSERT_TRUE(caps->implementation.has_value());
  EXPECT_EQ(*caps->implementation, "Dovecot (Debian) ready");
  EXPECT_FALSE(caps->login_delay_seconds.has_value());
}

TEST(Capa, NamesAreCaseInsensitiveAndArgumentsKept) {
  auto caps = parse_capabilities("top\nuidl\nLogin-Delay 900\nexpire NEVER\nX-Custom a b\n");
  ASSERT_TRUE(caps.ok());
  EXPECT_TRUE(caps->top);
  EXPECT_TRUE(caps->uidl);
  EXPECT_FALSE(caps->pipelining);
  ASSERT_TRUE(caps->login_delay_seconds.has_value());
  EXPECT_EQ(*caps->login_delay_seconds, 900u);
  ASSERT_TRUE(caps->expire.has_value());
  EXPECT_EQ(*caps->expire, "NEVER");
  EXPECT_TRUE(caps->has("x-custom"));
  const Capability* custom = caps->find("X-CUSTOM");
  ASSERT_NE(custom, nullptr);
  EXPECT_EQ(custom->name, "X-CUSTOM");
  EXPECT_EQ(custom->args, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(caps->entries.size(), 5u);
}

TEST(Capa, MalformedKnownArgumentRejected) {
  auto bad = parse_capabilities("LOGIN-DELAY soon\r\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::protocol_violation);
  EXPECT_FALSE(parse_capabilities("LOGIN-DELAY\r\n").ok());
  EXPECT_FALSE(parse_capabilities(std::string("TOP\0\r\n", 6)).ok());
}

TEST(Capa, EmptyAndBlankLines) {
  auto caps = parse_capabilities("\r\n  \r\nUSER\r\n");
  ASSERT_TRUE(caps.ok());
  EXPECT_EQ(caps->entries.size(), 1u);
  EXPECT_TRUE(caps->user);
}

}  // namespace
}  // namespace popfs::pop3
