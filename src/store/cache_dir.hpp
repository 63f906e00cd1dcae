#pragma once
// The cache directory on disk: its permissions, the lock that says "a popfs has this cache
// open", and removing it all. Functions throw StoreFailure.

#include <cstdint>
#include <filesystem>
#include <string_view>

namespace popfs::store {

// Creates the directory with mode 0700 (parents as needed). An existing directory must be
// owned by this user; if group or others have any access it is tightened to 0700, since
// the cache holds mail and the directory is popfs's own (the default lives under
// $XDG_CACHE_HOME/popfs). A directory owned by someone else is refused.
void prepare_cache_dir(const std::filesystem::path& dir);

inline constexpr std::string_view kLockFileName = "popfs.lock";

// A lock on DIR/popfs.lock held for as long as the object lives (an open-file-description
// fcntl lock, so it can be downgraded atomically). Every popfs with the cache open holds a
// read lock; remove_cache_dir needs the write lock. The constructor first tries for the
// write lock: whoever gets it is the only process with the cache open and may clean up
// what dead processes left (see sole()), then calls share().
// Also refuses a second open of the same directory in this process: LMDB forbids it
// (closing one of two handles would drop the other's locks on lock.mdb).
class DirLock {
 public:
  explicit DirLock(const std::filesystem::path& dir);
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  ~DirLock();

  bool sole() const noexcept { return sole_; }
  void share();  // downgrade to the read lock that lets other processes in

 private:
  int fd_ = -1;
  bool sole_ = false;
  std::uint64_t device_ = 0;
  std::uint64_t inode_ = 0;
};

}  // namespace popfs::store
