// Real mounts of a real private Dovecot through fuse::Session, fs::Filesystem and the real
// Pop3Maildrop, with real tools on the mount. Expected bytes come from an independent POP3
// client (Python's poplib), never from popfs.

#include <sys/stat.h>
#include <sys/xattr.h>

#include <algorithm>
#include <set>

#include "mount_fixture.hpp"
#include "popfs/util/uidl_name.hpp"
#include "popfs_test/independent_client.hpp"

namespace popfs::test {
namespace {

TEST_F(MountTest, CatAndStatSeeExactlyTheServersBytes) {
  start_dovecot(12, 1);
  const auto expected = fetch_all_independently(*dovecot_);
  mount();
  EXPECT_EQ(ls(mp()), sorted_names(expected));
  for (const auto& m : expected) {
    const auto file = mp() / message_file_name(m.uidl);
    struct stat st;
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0444u);
    auto cat = shell("cat " + shell_quote(file.string()));
    ASSERT_EQ(cat.exit_code, 0);
    EXPECT_TRUE(cat.output == m.content) << m.uidl << ": " << cat.output.size() << " bytes read, "
                                      << m.content.size() << " expected";
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(static_cast<std::size_t>(st.st_size), cat.output.size()) << m.uidl;
  }
  struct stat dir;
  ASSERT_EQ(::stat(mp().c_str(), &dir), 0);
  EXPECT_EQ(dir.st_mode & 07777, 0555u);
}

// Bodies over FsOptions::stream_bytes go to the cache in pieces while Dovecot sends them.
TEST_F(MountTest, AMessageStreamedIntoTheCacheReadsExactlyBeforeAndAfterARemount) {
  start_dovecot(3, 1);
  const auto expected = fetch_all_independently(*dovecot_);
  auto options = default_options();
  options.stream_bytes = 64 * 1024;
  options.stream_piece_bytes = 16 * 1024;
  const auto large = std::max_element(expected.begin(), expected.end(), [](const auto& a, const auto& b) {
    return a.content.size() < b.content.size();
  });
  ASSERT_GT(large->content.size(), 4 * options.stream_bytes);
  const auto file = mp() / message_file_name(large->uidl);
  mount(options);
  EXPECT_TRUE(slurp(file) == large->content) << "read through the mount differs from RETR";
  struct stat st;
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(static_cast<std::size_t>(st.st_size), large->content.size());
  unmount();
  ASSERT_TRUE(dovecot_->wait_for_sessions(dovecot_->logins()));
  std::size_t retr_before = 0;
  for (const auto& s : dovecot_->sessions()) retr_before += s.retr;
  mount(options);
  EXPECT_TRUE(slurp(file) == large->content) << "the cached copy differs from RETR";
  unmount();
  ASSERT_TRUE(dovecot_->wait_for_sessions(dovecot_->logins()));
  std::size_t retr_after = 0;
  for (const auto& s : dovecot_->sessions()) retr_after += s.retr;
  EXPECT_EQ(retr_after, retr_before) << "the second read came from the server, not the cache";
}

TEST_F(MountTest, CpTarRsyncAndGrepCopyExactBytes) {
  start_dovecot(30, 2);
  const auto expected = fetch_all_independently(*dovecot_);
  mount();
  const auto copy = work_.path() / "copy";
  auto cp = shell("cp -r " + shell_quote(mp().string()) + " " + shell_quote(copy.string()));
  ASSERT_EQ(cp.exit_code, 0) << cp.output;
  const auto archive = work_.path() / "mail.tar";
  auto tar = shell("tar -cf " + shell_quote(archive.string()) + " -C " + shell_quote(mp().string()) + " .");
  EXPECT_EQ(tar.exit_code, 0) << tar.output;
  EXPECT_EQ(tar.output, "") << "tar warned";
  const auto untarred = work_.path() / "untarred";
  std::filesystem::create_directories(untarred);
  ASSERT_EQ(shell("tar -xf " + shell_quote(archive.string()) + " -C " + shell_quote(untarred.string())).exit_code, 0);
  const auto synced = work_.path() / "synced";
  auto rsync = shell("rsync -a " + shell_quote(mp().string() + "/") + " " + shell_quote(synced.string() + "/"));
  EXPECT_EQ(rsync.exit_code, 0) << rsync.output;
  for (const auto& m : expected) {
    const std::string name = message_file_name(m.uidl);
    EXPECT_TRUE(slurp(copy / name) == m.content) << "cp: " << name;
    EXPECT_TRUE(slurp(untarred / name) == m.content) << "tar: " << name;
    EXPECT_TRUE(slurp(synced / name) == m.content) << "rsync: " << name;
    EXPECT_EQ(std::filesystem::file_size(mp() / name), m.content.size()) << name;
  }
  auto grep = shell("grep -r -l -i '^message-id:' " + shell_quote(mp().string()) + " | wc -l");
  EXPECT_EQ(std::stoul(grep.output), 2 * expected.size());  // every message and every stub
}

TEST_F(MountTest, LfMountPresentsUnixLineEndingsWithExactSizes) {
  start_dovecot(6, 1);
  const auto expected = fetch_all_independently(*dovecot_);
  auto options = default_options();
  options.lf = true;
  mount(options);
  for (const auto& m : expected) {
    std::string lf;
    for (std::size_t i = 0; i < m.content.size(); ++i) {
      if (m.content[i] == '\r' && i + 1 < m.content.size() && m.content[i + 1] == '\n') continue;
      lf += m.content[i];
    }
    const auto file = mp() / message_file_name(m.uidl);
    const std::string bytes = slurp(file);
    EXPECT_EQ(bytes.size(), lf.size()) << m.uidl;
    EXPECT_TRUE(bytes == lf) << m.uidl;
    EXPECT_EQ(std::filesystem::file_size(file), lf.size()) << m.uidl;
  }
}

TEST_F(MountTest, TarOfAColdMountIsExactAndWarningFree) {
  start_dovecot(25, 1);
  const auto expected = fetch_all_independently(*dovecot_);
  mount();  // nothing read yet: sizes are LIST sizes, stubs may still be on their way
  const auto archive = work_.path() / "cold.tar";
  auto tar = shell("tar -cf " + shell_quote(archive.string()) + " -C " + shell_quote(mp().string()) + " .");
  EXPECT_EQ(tar.exit_code, 0) << tar.output;
  EXPECT_EQ(tar.output, "") << "tar warned";
  const auto out = work_.path() / "out";
  std::filesystem::create_directories(out);
  ASSERT_EQ(shell("tar -xf " + shell_quote(archive.string()) + " -C " + shell_quote(out.string())).exit_code, 0);
  for (const auto& m : expected) {
    const std::string name = message_file_name(m.uidl);
    EXPECT_TRUE(slurp(out / name) == m.content) << name;
    EXPECT_EQ(slurp(out / ".headers" / name), m.content.substr(0, m.content.find("\r\n\r\n") + 4)) << name;
  }
}

TEST_F(MountTest, HeadOfALargeMessageUsesTopAndHeadersNeverRetr) {
  start_dovecot(8, 2);
  const auto expected = fetch_all_independently(*dovecot_);
  mount();
  std::size_t large_seen = 0;
  for (const auto& m : expected) {
    const auto name = message_file_name(m.uidl);
    EXPECT_EQ(slurp(mp() / ".headers" / name), top_independently(*dovecot_, m.uidl, 0)) << name;
    if (m.content.size() < 256 * 1024) continue;
    ++large_seen;
    auto head = shell("head -c 300 " + shell_quote((mp() / name).string()));
    EXPECT_EQ(head.output, m.content.substr(0, 300));
  }
  ASSERT_EQ(large_seen, 2u);
  unmount();
  // Sessions of this test only (fetch_all_independently and top_independently log in too).
  ASSERT_TRUE(dovecot_->wait_for_sessions(dovecot_->logins()));
  std::size_t retr = 0;
  for (const auto& s : dovecot_->sessions()) retr += s.retr;
  // The independent client's own RETRs: one per message, once.
  EXPECT_EQ(retr, expected.size()) << "popfs issued RETR for .headers or head";
}

TEST_F(MountTest, MutationsFailWithEROFSAndXattrsComeFromTheStub) {
  start_dovecot(3);
  const auto expected = fetch_all_independently(*dovecot_);
  mount();
  const auto file = mp() / message_file_name(expected[0].uidl);
  for (const std::string& cmd : {"echo x >> " + shell_quote(file.string()), "touch " + shell_quote((mp() / "new").string()),
                                "mkdir " + shell_quote((mp() / "d").string()),
                                "mv " + shell_quote(file.string()) + " " + shell_quote((mp() / "x.eml").string()),
                                "truncate -s 0 " + shell_quote(file.string()),
                                "ln " + shell_quote(file.string()) + " " + shell_quote((mp() / "l").string())}) {
    auto r = shell(cmd);
    EXPECT_NE(r.exit_code, 0) << cmd;
    EXPECT_NE(r.output.find("Read-only file system"), std::string::npos) << cmd << ": " << r.output;
  }
  EXPECT_EQ(slurp(file), expected[0].content);
  char value[256];
  const ssize_t n = ::getxattr(file.c_str(), "user.pop3.uidl", value, sizeof value);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(value, static_cast<std::size_t>(n)), expected[0].uidl);
  EXPECT_GT(::getxattr(file.c_str(), "user.mail.subject", value, sizeof value), 0);
  EXPECT_NE(::setxattr(file.c_str(), "user.x", "y", 1, 0), 0);
  EXPECT_EQ(errno, EROFS);
}

