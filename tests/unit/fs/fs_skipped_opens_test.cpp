// Core tests of skipped opens (doc/SEMANTICS.md, "Opens skipped"): when the kernel may be
// told to open files without asking, and what the core then guarantees. Against FakeMaildrop.

#include <fcntl.h>

#include <algorithm>

#include "fs_fixture.hpp"

namespace popfs::test {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Not;

const std::string kDate = "Mon, 2 Jan 2006 15:04:05 -0700";

Result<fs::OpenInfo> open_read(fs::Filesystem& f, std::uint64_t ino) { return f.open(ino, O_RDONLY); }

class SkippedOpensTest : public FsTest {
 protected:
  // Reads every message whole and waits until every header stub is known too.
  void fetch_everything(const std::vector<std::string>& uidls) {
    for (const auto& u : uidls) ASSERT_TRUE(read_whole(ino_of(u + ".eml")).ok()) << u;
    for (const auto& u : uidls) {
      ASSERT_TRUE(settle_until([&] {
        auto a = filesystem->getattr(ino_of(u + ".eml", fs::kHeadersInode));
        return a && a->size_exact;
      })) << u;
    }
  }
};

TEST_F(SkippedOpensTest, OpensAreSkippedOnlyOnceEveryListedSizeIsExact) {
  maildrop.add("a", make_message("a", kDate, 3));
  maildrop.add("b", make_message("b", kDate, 3));
  start_fs();
  fetch_everything({"a"});
  // b's size is still the LIST size: opens must be answered (direct_io for b).
  auto a = open_read(*filesystem, ino_of("a.eml"));
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->skip_opens);
  EXPECT_TRUE(a->keep_cache);
  auto b = open_read(*filesystem, ino_of("b.eml"));
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->skip_opens);
  EXPECT_TRUE(b->direct_io);
  EXPECT_FALSE(filesystem->status().opens_skipped);

  fetch_everything({"b"});
  auto again = open_read(*filesystem, ino_of("a.eml"));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->skip_opens);
  EXPECT_TRUE(filesystem->status().opens_skipped);
  // Opening for writing is still refused whenever the kernel asks.
  auto write = filesystem->open(ino_of("a.eml"), O_WRONLY);
  ASSERT_FALSE(write.ok());
  EXPECT_EQ(write.error().to_errno(), EROFS);
}

TEST_F(SkippedOpensTest, ARemountOfAFullyCachedMailboxSkipsOpensAtOnce) {
  maildrop.add("a", make_message("a", kDate, 3));
  maildrop.add("b", make_message("b", kDate, 30));
  start_fs();
  fetch_everything({"a", "b"});
  ASSERT_TRUE(settle_until([&] { return cache().stats().value().bodies == 2; }));
  filesystem->shutdown();
  filesystem.reset();
  reopen_cache();
  start_fs();
  auto b = open_read(*filesystem, ino_of("b.eml", fs::kHeadersInode));
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->skip_opens);
  EXPECT_EQ(maildrop.retr_calls(), 2);  // nothing fetched again
}

TEST_F(SkippedOpensTest, WithOpensSkippedNewMailIsListedOnlyOnceItsSizesAreExact) {
  maildrop.add("a", make_message("a", kDate, 3));
  start_fs();
  fetch_everything({"a"});
  ASSERT_TRUE(open_read(*filesystem, ino_of("a.eml"))->skip_opens);

  const std::string fresh = make_message("fresh", "Tue, 3 Jan 2006 10:00:00 +0000", 40);
  maildrop.hold_retrs(true);
  maildrop.add("new", fresh, fresh.size() + 17);  // a LIST size that is not the real one
  refresh_now();
  // Listed by the server, fetched at once, but not shown with a provisional size.
  ASSERT_TRUE(settle_until([&] { return maildrop.retr_calls("new") == 1; }));
  EXPECT_THAT(root_names(), ElementsAre("a.eml"));
  EXPECT_THAT(header_names(), ElementsAre("a.eml"));
  auto hidden = filesystem->lookup(fs::kRootInode, "new.eml");
  ASSERT_FALSE(hidden.ok());
  EXPECT_EQ(hidden.error().to_errno(), ENOENT);
  EXPECT_EQ(filesystem->status().messages, 1u);

  maildrop.hold_retrs(false);
  ASSERT_TRUE(settle_until([&] { return root_names().size() == 2; }));
  EXPECT_THAT(root_names(), ElementsAre("a.eml", "new.eml"));
  EXPECT_TRUE(notifier.saw_inode(fs::kRootInode));
  EXPECT_TRUE(notifier.saw_entry(fs::kRootInode, "new.eml"));  // a negative dentry must go
  auto attr = filesystem->lookup(fs::kRootInode, "new.eml");
  ASSERT_TRUE(attr.ok());
  EXPECT_TRUE(attr->size_exact);
  EXPECT_EQ(attr->size, fresh.size());
  EXPECT_EQ(attr->mtime, 1136282400);  // from the stub's Date:, known before it was shown
  EXPECT_EQ(read_whole(attr->ino).value(), fresh);
  EXPECT_EQ(maildrop.retr_calls("new"), 1);
}

