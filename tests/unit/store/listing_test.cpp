// The listing merge (apply_listing): what it reports, what it writes, server order kept
// through reorders and reopens, batched stubs, and the migration from schema 1.

#include <algorithm>
#include <cstdio>

#include "popfs/store/cache.hpp"
#include "popfs/store/lmdb.hpp"
#include "store_test_support.hpp"

namespace popfs::store {
namespace {

using testing::apply;
using testing::listed;
using testing::ListedMessage;
using testing::table_of;
using testing::mid;
using testing::open_cache;
using testing::TempDir;

std::vector<std::string> uidls_of(Cache& cache) {
  std::vector<std::string> out;
  auto listing = cache.listing();
  EXPECT_TRUE(listing);
  if (listing) {
    for (const auto& r : *listing) out.push_back(r.id.uidl);
  }
  return out;
}

TEST(ListingMerge, ReportsTheSerialOfEveryRowAndWhatLeft) {
  TempDir tmp;
  auto cache = open_cache(tmp.path() / "c");
  ASSERT_NE(cache, nullptr);
  auto first = cache->apply_listing(listed({{mid("a"), 1}, {mid("b"), 2}, {mid("c"), 3}}), 10);
  ASSERT_TRUE(first) << first.error().describe();
  EXPECT_EQ(first->serials, (std::vector<std::uint64_t>{kFirstSerial, kFirstSerial + 1, kFirstSerial + 2}));
  EXPECT_TRUE(first->removed_serials.empty());
  EXPECT_EQ(first->added, 3u);

  auto second = cache->apply_listing(listed({{mid("a"), 1}, {mid("c"), 30}, {mid("d"), 4}, {mid("e"), 5}}), 20);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->serials,
            (std::vector<std::uint64_t>{kFirstSerial, kFirstSerial + 2, kFirstSerial + 3, kFirstSerial + 4}));
  EXPECT_EQ(second->removed_serials, (std::vector<std::uint64_t>{kFirstSerial + 1}));
  EXPECT_EQ(second->added, 2u);
  EXPECT_EQ(cache->record(mid("c"))->value().list_size, 30u) << "a changed LIST size is written";
  EXPECT_EQ(cache->record(mid("c"))->value().first_seen, 10) << "and nothing else of the record";

