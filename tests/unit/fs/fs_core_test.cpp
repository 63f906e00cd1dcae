// Core tests: names, attributes, reads. Against FakeMaildrop.

#include <fcntl.h>
#include <sys/stat.h>

#include "fs_fixture.hpp"
#include "popfs/util/uidl_name.hpp"

namespace popfs::test {
namespace {

using ::testing::ElementsAre;

TEST_F(FsTest, ListsOneFilePerMessageInServerOrderAndStubsInHeaders) {
  maildrop.add("000000016b02434a", make_message("one", "Mon, 2 Jan 2006 15:04:05 -0700", 3));
  maildrop.add("b", make_message("two", "Mon, 2 Jan 2006 15:04:05 -0700", 3));
  start_fs();
  EXPECT_THAT(root_names(), ElementsAre("000000016b02434a.eml", "b.eml"));
  EXPECT_THAT(header_names(), ElementsAre("000000016b02434a.eml", "b.eml"));
  auto entries = filesystem->read_directory(fs::kRootInode);
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ((*entries)[0].name, ".");
  EXPECT_EQ((*entries)[1].name, "..");
  EXPECT_EQ((*entries)[2].name, ".headers");
  EXPECT_TRUE((*entries)[2].is_dir);
}

TEST_F(FsTest, HostileAndDuplicateUidlsGetDistinctReversibleNames) {
  maildrop.add("a/b", "A\r\n\r\nx\r\n");
  maildrop.add(".hidden", "B\r\n\r\ny\r\n");
  maildrop.add("sp ace%", "C\r\n\r\nz\r\n");
  maildrop.add("dup", "D1\r\n\r\n1\r\n");
  maildrop.add("dup", "D2\r\n\r\n2\r\n");
  maildrop.add("x~2", "E\r\n\r\n3\r\n");
  start_fs();
  EXPECT_THAT(root_names(), ElementsAre("a%2Fb.eml", "%2Ehidden.eml", "sp%20ace%25.eml", "dup.eml",
                                        "dup~2.eml", "x%7E2.eml"));
  // Each name reads its own message.
  EXPECT_EQ(read_whole(ino_of("dup.eml")).value(), "D1\r\n\r\n1\r\n");
  EXPECT_EQ(read_whole(ino_of("dup~2.eml")).value(), "D2\r\n\r\n2\r\n");
  EXPECT_EQ(read_whole(ino_of("a%2Fb.eml")).value(), "A\r\n\r\nx\r\n");
  EXPECT_FALSE(filesystem->lookup(fs::kRootInode, "a/b.eml").ok());
}

TEST_F(FsTest, LookupOfUnknownNameIsENOENT) {
  maildrop.add("a", "x\r\n");
  start_fs();
  auto r = filesystem->lookup(fs::kRootInode, "nope.eml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().to_errno(), ENOENT);
  auto in_file = filesystem->lookup(ino_of("a.eml"), "x");
  ASSERT_FALSE(in_file.ok());
  EXPECT_EQ(in_file.error().to_errno(), ENOTDIR);
  auto list_file = filesystem->read_directory(ino_of("a.eml"));
  ASSERT_FALSE(list_file.ok());
  EXPECT_EQ(list_file.error().to_errno(), ENOTDIR);
}

TEST_F(FsTest, AttributesAreReadOnlyAndOwnedByTheMountingUser) {
  maildrop.add("a", make_message("a", "Mon, 2 Jan 2006 15:04:05 -0700", 1));
  fs::FsOptions o;
  o.uid = 1234;
  o.gid = 5678;
  start_fs(o);
  auto root = filesystem->getattr(fs::kRootInode).value();
  EXPECT_TRUE(root.is_dir);
  EXPECT_EQ(root.permissions, 0555u);
  auto file = filesystem->getattr(ino_of("a.eml")).value();
  EXPECT_FALSE(file.is_dir);
  EXPECT_EQ(file.permissions, 0444u);
  EXPECT_EQ(file.uid, 1234u);
  EXPECT_EQ(file.gid, 5678u);
  auto headers = filesystem->lookup(fs::kRootInode, ".headers").value();
  EXPECT_EQ(headers.ino, fs::kHeadersInode);
  EXPECT_TRUE(headers.is_dir);
}

TEST_F(FsTest, SizeIsListSizeUntilFetchedThenExactAndKernelIsTold) {
  const std::string content = make_message("a", "Mon, 2 Jan 2006 15:04:05 -0700", 10);
  maildrop.add("a", content, content.size() + 7);  // a server whose LIST size is off
  start_fs();
  const auto ino = ino_of("a.eml");
  auto before = filesystem->getattr(ino).value();
  EXPECT_EQ(before.size, content.size() + 7);
  EXPECT_FALSE(before.size_exact);
  // Provisional: cached only briefly (the kernel asks again soon).
  EXPECT_EQ(before.attr_timeout, fs::FsOptions{}.provisional_attr_timeout);
  EXPECT_LT(before.attr_timeout, fs::FsOptions{}.attr_timeout);
  EXPECT_EQ(read_whole(ino).value(), content);
  auto after = filesystem->getattr(ino).value();
  EXPECT_EQ(after.size, content.size());
  EXPECT_TRUE(after.size_exact);
  EXPECT_TRUE(settle_until([&] { return notifier.saw_inode(ino); }));
}

TEST_F(FsTest, InodeNumbersAreStableAcrossRemountsOfTheSameCache) {
  maildrop.add("a", "x\r\n");
  maildrop.add("b", "y\r\n");
  start_fs();
  const auto a = ino_of("a.eml");
  const auto b = ino_of("b.eml");
  const auto stub_b = ino_of("b.eml", fs::kHeadersInode);
  EXPECT_NE(a, b);
  EXPECT_NE(b, stub_b);
  filesystem->shutdown();
  filesystem.reset();
  reopen_cache();
  maildrop.remove("a");
  start_fs();
  EXPECT_EQ(ino_of("b.eml"), b);
  EXPECT_EQ(ino_of("b.eml", fs::kHeadersInode), stub_b);
}

TEST_F(FsTest, ConcurrentReadersShareOneRetrAndLaterReadsUseTheCache) {
  const std::string content = make_message("a", "Mon, 2 Jan 2006 15:04:05 -0700", 500);
  maildrop.add("a", content);
  start_fs();
  const auto ino = ino_of("a.eml");
  maildrop.hold_retrs(true);
  std::vector<PendingRead> reads;
  for (int i = 0; i < 5; ++i) reads.push_back(start_read(ino, static_cast<std::uint64_t>(i) * 1000, 1000));
  ASSERT_TRUE(settle_until([&] { return maildrop.retr_calls("a") >= 1; }));
  maildrop.hold_retrs(false);
  ASSERT_TRUE(settle_until([&] { return std::all_of(reads.begin(), reads.end(), [](auto& r) { return r.done(); }); }));
  for (int i = 0; i < 5; ++i) {
    const auto& r = **reads[static_cast<std::size_t>(i)].result;
    ASSERT_TRUE(r.ok()) << r.error().describe();
    EXPECT_EQ(*r, content.substr(static_cast<std::size_t>(i) * 1000, 1000));
  }
  EXPECT_EQ(read_whole(ino).value(), content);
  EXPECT_EQ(maildrop.retr_calls("a"), 1);
  EXPECT_TRUE(settle_until([&] { return cache().stats().value().bodies == 1; }));
  EXPECT_EQ(read_whole(ino).value(), content);
  EXPECT_EQ(maildrop.retr_calls("a"), 1);
}

TEST_F(FsTest, ListingAndOtherFilesStayAvailableWhileADownloadIsStalled) {
  maildrop.add("big", make_message("big", "1 Jan 2020 00:00 +0000", 2000));
  maildrop.add("small", "tiny\r\n");
  fs::FsOptions o;
  o.prefetch_stubs = false;
  o.prefix_read_min_size = 1ULL << 40;  // no TOP shortcut: the read must wait for RETR
  start_fs(o);
  ASSERT_TRUE(read_whole(ino_of("small.eml")).ok());
  maildrop.hold_retrs(true);  // the server stalls in the middle of RETR
  const auto big = ino_of("big.eml");
  auto pending = start_read(big, 0, 4096);
  settle();
  // None of these may wait for the stalled download.
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(root_names().size(), 2u);
  EXPECT_TRUE(filesystem->getattr(big).ok());
  EXPECT_EQ(read(ino_of("small.eml"), 0, 100).value(), "tiny\r\n");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(1));
  EXPECT_FALSE(pending.done());
  maildrop.hold_retrs(false);
  ASSERT_TRUE(settle_until([&] { return pending.done(); }));
  EXPECT_TRUE(pending.result->value().ok());
}

TEST_F(FsTest, ReadPastEndIsEmptyAndShortOnlyAtTheEnd) {
  maildrop.add("a", "0123456789");
  start_fs();
  const auto ino = ino_of("a.eml");
  EXPECT_EQ(read(ino, 4, 100).value(), "456789");
  EXPECT_EQ(read(ino, 10, 100).value(), "");
  EXPECT_EQ(read(ino, 1000, 100).value(), "");
}

TEST_F(FsTest, FirstBytesOfALargeMessageComeFromTopWithoutRetr) {
  const std::string content = make_message("big", "Mon, 2 Jan 2006 15:04:05 -0700", 20000);
  ASSERT_GT(content.size(), 1000000u);
  maildrop.add("big", content);
  fs::FsOptions o;
  o.prefetch_stubs = false;
  start_fs(o);
  const auto ino = ino_of("big.eml");
  auto head = read(ino, 0, 4096);
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(*head, content.substr(0, 4096));
  auto more = read(ino, 65536, 65536);
  ASSERT_TRUE(more.ok());
  EXPECT_EQ(*more, content.substr(65536, 65536));
  EXPECT_EQ(maildrop.retr_calls("big"), 0);
  EXPECT_GE(maildrop.top_calls(), 2);
  // Reading on past the prefix limit downloads the message once.
  EXPECT_EQ(read_whole(ino).value(), content);
  EXPECT_EQ(maildrop.retr_calls("big"), 1);
}

TEST_F(FsTest, WithoutTopPrefixReadsFallBackToRetr) {
  const std::string content = make_message("big", "Mon, 2 Jan 2006 15:04:05 -0700", 5000);
  maildrop.add("big", content);
  maildrop.set_top_supported(false);
  fs::FsOptions o;
  o.prefetch_stubs = false;
  start_fs(o);
  const auto ino = ino_of("big.eml");
  EXPECT_EQ(read(ino, 0, 4096).value(), content.substr(0, 4096));
  EXPECT_EQ(maildrop.retr_calls("big"), 1);
  const int tops = maildrop.top_calls();
  EXPECT_EQ(read(ino, 0, 100).value(), content.substr(0, 100));
  EXPECT_EQ(maildrop.top_calls(), tops);  // remembered: no TOP again
}

// Messages m100, m101, ... (`count` of them) and read-ahead of 8, without stub prefetch.
class ReadAheadTest : public FsTest {
 protected:
  void start_read_ahead_fs(int count) {
    for (int i = 0; i < count; ++i) {
      maildrop.add("m" + std::to_string(100 + i), make_message("m" + std::to_string(i), "1 Jan 2020 00:00 +0000", 5));
    }
    fs::FsOptions o;
    o.prefetch_messages = 8;
    o.prefetch_stubs = false;
    start_fs(o);
  }
};

TEST_F(ReadAheadTest, SequentialReadersGetRetrsQueuedAhead) {
  start_read_ahead_fs(40);
  ASSERT_TRUE(read_whole(ino_of("m100.eml")).ok());
  ASSERT_TRUE(read_whole(ino_of("m101.eml")).ok());
  // Reading a second file in a row asks for the next 8 without waiting for their readers.
  EXPECT_TRUE(settle_until([&] { return maildrop.retr_calls("m109") == 1; }));
  EXPECT_EQ(maildrop.retr_calls("m110"), 0);
  EXPECT_EQ(maildrop.retr_calls("m120"), 0);
  // And those reads are then served without another RETR.
  ASSERT_TRUE(settle_until([&] { return cache().stats().value().bodies >= 10; }));
  for (int i = 102; i < 110; ++i) ASSERT_TRUE(read_whole(ino_of("m" + std::to_string(i) + ".eml")).ok());
  for (int i = 102; i < 110; ++i) EXPECT_EQ(maildrop.retr_calls("m" + std::to_string(i)), 1);
}

TEST_F(ReadAheadTest, ReadAheadWindowMovesWithTheReader) {
  start_read_ahead_fs(40);
  for (int i = 100; i <= 106; ++i) ASSERT_TRUE(read_whole(ino_of("m" + std::to_string(i) + ".eml")).ok());
  // The reader at m106: the window reaches m114, not beyond.
  EXPECT_TRUE(settle_until([&] { return maildrop.retr_calls("m114") == 1; }));
  EXPECT_EQ(maildrop.retr_calls("m115"), 0);
  ASSERT_TRUE(read_whole(ino_of("m107.eml")).ok());
  EXPECT_TRUE(settle_until([&] { return maildrop.retr_calls("m115") == 1; }));
  EXPECT_EQ(maildrop.retr_calls("m116"), 0);
  for (int i = 100; i <= 115; ++i) EXPECT_EQ(maildrop.retr_calls("m" + std::to_string(i)), 1);
}

TEST_F(ReadAheadTest, FailedReadAheadIsAskedForAgainByTheNextRead) {
  start_read_ahead_fs(20);
  ASSERT_TRUE(read_whole(ino_of("m100.eml")).ok());
  // Reading m101 asks for m102..m109 first, then m101 itself: all nine RETRs fail once (m101
  // alone has a reader, so only it is retried at once).
  maildrop.fail_next_retrs(9, false);
  ASSERT_TRUE(read_whole(ino_of("m101.eml")).ok());
  EXPECT_EQ(maildrop.retr_calls("m109"), 1);
  // The next read finds m103..m109 neither cached nor being fetched: asked for again.
  ASSERT_TRUE(read_whole(ino_of("m102.eml")).ok());
  EXPECT_TRUE(settle_until([&] { return maildrop.retr_calls("m109") == 2 && maildrop.retr_calls("m110") == 1; }));
  EXPECT_EQ(maildrop.retr_calls("m103"), 2);
  EXPECT_EQ(maildrop.retr_calls("m111"), 0);
}

TEST_F(FsTest, ASingleReadDoesNotPrefetch) {
  for (int i = 0; i < 5; ++i) maildrop.add("m" + std::to_string(i), "x\r\n");
  fs::FsOptions o;
  o.prefetch_stubs = false;
  start_fs(o);
  ASSERT_TRUE(read_whole(ino_of("m2.eml")).ok());
  // Give any stray prefetch a chance to show (bounded wait for a condition that must not hold).
  EXPECT_FALSE(settle_until([&] { return maildrop.retr_calls() > 1; }, std::chrono::milliseconds(200)));
}

TEST_F(FsTest, CutRetrIsDiscardedAndRetriedOnce) {
  const std::string content = make_message("a", "1 Jan 2020 00:00 +0000", 300);
  maildrop.add("a", content);
  start_fs();
  maildrop.fail_next_retrs(1, true);
  EXPECT_EQ(read_whole(ino_of("a.eml")).value(), content);
  EXPECT_EQ(maildrop.retr_calls("a"), 2);
}

TEST_F(FsTest, RepeatedlyCutRetrFailsWithEIOAndStoresNothing) {
  maildrop.add("a", make_message("a", "1 Jan 2020 00:00 +0000", 300));
  start_fs();
  maildrop.fail_next_retrs(2, true);
  auto r = read(ino_of("a.eml"), 0, 4096);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().to_errno(), EIO);
  EXPECT_EQ(cache().stats().value().bodies, 0u);
  EXPECT_FALSE(filesystem->getattr(ino_of("a.eml")).value().size_exact);
}

TEST_F(FsTest, OpenForWritingIsEROFS) {
  maildrop.add("a", "x\r\n");
  start_fs();
  const auto ino = ino_of("a.eml");
  for (int flags : {O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC}) {
    auto r = filesystem->open(ino, flags);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().to_errno(), EROFS);
  }
  EXPECT_TRUE(filesystem->open(ino, O_RDONLY).ok());
}

