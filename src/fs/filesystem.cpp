// Filesystem: the kernel-facing operations (names, attributes, directories, unlink, xattrs).
// Fetching lives in fetching.cpp, listing/deletion/polling in background.cpp.

#include <fcntl.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "filesystem_impl.hpp"
#include "popfs/fs/header_fields.hpp"
#include "popfs/util/uidl_name.hpp"

namespace popfs::fs {

Worker::Worker() : thread_([this] { run(); }) {}
Worker::~Worker() { stop(); }

void Worker::post(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (joined_) return;  // after stop(): nobody would run it
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void Worker::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
    thread_.join();
    std::lock_guard lock(mu_);
    joined_ = true;
  }
}

void Worker::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
    if (tasks_.empty()) return;  // stopping and drained
    auto task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    task();
    lock.lock();
  }
}

Filesystem::Impl::Impl(mailbox::Maildrop& m, store::Cache& c, FsOptions o)
    : maildrop(m), cache(c), options(o) {}

NodeKind Filesystem::Impl::kind_of(std::uint64_t ino) const {
  if (ino == kRootInode) return NodeKind::root;
  if (ino == kHeadersInode) return NodeKind::headers_dir;
  if (ino < 16 || by_inode.find(ino) == by_inode.end()) return NodeKind::none;
  return ino % 2 == 0 ? NodeKind::message : NodeKind::stub;
}

const MessageState* Filesystem::Impl::state_of(std::uint64_t ino) const {
  const auto it = by_inode.find(ino);
  if (it == by_inode.end()) return nullptr;
  if (auto m = messages.find(it->second); m != messages.end()) return &m->second;
  if (auto o = orphans.find(it->second); o != orphans.end()) return &o->second;
  return nullptr;
}

MessageState* Filesystem::Impl::mutable_state(const MessageId& id) {
  if (auto m = messages.find(id); m != messages.end()) return &m->second;
  if (auto o = orphans.find(id); o != orphans.end()) return &o->second;
  return nullptr;
}

Attr Filesystem::Impl::dir_attr(std::uint64_t ino) const {
  Attr a;
  a.ino = ino;
  a.is_dir = true;
  a.permissions = 0555;
  a.nlink = ino == kRootInode ? 3 : 2;
  a.uid = options.uid;
  a.gid = options.gid;
  a.size = 0;
  // The newest message's time, so `ls -ld` moves when mail arrives; 0 for an empty box.
  for (const auto& [id, s] : messages) {
    if (!s.held) a.mtime = std::max(a.mtime, s.record.first_seen);
  }
  a.size_exact = true;
  a.attr_timeout = options.attr_timeout;
  a.entry_timeout = options.entry_timeout;
  return a;
}

Attr Filesystem::Impl::file_attr(std::uint64_t ino, const MessageState& s,
                                  std::optional<std::uint64_t> exact_size,
                                  std::uint64_t provisional_size) const {
  Attr a;
  a.ino = ino;
  a.permissions = 0444;
  a.uid = options.uid;
  a.gid = options.gid;
  a.mtime = s.record.mtime;
  a.size_exact = exact_size.has_value();
  a.size = exact_size.value_or(provisional_size);
  // A provisional size must not be cached by the kernel (doc/SEMANTICS.md, st_size).
  a.attr_timeout = a.size_exact ? options.attr_timeout : 0.0;
  a.entry_timeout = options.entry_timeout;
  return a;
}

Attr Filesystem::Impl::message_attr(const MessageState& s) const {
  const auto exact = options.lf ? s.lf_size : s.record.exact_size;
  return file_attr(message_inode(s.record), s, exact, s.record.list_size);
}

Attr Filesystem::Impl::stub_attr(const MessageState& s) const {
  return file_attr(stub_inode(s.record), s, s.stub_size, 0);
}