TEST_F(MountTest, RmDeletesExactlyThoseMessagesByUnmount) {
  start_dovecot(40);
  const auto expected = fetch_all_independently(*dovecot_);
  mount();
  std::set<std::string> doomed = {expected[3].uidl, expected[17].uidl, expected[39].uidl};
  std::string rm = "rm";
  for (const auto& u : doomed) rm += " " + shell_quote((mp() / message_file_name(u)).string());
  auto r = shell(rm);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ls(mp()).size(), 37u);  // gone from the listing at once
  auto rm_stub = shell("rm " + shell_quote((mp() / ".headers" / message_file_name(expected[0].uidl)).string()));
  EXPECT_NE(rm_stub.exit_code, 0);
  ASSERT_TRUE(mount_->unmount().ok());
  std::vector<std::string> remaining;
  for (const auto& m : expected) {
    if (doomed.count(m.uidl) == 0) remaining.push_back(m.uidl);
  }
  EXPECT_EQ(uidls_independently(pop3s_endpoint(*dovecot_)), remaining);
}

TEST_F(MountTest, DeletionCutBeforeQuitIsCommittedOnTheNextMount) {
  start_dovecot(6);
  const auto expected = fetch_all_independently(*dovecot_);
  auto options = default_options();
  options.deletion_batch_delay = std::chrono::seconds(60);  // nothing commits by itself
  mount(options);
  ASSERT_EQ(shell("rm " + shell_quote((mp() / message_file_name(expected[2].uidl)).string())).exit_code, 0);
  dovecot_->stop();  // the server goes away before any QUIT
  EXPECT_FALSE(mount_->unmount(std::chrono::seconds(15)).ok());
  mount_.reset();
  dovecot_->start();
  EXPECT_EQ(uidls_independently(pop3s_endpoint(*dovecot_)).size(), 6u);  // nothing deleted yet
  mount();  // pending deletions from the cache are committed after start
  std::vector<std::string> remaining;
  for (const auto& m : expected) {
    if (m.uidl != expected[2].uidl) remaining.push_back(m.uidl);
  }
  EXPECT_TRUE(eventually([&] { return uidls_independently(pop3s_endpoint(*dovecot_)) == remaining; },
                         std::chrono::seconds(20)));
  EXPECT_EQ(ls(mp()).size(), 5u);
}

