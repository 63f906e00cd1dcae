#include "fs_fixture.hpp"

namespace popfs::test {

std::string make_message(const std::string& subject, const std::string& date, std::size_t body_lines,
                         const std::string& extra_headers) {
  std::string m = "From: Alice Example <alice@example.org>\r\n"
                  "To: bob@example.org\r\n"
                  "Subject: " + subject + "\r\n"
                  "Date: " + date + "\r\n"
                  "Message-ID: <" + subject + "@example.org>\r\n" + extra_headers + "\r\n";
  for (std::size_t i = 0; i < body_lines; ++i) {
    m += "Line " + std::to_string(i) + " of the body of " + subject + ", padded to look like text.\r\n";
  }
  return m;
}

namespace {
std::unique_ptr<store::Cache> open_cache(const std::filesystem::path& dir) {
  auto cache = store::Cache::open({dir / "cache", 2ULL << 30});
  if (!cache) throw std::runtime_error("cannot open the test cache: " + cache.error().describe());
  return std::move(cache).value();
}
}  // namespace

FsTest::FsTest() : cache_(open_cache(cache_dir.path())) {}

void FsTest::reopen_cache() {
  cache_.reset();
  cache_ = open_cache(cache_dir.path());
}

void FsTest::TearDown() {
  if (filesystem) filesystem->shutdown();
  settle();  // what the shutdown failed, and the cache writes still queued
  filesystem.reset();
}

fs::Filesystem& FsTest::make_fs(fs::FsOptions options) {
  filesystem = std::make_unique<fs::Filesystem>(maildrop, *cache_, options, executor);
  filesystem->set_kernel_notifier(&notifier);
  return *filesystem;
}

fs::Filesystem& FsTest::start_fs(fs::FsOptions options) {
  auto& f = make_fs(options);
  const int lists_before = maildrop.list_calls();
  EXPECT_TRUE(f.start().ok());
  EXPECT_TRUE(settle_until([&] { return maildrop.list_calls() > lists_before && f.status().last_refresh; }))
      << "the first listing never arrived";
  return f;
}

void FsTest::refresh_now() {
  auto done = std::make_shared<bool>(false);
  filesystem->refresh([done](Result<void>) { *done = true; });
  ASSERT_TRUE(settle_until([&] { return *done; })) << "the refresh never completed";
}

bool FsTest::settle_until(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto until = executor.clock().now() + limit;
  executor.run_until_idle();
  while (!condition()) {
    if (!executor.has_timers() || executor.clock().now() >= until) return false;
    executor.run_next_timer();
  }
  return true;
}

Result<void> FsTest::flush(std::chrono::milliseconds timeout) {
  auto result = std::make_shared<std::optional<Result<void>>>();
  filesystem->flush_deletions(timeout, [result](Result<void> r) { result->emplace(std::move(r)); });
  if (!settle_until([&] { return result->has_value(); }, timeout + std::chrono::seconds(1))) {
    return Error(Errc::timeout, "test: the flush never completed");
  }
  return **result;
}

FsTest::PendingRead FsTest::start_read(std::uint64_t ino, std::uint64_t offset, std::size_t size) {
  PendingRead pending;
  filesystem->read(ino, offset, size, [result = pending.result](Result<std::string> r) { result->emplace(std::move(r)); });
  return pending;
}

std::vector<std::string> names_in(fs::Filesystem& f, std::uint64_t dir) {
  std::vector<std::string> out;
  auto entries = f.read_directory(dir);
  EXPECT_TRUE(entries.ok());
  if (!entries) return out;
  for (const auto& e : *entries) {
    if (e.name != "." && e.name != ".." && e.name != ".headers") out.push_back(e.name);
  }
  return out;
}

std::vector<std::string> FsTest::root_names() { return names_in(*filesystem, fs::kRootInode); }
std::vector<std::string> FsTest::header_names() { return names_in(*filesystem, fs::kHeadersInode); }

std::uint64_t FsTest::ino_of(const std::string& name, std::uint64_t parent) {
  auto attr = filesystem->lookup(parent, name);
  EXPECT_TRUE(attr.ok()) << name;
  return attr ? attr->ino : 0;
}

Result<std::string> FsTest::read(std::uint64_t ino, std::uint64_t offset, std::size_t size) {
  auto pending = start_read(ino, offset, size);
  if (!settle_until([&] { return pending.done(); }, std::chrono::seconds(10))) {
    return Error(Errc::timeout, "test: read did not complete");
  }
  return **pending.result;
}

Result<std::string> FsTest::read_whole(std::uint64_t ino) {
  std::string out;
  for (;;) {
    auto chunk = read(ino, out.size(), 65536);
    if (!chunk) return chunk.error();
    if (chunk->empty()) return out;
    out += *chunk;
  }
}

}  // namespace popfs::test