  auto same = cache->apply_listing(listed({{mid("a"), 1}, {mid("c"), 30}, {mid("d"), 4}, {mid("e"), 5}}), 30);
  ASSERT_TRUE(same);
  EXPECT_EQ(same->serials, second->serials);
  EXPECT_TRUE(same->removed_serials.empty());
  EXPECT_EQ(same->added, 0u);
}

TEST(ListingMerge, ManyMessagesMergeWithFewChanges) {
  TempDir tmp;
  auto cache = open_cache(tmp.path() / "c");
  ASSERT_NE(cache, nullptr);
  std::vector<testing::ListedMessage> all;
  for (int i = 0; i < 20000; ++i) all.push_back({mid("msg" + std::to_string(i * 7 % 20000)), 100});
  ASSERT_TRUE(cache->apply_listing(testing::table_of(all), 1));
  ASSERT_TRUE(cache->put_stub(all[500].id, "Subject: kept\r\n\r\n", 99));
  all.erase(all.begin() + 100);     // deleted elsewhere
  all.push_back({mid("fresh"), 7});  // new mail
  auto update = cache->apply_listing(testing::table_of(all), 2);
  ASSERT_TRUE(update);
  EXPECT_EQ(update->added, 1u);
  ASSERT_EQ(update->removed_serials.size(), 1u);
  EXPECT_EQ(update->removed_serials[0], kFirstSerial + 100);
  EXPECT_EQ(update->serials.back(), kFirstSerial + 20000);
  auto listing = cache->listing();
  ASSERT_TRUE(listing);
  ASSERT_EQ(listing->size(), all.size());
  for (std::size_t i = 0; i < all.size(); ++i) ASSERT_EQ((*listing)[i].id, all[i].id) << i;
  EXPECT_EQ((*listing)[499].mtime, 99) << "a survivor keeps its stub's date";
  EXPECT_TRUE((*listing)[499].has_stub);
}

TEST(ListingMerge, AFirstListingOfManyMessagesIsWrittenInPartsAndComesOutWhole) {
  TempDir tmp;
  auto cache = open_cache(tmp.path() / "c");
  ASSERT_NE(cache, nullptr);
  std::vector<testing::ListedMessage> all;
  for (int i = 0; i < 45000; ++i) all.push_back({mid("u" + std::to_string(i)), static_cast<std::uint64_t>(i)});
  auto update = cache->apply_listing(testing::table_of(all), 5);
  ASSERT_TRUE(update) << update.error().describe();
  EXPECT_EQ(update->added, 45000u);
  for (std::size_t i = 0; i < all.size(); ++i) ASSERT_EQ(update->serials[i], kFirstSerial + i) << i;
  auto listing = cache->listing();
  ASSERT_TRUE(listing);
  ASSERT_EQ(listing->size(), all.size());
  for (std::size_t i = 0; i < all.size(); i += 4999) {
    EXPECT_EQ((*listing)[i].id, all[i].id);
    EXPECT_EQ((*listing)[i].list_size, i);
  }
  // The next one writes only what changed, with serials after all of those.
  all.push_back({mid("late"), 1});
  auto next = cache->apply_listing(testing::table_of(all), 6);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->added, 1u);
  EXPECT_EQ(next->serials.back(), kFirstSerial + 45000);
  // Many new messages whose ids fall between the cached ones (not appended at the end of
  // the key order), again in parts: numbered in server order, listed in server order.
  for (int i = 0; i < 30000; ++i) all.push_back({mid("u" + std::to_string(i) + "b"), 3});
  auto many = cache->apply_listing(testing::table_of(all), 7);
  ASSERT_TRUE(many) << many.error().describe();
  EXPECT_EQ(many->added, 30000u);
  for (std::size_t i = 45001; i < all.size(); ++i) ASSERT_EQ(many->serials[i], kFirstSerial + i) << i;
  auto whole = cache->listing();
  ASSERT_TRUE(whole);
  ASSERT_EQ(whole->size(), all.size());
  for (std::size_t i = 0; i < all.size(); i += 997) EXPECT_EQ((*whole)[i].id, all[i].id) << i;
  EXPECT_EQ(cache->record(mid("u123b"))->value().serial, kFirstSerial + 45001 + 123);
}

// Dovecot's UIDLs (the UID in fixed-width hex) come in key order: no sort, and the listing
// entries are appended. A later listing that drops the last message and adds new ones
// appends after the serials handed out before, the dropped one's included.
TEST(ListingMerge, AListingInKeyOrderIsWrittenByAppendingAndComesOutWhole) {
  TempDir tmp;
  auto cache = open_cache(tmp.path() / "c");
  ASSERT_NE(cache, nullptr);
  const auto hex_uidl = [](int i) {
    char text[16];
    std::snprintf(text, sizeof text, "%08x", static_cast<unsigned>(i));
    return std::string(text);
  };
  std::vector<testing::ListedMessage> all;
  for (int i = 1; i <= 25000; ++i) all.push_back({mid(hex_uidl(i)), static_cast<std::uint64_t>(i)});
  auto first = cache->apply_listing(testing::table_of(all), 5);
  ASSERT_TRUE(first) << first.error().describe();
  ASSERT_EQ(first->added, 25000u);
  for (std::size_t i = 0; i < all.size(); ++i) ASSERT_EQ(first->serials[i], kFirstSerial + i) << i;

  all.pop_back();
  for (int i = 25001; i <= 25003; ++i) all.push_back({mid(hex_uidl(i)), 7});
  auto next = cache->apply_listing(testing::table_of(all), 6);
  ASSERT_TRUE(next) << next.error().describe();
  EXPECT_EQ(next->added, 3u);
  EXPECT_EQ(next->removed_serials, (std::vector<std::uint64_t>{kFirstSerial + 24999}));
  EXPECT_EQ(next->serials.back(), kFirstSerial + 25002);
  auto listing = cache->listing();
  ASSERT_TRUE(listing);
  ASSERT_EQ(listing->size(), all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ((*listing)[i].id, all[i].id) << i;
    ASSERT_EQ((*listing)[i].serial, next->serials[i]) << i;
    ASSERT_EQ((*listing)[i].list_size, all[i].list_size) << i;
  }
}

