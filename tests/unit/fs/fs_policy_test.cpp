// Core tests of rules that span the parts of the core: who may unlink, how long a lookup
// waits on a stalled server, deletions across a UIDL reset, refresh --now, and the bound
// on bytes waiting for a slow disk.

#include <atomic>
#include <condition_variable>
#include <future>
#include <thread>

#include "fs_fixture.hpp"
#include "popfs/util/thread_pool.hpp"

namespace popfs::test {
namespace {

using ::testing::ElementsAre;

const std::string kDate = "Mon, 2 Jan 2006 15:04:05 -0700";

TEST_F(FsTest, OnlyTheMountingUserOrRootMayUnlink) {
  maildrop.add("a", "x\r\n");
  fs::FsOptions o;
  o.uid = 1000;
  o.prefetch_stubs = false;
  start_fs(o);
  auto refused = filesystem->unlink(fs::kRootInode, "a.eml", 1001);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().to_errno(), EACCES);
  EXPECT_TRUE(cache().pending_deletions().value().empty());
  EXPECT_THAT(root_names(), ElementsAre("a.eml"));
  EXPECT_TRUE(filesystem->unlink(fs::kRootInode, "a.eml", 1000).ok());
  maildrop.add("b", "y\r\n");
  refresh_now();
  EXPECT_TRUE(filesystem->unlink(fs::kRootInode, "b.eml", 0).ok()) << "root may";
}

TEST_F(FsTest, OnAStalledServerLookupsWaitForAStubOnceThenAnswerAtOnce) {
  maildrop.add("a", make_message("a", kDate, 3));
  maildrop.add("b", make_message("b", kDate, 3));
  fs::FsOptions o;
  o.prefetch_stubs = false;
  o.stub_wait = std::chrono::milliseconds(1500);
  start_fs(o);
  maildrop.hold_tops(true);  // the server stops answering TOP
  const auto started = executor.clock().now();
  std::optional<Result<fs::Attr>> first;
  filesystem->lookup(fs::kRootInode, "a.eml", [&](Result<fs::Attr> r) { first.emplace(std::move(r)); });
  settle();
  EXPECT_FALSE(first.has_value()) << "waits for the stub while the server may answer";
  ASSERT_TRUE(settle_until([&] { return first.has_value(); }));
  EXPECT_EQ(executor.clock().now() - started, std::chrono::milliseconds(1500)) << "and no longer than stub_wait";
  ASSERT_TRUE(first->ok());
  EXPECT_NE(first->value().mtime, 1136239445) << "the cached attributes: first_seen";
  // The next lookup does not wait at all.
  std::optional<Result<fs::Attr>> second;
  filesystem->lookup(fs::kRootInode, "b.eml", [&](Result<fs::Attr> r) { second.emplace(std::move(r)); });
  EXPECT_TRUE(second.has_value()) << "answered inline";
  // Once stubs flow again, lookups wait for them again.
  maildrop.hold_tops(false);
  settle();
  std::optional<Result<fs::Attr>> third;
  filesystem->lookup(fs::kRootInode, "b.eml", [&](Result<fs::Attr> r) { third.emplace(std::move(r)); });
  ASSERT_TRUE(settle_until([&] { return third.has_value(); }));
  EXPECT_EQ(third->value().mtime, 1136239445);
}

TEST_F(FsTest, AUidlResetKeepsDeletionsAndDeletesTheMessageUnderItsNewName) {
  for (int i = 0; i < 5; ++i) maildrop.add("old" + std::to_string(i), make_message("m" + std::to_string(i), kDate, 2));
  auto o = fs::FsOptions{};
  o.deletion_batch_delay = std::chrono::milliseconds(20);
  o.deletion_retry_min = std::chrono::milliseconds(20);
  start_fs(o);
  ASSERT_TRUE(settle_until([&] { return cache().stats().value().stubs == 5; }));
  maildrop.fail_next_commits(1000);  // the deletion cannot be committed before the reset
  ASSERT_TRUE(filesystem->unlink(fs::kRootInode, "old2.eml", 0).ok());
  settle_until([] { return false; }, std::chrono::milliseconds(100));
  std::vector<FakeMaildrop::Message> renamed;
  for (int i = 0; i < 5; ++i) renamed.push_back({"new" + std::to_string(i), make_message("m" + std::to_string(i), kDate, 2), {}});
  maildrop.replace_all(renamed);
  maildrop.fail_next_commits(0);
  refresh_now();
  // m2 is recognised by its Message-ID when its header arrives, and deleted again.
  ASSERT_TRUE(settle_until([&] { return maildrop.uidls().size() == 4; }));
  EXPECT_EQ(maildrop.uidls(), (std::vector<std::string>{"new0", "new1", "new3", "new4"}));
  EXPECT_THAT(root_names(), ElementsAre("new0.eml", "new1.eml", "new3.eml", "new4.eml"));
  // Remembered across a remount too: nothing is carried once matched.
  EXPECT_EQ(cache().meta("reset_deletions").value().value_or("?"), "");
}

TEST_F(FsTest, RefreshNowAsksTheMaildropToLogInDespiteABackoff) {
  maildrop.add("a", "x\r\n");
  start_fs();
  EXPECT_EQ(maildrop.login_now_lists(), 0);
  auto done = std::make_shared<bool>(false);
  filesystem->refresh([done](Result<void>) { *done = true; }, true);
  ASSERT_TRUE(settle_until([&] { return *done; }));
  EXPECT_EQ(maildrop.login_now_lists(), 1);
}

// ---- a slow disk -------------------------------------------------------------------------

// A Maildrop whose RETR arrives on a thread of its own in 64 KiB chunks, as a socket's
// would: the one thread the store queue's bound may hold back.
class StreamingMaildrop final : public mailbox::Maildrop {
 public:
  explicit StreamingMaildrop(std::string body) : body_(std::move(body)) {}
  ~StreamingMaildrop() override {
    if (thread_.joinable()) thread_.join();
  }
  void list(ListDone done, mailbox::ListOptions) override {
    auto table = std::make_shared<MessageTable>();
    table->append("big", 1, body_.size());
    std::thread([done, table] { done(mailbox::Listing(table)); }).detach();
  }
  void top(MessageId, std::uint32_t, TextDone done) override {
    std::thread([done] { done(Error(Errc::unsupported, "no TOP here")); }).detach();
  }
  void retr(MessageId, ChunkSink sink, Done done) override {
    thread_ = std::thread([this, sink, done] {
      for (std::size_t at = 0; at < body_.size(); at += 65536) {
        sink(std::string_view(body_).substr(at, 65536));
        delivered += std::min<std::size_t>(65536, body_.size() - at);
      }
      done(Result<void>{});
    });
  }
  void commit_deletions(std::vector<MessageId>, DeletionsDone done) override { done(std::vector<MessageId>{}); }
  void shutdown() override {}
  std::atomic<std::size_t> delivered{0};

