// Opening, schema, listing, stubs, pending deletions and meta of the LMDB cache.
// Bodies, LRU and eviction are in body_store.cpp.

#include "lmdb_cache.hpp"

#include <sys/statvfs.h>

#include <cerrno>

#include <algorithm>
#include <array>
#include <charconv>
#include <numeric>
#include <vector>

#include "codec.hpp"
#include "guard.hpp"
#include "store_failure.hpp"

namespace popfs::store {
namespace {

constexpr std::string_view kNextInode = "next_inode";  // the next serial (named so in schema 1)
constexpr std::string_view kListingOrder = "listing_order";
constexpr std::size_t kFreshPerTransaction = 20000;

// Schema 1 keyed the listing by position (rewritten whole at every listing); schema 2 keys
// it by serial, so a listing writes only what changed. The order is kept.
void migrate_listing_by_position_to_serial(const lmdb::Txn& txn) {
  const auto listing = lmdb::Dbi::open(txn, "listing", MDB_CREATE);
  const auto messages = lmdb::Dbi::open(txn, "messages", MDB_CREATE);
  const auto internal = lmdb::Dbi::open(txn, kInternalTable.data(), MDB_CREATE);
  std::vector<std::pair<std::uint64_t, std::string>> in_order;
  {
    lmdb::Cursor cursor(txn, listing);
    for (auto entry = cursor.first(); entry; entry = cursor.next()) {
      const auto value = messages.get(txn, entry->value);
      if (!value) throw StoreFailure(Errc::cache, "damaged cache: the listing names a message without a record");
      MessageRecord record;
      codec::decode_record_into(*value, record);
      in_order.emplace_back(record.serial, std::string(entry->value));
    }
  }
  listing.clear(txn);
  std::string order;
  bool ascending = true;
  for (std::size_t i = 0; i < in_order.size(); ++i) {
    listing.put(txn, codec::u64_be(in_order[i].first), in_order[i].second);
    order += codec::u64_be(in_order[i].first);
    if (i > 0 && in_order[i].first <= in_order[i - 1].first) ascending = false;
  }
  if (!ascending) internal.put(txn, kListingOrder, order);
}

// kMigrations[i] upgrades schema i + 1 to i + 2, inside the opening write transaction, so
// a cache is either fully migrated or untouched.
using Migration = void (*)(const lmdb::Txn&);
constexpr std::array<Migration, kSchemaVersion - 1> kMigrations{migrate_listing_by_position_to_serial};
constexpr std::size_t kMaxMetaKeyBytes = 400;

void check_meta_key(std::string_view key) {
  if (key.empty() || key.size() > kMaxMetaKeyBytes) {
    throw StoreFailure(Errc::invalid_argument, "cache meta keys are 1 to 400 bytes long");
  }
}

int parse_schema_version(std::string_view text) {
  int version = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
  if (ec != std::errc{} || end != text.data() + text.size() || version < 1) {
    throw StoreFailure(Errc::cache, "damaged cache: unreadable schema version");
  }
  return version;
}

}  // namespace

Result<std::unique_ptr<Cache>> Cache::open(const Options& options) {
  return guarded([&]() -> std::unique_ptr<Cache> { return LmdbCache::open_or_throw(options); });
}

std::unique_ptr<LmdbCache> LmdbCache::open_or_throw(const Options& options) {
  prepare_cache_dir(options.dir);
  auto lock = std::make_unique<DirLock>(options.dir);

  lmdb::Env::Settings settings;
  settings.map_size = static_cast<std::size_t>(std::max<std::uint64_t>(options.initial_map_bytes, 64 * 1024));
  // NOMETASYNC: each commit still syncs its data pages; add_pending_deletion forces a full
  // sync. Either way kill -9 loses nothing: committed pages are in the OS page cache.
  settings.flags = MDB_NOTLS | MDB_NOMETASYNC;
  lmdb::Env env;
  try {
    env = lmdb::Env::open(options.dir, settings);
  } catch (const lmdb::LmdbError& e) {
    throw StoreFailure(Errc::cache, "cannot open the cache in " + options.dir.string() + ": " + e.what());
  }
  env.clear_stale_readers();

  std::unique_ptr<LmdbCache> cache(new LmdbCache(options, std::move(lock), std::move(env)));
  cache->open_tables();
  if (cache->lock_->sole()) cache->purge_abandoned_staging();
  cache->lock_->share();
  return cache;
}

void LmdbCache::rethrow_write_failure(const lmdb::LmdbError& e) const {
  constexpr std::uint64_t kFullBelowBytes = 16 * 1024 * 1024;  // less than a map growth step
  struct statvfs disk {};
  if ((e.code() == EIO || e.code() == ENOSPC) && ::statvfs(options_.dir.c_str(), &disk) == 0) {
    const std::uint64_t free_bytes = static_cast<std::uint64_t>(disk.f_bavail) * disk.f_frsize;
    if (free_bytes < kFullBelowBytes) {
      throw StoreFailure(e.code() == ENOSPC ? Errc::no_space : Errc::cache,
                         std::string(e.what()) + ": the disk of the cache (" + options_.dir.string() +
                             ") is full, " + std::to_string(free_bytes / 1024) + " KiB free");
    }
  }
  throw e;
}

LmdbCache::LmdbCache(Options options, std::unique_ptr<DirLock> lock, lmdb::Env env)
    : options_(std::move(options)), lock_(std::move(lock)), env_(std::move(env)) {}

LmdbCache::~LmdbCache() {
  bool unsaved = false;
  {
    std::lock_guard lock(touches_mutex_);
    unsaved = !touches_.empty();
  }
  if (unsaved) {
    // Best effort: losing access ticks only makes eviction a little less exact.
    (void)guarded([&] { write([](const lmdb::Txn&) {}); });
  }
}

void LmdbCache::open_tables() {
  write([&](const lmdb::Txn& txn) {
    Tables t;
    t.internal = lmdb::Dbi::open(txn, kInternalTable.data(), MDB_CREATE);
    int version = kSchemaVersion;
    if (const auto stored = t.internal.get(txn, kSchemaVersionKey)) {
      version = parse_schema_version(*stored);
    } else if (t.internal.entries(txn) != 0) {
      throw StoreFailure(Errc::cache, "damaged cache in " + options_.dir.string() +
                                          ": no schema version (popfs cache clear starts over)");
    }
    if (version > kSchemaVersion) {
      // Nothing was changed: the transaction aborts.
      throw StoreFailure(Errc::cache, "the cache in " + options_.dir.string() + " was written by a newer popfs (cache schema " +
                                          std::to_string(version) + ", this popfs knows up to " +
                                          std::to_string(kSchemaVersion) +
                                          "): use the newer popfs, or `popfs cache clear` to start over");
    }
    t.meta = lmdb::Dbi::open(txn, "meta", MDB_CREATE);
    t.messages = lmdb::Dbi::open(txn, "messages", MDB_CREATE);
    t.listing = lmdb::Dbi::open(txn, "listing", MDB_CREATE);
    t.stubs = lmdb::Dbi::open(txn, "stubs", MDB_CREATE);
    t.bodies = lmdb::Dbi::open(txn, "bodies", MDB_CREATE);
    t.stored = lmdb::Dbi::open(txn, "stored", MDB_CREATE);
    t.lru_order = lmdb::Dbi::open(txn, "lru_order", MDB_CREATE);
    t.staging = lmdb::Dbi::open(txn, "staging", MDB_CREATE);
    t.pending = lmdb::Dbi::open(txn, "pending", MDB_CREATE);
    tables_ = t;
    for (int from = version; from < kSchemaVersion; ++from) kMigrations[static_cast<std::size_t>(from - 1)](txn);
    tables_.internal.put(txn, kSchemaVersionKey, std::to_string(kSchemaVersion));
    if (counter(txn, kNextInode) == 0) set_counter(txn, kNextInode, kFirstSerial);
  });
  // Access ticks continue from the newest stored one.
  const std::uint64_t newest = read([&](const lmdb::Txn& txn) -> std::uint64_t {
    lmdb::Cursor cursor(txn, tables_.lru_order);
    const auto last = cursor.last();
    return last ? codec::read_u64_be(last->key.substr(0, 8)) : 0;
  });
  clock_.store(newest);
}

void LmdbCache::grow_map() {
  gate_.resize([&] { env_.set_map_size(env_.map_size() * 2); });
}

void LmdbCache::adopt_resized_map() {
  gate_.resize([&] { env_.set_map_size(0); });  // 0: take the size another process set
}

std::optional<MessageRecord> LmdbCache::load_record(const lmdb::Txn& txn, const std::string& key) const {
  const auto value = tables_.messages.get(txn, key);
  if (!value) return std::nullopt;
  return codec::decode_record(codec::decode_message_key(key), *value);
}

MessageRecord LmdbCache::require_record(const lmdb::Txn& txn, const std::string& key) const {
  auto record = load_record(txn, key);
  if (!record) {
    throw StoreFailure(Errc::not_found, "message \"" + codec::decode_message_key(key).uidl +
                                            "\" is not in the cached listing");
  }
  return std::move(*record);
}

void LmdbCache::store_record(const lmdb::Txn& txn, const std::string& key, const MessageRecord& record) const {
  tables_.messages.put(txn, key, codec::encode_record(record));
}

std::uint64_t LmdbCache::counter(const lmdb::Txn& txn, std::string_view name) const {
  const auto value = tables_.internal.get(txn, name);
  return value ? codec::read_u64_be(*value) : 0;
}

void LmdbCache::set_counter(const lmdb::Txn& txn, std::string_view name, std::uint64_t value) const {
  tables_.internal.put(txn, name, codec::u64_be(value));
}

void LmdbCache::purge_message(const lmdb::Txn& txn, const std::string& key) const {
  if (auto record = load_record(txn, key); record && record->has_body) drop_body(txn, key, *record);
  tables_.stubs.del(txn, key);
  tables_.messages.del(txn, key);
}

Result<std::vector<MessageRecord>> Cache::listing() {
  std::vector<MessageRecord> out;
  auto scanned = scan_listing([&](const MessageRecord& record) { out.push_back(record); });
  if (!scanned) return scanned.error();
  return out;
}

Result<void> LmdbCache::scan_listing(const std::function<void(const MessageRecord&)>& visit) {
  return guarded([&] {
    read([&](const lmdb::Txn& txn) {
      MessageRecord record;
      auto visit_key = [&](std::string_view key) {
        const auto value = tables_.messages.get(txn, key);
        if (!value) throw StoreFailure(Errc::cache, "damaged cache: the listing names a message without a record");
        codec::decode_message_key_into(key, record.id);
        codec::decode_record_into(*value, record);
        visit(record);
      };
      if (const auto order = tables_.internal.get(txn, kListingOrder)) {
        for (std::size_t at = 0; at + 8 <= order->size(); at += 8) {
          const auto key = tables_.listing.get(txn, order->substr(at, 8));
          if (!key) throw StoreFailure(Errc::cache, "damaged cache: the listing order names an unlisted message");
          visit_key(*key);
        }
        return;
      }
      lmdb::Cursor cursor(txn, tables_.listing);
      for (auto entry = cursor.first(); entry; entry = cursor.next()) visit_key(entry->value);
    });
  });
}

Result<bool> LmdbCache::holds_none_of(const MessageTable& listed) {
  return guarded([&] {
    return read([&](const lmdb::Txn& txn) {
      if (!lmdb::Cursor(txn, tables_.messages).first()) return false;
      std::string key;
      for (std::size_t row = 0; row < listed.size(); ++row) {
        if (!codec::keyable_uidl(listed.uidl(row))) continue;
        codec::message_key_into(listed.uidl(row), listed.occurrence(row), key);
        if (tables_.messages.get(txn, key)) return false;
      }
      return true;
    });
  });
}

Result<ListingUpdate> LmdbCache::apply_listing(const MessageTable& listed, std::int64_t now, ListingStates states) {
  return guarded([&] {
    for (std::size_t row = 0; row < listed.size(); ++row) {  // what message_key() would refuse
      if (!codec::keyable_uidl(listed.uidl(row))) {
        (void)codec::message_key(listed.id(row));  // throws with the message
      }
    }
    // The rows in the order of their message keys, the order of the messages table.
    std::vector<std::uint32_t> by_key(listed.size());
    for (std::size_t row = 0; row < by_key.size(); ++row) by_key[row] = static_cast<std::uint32_t>(row);
    const auto key_less = [&](std::uint32_t a, std::uint32_t b) {
      return codec::compare_message_keys(listed.uidl(a), listed.occurrence(a), listed.uidl(b),
                                         listed.occurrence(b)) < 0;
    };
    // Servers that number UIDLs in order (Dovecot: the UID in fixed-width hex) list them in
    // key order already: one pass instead of a sort.
    if (!std::is_sorted(by_key.begin(), by_key.end(), key_less)) std::sort(by_key.begin(), by_key.end(), key_less);
    std::vector<std::uint64_t> serials(listed.size(), 0);
    // Asked for: filled at the first cached record (a first mount has none: no states at all).
    std::vector<RecordState> row_states;
    bool cache_was_empty = false;
    bool listing_appends = false;  // see below
    // Writes the records of new rows [at, end) of `rows` (in key order, so a B-tree that held
    // nothing is filled by appending), each with its listing entry and serial.
    auto insert_fresh = [&](const lmdb::Txn& txn, const std::vector<std::uint32_t>& rows, std::size_t at,
                            std::size_t end) {
      std::string key;
      std::string value;
      MessageRecord record;  // its id is left empty: the key carries it
      record.mtime = now;
      record.first_seen = now;
      for (std::size_t i = at; i < end; ++i) {
        const std::uint32_t row = rows[i];
        record.serial = serials[row];
        record.list_size = listed.size_of(row);
        codec::message_key_into(listed.uidl(row), listed.occurrence(row), key);
        codec::encode_record_into(record, value);
        tables_.messages.put(txn, key, value, cache_was_empty ? MDB_APPEND : 0U);
        tables_.listing.put(txn, codec::u64_be(record.serial), key, listing_appends ? MDB_APPEND : 0U);
      }
    };
    auto [update, fresh] = write([&](const lmdb::Txn& txn) {  // the merge: read, then write what changed
      ListingUpdate merged;

      std::vector<std::pair<std::string, std::uint64_t>> vanished;  // key, serial
      std::vector<std::uint32_t> new_rows;                           // rows new to the cache
      std::vector<std::pair<std::string, MessageRecord>> resized;
      // Read first, write after: writes would move the pages the cursor's views point into.
      {
        lmdb::Cursor cursor(txn, tables_.messages);
        auto entry = cursor.first();
        cache_was_empty = !entry;
        MessageId cached;
        MessageRecord record;
        std::size_t next = 0;
        while (entry || next < by_key.size()) {
          int order = 0;  // <0: the cached record comes first, >0: the listed row does
          if (!entry) {
            order = 1;
          } else {
            codec::decode_message_key_into(entry->key, cached);
            order = next == by_key.size() ? -1
                                          : codec::compare_message_keys(cached.uidl, cached.occurrence,
                                                                        listed.uidl(by_key[next]),
                                                                        listed.occurrence(by_key[next]));
          }
          if (order < 0) {
            codec::decode_record_into(entry->value, record);
            vanished.emplace_back(std::string(entry->key), record.serial);
            entry = cursor.next();
          } else if (order > 0) {
            new_rows.push_back(by_key[next++]);
          } else {
            const std::uint32_t row = by_key[next++];
            codec::decode_record_into(entry->value, record);
            serials[row] = record.serial;
            if (states == ListingStates::wanted) {
              if (row_states.empty()) row_states.assign(listed.size(), RecordState{{}, {}, now, now, false, false, 0});
              row_states[row] = state_of(record);
            }
            if (record.list_size != listed.size_of(row)) {
              record.list_size = listed.size_of(row);
              resized.emplace_back(std::string(entry->key), record);
            }
            entry = cursor.next();
          }
        }
      }
      for (const auto& [key, record] : resized) store_record(txn, key, record);
      for (const auto& [key, serial] : vanished) {
        purge_message(txn, key);
        tables_.listing.del(txn, codec::u64_be(serial));
        merged.removed_serials.push_back(serial);
      }
      // The order is written again below, once the new records are in: until then serial
      // order (a crash in between leaves a valid listing, if not in the server's order).
      tables_.internal.del(txn, kListingOrder);
      // New messages are numbered in server order, after every serial handed out before
      // (the counter moves on at once: a crash before their records are in skips serials,
      // it never reuses one); they are written in key order, below or in transactions of
      // their own.
      {
        std::vector<std::uint32_t> server_order = new_rows;
        std::sort(server_order.begin(), server_order.end());
        std::uint64_t next_serial = counter(txn, kNextInode);
        for (const auto row : server_order) serials[row] = next_serial++;
        set_counter(txn, kNextInode, next_serial);
      }
      // New serials come after every serial listed so far; if they also rise in key order
      // (the server lists in key order), their listing entries are appended (full pages, no
      // search). The table's last key is checked rather than assumed.
      listing_appends = false;  // this lambda runs again after a map growth
      if (!new_rows.empty() &&
          std::is_sorted(new_rows.begin(), new_rows.end(),
                         [&](std::uint32_t a, std::uint32_t b) { return serials[a] < serials[b]; })) {
        lmdb::Cursor cursor(txn, tables_.listing);
        const auto last = cursor.last();
        listing_appends = !last || codec::read_u64_be(last->key) < serials[new_rows.front()];
      }
      merged.added = new_rows.size();
      if (new_rows.size() <= kFreshPerTransaction) insert_fresh(txn, new_rows, 0, new_rows.size());
      return std::make_pair(std::move(merged), std::move(new_rows));
    });
    // A listing with many new messages (a mailbox seen for the first time: a million) is
    // written in transactions of kFreshPerTransaction: LMDB keeps a transaction's dirty pages
    // for reuse ever after, so one huge transaction would stay in memory. A crash between
    // them leaves a valid listing (each record comes with its listing entry) that the next
    // listing completes. Fewer new messages go in the merge's own transaction (above).
    if (fresh.size() > kFreshPerTransaction) {
      for (std::size_t at = 0; at < fresh.size(); at += kFreshPerTransaction) {
        const std::size_t end = std::min(fresh.size(), at + kFreshPerTransaction);
        write([&](const lmdb::Txn& txn) { insert_fresh(txn, fresh, at, end); });
      }
    }
    update.serials = std::move(serials);
    update.states = std::move(row_states);
    if (!std::is_sorted(update.serials.begin(), update.serials.end())) {
      std::string order;
      order.reserve(update.serials.size() * 8);
      for (const auto serial : update.serials) order += codec::u64_be(serial);
      write([&](const lmdb::Txn& txn) { tables_.internal.put(txn, kListingOrder, order); });
    }
    return update;
  });
}

Result<void> LmdbCache::reset() {
  return guarded([&] {
    write([&](const lmdb::Txn& txn) {
      drop_all_bodies(txn);  // not the whole bodies table: writers may have chunks staged there
      for (const auto* table : {&tables_.messages, &tables_.listing, &tables_.stubs, &tables_.pending}) {
        table->clear(txn);
      }
      tables_.internal.del(txn, kListingOrder);
    });
  });
}

Result<std::optional<MessageRecord>> LmdbCache::record(const MessageId& id) {
  return guarded([&] {
    const std::string key = codec::message_key(id);
    return read([&](const lmdb::Txn& txn) { return load_record(txn, key); });
  });
}

Result<std::optional<std::string>> LmdbCache::stub(const MessageId& id) {
  return guarded([&] {
    const std::string key = codec::message_key(id);
    return read([&](const lmdb::Txn& txn) -> std::optional<std::string> {
      const auto value = tables_.stubs.get(txn, key);
      if (!value) return std::nullopt;
      return std::string(*value);
    });
  });
}

Result<void> LmdbCache::put_stub(const MessageId& id, std::string_view stub,
                                 std::optional<std::int64_t> date_mtime) {
  return guarded([&] {
    const std::string key = codec::message_key(id);
    write([&](const lmdb::Txn& txn) {
      MessageRecord record = require_record(txn, key);
      store_stub(txn, key, record, stub, date_mtime);
    });
  });
}

Result<std::vector<bool>> LmdbCache::put_stubs(const std::vector<StubWrite>& stubs) {
  return guarded([&] {
    std::vector<std::string> keys(stubs.size());
    for (std::size_t i = 0; i < stubs.size(); ++i) codec::message_key_into(stubs[i].id.uidl, stubs[i].id.occurrence, keys[i]);
    // Written in key order. Stubs arrive in listing order, which is key order for servers
    // whose UIDLs sort (Dovecot's do): a batch above every stored key is then appended
    // (MDB_APPEND: no search, and full pages rather than pages split in the middle).
    std::vector<std::size_t> order(stubs.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    const auto by_key = [&](std::size_t a, std::size_t b) { return keys[a] < keys[b]; };
    if (!std::is_sorted(order.begin(), order.end(), by_key)) std::stable_sort(order.begin(), order.end(), by_key);
    return write([&](const lmdb::Txn& txn) {
      std::vector<bool> stored(stubs.size(), false);
      bool append = false;
      if (!order.empty()) {
        lmdb::Cursor cursor(txn, tables_.stubs);
        const auto last = cursor.last();
        append = !last || last->key < keys[order.front()];
      }
      MessageRecord record;
      const std::string* previous = nullptr;
      for (const std::size_t i : order) {
        const auto current = tables_.messages.get(txn, keys[i]);
        if (!current) continue;
        codec::decode_record_into(*current, record);
        // The same key twice in a batch: the second one replaces the first, in place.
        const bool above = previous == nullptr || *previous < keys[i];
        store_stub(txn, keys[i], record, stubs[i].text, stubs[i].date_mtime, append && above ? MDB_APPEND : 0U);
        previous = &keys[i];
        stored[i] = true;
      }
      return stored;
    },
                 // Stubs can always be fetched again (see Sync::none).
                 Sync::none);
  });
}

void LmdbCache::store_stub(const lmdb::Txn& txn, const std::string& key, MessageRecord& record,
                           std::string_view stub, std::optional<std::int64_t> date_mtime, unsigned put_flags) const {
  tables_.stubs.put(txn, key, stub, put_flags);
  record.has_stub = true;
  record.stub_size = stub.size();
  if (date_mtime) record.mtime = *date_mtime;
  store_record(txn, key, record);
}

Result<void> LmdbCache::set_mail_flags(const MessageId& id, std::uint8_t flags) {
  return guarded([&] {
    const std::string key = codec::message_key(id);
    // Not synced on its own: a flag change lost with the machine (not with the process) is
    // a message shown unread again; NeoMutt's `q` renames thousands at once.
    write(
        [&](const lmdb::Txn& txn) {
          MessageRecord record = require_record(txn, key);
          record.mail_flags = flags;
          store_record(txn, key, record);
        },
        Sync::none);
  });
}

Result<void> LmdbCache::add_pending_deletion(const MessageId& id) {
  return guarded([&] {
    const std::string key = codec::message_key(id);
    write([&](const lmdb::Txn& txn) { tables_.pending.put(txn, key, ""); }, Sync::forced);
  });
}

Result<std::vector<MessageId>> LmdbCache::pending_deletions() {
  return guarded([&] {
    return read([&](const lmdb::Txn& txn) {
      std::vector<MessageId> out;
      lmdb::Cursor cursor(txn, tables_.pending);
      for (auto entry = cursor.first(); entry; entry = cursor.next()) {
        out.push_back(codec::decode_message_key(entry->key));
      }
      return out;
    });
  });
}

Result<void> LmdbCache::remove_pending_deletions(const std::vector<MessageId>& ids) {
  return guarded([&] {
    std::vector<std::string> keys;
    for (const auto& id : ids) keys.push_back(codec::message_key(id));
    write([&](const lmdb::Txn& txn) {
      for (const auto& key : keys) tables_.pending.del(txn, key);
    });
  });
}

Result<std::optional<std::string>> LmdbCache::meta(std::string_view key) {
  return guarded([&] {
    check_meta_key(key);
    return read([&](const lmdb::Txn& txn) -> std::optional<std::string> {
      const auto value = tables_.meta.get(txn, key);
      if (!value) return std::nullopt;
      return std::string(*value);
    });
  });
}

Result<void> LmdbCache::set_meta(std::string_view key, std::string_view value) {
  return guarded([&] {
    check_meta_key(key);
    write([&](const lmdb::Txn& txn) { tables_.meta.put(txn, key, value); });
  });
}

Result<CacheStats> LmdbCache::stats() {
  return guarded([&] {
    return read([&](const lmdb::Txn& txn) {
      CacheStats stats;
      stats.messages = tables_.messages.entries(txn);
      stats.stubs = tables_.stubs.entries(txn);
      stats.bodies = tables_.stored.entries(txn);
      stats.body_bytes = counter(txn, "body_bytes");
      stats.pending_deletions = tables_.pending.entries(txn);
      stats.body_cap_bytes = options_.body_cap_bytes;
      return stats;
    });
  });
}

}  // namespace popfs::store