TEST_F(FsTest, HeaderStubsComeFromTopAndGiveMtimeFromDate) {
  const std::string content = make_message("a", "Mon, 2 Jan 2006 15:04:05 -0700", 50);
  maildrop.add("a", content);
  start_fs();
  const auto stub_ino = ino_of("a.eml", fs::kHeadersInode);
  const std::string expected = content.substr(0, content.find("\r\n\r\n") + 4);
  EXPECT_EQ(read_whole(stub_ino).value(), expected);
  EXPECT_EQ(maildrop.retr_calls(), 0);
  // 2006-01-02 22:04:05 UTC
  EXPECT_TRUE(settle_until([&] { return filesystem->getattr(ino_of("a.eml")).value().mtime == 1136239445; }));
  auto stub_attr = filesystem->getattr(stub_ino).value();
  EXPECT_EQ(stub_attr.size, expected.size());
  EXPECT_TRUE(stub_attr.size_exact);
}

TEST_F(FsTest, StubsArePrefetchedAfterAListingAndMtimeFallsBackToFirstSeen) {
  maildrop.add("a", make_message("a", "Tue, 3 Jan 2006 00:00:00 +0000", 1));
  maildrop.add("b", "Subject: no date\r\n\r\nbody\r\n");
  const auto before = executor.clock().wall_seconds();
  start_fs();
  EXPECT_TRUE(settle_until([&] { return cache().stats().value().stubs == 2; }));
  EXPECT_EQ(maildrop.top_calls(), 2);
  EXPECT_EQ(filesystem->getattr(ino_of("a.eml")).value().mtime, 1136246400);
  EXPECT_GE(filesystem->getattr(ino_of("b.eml")).value().mtime, before);
}