 private:
  std::string body_;
  std::thread thread_;
};

// The real cache, whose body writes wait until the test opens the gate.
class GatedCache final : public store::Cache {
 public:
  explicit GatedCache(store::Cache& inner) : inner_(inner) {}
  void open_gate() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  std::atomic<bool> writer_waiting{false};

  class GatedWriter final : public store::BodyWriter {
   public:
    GatedWriter(GatedCache& cache, std::unique_ptr<store::BodyWriter> inner) : cache_(cache), inner_(std::move(inner)) {}
    Result<void> append(std::string_view chunk) override {
      cache_.wait_for_gate();
      return inner_->append(chunk);
    }
    Result<void> commit() override { return inner_->commit(); }

   private:
    GatedCache& cache_;
    std::unique_ptr<store::BodyWriter> inner_;
  };

  void wait_for_gate() {
    std::unique_lock lock(mu_);
    writer_waiting = true;
    cv_.wait(lock, [&] { return open_; });
  }

  std::atomic<int> scans{0};
  Result<void> scan_listing(const std::function<void(const store::MessageRecord&)>& visit) override {
    ++scans;
    return inner_.scan_listing(visit);
  }
  Result<store::ListingUpdate> apply_listing(const MessageTable& listed, std::int64_t now,
                                             store::ListingStates states) override {
    return inner_.apply_listing(listed, now, states);
  }
  Result<bool> holds_none_of(const MessageTable& listed) override { return inner_.holds_none_of(listed); }
  Result<void> reset() override { return inner_.reset(); }
  Result<std::optional<store::MessageRecord>> record(const MessageId& id) override { return inner_.record(id); }
  Result<std::optional<std::string>> stub(const MessageId& id) override { return inner_.stub(id); }
  Result<void> put_stub(const MessageId& id, std::string_view s, std::optional<std::int64_t> d) override {
    return inner_.put_stub(id, s, d);
  }
  Result<std::vector<bool>> put_stubs(const std::vector<store::StubWrite>& stubs) override { return inner_.put_stubs(stubs); }
  Result<void> set_mail_flags(const MessageId& id, std::uint8_t flags) override { return inner_.set_mail_flags(id, flags); }
  Result<std::unique_ptr<store::BodyWriter>> begin_body(const MessageId& id) override {
    auto writer = inner_.begin_body(id);
    if (!writer) return writer.error();
    return std::unique_ptr<store::BodyWriter>(std::make_unique<GatedWriter>(*this, std::move(*writer)));
  }
  Result<std::optional<std::size_t>> read_body(const MessageId& id, std::uint64_t offset, std::span<char> out) override {
    return inner_.read_body(id, offset, out);
  }
  Result<void> clear_bodies() override { return inner_.clear_bodies(); }
  Result<void> add_pending_deletion(const MessageId& id) override { return inner_.add_pending_deletion(id); }
  Result<std::vector<MessageId>> pending_deletions() override { return inner_.pending_deletions(); }
  Result<void> remove_pending_deletions(const std::vector<MessageId>& ids) override {
    return inner_.remove_pending_deletions(ids);
  }
  Result<std::optional<std::string>> meta(std::string_view key) override { return inner_.meta(key); }
  Result<void> set_meta(std::string_view key, std::string_view value) override { return inner_.set_meta(key, value); }
  Result<store::CacheStats> stats() override { return inner_.stats(); }

