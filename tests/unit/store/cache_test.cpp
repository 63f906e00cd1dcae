// Listing, records, stubs, pending deletions, meta, schema and the cache directory.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

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

unsigned mode_of(const std::filesystem::path& path) {
  struct stat st{};
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  return st.st_mode & 07777U;
}

TEST(CacheDir, NewDirectoryIsCreatedWithMode0700) {
  TempDir tmp;
  const auto dir = tmp.path() / "nested" / "cache";
  auto cache = open_cache(dir);
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(mode_of(dir), 0700U);
  auto listing = cache->listing();
  ASSERT_TRUE(listing) << listing.error().describe();
  EXPECT_TRUE(listing->empty());
}

TEST(CacheDir, GroupReadableDirectoryIsTightened) {
  TempDir tmp;
  const auto dir = tmp.path() / "cache";
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);
  auto cache = open_cache(dir);
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(mode_of(dir), 0700U);
}

TEST(CacheDir, DirectoryOfAnotherUserIsRefusedAndLeftAlone) {
  TempDir tmp;
  std::filesystem::path dir = tmp.path() / "theirs";
  if (::geteuid() == 0) {
    ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
    ASSERT_EQ(::chown(dir.c_str(), 65534, 65534), 0);
  } else {
    dir = "/";  // root's, and not ours
  }
  const unsigned mode_before = mode_of(dir);
  Cache::Options options;
  options.dir = dir;
  auto cache = Cache::open(options);
  ASSERT_FALSE(cache);
  EXPECT_EQ(cache.error().code, Errc::cache);
  EXPECT_NE(cache.error().message.find("not to you"), std::string::npos) << cache.error().message;
  EXPECT_EQ(mode_of(dir), mode_before);
}

TEST(CacheDir, SecondOpenInTheSameProcessIsRefused) {
  TempDir tmp;
  auto cache = open_cache(tmp.path() / "c");
  ASSERT_NE(cache, nullptr);
  Cache::Options options;
  options.dir = tmp.path() / "c";
  auto second = Cache::open(options);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("already open"), std::string::npos) << second.error().message;
  cache.reset();
  EXPECT_TRUE(Cache::open(options)) << "closing the first frees the directory";
}

TEST(CacheDir, PathThatIsAFileIsRefused) {
  TempDir tmp;
  const auto path = tmp.path() / "file";
  std::ofstream(path) << "x";
  Cache::Options options;
  options.dir = path;
  auto cache = Cache::open(options);
  ASSERT_FALSE(cache);
  EXPECT_EQ(cache.error().code, Errc::cache);
  EXPECT_NE(cache.error().message.find("not a directory"), std::string::npos) << cache.error().message;
}

TEST(CacheDir, RemoveRefusesWhileOpenAndRemovesAfterClose) {
  TempDir tmp;
  const auto dir = tmp.path() / "cache";
  auto cache = open_cache(dir);
  ASSERT_NE(cache, nullptr);
  auto refused = remove_cache_dir(dir);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("in use"), std::string::npos) << refused.error().message;
  EXPECT_TRUE(std::filesystem::exists(dir / "data.mdb"));

  cache.reset();
  auto removed = remove_cache_dir(dir);
  ASSERT_TRUE(removed) << removed.error().describe();
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_TRUE(remove_cache_dir(dir)) << "a missing directory is already clear";
}

TEST(CacheDir, RemoveLeavesFilesPopfsDidNotCreate) {
  TempDir tmp;
  const auto dir = tmp.path() / "cache";
  ASSERT_NE(open_cache(dir), nullptr);
  std::ofstream(dir / "notes.txt") << "mine";
  auto removed = remove_cache_dir(dir);
  ASSERT_FALSE(removed);
  EXPECT_NE(removed.error().message.find("notes.txt"), std::string::npos) << removed.error().message;
  EXPECT_TRUE(std::filesystem::exists(dir / "notes.txt"));
  EXPECT_FALSE(std::filesystem::exists(dir / "data.mdb"));
}