void Filesystem::Impl::drop_orphan_if_unused(std::uint64_t ino) {
  const auto it = by_inode.find(ino);
  if (it == by_inode.end()) return;
  const MessageId id = it->second;
  auto orphan = orphans.find(id);
  if (orphan == orphans.end()) return;
  const std::uint64_t m = message_inode(orphan->second.record);
  const std::uint64_t s = stub_inode(orphan->second.record);
  if (lookups.count(m) != 0 || lookups.count(s) != 0) return;
  by_inode.erase(m);
  by_inode.erase(s);
  orphans.erase(orphan);
}

// Removes one message from the visible listing (an unlink): O(n) index fix-up, no rebuild.
std::optional<std::string> Filesystem::Impl::hide(const MessageId& id) {
  auto it = messages.find(id);
  if (it == messages.end()) return std::nullopt;
  std::string name = it->second.name;
  const std::size_t index = it->second.index;
  by_name.erase(name);
  inexact.erase(id);
  std::erase(server_order, id);
  order.erase(order.begin() + static_cast<std::ptrdiff_t>(index));
  forget_prefetch_scan();
  for (std::size_t i = index; i < order.size(); ++i) messages.at(order[i]).index = i;
  const std::uint64_t m = message_inode(it->second.record);
  const std::uint64_t s = stub_inode(it->second.record);
  if (lookups.count(m) != 0 || lookups.count(s) != 0) {
    orphans.emplace(id, std::move(it->second));
  } else {
    by_inode.erase(m);
    by_inode.erase(s);
  }
  messages.erase(it);
  return name;
}

// Under mu, so the adapter's notifier cannot be detached and destroyed mid-call; its
// methods only queue.
void Filesystem::Impl::send(const Notes& notes) {
  std::lock_guard lock(mu);
  if (notifier == nullptr) return;
  for (auto ino : notes.inodes) notifier->inode_changed(ino);
  for (const auto& [parent, name] : notes.entries) notifier->entry_changed(parent, name);
}

// Replaces the listing with `records` minus pending deletions. Names that were visible and
// are gone are appended to `vanished` (as (parent, name) pairs for both dirs). With opens
// skipped, messages the kernel has not seen and whose sizes are not exact yet are held.
void Filesystem::Impl::install_listing(const std::vector<store::MessageRecord>& records,
                                       std::vector<std::pair<std::uint64_t, std::string>>& vanished) {
  std::map<MessageId, MessageState> old = std::move(messages);
  messages.clear();
  server_order.clear();
  inexact.clear();
  held_queue.clear();
  by_name.clear();
  for (const auto& record : records) {
    if (pending_deletions.count(record.id) != 0 || committed_deletions.count(record.id) != 0) continue;
    MessageState state;
    bool was_visible = false;
    if (auto it = old.find(record.id); it != old.end() && it->second.record.inode == record.inode) {
      state = std::move(it->second);  // keeps stub_size and lf_size learnt earlier
      was_visible = !state.held;
      old.erase(it);
    }
    state.record = record;
    state.name = message_file_name(record.id.uidl, record.id.occurrence);
    const bool exact = sizes_exact(state);
    state.held = opens_skipped && !was_visible && !exact;
    server_order.push_back(record.id);
    if (state.held) {
      held_queue.push_back(record.id);
    } else {
      by_name[state.name] = record.id;
      by_inode[message_inode(record)] = record.id;
      by_inode[stub_inode(record)] = record.id;
      orphans.erase(record.id);
      if (!exact) inexact.insert(record.id);
    }
    messages.emplace(record.id, std::move(state));
  }
  rebuild_order();
  for (auto& [id, state] : old) {
    if (state.held) continue;  // never shown: the kernel knows nothing of it
    vanished.emplace_back(kRootInode, state.name);
    vanished.emplace_back(kHeadersInode, state.name);
    const std::uint64_t m = message_inode(state.record);
    const std::uint64_t s = stub_inode(state.record);
    if (lookups.count(m) != 0 || lookups.count(s) != 0) {
      orphans.emplace(id, std::move(state));
    } else {
      by_inode.erase(m);
      by_inode.erase(s);
    }
  }
}

void Filesystem::Impl::rebuild_order() {
  order.clear();
  forget_prefetch_scan();
  for (const auto& id : server_order) {
    MessageState& s = messages.at(id);
    if (s.held) continue;
    s.index = order.size();
    order.push_back(id);
  }
}

