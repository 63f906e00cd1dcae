#pragma once
// The FUSE side of fs::KernelNotifier. Attribute invalidations are sent at once (the kernel
// takes no lock for them that a handler's caller may hold). Dentry and page invalidations
// and page-cache stores go through a queue and a thread of its own, because libfuse forbids
// them from inside a handler of an operation on the same inode or directory (the kernel may
// hold that inode's lock while it waits for our reply). stop() before the fd closes: the
// core stops calling inode_changed when its notifier is unset, which comes first.

#define FUSE_USE_VERSION 34
#include <fuse3/fuse_lowlevel.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "popfs/fs/filesystem.hpp"
#include "popfs/fs/kernel_notifier.hpp"

namespace popfs::fuse {


class Notifier final : public fs::KernelNotifier {
 public:
  explicit Notifier(fuse_session* se);
  ~Notifier() override;  // stop()

  void inode_changed(std::uint64_t ino) override;
  void entry_changed(std::uint64_t parent, std::string name) override;
  void content_ready(std::uint64_t ino, std::string content) override;
  // The kernel's pages of this file may not be the message's bytes any more: drop them.
  void drop_pages(std::uint64_t ino);

  // Whatever is still queued is dropped: the session is going away.
  void stop();

 private:
  enum class Action { entry, pages, push };
  struct Item {
    Action action;
    std::uint64_t ino;  // the directory for Action::entry
    std::string data;   // the name for Action::entry, the bytes for Action::push
  };
  void enqueue(std::vector<Item> items);
  void run();
  void perform(const Item& item);

  fuse_session* se_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> items_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace popfs::fuse