TEST(Listing, NewMessagesGetSerialsFromFourInServerOrder) {
  TempDir tmp;
  auto cache = open_cache(tmp.path() / "c");
  ASSERT_NE(cache, nullptr);
  auto applied = apply(*cache, listed({{mid("b"), 10}, {mid("a"), 20}, {mid("c"), 30}}), 1000);
  ASSERT_TRUE(applied) << applied.error().describe();
  ASSERT_EQ(applied->size(), 3U);
  const std::vector<std::string> uidls{"b", "a", "c"};
  const std::vector<std::uint64_t> sizes{10, 20, 30};
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& r = (*applied)[i];
    EXPECT_EQ(r.id.uidl, uidls[i]);
    EXPECT_EQ(r.serial, kFirstSerial + i);
    EXPECT_EQ(r.list_size, sizes[i]);
    EXPECT_EQ(r.first_seen, 1000);
    EXPECT_EQ(r.mtime, 1000);
    EXPECT_FALSE(r.exact_size.has_value());
    EXPECT_FALSE(r.has_stub);
    EXPECT_FALSE(r.has_body);
  }
  auto listing = cache->listing();
  ASSERT_TRUE(listing);
  ASSERT_EQ(listing->size(), 3U);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*listing)[i].id.uidl, uidls[i]);
    EXPECT_EQ((*listing)[i].serial, (*applied)[i].serial);
  }
}

TEST(Listing, SurvivorsKeepEverythingVanishedArePurged) {
  TempDir tmp;
  auto cache = open_cache(tmp.path() / "c");
  ASSERT_NE(cache, nullptr);
  auto first = apply(*cache, listed({{mid("a"), 1}, {mid("b"), 2}, {mid("c"), 3}}), 100);
  ASSERT_TRUE(first);
  ASSERT_TRUE(cache->put_stub(mid("a"), "Subject: a\r\n\r\n", 50));
  ASSERT_TRUE(cache->put_stub(mid("b"), "Subject: b\r\n\r\n", 60));
  ASSERT_TRUE(testing::store_body(*cache, mid("a"), "body of a"));
  ASSERT_TRUE(testing::store_body(*cache, mid("b"), "body of b!"));
  ASSERT_TRUE(cache->add_pending_deletion(mid("a")));

  auto second = apply(*cache, listed({{mid("c"), 33}, {mid("d"), 4}, {mid("b"), 22}}), 200);
  ASSERT_TRUE(second) << second.error().describe();
  ASSERT_EQ(second->size(), 3U);
  const auto& c = (*second)[0];
  const auto& d = (*second)[1];
  const auto& b = (*second)[2];
  EXPECT_EQ(c.id.uidl, "c");
  EXPECT_EQ(c.serial, (*first)[2].serial);
  EXPECT_EQ(c.list_size, 33U);
  EXPECT_EQ(c.first_seen, 100);
  EXPECT_EQ(d.id.uidl, "d");
  EXPECT_EQ(d.serial, kFirstSerial + 3) << "a fresh serial, not a's";
  EXPECT_EQ(d.first_seen, 200);
  EXPECT_EQ(b.serial, (*first)[1].serial);
  EXPECT_EQ(b.list_size, 22U);
  EXPECT_EQ(b.mtime, 60);
  EXPECT_TRUE(b.has_stub);
  EXPECT_TRUE(b.has_body);
  EXPECT_EQ(b.exact_size, 10U);

  auto gone = cache->record(mid("a"));
  ASSERT_TRUE(gone);
  EXPECT_FALSE(gone->has_value());
  auto gone_stub = cache->stub(mid("a"));
  ASSERT_TRUE(gone_stub);
  EXPECT_FALSE(gone_stub->has_value());
  std::vector<char> buffer(16);
  auto gone_body = cache->read_body(mid("a"), 0, buffer);
  ASSERT_TRUE(gone_body);
  EXPECT_FALSE(gone_body->has_value());
  EXPECT_EQ(testing::load_body(*cache, mid("b")), "body of b!");

  auto pending = cache->pending_deletions();
  ASSERT_TRUE(pending);
  ASSERT_EQ(pending->size(), 1U) << "a pending deletion outlives its message";
  EXPECT_EQ((*pending)[0], mid("a"));

  auto stats = cache->stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->messages, 3U);
  EXPECT_EQ(stats->stubs, 1U);
  EXPECT_EQ(stats->bodies, 1U);
  EXPECT_EQ(stats->body_bytes, 10U);
}