bool Filesystem::Impl::sizes_exact(const MessageState& s) const {
  const bool body = options.lf ? s.lf_size.has_value() : s.record.exact_size.has_value();
  return body && (s.stub_size.has_value() || s.record.has_stub || top_unsupported);
}

// ---------------------------------------------------------------------------------------

Filesystem::Filesystem(mailbox::Maildrop& maildrop, store::Cache& cache, FsOptions options)
    : impl_(std::make_unique<Impl>(maildrop, cache, options)) {}

Filesystem::~Filesystem() { shutdown(); }

void Filesystem::set_kernel_notifier(KernelNotifier* notifier) {
  std::lock_guard lock(impl_->mu);
  impl_->notifier = notifier;
}

Result<Attr> Filesystem::lookup(std::uint64_t parent, std::string_view name) {
  auto& d = *impl_;
  std::uint64_t ino = 0;
  {
    std::lock_guard lock(d.mu);
    d.note_activity();
    if (parent == kRootInode && name == kHeadersDirName) {
      return d.dir_attr(kHeadersInode);  // fixed inode: no lookup count
    } else if (parent == kRootInode || parent == kHeadersInode) {
      const auto it = d.by_name.find(std::string(name));
      if (it == d.by_name.end()) return Error(Errc::not_found, "no such message");
      const MessageState& s = d.messages.at(it->second);
      ino = parent == kRootInode ? Impl::message_inode(s.record) : Impl::stub_inode(s.record);
    } else if (d.kind_of(parent) == NodeKind::none) {
      return Error(Errc::not_found, "no such directory");
    } else {
      return Error(Errc::not_a_directory, "a message file is not a directory");
    }
  }
  // The same attributes getattr gives (it also learns a cached stub's size).
  auto attr = getattr(ino);
  if (!attr) return attr;
  std::lock_guard lock(d.mu);
  if (d.by_inode.count(ino) == 0) return Error(Errc::not_found, "no such message");
  ++d.lookups[ino];
  return attr;
}

void Filesystem::add_lookup(std::uint64_t ino, std::uint64_t count) {
  auto& d = *impl_;
  std::lock_guard lock(d.mu);
  if (ino == kRootInode || ino == kHeadersInode) return;
  if (d.by_inode.count(ino) != 0) d.lookups[ino] += count;
}

void Filesystem::forget(std::uint64_t ino, std::uint64_t nlookup) {
  auto& d = *impl_;
  std::lock_guard lock(d.mu);
  auto it = d.lookups.find(ino);
  if (it == d.lookups.end()) return;
  it->second = it->second > nlookup ? it->second - nlookup : 0;
  if (it->second == 0) {
    d.lookups.erase(it);
    d.pushed.erase(ino);  // the kernel dropped the inode, and its page cache with it
    d.drop_orphan_if_unused(ino);
  }
}

Result<Attr> Filesystem::getattr(std::uint64_t ino) {
  auto attr = getattr_now(ino);
  if (attr) {
    std::lock_guard lock(impl_->mu);
    attr->awaiting_stub = impl_->stub_to_wait_for(ino).has_value();
  }
  return attr;
}

Result<Attr> Filesystem::getattr_now(std::uint64_t ino) {
  auto& d = *impl_;
  std::unique_lock lock(d.mu);
  d.note_activity();
  switch (d.kind_of(ino)) {
    case NodeKind::root:
    case NodeKind::headers_dir: return d.dir_attr(ino);
    case NodeKind::message: {
      const MessageState* s = d.state_of(ino);
      if (d.options.lf && s->record.has_body && !s->lf_size) {
        // Cached by an earlier run: the LF size is learnt by converting the body (local).
        const MessageId id = s->record.id;
        lock.unlock();
        (void)d.lf_body(id);
        lock.lock();
        s = d.mutable_state(id);
        if (s == nullptr) return Error(Errc::not_found, "message vanished");
      }
      return d.message_attr(*s);
    }
    case NodeKind::stub: {
      const MessageState* s = d.state_of(ino);
      if (s->stub_size || !s->record.has_stub) return d.stub_attr(*s);
      // The stub is cached but its size not yet known in memory: read it (local).
      const MessageId id = s->record.id;
      lock.unlock();
      auto stub = d.cache.stub(id);
      lock.lock();
      MessageState* m = d.mutable_state(id);
      if (m == nullptr) return Error(Errc::not_found, "message vanished");
      if (stub.ok() && stub.value()) m->stub_size = d.present(std::move(*stub.value())).size();
      return d.stub_attr(*m);
    }
    case NodeKind::none: break;
  }
  return Error(Errc::not_found, "no such inode");
}

