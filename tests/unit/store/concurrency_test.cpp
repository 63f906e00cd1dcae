// Many reader threads and a writer at once, with the map growing underneath them.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "popfs/store/cache.hpp"
#include "store_test_support.hpp"

namespace popfs::store {
namespace {

using testing::listed;
using testing::ListedMessage;
using testing::mid;
using testing::table_of;
using testing::open_cache;
using testing::pattern;
using testing::TempDir;

constexpr int kMessages = 12;
constexpr std::size_t kMaxBody = 200 * 1024;

std::string uidl_of(int i) { return "msg" + std::to_string(i); }

// Round r's listing: every message, all with LIST size r, so a reader can tell whether a
// listing it got is one state or a mix of two.
MessageTable listing_of_round(std::uint64_t round) {
  std::vector<ListedMessage> out;
  for (int i = 0; i < kMessages; ++i) out.push_back(ListedMessage{mid(uidl_of(i)), round});
  return table_of(out);
}

std::size_t body_size_of_round(int round) { return 1 + static_cast<std::size_t>(round) * 7919U % kMaxBody; }

TEST(Concurrency, ReadersSeeWholeStatesWhileAWriterGrowsTheMap) {
  TempDir tmp;
  auto cache = open_cache(tmp.path() / "c", /*cap=*/1024 * 1024, /*map=*/128 * 1024);
  ASSERT_NE(cache, nullptr);
  ASSERT_TRUE(cache->apply_listing(listing_of_round(0), 1));

  std::atomic<bool> writer_done{false};
  std::atomic<int> failures{0};
  std::atomic<long> bodies_checked{0};
  std::atomic<long> listings_checked{0};
  auto fail = [&](const std::string& what) {
    if (failures.fetch_add(1) < 5) ADD_FAILURE() << what;
  };

  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      std::vector<char> buffer(kMaxBody + 10);
      for (int turn = 0; !writer_done.load() || turn < 20; ++turn) {
        const MessageId id = mid(uidl_of((t + turn) % kMessages));
        // One read_body call for the whole body: one transaction, so one version of it.
        auto n = cache->read_body(id, 0, buffer);
        if (!n) {
          fail(n.error().describe());
          return;
        }
        if (n->has_value()) {
          if (std::string_view(buffer.data(), **n) != pattern(id.uidl, **n)) fail("torn or wrong body of " + id.uidl);
          ++bodies_checked;
        }
        auto listing = cache->listing();
        if (!listing) {
          fail(listing.error().describe());
          return;
        }
        if (listing->size() != kMessages) fail("listing of " + std::to_string(listing->size()) + " messages");
        for (const auto& record : *listing) {
          if (record.list_size != listing->front().list_size) fail("listing mixes two states");
        }
        ++listings_checked;
      }
    });
  }

  std::thread writer([&] {
    for (int round = 1; round <= 120 && failures.load() == 0; ++round) {
      const MessageId id = mid(uidl_of(round % kMessages));
      auto writer_result = testing::store_body(*cache, id, pattern(id.uidl, body_size_of_round(round)), 10007);
      if (!writer_result) fail(writer_result.message());
      auto applied = cache->apply_listing(listing_of_round(static_cast<std::uint64_t>(round)), round);
      if (!applied) fail(applied.error().describe());
      if (round % 10 == 0) {
        auto pending = cache->add_pending_deletion(mid("gone" + std::to_string(round)));
        if (!pending) fail(pending.error().describe());
      }
    }
    writer_done = true;
  });

  writer.join();
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(bodies_checked.load(), 0);
  EXPECT_GT(listings_checked.load(), 0);

  auto stats = cache->stats();
  ASSERT_TRUE(stats);
  EXPECT_LE(stats->body_bytes, 1024U * 1024U + kMaxBody);
  EXPECT_EQ(stats->pending_deletions, 12U);
  EXPECT_GT(std::filesystem::file_size(tmp.path() / "c" / "data.mdb"), 4U * 128U * 1024U) << "the map never grew";
}

// Reading a body marks it recently used without a write transaction: reads go on while
// another process holds LMDB's write lock.
TEST(Concurrency, ReadsNeverWaitForTheWriteLock) {
  TempDir tmp;
  const auto dir = tmp.path() / "c";
  int go[2];
  int ready[2];
  ASSERT_EQ(::pipe(go), 0);
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();  // before this process opens the environment
  ASSERT_GE(child, 0);
  if (child == 0) {
    char byte = 0;
    if (::read(go[0], &byte, 1) != 1) ::_exit(2);
    auto env = lmdb::Env::open(dir, {});
    auto txn = lmdb::Txn::begin(env, 0);  // holds the write lock until killed
    if (::write(ready[1], &byte, 1) != 1) ::_exit(3);
    for (;;) ::pause();
  }
  ::close(go[0]);
  ::close(ready[1]);
  struct KillChild {
    explicit KillChild(pid_t child_pid) : pid(child_pid) {}
    KillChild(const KillChild&) = delete;
    KillChild& operator=(const KillChild&) = delete;
    pid_t pid;
    ~KillChild() {
      ::kill(pid, SIGKILL);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
  };
  std::optional<KillChild> kill_child(std::in_place, child);

  auto cache = open_cache(dir);
  ASSERT_NE(cache, nullptr);
  ASSERT_TRUE(cache->apply_listing(listed({{mid("a"), 1}}), 1));
  ASSERT_TRUE(testing::store_body(*cache, mid("a"), pattern("a", 1000)));
  const char byte = 'g';
  ASSERT_EQ(::write(go[1], &byte, 1), 1);
  char answer = 0;
  ASSERT_EQ(::read(ready[0], &answer, 1), 1);

  auto reads = std::async(std::launch::async, [&] {
    std::vector<char> buffer(100);
    int ok = 0;
    for (int i = 0; i < 200; ++i) {
      auto n = cache->read_body(mid("a"), static_cast<std::uint64_t>(i), buffer);
      if (n && n->has_value() && **n == 100) ++ok;
      if (cache->listing() && cache->stub(mid("a"))) ++ok;
    }
    return ok;
  });
  const bool finished = reads.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
  kill_child.reset();  // frees the write lock (and a blocked reader, if any)
  ASSERT_TRUE(finished) << "reads waited for the write lock";
  EXPECT_EQ(reads.get(), 400);
  // LMDB recovers the lock the killed process held.
  EXPECT_TRUE(cache->set_meta("after", "kill"));
  EXPECT_EQ(cache->meta("after")->value_or(""), "kill");
  ::close(go[1]);
  ::close(ready[0]);
}

}  // namespace
}  // namespace popfs::store