// A mount starts from the merge: each row's cached state comes with it, new rows get
// first_seen = mtime = now, so nothing reads the cached listing first.
TEST(Listing, TheMergeGivesEveryRowItsCachedStateWhenAsked) {
  TempDir tmp;
  auto cache = open_cache(tmp.path() / "c");
  ASSERT_NE(cache, nullptr);
  ASSERT_TRUE(apply(*cache, listed({{mid("a"), 1}, {mid("b"), 2}}), 100));
  ASSERT_TRUE(cache->put_stub(mid("b"), "Subject: b\r\n\r\n", 60));
  ASSERT_TRUE(testing::store_body(*cache, mid("b"), "body of b!"));
  ASSERT_TRUE(cache->set_mail_flags(mid("b"), kMailFlagInCur | 0x01));

  auto update = cache->apply_listing(listed({{mid("b"), 2}, {mid("new"), 5}, {mid("a"), 1}}), 200, ListingStates::wanted);
  ASSERT_TRUE(update) << update.error().describe();
  ASSERT_EQ(update->states.size(), 3U);
  const auto& b = update->states[0];
  EXPECT_EQ(b.mtime, 60);
  EXPECT_EQ(b.first_seen, 100);
  EXPECT_TRUE(b.has_stub);
  EXPECT_EQ(b.stub_size, 14U);
  EXPECT_TRUE(b.has_body);
  EXPECT_EQ(b.exact_size, 10U);
  EXPECT_EQ(b.mail_flags, kMailFlagInCur | 0x01);
  const auto& fresh = update->states[1];
  EXPECT_EQ(fresh.first_seen, 200);
  EXPECT_EQ(fresh.mtime, 200);
  EXPECT_FALSE(fresh.has_stub);
  EXPECT_FALSE(fresh.exact_size.has_value());
  EXPECT_EQ(update->states[2].first_seen, 100);
  EXPECT_FALSE(update->states[2].has_body);
  // Each state matches the record the cache now keeps for that row.
  for (const auto& [id, row] : {std::pair{mid("b"), 0}, std::pair{mid("new"), 1}, std::pair{mid("a"), 2}}) {
    const auto record = cache->record(id).value().value();
    EXPECT_EQ(record.serial, update->serials[static_cast<std::size_t>(row)]) << id.uidl;
    EXPECT_EQ(record.mtime, update->states[static_cast<std::size_t>(row)].mtime) << id.uidl;
  }
  auto plain = cache->apply_listing(listed({{mid("b"), 2}}), 300);
  ASSERT_TRUE(plain);
  EXPECT_TRUE(plain->states.empty()) << "not asked for";
}

TEST(Listing, HoldsNoneOfTellsAUidlResetFromAnEmptyCacheOrAnOverlap) {
  TempDir tmp;
  auto cache = open_cache(tmp.path() / "c");
  ASSERT_NE(cache, nullptr);
  EXPECT_FALSE(cache->holds_none_of(listed({{mid("x"), 1}})).value()) << "an empty cache knows no UIDL to lose";
  ASSERT_TRUE(apply(*cache, listed({{mid("a"), 1}, {mid("b"), 2}}), 100));
  EXPECT_FALSE(cache->holds_none_of(listed({{mid("x"), 1}, {mid("b"), 2}})).value());
  EXPECT_TRUE(cache->holds_none_of(listed({{mid("x"), 1}, {mid("y"), 2}})).value());
}