std::optional<MessageId> Filesystem::Impl::stub_to_wait_for(std::uint64_t ino) const {
  if (!options.wait_for_stubs || top_unsupported || stopped || !server_reachable) return std::nullopt;
  const NodeKind kind = kind_of(ino);
  if (kind != NodeKind::message && kind != NodeKind::stub) return std::nullopt;
  const MessageState* s = state_of(ino);
  if (s == nullptr || s->record.has_stub || s->stub_size) return std::nullopt;
  return s->record.id;
}

void Filesystem::lookup(std::uint64_t parent, std::string name, AttrDone done) {
  auto& d = *impl_;
  {
    std::lock_guard lock(d.mu);
    std::optional<MessageId> wait;
    if ((parent == kRootInode || parent == kHeadersInode) && name != kHeadersDirName) {
      if (auto it = d.by_name.find(name); it != d.by_name.end()) {
        const MessageState& s = d.messages.at(it->second);
        wait = d.stub_to_wait_for(Impl::message_inode(s.record));
      }
    }
    if (wait) {
      d.note_activity();
      // Whatever the stub fetch gives, answer then (a failure leaves mtime = first_seen).
      d.fetch_stub(*wait, [this, parent, name = std::move(name), done = std::move(done)](Result<std::string>) {
        done(lookup(parent, name));
      });
      return;
    }
  }
  done(lookup(parent, name));
}

void Filesystem::getattr(std::uint64_t ino, AttrDone done) {
  auto& d = *impl_;
  {
    std::lock_guard lock(d.mu);
    if (auto wait = d.stub_to_wait_for(ino)) {
      d.note_activity();
      d.fetch_stub(*wait, [this, ino, done = std::move(done)](Result<std::string>) { done(getattr(ino)); });
      return;
    }
  }
  done(getattr(ino));
}

Result<std::vector<DirEntry>> Filesystem::read_directory(std::uint64_t ino) {
  auto& d = *impl_;
  std::lock_guard lock(d.mu);
  d.note_activity();
  const NodeKind kind = d.kind_of(ino);
  if (kind != NodeKind::root && kind != NodeKind::headers_dir) {
    return Error(kind == NodeKind::none ? Errc::not_found : Errc::not_a_directory, "not a directory");
  }
  std::vector<DirEntry> entries;
  entries.reserve(d.order.size() + 3);
  entries.push_back({".", ino, true});
  entries.push_back({"..", kRootInode, true});
  if (kind == NodeKind::root) entries.push_back({std::string(kHeadersDirName), kHeadersInode, true});
  for (const auto& id : d.order) {
    const MessageState& s = d.messages.at(id);
    entries.push_back({s.name, kind == NodeKind::root ? Impl::message_inode(s.record)
                                                      : Impl::stub_inode(s.record),
                       false});
  }
  return entries;
}

