#pragma once
// What the core answers about a file or directory, in kernel terms.

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace popfs::fs {

struct Attr {
  std::uint64_t ino = 0;
  bool is_dir = false;
  std::uint32_t permissions = 0;  // 0555 for directories, 0444 for files
  std::uint32_t nlink = 1;
  uid_t uid = 0;
  gid_t gid = 0;
  std::uint64_t size = 0;
  std::int64_t mtime = 0;
  std::uint32_t mtime_nsec = 0;  // directories: every change moves it, also within a second
  bool size_exact = false;     // false while st_size is the LIST size (or unknown)
  double attr_timeout = 0.0;   // seconds the kernel may cache these attributes
  double entry_timeout = 0.0;  // seconds the kernel may cache the name -> inode binding
  // The kernel-facing lookup/getattr would first fetch the header stub (mtime and a stub's
  // size are not final yet): readdirplus leaves such entries to a lookup.
  bool awaiting_stub = false;
};

struct DirEntry {
  std::string name;
  std::uint64_t ino = 0;
  bool is_dir = false;
};

}  // namespace popfs::fs
