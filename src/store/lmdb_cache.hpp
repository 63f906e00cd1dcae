#pragma once
// The LMDB implementation of popfs::store::Cache (see cache.hpp for the contract).
//
// Tables (named LMDB databases in one environment per account):
//   internal   schema_version (decimal text); next_inode (the next serial), next_generation,
//              body_bytes (u64 BE); listing_order (u64 BE serials, only when the server's
//              order is not the order of serials)
//   meta       caller's small named values
//   messages   message key -> MessageRecord (codec.hpp)
//   listing    u64 BE serial -> message key: the listed messages; in server order as long as
//              the server lists them in the order it first showed them (POP3 servers do);
//              otherwise listing_order holds the order
//   stubs      message key -> header stub
//   bodies     message key | u64 BE generation | u32 BE chunk -> up to kChunkBytes of a body
//   stored     message key -> access tick and generation of its committed body
//   lru_order  u64 BE tick | message key -> "" (oldest first, for eviction)
//   staging    u64 BE generation -> message key: bodies being written, not yet committed
//   pending    message key -> "" (pending deletions)
//
// Bodies: a BodyWriter buffers up to kStageBytes, then writes those chunks under a fresh
// generation in a transaction of their own (staging), so a big body never needs its size in
// memory. commit() writes the rest, points `stored` at the generation and drops the old
// one, all in one transaction: readers see the old body or the new one, never a mix.
// Staged chunks of a writer that died with its process are removed by the next open that
// finds itself the only process using the cache (DirLock::sole).
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
#include <vector>

#include "cache_dir.hpp"
#include "popfs/store/cache.hpp"
#include "popfs/store/lmdb.hpp"
#include "resize_gate.hpp"

namespace popfs::store {

inline constexpr int kSchemaVersion = 2;
inline constexpr std::string_view kInternalTable = "internal";
inline constexpr std::string_view kSchemaVersionKey = "schema_version";
inline constexpr std::size_t kChunkBytes = 256 * 1024;
inline constexpr std::size_t kStageBytes = 16 * kChunkBytes;  // what a writer buffers at most

class LmdbCache final : public Cache {
 public:
  static std::unique_ptr<LmdbCache> open_or_throw(const Options& options);
  ~LmdbCache() override;

  Result<void> scan_listing(const std::function<void(const MessageRecord&)>& visit) override;
  using Cache::apply_listing;
  Result<ListingUpdate> apply_listing(const MessageTable& listed, std::int64_t now, ListingStates states) override;
  Result<bool> holds_none_of(const MessageTable& listed) override;
  Result<void> reset() override;
  Result<std::optional<MessageRecord>> record(const MessageId& id) override;
  Result<std::optional<std::string>> stub(const MessageId& id) override;
  Result<void> put_stub(const MessageId& id, std::string_view stub,
                        std::optional<std::int64_t> date_mtime) override;
  Result<std::vector<bool>> put_stubs(const std::vector<StubWrite>& stubs) override;
  Result<void> set_mail_flags(const MessageId& id, std::uint8_t flags) override;
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

  // For the body writer; these throw. `data` holds whole chunks except at the very end.
  // stage_chunks allocates the generation on its first call.
  void stage_chunks(const std::string& key, std::optional<std::uint64_t>& generation, std::uint32_t first_chunk,
                    std::string_view data);
  void commit_body(const std::string& key, const MessageId& id, std::optional<std::uint64_t> generation,
                   std::uint32_t staged_chunks, std::uint64_t staged_bytes, std::string_view tail);
  void discard_staged(const std::string& key, std::uint64_t generation);

 private:
  struct Tables {
    lmdb::Dbi internal, meta, messages, listing, stubs, bodies, stored, lru_order, staging, pending;
  };
  using Touches = std::map<std::string, std::uint64_t>;

  LmdbCache(Options options, std::unique_ptr<DirLock> lock, lmdb::Env env);
  void open_tables();

