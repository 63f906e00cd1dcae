#pragma once
// The LMDB implementation of popfs::store::Cache (see cache.hpp for the contract).
//
// Tables (named LMDB databases in one environment per account):
//   internal   schema_version (decimal text), next_inode, body_bytes (u64 BE)
//   meta       caller's small named values
//   messages   message key -> MessageRecord (codec.hpp)
//   listing    u64 BE position -> message key, in server order
//   stubs      message key -> header stub
//   bodies     message key | u32 BE chunk number -> up to kChunkBytes of the body
//   lru        message key -> u64 BE access tick of a stored body
//   lru_order  u64 BE tick | message key -> "" (oldest first, for eviction)
//   pending    message key -> "" (pending deletions)
//
// Concurrency: any number of read transactions (MDB_NOTLS, one per call) and one writer at a
// time (write_mutex_). Map growth goes through the ResizeGate. Reads of bodies do not write:
// their access ticks wait in memory and are stored by the next write transaction.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>

#include "cache_dir.hpp"
#include "popfs/store/cache.hpp"
#include "popfs/store/lmdb.hpp"
#include "resize_gate.hpp"

namespace popfs::store {

inline constexpr int kSchemaVersion = 1;
inline constexpr std::string_view kInternalTable = "internal";
inline constexpr std::string_view kSchemaVersionKey = "schema_version";
inline constexpr std::size_t kChunkBytes = 256 * 1024;

class LmdbCache final : public Cache {
 public:
  static std::unique_ptr<LmdbCache> open_or_throw(const Options& options);
  ~LmdbCache() override;

  Result<std::vector<MessageRecord>> listing() override;
  Result<std::vector<MessageRecord>> apply_listing(const std::vector<ListedMessage>& listed,
                                                   std::int64_t now) override;
  Result<void> reset() override;
  Result<std::optional<MessageRecord>> record(const MessageId& id) override;
  Result<std::optional<std::string>> stub(const MessageId& id) override;
  Result<void> put_stub(const MessageId& id, std::string_view stub,
                        std::optional<std::int64_t> date_mtime) override;
  Result<std::unique_ptr<BodyWriter>> begin_body(const MessageId& id) override;
  Result<std::optional<std::size_t>> read_body(const MessageId& id, std::uint64_t offset,
                                               std::span<char> out) override;
  Result<void> clear_bodies() override;
  Result<void> add_pending_deletion(const MessageId& id) override;
  Result<std::vector<MessageId>> pending_deletions() override;
  Result<void> remove_pending_deletions(const std::vector<MessageId>& ids) override;
  Result<std::optional<std::string>> meta(std::string_view key) override;
  Result<void> set_meta(std::string_view key, std::string_view value) override;
  Result<CacheStats> stats() override;

  // For the body writer: stores the streamed body in one write transaction. Throws.
  void commit_body(const std::string& key, const MessageId& id, const TempFile& file);

 private:
  struct Tables {
    lmdb::Dbi internal, meta, messages, listing, stubs, bodies, lru, lru_order, pending;
  };
  using Touches = std::map<std::string, std::uint64_t>;

  LmdbCache(Options options, std::unique_ptr<DirLock> lock, lmdb::Env env);
  void open_tables();

  // Run fn(txn) in a read / write transaction, retrying after map growth. They throw.
  template <class F>
  auto read(F&& fn) -> std::invoke_result_t<F, const lmdb::Txn&>;
  template <class F>
  auto write(F&& fn, bool durable = false) -> std::invoke_result_t<F, const lmdb::Txn&>;
  void grow_map();
  void adopt_resized_map();

  std::optional<MessageRecord> load_record(const lmdb::Txn& txn, const std::string& key) const;
  MessageRecord require_record(const lmdb::Txn& txn, const std::string& key) const;
  void store_record(const lmdb::Txn& txn, const std::string& key, const MessageRecord& record) const;
  std::uint64_t counter(const lmdb::Txn& txn, std::string_view name) const;
  void set_counter(const lmdb::Txn& txn, std::string_view name, std::uint64_t value) const;
  void purge_message(const lmdb::Txn& txn, const std::string& key) const;
  // Deletes the chunks and LRU entries of a stored body and updates record and byte count.
  void drop_body(const lmdb::Txn& txn, const std::string& key, MessageRecord& record) const;
  void evict_over_cap(const lmdb::Txn& txn, const std::string& keep_key) const;

  void touch(const std::string& key);
  Touches touch_snapshot();
  void forget_touches(const Touches& stored);
  void store_touches(const lmdb::Txn& txn, const Touches& touches) const;

  Options options_;
  std::unique_ptr<DirLock> lock_;  // declared before env_: released after the env closes
  lmdb::Env env_;
  Tables tables_;
  ResizeGate gate_;
  std::mutex write_mutex_;
  std::mutex touches_mutex_;
  Touches touches_;
  std::atomic<std::uint64_t> clock_{0};
};

template <class F>
auto LmdbCache::read(F&& fn) -> std::invoke_result_t<F, const lmdb::Txn&> {
  for (int attempt = 0;; ++attempt) {
    {
      ResizeGate::Pass pass(gate_);
      try {
        const auto txn = lmdb::Txn::begin(env_, MDB_RDONLY);
        return fn(txn);
      } catch (const lmdb::LmdbError& e) {
        if (e.code() != MDB_MAP_RESIZED || attempt >= 3) throw;
      }
    }
    adopt_resized_map();  // another process grew the map
  }
}

template <class F>
auto LmdbCache::write(F&& fn, bool durable) -> std::invoke_result_t<F, const lmdb::Txn&> {
  using R = std::invoke_result_t<F, const lmdb::Txn&>;
  constexpr int kMaxAttempts = 40;  // doubling 40 times is far beyond any disk
  std::lock_guard writer(write_mutex_);
  for (int attempt = 0;; ++attempt) {
    int retry_reason = 0;
    {
      ResizeGate::Pass pass(gate_);
      try {
        auto txn = lmdb::Txn::begin(env_, 0);
        const Touches touches = touch_snapshot();
        store_touches(txn, touches);
        if constexpr (std::is_void_v<R>) {
          fn(txn);
          txn.commit();
          forget_touches(touches);
          if (durable) env_.sync(true);
          return;
        } else {
          R result = fn(txn);
          txn.commit();
          forget_touches(touches);
          if (durable) env_.sync(true);
          return result;
        }
      } catch (const lmdb::LmdbError& e) {
        const bool growable = e.code() == MDB_MAP_FULL || e.code() == MDB_MAP_RESIZED;
        if (!growable || attempt >= kMaxAttempts) throw;
        retry_reason = e.code();
      }
    }
    if (retry_reason == MDB_MAP_FULL) {
      grow_map();
    } else {
      adopt_resized_map();
    }
  }
}

}  // namespace popfs::store
