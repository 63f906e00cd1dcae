#pragma once
// Helpers for the store tests: a private temporary directory, deterministic body bytes,
// and short ways to write and read whole bodies.

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "popfs/store/cache.hpp"
#include "popfs/store/lmdb.hpp"

namespace popfs::store::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/popfs-store-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = templ;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Bytes that depend on seed and position, so a misplaced or mixed-up chunk shows.
inline std::string pattern(std::string_view seed, std::size_t size) {
  const std::uint64_t h = std::hash<std::string_view>{}(seed);
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    out[i] = static_cast<char>((h >> (i % 7 * 8)) ^ (i * 131U) ^ (i >> 11));
  }
  return out;
}

inline MessageId mid(std::string uidl, std::uint32_t occurrence = 1) { return MessageId{std::move(uidl), occurrence}; }

struct ListedMessage {
  MessageId id;
  std::uint64_t list_size = 0;
};

// A server's listing of these ids and sizes, in this order. The table counts occurrences
// itself: each id must be what it would count (ADD_FAILURE otherwise).
inline MessageTable table_of(const std::vector<ListedMessage>& items) {
  MessageTable table;
  for (const auto& [id, size] : items) {
    const auto row = table.append(id.uidl, static_cast<std::uint32_t>(table.size() + 1), size);
    if (table.occurrence(row) != id.occurrence) ADD_FAILURE() << "test listing: " << id.uidl << " is not occurrence " << id.occurrence;
  }
  return table;
}

inline MessageTable listed(std::initializer_list<std::pair<MessageId, std::uint64_t>> items) {
  std::vector<ListedMessage> all;
  for (const auto& [id, size] : items) all.push_back(ListedMessage{id, size});
  return table_of(all);
}

// apply_listing, then the records of the new listing in server order.
inline Result<std::vector<MessageRecord>> apply(Cache& cache, const MessageTable& table, std::int64_t now) {
  auto applied = cache.apply_listing(table, now);
  if (!applied) return applied.error();
  return cache.listing();
}

inline std::unique_ptr<Cache> open_cache(const std::filesystem::path& dir, std::uint64_t cap = 2ULL << 30,
                                         std::uint64_t map = 64ULL << 20) {
  Cache::Options options;
  options.dir = dir;
  options.body_cap_bytes = cap;
  options.initial_map_bytes = map;
  auto cache = Cache::open(options);
  if (!cache) ADD_FAILURE() << cache.error().describe();
  return cache ? std::move(cache).value() : nullptr;
}

// Streams body in pieces of `piece` bytes and commits.
inline ::testing::AssertionResult store_body(Cache& cache, const MessageId& id, std::string_view body,
                                             std::size_t piece = 65536) {
  auto writer = cache.begin_body(id);
  if (!writer) return ::testing::AssertionFailure() << writer.error().describe();
  for (std::size_t at = 0; at < body.size(); at += piece) {
    auto appended = (*writer)->append(body.substr(at, piece));
    if (!appended) return ::testing::AssertionFailure() << appended.error().describe();
  }
  auto committed = (*writer)->commit();
  if (!committed) return ::testing::AssertionFailure() << committed.error().describe();
  return ::testing::AssertionSuccess();
}

// The whole stored body read sequentially in reads of `piece` bytes; nullopt if none.
inline std::optional<std::string> load_body(Cache& cache, const MessageId& id, std::size_t piece = 65536) {
  std::string out;
  std::vector<char> buffer(piece);
  for (;;) {
    auto n = cache.read_body(id, out.size(), buffer);
    if (!n) {
      ADD_FAILURE() << n.error().describe();
      return std::nullopt;
    }
    if (!n->has_value()) return std::nullopt;
    if (**n == 0) return out;
    out.append(buffer.data(), **n);
  }
}

// Entries of one of the cache's LMDB tables, read directly (the cache must be closed).
inline std::uint64_t raw_entries(const std::filesystem::path& dir, const char* table) {
  auto env = lmdb::Env::open(dir, {});
  auto txn = lmdb::Txn::begin(env, MDB_RDONLY);
  return lmdb::Dbi::open(txn, table, 0).entries(txn);
}

inline constexpr std::size_t kChunkBytes = 256 * 1024;  // the store's chunk size
inline constexpr std::size_t kStagedAfter = 16 * kChunkBytes;  // writers stage chunks from here

}  // namespace popfs::store::testing
