// The corpus generator: determinism and the features the other layers' tests rely on.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <sstream>

#include "popfs_test/corpus.hpp"
#include "popfs_test/temp_dir.hpp"

namespace popfs::test {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string header(const std::string& message, const std::string& name) {
  const std::string head = message.substr(0, message.find("\n\n"));
  for (const auto& line : lines_of(head)) {
    if (line.rfind(name + ": ", 0) == 0) return line.substr(name.size() + 2);
  }
  return {};
}

TEST(Corpus, SameSeedGivesSameBytesAndOtherSeedDiffers) {
  const auto a = generate_corpus({.count = 30, .seed = 42});
  const auto b = generate_corpus({.count = 30, .seed = 42});
  const auto c = generate_corpus({.count = 30, .seed = 43});
  ASSERT_EQ(a.messages.size(), 30u);
  for (std::size_t i = 0; i < a.messages.size(); ++i) {
    EXPECT_EQ(a.messages[i].content, b.messages[i].content);
    EXPECT_EQ(a.messages[i].maildir_name, b.messages[i].maildir_name);
  }
  std::size_t differing = 0;
  for (std::size_t i = 0; i < a.messages.size(); ++i) differing += a.messages[i].content != c.messages[i].content;
  EXPECT_EQ(differing, a.messages.size());
}

TEST(Corpus, FirstSixMessagesCarryEveryAwkwardFeature) {
  const auto corpus = generate_corpus({.count = 6, .seed = 1});
  bool multipart_base64 = false, dot_start = false, lone_dot = false, long_line = false, eight_bit = false;
  for (const auto& message : corpus.messages) {
    multipart_base64 |= message.content.find("Content-Type: multipart/mixed") != std::string::npos &&
                        message.content.find("Content-Transfer-Encoding: base64") != std::string::npos;
    for (const auto& line : lines_of(message.content)) {
      dot_start |= line.size() > 1 && line[0] == '.';
      lone_dot |= line == ".";
      long_line |= line.size() > 2048;
    }
    for (char ch : message.content) eight_bit |= static_cast<unsigned char>(ch) >= 0x80;
  }
  EXPECT_TRUE(multipart_base64);
  EXPECT_TRUE(dot_start);
  EXPECT_TRUE(lone_dot);
  EXPECT_TRUE(long_line);
  EXPECT_TRUE(eight_bit);
}

TEST(Corpus, HeadersAreRealisticAndLineEndingsAreLf) {
  const auto corpus = generate_corpus({.count = 50, .seed = 9});
  const std::regex date(
      R"(^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [1-9][0-9]? (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (20[0-2][0-9]) [0-2][0-9]:[0-5][0-9]:[0-5][0-9] [+-][0-9]{4}$)");
  std::set<std::string> dates, message_ids;
  for (const auto& message : corpus.messages) {
    EXPECT_EQ(message.content.find('\r'), std::string::npos);
    EXPECT_EQ(message.content.rfind("Return-Path: ", 0), 0u);
    EXPECT_NE(message.content.find("\nReceived: from "), std::string::npos);
    EXPECT_TRUE(std::regex_match(header(message.content, "Date"), date)) << header(message.content, "Date");
    EXPECT_FALSE(header(message.content, "From").empty());
    EXPECT_FALSE(header(message.content, "To").empty());
    EXPECT_FALSE(header(message.content, "Subject").empty());
    EXPECT_EQ(message.content.back(), '\n');
    dates.insert(header(message.content, "Date"));
    message_ids.insert(header(message.content, "Message-ID"));
  }
  EXPECT_GT(dates.size(), 45u);
  EXPECT_EQ(message_ids.size(), 50u);
}

TEST(Corpus, LargeMessagesHaveTheRequestedSize) {
  const auto corpus = generate_corpus({.count = 10, .seed = 2, .large_count = 2, .large_bytes = 3 << 20});
  std::size_t large = 0;
  for (const auto& message : corpus.messages) {
    if (message.content.size() > (1u << 20)) {
      ++large;
      EXPECT_GT(message.content.size(), (3u << 20) * 9 / 10);
      EXPECT_LT(message.content.size(), (3u << 20) * 11 / 10);
    }
  }
  EXPECT_EQ(large, 2u);
}

TEST(Corpus, BenchmarkMailboxIsTwoThousandMessagesOfAbout22MB) {
  const auto corpus = generate_corpus(CorpusOptions::benchmark());
  EXPECT_EQ(corpus.messages.size(), 2000u);
  EXPECT_GT(corpus.total_bytes(), 20'000'000u);
  EXPECT_LT(corpus.total_bytes(), 24'000'000u);
}

TEST(Corpus, MaildirNamesSortInCorpusOrder) {
  const auto corpus = generate_corpus({.count = 12, .seed = 4});
  for (std::size_t i = 1; i < corpus.messages.size(); ++i) {
    EXPECT_LT(corpus.messages[i - 1].maildir_name, corpus.messages[i].maildir_name);
  }
  EXPECT_LT(maildir_base_name(9), maildir_base_name(10));
}

TEST(Corpus, WriteMaildirWritesEveryMessageIntoCur) {
  TempDir dir;
  const auto corpus = generate_corpus({.count = 5, .seed = 8});
  write_maildir(dir / "Maildir", corpus);
  EXPECT_TRUE(std::filesystem::is_directory(dir / "Maildir" / "new"));
  EXPECT_TRUE(std::filesystem::is_directory(dir / "Maildir" / "tmp"));
  for (const auto& message : corpus.messages) {
    EXPECT_EQ(read_file(dir / "Maildir" / "cur" / (message.maildir_name + ":2,")), message.content);
  }
}

TEST(Corpus, ToCrlfConvertsBareLfOnly) {
  EXPECT_EQ(to_crlf("a\nb\r\n\n"), "a\r\nb\r\n\r\n");
  EXPECT_EQ(to_crlf(""), "");
  EXPECT_EQ(to_crlf("\n"), "\r\n");
}

TEST(TempDir, IsTraversableByOthersAndRemovedAfterwards) {
  std::filesystem::path path;
  {
    TempDir dir;
    path = dir.path();
    write_file(dir / "x", "data");
    const auto perms = std::filesystem::status(path).permissions();
    EXPECT_EQ(perms & std::filesystem::perms::all, std::filesystem::perms(0755));
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace popfs::test
