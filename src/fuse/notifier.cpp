#include "notifier.hpp"

namespace popfs::fuse {

Notifier::Notifier(fuse_session* se) : se_(se), thread_([this] { run(); }) {}

Notifier::~Notifier() { stop(); }

// Attributes only (offset -1): the kernel drops them at once and never waits for the daemon,
// so this is safe on any thread, inside a handler of an operation on the same inode too. The
// core relies on it being done when this returns (a reader is answered after it).
void Notifier::inode_changed(std::uint64_t ino) { fuse_lowlevel_notify_inval_inode(se_, ino, -1, 0); }

void Notifier::entry_changed(std::uint64_t parent, std::string name) {
  enqueue({Item{Action::entry, parent, std::move(name)}});
}

void Notifier::content_ready(std::uint64_t ino, std::string content) {
  enqueue({Item{Action::push, ino, std::move(content)}});
}

void Notifier::drop_pages(std::uint64_t ino) { enqueue({Item{Action::pages, ino, {}}}); }

void Notifier::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Notifier::enqueue(std::vector<Item> items) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    for (auto& item : items) items_.push_back(std::move(item));
  }
  cv_.notify_all();
}

void Notifier::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !items_.empty(); });
    if (stopping_) return;
    Item item = std::move(items_.front());
    items_.pop_front();
    lock.unlock();
    perform(item);
    lock.lock();
  }
}

// Errors (ENOENT: the kernel does not know the inode) mean there is nothing to drop or fill.
void Notifier::perform(const Item& item) {
  switch (item.action) {
    case Action::entry:
      fuse_lowlevel_notify_inval_entry(se_, item.ino, item.data.c_str(), item.data.size());
      return;
    case Action::pages:
      fuse_lowlevel_notify_inval_inode(se_, item.ino, 0, 0);  // attributes and every page
      return;
    case Action::push: {
      if (item.data.empty()) return;
      fuse_bufvec buf = FUSE_BUFVEC_INIT(item.data.size());
      buf.buf[0].mem = const_cast<char*>(item.data.data());
      fuse_lowlevel_notify_store(se_, item.ino, 0, &buf, static_cast<fuse_buf_copy_flags>(0));
      return;
    }
  }
}

}  // namespace popfs::fuse