TEST(ListingMerge, AServerThatReordersKeepsItsOrderAcrossReopen) {
  TempDir tmp;
  const auto dir = tmp.path() / "c";
  {
    auto cache = open_cache(dir);
    ASSERT_NE(cache, nullptr);
    ASSERT_TRUE(cache->apply_listing(listed({{mid("a"), 1}, {mid("b"), 1}, {mid("c"), 1}}), 1));
    ASSERT_TRUE(cache->apply_listing(listed({{mid("c"), 1}, {mid("new"), 1}, {mid("a"), 1}, {mid("b"), 1}}), 2));
    EXPECT_EQ(uidls_of(*cache), (std::vector<std::string>{"c", "new", "a", "b"}));
  }
  auto cache = open_cache(dir);
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(uidls_of(*cache), (std::vector<std::string>{"c", "new", "a", "b"}));
  // Back in the order they were first seen: no separate order needed, still right.
  ASSERT_TRUE(cache->apply_listing(listed({{mid("a"), 1}, {mid("b"), 1}, {mid("c"), 1}, {mid("new"), 1}}), 3));
  EXPECT_EQ(uidls_of(*cache), (std::vector<std::string>{"a", "b", "c", "new"}));
}

TEST(ListingMerge, DuplicatesAndAResetKeepSerialsUnique) {
  TempDir tmp;
  auto cache = open_cache(tmp.path() / "c");
  ASSERT_NE(cache, nullptr);
  auto first = apply(*cache, listed({{mid("x", 1), 1}, {mid("y"), 1}, {mid("x", 2), 1}}), 1);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 3u);
  EXPECT_EQ((*first)[2].id, mid("x", 2));
  ASSERT_TRUE(cache->reset());
  EXPECT_TRUE(uidls_of(*cache).empty());
  auto after = apply(*cache, listed({{mid("x", 1), 1}, {mid("x", 2), 1}}), 2);
  ASSERT_TRUE(after);
  ASSERT_EQ(after->size(), 2u);
  EXPECT_EQ((*after)[0].serial, kFirstSerial + 3);
  EXPECT_EQ((*after)[1].serial, kFirstSerial + 4);
}

TEST(Stubs, ABatchIsStoredInOneGoAndUnlistedOnesAreLeftOut) {
  TempDir tmp;
  auto cache = open_cache(tmp.path() / "c");
  ASSERT_NE(cache, nullptr);
  ASSERT_TRUE(cache->apply_listing(listed({{mid("a"), 1}, {mid("b"), 1}}), 1));
  const std::string a = "Subject: a\r\n\r\n";
  const std::string b = "Subject: bb\r\n\r\n";
  auto stored = cache->put_stubs({{mid("a"), a, 77}, {mid("gone"), "x", std::nullopt}, {mid("b"), b, std::nullopt}});
  ASSERT_TRUE(stored) << stored.error().describe();
  EXPECT_EQ(*stored, (std::vector<bool>{true, false, true}));
  EXPECT_EQ(cache->stub(mid("a"))->value_or(""), a);
  EXPECT_EQ(cache->stub(mid("b"))->value_or(""), b);
  const auto ra = cache->record(mid("a"))->value();
  EXPECT_EQ(ra.mtime, 77);
  EXPECT_EQ(ra.stub_size, a.size());
  EXPECT_EQ(cache->record(mid("b"))->value().stub_size, b.size());
  EXPECT_EQ(cache->record(mid("b"))->value().mtime, 1);
}