Result<OpenInfo> Filesystem::open(std::uint64_t ino, int open_flags) {
  auto& d = *impl_;
  std::lock_guard lock(d.mu);
  d.note_activity();
  const NodeKind kind = d.kind_of(ino);
  if (kind == NodeKind::none) return Error(Errc::not_found, "no such file");
  if ((open_flags & O_ACCMODE) != O_RDONLY || (open_flags & O_TRUNC) != 0) {
    return Error(Errc::read_only, "popfs files are read-only");
  }
  OpenInfo info;
  if ((kind == NodeKind::message || kind == NodeKind::stub) && d.options.skip_opens_when_exact &&
      !d.options.lf && (d.opens_skipped || d.inexact.empty())) {
    // Every visible size is exact, and install_listing keeps it so from now on.
    if (!d.opens_skipped) spdlog::info("every file's size is exact: the kernel now opens files without asking");
    d.opens_skipped = true;
    info.skip_opens = true;
    return info;
  }
  if (kind == NodeKind::stub) {
    const MessageState* s = d.state_of(ino);
    info.direct_io = !s->stub_size.has_value();  // size unknown: do not cut at st_size 0
    info.keep_cache = s->stub_size.has_value();
  } else if (kind == NodeKind::message) {
    const MessageState* s = d.state_of(ino);
    const bool exact = d.options.lf ? s->lf_size.has_value() : s->record.exact_size.has_value();
    // While st_size is the LIST size, bypass the page cache: a short first read must end
    // the file there, not leave a zero-filled tail up to the provisional size (the kernel
    // keeps that tail when our attribute invalidation races the read's reply).
    info.direct_io = !exact;
    info.keep_cache = exact;
  }
  return info;
}

std::optional<std::string> Filesystem::local_content(std::uint64_t ino, std::size_t limit, Push push) {
  auto& d = *impl_;
  MessageId id;
  std::uint64_t size = 0;
  bool stub = false;
  {
    std::lock_guard lock(d.mu);
    if (d.stopped || d.pushed.count(ino) != 0) return std::nullopt;
    const NodeKind kind = d.kind_of(ino);
    const MessageState* s = kind == NodeKind::message || kind == NodeKind::stub ? d.state_of(ino) : nullptr;
    if (s == nullptr) return std::nullopt;
    id = s->record.id;
    stub = kind == NodeKind::stub;
    if (stub) {
      if (!s->record.has_stub || !s->stub_size) return std::nullopt;
      size = *s->stub_size;
    } else {
      // -o lf bodies are converted on read: left to read().
      if (d.options.lf || !s->record.has_body || !s->record.exact_size) return std::nullopt;
      size = *s->record.exact_size;
    }
    if (size > limit) return std::nullopt;
    if (!stub && push == Push::at_open) d.note_read_start(id, *s);
  }
  std::string content;
  if (stub) {
    auto text = d.cache.stub(id);
    if (!text || !text.value()) return std::nullopt;
    content = d.present(std::move(*text.value()));
  } else {
    content.resize(static_cast<std::size_t>(size));
    auto n = d.cache.read_body(id, 0, std::span<char>(content.data(), content.size()));
    if (!n || !n.value()) return std::nullopt;
    content.resize(*n.value());
  }
  // Only bytes matching the size the kernel was given: anything else is left to read().
  if (content.size() != size) return std::nullopt;
  std::lock_guard lock(d.mu);
  d.pushed.insert(ino);
  return content;
}

void Filesystem::read(std::uint64_t ino, std::uint64_t offset, std::size_t size, ReadDone done) {
  auto& d = *impl_;
  MessageId id;
  NodeKind kind;
  {
    std::lock_guard lock(d.mu);
    d.note_activity();
    kind = d.kind_of(ino);
    if (kind == NodeKind::message || kind == NodeKind::stub) id = d.state_of(ino)->record.id;
  }
  switch (kind) {
    case NodeKind::message: return d.read_message(id, offset, size, std::move(done));
    case NodeKind::stub: return d.read_stub(id, offset, size, std::move(done));
    case NodeKind::root:
    case NodeKind::headers_dir: return done(Error(Errc::invalid_argument, "is a directory"));
    case NodeKind::none: break;
  }
  done(Error(Errc::not_found, "no such file"));
}

