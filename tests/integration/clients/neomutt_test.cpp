// The real NeoMutt on a plain local Maildir, through the harness in popfs_test/neomutt.hpp.
// Every outcome is read from the Maildir itself (which files were renamed or removed) or
// from NeoMutt's own counts; these are the operations the popfs Maildir layout must allow,
// and what NeoMutt does when one is refused (doc/maildir-clients.md).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

#include "popfs_test/corpus.hpp"
#include "popfs_test/fail_syscalls.hpp"
#include "popfs_test/maildir.hpp"
#include "popfs_test/neomutt.hpp"
#include "popfs_test/temp_dir.hpp"

namespace popfs::test {
namespace {

namespace fs = std::filesystem;

// alpha, bravo, charlie in new/; delta read (S) and echo old (no flags) in cur/.
std::vector<FixtureMessage> five_messages() {
  return {{.subject = "fixture alpha"},
          {.subject = "fixture bravo"},
          {.subject = "fixture charlie"},
          {.subject = "fixture delta", .in_new = false, .flags = "S"},
          {.subject = "fixture echo", .in_new = false, .flags = ""}};
}

class NeoMuttOnMaildir : public ::testing::Test {
 protected:
  void SetUp() override { written = write_fixture_maildir(maildir, five_messages()); }

  // The entry of the only message with this subject, as it is on disk now.
  MaildirEntry entry_of(std::string_view subject) const {
    auto found = find_by_subject(maildir, subject);
    if (found.size() != 1) throw std::runtime_error("expected one file with subject " + std::string(subject));
    return found.front();
  }

  // Everything in the Maildir except the message with this unique name.
  std::vector<MaildirEntry> others(const std::vector<MaildirEntry>& entries, const std::string& unique) const {
    std::vector<MaildirEntry> rest;
    for (const auto& e : entries) {
      if (e.unique != unique) rest.push_back(e);
    }
    return rest;
  }

