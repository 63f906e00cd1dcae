#pragma once
// Real FUSE mounts for tests: a private Dovecot, the real Pop3Maildrop, the LMDB cache, the
// Filesystem core and fuse::Session, served in-process on a thread. Teardown always unmounts
// (Session::stop, then fusermount3 -u, then -uz as a last resort), even when a test fails.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "popfs/fs/filesystem.hpp"
#include "popfs/util/thread_pool.hpp"
#include "popfs/fuse/session.hpp"
#include "popfs/mailbox/maildrop.hpp"
#include "popfs/net/account.hpp"
#include "popfs/store/cache.hpp"
#include "popfs_test/dovecot.hpp"
#include "popfs_test/independent_client.hpp"
#include "popfs_test/process.hpp"
#include "popfs_test/temp_dir.hpp"

namespace popfs::test {

// Runs a shell command line (bash -c) to completion (60 s deadline); output interleaved.
CommandResult shell(const std::string& command_line);
std::string shell_quote(const std::string& s);
std::string slurp(const std::filesystem::path& p);  // the whole file, binary
std::vector<std::string> ls(const std::filesystem::path& dir);  // `ls -1`: names, sorted
// The file names popfs gives these messages, sorted as ls sorts them here.
std::vector<std::string> sorted_names(const std::vector<IndependentMessage>& messages);

net::Account mount_account(const std::string& host, std::uint16_t port, const std::string& user,
                           const std::string& password, const std::string& ca_file);

// One mount of one cache directory; several Mounts in a row share the cache (remounts).
class Mount {
 public:
  Mount(const Dovecot& dovecot, const std::filesystem::path& cache_dir, const std::filesystem::path& mountpoint,
        fs::FsOptions options);
  // Any server over implicit TLS (mount_account), e.g. the fake one for what Dovecot never does.
  Mount(net::Account account, const std::filesystem::path& cache_dir, const std::filesystem::path& mountpoint,
        fs::FsOptions options);
  ~Mount();  // unmount()
  Mount(const Mount&) = delete;
  Mount& operator=(const Mount&) = delete;

  // Commits pending deletions (as `popfs umount` does), then unmounts and shuts down.
  // Returns the result of the flush.
  Result<void> unmount(std::chrono::milliseconds flush_timeout = std::chrono::seconds(10));
  fs::Filesystem& filesystem() { return *filesystem_; }
  const std::filesystem::path& path() const { return mountpoint_; }

 private:
  std::filesystem::path mountpoint_;
  std::unique_ptr<ThreadPool> executor_;
  std::unique_ptr<mailbox::Maildrop> maildrop_;
  std::unique_ptr<store::Cache> cache_;
  std::unique_ptr<fs::Filesystem> filesystem_;
  std::unique_ptr<fuse::Session> session_;
  std::thread server_;
  bool mounted_ = false;
};

class MountTest : public ::testing::Test {
 protected:
  // Starts Dovecot with `corpus_count` generated messages.
  void start_dovecot(std::size_t corpus_count, std::size_t large_count = 0,
                     std::vector<std::string> extra_config = {});
  Mount& mount(fs::FsOptions options = default_options());
  void unmount();
  static fs::FsOptions default_options();
  std::filesystem::path mp() const { return mountpoint_dir_ / "mnt"; }
  void TearDown() override;

  TempDir work_{"popfs-mount-test-"};
  std::filesystem::path mountpoint_dir_ = work_.path();
  std::unique_ptr<Dovecot> dovecot_;
  std::unique_ptr<Mount> mount_;
};

template <class F>
bool eventually(F condition, std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
  return wait_until(condition, timeout);
}

}  // namespace popfs::test