TEST_F(FsTest, KernelLookupWaitsForTheStubSoMtimeAndStubSizeAreFinalAtOnce) {
  const std::string content = make_message("a", "Tue, 3 Jan 2006 00:00:00 +0000", 5);
  maildrop.add("a", content);
  fs::FsOptions o;
  o.prefetch_stubs = false;  // nothing fetched in the background: the lookup must do it
  start_fs(o);
  auto stub = attr_of([&](auto done) { filesystem->lookup(fs::kHeadersInode, "a.eml", done); });
  ASSERT_TRUE(stub.ok());
  EXPECT_EQ(stub->size, content.find("\r\n\r\n") + 4);
  EXPECT_TRUE(stub->size_exact);
  EXPECT_EQ(stub->mtime, 1136246400);
  auto message = attr_of([&](auto done) { filesystem->getattr(ino_of("a.eml"), done); });
  EXPECT_EQ(message.value().mtime, 1136246400);
  EXPECT_EQ(maildrop.top_calls(), 1);
  EXPECT_EQ(maildrop.retr_calls(), 0);
}

TEST_F(FsTest, KernelLookupDoesNotWaitForStubsWhileOffline) {
  maildrop.add("a", make_message("a", "Tue, 3 Jan 2006 00:00:00 +0000", 5));
  fs::FsOptions o;
  o.prefetch_stubs = false;
  start_fs(o);
  maildrop.set_offline(true);
  refresh_now();  // fails: the server is now known to be unreachable
  const int tops = maildrop.top_calls();
  std::optional<Result<fs::Attr>> got;
  filesystem->lookup(fs::kRootInode, "a.eml", [&](Result<fs::Attr> r) { got.emplace(std::move(r)); });
  ASSERT_TRUE(got.has_value());  // answered inline
  EXPECT_NE(got->value().mtime, 1136246400);  // first_seen
  EXPECT_EQ(maildrop.top_calls(), tops);
}

