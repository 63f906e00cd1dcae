// kill -9 at random moments: after reopening, every stored body is whole and is what was
// written, the listing is one of the committed states, and no confirmed deletion is lost.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <set>
#include <thread>

#include "popfs/store/cache.hpp"
#include "store_test_support.hpp"

namespace popfs::store {
namespace {

using testing::listed;
using testing::ListedMessage;
using testing::mid;
using testing::table_of;
using testing::pattern;
using testing::TempDir;

constexpr int kIds = 12;
constexpr int kWindow = 6;
constexpr std::uint64_t kCap = 8 * 1024 * 1024;

std::string uidl_of(std::uint64_t i) { return "m" + std::to_string(i % kIds); }

// State r of the listing: kWindow consecutive ids starting at r, each with LIST size r.
MessageTable listing_of_round(std::uint64_t round) {
  std::vector<ListedMessage> out;
  for (std::uint64_t j = 0; j < kWindow; ++j) out.push_back(ListedMessage{mid(uidl_of(round + j)), round});
  return table_of(out);
}

// Every third body is big enough that its writer stages chunks before the commit.
std::size_t body_size_of_round(std::uint64_t round) {
  return 1 + static_cast<std::size_t>(round * 104729U % 700000U) + (round % 3 == 0 ? testing::kStagedAfter : 0);
}

std::string deletion_uidl(std::uint64_t round) { return "deleted-" + std::to_string(round); }

// The child: commits rounds forever, reporting each finished round on the pipe.
[[noreturn]] void run_child(const std::filesystem::path& dir, std::uint64_t first_round, int report_fd) {
  Cache::Options options;
  options.dir = dir;
  options.body_cap_bytes = kCap;
  options.initial_map_bytes = 256 * 1024;  // the map grows while we kill
  auto opened = Cache::open(options);
  if (!opened) ::_exit(2);
  auto& cache = **opened;
  for (std::uint64_t round = first_round;; ++round) {
    if (!cache.apply_listing(listing_of_round(round), static_cast<std::int64_t>(round))) ::_exit(3);
    const MessageId id = mid(uidl_of(round));  // the first id of this round's listing
    auto writer = cache.begin_body(id);
    if (!writer) ::_exit(4);
    const std::string body = pattern(id.uidl, body_size_of_round(round));
    for (std::size_t at = 0; at < body.size(); at += 9973) {
      if (!(*writer)->append(std::string_view(body).substr(at, 9973))) ::_exit(5);
    }
    if (!(*writer)->commit()) ::_exit(6);
    if (!cache.add_pending_deletion(mid(deletion_uidl(round)))) ::_exit(7);
    if (::write(report_fd, &round, sizeof round) != sizeof round) ::_exit(8);
  }
}

// Reads one reported round; false at end of file.
bool read_round(int fd, std::uint64_t& round) {
  std::size_t got = 0;
  auto* out = reinterpret_cast<char*>(&round);
  while (got < sizeof round) {
    const ssize_t n = ::read(fd, out + got, sizeof round - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += static_cast<std::size_t>(n);
  }
  return true;
}

TEST(Crash, KillNineAtRandomMomentsNeverLosesOrTearsCommittedData) {
  TempDir tmp;
  const auto dir = tmp.path() / "c";
  std::mt19937 random(std::random_device{}());
  std::uint64_t next_round = 1;
  std::set<std::uint64_t> confirmed;  // rounds whose every write returned before the kill

  for (int kill_round = 0; kill_round < 8; ++kill_round) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(fds[0]);
      run_child(dir, next_round, fds[1]);
    }
    ::close(fds[1]);

    // Wait for a random number of commits, then kill at a random moment of what follows.
    const int commits = std::uniform_int_distribution<int>(1, 12)(random);
    std::uint64_t round = 0;
    for (int i = 0; i < commits; ++i) {
      if (!read_round(fds[0], round)) break;
      confirmed.insert(round);
    }
    // Not synchronisation: a random delay decides where inside the next round the kill lands.
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 20000)(random)));
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child stopped by itself with exit code " << WEXITSTATUS(status);
    while (read_round(fds[0], round)) confirmed.insert(round);  // reported just before the kill
    ::close(fds[0]);
    ASSERT_FALSE(confirmed.empty());

    auto cache = testing::open_cache(dir, kCap);
    ASSERT_NE(cache, nullptr);
    auto listing = cache->listing();
    ASSERT_TRUE(listing) << listing.error().describe();
    ASSERT_EQ(listing->size(), static_cast<std::size_t>(kWindow));
    const std::uint64_t state = listing->front().list_size;
    EXPECT_GE(state, *confirmed.rbegin()) << "a confirmed listing was lost";
    EXPECT_LE(state, *confirmed.rbegin() + 1) << "a listing no round wrote";
    const auto expected = listing_of_round(state);
    std::uint64_t stored_bytes = 0;
    for (std::size_t j = 0; j < expected.size(); ++j) {
      const auto& record = (*listing)[j];
      EXPECT_EQ(record.id, expected.id(j));
      EXPECT_EQ(record.list_size, state);
      if (!record.has_body) continue;
      ASSERT_TRUE(record.exact_size.has_value());
      stored_bytes += *record.exact_size;
      std::vector<char> buffer(*record.exact_size + 1);
      auto n = cache->read_body(record.id, 0, buffer);
      ASSERT_TRUE(n) << n.error().describe();
      ASSERT_TRUE(n->has_value());
      ASSERT_EQ(**n, *record.exact_size);
      EXPECT_TRUE(std::string_view(buffer.data(), **n) == pattern(record.id.uidl, **n))
          << "body of " << record.id.uidl << " differs from what was written";
    }
    auto stats = cache->stats();
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->body_bytes, stored_bytes) << "byte count out of step with the stored bodies";
    EXPECT_LE(stats->body_bytes, kCap + testing::kStagedAfter + 700000U);

    auto pending = cache->pending_deletions();
    ASSERT_TRUE(pending);
    std::set<std::string> pending_uidls;
    for (const auto& id : *pending) pending_uidls.insert(id.uidl);
    for (const std::uint64_t r : confirmed) {
      EXPECT_TRUE(pending_uidls.contains(deletion_uidl(r))) << "confirmed deletion of round " << r << " lost";
    }
    next_round = state + 1;

    // This open was the only one: it removed what the killed writer had staged.
    std::uint64_t stored_chunks = 0;
    for (const auto& record : *listing) {
      if (record.has_body) stored_chunks += (*record.exact_size + testing::kChunkBytes - 1) / testing::kChunkBytes;
    }
    cache.reset();
    EXPECT_EQ(testing::raw_entries(dir, "staging"), 0U);
    EXPECT_EQ(testing::raw_entries(dir, "bodies"), stored_chunks) << "chunks that belong to no stored body";
  }
}

