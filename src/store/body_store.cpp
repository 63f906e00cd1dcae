// Bodies of the LMDB cache: streaming writer, chunked storage, reads, access ticks, eviction.
//
// A body is stored as chunks of kChunkBytes keyed (message key, chunk number), so a read at
// any offset is one B-tree lookup plus a copy of just the bytes asked for. Writers stream
// into an unnamed temporary file; commit copies it into the chunks in one write transaction
// (MDB_RESERVE: straight from the file into the map, no buffer of the body's size).

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

class LmdbBodyWriter final : public BodyWriter {
 public:
  LmdbBodyWriter(LmdbCache& cache, MessageId id, std::string key, std::unique_ptr<TempFile> file)
      : cache_(cache), id_(std::move(id)), key_(std::move(key)), file_(std::move(file)) {}

  Result<void> append(std::string_view chunk) override {
    return guarded([&] {
      if (!file_) throw StoreFailure(Errc::invalid_argument, "body writer used after commit");
      file_->append(chunk);
    });
  }

  Result<void> commit() override {
    return guarded([&] {
      if (!file_) throw StoreFailure(Errc::invalid_argument, "body writer committed twice");
      const auto file = std::move(file_);  // the temporary file goes away whatever happens
      cache_.commit_body(key_, id_, *file);
    });
  }

 private:
  LmdbCache& cache_;
  MessageId id_;
  std::string key_;
  std::unique_ptr<TempFile> file_;
};

[[noreturn]] void damaged_body(const std::string& key) {
  throw StoreFailure(Errc::cache, "damaged cache: the stored body of \"" + codec::decode_message_key(key).uidl +
                                      "\" is incomplete (popfs cache clear starts over)");
}

}  // namespace

Result<std::unique_ptr<BodyWriter>> LmdbCache::begin_body(const MessageId& id) {
  return guarded([&]() -> std::unique_ptr<BodyWriter> {
    std::string key = codec::message_key(id);
    return std::make_unique<LmdbBodyWriter>(*this, id, std::move(key), std::make_unique<TempFile>(options_.dir));
  });
}

void LmdbCache::commit_body(const std::string& key, const MessageId& id, const TempFile& file) {
  const std::uint64_t size = file.size();
  write([&](const lmdb::Txn& txn) {
    auto record = load_record(txn, key);
    if (!record) {
      throw StoreFailure(Errc::not_found, "message \"" + id.uidl +
                                              "\" left the listing while it was fetched: its body was not cached");
    }
    if (record->has_body) drop_body(txn, key, *record);
    std::uint32_t chunk = 0;
    for (std::uint64_t offset = 0; offset < size; offset += kChunkBytes, ++chunk) {
      const auto length = static_cast<std::size_t>(std::min<std::uint64_t>(kChunkBytes, size - offset));
      char* target = tables_.bodies.reserve(txn, codec::chunk_key(key, chunk), length);
      file.read_at(offset, target, length);
    }
    record->exact_size = size;
    record->has_body = true;
    store_record(txn, key, *record);
    const std::uint64_t tick = ++clock_;
    tables_.lru.put(txn, key, codec::u64_be(tick));
    tables_.lru_order.put(txn, codec::order_key(tick, key), "");
    set_counter(txn, kBodyBytes, counter(txn, kBodyBytes) + size);
    evict_over_cap(txn, key);
  });
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
      const auto wanted = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), size - offset));
      auto chunk = static_cast<std::uint32_t>(offset / kChunkBytes);
      auto within = static_cast<std::size_t>(offset % kChunkBytes);
      std::size_t done = 0;
      lmdb::Cursor cursor(txn, tables_.bodies);
      auto entry = cursor.seek(codec::chunk_key(key, chunk));
      while (done < wanted) {
        if (!entry || entry->key != codec::chunk_key(key, chunk) || within >= entry->value.size()) damaged_body(key);
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
  return guarded([&] {
    write([&](const lmdb::Txn& txn) {
      std::vector<std::string> keys;
      {
        lmdb::Cursor cursor(txn, tables_.lru);
        for (auto entry = cursor.first(); entry; entry = cursor.next()) keys.emplace_back(entry->key);
      }
      for (const auto& key : keys) {
        if (auto record = load_record(txn, key)) {
          record->has_body = false;  // exact_size stays: it is still the message's size
          store_record(txn, key, *record);
        }
      }
      tables_.bodies.clear(txn);
      tables_.lru.clear(txn);
      tables_.lru_order.clear(txn);
      set_counter(txn, kBodyBytes, 0);
    });
  });
}

void LmdbCache::drop_body(const lmdb::Txn& txn, const std::string& key, MessageRecord& record) const {
  std::vector<std::string> chunks;
  {
    lmdb::Cursor cursor(txn, tables_.bodies);
    for (auto entry = cursor.seek(codec::chunk_key(key, 0));
         entry && entry->key.size() == key.size() + 4 && entry->key.starts_with(key); entry = cursor.next()) {
      chunks.emplace_back(entry->key);
    }
  }
  for (const auto& chunk : chunks) tables_.bodies.del(txn, chunk);
  if (const auto tick = tables_.lru.get(txn, key)) {
    const std::uint64_t old_tick = codec::read_u64_be(*tick);
    tables_.lru_order.del(txn, codec::order_key(old_tick, key));
    tables_.lru.del(txn, key);
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
    const auto stored = tables_.lru.get(txn, key);
    if (!stored) continue;  // the body is gone meanwhile
    const std::uint64_t old_tick = codec::read_u64_be(*stored);
    if (old_tick >= tick) continue;
    tables_.lru_order.del(txn, codec::order_key(old_tick, key));
    tables_.lru_order.put(txn, codec::order_key(tick, key), "");
    tables_.lru.put(txn, key, codec::u64_be(tick));
  }
}

}  // namespace popfs::store
