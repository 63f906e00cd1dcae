// The compact namespace: names and inodes from the listing, snapshots that survive a new
// listing, held messages, orphans, and what it costs per message.

#include "namespace.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "popfs/util/uidl_name.hpp"

namespace popfs::fs {
namespace {

using ::testing::ElementsAre;

mailbox::Listing table_of(const std::vector<std::string>& uidls, std::uint64_t size = 100) {
  auto table = std::make_shared<MessageTable>();
  for (const auto& u : uidls) table->append(u, static_cast<std::uint32_t>(table->size() + 1), size);
  return table;
}

std::vector<std::string> names_in(Namespace& names, std::uint64_t dir) {
  std::vector<std::string> out;
  for (const auto& e : names.all_entries(dir)) {
    if (!e.is_dir) out.push_back(e.name);
  }
  return out;
}

TEST(Namespace, NamesAndInodesComeFromTheListingAndItsSerials) {
  Namespace names(FsOptions{});
  names.install(table_of({"a", "b/c", "a"}), {7, 9, 10}, {}, {}, 1000);
  EXPECT_THAT(names_in(names, kRootInode), ElementsAre("a.eml", "b%2Fc.eml", "a~2.eml"));
  EXPECT_THAT(names_in(names, kHeadersInode), ElementsAre("a.eml", "b%2Fc.eml", "a~2.eml"));
  auto b = names.lookup(kRootInode, "b%2Fc.eml", true);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->ino, message_inode(9));
  EXPECT_EQ(b->ino, 16u + 2 * 9);
  EXPECT_EQ(names.lookup(kHeadersInode, "a~2.eml", false)->ino, stub_inode(10));
  EXPECT_EQ(names.message_of(message_inode(10))->id, (MessageId{"a", 2}));
  EXPECT_EQ(names.getattr(message_inode(7))->size, 100u);
  EXPECT_FALSE(names.getattr(message_inode(8)).ok());
  EXPECT_EQ(names.lookup(message_inode(7), "x", false).error().code, Errc::not_a_directory);
}

TEST(Namespace, AServerOrderThatIsNotTheSerialOrderStillFindsEveryInode) {
  Namespace names(FsOptions{});
  names.install(table_of({"c", "a", "b"}), {30, 10, 20}, {}, {}, 1);
  EXPECT_THAT(names_in(names, kRootInode), ElementsAre("c.eml", "a.eml", "b.eml"));
  for (std::uint64_t serial : {10U, 20U, 30U}) EXPECT_TRUE(names.getattr(message_inode(serial)).ok()) << serial;
  EXPECT_EQ(names.message(20)->id.uidl, "b");
}

TEST(Namespace, AStateSurvivesANewListingByItsSerial) {
  Namespace names(FsOptions{});
  names.install(table_of({"a", "b"}), {1, 2}, {}, {}, 1);
  names.learn_body(2, 77, std::nullopt);
  names.learn_stub(2, 10, std::nullopt, 555);
  names.install(table_of({"b", "c"}), {2, 3}, {}, {}, 2);
  auto b = names.getattr(message_inode(2));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->size, 77u);
  EXPECT_TRUE(b->size_exact);
  EXPECT_EQ(b->mtime, 555);
  EXPECT_EQ(names.getattr(message_inode(3))->mtime, 2) << "new mail: first seen now";
  EXPECT_FALSE(names.getattr(message_inode(1)).ok());
}

