// The real notmuch on a plain local Maildir, through the harness in popfs_test/notmuch.hpp:
// its database outside the mail root, what it indexes, what it renames (doc/maildir-clients.md).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>

#include "popfs_test/corpus.hpp"
#include "popfs_test/fail_syscalls.hpp"
#include "popfs_test/maildir.hpp"
#include "popfs_test/notmuch.hpp"
#include "popfs_test/temp_dir.hpp"

namespace popfs::test {
namespace {

namespace fs = std::filesystem;

// Every path under root (dot entries included), relative, sorted.
std::vector<std::string> tree(const fs::path& root) {
  std::vector<std::string> paths;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    paths.push_back(fs::relative(entry.path(), root).string());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

std::vector<fs::path> paths_of(const std::vector<MaildirEntry>& entries) {
  std::vector<fs::path> paths;
  for (const auto& e : entries) paths.push_back(e.path);
  std::sort(paths.begin(), paths.end());
  return paths;
}

class NotmuchOnMaildir : public ::testing::Test {
 protected:
  void SetUp() override {
    write_maildir(maildir, generate_corpus({.count = 12, .seed = 3}));
    fixture = write_fixture_maildir(maildir, {{.subject = "fixture alpha"},
                                              {.subject = "fixture bravo"},
                                              {.subject = "fixture charlie", .in_new = false, .flags = "S"}});
    // Header stubs beside the messages, as in a popfs mount: same Message-IDs.
    fs::create_directory(maildir / ".headers");
    for (const auto& entry : list_maildir(maildir)) {
      const auto text = read_file(entry.path);
      write_file(maildir / ".headers" / entry.unique, text.substr(0, text.find("\n\n") + 1));
    }
  }

  TempDir dir{"popfs-notmuch-test-"};
  fs::path maildir = dir / "Maildir";
  std::vector<MaildirEntry> fixture;
  static constexpr std::size_t kMessages = 15;
};

TEST_F(NotmuchOnMaildir, IndexesEveryMessageAndWritesNothingIntoTheMailRoot) {
  const auto before = tree(maildir);
  Notmuch notmuch(maildir);
  const auto indexed = notmuch.index();
  ASSERT_EQ(indexed.exit_code, 0) << indexed.output;
  EXPECT_EQ(notmuch.count(), kMessages);
  EXPECT_EQ(notmuch.count_files(), kMessages);  // .headers/ ignored
  EXPECT_EQ(notmuch.search_files("*"), paths_of(list_maildir(maildir)));
  EXPECT_EQ(tree(maildir), before);
  EXPECT_TRUE(fs::exists(notmuch.database_dir() / "xapian")) << "the database is not where it was configured";
}

TEST_F(NotmuchOnMaildir, IndexesTheHeaderStubsTooUnlessTheyAreIgnored) {
  Notmuch notmuch(maildir, {.ignore = {}});
  ASSERT_EQ(notmuch.index().exit_code, 0);
  EXPECT_EQ(notmuch.count(), kMessages);           // same Message-IDs: one message each...
  EXPECT_EQ(notmuch.count_files(), 2 * kMessages);  // ...with two files
}

TEST_F(NotmuchOnMaildir, SearchFindsAMessageBySubject) {
  Notmuch notmuch(maildir);
  ASSERT_EQ(notmuch.index().exit_code, 0);
  EXPECT_EQ(notmuch.search_files("subject:\"fixture bravo\""), std::vector<fs::path>{fixture[1].path});
  EXPECT_EQ(notmuch.count("subject:\"fixture bravo\""), 1u);
  EXPECT_EQ(notmuch.count("subject:nosuchsubject"), 0u);
  // Maildir flags became tags: S means read.
  EXPECT_THAT(notmuch.tags("subject:\"fixture bravo\""), ::testing::Contains("unread"));
  EXPECT_THAT(notmuch.tags("subject:\"fixture charlie\""), ::testing::Not(::testing::Contains("unread")));
}

TEST_F(NotmuchOnMaildir, ARescanSeesNothingUnchangedButFollowsRenamesAndNewFiles) {
  TempDir work("popfs-notmuch-work-");
  {
    Notmuch first(maildir, {.work_dir = work.path()});
    ASSERT_EQ(first.index().exit_code, 0);
  }
  Notmuch notmuch(maildir, {.work_dir = work.path()});  // the same database, reopened
  const auto files = notmuch.search_files("*");
  ASSERT_EQ(files.size(), kMessages);
  const auto unchanged = notmuch.index();
  ASSERT_EQ(unchanged.exit_code, 0) << unchanged.output;
  EXPECT_EQ(unchanged.added + unchanged.removed + unchanged.renamed, 0u) << unchanged.output;
  EXPECT_EQ(notmuch.search_files("*"), files);

  // What NeoMutt does when a message is read, and a delivery.
  const auto bravo = fixture[1];
  const fs::path bravo_read = maildir / "cur" / (bravo.unique + ":2,S");
  fs::rename(bravo.path, bravo_read);
  write_file(maildir / "new" / "1800000000.M1P1.newcomer", generate_corpus({.count = 1, .seed = 99}).messages[0].content);
  const auto changed = notmuch.index();
  ASSERT_EQ(changed.exit_code, 0) << changed.output;
  EXPECT_EQ(notmuch.search_files("subject:\"fixture bravo\""), std::vector<fs::path>{bravo_read});
  EXPECT_EQ(notmuch.count(), kMessages + 1);
  EXPECT_EQ(notmuch.search_files("*"), paths_of(list_maildir(maildir)));
  EXPECT_EQ(changed.added, 1u) << changed.output;
  EXPECT_EQ(changed.renamed, 1u) << changed.output;
}

TEST_F(NotmuchOnMaildir, RemovingTheUnreadTagRenamesTheFileLikeAMailClient) {
  Notmuch notmuch(maildir);
  ASSERT_EQ(notmuch.index().exit_code, 0);
  const auto tagged = notmuch.run({"tag", "-unread", "--", "subject:\"fixture bravo\""});
  ASSERT_EQ(tagged.exit_code, 0) << tagged.output;
  const auto now = find_by_subject(maildir, "fixture bravo");
  ASSERT_EQ(now.size(), 1u);
  EXPECT_EQ(now[0].subdir, "cur");
  EXPECT_EQ(now[0].unique, fixture[1].unique);
  EXPECT_EQ(now[0].flags, std::optional<std::string>("S"));
  EXPECT_EQ(notmuch.search_files("subject:\"fixture bravo\""), std::vector<fs::path>{now[0].path});
}

TEST_F(NotmuchOnMaildir, ARefusedRenameIsIgnoredAndTheTagChangesAnyway) {
  Notmuch notmuch(maildir, {.extra_env = syscall_failure_env(POPFS_FAIL_SYSCALLS_LIBRARY,
                                                             {.under = maildir, .rename_errno = EROFS})});
  ASSERT_EQ(notmuch.index().exit_code, 0);
  ASSERT_THAT(notmuch.tags("subject:\"fixture bravo\""), ::testing::Contains("unread"));
  const auto before = list_maildir(maildir);
  const auto tagged = notmuch.run({"tag", "-unread", "--", "subject:\"fixture bravo\""});
  EXPECT_EQ(tagged.exit_code, 0) << tagged.output;  // notmuch 0.37 does not report it
  EXPECT_EQ(list_maildir(maildir), before);
  EXPECT_THAT(notmuch.tags("subject:\"fixture bravo\""), ::testing::Not(::testing::Contains("unread")));
}

TEST(NotmuchHarness, RefusesAWorkDirInsideTheMailRoot) {
  TempDir dir;
  EXPECT_THROW(Notmuch(dir.path(), {.work_dir = dir / "db"}), std::invalid_argument);
}

}  // namespace
}  // namespace popfs::test
