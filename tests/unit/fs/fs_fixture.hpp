#pragma once
// Shared set-up for core tests: a ManualExecutor the test drives (so time and every
// completion move only when the test says), a FakeMaildrop on it, the real cache, a
// Filesystem, and a notifier that records what the kernel would be told.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fake_maildrop.hpp"
#include "popfs/store/cache.hpp"
#include "popfs_test/manual_executor.hpp"
#include "popfs_test/temp_dir.hpp"
#include "popfs/fs/filesystem.hpp"

namespace popfs::test {

class RecordingNotifier final : public fs::KernelNotifier {
 public:
  void inode_changed(std::uint64_t ino) override {
    {
      std::lock_guard lock(mu);
      inodes.push_back(ino);
    }
    if (on_inode_changed) on_inode_changed(ino);
  }
  void entry_changed(std::uint64_t parent, std::string name) override {
    std::lock_guard lock(mu);
    entries.emplace_back(parent, std::move(name));
  }
  void content_ready(std::uint64_t ino, std::string content) override {
    std::lock_guard lock(mu);
    ready.push_back(ino);
    contents[ino] = std::move(content);
  }
  std::optional<std::string> content_of(std::uint64_t ino) {
    std::lock_guard lock(mu);
    auto it = contents.find(ino);
    if (it == contents.end()) return std::nullopt;
    return it->second;
  }
  std::vector<std::uint64_t> ready_inodes() {
    std::lock_guard lock(mu);
    return ready;
  }
  bool saw_inode(std::uint64_t ino) {
    std::lock_guard lock(mu);
    return std::find(inodes.begin(), inodes.end(), ino) != inodes.end();
  }
  bool saw_entry(std::uint64_t parent, const std::string& name) {
    std::lock_guard lock(mu);
    return std::find(entries.begin(), entries.end(), std::make_pair(parent, name)) != entries.end();
  }
  std::mutex mu;
  std::function<void(std::uint64_t)> on_inode_changed;  // runs inside inode_changed (set it first)
  std::vector<std::uint64_t> inodes;
  std::vector<std::pair<std::uint64_t, std::string>> entries;
  std::vector<std::uint64_t> ready;  // content_ready, in order
  std::map<std::uint64_t, std::string> contents;
};

// The names in a directory of `f`, without ".", ".." and ".headers".
std::vector<std::string> names_in(fs::Filesystem& f, std::uint64_t dir);

// A mail message with CRLF line endings.
std::string make_message(const std::string& subject, const std::string& date, std::size_t body_lines,
                         const std::string& extra_headers = "");

class FsTest : public ::testing::Test {
 protected:
  FsTest();
  void TearDown() override;
  // The real LMDB cache in a temporary directory; reopen_cache() closes and opens it again
  // (as a remount does). Only while no Filesystem is alive.
  store::Cache& cache() { return *cache_; }
  void reopen_cache();

  // Creates the Filesystem (not started) with these options; poll defaults to 0 (off).
  fs::Filesystem& make_fs(fs::FsOptions options = {});
  // make_fs + start + wait for the first listing.
  fs::Filesystem& start_fs(fs::FsOptions options = {});
  void refresh_now();
  // Runs the executor until nothing is left to do now, then, while `condition` does not
  // hold, moves time on to the next timer, for at most `limit` of (fake) time. No thread
  // sleeps and no wall clock is read.
  bool settle_until(const std::function<bool()>& condition, std::chrono::milliseconds limit = std::chrono::seconds(60));
  void settle() { executor.run_until_idle(); }
  Result<void> flush(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // A read whose reply is kept: the test looks at it after driving the executor.
  struct PendingRead {
    std::shared_ptr<std::optional<Result<std::string>>> result = std::make_shared<std::optional<Result<std::string>>>();
    bool done() const { return result->has_value(); }
  };
  PendingRead start_read(std::uint64_t ino, std::uint64_t offset, std::size_t size);
  // What an asynchronous lookup or getattr answered, once the executor has delivered it:
  // attr_of([&](auto done) { filesystem->getattr(ino, done); }).
  template <class Call>
  Result<fs::Attr> attr_of(Call call) {
    std::optional<Result<fs::Attr>> got;
    call([&](Result<fs::Attr> r) { got.emplace(std::move(r)); });
    EXPECT_TRUE(settle_until([&] { return got.has_value(); }));
    return got.value_or(Result<fs::Attr>(Error(Errc::timeout, "test: no answer")));
  }

  std::vector<std::string> root_names();
  std::vector<std::string> header_names();
  std::uint64_t ino_of(const std::string& name, std::uint64_t parent = fs::kRootInode);
  Result<std::string> read(std::uint64_t ino, std::uint64_t offset, std::size_t size);
  Result<std::string> read_whole(std::uint64_t ino);

  ManualExecutor executor;
  FakeMaildrop maildrop{executor};
  TempDir cache_dir{"popfs-fs-test-"};
  std::unique_ptr<store::Cache> cache_;
  RecordingNotifier notifier;
  std::unique_ptr<fs::Filesystem> filesystem;
};

}  // namespace popfs::test
