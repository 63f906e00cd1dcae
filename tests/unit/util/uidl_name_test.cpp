#include "popfs/util/uidl_name.hpp"

#include <gtest/gtest.h>

#include <random>

namespace popfs {
namespace {

TEST(UidlName, PlainUidlIsKept) {
  EXPECT_EQ(message_file_name("000000016b02434a"), "000000016b02434a.eml");
}

TEST(UidlName, EscapesWhatTheSemanticsName) {
  EXPECT_EQ(escape_uidl("a/b"), "a%2Fb");
  EXPECT_EQ(escape_uidl("100%"), "100%25");
  EXPECT_EQ(escape_uidl(".hidden"), "%2Ehidden");
  EXPECT_EQ(escape_uidl("a.b"), "a.b");
  EXPECT_EQ(escape_uidl("../x"), "%2E.%2Fx");
  EXPECT_EQ(escape_uidl(std::string("sp ace\x7f\x01\xff", 9)), "sp%20ace%7F%01%FF");
  EXPECT_EQ(escape_uidl("a~2"), "a%7E2");
}

TEST(UidlName, DuplicatesGetASuffix) {
  EXPECT_EQ(message_file_name("abc", 1), "abc.eml");
  EXPECT_EQ(message_file_name("abc", 2), "abc~2.eml");
  EXPECT_EQ(message_file_name("abc", 3), "abc~3.eml");
}

TEST(UidlName, ParseInvertsEveryName) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(1, 80);
  for (int round = 0; round < 5000; ++round) {
    std::string uidl;
    const int n = length(rng);
    for (int i = 0; i < n; ++i) uidl += static_cast<char>(byte(rng));
    const std::uint32_t occurrence = static_cast<std::uint32_t>(round % 4) + 1;
    const std::string name = message_file_name(uidl, occurrence);
    EXPECT_EQ(name.find('/'), std::string::npos);
    EXPECT_NE(name.front(), '.');
    const auto parsed = parse_message_file_name(name);
    ASSERT_TRUE(parsed.has_value()) << name;
    EXPECT_EQ(parsed->uidl, uidl);
    EXPECT_EQ(parsed->occurrence, occurrence);
  }
}

TEST(UidlName, RejectsNamesPopfsNeverMakes) {
  EXPECT_FALSE(parse_message_file_name("abc"));
  EXPECT_FALSE(parse_message_file_name(".eml"));
  EXPECT_FALSE(parse_message_file_name("abc~1.eml"));
  EXPECT_FALSE(parse_message_file_name("abc~02.eml"));
  EXPECT_FALSE(parse_message_file_name("abc~.eml"));
  EXPECT_FALSE(parse_message_file_name("%2e.eml"));   // non-canonical spelling
  EXPECT_FALSE(parse_message_file_name("a%2.eml"));
  EXPECT_FALSE(parse_message_file_name("a%ZZ.eml"));
  EXPECT_FALSE(parse_message_file_name("%41.eml"));  // 'A' needs no escape
}

}  // namespace
}  // namespace popfs