TEST_F(SkippedOpensTest, AHeldMessageWhoseFetchFailedIsFetchedAgainByTheNextListing) {
  maildrop.add("a", make_message("a", kDate, 3));
  start_fs();
  fetch_everything({"a"});
  ASSERT_TRUE(open_read(*filesystem, ino_of("a.eml"))->skip_opens);
  maildrop.add("late", make_message("late", kDate, 5));
  maildrop.fail_next_retrs(1, true);
  refresh_now();
  ASSERT_TRUE(settle_until([&] { return maildrop.retr_calls("late") == 1; }));
  ASSERT_TRUE(settle_until([&] { return !filesystem->status().last_error.empty(); }));
  EXPECT_THAT(root_names(), Not(Contains("late.eml")));
  refresh_now();
  ASSERT_TRUE(settle_until([&] { return root_names().size() == 2; }));
  EXPECT_EQ(read_whole(ino_of("late.eml")).value(), make_message("late", kDate, 5));
  EXPECT_EQ(maildrop.retr_calls("late"), 2);
}

TEST_F(SkippedOpensTest, UnixLineEndingsNeverSkipOpens) {
  maildrop.add("a", make_message("a", kDate, 3));
  fs::FsOptions o;
  o.lf = true;
  start_fs(o);
  fetch_everything({"a"});
  auto a = open_read(*filesystem, ino_of("a.eml"));
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->skip_opens);
  EXPECT_FALSE(filesystem->status().opens_skipped);
}

TEST_F(SkippedOpensTest, APageCacheMissOffersTheFollowingCachedFilesToTheKernel) {
  std::vector<std::string> uidls;
  for (int i = 0; i < 8; ++i) {
    uidls.push_back("m" + std::to_string(i));
    maildrop.add(uidls.back(), make_message(uidls.back(), kDate, 10));
  }
  maildrop.add("big", make_message("big", kDate, 20000));  // over the per-file limit
  maildrop.add("m9", make_message("m9", kDate, 10));
  fs::FsOptions o;
  o.push_ahead_file_limit = 512 * 1024;
  start_fs(o);
  uidls.push_back("big");
  uidls.push_back("m9");
  fetch_everything(uidls);
  ASSERT_TRUE(settle_until([&] { return cache().stats().value().bodies == uidls.size(); }));
  filesystem->shutdown();
  filesystem.reset();
  reopen_cache();
  o.push_ahead_files = 5;
  o.push_ahead_file_limit = 64 * 1024;
  start_fs(o);
  std::vector<std::uint64_t> inodes;
  for (const auto& u : uidls) inodes.push_back(ino_of(u + ".eml"));  // the kernel holds them all
  // Answered opens: nothing is offered ahead (the open itself pushes).
  ASSERT_TRUE(read(inodes[0], 0, 4096).ok());
  EXPECT_TRUE(notifier.ready_inodes().empty());
  ASSERT_TRUE(open_read(*filesystem, inodes[1])->skip_opens);
  // A read at offset 0 is a page-cache miss: the next five, minus the one over the limit.
  ASSERT_TRUE(read(inodes[4], 0, 4096).ok());
  settle();
  EXPECT_THAT(notifier.ready_inodes(), ElementsAre(inodes[5], inodes[6], inodes[7], inodes[9]));
  // With their bytes, each whole, once.
  settle();
  auto content = notifier.content_of(inodes[5]);
  ASSERT_TRUE(content.has_value());
  EXPECT_EQ(*content, make_message("m5", kDate, 10));
  EXPECT_FALSE(filesystem->local_content(inodes[5], 1 << 20).has_value()) << "the kernel has it";
  // A second miss does not offer what the kernel already has.
  ASSERT_TRUE(read(inodes[3], 0, 4096).ok());
  settle();
  const auto ready = notifier.ready_inodes();
  EXPECT_EQ(std::count(ready.begin(), ready.end(), inodes[5]), 1);
  EXPECT_EQ(std::count(ready.begin(), ready.end(), inodes[4]), 1);
  // The same in .headers/ (cp -r copies it too): a stub miss offers the following stubs.
  std::vector<std::uint64_t> stubs;
  for (const auto& u : uidls) stubs.push_back(ino_of(u + ".eml", fs::kHeadersInode));
  const std::size_t before = notifier.ready_inodes().size();
  ASSERT_TRUE(read(stubs[6], 0, 4096).ok());
  settle();
  const auto after = notifier.ready_inodes();
  EXPECT_THAT(std::vector<std::uint64_t>(after.begin() + static_cast<std::ptrdiff_t>(before), after.end()),
              ElementsAre(stubs[7], stubs[8], stubs[9]));
  auto stub = notifier.content_of(stubs[8]);
  ASSERT_TRUE(stub.has_value());
  EXPECT_EQ(*stub, read_whole(stubs[8]).value());
}

}  // namespace
}  // namespace popfs::test