TEST(Crash, StagedChunksOfAKilledWriterGoAtTheNextOpen) {
  TempDir tmp;
  const auto dir = tmp.path() / "c";
  {
    auto cache = testing::open_cache(dir);
    ASSERT_NE(cache, nullptr);
    ASSERT_TRUE(cache->apply_listing(listed({{mid("big"), 1}}), 1));
  }
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    Cache::Options options;
    options.dir = dir;
    auto opened = Cache::open(options);
    if (!opened) ::_exit(2);
    auto writer = (*opened)->begin_body(mid("big"));
    if (!writer || !(*writer)->append(pattern("big", 3 * testing::kStagedAfter))) ::_exit(3);
    const char staged = 's';
    if (::write(fds[1], &staged, 1) != 1) ::_exit(4);
    for (;;) ::pause();  // wait for SIGKILL with the staged chunks in the cache
  }
  ::close(fds[1]);
  char report = 0;
  ASSERT_EQ(::read(fds[0], &report, 1), 1) << "the child failed before staging";
  ::close(fds[0]);
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);

  EXPECT_EQ(testing::raw_entries(dir, "staging"), 1U);
  EXPECT_GE(testing::raw_entries(dir, "bodies"), 3 * testing::kStagedAfter / testing::kChunkBytes);
  {
    auto cache = testing::open_cache(dir);
    ASSERT_NE(cache, nullptr);
    auto record = cache->record(mid("big"));
    ASSERT_TRUE(record);
    EXPECT_FALSE((*record)->has_body);
    EXPECT_EQ(cache->stats()->bodies, 0U);
  }
  EXPECT_EQ(testing::raw_entries(dir, "staging"), 0U);
  EXPECT_EQ(testing::raw_entries(dir, "bodies"), 0U);
}

}  // namespace
}  // namespace popfs::store