TEST_F(MountTest, NewMailAppearsAndMailDeletedElsewhereDisappearsWithinPoll) {
  start_dovecot(4);
  auto options = default_options();
  options.poll = std::chrono::seconds(1);
  mount(options);
  const auto before = dovecot_->uidls();
  ASSERT_EQ(ls(mp()).size(), 4u);
  dovecot_->deliver("From: x@example.org\nSubject: fresh\nDate: Tue, 3 Jan 2006 00:00:00 +0000\n\nnew mail\n");
  const auto after = dovecot_->uidls();
  ASSERT_EQ(after.size(), 5u);
  const auto fresh = mp() / message_file_name(after.back());
  EXPECT_TRUE(eventually([&] { return std::filesystem::exists(fresh); }));
  EXPECT_EQ(slurp(fresh), "From: x@example.org\r\nSubject: fresh\r\nDate: Tue, 3 Jan 2006 00:00:00 +0000\r\n\r\nnew mail\r\n");
  struct stat st;
  ASSERT_EQ(::stat(fresh.c_str(), &st), 0);
  EXPECT_TRUE(eventually([&] { return ::stat(fresh.c_str(), &st) == 0 && st.st_mtime == 1136246400; }));

  dovecot_->remove_message(0);
  const auto gone = mp() / message_file_name(before.front());
  EXPECT_TRUE(eventually([&] { return !std::filesystem::exists(gone) && ls(mp()).size() == 4; }));
}

