#pragma once
// Shared set-up for core tests: a FakeMaildrop, a cache, a Filesystem, a notifier that
// records what the kernel would be told, and helpers that wait with deadlines.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fake_maildrop.hpp"
#include "popfs/store/cache.hpp"
#include "popfs_test/temp_dir.hpp"
#include "popfs/fs/filesystem.hpp"

namespace popfs::test {

class RecordingNotifier final : public fs::KernelNotifier {
 public:
  void inode_changed(std::uint64_t ino) override {
    std::lock_guard lock(mu);
    inodes.push_back(ino);
  }
  void entry_changed(std::uint64_t parent, std::string name) override {
    std::lock_guard lock(mu);
    entries.emplace_back(parent, std::move(name));
  }
  void content_ready(std::vector<std::uint64_t> offered) override {
    std::lock_guard lock(mu);
    ready.insert(ready.end(), offered.begin(), offered.end());
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
  std::vector<std::uint64_t> inodes;
  std::vector<std::pair<std::uint64_t, std::string>> entries;
  std::vector<std::uint64_t> ready;  // content_ready, in order
};

// Polls `condition` until it holds or the deadline passes.
template <class F>
bool eventually(F condition, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

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

  std::vector<std::string> root_names();
  std::vector<std::string> header_names();
  std::uint64_t ino_of(const std::string& name, std::uint64_t parent = fs::kRootInode);
  Result<std::string> read(std::uint64_t ino, std::uint64_t offset, std::size_t size);
  Result<std::string> read_whole(std::uint64_t ino);

  FakeMaildrop maildrop;
  TempDir cache_dir{"popfs-fs-test-"};
  std::unique_ptr<store::Cache> cache_;
  RecordingNotifier notifier;
  std::unique_ptr<fs::Filesystem> filesystem;
};

}  // namespace popfs::test
