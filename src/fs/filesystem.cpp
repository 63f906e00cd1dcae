// Filesystem: the kernel-facing operations, composed from the parts of the core (see
// filesystem.hpp). Each part owns its state and lock; this file owns only the notifier
// pointer and the policy that spans parts: what a kernel lookup waits for, when opens are
// skipped, what is pushed into the page cache, who may unlink.

#include "popfs/fs/filesystem.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>

#include <future>

#include "body_fetcher.hpp"
#include "deletion_queue.hpp"
#include "dir_snapshot.hpp"
#include "namespace.hpp"
#include "parts_view.hpp"
#include "popfs/fs/header_fields.hpp"
#include "popfs/mime/header_decode.hpp"
#include "popfs/util/uidl_name.hpp"
#include "refresher.hpp"
#include "stub_fetcher.hpp"

namespace popfs::fs {
namespace {

std::string slice(const std::string& data, std::uint64_t offset, std::size_t size) {
  if (offset >= data.size()) return {};
  return data.substr(static_cast<std::size_t>(offset), size);
}

}  // namespace

struct Filesystem::Impl {
  Impl(mailbox::Maildrop& m, store::Cache& c, FsOptions o, Executor& e)
      : options(o), names(options), tasks(e), store_queue(e),
        core{m, c, names, tasks, store_queue, options, [this](Notes n) { send(std::move(n)); },
             [this](const Error& err) { refresher.report_error(err); }},
        stubs(core), bodies(core), deletions(core), refresher(core, deletions, stubs, bodies), parts(core, bodies) {
    // After a UIDL reset, a message deleted before it is recognised by its Message-ID.
    stubs.on_arrival([this](std::uint64_t serial, const std::string& stub) {
      if (auto message = names.message(serial)) deletions.check_carried(*message, stub);
    });
  }

  const FsOptions options;
  Namespace names;
  TaskScope tasks;
  Strand store_queue;
  CoreContext core;
  StubFetcher stubs;
  BodyFetcher bodies;
  DeletionQueue deletions;
  Refresher refresher;
  PartsView parts;

  // Guards the pointer, and is held while the notifier runs (inode_changed acts at once), so
  // nothing reaches a notifier after set_kernel_notifier(nullptr) returned.
  std::mutex notifier_mu;
  KernelNotifier* notifier = nullptr;
  std::mutex lifecycle_mu;
  bool started = false;
  bool stopped = false;
  // When a kernel lookup or getattr last waited for a header stub (the clock's ticks): a
  // program is statting what it lists, so directory pages wait for their stubs too.
  std::atomic<bool> stat_waited{false};
  std::atomic<Clock::duration::rep> last_stat_wait{0};

  void note_stat_wait() {
    last_stat_wait.store(core.tasks.clock().now().time_since_epoch().count());
    stat_waited.store(true);
  }
  bool statting_now() {
    if (!stat_waited.load()) return false;
    const Clock::duration since = core.tasks.clock().now().time_since_epoch() - Clock::duration(last_stat_wait.load());
    return since < std::chrono::seconds(1);
  }

  void send(Notes notes) {
    if (notes.empty()) return;
    std::lock_guard lock(notifier_mu);
    if (notifier == nullptr) return;
    for (auto ino : notes.inodes) notifier->inode_changed(ino);
    for (auto& [parent, name] : notes.entries) notifier->entry_changed(parent, std::move(name));
  }

  // A cached stub's size, or an -o lf body's, becomes known by reading it (no network).
  void learn_local_sizes(std::uint64_t ino) {
    const NodeKind kind = kind_of_inode(ino);
    if (kind != NodeKind::message && kind != NodeKind::stub) return;
    const auto m = names.message_of(ino);
    if (!m || m->held) return;
    if (kind == NodeKind::message) {
      if (options.lf && m->has_body) {
        auto attr = names.getattr(ino);
        if (attr && !attr->size_exact) (void)bodies.lf_size(*m);
      }
      return;
    }
    if (!m->has_stub || (m->stub_size && !options.lf)) return;
    auto attr = names.getattr(ino);
    if (!attr || attr->size_exact) return;
    auto stub = core.cache.stub(m->id);
    if (!stub || !stub.value()) return;
    const auto lf = options.lf ? std::optional<std::uint64_t>(to_lf(**stub).size()) : std::nullopt;
    names.learn_stub_size(m->serial, stub.value()->size(), lf);
  }