TEST_F(FsTest, AHeaderStubTheServerCannotSendFailsItsStatRatherThanClaimingZeroBytes) {
  const std::string content = make_message("a", "Tue, 3 Jan 2006 00:00:00 +0000", 5);
  maildrop.add("a", content);
  fs::FsOptions o;
  o.prefetch_stubs = false;
  start_fs(o);
  maildrop.set_offline(true);
  refresh_now();  // fails: the server is now known to be unreachable
  const auto stub_ino = fs::stub_inode(fs::serial_of_inode(ino_of("a.eml")));
  const int tops = maildrop.top_calls();
  // tar reads st_size bytes and archives a 0-byte stub as an empty file without an error.
  auto looked_up = attr_of([&](auto done) { filesystem->lookup(fs::kHeadersInode, "a.eml", done); });
  ASSERT_FALSE(looked_up.ok());
  EXPECT_EQ(looked_up.error().to_errno(), EIO);
  auto stat = attr_of([&](auto done) { filesystem->getattr(stub_ino, done); });
  ASSERT_FALSE(stat.ok());
  EXPECT_EQ(stat.error().to_errno(), EIO);
  EXPECT_EQ(maildrop.top_calls(), tops + 2) << "each asks the server once more: a failed fetch is no stall";
  // readdirplus gives it no attributes, so the kernel asks (and hears EIO) before any stat.
  std::optional<Result<std::shared_ptr<const fs::DirSnapshot>>> snapshot;
  filesystem->open_directory(fs::kHeadersInode, [&](auto r) { snapshot.emplace(std::move(r)); });
  ASSERT_TRUE(settle_until([&] { return snapshot.has_value(); }));
  ASSERT_TRUE(snapshot->ok());
  bool listed = false;
  for (const auto& item : filesystem->read_directory(***snapshot, 0, 100)) {
    if (item.entry.name != "a.eml") continue;
    listed = true;
    ASSERT_TRUE(item.attr.has_value());
    EXPECT_TRUE(item.attr->awaiting_stub);
  }
  EXPECT_TRUE(listed) << "the name is still listed";
  // The message file itself is unaffected: its size is the LIST size, as before.
  EXPECT_TRUE(attr_of([&](auto done) { filesystem->getattr(ino_of("a.eml"), done); }).ok());
  // Once the server answers, the stub has its exact size.
  maildrop.set_offline(false);
  refresh_now();
  auto online = attr_of([&](auto done) { filesystem->lookup(fs::kHeadersInode, "a.eml", done); });
  ASSERT_TRUE(online.ok()) << online.error().describe();
  EXPECT_EQ(online->size, content.find("\r\n\r\n") + 4);
  EXPECT_TRUE(online->size_exact);
}

