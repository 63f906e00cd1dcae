// Real mounts once every size is exact and the kernel opens files without asking popfs
// (doc/SEMANTICS.md, "Opens skipped"). Expected bytes come from an independent POP3 client.

#include <sys/stat.h>

#include "mount_fixture.hpp"
#include "popfs/util/uidl_name.hpp"

namespace popfs::test {
namespace {

class SkippedOpensMountTest : public MountTest {
 protected:
  // Mounts, reads every message and stub with cp -r, unmounts (which finishes the cache
  // writes), and mounts the same cache again: everything is cached and exact.
  void mount_fully_cached(std::size_t count) {
    mount();
    auto cp = shell("cp -r " + shell_quote(mp().string()) + " " + shell_quote((work_.path() / "first").string()));
    ASSERT_EQ(cp.exit_code, 0) << cp.output;
    ASSERT_TRUE(eventually([&] { return mount_->filesystem().status().cached_messages == count; }));
    unmount();
    ASSERT_TRUE(dovecot_->wait_for_sessions(dovecot_->logins()));
    fetched_before_remount_ = fetched_so_far();
    mount();
    EXPECT_FALSE(mount_->filesystem().status().opens_skipped);  // no file opened yet
  }

  // TOP and RETR commands of every finished session.
  std::size_t fetched_so_far() const {
    std::size_t fetched = 0;
    for (const auto& s : dovecot_->sessions()) fetched += s.retr + s.top;
    return fetched;
  }
  std::size_t fetched_before_remount_ = 0;

  // The first open of the mount switches it (every size is exact).
  void open_first(const IndependentMessage& m) {
    ASSERT_EQ(slurp(mp() / message_file_name(m.uidl)), m.content);
    ASSERT_TRUE(mount_->filesystem().status().opens_skipped);
  }
};

TEST_F(SkippedOpensMountTest, ARemountOfAFullyReadMailboxCopiesExactBytesWithoutTheServer) {
  start_dovecot(40, 1);
  const auto expected = fetch_all_independently(*dovecot_);
  mount_fully_cached(expected.size());
  open_first(expected[0]);
  const auto copy = work_.path() / "second";
  auto cp = shell("cp -r " + shell_quote(mp().string()) + " " + shell_quote(copy.string()));
  ASSERT_EQ(cp.exit_code, 0) << cp.output;
  for (const auto& m : expected) {
    EXPECT_TRUE(slurp(copy / message_file_name(m.uidl)) == m.content) << m.uidl;
    struct stat st;
    ASSERT_EQ(::stat((mp() / message_file_name(m.uidl)).c_str(), &st), 0);
    EXPECT_EQ(static_cast<std::size_t>(st.st_size), m.content.size()) << m.uidl;
  }
  const auto stubs = top_all_independently(*dovecot_, 0);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(slurp(copy / ".headers" / message_file_name(expected[i].uidl)), stubs[i]) << expected[i].uidl;
  }
  unmount();
  // This mount's sessions (the listing) fetched nothing: every byte came from the cache.
  ASSERT_TRUE(dovecot_->wait_for_sessions(dovecot_->logins()));
  EXPECT_EQ(fetched_so_far(), fetched_before_remount_ + stubs.size());  // only our own TOPs
}

TEST_F(SkippedOpensMountTest, WritesStillFailWithEROFSAndChangeNoByte) {
  start_dovecot(3);
  const auto expected = fetch_all_independently(*dovecot_);
  mount_fully_cached(expected.size());
  open_first(expected[0]);
  const auto file = mp() / message_file_name(expected[1].uidl);
  const std::string q = shell_quote(file.string());
  for (const std::string& cmd : {"echo x >> " + q, ": > " + q, "truncate -s 0 " + q, "dd if=/dev/zero of=" + q +
                                 " bs=1 count=4 conv=notrunc status=none"}) {
    auto r = shell(cmd);
    EXPECT_NE(r.exit_code, 0) << cmd;
    EXPECT_NE(r.output.find("Read-only file system"), std::string::npos) << cmd << ": " << r.output;
    EXPECT_EQ(slurp(file), expected[1].content) << cmd;
  }
  // A shared writable mapping changes the kernel's pages before any write reaches popfs:
  // the write-back is refused and the pages are dropped, so readers get the message again.
  auto mmap = shell("python3 -c 'import mmap, os, sys\n"
                    "fd = os.open(sys.argv[1], os.O_RDWR)\n"
                    "m = mmap.mmap(fd, 0)\n"
                    "m[0:4] = b\"XXXX\"\n"
                    "try:\n    m.flush()\nexcept OSError as e:\n    print(\"flush:\", e.strerror)\n"
                    "m.close()\n' " + q);
  EXPECT_EQ(mmap.exit_code, 0) << mmap.output;
  EXPECT_TRUE(eventually([&] { return slurp(file) == expected[1].content; })) << mmap.output;
  struct stat st;
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(static_cast<std::size_t>(st.st_size), expected[1].content.size());
}

TEST_F(SkippedOpensMountTest, NewMailAppearsOnceFetchedWithItsExactSize) {
  start_dovecot(4);
  const auto expected = fetch_all_independently(*dovecot_);
  mount_fully_cached(expected.size());
  open_first(expected[2]);
  dovecot_->deliver("From: x@example.org\nSubject: fresh\nDate: Tue, 3 Jan 2006 00:00:00 +0000\n\nnew mail\n");
  const auto after = dovecot_->uidls();
  ASSERT_EQ(after.size(), 5u);
  mount_->filesystem().refresh();
  const auto fresh = mp() / message_file_name(after.back());
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(fresh); }));
  const std::string content =
      "From: x@example.org\r\nSubject: fresh\r\nDate: Tue, 3 Jan 2006 00:00:00 +0000\r\n\r\nnew mail\r\n";
  // Shown only once fetched: the first stat already has the exact size and the Date: mtime.
  struct stat st;
  ASSERT_EQ(::stat(fresh.c_str(), &st), 0);
  EXPECT_EQ(static_cast<std::size_t>(st.st_size), content.size());
  EXPECT_EQ(st.st_mtime, 1136246400);
  EXPECT_EQ(slurp(fresh), content);
  EXPECT_EQ(ls(mp()).size(), 5u);
  EXPECT_EQ(slurp(mp() / ".headers" / message_file_name(after.back())),
            "From: x@example.org\r\nSubject: fresh\r\nDate: Tue, 3 Jan 2006 00:00:00 +0000\r\n\r\n");
}

}  // namespace
}  // namespace popfs::test