// Batches out of key order, below keys already stored, with an id twice or unlisted: every
// listed stub is stored whole, the last of two wins.
TEST(Stubs, BatchesInAnyKeyOrderAreStoredWhole) {
  TempDir tmp;
  auto cache = open_cache(tmp.path() / "c");
  ASSERT_NE(cache, nullptr);
  ASSERT_TRUE(cache->apply_listing(listed({{mid("a"), 1}, {mid("b"), 1}, {mid("c"), 1}, {mid("d"), 1}, {mid("e"), 1}}), 1));
  const auto text = [](const std::string& uidl, int version) { return "Subject: " + uidl + std::to_string(version) + "\r\n\r\n"; };
  const std::string d = text("d", 1), e = text("e", 1), c = text("c", 1);
  auto first = cache->put_stubs({{mid("e"), e, std::nullopt}, {mid("c"), c, std::nullopt}, {mid("d"), d, 40}});
  ASSERT_TRUE(first) << first.error().describe();
  EXPECT_EQ(*first, (std::vector<bool>{true, true, true}));
  // Below the stored keys, one unlisted, one twice, one stored again.
  const std::string b1 = text("b", 1), b2 = text("b", 2), a = text("a", 1), c2 = text("c", 2), z = text("z", 1);
  auto second = cache->put_stubs({{mid("b"), b1, std::nullopt}, {mid("z"), z, std::nullopt}, {mid("a"), a, 10},
                                  {mid("b"), b2, 20}, {mid("c"), c2, std::nullopt}});
  ASSERT_TRUE(second) << second.error().describe();
  EXPECT_EQ(*second, (std::vector<bool>{true, false, true, true, true}));
  const std::vector<std::pair<std::string, std::string>> expected = {{"a", a}, {"b", b2}, {"c", c2}, {"d", d}, {"e", e}};
  for (const auto& [uidl, stub] : expected) {
    EXPECT_EQ(cache->stub(mid(uidl))->value_or("(none)"), stub) << uidl;
    const auto record = cache->record(mid(uidl))->value();
    EXPECT_TRUE(record.has_stub) << uidl;
    EXPECT_EQ(record.stub_size, stub.size()) << uidl;
  }
  EXPECT_EQ(cache->record(mid("a"))->value().mtime, 10);
  EXPECT_EQ(cache->record(mid("b"))->value().mtime, 20);
  EXPECT_EQ(cache->record(mid("d"))->value().mtime, 40);
  EXPECT_EQ(cache->record(mid("e"))->value().mtime, 1);
  EXPECT_FALSE(cache->stub(mid("z"))->has_value());
}

// Stubs that arrive in key order (Dovecot's UIDLs sort) fill the cache's pages rather than
// leaving them part empty after each split in the middle: the cache on disk is what the
// stubs need.
TEST(Stubs, StubsInKeyOrderFillTheirPages) {
  TempDir tmp;
  constexpr int kMessages = 3000;
  constexpr std::size_t kStubBytes = 600;
  {
    auto cache = open_cache(tmp.path() / "c");
    ASSERT_NE(cache, nullptr);
    std::vector<testing::ListedMessage> rows;
    char uidl[32];
    for (int i = 0; i < kMessages; ++i) {
      std::snprintf(uidl, sizeof uidl, "%016x", i);
      rows.push_back({mid(uidl), 1000});
    }
    ASSERT_TRUE(cache->apply_listing(table_of(rows), 1));
    const std::string stub(kStubBytes, 'h');
    for (int start = 0; start < kMessages; start += 256) {
      std::vector<StubWrite> batch;
      for (int i = start; i < std::min(kMessages, start + 256); ++i) batch.push_back({rows[static_cast<std::size_t>(i)].id, stub, std::nullopt});
      auto stored = cache->put_stubs(batch);
      ASSERT_TRUE(stored) << stored.error().describe();
    }
  }
  auto env = lmdb::Env::open(tmp.path() / "c", {});
  auto txn = lmdb::Txn::begin(env, MDB_RDONLY);
  auto stubs = lmdb::Dbi::open(txn, "stubs", 0);
  MDB_stat stat{};
  ASSERT_EQ(mdb_stat(txn.get(), stubs.handle(), &stat), MDB_SUCCESS);
  ASSERT_EQ(stat.ms_entries, static_cast<std::size_t>(kMessages));
  // Each entry is its stub, a 24-byte key and an 8-byte node header, plus a 2-byte pointer.
  const std::size_t per_page = (stat.ms_psize - 16) / (kStubBytes + 24 + 8 + 2);
  const std::size_t fewest = (kMessages + per_page - 1) / per_page;
  EXPECT_LE(stat.ms_leaf_pages, fewest + fewest / 10) << "at least " << fewest << " pages; splits in the middle leave pages part empty";
}