TEST_F(FsTest, ExtendedAttributesComeFromTheStub) {
  maildrop.add("u1", make_message("hello", "Tue, 3 Jan 2006 00:00:00 +0000", 1,
                                  "X-Folded: a\r\n b\r\n"));
  start_fs();
  const auto ino = ino_of("u1.eml");
  auto get = [&](const std::string& name) {
    std::optional<Result<std::optional<std::string>>> got;
    filesystem->getxattr(ino, name, [&](Result<std::optional<std::string>> r) { got.emplace(std::move(r)); });
    EXPECT_TRUE(settle_until([&] { return got.has_value(); }));
    return got.value_or(Result<std::optional<std::string>>(Error(Errc::timeout, "test: no answer")));
  };
  EXPECT_EQ(get("user.pop3.uidl").value(), std::optional<std::string>("u1"));
  EXPECT_EQ(get("user.mail.subject").value(), std::optional<std::string>("hello"));
  EXPECT_EQ(get("user.mail.from").value(), std::optional<std::string>("Alice Example <alice@example.org>"));
  EXPECT_EQ(get("user.mail.date").value(), std::optional<std::string>("Tue, 3 Jan 2006 00:00:00 +0000"));
  EXPECT_EQ(get("user.mail.message_id").value(), std::optional<std::string>("<hello@example.org>"));
  EXPECT_EQ(get("user.other").value(), std::nullopt);
  std::optional<Result<std::vector<std::string>>> listed;
  filesystem->listxattr(ino, [&](Result<std::vector<std::string>> r) { listed.emplace(std::move(r)); });
  ASSERT_TRUE(settle_until([&] { return listed.has_value(); }));
  auto names = listed->value();
  EXPECT_THAT(names, ElementsAre("user.pop3.uidl", "user.mail.from", "user.mail.subject", "user.mail.date",
                                 "user.mail.message_id"));
  EXPECT_EQ(maildrop.retr_calls(), 0);
}