TEST(Listing, DuplicateUidlsAreSeparateMessages) {
  TempDir tmp;
  auto cache = open_cache(tmp.path() / "c");
  ASSERT_NE(cache, nullptr);
  auto first = apply(*cache, listed({{mid("x", 1), 1}, {mid("x", 2), 2}, {mid("x", 3), 3}}), 1);
  ASSERT_TRUE(first);
  ASSERT_TRUE(cache->put_stub(mid("x", 1), "one", std::nullopt));
  ASSERT_TRUE(cache->put_stub(mid("x", 2), "two", std::nullopt));
  ASSERT_TRUE(cache->put_stub(mid("x", 3), "three", std::nullopt));
  EXPECT_EQ(cache->stub(mid("x", 2))->value_or(""), "two");

  // The second of the three went away; the third is now occurrence 2 on the server, which
  // for the cache is the id ("x", 2) again: same record, same serial.
  auto second = apply(*cache, listed({{mid("x", 1), 1}, {mid("x", 2), 3}}), 2);
  ASSERT_TRUE(second);
  ASSERT_EQ(second->size(), 2U);
  EXPECT_EQ((*second)[0].serial, (*first)[0].serial);
  EXPECT_EQ((*second)[1].serial, (*first)[1].serial);
  auto third = cache->record(mid("x", 3));
  ASSERT_TRUE(third);
  EXPECT_FALSE(third->has_value());
  EXPECT_EQ(cache->stub(mid("x", 1))->value_or(""), "one");
  EXPECT_FALSE(cache->stub(mid("x", 3))->has_value());
}

TEST(Listing, UidlBytesAndOccurrencesNeverCollide) {
  TempDir tmp;
  auto cache = open_cache(tmp.path() / "c");
  ASSERT_NE(cache, nullptr);
  // Pairs that a naive "uidl + separator + occurrence" key would confuse.
  std::vector<MessageId> ids{
      mid("a"),
      mid(std::string("a\0", 2)),
      mid(std::string("\0a", 2)),
      mid(std::string("a\0\0\0\x01", 5)),
      mid(std::string("a\0\0\x01\0", 5), 1),
      mid("\xff\xfe/%~.", 1),
      mid("a", 2),
  };
  std::vector<ListedMessage> all;
  for (const auto& id : ids) all.push_back(ListedMessage{id, 1});
  // ("a", 256): a server listing "a" 256 times.
  for (std::uint32_t occurrence = 3; occurrence <= 256; ++occurrence) all.push_back(ListedMessage{mid("a", occurrence), 1});
  ids.push_back(mid("a", 256));
  auto table = table_of(all);
  ids.back() = mid("a", 256);
  auto applied = apply(*cache, table, 1);
  ASSERT_TRUE(applied) << applied.error().describe();
  ASSERT_EQ(applied->size(), all.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(std::count_if(applied->begin(), applied->end(), [&](const MessageRecord& r) { return r.id == ids[i]; }), 1);
    ASSERT_TRUE(cache->put_stub(ids[i], "stub " + std::to_string(i), std::nullopt));
  }
  for (std::size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(cache->stub(ids[i])->value_or("?"), "stub " + std::to_string(i)) << i;
  }
  auto listing = cache->listing();
  ASSERT_TRUE(listing);
  ASSERT_EQ(listing->size(), all.size());
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ((*listing)[i].id, all[i].id) << i;
}

TEST(Listing, OverlongUidlIsAnError) {
  TempDir tmp;
  auto cache = open_cache(tmp.path() / "c");
  ASSERT_NE(cache, nullptr);
  auto applied = cache->apply_listing(listed({{mid(std::string(1000, 'u')), 1}}), 1);
  ASSERT_FALSE(applied);
  EXPECT_EQ(applied.error().code, Errc::invalid_argument);
}