  static bool is_part(std::uint64_t ino) {
    const NodeKind k = kind_of_inode(ino);
    return k == NodeKind::part_folder || k == NodeKind::part;
  }
  static std::uint32_t part_at(std::uint64_t ino) {
    return kind_of_inode(ino) == NodeKind::part_folder ? 0 : part_index_of_inode(ino);
  }

  // A part folder or part whose message's tree is known, with that tree.
  std::optional<std::pair<Message, std::shared_ptr<const PartIndex>>> part_of(std::uint64_t ino) {
    auto m = names.message_of(ino);
    if (!m || m->held) return std::nullopt;
    auto index = parts.known(m->serial);
    if (!index) return std::nullopt;
    const std::uint32_t at = part_at(ino);
    if (at >= index->entries.size()) return std::nullopt;
    return std::make_pair(std::move(*m), std::move(index));
  }

  Result<Attr> part_attr(std::uint64_t ino) {
    if (kind_of_inode(ino) == NodeKind::part_folder) return names.getattr(ino);
    auto known = part_of(ino);
    if (!known) return Error(Errc::not_found, "no such part");
    return parts.attr(known->first.serial, *known->second, part_at(ino));
  }

  Result<Attr> part_lookup(std::uint64_t parent, std::string_view name) {
    auto known = part_of(parent);
    if (!known) return Error(Errc::not_found, "no such part");
    const std::uint32_t folder = part_at(parent);
    if (folder != 0 && known->second->entries[folder]->kind != mime::PartEntry::Kind::folder) {
      return Error(Errc::not_a_directory, "a part file is not a directory");
    }
    const auto child = parts.child(*known->second, folder, name);
    if (!child) return Error(Errc::not_found, "no such part");
    return parts.attr(known->first.serial, *known->second, *child);
  }

  Result<Attr> attr_now(std::uint64_t ino) {
    if (is_part(ino)) return part_attr(ino);
    learn_local_sizes(ino);
    auto attr = names.getattr(ino);
    if (!attr) return attr;
    // An unfetched stub has no size worth giving: 0 would let tar archive it as an empty
    // file without a word, where cat gets EIO. Its stat fails as its read does.
    if (unsized_stub(*attr)) {
      return Error(Errc::io, "the message's header is not cached and the server did not send it");
    }
    attr->awaiting_stub = names.stub_pending(ino).has_value() && stubs.worth_waiting();
    return attr;
  }

  static bool unsized_stub(const Attr& attr) {
    return kind_of_inode(attr.ino) == NodeKind::stub && !attr.size_exact;
  }

  // With opens skipped, a read of a file missed the page cache: the core offers the kernel
  // the cached files that follow it, bytes and all, from a thread of the executor.
  void push_ahead(const Message& read, bool stub_files) {
    if (!names.opens_skipped()) return;
    {
      std::lock_guard lock(notifier_mu);
      if (notifier == nullptr) return;
    }
    auto candidates = names.push_candidates(read.serial, stub_files, options.push_ahead_files,
                                            options.push_ahead_bytes, options.push_ahead_file_limit);
    if (candidates.empty()) return;
    tasks.post([this, candidates = std::move(candidates)] {
      for (const auto& c : candidates) {
        auto content = content_of(c.ino);
        if (!content || content->size() != c.size) {
          names.unmark_pushed(c.ino);
          continue;
        }
        std::lock_guard lock(notifier_mu);
        if (notifier != nullptr) notifier->content_ready(c.ino, std::move(*content));
      }
    });
  }

  // The whole local content of a file, exact, or nullopt.
  std::optional<std::string> content_of(std::uint64_t ino) {
    const auto m = names.message_of(ino);
    if (!m || m->held) return std::nullopt;
    if (kind_of_inode(ino) == NodeKind::message) return bodies.cached_body(*m, SIZE_MAX);
    if (!m->has_stub) return std::nullopt;
    auto stub = core.cache.stub(m->id);
    if (!stub || !stub.value()) return std::nullopt;
    return present(options, std::move(*stub.value()));
  }