  // Run fn(txn) in a read / write transaction, retrying after map growth. They throw.
  template <class F>
  auto read(F&& fn) -> std::invoke_result_t<F, const lmdb::Txn&>;
  enum class Sync {
    normal,  // data pages synced at commit (MDB_NOMETASYNC)
    none,    // a write a crash may lose (staged chunks, stubs). LMDB 0.9 has no per-transaction
             // NOSYNC (mdb_txn_begin keeps only MDB_RDONLY), so it is synced as normal; a
             // measured run with the whole environment unsynced gained nothing worth the risk
             // of a corrupt cache after a power loss
    forced,  // everything on disk before returning
  };
  template <class F>
  auto write(F&& fn, Sync sync = Sync::normal) -> std::invoke_result_t<F, const lmdb::Txn&>;
  void grow_map();
  void adopt_resized_map();
  // A failed write, rethrown; saying so when the cache's disk is full (LMDB reports a short
  // write as EIO, which alone does not tell the user what to do).
  [[noreturn]] void rethrow_write_failure(const lmdb::LmdbError& e) const;

  std::optional<MessageRecord> load_record(const lmdb::Txn& txn, const std::string& key) const;
  MessageRecord require_record(const lmdb::Txn& txn, const std::string& key) const;
  void store_record(const lmdb::Txn& txn, const std::string& key, const MessageRecord& record) const;
  std::uint64_t counter(const lmdb::Txn& txn, std::string_view name) const;
  void set_counter(const lmdb::Txn& txn, std::string_view name, std::uint64_t value) const;
  void purge_message(const lmdb::Txn& txn, const std::string& key) const;
  // put_flags: MDB_APPEND when the key is above every stored stub's.
  void store_stub(const lmdb::Txn& txn, const std::string& key, MessageRecord& record, std::string_view stub,
                  std::optional<std::int64_t> date_mtime, unsigned put_flags = 0) const;
  // Deletes the chunks and LRU entries of a stored body and updates record and byte count.
  void drop_body(const lmdb::Txn& txn, const std::string& key, MessageRecord& record) const;
  void delete_chunks(const lmdb::Txn& txn, const std::string& key, std::uint64_t generation) const;
  // Writes data as chunks first_chunk, first_chunk + 1, ...; returns how many.
  std::uint32_t put_chunks(const lmdb::Txn& txn, const std::string& key, std::uint64_t generation,
                           std::uint32_t first_chunk, std::string_view data) const;
  std::uint64_t next_generation(const lmdb::Txn& txn) const;
  void purge_abandoned_staging();
  // Deletes every committed body (chunks, stored, lru_order) and zeroes the byte count;
  // records keep their exact_size.
  void drop_all_bodies(const lmdb::Txn& txn) const;
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
auto LmdbCache::write(F&& fn, Sync sync) -> std::invoke_result_t<F, const lmdb::Txn&> {
  using R = std::invoke_result_t<F, const lmdb::Txn&>;
  constexpr int kMaxAttempts = 40;  // doubling 40 times is far beyond any disk
  std::lock_guard writer(write_mutex_);
  for (int attempt = 0;; ++attempt) {
    int retry_reason = 0;
    {
      ResizeGate::Pass pass(gate_);
      try {
        auto txn = lmdb::Txn::begin(env_, sync == Sync::none ? MDB_NOSYNC : 0U);
        const Touches touches = touch_snapshot();
        store_touches(txn, touches);
        if constexpr (std::is_void_v<R>) {
          fn(txn);
          txn.commit();
          forget_touches(touches);
          if (sync == Sync::forced) env_.sync(true);
          return;
        } else {
          R result = fn(txn);
          txn.commit();
          forget_touches(touches);
          if (sync == Sync::forced) env_.sync(true);
          return result;
        }
      } catch (const lmdb::LmdbError& e) {
        const bool growable = e.code() == MDB_MAP_FULL || e.code() == MDB_MAP_RESIZED;
        if (!growable || attempt >= kMaxAttempts) rethrow_write_failure(e);
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