TEST_F(FsTest, LfOptionPresentsUnixLineEndingsWithTheMatchingSize) {
  maildrop.add("a", "Subject: x\r\n\r\none\r\ntwo\r\n");
  fs::FsOptions o;
  o.lf = true;
  start_fs(o);
  const auto ino = ino_of("a.eml");
  EXPECT_EQ(read_whole(ino).value(), "Subject: x\n\none\ntwo\n");
  EXPECT_EQ(filesystem->getattr(ino).value().size, 20u);
  EXPECT_TRUE(filesystem->getattr(ino).value().size_exact);
}

TEST_F(FsTest, LfSizeOfABodyCachedByAnEarlierRunIsExact) {
  maildrop.add("a", "Subject: x\r\n\r\none\r\ntwo\r\n");
  fs::FsOptions o;
  o.lf = true;
  start_fs(o);
  ASSERT_TRUE(read_whole(ino_of("a.eml")).ok());
  filesystem->shutdown();
  filesystem.reset();
  reopen_cache();
  maildrop.set_offline(true);  // the size must come from the cache, not the server
  make_fs(o);
  ASSERT_TRUE(filesystem->start().ok());
  settle();  // the listing fails: the cached one is served
  auto attr = filesystem->getattr(ino_of("a.eml")).value();
  EXPECT_EQ(attr.size, 20u);
  EXPECT_TRUE(attr.size_exact);
}

