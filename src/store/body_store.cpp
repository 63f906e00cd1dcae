// Bodies of the LMDB cache: streaming writer, chunked storage, reads, access ticks, eviction.
//
// A body is stored as chunks of kChunkBytes keyed (message key, generation, chunk number),
// so a read at any offset is one B-tree lookup plus a copy of just the bytes asked for.
// See lmdb_cache.hpp for how staging keeps big bodies out of memory.

#include <algorithm>
#include <cstring>
#include <vector>

#include "codec.hpp"
#include "guard.hpp"
#include "lmdb_cache.hpp"
#include "store_failure.hpp"

namespace popfs::store {
namespace {

constexpr std::string_view kBodyBytes = "body_bytes";
constexpr std::string_view kNextGeneration = "next_generation";
constexpr auto kChunksPerStage = static_cast<std::uint32_t>(kStageBytes / kChunkBytes);

class LmdbBodyWriter final : public BodyWriter {
 public:
  LmdbBodyWriter(LmdbCache& cache, MessageId id, std::string key)
      : cache_(cache), id_(std::move(id)), key_(std::move(key)) {}

  ~LmdbBodyWriter() override {
    if (!committed_ && generation_) {
      // Best effort: what this leaves is removed by a later open (staging table).
      (void)guarded([&] { cache_.discard_staged(key_, *generation_); });
    }
  }

  Result<void> append(std::string_view chunk) override {
    return guarded([&] {
      if (!usable_) throw StoreFailure(Errc::invalid_argument, "body writer used after commit or a failure");
      usable_ = false;  // until this append succeeds
      while (!chunk.empty()) {
        const std::size_t take = std::min(kStageBytes - buffer_.size(), chunk.size());
        buffer_.append(chunk.substr(0, take));
        chunk.remove_prefix(take);
        if (buffer_.size() == kStageBytes) {
          cache_.stage_chunks(key_, generation_, staged_chunks_, buffer_);
          staged_chunks_ += kChunksPerStage;
          staged_bytes_ += kStageBytes;
          buffer_.clear();
        }
      }
      usable_ = true;
    });
  }

  Result<void> commit() override {
    return guarded([&] {
      if (!usable_) throw StoreFailure(Errc::invalid_argument, "body writer committed twice or after a failure");
      usable_ = false;
      cache_.commit_body(key_, id_, generation_, staged_chunks_, staged_bytes_, buffer_);
      committed_ = true;
      buffer_ = std::string();
    });
  }