Result<void> Filesystem::unlink(std::uint64_t parent, std::string_view name) {
  auto& d = *impl_;
  MessageId id;
  {
    std::lock_guard lock(d.mu);
    d.note_activity();
    if (parent == kHeadersInode || (parent == kRootInode && name == kHeadersDirName)) {
      // Stubs are views of a message; deleting mail is done on the message file itself.
      return Error(Errc::read_only, "only messages in the top directory can be deleted");
    }
    if (parent != kRootInode) return Error(Errc::not_found, "no such directory");
    const auto it = d.by_name.find(std::string(name));
    if (it == d.by_name.end()) return Error(Errc::not_found, "no such message");
    if (d.options.read_only) return Error(Errc::read_only, "mounted read-only (-o ro)");
    id = it->second;
    // Messages sharing a UIDL are told apart only by their order, which another client can
    // change before the DELE is sent: deleting one could delete its twin.
    if (id.occurrence > 1 || d.by_name.count(message_file_name(id.uidl, 2)) != 0) {
      spdlog::warn("refusing to delete {}: its UIDL is shared with another message", name);
      return Error(Errc::not_permitted, "its UIDL is shared with another message");
    }
  }
  // Durable before the reply: an unlink that returned is never forgotten.
  if (auto r = d.cache.add_pending_deletion(id); !r) return r;
  Impl::Notes notes;
  {
    std::lock_guard lock(d.mu);
    d.pending_deletions.insert(id);
    if (auto stub_name = d.hide(id)) {
      // The kernel drops the unlinked name itself; the stub's name is ours to invalidate.
      notes.entries.emplace_back(kHeadersInode, *stub_name);
      notes.inodes.push_back(kHeadersInode);
    }
    d.schedule_commit(d.options.deletion_batch_delay);
  }
  d.send(notes);
  return {};
}

namespace {

struct XattrField {
  std::string_view name;
  std::string_view header;  // empty: not from the stub
};
constexpr XattrField kXattrs[] = {
    {"user.pop3.uidl", ""},
    {"user.mail.from", "From"},
    {"user.mail.subject", "Subject"},
    {"user.mail.date", "Date"},
    {"user.mail.message_id", "Message-ID"},
};

}  // namespace

// The message whose header stub answers extended attributes of `ino`: nullopt for a
// directory (no attributes), not_found for an unknown inode.
Result<std::optional<MessageId>> Filesystem::Impl::xattr_message(std::uint64_t ino) {
  std::lock_guard lock(mu);
  note_activity();
  const NodeKind kind = kind_of(ino);
  if (kind == NodeKind::none) return Error(Errc::not_found, "no such file");
  if (kind != NodeKind::message && kind != NodeKind::stub) return std::optional<MessageId>{};
  return std::optional<MessageId>(state_of(ino)->record.id);
}

void Filesystem::getxattr(std::uint64_t ino, std::string name, XattrDone done) {
  auto& d = *impl_;
  auto target = d.xattr_message(ino);
  if (!target) return done(std::move(target).error());
  if (!*target) return done(std::optional<std::string>{});
  const MessageId id = std::move(**target);
  const XattrField* field = nullptr;
  for (const auto& f : kXattrs) {
    if (f.name == name) field = &f;
  }
  if (field == nullptr) return done(std::optional<std::string>{});
  if (field->header.empty()) return done(std::optional<std::string>(id.uidl));
  const std::string_view header = field->header;
  std::lock_guard lock(d.mu);  // fetch_stub needs it; a message gone meanwhile is its case
  d.fetch_stub(id, [done = std::move(done), header](Result<std::string> stub) {
    if (!stub) return done(Error(Errc::io, stub.error().message));
    done(header_field(*stub, header));
  });
}

void Filesystem::listxattr(std::uint64_t ino, XattrListDone done) {
  auto& d = *impl_;
  auto target = d.xattr_message(ino);
  if (!target) return done(std::move(target).error());
  if (!*target) return done(std::vector<std::string>{});
  const MessageId id = std::move(**target);
  std::lock_guard lock(d.mu);  // as in getxattr
  d.fetch_stub(id, [done = std::move(done)](Result<std::string> stub) {
    std::vector<std::string> names;
    for (const auto& f : kXattrs) {
      if (f.header.empty() || (stub && header_field(*stub, f.header))) names.emplace_back(f.name);
    }
    done(std::move(names));
  });
}

}  // namespace popfs::fs