 private:
  store::Cache& inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// A remount does not read the cached listing: the server's first listing, merged with the
// cache, brings each message's cached state. Only when the server cannot be listed is the
// cached listing read (and installed before the failure is reported).
TEST_F(FsTest, ARemountStartsFromTheServersListingAndReadsTheCachedOneOnlyOffline) {
  maildrop.add("a", make_message("a", kDate, 3));
  maildrop.add("b", make_message("b", kDate, 3));
  start_fs();
  const std::string a_body = read_whole(ino_of("a.eml")).value();
  ASSERT_TRUE(settle_until([&] { return cache().stats().value().stubs == 2; }));
  const auto a_ino = ino_of("a.eml");
  const auto dir_before = filesystem->getattr(fs::kRootInode).value();
  filesystem->shutdown();
  filesystem.reset();
  reopen_cache();
  maildrop.remove("b");                             // deleted by another client meanwhile
  maildrop.add("c", make_message("c", kDate, 3));  // and new mail

  GatedCache counting(cache());
  counting.open_gate();
  auto remount = [&] {
    auto core = std::make_unique<fs::Filesystem>(maildrop, counting, fs::FsOptions{}, executor);
    EXPECT_TRUE(core->start().ok());
    std::optional<Result<void>> listed;
    core->refresh([&](Result<void> r) { listed.emplace(std::move(r)); });
    EXPECT_TRUE(settle_until([&] { return listed.has_value(); }));
    return core;
  };
  {
    auto core = remount();
    EXPECT_EQ(counting.scans.load(), 0) << "the cached listing was read before the server's";
    EXPECT_THAT(names_in(*core, fs::kRootInode), ElementsAre("a.eml", "c.eml"));
    const auto a = core->lookup(fs::kRootInode, "a.eml").value();
    EXPECT_EQ(a.ino, a_ino);
    EXPECT_TRUE(a.size_exact) << "the body's size, from the cache";
    EXPECT_EQ(a.size, a_body.size());
    EXPECT_EQ(a.mtime, 1136239445) << "the Date: of the cached stub";
    const auto dir_after = core->getattr(fs::kRootInode).value();
    EXPECT_GT(dir_after.mtime * 1'000'000'000LL + dir_after.mtime_nsec, dir_before.mtime * 1'000'000'000LL + dir_before.mtime_nsec)
        << "mail came and went since: the directories' mtime moves";
    core->shutdown();
  }
  maildrop.set_offline(true);
  {
    auto core = remount();
    EXPECT_EQ(counting.scans.load(), 1);
    EXPECT_THAT(names_in(*core, fs::kRootInode), ElementsAre("a.eml", "c.eml"));
    EXPECT_TRUE(core->lookup(fs::kRootInode, "a.eml").value().size_exact);
    core->shutdown();
  }
}

TEST_F(FsTest, ASlowDiskSlowsTheDownloadInsteadOfFillingMemory) {
  std::string body = make_message("big", kDate, 60000);  // ~4.6 MB, streamed in 256 KiB pieces
  StreamingMaildrop server(body);
  GatedCache slow(cache());
  ThreadPool pool(2);
  fs::FsOptions o;
  o.prefetch_stubs = false;
  o.stream_bytes = 256 * 1024;
  o.stream_piece_bytes = 256 * 1024;
  o.store_queue_bytes = 1024 * 1024;
  fs::Filesystem core(server, slow, o, pool);
  ASSERT_TRUE(core.start().ok());
  std::promise<void> listed;
  core.refresh([&](Result<void>) { listed.set_value(); });
  listed.get_future().wait();
  const auto ino = core.lookup(fs::kRootInode, "big.eml").value().ino;
  std::promise<Result<std::string>> first_bytes;
  core.read(ino, 0, 4096, [&](Result<std::string> r) { first_bytes.set_value(std::move(r)); });
  // The disk does not move: once about store_queue_bytes wait for it, the download stops.
  while (!slow.writer_waiting) std::this_thread::yield();
  std::size_t before = 0;
  for (;;) {  // until the delivering thread is held (it stops advancing)
    before = server.delivered.load();
    if (before >= 1024 * 1024) break;
    std::this_thread::yield();
  }
  EXPECT_LE(server.delivered.load(), 1024 * 1024 + 3 * 256 * 1024 + 65536) << "bytes waiting for the disk are bounded";
  EXPECT_LT(server.delivered.load(), body.size());
  slow.open_gate();
  auto got = first_bytes.get_future().get();
  ASSERT_TRUE(got.ok()) << got.error().describe();
  EXPECT_EQ(*got, body.substr(0, 4096));
  EXPECT_EQ(server.delivered.load(), body.size());
  core.shutdown();
  pool.stop();
}

}  // namespace
}  // namespace popfs::test