  void read_stub(const Message& m, std::uint64_t offset, std::size_t size, ReadDone done) {
    // Local answers inline: grep over .headers/* reads thousands.
    if (m.has_stub) {
      auto stub = core.cache.stub(m.id);
      if (stub && stub.value()) return done(slice(present(options, std::move(*stub.value())), offset, size));
    }
    stubs.fetch(m.serial, [this, offset, size, done = std::move(done)](Result<std::string> stub) {
      if (!stub) return done(Error(Errc::io, "could not fetch the header: " + stub.error().describe()));
      done(slice(present(options, std::move(*stub)), offset, size));
    });
  }

  Result<std::optional<Message>> xattr_message(std::uint64_t ino) {
    refresher.note_activity();
    const NodeKind kind = names.kind(ino);
    if (kind == NodeKind::none) return Error(Errc::not_found, "no such file");
    if (kind != NodeKind::message && kind != NodeKind::stub) return std::optional<Message>{};
    auto m = names.message_of(ino);
    if (!m) return Error(Errc::not_found, "the message is no longer on the server");
    return std::optional<Message>(std::move(*m));
  }
};

Filesystem::Filesystem(mailbox::Maildrop& maildrop, store::Cache& cache, FsOptions options, Executor& executor)
    : impl_(std::make_unique<Impl>(maildrop, cache, options, executor)) {}

Filesystem::~Filesystem() {
  shutdown();
  impl_->tasks.close();
}

void Filesystem::set_kernel_notifier(KernelNotifier* notifier) {
  std::lock_guard lock(impl_->notifier_mu);
  impl_->notifier = notifier;
}

// ---- lifecycle -----------------------------------------------------------------------

Result<void> Filesystem::start() {
  auto& d = *impl_;
  {
    std::lock_guard lock(d.lifecycle_mu);
    if (d.started) return Error(Errc::invalid_argument, "Filesystem::start called twice");
    d.started = true;
  }
  if (auto r = d.deletions.load(); !r) return r;
  d.deletions.start();
  d.refresher.start_polling();
  d.refresher.refresh({});
  return {};
}

Result<void> Filesystem::use_cached_listing() { return impl_->refresher.use_cached(); }

void Filesystem::refresh(std::function<void(Result<void>)> done, bool try_login_now) {
  impl_->refresher.refresh(std::move(done), mailbox::ListOptions{try_login_now});
}

void Filesystem::shutdown() {
  auto& d = *impl_;
  {
    std::lock_guard lock(d.lifecycle_mu);
    if (d.stopped) return;
    d.stopped = true;
  }
  d.refresher.stop();
  d.refresher.save_dir_mtime();  // the renames since the last listing
  d.stubs.stop();
  d.bodies.stop();
  d.deletions.stop();
  d.core.maildrop.shutdown();  // fails queued work; no maildrop callback runs after this
}

Status Filesystem::status() {
  auto& d = *impl_;
  Status s;
  if (auto stats = d.core.cache.stats()) {
    s.cached_messages = stats->bodies;
    s.cached_bytes = stats->body_bytes;
  }
  s.messages = d.names.counts().visible;
  s.pending_deletions = d.deletions.pending();
  const auto state = d.refresher.state();
  s.last_refresh = state.last_refresh;
  s.last_error = state.last_error;
  s.refreshing = state.refreshing;
  s.opens_skipped = d.names.opens_skipped();
  return s;
}

std::size_t Filesystem::namespace_bytes() { return impl_->names.counts().memory_bytes; }

void Filesystem::sync(std::function<void(SyncProgress)> progress, std::function<void(Result<void>)> done) {
  impl_->bodies.sync(std::move(progress), std::move(done));
}

void Filesystem::flush_deletions(std::chrono::milliseconds timeout, std::function<void(Result<void>)> done) {
  impl_->deletions.flush(std::move(done), timeout);
}

Result<void> Filesystem::flush_deletions(std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<std::promise<Result<void>>>();
  auto future = promise->get_future();
  flush_deletions(timeout, [promise](Result<void> r) { promise->set_value(std::move(r)); });
  // The timeout is the executor's; this bound only guards against an executor that stopped.
  if (future.wait_for(timeout + std::chrono::seconds(5)) != std::future_status::ready) {
    return Error(Errc::timeout, "deletions are still pending; they stay queued and are committed on the next mount");
  }
  return future.get();
}

// ---- names and attributes --------------------------------------------------------------

Result<Attr> Filesystem::lookup(std::uint64_t parent, std::string_view name) {
  auto& d = *impl_;
  d.refresher.note_activity();
  if (Impl::is_part(parent)) return d.part_lookup(parent, name);
  auto probe = d.names.lookup(parent, name, false);
  if (!probe) return probe;
  auto attr = d.attr_now(probe->ino);
  if (!attr) return attr;
  if (!probe->is_dir && !d.names.lookup(parent, name, true)) return Error(Errc::not_found, "no such message");
  return attr;
}

void Filesystem::add_lookup(std::uint64_t ino, std::uint64_t count) { impl_->names.add_lookup(ino, count); }

void Filesystem::forget(std::uint64_t ino, std::uint64_t nlookup) { impl_->names.forget(ino, nlookup); }

Result<Attr> Filesystem::getattr(std::uint64_t ino) {
  impl_->refresher.note_activity();
  return impl_->attr_now(ino);
}

void Filesystem::lookup(std::uint64_t parent, std::string name, AttrDone done) {
  auto& d = *impl_;
  if (Impl::is_part(parent) && !d.part_of(parent)) {
    // A look into a message's parts before its tree is made: fetch and parse it first.
    auto m = d.names.message_of(parent);
    if (!m) return done(Error(Errc::not_found, "no such directory"));
    return d.parts.tree(*m, [this, parent, name = std::move(name), done = std::move(done)](
                                Result<std::shared_ptr<const PartIndex>> index) {
      if (!index) return done(Error(Errc::io, "could not read the message's parts: " + index.error().describe()));
      done(lookup(parent, name));
    });
  }
  const bool stub = parent == kHeadersInode;
  if (auto serial = d.names.stub_pending(parent, name); serial && d.stubs.worth_waiting(stub)) {
    d.refresher.note_activity();
    d.note_stat_wait();
    // Whatever the stub fetch gives, answer then (a failure leaves mtime = first_seen).
    return d.stubs.fetch_bounded(
        *serial,
        [this, parent, name = std::move(name), done = std::move(done)](Result<std::string>) {
          done(lookup(parent, name));
        },
        stub);
  }
  done(lookup(parent, name));
}

void Filesystem::getattr(std::uint64_t ino, AttrDone done) {
  auto& d = *impl_;
  const bool stub = kind_of_inode(ino) == NodeKind::stub;
  if (auto serial = d.names.stub_pending(ino); serial && d.stubs.worth_waiting(stub)) {
    d.refresher.note_activity();
    d.note_stat_wait();
    return d.stubs.fetch_bounded(
        *serial, [this, ino, done = std::move(done)](Result<std::string>) { done(getattr(ino)); }, stub);
  }
  done(getattr(ino));
}

Result<std::vector<DirEntry>> Filesystem::read_directory(std::uint64_t ino) {
  auto& d = *impl_;
  d.refresher.note_activity();
  auto snapshot = d.names.open_dir(ino);
  if (!snapshot) return snapshot.error();
  return d.names.all_entries(ino);
}

void Filesystem::open_directory(std::uint64_t ino, OpenDirDone done) {
  auto& d = *impl_;
  d.refresher.note_activity();
  if (!Impl::is_part(ino)) return done(d.names.open_dir(ino));
  auto m = d.names.message_of(ino);
  if (!m || m->held) return done(Error(Errc::not_found, "no such directory"));
  d.parts.tree(*m, [ino, serial = m->serial, done = std::move(done)](Result<std::shared_ptr<const PartIndex>> index) {
    if (!index) return done(Error(Errc::io, "could not read the message's parts: " + index.error().describe()));
    const std::uint32_t folder = Impl::part_at(ino);
    if (folder >= (*index)->entries.size()) return done(Error(Errc::not_found, "no such part"));
    if (folder != 0 && (*index)->entries[folder]->kind != mime::PartEntry::Kind::folder) {
      return done(Error(Errc::not_a_directory, "a part file is not a directory"));
    }
    auto snapshot = std::make_shared<DirSnapshot>();
    snapshot->kind = folder == 0 ? NodeKind::part_folder : NodeKind::part;
    snapshot->parts = std::move(*index);
    snapshot->serial = serial;
    snapshot->folder = folder;
    done(std::shared_ptr<const DirSnapshot>(std::move(snapshot)));
  });
}

std::vector<DirItem> Filesystem::read_directory(const DirSnapshot& snapshot, std::uint64_t offset, std::size_t max) {
  auto& d = *impl_;
  if (snapshot.parts) {
    // ".", "..", then the folder's entries in part order (offset 2 + position).
    std::vector<DirItem> out;
    const std::uint64_t self = snapshot.folder == 0 ? part_folder_inode(snapshot.serial)
                                                    : part_inode(snapshot.serial, snapshot.folder);
    const std::uint64_t up = snapshot.folder == 0 ? kPartsInode
                             : snapshot.parts->parent[snapshot.folder] == 0
                                 ? part_folder_inode(snapshot.serial)
                                 : part_inode(snapshot.serial, snapshot.parts->parent[snapshot.folder]);
    if (offset == 0 && out.size() < max) out.push_back(DirItem{DirEntry{".", self, true}, std::nullopt, ++offset});
    if (offset == 1 && out.size() < max) out.push_back(DirItem{DirEntry{"..", up, true}, std::nullopt, ++offset});
    const auto children = d.parts.children(*snapshot.parts, snapshot.folder);
    for (auto i = static_cast<std::size_t>(offset - 2); i < children.size() && out.size() < max; ++i) {
      const std::uint32_t at = children[i];
      const Attr attr = d.parts.attr(snapshot.serial, *snapshot.parts, at);
      out.push_back(DirItem{DirEntry{snapshot.parts->entries[at]->name, attr.ino, attr.is_dir}, attr, i + 3});
    }
    return out;
  }
  const bool waiting = d.stubs.worth_waiting();
  std::vector<DirItem> out;
  for (auto& listed : d.names.read_dir(snapshot, offset, max)) {
    DirItem item{std::move(listed.entry), std::move(listed.attr), listed.next_offset};
    // A stub of unknown size goes without attributes too: its lookup then says why.
    if (item.attr) item.attr->awaiting_stub = (listed.stub_pending && waiting) || Impl::unsized_stub(*item.attr);
    out.push_back(std::move(item));
  }
  return out;
}

void Filesystem::read_directory_plus(std::shared_ptr<const DirSnapshot> snapshot, std::uint64_t offset,
                                     std::size_t max, DirDone done) {
  auto& d = *impl_;
  auto items = read_directory(*snapshot, offset, max);
  std::vector<std::uint64_t> pending;
  if (!snapshot->parts && d.statting_now()) snapshot->statted.store(true);
  if (!snapshot->parts && snapshot->statted.load()) {
    for (const auto& item : items) {
      if (!item.attr || !item.attr->awaiting_stub) continue;
      if (auto serial = d.names.stub_pending(item.entry.ino)) pending.push_back(*serial);
    }
  }
  if (pending.empty()) return done(std::move(items));
  d.stubs.fetch_all_bounded(pending, [this, snapshot = std::move(snapshot), offset, max, done = std::move(done)] {
    done(read_directory(*snapshot, offset, max));
  });
}

// ---- files -----------------------------------------------------------------------------

Result<OpenInfo> Filesystem::open(std::uint64_t ino, int open_flags) {
  auto& d = *impl_;
  d.refresher.note_activity();
  const NodeKind kind = d.names.kind(ino);
  if (kind == NodeKind::none) return Error(Errc::not_found, "no such file");
  if ((open_flags & O_ACCMODE) != O_RDONLY || (open_flags & O_TRUNC) != 0) {
    return Error(Errc::read_only, "popfs files are read-only");
  }
  OpenInfo info;
  if (kind == NodeKind::part) {
    info.keep_cache = true;  // decoded sizes are exact
    return info;
  }
  if (kind != NodeKind::message && kind != NodeKind::stub) return info;
  if (d.options.skip_opens_when_exact && !d.options.lf && (d.names.opens_skipped() || d.names.every_size_exact())) {
    // Every visible size is exact, and the namespace keeps it so from now on.
    if (!d.names.opens_skipped()) spdlog::info("every file's size is exact: the kernel now opens files without asking");
    // The kernel reads those files by the sizes it holds from now on: none may be a LIST size.
    d.send(Notes{d.names.skip_opens(), {}});
    info.skip_opens = true;
    return info;
  }
  auto attr = d.attr_now(ino);
  const bool exact = attr && attr->size_exact;
  // While st_size is provisional (the LIST size, or an unfetched stub's 0), bypass the page
  // cache: a short first read must end the file there, not leave a zero-filled tail.
  info.direct_io = !exact;
  info.keep_cache = exact;
  // Exact now, but the kernel may still hold the LIST size it was given (briefly cached): it
  // drops it before this open is answered, so the page cache is read to the exact size.
  if (exact && d.names.take_size_learnt(ino)) d.send(Notes{{ino}, {}});
  return info;
}

std::size_t Filesystem::push_limit() const { return static_cast<std::size_t>(impl_->options.push_ahead_file_limit); }

std::optional<std::string> Filesystem::local_content(std::uint64_t ino, std::size_t limit) {
  auto& d = *impl_;
  {
    std::lock_guard lock(d.lifecycle_mu);
    if (d.stopped) return std::nullopt;
  }
  const auto m = d.names.message_of(ino);
  if (!m || m->held) return std::nullopt;
  auto attr = d.names.getattr(ino);
  if (!attr || !attr->size_exact || attr->size > limit) return std::nullopt;
  const bool stub = kind_of_inode(ino) == NodeKind::stub;
  if (stub ? !m->has_stub : (!m->has_body || d.options.lf)) return std::nullopt;  // -o lf: left to read()
  if (!d.names.mark_pushed(ino)) return std::nullopt;
  if (!stub) d.bodies.note_read_start(*m);
  auto content = d.content_of(ino);
  // Only bytes matching the size the kernel was given: anything else is left to read().
  if (!content || content->size() != attr->size) {
    d.names.unmark_pushed(ino);
    return std::nullopt;
  }
  return content;
}

void Filesystem::read(std::uint64_t ino, std::uint64_t offset, std::size_t size, ReadDone done) {
  auto& d = *impl_;
  d.refresher.note_activity();
  const NodeKind kind = d.names.kind(ino);
  if (kind == NodeKind::none) return done(Error(Errc::not_found, "no such file"));
  if (kind != NodeKind::message && kind != NodeKind::stub && kind != NodeKind::part) {
    return done(Error(Errc::invalid_argument, "is a directory"));
  }
  const auto m = d.names.message_of(ino);
  if (!m) return done(Error(Errc::not_found, "the message is no longer on the server"));
  {
    std::lock_guard lock(d.lifecycle_mu);
    if (d.stopped) return done(Error(Errc::cancelled, "popfs is shutting down"));
  }
  if (kind == NodeKind::part) return d.parts.read(*m, part_index_of_inode(ino), offset, size, std::move(done));
  if (kind == NodeKind::stub) {
    if (offset == 0) d.push_ahead(*m, true);  // with opens skipped, this read missed the page cache
    return d.read_stub(*m, offset, size, std::move(done));
  }
  if (offset == 0) {
    d.bodies.note_read_start(*m);
    d.push_ahead(*m, false);
  }
  d.bodies.read(*m, offset, size, std::move(done));
}

Result<void> Filesystem::unlink(std::uint64_t parent, std::string_view name, uid_t caller) {
  auto& d = *impl_;
  d.refresher.note_activity();
  // Without default_permissions the kernel does not check: only the owner (or root) deletes.
  if (caller != 0 && caller != d.options.uid) {
    return Error(Errc::access_denied, "only the user who mounted the mailbox may delete its messages");
  }
  const NodeKind dir = kind_of_inode(parent);
  const bool message_dir = (dir == NodeKind::root && d.options.layout == Layout::flat) ||
                           ((dir == NodeKind::cur_dir || dir == NodeKind::new_dir) && d.options.layout == Layout::maildir);
  if (!message_dir) {
    // Stubs and parts are views of a message; deleting mail is done on the message file.
    if (dir == NodeKind::none) return Error(Errc::not_found, "no such directory");
    return Error(Errc::read_only, "only message files can be deleted");
  }
  const auto m = d.names.message_named(parent, name);
  if (!m) return Error(Errc::not_found, "no such message");
  if (d.options.read_only) return Error(Errc::read_only, "mounted read-only (-o ro)");
  // Messages sharing a UIDL are told apart only by their order, which another client can
  // change before the DELE is sent: deleting one could delete its twin.
  if (m->id.occurrence > 1 || d.names.message_named(kHeadersInode, message_file_name(m->id.uidl, 2))) {
    spdlog::warn("refusing to delete {}: its UIDL is shared with another message", name);
    return Error(Errc::not_permitted, "its UIDL is shared with another message");
  }
  return d.deletions.add(*m);
}

Result<void> Filesystem::rename(std::uint64_t parent, std::string_view name, std::uint64_t new_parent,
                                std::string_view new_name, unsigned flags, uid_t caller) {
  auto& d = *impl_;
  d.refresher.note_activity();
  if (caller != 0 && caller != d.options.uid) {
    return Error(Errc::access_denied, "only the user who mounted the mailbox may change its messages");
  }
  if (flags != 0) return Error(Errc::invalid_argument, "rename flags (exchange, no-replace) are not supported");
  auto renamed = d.names.rename(parent, name, new_parent, new_name, d.tasks.clock().wall_seconds());
  if (!renamed) return renamed.error();
  // Kept in the cache, so the flags survive a remount (POP3 has no flags of its own).
  if (auto r = d.core.cache.set_mail_flags(renamed->message.id, renamed->mail_flags); !r) {
    spdlog::warn("could not keep the flags of {} in the cache: {}", renamed->message.id.uidl, r.error().describe());
  }
  Notes notes;
  notes.inodes = {kCurInode, kNewInode};
  d.send(std::move(notes));
  return {};
}

// ---- extended attributes ---------------------------------------------------------------

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

void Filesystem::getxattr(std::uint64_t ino, std::string name, XattrDone done) {
  auto& d = *impl_;
  auto target = d.xattr_message(ino);
  if (!target) return done(std::move(target).error());
  if (!*target) {
    if (name.rfind("user.", 0) != 0) return done(Error(Errc::unsupported, "popfs keeps only user.* attributes"));
    return done(std::optional<std::string>{});
  }
  const Message m = std::move(**target);
  const XattrField* field = nullptr;
  for (const auto& f : kXattrs) {
    if (f.name == name) field = &f;
  }
  if (field == nullptr) {
    // Only user.* attributes exist here. Saying so (ENOTSUP) for security.* and system.*
    // lets ls -l stop asking for the rest of the mount (coreutils remembers it per device):
    // two round trips per file fewer.
    if (name.rfind("user.", 0) != 0) return done(Error(Errc::unsupported, "popfs keeps only user.* attributes"));
    return done(std::optional<std::string>{});
  }
  if (field->header.empty()) return done(std::optional<std::string>(m.id.uidl));
  // Subject and From decoded (RFC 2047) to UTF-8; the raw header is in the .headers/ stub.
  const bool decoded = field->header == "Subject" || field->header == "From";
  d.stubs.fetch(m.serial, [done = std::move(done), header = field->header, decoded](Result<std::string> stub) {
    if (!stub) return done(Error(Errc::io, stub.error().message));
    done(decoded ? mime::decoded_header(*stub, header) : header_field(*stub, header));
  });
}

void Filesystem::listxattr(std::uint64_t ino, XattrListDone done) {
  auto& d = *impl_;
  auto target = d.xattr_message(ino);
  if (!target) return done(std::move(target).error());
  if (!*target) return done(std::vector<std::string>{});
  d.stubs.fetch((**target).serial, [done = std::move(done)](Result<std::string> stub) {
    std::vector<std::string> names;
    for (const auto& f : kXattrs) {
      if (f.header.empty() || (stub && header_field(*stub, f.header))) names.emplace_back(f.name);
    }
    done(std::move(names));
  });
}

}  // namespace popfs::fs