TEST_F(FsTest, UnlinkingManyMessagesKeepsTheRestInOrder) {
  for (int i = 0; i < 200; ++i) maildrop.add("m" + std::to_string(1000 + i), "x\r\n");
  auto o = fs::FsOptions{};
  o.prefetch_stubs = false;
  o.deletion_batch_delay = std::chrono::milliseconds(50);
  start_fs(o);
  for (int i = 0; i < 200; i += 2) {
    ASSERT_TRUE(filesystem->unlink(fs::kRootInode, "m" + std::to_string(1000 + i) + ".eml", 0).ok());
  }
  auto names = root_names();
  ASSERT_EQ(names.size(), 100u);
  for (std::size_t k = 0; k < names.size(); ++k) EXPECT_EQ(names[k], "m" + std::to_string(1001 + 2 * k) + ".eml");
  EXPECT_EQ(read_whole(ino_of("m1199.eml")).value(), "x\r\n");
  ASSERT_TRUE(flush(std::chrono::seconds(10)).ok());
  EXPECT_EQ(maildrop.uidls().size(), 100u);
  EXPECT_EQ(maildrop.uidls().front(), "m1001");
}

TEST_F(FsTest, SyncDownloadsEveryUncachedMessage) {
  for (int i = 0; i < 30; ++i) maildrop.add("m" + std::to_string(i), make_message("s", "1 Jan 2020 00:00 +0000", 3));
  start_fs();
  ASSERT_TRUE(read_whole(ino_of("m3.eml")).ok());
  ASSERT_TRUE(settle_until([&] { return cache().stats().value().bodies == 1; }));  // stored after the reply
  std::optional<Result<void>> done;
  int progress_calls = 0;
  fs::SyncProgress last;
  filesystem->sync(
      [&](fs::SyncProgress p) {
        last = p;
        ++progress_calls;
      },
      [&](Result<void> r) { done.emplace(std::move(r)); });
  ASSERT_TRUE(settle_until([&] { return done.has_value(); }));
  EXPECT_TRUE(done->ok());
  EXPECT_EQ(cache().stats().value().bodies, 30u);
  EXPECT_EQ(maildrop.retr_calls(), 30);
  EXPECT_EQ(last.total_messages, 29u);
  EXPECT_EQ(last.done_messages, 29u);
  EXPECT_EQ(progress_calls, 29);
}

}  // namespace
}  // namespace popfs::test