  TempDir dir{"popfs-neomutt-test-"};
  fs::path maildir = dir / "Maildir";
  std::vector<MaildirEntry> written;
};

TEST_F(NeoMuttOnMaildir, CountsEveryMessage) {
  write_maildir(maildir, generate_corpus({.count = 12, .seed = 7}));  // 12 more in cur/
  const auto run = run_neomutt(maildir);
  ASSERT_TRUE(run.ok()) << run.describe();
  const auto& status = run.last_status();
  EXPECT_EQ(status.messages, list_maildir(maildir).size());
  EXPECT_EQ(status.messages, 17u);
  EXPECT_EQ(status.new_messages, 3u);       // the three in new/
  EXPECT_EQ(status.unread, 17u - 1u);       // only delta carries S
  EXPECT_EQ(status.folder, maildir.string());
  EXPECT_TRUE(run.errors.empty()) << run.describe();
  EXPECT_EQ(list_maildir(maildir).size(), 17u) << "opening and <exit> changed the Maildir";
}

TEST_F(NeoMuttOnMaildir, CountHelperAgreesWithTheFiles) {
  EXPECT_EQ(neomutt_count_messages(maildir), 5u);
  fs::remove(written[4].path);
  EXPECT_EQ(neomutt_count_messages(maildir), 4u);
}

TEST_F(NeoMuttOnMaildir, MarkingANewMessageReadRenamesItIntoCurWithS) {
  const auto before = list_maildir(maildir);
  const auto bravo = entry_of("fixture bravo");
  const auto content = read_file(bravo.path);
  const auto run = neomutt_mark_read(maildir, "fixture bravo");
  EXPECT_TRUE(run.errors.empty()) << run.describe();

  const auto after = list_maildir(maildir);
  const auto now = entry_of("fixture bravo");
  EXPECT_EQ(now.subdir, "cur");
  EXPECT_EQ(now.unique, bravo.unique);
  EXPECT_EQ(now.flags, std::optional<std::string>("S"));
  EXPECT_EQ(read_file(now.path), content);
  EXPECT_EQ(others(after, bravo.unique), others(before, bravo.unique)) << "another file changed";
  EXPECT_EQ(run.last_status().unread, 3u);
}

TEST_F(NeoMuttOnMaildir, TheSeenFlagSurvivesReopening) {
  ASSERT_EQ(neomutt_count_matching(maildir, neomutt_subject_pattern("fixture bravo") + " ~R"), 0u);
  neomutt_mark_read(maildir, "fixture bravo");
  // A second NeoMutt reads the flag back from the file name.
  EXPECT_EQ(neomutt_count_matching(maildir, neomutt_subject_pattern("fixture bravo") + " ~R"), 1u);
  EXPECT_EQ(neomutt_count_matching(maildir, "~U"), 3u);  // alpha, charlie, echo
}

TEST_F(NeoMuttOnMaildir, MarkingAnOldMessageReadAddsSInCur) {
  const auto echo = entry_of("fixture echo");
  ASSERT_EQ(echo.flags, std::optional<std::string>(""));
  neomutt_mark_read(maildir, "fixture echo");
  const auto now = entry_of("fixture echo");
  EXPECT_EQ(now.subdir, "cur");
  EXPECT_EQ(now.unique, echo.unique);
  EXPECT_EQ(now.flags, std::optional<std::string>("S"));
}

TEST_F(NeoMuttOnMaildir, MarkingAReadMessageNewMovesItBackToNew) {
  // cur/X:2,S -> new/X: popfs must allow renames from cur/ to new/ as well.
  const auto delta = entry_of("fixture delta");
  NeoMuttOptions options;
  options.keys = neomutt_mark_new_keys("fixture delta");
  const auto run = run_neomutt(maildir, options);
  ASSERT_TRUE(run.ok()) << run.describe();
  EXPECT_TRUE(run.errors.empty()) << run.describe();
  const auto now = entry_of("fixture delta");
  EXPECT_EQ(now.subdir, "new");
  EXPECT_EQ(now.unique, delta.unique);
  EXPECT_EQ(now.flags, std::nullopt);
}

TEST_F(NeoMuttOnMaildir, FlaggingANewMessageKeepsItInNewWithAnInfoSuffix) {
  // NeoMutt moves a message to cur/ only once it is read or old: a flagged unread message
  // is renamed inside new/ (new/X -> new/X:2,F). popfs must allow that rename too.
  const auto alpha = entry_of("fixture alpha");
  const auto delta = entry_of("fixture delta");
  for (const char* subject : {"fixture alpha", "fixture delta"}) {
    NeoMuttOptions options;
    options.keys = neomutt_flag_keys(subject);
    const auto run = run_neomutt(maildir, options);
    ASSERT_TRUE(run.ok()) << run.describe();
  }
  const auto alpha_now = entry_of("fixture alpha");
  EXPECT_EQ(alpha_now.subdir, "new");
  EXPECT_EQ(alpha_now.unique, alpha.unique);
  EXPECT_EQ(alpha_now.flags, std::optional<std::string>("F"));
  const auto delta_now = entry_of("fixture delta");
  EXPECT_EQ(delta_now.subdir, "cur");
  EXPECT_EQ(delta_now.flags, std::optional<std::string>("FS"));  // flags sorted
}

TEST_F(NeoMuttOnMaildir, DeletingRemovesExactlyThatFile) {
  const auto before = list_maildir(maildir);
  const auto charlie = entry_of("fixture charlie");
  const auto run = neomutt_delete(maildir, "fixture charlie");
  EXPECT_TRUE(run.errors.empty()) << run.describe();
  EXPECT_FALSE(fs::exists(charlie.path));
  EXPECT_EQ(list_maildir(maildir), others(before, charlie.unique));
  EXPECT_EQ(run.last_status().messages, 4u);
  EXPECT_EQ(neomutt_count_messages(maildir), 4u);
}

TEST_F(NeoMuttOnMaildir, WithMaildirTrashDeletingOnlyAddsT) {
  const auto charlie = entry_of("fixture charlie");
  NeoMuttOptions options;
  options.muttrc_extra = {"set maildir_trash=yes"};
  neomutt_delete(maildir, "fixture charlie", options);
  const auto now = entry_of("fixture charlie");
  EXPECT_EQ(now.subdir, "new");  // unread: stays in new/, with an info suffix
  EXPECT_EQ(now.unique, charlie.unique);
  EXPECT_EQ(now.flags, std::optional<std::string>("T"));
  EXPECT_EQ(list_maildir(maildir).size(), 5u);
}

TEST_F(NeoMuttOnMaildir, QuitWithMarkOldMovesUnreadNewMessagesToCur) {
  // $mark_old is on by default: leaving with <quit> renames every unread message of new/ to
  // cur/<unique>:2, (no flags), without reading it.
  NeoMuttOptions options;
  options.keys = "<quit>";
  const auto run = run_neomutt(maildir, options);
  ASSERT_TRUE(run.ok()) << run.describe();
  for (const auto& entry : list_maildir(maildir)) {
    EXPECT_EQ(entry.subdir, "cur") << entry.file_name();
    EXPECT_TRUE(entry.flags.has_value()) << entry.file_name();
  }
  EXPECT_EQ(entry_of("fixture alpha").flags, std::optional<std::string>(""));
  EXPECT_EQ(entry_of("fixture delta").flags, std::optional<std::string>("S"));
}

TEST_F(NeoMuttOnMaildir, QuitWithoutMarkOldChangesNothing) {
  const auto before = list_maildir(maildir);
  NeoMuttOptions options;
  options.keys = "<quit>";
  options.muttrc_extra = {"set mark_old=no"};
  const auto run = run_neomutt(maildir, options);
  ASSERT_TRUE(run.ok()) << run.describe();
  EXPECT_EQ(run.last_status().messages, 5u);
  EXPECT_EQ(run.last_status().unread, 4u);
  EXPECT_EQ(list_maildir(maildir), before);
}

TEST_F(NeoMuttOnMaildir, AHeaderCacheIsWrittenInTheWorkDirOnly) {
  TempDir work("popfs-neomutt-work-");
  NeoMuttOptions options;
  options.work_dir = work.path();
  options.header_cache = true;
  const auto before = list_maildir(maildir);
  EXPECT_EQ(neomutt_count_messages(maildir, options), 5u);
  EXPECT_FALSE(fs::is_empty(work / "hcache"));
  EXPECT_EQ(neomutt_count_messages(maildir, options), 5u);  // from the cache
  EXPECT_EQ(list_maildir(maildir), before);
  EXPECT_TRUE(fs::is_empty(maildir / "tmp"));
}

// A refused rename (what popfs answers for renames it does not allow), EROFS or EXDEV:
// NeoMutt reports it, keeps the file as it was, and then refuses to <quit> (its sync on
// close fails again); only <exit> leaves.
class NeoMuttRefusedRename : public NeoMuttOnMaildir, public ::testing::WithParamInterface<int> {};

TEST_P(NeoMuttRefusedRename, ReportsItKeepsTheFileAndCannotQuit) {
  const int error = GetParam();
  const auto before = list_maildir(maildir);
  const fs::path quit_refused = dir / "quit-refused";
  NeoMuttOptions options;
  options.extra_env = syscall_failure_env(POPFS_FAIL_SYSCALLS_LIBRARY, {.under = maildir, .rename_errno = error});
  // After a refused <quit>, NeoMutt is still there to run the shell command; then <exit>.
  std::string keys = neomutt_mark_read_keys("fixture bravo");
  keys.resize(keys.size() - std::string("<exit>").size());
  options.keys = keys + "<quit><shell-escape>touch " + quit_refused.string() + "<enter><exit>";
  const auto run = run_neomutt(maildir, options);
  ASSERT_TRUE(run.ok()) << run.describe();
  EXPECT_EQ(list_maildir(maildir), before);
  EXPECT_THAT(run.errors, ::testing::Contains(::testing::HasSubstr(std::strerror(error)))) << run.describe();
  EXPECT_TRUE(fs::exists(quit_refused)) << "NeoMutt quit although its changes could not be written";
}

INSTANTIATE_TEST_SUITE_P(Errno, NeoMuttRefusedRename, ::testing::Values(EROFS, EXDEV),
                         [](const auto& param_info) { return param_info.param == EROFS ? "EROFS" : "EXDEV"; });

// A refused unlink: NeoMutt does not look at unlink's result. It reports nothing, drops the
// message from its index as if deleted, and quits normally; the file stays.
TEST_F(NeoMuttOnMaildir, ARefusedUnlinkGoesUnnoticed) {
  const auto before = list_maildir(maildir);
  for (const int error : {EROFS, EPERM}) {
    NeoMuttOptions options;
    options.extra_env = syscall_failure_env(POPFS_FAIL_SYSCALLS_LIBRARY, {.under = maildir, .unlink_errno = error});
    const auto run = neomutt_delete(maildir, "fixture charlie", options);
    EXPECT_TRUE(run.errors.empty()) << run.describe();
    EXPECT_EQ(run.last_status().messages, 4u);
    EXPECT_EQ(list_maildir(maildir), before);
  }
}

TEST(NeoMuttHarness, RefusesKeysAndSubjectsItCannotPush) {
  EXPECT_THROW(neomutt_subject_pattern("say \"hi\""), std::invalid_argument);
  EXPECT_THROW(neomutt_subject_pattern("a<b>"), std::invalid_argument);
  EXPECT_THROW(neomutt_subject_pattern("caf\xc3\xa9"), std::invalid_argument);
  EXPECT_EQ(neomutt_subject_pattern("plain words"), "=s \"plain words\"");
  TempDir dir;
  EXPECT_THROW(run_neomutt(dir.path(), {.keys = "it's<exit>"}), std::invalid_argument);
}

TEST(NeoMuttHarness, KillsNeoMuttAtTheTimeout) {
  TempDir dir;
  write_fixture_maildir(dir / "Maildir", {{.subject = "one"}});
  NeoMuttOptions options;
  options.keys = "";  // never leaves
  options.timeout = std::chrono::seconds(3);
  const auto run = run_neomutt(dir / "Maildir", options);
  EXPECT_TRUE(run.timed_out);
  EXPECT_FALSE(run.ok());
  EXPECT_EQ(run.last_status().messages, 1u);  // it was running, with the index shown
}

TEST(NeoMuttHarness, AHelperThrowsWhenTheSubjectMatchesNothing) {
  TempDir dir;
  const auto written = write_fixture_maildir(dir / "Maildir", {{.subject = "one"}, {.subject = "two"}});
  EXPECT_THROW(neomutt_mark_read(dir / "Maildir", "three"), std::runtime_error);
  EXPECT_EQ(list_maildir(dir / "Maildir"), written) << "a subject matching nothing changed a file";
}

}  // namespace
}  // namespace popfs::test