 private:
  LmdbCache& cache_;
  MessageId id_;
  std::string key_;
  std::string buffer_;  // bytes not yet in LMDB: less than kStageBytes
  std::optional<std::uint64_t> generation_;
  std::uint32_t staged_chunks_ = 0;
  std::uint64_t staged_bytes_ = 0;
  bool usable_ = true;     // false after commit() or any failure
  bool committed_ = false;  // else the destructor discards the staged chunks
};

[[noreturn]] void damaged_body(const std::string& key) {
  throw StoreFailure(Errc::cache, "damaged cache: the stored body of \"" + codec::decode_message_key(key).uidl +
                                      "\" is incomplete (popfs cache clear starts over)");
}

}  // namespace

Result<std::unique_ptr<BodyWriter>> LmdbCache::begin_body(const MessageId& id) {
  return guarded([&]() -> std::unique_ptr<BodyWriter> {
    std::string key = codec::message_key(id);
    return std::make_unique<LmdbBodyWriter>(*this, id, std::move(key));
  });
}

std::uint64_t LmdbCache::next_generation(const lmdb::Txn& txn) const {
  const std::uint64_t generation = counter(txn, kNextGeneration) + 1;
  set_counter(txn, kNextGeneration, generation);
  return generation;
}

std::uint32_t LmdbCache::put_chunks(const lmdb::Txn& txn, const std::string& key, std::uint64_t generation,
                                    std::uint32_t first_chunk, std::string_view data) const {
  std::uint32_t chunk = first_chunk;
  for (std::size_t at = 0; at < data.size(); at += kChunkBytes, ++chunk) {
    tables_.bodies.put(txn, codec::chunk_key(key, generation, chunk), data.substr(at, kChunkBytes));
  }
  return chunk - first_chunk;
}

void LmdbCache::stage_chunks(const std::string& key, std::optional<std::uint64_t>& generation,
                             std::uint32_t first_chunk, std::string_view data) {
  const std::uint64_t used = write(
      [&](const lmdb::Txn& txn) {
        const std::uint64_t g = generation ? *generation : next_generation(txn);
        if (!generation) tables_.staging.put(txn, codec::u64_be(g), key);
        put_chunks(txn, key, g, first_chunk, data);
        return g;
      },
      Sync::none);  // the commit's sync covers these pages too; a crash only loses garbage
  generation = used;
}

void LmdbCache::discard_staged(const std::string& key, std::uint64_t generation) {
  write([&](const lmdb::Txn& txn) {
    delete_chunks(txn, key, generation);
    tables_.staging.del(txn, codec::u64_be(generation));
  }, Sync::none);
}

void LmdbCache::purge_abandoned_staging() {
  write([&](const lmdb::Txn& txn) {
    std::vector<std::pair<std::uint64_t, std::string>> abandoned;
    {
      lmdb::Cursor cursor(txn, tables_.staging);
      for (auto entry = cursor.first(); entry; entry = cursor.next()) {
        abandoned.emplace_back(codec::read_u64_be(entry->key), std::string(entry->value));
      }
    }
    for (const auto& [generation, key] : abandoned) delete_chunks(txn, key, generation);
    tables_.staging.clear(txn);
  });
}

void LmdbCache::commit_body(const std::string& key, const MessageId& id, std::optional<std::uint64_t> generation,
                            std::uint32_t staged_chunks, std::uint64_t staged_bytes, std::string_view tail) {
  const bool listed = write([&](const lmdb::Txn& txn) {
    auto record = load_record(txn, key);
    if (!record) {
      if (generation) {
        delete_chunks(txn, key, *generation);
        tables_.staging.del(txn, codec::u64_be(*generation));
      }
      return false;
    }
    const std::uint64_t g = generation ? *generation : next_generation(txn);
    if (generation) {
      // The staged chunks must all still be there (nothing else deletes a live generation).
      std::uint32_t found = 0;
      {
        const std::string prefix = codec::chunk_prefix(key, g);
        lmdb::Cursor cursor(txn, tables_.bodies);
        for (auto entry = cursor.seek(prefix); entry && entry->key.starts_with(prefix); entry = cursor.next()) ++found;
      }
      if (found != staged_chunks) damaged_body(key);
      tables_.staging.del(txn, codec::u64_be(g));
    }
    put_chunks(txn, key, g, staged_chunks, tail);
    if (record->has_body) drop_body(txn, key, *record);

    const std::uint64_t size = staged_bytes + tail.size();
    record->exact_size = size;
    record->has_body = true;
    store_record(txn, key, *record);
    const std::uint64_t tick = ++clock_;
    tables_.stored.put(txn, key, codec::encode_stored({tick, g}));
    tables_.lru_order.put(txn, codec::order_key(tick, key), "");
    set_counter(txn, kBodyBytes, counter(txn, kBodyBytes) + size);
    evict_over_cap(txn, key);
    return true;
  });
  if (!listed) {
    throw StoreFailure(Errc::not_found, "message \"" + id.uidl +
                                            "\" left the listing while it was fetched: its body was not cached");
  }
}

Result<std::optional<std::size_t>> LmdbCache::read_body(const MessageId& id, std::uint64_t offset,
                                                        std::span<char> out) {
  return guarded([&] {
    const std::string key = codec::message_key(id);
    const auto copied = read([&](const lmdb::Txn& txn) -> std::optional<std::size_t> {
      const auto record = load_record(txn, key);
      if (!record || !record->has_body || !record->exact_size) return std::nullopt;
      const std::uint64_t size = *record->exact_size;
      if (offset >= size || out.empty()) return std::size_t{0};
      const auto stored = tables_.stored.get(txn, key);
      if (!stored) damaged_body(key);
      const std::uint64_t generation = codec::decode_stored(*stored).generation;
      const auto wanted = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), size - offset));
      auto chunk = static_cast<std::uint32_t>(offset / kChunkBytes);
      auto within = static_cast<std::size_t>(offset % kChunkBytes);
      std::size_t done = 0;
      lmdb::Cursor cursor(txn, tables_.bodies);
      auto entry = cursor.seek(codec::chunk_key(key, generation, chunk));
      while (done < wanted) {
        if (!entry || entry->key != codec::chunk_key(key, generation, chunk) || within >= entry->value.size()) {
          damaged_body(key);
        }
        const std::size_t n = std::min(entry->value.size() - within, wanted - done);
        std::memcpy(out.data() + done, entry->value.data() + within, n);
        done += n;
        within = 0;
        ++chunk;
        if (done < wanted) entry = cursor.next();
      }
      return done;
    });
    if (copied) touch(key);
    return copied;
  });
}

