#pragma once
// The cache directory on disk: its permissions, the lock that says "a popfs has this cache
// open", the temporary files bodies are streamed into, and removing it all.
// Functions throw StoreFailure.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>

namespace popfs::store {

// Creates the directory with mode 0700 (parents as needed). An existing directory must be
// owned by this user; if group or others have any access it is tightened to 0700, since
// the cache holds mail and the directory is popfs's own (the default lives under
// $XDG_CACHE_HOME/popfs). A directory owned by someone else is refused.
void prepare_cache_dir(const std::filesystem::path& dir);

// Removes ".partial-*" files left by a popfs killed between creating and unlinking one
// (only on file systems without O_TMPFILE). Safe while others run: a writer needs only its fd.
void remove_leftover_partials(const std::filesystem::path& dir);

inline constexpr std::string_view kLockFileName = "popfs.lock";

// A shared flock on DIR/popfs.lock for as long as the object lives; remove_cache_dir
// takes it exclusively to know that no popfs has the cache open. Also refuses a second
// open of the same directory in this process: LMDB forbids it (closing one of two handles
// would drop the other's locks on lock.mdb).
class DirLock {
 public:
  explicit DirLock(const std::filesystem::path& dir);
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  ~DirLock();

 private:
  int fd_ = -1;
  std::uint64_t device_ = 0;
  std::uint64_t inode_ = 0;
};

// An unnamed file in the cache directory (O_TMPFILE, else created and unlinked at once):
// it vanishes with its fd, also when the process is killed.
class TempFile {
 public:
  explicit TempFile(const std::filesystem::path& dir);
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile();

  void append(std::string_view bytes);
  // Reads exactly out_size bytes at offset (the caller knows what was appended).
  void read_at(std::uint64_t offset, char* out, std::size_t out_size) const;
  std::uint64_t size() const noexcept { return size_; }

 private:
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

}  // namespace popfs::store
