// Core tests: deletion queue, polling and listing diffs, UIDL resets, offline behaviour.

#include <cerrno>

#include "fs_fixture.hpp"

namespace popfs::test {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

fs::FsOptions quick_deletions() {
  fs::FsOptions o;
  o.deletion_batch_delay = std::chrono::milliseconds(20);
  o.deletion_retry_min = std::chrono::milliseconds(20);
  o.deletion_retry_max = std::chrono::milliseconds(100);
  o.prefetch_stubs = false;
  return o;
}

TEST_F(FsTest, UnlinkIsDurableBeforeItReturnsHidesAtOnceAndCommitsInTheBackground) {
  for (auto u : {"a", "b", "c"}) maildrop.add(u, std::string("msg ") + u + "\r\n");
  auto o = quick_deletions();
  o.deletion_batch_delay = std::chrono::milliseconds(300);
  start_fs(o);
  ASSERT_TRUE(filesystem->unlink(fs::kRootInode, "b.eml", 0).ok());
  // Recorded in the cache and gone from both directories before any DELE.
  EXPECT_THAT(cache().pending_deletions().value(), ElementsAre(MessageId{"b", 1}));
  EXPECT_THAT(root_names(), ElementsAre("a.eml", "c.eml"));
  EXPECT_THAT(header_names(), ElementsAre("a.eml", "c.eml"));
  EXPECT_FALSE(filesystem->lookup(fs::kRootInode, "b.eml").ok());
  EXPECT_EQ(filesystem->status().pending_deletions, 1u);
  EXPECT_TRUE(notifier.saw_entry(fs::kHeadersInode, "b.eml"));
  // Batched: a second unlink soon after goes into the same session.
  ASSERT_TRUE(filesystem->unlink(fs::kRootInode, "c.eml", 0).ok());
  ASSERT_TRUE(settle_until([&] { return maildrop.uidls() == std::vector<std::string>{"a"}; }));
  EXPECT_EQ(maildrop.commit_calls(), 1);
  EXPECT_TRUE(settle_until([&] { return cache().pending_deletions().value().empty(); }));
  EXPECT_EQ(filesystem->status().pending_deletions, 0u);
}

TEST_F(FsTest, FailedCommitsAreRetriedUntilCommitted) {
  maildrop.add("a", "x\r\n");
  maildrop.add("b", "y\r\n");
  start_fs(quick_deletions());
  maildrop.fail_next_commits(2);
  ASSERT_TRUE(filesystem->unlink(fs::kRootInode, "a.eml", 0).ok());
  ASSERT_TRUE(settle_until([&] { return maildrop.uidls() == std::vector<std::string>{"b"}; }));
  EXPECT_EQ(maildrop.commit_calls(), 3);
  EXPECT_TRUE(settle_until([&] { return cache().pending_deletions().value().empty(); }));
  // A later listing does not bring it back.
  refresh_now();
  EXPECT_THAT(root_names(), ElementsAre("b.eml"));
}

TEST_F(FsTest, ReadOnlyMountRefusesUnlinkAndRecordsNothing) {
  maildrop.add("a", "x\r\n");
  auto o = quick_deletions();
  o.read_only = true;
  start_fs(o);
  auto r = filesystem->unlink(fs::kRootInode, "a.eml", 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().to_errno(), EROFS);
  EXPECT_THAT(cache().pending_deletions().value(), IsEmpty());
  EXPECT_THAT(root_names(), ElementsAre("a.eml"));
}

TEST_F(FsTest, UnlinkInsideHeadersIsEROFSAndUnknownNameIsENOENT) {
  maildrop.add("a", "x\r\n");
  start_fs(quick_deletions());
  auto r = filesystem->unlink(fs::kHeadersInode, "a.eml", 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().to_errno(), EROFS);
  auto missing = filesystem->unlink(fs::kRootInode, "zzz.eml", 0);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().to_errno(), ENOENT);
  EXPECT_THAT(cache().pending_deletions().value(), IsEmpty());
  EXPECT_EQ(maildrop.uidls().size(), 1u);
}

TEST_F(FsTest, DeletionsPendingFromAnEarlierRunAreCommittedAfterStart) {
  maildrop.add("a", "x\r\n");
  maildrop.add("b", "y\r\n");
  MessageTable earlier;  // what an earlier run listed
  earlier.append("a", 1, 3);
  earlier.append("b", 2, 3);
  ASSERT_TRUE(cache().apply_listing(earlier, 1000).ok());
  ASSERT_TRUE(cache().add_pending_deletion({"a", 1}).ok());
  start_fs(quick_deletions());
  EXPECT_THAT(root_names(), ElementsAre("b.eml"));  // hidden at once, even before the commit
  ASSERT_TRUE(settle_until([&] { return maildrop.uidls() == std::vector<std::string>{"b"}; }));
  EXPECT_TRUE(settle_until([&] { return cache().pending_deletions().value().empty(); }));
}