namespace popfs::test {
namespace {

// Directory pages as the kernel's READDIRPLUS reads them (Filesystem::read_directory_plus).
class DirPageTest : public FsTest {
 protected:
  std::shared_ptr<const fs::DirSnapshot> open_root() {
    std::optional<Result<std::shared_ptr<const fs::DirSnapshot>>> snapshot;
    filesystem->open_directory(fs::kRootInode, [&](auto r) { snapshot.emplace(std::move(r)); });
    EXPECT_TRUE(settle_until([&] { return snapshot.has_value(); }));
    EXPECT_TRUE(snapshot && snapshot->ok());
    return snapshot && snapshot->ok() ? snapshot->value() : nullptr;
  }
  std::vector<fs::DirItem> page(const std::shared_ptr<const fs::DirSnapshot>& snapshot, std::uint64_t offset,
                                std::size_t max) {
    std::optional<std::vector<fs::DirItem>> items;
    filesystem->read_directory_plus(snapshot, offset, max, [&](std::vector<fs::DirItem> got) { items = std::move(got); });
    EXPECT_TRUE(settle_until([&] { return items.has_value(); }));
    return items.value_or(std::vector<fs::DirItem>{});
  }
  // Entries given without attributes because their lookup would wait for a stub.
  static std::size_t awaiting(const std::vector<fs::DirItem>& items) {
    std::size_t n = 0;
    for (const auto& item : items) n += item.attr && item.attr->awaiting_stub ? std::size_t{1} : std::size_t{0};
    return n;
  }
};

// readdirplus (Filesystem::read_directory_plus): a plain `ls` after the mount never waits for
// header stubs; once kernel lookups wait for stubs (ls -l statting what it lists), a page
// waits for its entries' stubs and carries their attributes, sparing a lookup per entry.
TEST_F(DirPageTest, DirectoryPagesWaitForTheirStubsOnlyWhileLookupsDo) {
  const std::string date = "Mon, 2 Jan 2006 15:04:05 -0700";
  for (const std::string uidl : {"a", "b", "c", "d"}) maildrop.add(uidl, make_message(uidl, date, 3));
  fs::FsOptions o;
  o.prefetch_stubs = false;
  start_fs(o);
  const auto root = open_root();
  ASSERT_TRUE(root);
  // `ls`: the whole directory at once, no header fetched.
  EXPECT_EQ(awaiting(page(root, 0, 100)), 4u);
  EXPECT_EQ(maildrop.top_calls(), 0);
  // `ls -l`: the kernel looks up what the page left without attributes; the lookup waits.
  auto a = attr_of([&](auto done) { filesystem->lookup(fs::kRootInode, "a.eml", done); });
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(maildrop.top_calls(), 1);
  // The next page waits for the stubs of its entries (b, c, d), then gives them all.
  const auto rest = page(root, 0, 100);
  EXPECT_EQ(awaiting(rest), 0u);
  EXPECT_EQ(maildrop.top_calls(), 4);
  for (const auto& item : rest) {
    if (!item.attr || item.entry.is_dir) continue;
    EXPECT_EQ(item.attr->mtime, 1136239445) << item.entry.name;  // from Date:
  }
}

// ls -l: once a page of an open directory was read while lookups waited for stubs, every
// later page of it waits for its stubs, though no lookup waits any more (its pages carry
// the attributes): the signal that a program stats what it lists lasts a second, and a
// directory of 100,000 takes longer than that to list.
TEST_F(DirPageTest, AStattedDirectoryKeepsWaitingForStubsPageAfterPage) {
  const std::string date = "Mon, 2 Jan 2006 15:04:05 -0700";
  for (const std::string uidl : {"a", "b", "c", "d", "e"}) maildrop.add(uidl, make_message(uidl, date, 3));
  fs::FsOptions o;
  o.prefetch_stubs = false;
  start_fs(o);
  const auto listed = open_root();
  ASSERT_TRUE(listed);
  // The first page ends with b.eml (after ".", ".." and the directories).
  std::size_t first_page = 0;
  for (const auto& item : filesystem->read_directory(*listed, 0, 100)) {
    ++first_page;
    if (item.entry.name == "b.eml") break;
  }
  ASSERT_TRUE(attr_of([&](auto done) { filesystem->lookup(fs::kRootInode, "a.eml", done); }).ok());
  // b's stub is waited for, and this open directory counts as statted.
  const auto first = page(listed, 0, first_page);
  ASSERT_EQ(first.back().entry.name, "b.eml");
  EXPECT_EQ(awaiting(first), 0u);
  EXPECT_EQ(maildrop.top_calls(), 2);
  executor.manual_clock().advance(std::chrono::seconds(5));  // no lookup has waited since
  EXPECT_EQ(awaiting(page(listed, first.back().next_offset, 100)), 0u) << "c, d and e with their attributes";
  EXPECT_EQ(maildrop.top_calls(), 5);
  // Another open directory that nobody statted lately lists without waiting.
  maildrop.add("f", make_message("f", date, 3));
  refresh_now();
  const auto fresh = open_root();
  EXPECT_EQ(awaiting(page(fresh, 0, 100)), 1u) << "f";
  EXPECT_EQ(maildrop.top_calls(), 5);
}

// A page whose stubs are already being fetched sends no TOP of its own and is answered once,
// when the last of them arrives (it is counted down where each stub arrives).
TEST_F(DirPageTest, APageWaitsForStubsAlreadyOnTheWireAndIsAnsweredOnceByTheLast) {
  const std::string date = "Mon, 2 Jan 2006 15:04:05 -0700";
  for (const std::string uidl : {"a", "b", "c", "d"}) maildrop.add(uidl, make_message(uidl, date, 3));
  fs::FsOptions o;
  o.prefetch_stubs = false;
  o.stub_wait = std::chrono::seconds(30);
  start_fs(o);
  const auto root = open_root();
  ASSERT_TRUE(root);
  ASSERT_TRUE(attr_of([&](auto done) { filesystem->lookup(fs::kRootInode, "a.eml", done); }).ok());  // lookups wait now
  maildrop.hold_tops(true);
  int lookups_answered = 0;
  for (const std::string name : {"b.eml", "c.eml", "d.eml"}) {
    filesystem->lookup(fs::kRootInode, name, [&](Result<fs::Attr> r) { lookups_answered += r.ok() ? 1 : 0; });
  }
  settle();
  ASSERT_EQ(maildrop.top_calls(), 4);
  int pages_answered = 0;
  std::vector<fs::DirItem> items;
  filesystem->read_directory_plus(root, 0, 100, [&](std::vector<fs::DirItem> got) {
    ++pages_answered;
    items = std::move(got);
  });
  settle();
  EXPECT_EQ(pages_answered, 0) << "the page waits for b, c and d";
  maildrop.hold_tops(false);
  settle();
  EXPECT_EQ(pages_answered, 1);
  EXPECT_EQ(lookups_answered, 3);
  EXPECT_EQ(maildrop.top_calls(), 4) << "no second TOP for a stub already asked for";
  std::size_t files = 0;
  for (const auto& item : items) {
    if (item.entry.is_dir) continue;
    ++files;
    ASSERT_TRUE(item.attr.has_value()) << item.entry.name;
    EXPECT_FALSE(item.attr->awaiting_stub) << item.entry.name;
    EXPECT_EQ(item.attr->mtime, 1136239445) << item.entry.name;
  }
  EXPECT_EQ(files, 4u);
  // The stall timer of the page is gone with it: a later wait of the clock answers nothing twice.
  settle_until([] { return false; }, std::chrono::seconds(40));
  EXPECT_EQ(pages_answered, 1);
}

}  // namespace
}  // namespace popfs::test
