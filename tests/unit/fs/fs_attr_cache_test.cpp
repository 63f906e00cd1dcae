// Provisional sizes and the kernel's attribute cache (doc/SEMANTICS.md, st_size): a LIST
// size may be cached by the kernel briefly, so `ls -l` costs no GETATTR per file; once the
// exact size is known the kernel is made to drop it before anyone can read by it.

#include <fcntl.h>

#include "fs_fixture.hpp"

namespace popfs::test {
namespace {

const std::string kDate = "Mon, 2 Jan 2006 15:04:05 -0700";

class AttrCacheTest : public FsTest {
 protected:
  // One message whose LIST size is `off` bytes short of its true size.
  std::string add_short_listed(const std::string& uidl, std::size_t off = 9) {
    std::string content = make_message(uidl, kDate, 20);
    maildrop.add(uidl, content, content.size() - off);
    return content;
  }
};

TEST_F(AttrCacheTest, TheKernelDropsTheListSizeBeforeTheReaderThatLearntTheExactOneIsAnswered) {
  const auto content = add_short_listed("a");
  start_fs();
  const auto ino = ino_of("a.eml");
  const auto before = filesystem->getattr(ino).value();
  ASSERT_FALSE(before.size_exact);
  EXPECT_GT(before.attr_timeout, 0.0);  // cached: ls -l needs no GETATTR per file
  std::optional<bool> reader_answered_first;
  auto pending = start_read(ino, 0, content.size() + 100);
  notifier.on_inode_changed = [&, result = pending.result](std::uint64_t changed) {
    if (changed == ino && !reader_answered_first) reader_answered_first = result->has_value();
  };
  ASSERT_TRUE(settle_until([&] { return pending.done(); }));
  EXPECT_EQ(pending.result->value().value(), content);
  ASSERT_TRUE(reader_answered_first.has_value()) << "the kernel was never told";
  EXPECT_FALSE(*reader_answered_first) << "the reader was answered while the kernel still held the LIST size";
  const auto after = filesystem->getattr(ino).value();
  EXPECT_TRUE(after.size_exact);
  EXPECT_EQ(after.size, content.size());
  EXPECT_EQ(after.attr_timeout, fs::FsOptions{}.attr_timeout);
}

// The kernel may be making the inode from a reply that carried the LIST size when the exact
// size is learnt: no invalidation reaches an inode it has not made yet. The next open drops
// the attributes before it is answered, so the page cache is never read to a stale size.
TEST_F(AttrCacheTest, AnOpenAfterTheSizeWasLearntOutOfTheKernelsReachDropsItsAttributesFirst) {
  const auto content = add_short_listed("a");
  add_short_listed("b");  // never read: opens stay answered
  start_fs();
  const auto ino = ino_of("a.eml");
  filesystem->forget(ino, 1);  // as if the kernel's reference were still on its way
  ASSERT_EQ(read_whole(ino).value(), content);
  EXPECT_FALSE(notifier.saw_inode(ino));  // nothing the kernel holds to tell
  bool told_during_open = false;
  bool in_open = true;
  notifier.on_inode_changed = [&](std::uint64_t changed) { told_during_open |= in_open && changed == ino; };
  auto opened = filesystem->open(ino, O_RDONLY);
  in_open = false;
  ASSERT_TRUE(opened.ok());
  EXPECT_TRUE(opened->keep_cache);
  EXPECT_FALSE(opened->direct_io);
  EXPECT_TRUE(told_during_open);
  // Once dropped, later opens cost nothing more.
  told_during_open = false;
  in_open = true;
  ASSERT_TRUE(filesystem->open(ino, O_RDONLY).ok());
  EXPECT_FALSE(told_during_open);
}

TEST_F(AttrCacheTest, SkippingOpensFirstDropsEveryListSizeTheKernelMayStillHold) {
  const auto a = add_short_listed("a");
  const auto b = add_short_listed("b");
  start_fs();
  const auto ino_a = ino_of("a.eml");
  const auto ino_b = ino_of("b.eml");
  filesystem->forget(ino_a, 1);
  filesystem->forget(ino_b, 1);
  ASSERT_EQ(read_whole(ino_a).value(), a);
  ASSERT_EQ(read_whole(ino_b).value(), b);
  ASSERT_TRUE(settle_until([&] {
    auto stub_a = filesystem->getattr(ino_of("a.eml", fs::kHeadersInode));
    auto stub_b = filesystem->getattr(ino_of("b.eml", fs::kHeadersInode));
    return stub_a && stub_a->size_exact && stub_b && stub_b->size_exact;
  }));
  {
    std::lock_guard lock(notifier.mu);
    notifier.inodes.clear();
  }
  auto opened = filesystem->open(ino_of("a.eml", fs::kHeadersInode), O_RDONLY);
  ASSERT_TRUE(opened.ok());
  ASSERT_TRUE(opened->skip_opens);
  EXPECT_TRUE(notifier.saw_inode(ino_a));
  EXPECT_TRUE(notifier.saw_inode(ino_b));
}

TEST_F(AttrCacheTest, ANewListSizeOfAMessageNotYetFetchedReachesTheKernel) {
  const std::string content = make_message("a", kDate, 20);
  maildrop.add("a", content, content.size() + 5);
  start_fs();
  const auto ino = ino_of("a.eml");
  ASSERT_EQ(filesystem->getattr(ino).value().size, content.size() + 5);
  maildrop.replace_all({FakeMaildrop::Message{"a", content, content.size() + 3}});
  refresh_now();
  EXPECT_EQ(filesystem->getattr(ino).value().size, content.size() + 3);
  EXPECT_TRUE(notifier.saw_inode(ino));
}

TEST_F(AttrCacheTest, LfSizesAndUnfetchedStubsAreNeverCachedWhileProvisional) {
  add_short_listed("a");
  fs::FsOptions lf;
  lf.lf = true;
  lf.prefetch_stubs = false;
  lf.wait_for_stubs = false;
  start_fs(lf);
  const auto body = filesystem->getattr(ino_of("a.eml")).value();
  ASSERT_FALSE(body.size_exact);
  EXPECT_EQ(body.attr_timeout, 0.0);
}

}  // namespace
}  // namespace popfs::test