TEST(Listing, SerialsAreStableAcrossReopenAndNeverReused) {
  TempDir tmp;
  const auto dir = tmp.path() / "c";
  std::uint64_t serial_a = 0;
  std::uint64_t serial_b = 0;
  {
    auto cache = open_cache(dir);
    ASSERT_NE(cache, nullptr);
    auto applied = apply(*cache, listed({{mid("a"), 1}, {mid("b"), 2}}), 7);
    ASSERT_TRUE(applied);
    serial_a = (*applied)[0].serial;
    serial_b = (*applied)[1].serial;
  }
  auto cache = open_cache(dir);
  ASSERT_NE(cache, nullptr);
  auto listing = cache->listing();
  ASSERT_TRUE(listing);
  ASSERT_EQ(listing->size(), 2U);
  EXPECT_EQ((*listing)[0].serial, serial_a);
  EXPECT_EQ((*listing)[1].serial, serial_b);
  EXPECT_EQ((*listing)[0].first_seen, 7);

  auto next = apply(*cache, listed({{mid("b"), 2}, {mid("c"), 3}}), 8);
  ASSERT_TRUE(next);
  EXPECT_EQ((*next)[0].serial, serial_b);
  EXPECT_GT((*next)[1].serial, serial_b);
  ASSERT_TRUE(cache->reset());
  auto after_reset = apply(*cache, listed({{mid("a"), 1}}), 9);
  ASSERT_TRUE(after_reset);
  EXPECT_GT((*after_reset)[0].serial, (*next)[1].serial) << "reset keeps counting";
}

TEST(Records, StubRoundTripAndDateReplacesMtime) {
  TempDir tmp;
  auto cache = open_cache(tmp.path() / "c");
  ASSERT_NE(cache, nullptr);
  ASSERT_TRUE(cache->apply_listing(listed({{mid("a"), 100}}), 500));
  const std::string stub("From: x@example.org\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n\0tail", 66);
  ASSERT_TRUE(cache->put_stub(mid("a"), stub, 1704067200));
  auto stored = cache->stub(mid("a"));
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->value_or(""), stub);
  auto record = cache->record(mid("a"));
  ASSERT_TRUE(record);
  ASSERT_TRUE(record->has_value());
  EXPECT_TRUE((*record)->has_stub);
  EXPECT_EQ((*record)->mtime, 1704067200);
  EXPECT_EQ((*record)->first_seen, 500);

  ASSERT_TRUE(cache->put_stub(mid("a"), "no date\r\n\r\n", std::nullopt));
  EXPECT_EQ(cache->record(mid("a"))->value().mtime, 1704067200) << "no Date: keeps the mtime";

  auto unlisted = cache->put_stub(mid("zzz"), "x", std::nullopt);
  ASSERT_FALSE(unlisted);
  EXPECT_EQ(unlisted.error().code, Errc::not_found);
}

TEST(PendingDeletions, SurviveReopenAndAreRemovedOnlyWhenAsked) {
  TempDir tmp;
  const auto dir = tmp.path() / "c";
  {
    auto cache = open_cache(dir);
    ASSERT_NE(cache, nullptr);
    ASSERT_TRUE(cache->apply_listing(listed({{mid("a"), 1}, {mid("b"), 1}}), 1));
    ASSERT_TRUE(cache->add_pending_deletion(mid("b")));
    ASSERT_TRUE(cache->add_pending_deletion(mid("a")));
    ASSERT_TRUE(cache->add_pending_deletion(mid("a")));  // twice is once
    ASSERT_TRUE(cache->apply_listing(MessageTable{}, 2));
  }
  auto cache = open_cache(dir);
  ASSERT_NE(cache, nullptr);
  auto pending = cache->pending_deletions();
  ASSERT_TRUE(pending);
  ASSERT_EQ(pending->size(), 2U);
  EXPECT_EQ((*pending)[0], mid("a"));
  EXPECT_EQ((*pending)[1], mid("b"));
  ASSERT_TRUE(cache->remove_pending_deletions({mid("a"), mid("never")}));
  pending = cache->pending_deletions();
  ASSERT_TRUE(pending);
  ASSERT_EQ(pending->size(), 1U);
  EXPECT_EQ((*pending)[0], mid("b"));
  EXPECT_EQ(cache->stats()->pending_deletions, 1U);
  ASSERT_TRUE(cache->reset());
  EXPECT_TRUE(cache->pending_deletions()->empty());
}

