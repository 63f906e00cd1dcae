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
  // This file's whole content, exact, that a reader is likely to read next: the adapter may
  // store it in the page cache. The bytes come with the call: nothing is asked back.
  virtual void content_ready(std::uint64_t ino, std::string content) = 0;
};

}  // namespace popfs::fs