TEST_F(FsTest, FlushDeletionsCommitsNowAndReportsFailure) {
  maildrop.add("a", "x\r\n");
  maildrop.add("b", "y\r\n");
  auto o = quick_deletions();
  o.deletion_batch_delay = std::chrono::seconds(30);  // only flush can commit in time
  start_fs(o);
  ASSERT_TRUE(filesystem->unlink(fs::kRootInode, "a.eml", 0).ok());
  EXPECT_TRUE(flush(std::chrono::seconds(10)).ok());
  EXPECT_EQ(maildrop.uidls(), std::vector<std::string>{"b"});

  maildrop.set_offline(true);
  ASSERT_TRUE(filesystem->unlink(fs::kRootInode, "b.eml", 0).ok());
  auto r = flush(std::chrono::seconds(10));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(cache().pending_deletions().value().size(), 1u);  // still queued
}

// Twins are told apart only by order, which another client may change before the commit:
// popfs refuses to delete either rather than risk deleting the other.
TEST_F(FsTest, RefusesToDeleteAMessageWhoseUidlIsShared) {
  maildrop.add("dup", "first\r\n");
  maildrop.add("dup", "second\r\n");
  maildrop.add("z", "z\r\n");
  start_fs(quick_deletions());
  for (const char* name : {"dup.eml", "dup~2.eml"}) {
    auto refused = filesystem->unlink(fs::kRootInode, name, 0);
    ASSERT_FALSE(refused.ok()) << name;
    EXPECT_EQ(refused.error().to_errno(), EPERM) << name;
  }
  EXPECT_TRUE(cache().pending_deletions().value().empty());
  ASSERT_TRUE(filesystem->unlink(fs::kRootInode, "z.eml", 0).ok());
  ASSERT_TRUE(flush(std::chrono::seconds(10)).ok());
  EXPECT_EQ(maildrop.uidls(), (std::vector<std::string>{"dup", "dup"}));
  EXPECT_THAT(root_names(), ElementsAre("dup.eml", "dup~2.eml"));
}

TEST_F(FsTest, RefreshShowsNewMailAndDropsMailDeletedElsewhere) {
  maildrop.add("a", "x\r\n");
  maildrop.add("b", "y\r\n");
  start_fs(quick_deletions());
  const auto b_ino = ino_of("b.eml");  // the kernel holds a reference to b
  maildrop.remove("b");
  maildrop.add("c", "new\r\n");
  refresh_now();
  EXPECT_THAT(root_names(), ElementsAre("a.eml", "c.eml"));
  EXPECT_TRUE(notifier.saw_entry(fs::kRootInode, "b.eml"));
  EXPECT_TRUE(notifier.saw_entry(fs::kHeadersInode, "b.eml"));
  EXPECT_TRUE(notifier.saw_inode(fs::kRootInode));
  EXPECT_EQ(read_whole(ino_of("c.eml")).value(), "new\r\n");
  // The vanished inode still answers getattr until the kernel forgets it, then not.
  EXPECT_TRUE(filesystem->getattr(b_ino).ok());
  filesystem->forget(b_ino, 1);
  EXPECT_FALSE(filesystem->getattr(b_ino).ok());
}

TEST_F(FsTest, PollsWhileInUse) {
  maildrop.add("a", "x\r\n");
  auto o = quick_deletions();
  o.poll = std::chrono::seconds(1);
  start_fs(o);
  maildrop.add("b", "y\r\n");
  (void)filesystem->getattr(fs::kRootInode);  // in use
  EXPECT_TRUE(settle_until([&] { return root_names().size() == 2; }, std::chrono::seconds(5)));
}

TEST_F(FsTest, IdleMountDoesNotPoll) {
  maildrop.add("a", "x\r\n");
  auto o = quick_deletions();
  o.poll = std::chrono::seconds(1);
  start_fs(o);
  const int lists = maildrop.list_calls();
  EXPECT_FALSE(settle_until([&] { return maildrop.list_calls() > lists; }, std::chrono::milliseconds(2500)));
}

