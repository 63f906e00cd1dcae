// Filesystem: the mount once opens are skipped (doc/SEMANTICS.md, "Opens skipped"). The
// kernel then reads files without asking us first, trusting the sizes it was given, so no
// provisional size may ever be shown: new messages are held until their body and header
// stub are fetched. And as no open tells us what is read next, a page-cache miss makes us
// store the following cached files in the page cache ahead of the reader.

#include "filesystem_impl.hpp"

namespace popfs::fs {

void Filesystem::Impl::note_sizes(const MessageId& id, Notes& notes) {
  auto it = messages.find(id);
  if (it == messages.end()) return;
  MessageState& s = it->second;
  const bool exact = sizes_exact(s);
  if (!s.held) {
    if (exact) {
      inexact.erase(id);
    } else {
      inexact.insert(id);
    }
    return;
  }
  if (!exact) return;
  s.held = false;
  by_name[s.name] = id;
  by_inode[message_inode(s.record)] = id;
  by_inode[stub_inode(s.record)] = id;
  orphans.erase(id);
  rebuild_order();
  // The directories changed; a negative dentry of the new name must go too.
  notes.inodes.push_back(kRootInode);
  notes.inodes.push_back(kHeadersInode);
  notes.entries.emplace_back(kRootInode, s.name);
  notes.entries.emplace_back(kHeadersInode, s.name);
}

void Filesystem::Impl::mark_top_unsupported(Notes& notes) {
  if (top_unsupported) return;
  top_unsupported = true;
  std::vector<MessageId> waiting(inexact.begin(), inexact.end());
  for (const auto& [id, s] : messages) {
    if (s.held) waiting.push_back(id);
  }
  for (const auto& id : waiting) note_sizes(id, notes);
}

void Filesystem::Impl::pump_held() {
  if (stopped) return;
  while (!held_queue.empty()) {
    const MessageId id = held_queue.front();
    auto it = messages.find(id);
    if (it == messages.end() || !it->second.held) {
      held_queue.pop_front();
      continue;
    }
    const MessageState& s = it->second;
    if (!s.record.exact_size && fetches.count(id) == 0) {
      // The read-ahead budget bounds the memory of bodies in flight.
      if (bytes_in_flight > 0 && bytes_in_flight + s.record.list_size > options.prefetch_bytes) return;
      start_fetch(id, std::nullopt);
    }
    if (!s.record.has_stub && !s.stub_size && stub_fetches.count(id) == 0) fetch_stub(id, {});
    held_queue.pop_front();
  }
}

void Filesystem::Impl::push_ahead(const MessageId& read, bool stubs) {
  if (!opens_skipped || notifier == nullptr) return;
  const auto it = messages.find(read);  // not an orphan: its index means nothing any more
  if (it == messages.end() || it->second.held) return;
  const std::size_t index = it->second.index;
  std::vector<std::uint64_t> inodes;
  std::uint64_t bytes = 0;
  const std::size_t end = std::min<std::size_t>(order.size(), index + 1 + options.push_ahead_files);
  for (std::size_t j = index + 1; j < end; ++j) {
    const MessageState& s = messages.at(order[j]);
    const std::uint64_t ino = stubs ? stub_inode(s.record) : message_inode(s.record);
    const std::optional<std::uint64_t> size = stubs ? s.stub_size : s.record.exact_size;
    const bool local = stubs ? s.record.has_stub : s.record.has_body;
    // Only inodes the kernel holds can take pages; each once until the kernel forgets it.
    if (!local || !size || lookups.count(ino) == 0 || pushed.count(ino) != 0) continue;
    if (*size > options.push_ahead_file_limit) continue;
    if (bytes + *size > options.push_ahead_bytes) break;
    bytes += *size;
    inodes.push_back(ino);
  }
  if (!inodes.empty()) notifier->content_ready(std::move(inodes));
}

}  // namespace popfs::fs