// ---- local_content: what the adapter pushes into the page cache at open ----

namespace popfs::test {

TEST_F(FsTest, LocalContentGivesACachedBodyWholeOncePerKernelInode) {
  const std::string content = make_message("a", "1 Jan 2020 00:00 +0000", 20);
  maildrop.add("a", content);
  fs::FsOptions o;
  o.prefetch_stubs = false;
  start_fs(o);
  const auto ino = ino_of("a.eml");
  // Not cached yet: nothing, and nothing fetched for it.
  EXPECT_FALSE(filesystem->local_content(ino, 1 << 20).has_value());
  EXPECT_EQ(maildrop.retr_calls("a"), 0);
  ASSERT_EQ(read_whole(ino).value(), content);
  std::optional<std::string> got;
  ASSERT_TRUE(settle_until([&] { return (got = filesystem->local_content(ino, 1 << 20)).has_value(); }));
  EXPECT_EQ(*got, content);
  // The kernel has it now: not read again until it forgets the inode.
  EXPECT_FALSE(filesystem->local_content(ino, 1 << 20).has_value());
  filesystem->forget(ino, 1000);
  EXPECT_FALSE(filesystem->local_content(ino, content.size() - 1).has_value());  // over the limit
  EXPECT_EQ(filesystem->local_content(ino, content.size()).value_or(""), content);
  EXPECT_EQ(maildrop.retr_calls("a"), 1);
}

TEST_F(FsTest, LocalContentGivesAKnownStubAndNothingForADirectory) {
  const std::string content = make_message("b", "2 Jan 2020 00:00 +0000", 20);
  maildrop.add("b", content);
  start_fs();
  const auto stub = ino_of("b.eml", fs::kHeadersInode);
  const std::string header = content.substr(0, content.find("\r\n\r\n") + 4);
  std::optional<std::string> got;
  ASSERT_TRUE(settle_until([&] { return (got = filesystem->local_content(stub, 1 << 20)).has_value(); }));
  EXPECT_EQ(*got, read_whole(stub).value());
  EXPECT_NE(got->find("Subject: b\r\n"), std::string::npos);
  EXPECT_LE(got->size(), header.size());
  EXPECT_FALSE(filesystem->local_content(fs::kRootInode, 1 << 20).has_value());
  EXPECT_FALSE(filesystem->local_content(fs::kHeadersInode, 1 << 20).has_value());
}

TEST_F(FsTest, LocalContentLeavesLfBodiesToRead) {
  const std::string content = make_message("c", "3 Jan 2020 00:00 +0000", 5);
  maildrop.add("c", content);
  fs::FsOptions o;
  o.lf = true;
  o.prefetch_stubs = false;
  start_fs(o);
  const auto ino = ino_of("c.eml");
  ASSERT_TRUE(read_whole(ino).ok());
  ASSERT_TRUE(settle_until([&] { return cache().stats().value().bodies == 1; }));
  EXPECT_FALSE(filesystem->local_content(ino, 1 << 20).has_value());
}

}  // namespace popfs::test
