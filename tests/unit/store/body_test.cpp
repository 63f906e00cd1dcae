// Bodies: streaming, reads at any offset, discarding, eviction, map growth.

#include "popfs/store/cache.hpp"
#include "store_test_support.hpp"

namespace popfs::store {
namespace {

using testing::apply;
using testing::listed;
using testing::ListedMessage;
using testing::table_of;
using testing::load_body;
using testing::mid;
using testing::kStagedAfter;
using testing::open_cache;
using testing::pattern;
using testing::raw_entries;
using testing::store_body;
using testing::TempDir;

constexpr std::size_t kKiB = 1024;

std::optional<std::size_t> read_at(Cache& cache, const MessageId& id, std::uint64_t offset, std::span<char> out) {
  auto n = cache.read_body(id, offset, out);
  if (!n) {
    ADD_FAILURE() << n.error().describe();
    return std::nullopt;
  }
  return *n;
}

class Bodies : public ::testing::Test {
 protected:
  void SetUp() override {
    cache_ = open_cache(tmp_.path() / "c");
    ASSERT_NE(cache_, nullptr);
    ASSERT_TRUE(cache_->apply_listing(listed({{mid("a"), 1}, {mid("b"), 1}, {mid("c"), 1}, {mid("d"), 1},
                                              {mid("e"), 1}}),
                                      1));
  }
  TempDir tmp_;
  std::unique_ptr<Cache> cache_;
};

TEST_F(Bodies, EmptyBodyIsStoredAndReadsAsZeroBytes) {
  ASSERT_TRUE(store_body(*cache_, mid("a"), ""));
  auto record = cache_->record(mid("a"));
  ASSERT_TRUE(record);
  EXPECT_TRUE((*record)->has_body);
  EXPECT_EQ((*record)->exact_size, 0U);
  std::vector<char> buffer(10);
  EXPECT_EQ(read_at(*cache_, mid("a"), 0, buffer), std::optional<std::size_t>(0));
  EXPECT_EQ(read_at(*cache_, mid("b"), 0, buffer), std::nullopt) << "b has no body";
  EXPECT_EQ(cache_->stats()->bodies, 1U);
}

TEST_F(Bodies, OneByteBody) {
  ASSERT_TRUE(store_body(*cache_, mid("a"), "Z"));
  std::vector<char> buffer(10, '-');
  EXPECT_EQ(read_at(*cache_, mid("a"), 0, buffer), std::optional<std::size_t>(1));
  EXPECT_EQ(buffer[0], 'Z');
  EXPECT_EQ(buffer[1], '-');
  EXPECT_EQ(read_at(*cache_, mid("a"), 1, buffer), std::optional<std::size_t>(0));
  EXPECT_EQ(cache_->record(mid("a"))->value().exact_size, 1U);
}

TEST_F(Bodies, FiveMegabytesInOddPiecesReadAtEveryKindOfOffset) {
  const std::string body = pattern("five", 5 * kKiB * kKiB + 4099);
  ASSERT_TRUE(store_body(*cache_, mid("b"), body, 4093));
  EXPECT_EQ(cache_->record(mid("b"))->value().exact_size, body.size());
  EXPECT_EQ(cache_->stats()->body_bytes, body.size());

  // Sequential reads the way the kernel does them, and with an odd size.
  EXPECT_EQ(load_body(*cache_, mid("b"), 128 * kKiB), body);
  EXPECT_EQ(load_body(*cache_, mid("b"), 77777), body);

  const std::uint64_t chunk = testing::kChunkBytes;  // boundaries matter
  const std::uint64_t size = body.size();
  const std::vector<std::pair<std::uint64_t, std::size_t>> reads{
      {0, 1},          {1, 10},         {chunk - 1, 1},   {chunk - 1, 2},     {chunk, 1},
      {chunk + 1, 5},  {chunk - 7, 14}, {3, 3 * chunk},   {2 * chunk, chunk}, {size - 1, 1},
      {size - 1, 100}, {size - 10, 10}, {0, size + 1000}, {size, 10},         {size + 5, 10},
  };
  for (const auto& [offset, length] : reads) {
    std::vector<char> buffer(length);
    const auto n = read_at(*cache_, mid("b"), offset, buffer);
    ASSERT_TRUE(n.has_value());
    const std::size_t expected = offset >= size ? 0 : static_cast<std::size_t>(std::min<std::uint64_t>(length, size - offset));
    ASSERT_EQ(*n, expected) << "offset " << offset << " length " << length;
    EXPECT_TRUE(std::string_view(buffer.data(), *n) == std::string_view(body).substr(std::min(offset, size), *n))
        << "offset " << offset << " length " << length;
  }
}

TEST_F(Bodies, WriterDroppedWithoutCommitLeavesNoTrace) {
  {
    auto writer = cache_->begin_body(mid("c"));
    ASSERT_TRUE(writer);
    ASSERT_TRUE((*writer)->append(pattern("cut", kStagedAfter + 600 * kKiB)));  // some of it staged
  }
  {
    auto small = cache_->begin_body(mid("d"));
    ASSERT_TRUE(small);
    ASSERT_TRUE((*small)->append("only buffered"));
  }
  auto record = cache_->record(mid("c"));
  ASSERT_TRUE(record);
  EXPECT_FALSE((*record)->has_body);
  EXPECT_FALSE((*record)->exact_size.has_value());
  std::vector<char> buffer(10);
  EXPECT_EQ(read_at(*cache_, mid("c"), 0, buffer), std::nullopt);
  EXPECT_EQ(cache_->stats()->bodies, 0U);
  EXPECT_EQ(cache_->stats()->body_bytes, 0U);
  for (const auto& entry : std::filesystem::directory_iterator(tmp_.path() / "c")) {
    const auto name = entry.path().filename().string();
    EXPECT_TRUE(name == "data.mdb" || name == "lock.mdb" || name == "popfs.lock") << "left behind: " << name;
  }
  cache_.reset();
  EXPECT_EQ(raw_entries(tmp_.path() / "c", "bodies"), 0U) << "staged chunks left behind";
  EXPECT_EQ(raw_entries(tmp_.path() / "c", "staging"), 0U);
}

TEST_F(Bodies, ReadersSeeTheOldBodyUntilTheNewOneIsCommitted) {
  ASSERT_TRUE(store_body(*cache_, mid("a"), "the old body"));
  const std::string big = pattern("new", 2 * kStagedAfter + 1000);
  auto writer = cache_->begin_body(mid("a"));
  ASSERT_TRUE(writer);
  ASSERT_TRUE((*writer)->append(big));
  EXPECT_EQ(load_body(*cache_, mid("a")), "the old body");
  EXPECT_EQ(cache_->record(mid("a"))->value().exact_size, 12U);
  ASSERT_TRUE((*writer)->commit());
  EXPECT_EQ(load_body(*cache_, mid("a"), 100000), big);
  EXPECT_EQ(cache_->stats()->body_bytes, big.size());
  writer->reset();
  cache_.reset();
  const std::uint64_t chunks = (big.size() + testing::kChunkBytes - 1) / testing::kChunkBytes;
  EXPECT_EQ(raw_entries(tmp_.path() / "c", "bodies"), chunks) << "the old body's chunks must be gone";
  EXPECT_EQ(raw_entries(tmp_.path() / "c", "staging"), 0U);
}

TEST_F(Bodies, ResetDuringAStagedWriteStoresNothing) {
  auto writer = cache_->begin_body(mid("b"));
  ASSERT_TRUE(writer);
  ASSERT_TRUE((*writer)->append(pattern("b", kStagedAfter + 5)));
  ASSERT_TRUE(cache_->reset());
  auto committed = (*writer)->commit();
  ASSERT_FALSE(committed);
  EXPECT_EQ(committed.error().code, Errc::not_found);
  writer->reset();
  cache_.reset();
  EXPECT_EQ(raw_entries(tmp_.path() / "c", "bodies"), 0U);
  EXPECT_EQ(raw_entries(tmp_.path() / "c", "staging"), 0U);
}

TEST_F(Bodies, ReplacingABodyKeepsTheByteCountRight) {
  ASSERT_TRUE(store_body(*cache_, mid("a"), pattern("old", 300 * kKiB)));
  ASSERT_TRUE(store_body(*cache_, mid("a"), "new"));
  EXPECT_EQ(load_body(*cache_, mid("a")), "new");
  auto stats = cache_->stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->bodies, 1U);
  EXPECT_EQ(stats->body_bytes, 3U);
}

TEST_F(Bodies, BodyOfAMessageThatLeftTheListingIsDropped) {
  auto writer = cache_->begin_body(mid("e"));
  ASSERT_TRUE(writer);
  ASSERT_TRUE((*writer)->append("whole message"));
  ASSERT_TRUE(cache_->apply_listing(listed({{mid("a"), 1}}), 2));
  auto committed = (*writer)->commit();
  ASSERT_FALSE(committed);
  EXPECT_EQ(committed.error().code, Errc::not_found);
  EXPECT_EQ(cache_->stats()->bodies, 0U);
  EXPECT_FALSE(cache_->record(mid("e"))->has_value());
}

TEST_F(Bodies, CommitTwiceIsAnError) {
  auto writer = cache_->begin_body(mid("a"));
  ASSERT_TRUE(writer);
  ASSERT_TRUE((*writer)->commit());
  EXPECT_FALSE((*writer)->commit());
  EXPECT_FALSE((*writer)->append("more"));
}

TEST_F(Bodies, ClearBodiesKeepsStubsAndExactSizes) {
  ASSERT_TRUE(cache_->put_stub(mid("a"), "Subject: s\r\n\r\n", std::nullopt));
  ASSERT_TRUE(store_body(*cache_, mid("a"), "0123456789"));
  ASSERT_TRUE(cache_->clear_bodies());
  auto record = cache_->record(mid("a"));
  ASSERT_TRUE(record);
  EXPECT_FALSE((*record)->has_body);
  EXPECT_TRUE((*record)->has_stub);
  EXPECT_EQ((*record)->exact_size, 10U);
  EXPECT_EQ(cache_->stub(mid("a"))->value_or(""), "Subject: s\r\n\r\n");
  EXPECT_EQ(load_body(*cache_, mid("a")), std::nullopt);
  EXPECT_EQ(cache_->stats()->body_bytes, 0U);
}

TEST(Eviction, LeastRecentlyReadGoesFirstNeverTheNewOne) {
  TempDir tmp;
  const std::uint64_t unit = 100 * kKiB;
  auto cache = open_cache(tmp.path() / "c", /*cap=*/3 * unit);
  ASSERT_NE(cache, nullptr);
  ASSERT_TRUE(cache->apply_listing(
      listed({{mid("a"), 1}, {mid("b"), 1}, {mid("c"), 1}, {mid("d"), 1}, {mid("e"), 1}, {mid("f"), 1}}), 1));
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(store_body(*cache, mid(id), pattern(id, unit)));
  EXPECT_EQ(cache->stats()->bodies, 3U);

  std::vector<char> one(1);
  ASSERT_TRUE(read_at(*cache, mid("a"), 0, one).has_value());  // a is now the most recently read

  ASSERT_TRUE(store_body(*cache, mid("d"), pattern("d", unit)));
  auto has_body = [&](const char* id) { return cache->record(mid(id))->value().has_body; };
  EXPECT_TRUE(has_body("a"));
  EXPECT_FALSE(has_body("b")) << "b was read least recently";
  EXPECT_TRUE(has_body("c"));
  EXPECT_TRUE(has_body("d"));
  EXPECT_EQ(cache->record(mid("b"))->value().exact_size, unit) << "an evicted body's size stays known";
  EXPECT_EQ(cache->stats()->body_bytes, 3 * unit);

  ASSERT_TRUE(read_at(*cache, mid("c"), 0, one).has_value());
  ASSERT_TRUE(read_at(*cache, mid("a"), 0, one).has_value());
  ASSERT_TRUE(store_body(*cache, mid("e"), pattern("e", unit)));
  EXPECT_FALSE(has_body("d")) << "d: written before c and a were read again";
  EXPECT_TRUE(has_body("c"));
  EXPECT_TRUE(has_body("a"));
  EXPECT_EQ(load_body(*cache, mid("e")), pattern("e", unit));

  // A body larger than the whole cap is kept; everything else makes room.
  ASSERT_TRUE(store_body(*cache, mid("f"), pattern("f", 4 * unit)));
  EXPECT_TRUE(has_body("f"));
  EXPECT_EQ(cache->stats()->bodies, 1U);
  EXPECT_EQ(load_body(*cache, mid("f")), pattern("f", 4 * unit));
}

TEST(Eviction, AccessOrderSurvivesReopen) {
  TempDir tmp;
  const auto dir = tmp.path() / "c";
  const std::uint64_t unit = 50 * kKiB;
  {
    auto cache = open_cache(dir, 2 * unit);
    ASSERT_NE(cache, nullptr);
    ASSERT_TRUE(cache->apply_listing(listed({{mid("a"), 1}, {mid("b"), 1}, {mid("c"), 1}}), 1));
    ASSERT_TRUE(store_body(*cache, mid("a"), pattern("a", unit)));
    ASSERT_TRUE(store_body(*cache, mid("b"), pattern("b", unit)));
    std::vector<char> one(1);
    ASSERT_TRUE(read_at(*cache, mid("a"), 0, one).has_value());  // only in memory until closed
  }
  auto cache = open_cache(dir, 2 * unit);
  ASSERT_NE(cache, nullptr);
  ASSERT_TRUE(store_body(*cache, mid("c"), pattern("c", unit)));
  EXPECT_TRUE(cache->record(mid("a"))->value().has_body);
  EXPECT_FALSE(cache->record(mid("b"))->value().has_body);
  EXPECT_TRUE(cache->record(mid("c"))->value().has_body);
}

TEST(MapGrowth, WritesFarBeyondATinyInitialMap) {
  TempDir tmp;
  const auto dir = tmp.path() / "c";
  const std::size_t initial_map = 64 * kKiB;
  std::vector<ListedMessage> all;
  for (int i = 0; i < 40; ++i) all.push_back(ListedMessage{mid("m" + std::to_string(i)), 1});
  {
    auto cache = open_cache(dir, 2ULL << 30, initial_map);
    ASSERT_NE(cache, nullptr);
    ASSERT_TRUE(cache->apply_listing(table_of(all), 1));
    for (int i = 0; i < 40; ++i) {
      const std::string uidl = "m" + std::to_string(i);
      ASSERT_TRUE(store_body(*cache, mid(uidl), pattern(uidl, 300 * kKiB + static_cast<std::size_t>(i))));
      ASSERT_TRUE(cache->add_pending_deletion(mid(uidl)));
    }
    EXPECT_GT(std::filesystem::file_size(dir / "data.mdb"), 40 * initial_map);
  }
  auto cache = open_cache(dir, 2ULL << 30, initial_map);  // smaller than the file now: LMDB adopts the file's
  ASSERT_NE(cache, nullptr);
  for (int i = 0; i < 40; ++i) {
    const std::string uidl = "m" + std::to_string(i);
    EXPECT_EQ(load_body(*cache, mid(uidl)), pattern(uidl, 300 * kKiB + static_cast<std::size_t>(i))) << uidl;
  }
  EXPECT_EQ(cache->pending_deletions()->size(), 40U);
  ASSERT_TRUE(store_body(*cache, mid("m0"), pattern("again", 2 * kKiB * kKiB)));
  EXPECT_EQ(load_body(*cache, mid("m0")), pattern("again", 2 * kKiB * kKiB));
}

}  // namespace
}  // namespace popfs::store