// A schema 1 cache as popfs 0.1 wrote it: the listing keyed by position, records of layout 1.
void write_schema1_cache(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all);
  auto env = lmdb::Env::open(dir, {});
  auto txn = lmdb::Txn::begin(env, 0);
  auto internal = lmdb::Dbi::open(txn, "internal", MDB_CREATE);
  auto messages = lmdb::Dbi::open(txn, "messages", MDB_CREATE);
  auto listing = lmdb::Dbi::open(txn, "listing", MDB_CREATE);
  auto stubs = lmdb::Dbi::open(txn, "stubs", MDB_CREATE);
  auto be = [](std::uint64_t v, int bytes) {
    std::string out;
    for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xFF));
    return out;
  };
  auto key = [&](const std::string& uidl) { return be(uidl.size(), 4) + uidl + be(1, 4); };
  // Server order z, a; z got its inode pair first (4/5), a second (6/7); z has a stub.
  const std::vector<std::pair<std::string, std::uint64_t>> order{{"z", 4}, {"a", 6}};
  for (std::size_t pos = 0; pos < order.size(); ++pos) {
    const auto& [uidl, inode] = order[pos];
    std::string record = std::string(1, '\1') + be(inode, 8) + be(100 + pos, 8) + be(0, 8) + be(1136239445, 8) +
                         be(1000, 8) + std::string(1, uidl == "z" ? '\2' : '\0');
    messages.put(txn, key(uidl), record);
    listing.put(txn, be(pos, 8), key(uidl));
  }
  stubs.put(txn, key("z"), "Subject: z\r\n\r\n");
  internal.put(txn, "schema_version", "1");
  internal.put(txn, "next_inode", be(8, 8));
  txn.commit();
}

TEST(Schema, Version1CacheIsMigratedKeepingOrderSerialsAndStubs) {
  TempDir tmp;
  const auto dir = tmp.path() / "c";
  write_schema1_cache(dir);
  auto cache = open_cache(dir);
  ASSERT_NE(cache, nullptr);
  auto listing = cache->listing();
  ASSERT_TRUE(listing) << listing.error().describe();
  ASSERT_EQ(listing->size(), 2u);
  EXPECT_EQ((*listing)[0].id, mid("z"));
  EXPECT_EQ((*listing)[0].serial, 4u);
  EXPECT_EQ((*listing)[0].mtime, 1136239445);
  EXPECT_TRUE((*listing)[0].has_stub);
  EXPECT_EQ((*listing)[1].id, mid("a"));
  EXPECT_EQ((*listing)[1].serial, 6u);
  EXPECT_EQ((*listing)[1].list_size, 101u);
  EXPECT_EQ(cache->stub(mid("z"))->value_or(""), "Subject: z\r\n\r\n");
  // New mail continues the old counter; the old records keep their serials.
  auto update = cache->apply_listing(listed({{mid("z"), 100}, {mid("a"), 101}, {mid("n"), 5}}), 2000);
  ASSERT_TRUE(update);
  EXPECT_EQ(update->serials, (std::vector<std::uint64_t>{4, 6, 8}));
  EXPECT_EQ(cache->record(mid("z"))->value().first_seen, 1000);
  cache.reset();
  auto env = lmdb::Env::open(dir, {});
  auto txn = lmdb::Txn::begin(env, MDB_RDONLY);
  EXPECT_EQ(lmdb::Dbi::open(txn, "internal", 0).get(txn, "schema_version").value_or(""), "2");
}

}  // namespace
}  // namespace popfs::store