TEST_F(FsTest, WholesaleUidlChangeIsAResetNotThousandsOfDiffs) {
  for (int i = 0; i < 20; ++i) maildrop.add("old" + std::to_string(i), "x\r\n");
  start_fs(quick_deletions());
  ASSERT_TRUE(read_whole(ino_of("old3.eml")).ok());
  // A deletion that cannot be committed: a diff would keep it queued, a reset forgets it
  // (its UIDL no longer means anything on this server).
  maildrop.fail_next_commits(1000);
  ASSERT_TRUE(filesystem->unlink(fs::kRootInode, "old5.eml", 0).ok());
  std::vector<FakeMaildrop::Message> renumbered;
  for (int i = 0; i < 20; ++i) renumbered.push_back({"new" + std::to_string(i), "x\r\n", std::nullopt});
  maildrop.replace_all(renumbered);
  refresh_now();
  EXPECT_TRUE(cache().pending_deletions().value().empty());
  auto names = root_names();
  ASSERT_EQ(names.size(), 20u);
  EXPECT_EQ(names.front(), "new0.eml");
  EXPECT_EQ(cache().stats().value().bodies, 0u);
  EXPECT_EQ(filesystem->status().pending_deletions, 0u);
  // An ordinary change is not a reset: a queued deletion survives it.
  ASSERT_TRUE(filesystem->unlink(fs::kRootInode, "new7.eml", 0).ok());
  maildrop.add("new20", "y\r\n");
  refresh_now();
  EXPECT_EQ(cache().pending_deletions().value().size(), 1u);
  EXPECT_EQ(root_names().size(), 20u);
}

// The same reset, when the server renamed everything while nothing was mounted: the first
// listing of the next mount is checked against the cache (the namespace is still empty).
TEST_F(FsTest, AUidlResetWhileUnmountedIsRecognisedByTheNextMount) {
  for (int i = 0; i < 10; ++i) maildrop.add("old" + std::to_string(i), "x\r\n");
  start_fs(quick_deletions());
  // A deletion that cannot be committed: a diff would keep it queued, a reset forgets it.
  maildrop.fail_next_commits(1000);
  ASSERT_TRUE(filesystem->unlink(fs::kRootInode, "old5.eml", 0).ok());
  filesystem->shutdown();
  filesystem.reset();
  reopen_cache();
  std::vector<FakeMaildrop::Message> renumbered;
  for (int i = 0; i < 10; ++i) renumbered.push_back({"new" + std::to_string(i), "x\r\n", std::nullopt});
  maildrop.replace_all(renumbered);
  start_fs(quick_deletions());
  EXPECT_EQ(root_names().front(), "new0.eml");
  EXPECT_TRUE(cache().pending_deletions().value().empty()) << "the cache was diffed, not started over";
  EXPECT_EQ(cache().stats().value().messages, 10u);
}

TEST_F(FsTest, OfflineServesTheCachedListingAndBodiesAndQueuesUnlinks) {
  maildrop.add("a", "cached body\r\n");
  maildrop.add("b", "never fetched\r\n");
  maildrop.add("c", "to delete\r\n");
  start_fs(quick_deletions());
  ASSERT_EQ(read_whole(ino_of("a.eml")).value(), "cached body\r\n");
  filesystem->shutdown();
  filesystem.reset();

  maildrop.set_offline(true);
  make_fs(quick_deletions());
  ASSERT_TRUE(filesystem->start().ok());
  EXPECT_TRUE(settle_until([&] { return !filesystem->status().last_error.empty(); }));
  EXPECT_THAT(root_names(), ElementsAre("a.eml", "b.eml", "c.eml"));
  EXPECT_EQ(read_whole(ino_of("a.eml")).value(), "cached body\r\n");
  auto uncached = read(ino_of("b.eml"), 0, 4096);
  ASSERT_FALSE(uncached.ok());
  EXPECT_EQ(uncached.error().to_errno(), EIO);
  ASSERT_TRUE(filesystem->unlink(fs::kRootInode, "c.eml", 0).ok());
  EXPECT_EQ(cache().pending_deletions().value().size(), 1u);

  maildrop.set_offline(false);  // back online: the queued deletion goes through
  EXPECT_TRUE(settle_until([&] { return maildrop.uidls() == std::vector<std::string>{"a", "b"}; }));
}

TEST_F(FsTest, ShutdownShutsTheMaildropDownOnce) {
  maildrop.add("a", "x\r\n");
  start_fs();
  filesystem->shutdown();
  filesystem->shutdown();
  EXPECT_EQ(maildrop.shutdown_calls(), 1);
}

}  // namespace
}  // namespace popfs::test