TEST(Namespace, ADirectorySnapshotKeepsItsOffsetsWhileTheListingChanges) {
  Namespace names(FsOptions{});
  std::vector<std::string> uidls;
  std::vector<std::uint64_t> serials;
  for (int i = 0; i < 50; ++i) {
    uidls.push_back("m" + std::to_string(i));
    serials.push_back(static_cast<std::uint64_t>(100 + i));
  }
  names.install(table_of(uidls), serials, {}, {}, 1);
  auto snapshot = names.open_dir(kRootInode);
  ASSERT_TRUE(snapshot.ok());
  auto first = names.read_dir(**snapshot, 0, 20);  // ".", "..", ".headers" and 17 messages
  ASSERT_EQ(first.size(), 20u);
  // Meanwhile m30 is deleted elsewhere and new mail arrives.
  uidls.erase(uidls.begin() + 30);
  serials.erase(serials.begin() + 30);
  uidls.push_back("new");
  serials.push_back(500);
  names.install(table_of(uidls), serials, {}, {}, 2);
  std::vector<std::string> seen;
  for (const auto& item : first) seen.push_back(item.entry.name);
  for (std::uint64_t offset = first.back().next_offset;;) {
    auto more = names.read_dir(**snapshot, offset, 7);
    if (more.empty()) break;
    for (const auto& item : more) seen.push_back(item.entry.name);
    offset = more.back().next_offset;
  }
  ASSERT_EQ(seen.size(), 3u + 49u) << "every survivor once, the gone one left out, the new one not yet";
  for (int i = 0; i < 50; ++i) {
    const auto count = std::count(seen.begin(), seen.end(), "m" + std::to_string(i) + ".eml");
    EXPECT_EQ(count, i == 30 ? 0 : 1) << i;
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "new.eml"), 0);
  EXPECT_EQ(names_in(names, kRootInode).size(), 50u) << "a new opendir sees the new listing";
}

TEST(Namespace, WithOpensSkippedNewMailIsHeldUntilItsSizesAreExact) {
  Namespace names(FsOptions{});
  InitialState cached;
  cached.exact_size = 5;
  cached.has_stub = true;
  names.install(table_of({"a"}), {1}, {cached}, {}, 1);
  ASSERT_TRUE(names.every_size_exact());
  names.skip_opens();
  auto installed = names.install(table_of({"a", "n"}), {1, 2}, {}, {}, 2);
  EXPECT_EQ(installed.held, (std::vector<std::uint64_t>{2}));
  EXPECT_THAT(names_in(names, kRootInode), ElementsAre("a.eml"));
  EXPECT_FALSE(names.lookup(kRootInode, "n.eml", false).ok());
  EXPECT_TRUE(names.learn_body(2, 40, std::nullopt).entries.empty()) << "the stub is still unknown";
  const Notes shown = names.learn_stub(2, 12, std::nullopt, 99);
  EXPECT_THAT(names_in(names, kRootInode), ElementsAre("a.eml", "n.eml"));
  EXPECT_NE(std::find(shown.entries.begin(), shown.entries.end(), std::make_pair(kRootInode, std::string("n.eml"))),
            shown.entries.end());
  EXPECT_TRUE(names.every_size_exact());
}

TEST(Namespace, AMessageGoneWhileTheKernelHoldsItAnswersGetattrUntilForgotten) {
  Namespace names(FsOptions{});
  names.install(table_of({"a", "b"}), {1, 2}, {}, {}, 1);
  ASSERT_TRUE(names.lookup(kRootInode, "b.eml", true).ok());
  const auto installed = names.install(table_of({"a"}), {1}, {}, {}, 2);
  EXPECT_NE(std::find(installed.notes.entries.begin(), installed.notes.entries.end(),
                      std::make_pair(kRootInode, std::string("b.eml"))),
            installed.notes.entries.end());
  EXPECT_TRUE(names.getattr(message_inode(2)).ok());
  EXPECT_FALSE(names.message_of(message_inode(2)).has_value()) << "but nothing can be read";
  names.forget(message_inode(2), 1);
  EXPECT_FALSE(names.getattr(message_inode(2)).ok());
}

TEST(Namespace, CostsAFewDozenBytesPerMessage) {
  Namespace names(FsOptions{});
  constexpr std::size_t kCount = 100000;
  auto table = std::make_shared<MessageTable>();
  std::vector<std::uint64_t> serials;
  for (std::uint32_t n = 1; n <= kCount; ++n) {
    char uidl[17];
    std::snprintf(uidl, sizeof uidl, "%08x%08x", n, 0x5f000000u);  // as Dovecot names them
    table->append(uidl, n, 2000);
    serials.push_back(n + 3);
  }
  table->shrink_to_fit();  // as the maildrop leaves it
  names.install(table, serials, {}, {}, 1);
  const double per_message = static_cast<double>(names.counts().memory_bytes) / kCount;
  EXPECT_LT(per_message, 100.0) << per_message;  // 16-byte UIDL included
  EXPECT_EQ(names.lookup(kRootInode, message_file_name("000186a05f000000"), false)->ino, message_inode(100003));
}

}  // namespace
}  // namespace popfs::fs