TEST_F(MountTest, OfflineRemountServesCachedListingAndBodiesAndFailsUncachedReadsWithEIO) {
  start_dovecot(5);
  const auto expected = fetch_all_independently(*dovecot_);
  mount();
  ASSERT_EQ(slurp(mp() / message_file_name(expected[1].uidl)), expected[1].content);
  unmount();
  dovecot_->stop();
  mount();
  EXPECT_EQ(ls(mp()), sorted_names(expected));
  EXPECT_EQ(slurp(mp() / message_file_name(expected[1].uidl)), expected[1].content);
  const auto start = std::chrono::steady_clock::now();
  auto cat = shell("cat " + shell_quote((mp() / message_file_name(expected[3].uidl)).string()));
  EXPECT_NE(cat.exit_code, 0);
  EXPECT_NE(cat.output.find("Input/output error"), std::string::npos) << cat.output;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

// With pop3_lock_session, a session holds the maildrop lock until it ends: an idle mount must
// have logged out (QUIT, not a dropped connection) so another mail client can log in at once.
TEST_F(MountTest, IdleMountLeavesTheMaildropLockToOtherClients) {
  start_dovecot(6, 0, {"pop3_lock_session = yes"});
  const auto expected = fetch_all_independently(*dovecot_);
  mount();
  ASSERT_EQ(slurp(mp() / message_file_name(expected[2].uidl)), expected[2].content);
  EXPECT_GE(dovecot_->logins(), 2u);  // the independent fetch, then popfs
  // Every session that logged in has logged out again, after the mount's idle grace.
  ASSERT_TRUE(eventually([&] { return dovecot_->sessions().size() == dovecot_->logins(); }))
      << dovecot_->log();
  for (const auto& session : dovecot_->sessions()) EXPECT_TRUE(session.quit) << dovecot_->log();
  // Dovecot would make a second locker wait ~10 s and then answer [IN-USE].
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(uidls_independently(pop3s_endpoint(*dovecot_)).size(), expected.size());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  // The mount still works afterwards: reading another message logs in again.
  EXPECT_EQ(slurp(mp() / message_file_name(expected[4].uidl)), expected[4].content);
}

}  // namespace
}  // namespace popfs::test
