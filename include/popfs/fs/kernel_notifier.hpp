#pragma once
// What the filesystem core tells the kernel when something changed behind its back. The
// FUSE adapter implements it with a queue and a thread of its own: these calls may come from
// inside an operation's handler, where notifying the kernel about the same inode deadlocks.

#include <cstdint>
#include <string>
#include <vector>

namespace popfs::fs {

class KernelNotifier {
 public:
  virtual ~KernelNotifier() = default;
  // The attributes (size, mtime) or content of this inode changed: drop cached copies.
  virtual void inode_changed(std::uint64_t ino) = 0;
  // The name appeared or vanished in directory `parent`: drop the cached dentry.
  virtual void entry_changed(std::uint64_t parent, std::string name) = 0;
  // These files' bytes are local and exact, and a reader is likely to read them next: the
  // adapter may store them in the page cache (Filesystem::local_content with Push::ahead).
  virtual void content_ready(std::vector<std::uint64_t> inodes) { (void)inodes; }
};

}  // namespace popfs::fs
