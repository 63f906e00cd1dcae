#include "cache_dir.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <system_error>
#include <vector>

#include "popfs/store/cache.hpp"
#include "store_failure.hpp"

namespace popfs::store {
namespace {

[[noreturn]] void fail_errno(std::string what, int err) {
  what += ": ";
  what += std::strerror(err);
  throw StoreFailure(err == ENOSPC || err == EDQUOT ? Errc::no_space : Errc::io, std::move(what));
}

// Cache directories open in this process, by (device, inode).
std::mutex open_dirs_mutex;
std::set<std::pair<std::uint64_t, std::uint64_t>>& open_dirs() {
  static std::set<std::pair<std::uint64_t, std::uint64_t>> dirs;
  return dirs;
}

bool is_cache_file(const std::string& name) {
  return name == "data.mdb" || name == "lock.mdb" || name == kLockFileName;
}

}  // namespace

void prepare_cache_dir(const std::filesystem::path& dir) {
  if (dir.empty()) throw StoreFailure(Errc::invalid_argument, "no cache directory given");
  std::error_code ec;
  if (dir.has_parent_path()) {
    std::filesystem::create_directories(dir.parent_path(), ec);
    if (ec) throw StoreFailure(Errc::io, "cannot create " + dir.parent_path().string() + ": " + ec.message());
  }
  const bool created = ::mkdir(dir.c_str(), 0700) == 0;
  if (!created && errno != EEXIST) fail_errno("cannot create cache directory " + dir.string(), errno);

  struct stat st{};
  if (::stat(dir.c_str(), &st) != 0) fail_errno("cannot stat cache directory " + dir.string(), errno);
  if (!S_ISDIR(st.st_mode)) throw StoreFailure(Errc::cache, "cache path " + dir.string() + " is not a directory");
  if (st.st_uid != ::geteuid()) {
    throw StoreFailure(Errc::cache, "cache directory " + dir.string() + " belongs to uid " +
                                        std::to_string(st.st_uid) + ", not to you: choose another --cache-dir");
  }
  // Also right after mkdir: a umask could have taken owner bits away.
  if ((st.st_mode & 07777) != 0700 && ::chmod(dir.c_str(), 0700) != 0) {
    fail_errno("cannot make cache directory " + dir.string() + " private (mode 0700)", errno);
  }
}

namespace {

bool set_lock(int fd, short type, bool wait) {
  struct flock lock{};
  lock.l_type = type;
  lock.l_whence = SEEK_SET;
  return ::fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &lock) == 0;
}

}  // namespace

DirLock::DirLock(const std::filesystem::path& dir) {
  struct stat st{};
  if (::stat(dir.c_str(), &st) != 0) fail_errno("cannot stat cache directory " + dir.string(), errno);
  device_ = st.st_dev;
  inode_ = st.st_ino;
  {
    std::lock_guard lock(open_dirs_mutex);
    if (!open_dirs().emplace(device_, inode_).second) {
      throw StoreFailure(Errc::cache, "the cache in " + dir.string() + " is already open in this process");
    }
  }
  const auto path = dir / kLockFileName;
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  int err = errno;
  if (fd_ >= 0) {
    sole_ = set_lock(fd_, F_WRLCK, false);
    if (!sole_ && !set_lock(fd_, F_RDLCK, true)) {
      err = errno;
      ::close(fd_);
      fd_ = -1;
    }
  }
  if (fd_ < 0) {
    {
      std::lock_guard lock(open_dirs_mutex);
      open_dirs().erase({device_, inode_});
    }
    fail_errno("cannot lock " + path.string(), err);
  }
}

DirLock::~DirLock() {
  ::close(fd_);  // releases the lock
  std::lock_guard lock(open_dirs_mutex);
  open_dirs().erase({device_, inode_});
}

void DirLock::share() {
  if (!sole_) return;
  if (!set_lock(fd_, F_RDLCK, false)) fail_errno("cannot downgrade the cache lock", errno);
  sole_ = false;
}

Result<void> remove_cache_dir(const std::filesystem::path& dir) {
  struct stat st{};
  if (::lstat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return Error(Errc::io, "cannot stat " + dir.string() + ": " + std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode)) return Error(Errc::cache, dir.string() + " is not a cache directory");

  const auto lock_path = dir / kLockFileName;
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd >= 0) {
    if (!set_lock(fd, F_WRLCK, false)) {
      ::close(fd);
      return Error(Errc::cache, "the cache in " + dir.string() +
                                    " is in use by a running popfs: unmount (popfs umount) and try again");
    }
    // Held while deleting: a popfs opening the cache meanwhile blocks on the lock and then
    // fails to open a removed directory, rather than seeing half a cache.
  }

  std::vector<std::string> foreign;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name == kLockFileName) continue;
    if (is_cache_file(name)) {
      std::filesystem::remove(entry.path(), ec);
    } else {
      foreign.push_back(name);
    }
  }
  std::filesystem::remove(lock_path, ec);
  if (fd >= 0) ::close(fd);
  if (!foreign.empty()) {
    return Error(Errc::cache, "removed the cache files but left " + dir.string() + " in place: it also holds " +
                                  foreign.front() + (foreign.size() > 1 ? " and more" : "") +
                                  ", which popfs did not create");
  }
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) {
    return Error(Errc::io, "cannot remove " + dir.string() + ": " + std::strerror(errno));
  }
  return {};
}

}  // namespace popfs::store
