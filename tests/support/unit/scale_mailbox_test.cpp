// The scale mailbox generator (scripts/bench-scale): each message is computed alone, its sizes
// are known without building it, and its Maildir form carries them.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>

#include "popfs_test/corpus.hpp"
#include "popfs_test/scale_mailbox.hpp"
#include "popfs_test/temp_dir.hpp"

namespace popfs::test {
namespace {

std::string whole(const ScaleMessage& m) { return m.header + "\n" + m.body; }

TEST(ScaleMailbox, AMessageDependsOnlyOnSeedAndIndex) {
  EXPECT_EQ(whole(scale_message(1, 123456)), whole(scale_message(1, 123456)));
  EXPECT_NE(whole(scale_message(1, 123456)), whole(scale_message(2, 123456)));
  EXPECT_NE(whole(scale_message(1, 123456)), whole(scale_message(1, 123457)));
  EXPECT_EQ(scale_message_header(7, 99), scale_message(7, 99).header);
}

TEST(ScaleMailbox, SizesWithoutBuildingMatchTheMessage) {
  for (std::size_t i = 0; i < 3000; ++i) {
    const auto message = scale_message(3, i);
    const auto sizes = scale_message_sizes(3, i);
    ASSERT_EQ(sizes.lf, message.lf_size()) << i;
    ASSERT_EQ(sizes.crlf, to_crlf(whole(message)).size()) << i;
  }
}

TEST(ScaleMailbox, MessagesLookLikeSmallMailWithVariedSizesAndDates) {
  const std::regex date(R"(\nDate: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} 20\d\d \d\d:\d\d:\d\d [+-]\d{4}\n)");
  std::size_t gustavo = 0, dotted = 0, big = 0;
  std::set<std::string> dates;
  std::size_t smallest = SIZE_MAX, largest = 0;
  const std::size_t count = 6400;
  for (std::size_t i = 0; i < count; ++i) {
    const auto m = scale_message(1, i);
    const std::string header = "\n" + m.header;
    std::smatch found;
    ASSERT_TRUE(std::regex_search(header, found, date)) << m.header;
    dates.insert(found.str());
    EXPECT_NE(header.find("\nSubject: "), std::string::npos);
    EXPECT_NE(header.find(" #" + std::to_string(i) + "\n"), std::string::npos);
    EXPECT_EQ(m.header.find("\n\n"), std::string::npos);  // the blank line is not in the header
    gustavo += header.find("\nFrom: Gustavo Smith <") != std::string::npos;
    dotted += m.body.rfind('.', 0) == 0;
    big += m.body.size() >= (8u << 10);
    smallest = std::min(smallest, m.lf_size());
    largest = std::max(largest, m.lf_size());
  }
  EXPECT_GT(gustavo, count / 64 / 2);
  EXPECT_LT(gustavo, count / 64 * 2);
  EXPECT_GT(dotted, count / 16 / 2);
  EXPECT_LT(dotted, count / 16 * 2);
  EXPECT_GT(big, count * 3 / 100 / 2);
  EXPECT_LT(big, count * 3 / 100 * 2);
  EXPECT_GT(dates.size(), count * 99 / 100);
  EXPECT_GT(smallest, 500u);
  EXPECT_LT(largest, 48u << 10);
}

TEST(ScaleMailbox, MaildirFilesSortInIndexOrderAndCarryTheirSizes) {
  TempDir dir;
  write_scale_maildir(dir / "Maildir", 9, 25);
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir / "Maildir" / "cur"))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  ASSERT_EQ(names.size(), 25u);
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto sizes = scale_message_sizes(9, i);
    EXPECT_EQ(names[i], scale_maildir_file_name(i, sizes));
    EXPECT_NE(names[i].find(",S=" + std::to_string(sizes.lf) + ",W=" + std::to_string(sizes.crlf) + ":2,"),
              std::string::npos);
    EXPECT_EQ(read_file(dir / "Maildir" / "cur" / names[i]), whole(scale_message(9, i)));
  }
  EXPECT_TRUE(std::filesystem::is_directory(dir / "Maildir" / "new"));
  EXPECT_TRUE(std::filesystem::is_directory(dir / "Maildir" / "tmp"));
}

}  // namespace
}  // namespace popfs::test
