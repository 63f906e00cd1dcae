// Maildir names, header fields and the rough terminal text used by the mail client harness.
#include <gtest/gtest.h>

#include "popfs_test/maildir.hpp"
#include "popfs_test/pty_process.hpp"
#include "popfs_test/temp_dir.hpp"

namespace popfs::test {
namespace {

TEST(MaildirName, SplitsAtTheLastInfoSuffix) {
  const auto plain = parse_maildir_name("/m", "new", "1700.M1P1.host");
  EXPECT_EQ(plain.unique, "1700.M1P1.host");
  EXPECT_FALSE(plain.flags.has_value());
  EXPECT_EQ(plain.path, std::filesystem::path("/m/new/1700.M1P1.host"));
  const auto flagged = parse_maildir_name("/m", "cur", "a:2,b:2,FS");
  EXPECT_EQ(flagged.unique, "a:2,b");
  EXPECT_EQ(flagged.flags, std::optional<std::string>("FS"));
  EXPECT_TRUE(flagged.has_flag('S'));
  EXPECT_FALSE(flagged.has_flag('T'));
  EXPECT_EQ(parse_maildir_name("/m", "cur", "x:2,").flags, std::optional<std::string>(""));
}

TEST(MaildirFixture, WritesWhatListingAndHeaderFieldsReadBack) {
  TempDir dir;
  const auto written = write_fixture_maildir(dir / "md", {{.subject = "one"}, {.subject = "two", .in_new = false, .flags = "RS"}});
  EXPECT_EQ(list_maildir(dir / "md"), written);
  EXPECT_EQ(written[1].file_name(), written[1].unique + ":2,RS");
  EXPECT_EQ(header_field(written[1].path, "subject"), std::optional<std::string>("two"));
  EXPECT_EQ(header_field(written[1].path, "X-Missing"), std::nullopt);
  EXPECT_EQ(find_by_subject(dir / "md", "one"), std::vector<MaildirEntry>{written[0]});
}

TEST(HeaderField, UnfoldsAndStopsAtTheBody) {
  TempDir dir;
  write_file(dir / "m", "Subject: a\r\n  folded\r\n\tline\r\nFrom: x\r\n\r\nSubject: body\r\n");
  EXPECT_EQ(header_field(dir / "m", "Subject"), std::optional<std::string>("a folded line"));
  write_file(dir / "n", "From: x\n\nSubject: in the body\n");
  EXPECT_EQ(header_field(dir / "n", "Subject"), std::nullopt);
}

TEST(TerminalText, DropsEscapesAndBreaksAtCursorMoves) {
  EXPECT_EQ(terminal_text("\x1b[?1049h\x1b[1;1Hhello \x1b[7mworld\x1b[m  \x1b[2;1H\x1b(Bnext\r\n\x1b]0;title\x07"),
            "hello world\nnext\n");
}

}  // namespace
}  // namespace popfs::test