Result<void> LmdbCache::clear_bodies() {
  return guarded([&] { write([&](const lmdb::Txn& txn) { drop_all_bodies(txn); }); });
}

void LmdbCache::drop_all_bodies(const lmdb::Txn& txn) const {
  std::vector<std::pair<std::string, std::uint64_t>> bodies;
  {
    lmdb::Cursor cursor(txn, tables_.stored);
    for (auto entry = cursor.first(); entry; entry = cursor.next()) {
      bodies.emplace_back(std::string(entry->key), codec::decode_stored(entry->value).generation);
    }
  }
  for (const auto& [key, generation] : bodies) {
    delete_chunks(txn, key, generation);
    if (auto record = load_record(txn, key)) {
      record->has_body = false;  // exact_size stays: it is still the message's size
      store_record(txn, key, *record);
    }
  }
  tables_.stored.clear(txn);
  tables_.lru_order.clear(txn);
  set_counter(txn, kBodyBytes, 0);
}

void LmdbCache::delete_chunks(const lmdb::Txn& txn, const std::string& key, std::uint64_t generation) const {
  const std::string prefix = codec::chunk_prefix(key, generation);
  std::vector<std::string> chunks;
  {
    lmdb::Cursor cursor(txn, tables_.bodies);
    for (auto entry = cursor.seek(prefix); entry && entry->key.starts_with(prefix); entry = cursor.next()) {
      chunks.emplace_back(entry->key);
    }
  }
  for (const auto& chunk : chunks) tables_.bodies.del(txn, chunk);
}

void LmdbCache::drop_body(const lmdb::Txn& txn, const std::string& key, MessageRecord& record) const {
  if (const auto value = tables_.stored.get(txn, key)) {
    const codec::StoredBody stored = codec::decode_stored(*value);
    delete_chunks(txn, key, stored.generation);
    tables_.lru_order.del(txn, codec::order_key(stored.tick, key));
    tables_.stored.del(txn, key);
  }
  if (record.has_body && record.exact_size) {
    const std::uint64_t total = counter(txn, kBodyBytes);
    set_counter(txn, kBodyBytes, total - std::min(total, *record.exact_size));
  }
  record.has_body = false;
  store_record(txn, key, record);
}

void LmdbCache::evict_over_cap(const lmdb::Txn& txn, const std::string& keep_key) const {
  std::uint64_t total = counter(txn, kBodyBytes);
  if (total <= options_.body_cap_bytes) return;
  std::vector<std::string> victims;
  {
    lmdb::Cursor cursor(txn, tables_.lru_order);
    for (auto entry = cursor.first(); entry && total > options_.body_cap_bytes; entry = cursor.next()) {
      std::string key(codec::message_key_of_order_key(entry->key));
      if (key == keep_key) continue;
      const auto record = load_record(txn, key);
      if (record && record->exact_size) total -= std::min(total, *record->exact_size);
      victims.push_back(std::move(key));
    }
  }
  for (const auto& key : victims) {
    if (auto record = load_record(txn, key)) {
      drop_body(txn, key, *record);
    } else {
      damaged_body(key);  // an LRU entry without a message: never written that way
    }
  }
}

void LmdbCache::touch(const std::string& key) {
  std::lock_guard lock(touches_mutex_);
  touches_[key] = ++clock_;
}

LmdbCache::Touches LmdbCache::touch_snapshot() {
  std::lock_guard lock(touches_mutex_);
  return touches_;
}

void LmdbCache::forget_touches(const Touches& stored) {
  std::lock_guard lock(touches_mutex_);
  for (const auto& [key, tick] : stored) {
    const auto it = touches_.find(key);
    if (it != touches_.end() && it->second == tick) touches_.erase(it);
  }
}

void LmdbCache::store_touches(const lmdb::Txn& txn, const Touches& touches) const {
  for (const auto& [key, tick] : touches) {
    const auto value = tables_.stored.get(txn, key);
    if (!value) continue;  // the body is gone meanwhile
    const codec::StoredBody stored = codec::decode_stored(*value);
    if (stored.tick >= tick) continue;
    tables_.lru_order.del(txn, codec::order_key(stored.tick, key));
    tables_.lru_order.put(txn, codec::order_key(tick, key), "");
    tables_.stored.put(txn, key, codec::encode_stored({tick, stored.generation}));
  }
}

}  // namespace popfs::store