TEST(Meta, RoundTripOverwriteAndReopen) {
  TempDir tmp;
  const auto dir = tmp.path() / "c";
  {
    auto cache = open_cache(dir);
    ASSERT_NE(cache, nullptr);
    EXPECT_FALSE(cache->meta("account")->has_value());
    ASSERT_TRUE(cache->set_meta("account", "pop3s://me@example.org:995"));
    ASSERT_TRUE(cache->set_meta("last_error", "first"));
    ASSERT_TRUE(cache->set_meta("last_error", std::string("second\0", 7)));
    auto empty_key = cache->set_meta("", "x");
    ASSERT_FALSE(empty_key);
    EXPECT_EQ(empty_key.error().code, Errc::invalid_argument);
  }
  auto cache = open_cache(dir);
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(cache->meta("account")->value_or(""), "pop3s://me@example.org:995");
  EXPECT_EQ(cache->meta("last_error")->value_or(""), std::string("second\0", 7));
  ASSERT_TRUE(cache->reset());
  EXPECT_EQ(cache->meta("account")->value_or(""), "pop3s://me@example.org:995") << "reset keeps meta";
}

TEST(Schema, CacheFromNewerPopfsIsRefusedAndLeftAlone) {
  TempDir tmp;
  const auto dir = tmp.path() / "c";
  {
    auto cache = open_cache(dir);
    ASSERT_NE(cache, nullptr);
    ASSERT_TRUE(cache->apply_listing(listed({{mid("a"), 1}}), 1));
  }
  // Pretend a later popfs wrote schema 3.
  {
    auto env = lmdb::Env::open(dir, {});
    auto txn = lmdb::Txn::begin(env, 0);
    auto internal = lmdb::Dbi::open(txn, "internal", 0);
    ASSERT_EQ(internal.get(txn, "schema_version").value_or(""), "2");
    internal.put(txn, "schema_version", "3");
    txn.commit();
  }
  Cache::Options options;
  options.dir = dir;
  auto refused = Cache::open(options);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::cache);
  EXPECT_NE(refused.error().message.find("newer popfs"), std::string::npos) << refused.error().message;
  EXPECT_NE(refused.error().message.find("schema 3"), std::string::npos) << refused.error().message;
  {
    auto env = lmdb::Env::open(dir, {});
    auto txn = lmdb::Txn::begin(env, MDB_RDONLY);
    auto internal = lmdb::Dbi::open(txn, "internal", 0);
    EXPECT_EQ(internal.get(txn, "schema_version").value_or(""), "3");
    auto messages = lmdb::Dbi::open(txn, "messages", 0);
    EXPECT_EQ(messages.entries(txn), 1U);
  }
}

TEST(Lmdb, NotFoundIsAValueAndFailuresNameTheCall) {
  TempDir tmp;
  auto env = lmdb::Env::open(tmp.path(), {});
  auto txn = lmdb::Txn::begin(env, 0);
  auto table = lmdb::Dbi::open(txn, "t", MDB_CREATE);
  EXPECT_FALSE(table.get(txn, "missing").has_value());
  EXPECT_FALSE(table.del(txn, "missing"));
  try {
    table.put(txn, std::string(600, 'k'), "v");  // longer than LMDB's key limit
    ADD_FAILURE() << "an over-long key was accepted";
  } catch (const lmdb::LmdbError& e) {
    EXPECT_EQ(e.code(), MDB_BAD_VALSIZE);
    EXPECT_EQ(std::string(e.what()).rfind("mdb_put(t): MDB_BAD_VALSIZE", 0), 0U) << e.what();
  }
}

}  // namespace
}  // namespace popfs::store
