#pragma once
// What the filesystem core tells the kernel when something changed behind its back. These
// calls may come from any thread, inside an operation's handler too: the FUSE adapter queues
// what could deadlock there (dentries, pages) for a thread of its own.

#include <cstdint>
#include <string>
#include <vector>

namespace popfs::fs {

class KernelNotifier {
 public:
  virtual ~KernelNotifier() = default;
  // The attributes (size, mtime) of this inode changed: the kernel's cached copy is dropped
  // before this returns, so whoever the core answers next cannot stat the old ones.
  virtual void inode_changed(std::uint64_t ino) = 0;
  // The name appeared or vanished in directory `parent`: drop the cached dentry.
  virtual void entry_changed(std::uint64_t parent, std::string name) = 0;
  // This file's whole content, exact, that a reader is likely to read next: the adapter may
  // store it in the page cache. The bytes come with the call: nothing is asked back.
  virtual void content_ready(std::uint64_t ino, std::string content) = 0;
};

}  // namespace popfs::fs
