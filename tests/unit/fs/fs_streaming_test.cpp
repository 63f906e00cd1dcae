// Core tests of bodies written to the cache while they download (FsOptions::stream_bytes):
// the same bytes and sizes as a body kept in memory, nothing stored from a cut download.
// Against FakeMaildrop, which delivers RETR in 4 KiB chunks.

#include <algorithm>

#include "fs_fixture.hpp"

namespace popfs::test {
namespace {

const std::string kDate = "Mon, 2 Jan 2006 15:04:05 -0700";

fs::FsOptions streaming_options() {
  fs::FsOptions o;
  o.stream_bytes = 10 * 1024;       // messages over 10 KiB are streamed
  o.stream_piece_bytes = 8 * 1024;  // in pieces of about 8 KiB
  o.prefetch_stubs = false;
  return o;
}

TEST_F(FsTest, AStreamedBodyReadsExactlyAndIsCachedWhole) {
  const std::string big = make_message("big", kDate, 2000);  // ~150 KiB
  const std::string small = make_message("small", kDate, 3);
  ASSERT_GT(big.size(), 100u * 1024);
  maildrop.add("big", big);
  maildrop.add("small", small);
  start_fs(streaming_options());
  const auto ino = ino_of("big.eml");
  EXPECT_EQ(read_whole(ino).value(), big);
  EXPECT_EQ(read_whole(ino_of("small.eml")).value(), small);
  auto attr = filesystem->getattr(ino);
  ASSERT_TRUE(attr.ok());
  EXPECT_TRUE(attr->size_exact);
  EXPECT_EQ(attr->size, big.size());
  EXPECT_TRUE(notifier.saw_inode(ino));  // the kernel is told the exact size
  ASSERT_TRUE(settle_until([&] { return cache().stats().value().bodies == 2; }));
  EXPECT_EQ(cache().stats().value().body_bytes, big.size() + small.size());
  EXPECT_EQ(maildrop.retr_calls("big"), 1);
}

TEST_F(FsTest, ConcurrentReadersOfAStreamedBodyShareOneRetr) {
  const std::string big = make_message("big", kDate, 1500);
  maildrop.add("big", big);
  start_fs(streaming_options());
  const auto ino = ino_of("big.eml");
  maildrop.hold_retrs(true);
  const std::vector<std::uint64_t> offsets = {0, 5000, 70000, big.size() - 10};
  std::vector<PendingRead> readers;
  for (auto offset : offsets) readers.push_back(start_read(ino, offset, 20000));
  ASSERT_TRUE(settle_until([&] { return maildrop.retr_calls("big") == 1; }));
  maildrop.hold_retrs(false);
  ASSERT_TRUE(settle_until([&] { return std::all_of(readers.begin(), readers.end(), [](auto& r) { return r.done(); }); }));
  for (std::size_t i = 0; i < readers.size(); ++i) {
    const auto& got = **readers[i].result;
    ASSERT_TRUE(got.ok()) << got.error().describe();
    EXPECT_EQ(*got, big.substr(offsets[i], 20000)) << "offset " << offsets[i];
  }
  EXPECT_EQ(maildrop.retr_calls("big"), 1);
}

TEST_F(FsTest, ACutStreamedDownloadStoresNothingAndTheRetryIsExact) {
  const std::string big = make_message("big", kDate, 2000);
  maildrop.add("big", big);
  start_fs(streaming_options());
  const auto ino = ino_of("big.eml");
  maildrop.fail_next_retrs(1, true);  // half the message, then the connection drops
  EXPECT_EQ(read_whole(ino).value(), big);
  EXPECT_EQ(maildrop.retr_calls("big"), 2);
  ASSERT_TRUE(settle_until([&] { return cache().stats().value().bodies == 1; }));
  EXPECT_EQ(cache().stats().value().body_bytes, big.size());

  // Cut every time: the reader gets EIO and no partial body is ever stored.
  maildrop.add("other", make_message("other", kDate, 2000));
  refresh_now();
  maildrop.fail_next_retrs(2, true);
  auto failed = read(ino_of("other.eml"), 100000, 4096);  // past what TOP would answer
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().to_errno(), EIO);
  EXPECT_EQ(maildrop.retr_calls("other"), 2);
  filesystem->shutdown();
  settle();  // every queued cache write
  EXPECT_EQ(cache().stats().value().bodies, 1u);
  EXPECT_EQ(cache().stats().value().body_bytes, big.size());
}

}  // namespace
}  // namespace popfs::test
