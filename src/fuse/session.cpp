// The FUSE adapter: one ops table of thin handlers. Each copies its arguments, calls the
// filesystem core and replies exactly once, possibly later from a core thread; none waits
// for the network. Kernel cache invalidations go through a queue and a thread of their own
// (libfuse: never notify about an inode from inside a handler of an operation on it).

#include "notifier.hpp"  // fuse_lowlevel.h, with FUSE_USE_VERSION

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <variant>

#include "popfs/fuse/mountpoint.hpp"
#include "popfs/fuse/session.hpp"

extern char** environ;

namespace popfs::fuse {
namespace {

// What the handlers reach through fuse_req_userdata.
struct Context {
  explicit Context(fs::Filesystem& f) : filesystem(f) {}
  fs::Filesystem& filesystem;
  fuse_session* se = nullptr;     // set before the request loop starts
  Notifier* notifier = nullptr;   // likewise

  // Requests handed to the core whose reply has not been sent: the session must not be
  // freed before they are (a reply touches it).
  std::mutex mu;
  std::condition_variable idle;
  std::size_t unanswered = 0;
  // Replies from the core's threads hold it shared; closing /dev/fuse holds it alone. A reply
  // racing the close could otherwise write into whatever file next got the fd's number.
  std::shared_mutex fd_gate;

  // Held by a reply callback; gone (answered, or the callback dropped) means done.
  struct Ticket {
    Context& context;
    explicit Ticket(Context& c) : context(c) {
      std::lock_guard lock(context.mu);
      ++context.unanswered;
    }
    ~Ticket() {
      std::lock_guard lock(context.mu);
      if (--context.unanswered == 0) context.idle.notify_all();
    }
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    // Held while replying: the session's fd stays open (or already reads -1) meanwhile.
    [[nodiscard]] std::shared_lock<std::shared_mutex> hold_fd() const {
      return std::shared_lock(context.fd_gate);
    }
  };
  std::shared_ptr<Ticket> ticket() { return std::make_shared<Ticket>(*this); }
  // True once every request is answered, false if `limit` passed first.
  bool wait_until_answered(std::chrono::seconds limit) {
    std::unique_lock lock(mu);
    return idle.wait_for(lock, limit, [&] { return unanswered == 0; });
  }
};

Context& context(fuse_req_t req) { return *static_cast<Context*>(fuse_req_userdata(req)); }
fs::Filesystem& core(fuse_req_t req) { return context(req).filesystem; }


struct stat to_stat(const fs::Attr& a) {
  struct stat st;
  std::memset(&st, 0, sizeof st);
  st.st_ino = a.ino;
  st.st_mode = (a.is_dir ? S_IFDIR : S_IFREG) | a.permissions;
  st.st_nlink = a.nlink;
  st.st_uid = a.uid;
  st.st_gid = a.gid;
  st.st_size = static_cast<off_t>(a.size);
  st.st_blksize = 4096;
  st.st_blocks = static_cast<blkcnt_t>((a.size + 511) / 512);
  st.st_mtim.tv_sec = a.mtime;
  st.st_mtim.tv_nsec = a.mtime_nsec;
  st.st_ctim = st.st_mtim;
  st.st_atim = st.st_mtim;
  return st;
}

fuse_entry_param to_entry(const fs::Attr& a) {
  fuse_entry_param e;
  std::memset(&e, 0, sizeof e);
  e.ino = a.ino;
  e.attr = to_stat(a);
  e.attr_timeout = a.attr_timeout;
  e.entry_timeout = a.entry_timeout;
  return e;
}

void reply_error(fuse_req_t req, const Error& e) { fuse_reply_err(req, e.to_errno()); }

// ---- names and attributes ----

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  fs::Filesystem& filesystem = core(req);
  filesystem.lookup(parent, std::string(name), [req, &filesystem, t = context(req).ticket()](Result<fs::Attr> attr) {
    const auto fd_held = t->hold_fd();
    if (!attr) return reply_error(req, attr.error());
    const fuse_entry_param e = to_entry(*attr);
    if (fuse_reply_entry(req, &e) != 0) filesystem.forget(attr->ino, 1);  // the kernel never got it
  });
}

void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  core(req).forget(ino, nlookup);
  fuse_reply_none(req);
}

void op_forget_multi(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; ++i) core(req).forget(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  core(req).getattr(ino, [req, t = context(req).ticket()](Result<fs::Attr> attr) {
    const auto fd_held = t->hold_fd();
    if (!attr) return reply_error(req, attr.error());
    const struct stat st = to_stat(*attr);
    fuse_reply_attr(req, &st, attr->attr_timeout);
  });
}

void op_access(fuse_req_t req, fuse_ino_t ino, int mask) {
  auto attr = core(req).getattr(ino);
  if (!attr) return reply_error(req, attr.error());
  fuse_reply_err(req, (mask & W_OK) != 0 ? EROFS : 0);
}

// ---- directories: a snapshot per opendir, so offsets stay valid while mail arrives ----

using Snapshot = std::shared_ptr<const fs::DirSnapshot>;

void op_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  // fi is valid only during this call: its contents go with the reply.
  fuse_file_info info = *fi;
  core(req).open_directory(ino, [req, info, t = context(req).ticket()](Result<Snapshot> snapshot) mutable {
    const auto fd_held = t->hold_fd();
    if (!snapshot) return reply_error(req, snapshot.error());
    auto* held = new Snapshot(std::move(*snapshot));
    info.fh = reinterpret_cast<std::uint64_t>(held);
    if (fuse_reply_open(req, &info) != 0) delete held;
  });
}

void op_releasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  delete reinterpret_cast<Snapshot*>(fi->fh);
  fuse_reply_err(req, 0);
}

void reply_directory(fuse_req_t req, fs::Filesystem& filesystem, size_t size, const std::vector<fs::DirItem>& items,
                     bool plus) {
  std::vector<char> buffer(size);
  size_t used = 0;
  for (const fs::DirItem& item : items) {
    const auto next = static_cast<off_t>(item.next_offset);
    size_t needed = 0;
    if (!plus) {
      struct stat st;
      std::memset(&st, 0, sizeof st);
      st.st_ino = item.entry.ino;
      st.st_mode = item.entry.is_dir ? S_IFDIR : S_IFREG;
      needed = fuse_add_direntry(req, buffer.data() + used, size - used, item.entry.name.c_str(), &st, next);
      if (needed > size - used) break;
      used += needed;
      continue;
    }
    fuse_entry_param e;
    std::memset(&e, 0, sizeof e);
    if (!item.attr || item.attr->awaiting_stub) {
      // "." and "..", and names whose lookup waits for their stub: ino 0 in the entry, so
      // the kernel links (and references) nothing.
      e.attr.st_ino = item.entry.ino;
      e.attr.st_mode = item.entry.is_dir ? S_IFDIR : S_IFREG;
    } else {
      e = to_entry(*item.attr);
    }
    needed = fuse_add_direntry_plus(req, buffer.data() + used, size - used, item.entry.name.c_str(), &e, next);
    if (needed > size - used) break;
    used += needed;
    if (e.ino != 0) filesystem.add_lookup(e.ino);  // the kernel now holds a reference
  }
  fuse_reply_buf(req, buffer.data(), used);
}

// As many entries as can fit: an entry takes at least 24 bytes, 48 with attributes.
std::size_t entries_that_fit(size_t size, bool plus) { return size / (plus ? 48 : 24) + 1; }

void op_readdir(fuse_req_t req, fuse_ino_t, size_t size, off_t offset, fuse_file_info* fi) {
  const Snapshot& snapshot = *reinterpret_cast<Snapshot*>(fi->fh);
  fs::Filesystem& filesystem = core(req);
  const auto items =
      filesystem.read_directory(*snapshot, static_cast<std::uint64_t>(offset), entries_that_fit(size, false));
  reply_directory(req, filesystem, size, items, false);
}

void op_readdirplus(fuse_req_t req, fuse_ino_t, size_t size, off_t offset, fuse_file_info* fi) {
  // The page may wait for header stubs: the callback keeps the snapshot until it replies.
  Snapshot snapshot = *reinterpret_cast<Snapshot*>(fi->fh);
  fs::Filesystem& filesystem = core(req);
  filesystem.read_directory_plus(
      std::move(snapshot), static_cast<std::uint64_t>(offset), entries_that_fit(size, true),
      [req, size, &filesystem, t = context(req).ticket()](std::vector<fs::DirItem> items) {
        const auto fd_held = t->hold_fd();
        reply_directory(req, filesystem, size, items, true);
      });
}

// ---- files ----

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Context& ctx = context(req);
  auto info = ctx.filesystem.open(ino, fi->flags);
  if (!info) return reply_error(req, info.error());
  // "Opens not implemented": the kernel opens every file itself from now on, keeping the
  // page cache (no OPEN or RELEASE round trip per file). Safe because every size is exact.
  if (info->skip_opens) return static_cast<void>(fuse_reply_err(req, ENOSYS));
  fi->direct_io = info->direct_io ? 1 : 0;
  fi->keep_cache = info->keep_cache ? 1 : 0;
  if (info->keep_cache && !info->direct_io) {
    // Exact and local: store the bytes in the page cache before the open returns, so the
    // reader's read is a page-cache hit instead of a READ round trip (cp -r of a cached
    // mailbox: one fewer wait per file). The kernel locks no page of the inode during
    // OPEN, so this cannot wait on ourselves; a failure only means the read comes to us.
    if (auto content = ctx.filesystem.local_content(ino, ctx.filesystem.push_limit()); content && !content->empty()) {
      fuse_bufvec buf = FUSE_BUFVEC_INIT(content->size());
      buf.buf[0].mem = content->data();
      fuse_lowlevel_notify_store(ctx.se, ino, 0, &buf, static_cast<fuse_buf_copy_flags>(0));
    }
  }
  fuse_reply_open(req, fi);
}

void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info*) {
  core(req).read(ino, static_cast<std::uint64_t>(offset), size, [req, t = context(req).ticket()](Result<std::string> data) {
    const auto fd_held = t->hold_fd();
    if (!data) return reply_error(req, data.error());
    fuse_reply_buf(req, data->data(), data->size());
  });
}

void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info*) { fuse_reply_err(req, 0); }

void op_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  auto result = core(req).unlink(parent, name, fuse_req_ctx(req)->uid);
  fuse_reply_err(req, result ? 0 : result.error().to_errno());
}

// ---- extended attributes ----

void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  core(req).getxattr(ino, name, [req, size, t = context(req).ticket()](Result<std::optional<std::string>> value) {
    const auto fd_held = t->hold_fd();
    if (!value) return reply_error(req, value.error());
    if (!*value) return static_cast<void>(fuse_reply_err(req, ENODATA));
    const std::string& v = **value;
    if (size == 0) return static_cast<void>(fuse_reply_xattr(req, v.size()));
    if (v.size() > size) return static_cast<void>(fuse_reply_err(req, ERANGE));
    fuse_reply_buf(req, v.data(), v.size());
  });
}

void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  core(req).listxattr(ino, [req, size, t = context(req).ticket()](Result<std::vector<std::string>> names) {
    const auto fd_held = t->hold_fd();
    if (!names) return reply_error(req, names.error());
    std::string list;
    for (const auto& n : *names) {
      list += n;
      list += '\0';
    }
    if (size == 0) return static_cast<void>(fuse_reply_xattr(req, list.size()));
    if (list.size() > size) return static_cast<void>(fuse_reply_err(req, ERANGE));
    fuse_reply_buf(req, list.data(), list.size());
  });
}

// ---- everything that would change something: EROFS, and nothing changes ----

void op_setattr(fuse_req_t req, fuse_ino_t, struct stat*, int, fuse_file_info*) { fuse_reply_err(req, EROFS); }
void op_mknod(fuse_req_t req, fuse_ino_t, const char*, mode_t, dev_t) { fuse_reply_err(req, EROFS); }
void op_mkdir(fuse_req_t req, fuse_ino_t, const char*, mode_t) { fuse_reply_err(req, EROFS); }
void op_rmdir(fuse_req_t req, fuse_ino_t, const char*) { fuse_reply_err(req, EROFS); }
void op_symlink(fuse_req_t req, const char*, fuse_ino_t, const char*) { fuse_reply_err(req, EROFS); }
void op_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t new_parent, const char* new_name,
               unsigned int flags) {
  auto result = core(req).rename(parent, name, new_parent, new_name, flags, fuse_req_ctx(req)->uid);
  fuse_reply_err(req, result ? 0 : result.error().to_errno());
}
void op_link(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) { fuse_reply_err(req, EROFS); }
void op_write(fuse_req_t req, fuse_ino_t ino, const char*, size_t, off_t, fuse_file_info*) {
  // Only with opens skipped can a file be open for writing: a write through a shared mmap
  // changed the kernel's pages before reaching us, so they must go (doc/SEMANTICS.md).
  context(req).notifier->drop_pages(ino);
  fuse_reply_err(req, EROFS);  // frees req
}
void op_create(fuse_req_t req, fuse_ino_t, const char*, mode_t, fuse_file_info*) { fuse_reply_err(req, EROFS); }
void op_setxattr(fuse_req_t req, fuse_ino_t, const char*, const char*, size_t, int) { fuse_reply_err(req, EROFS); }
void op_removexattr(fuse_req_t req, fuse_ino_t, const char*) { fuse_reply_err(req, EROFS); }
void op_fallocate(fuse_req_t req, fuse_ino_t, int, off_t, off_t, fuse_file_info*) { fuse_reply_err(req, EROFS); }

void op_statfs(fuse_req_t req, fuse_ino_t) {
  const fs::Status status = core(req).status();
  struct statvfs st;
  std::memset(&st, 0, sizeof st);
  st.f_bsize = 4096;
  st.f_frsize = 4096;
  st.f_blocks = (status.cached_bytes + 4095) / 4096;
  st.f_files = status.messages + 2;
  st.f_namemax = 255;
  st.f_flag = ST_NOSUID | ST_NODEV;
  fuse_reply_statfs(req, &st);
}

void op_init(void*, fuse_conn_info* conn) {
  // Readers of one file run in parallel; the page cache serves repeated reads.
  if ((conn->capable & FUSE_CAP_ASYNC_READ) != 0) conn->want |= FUSE_CAP_ASYNC_READ;
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_WRITEBACK_CACHE);
  // open(O_TRUNC) must reach us as a truncation (EROFS) even when opens are skipped.
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_ATOMIC_O_TRUNC);
  // A read after the attributes expired re-asks them (and so st_size) first.
  if ((conn->capable & FUSE_CAP_AUTO_INVAL_DATA) != 0) conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
  // Always readdirplus (not the kernel's "auto" guess): one request gives the attributes
  // of many entries, sparing cp -r / tar / rsync a lookup per file.
  if ((conn->capable & FUSE_CAP_READDIRPLUS) != 0) {
    conn->want |= FUSE_CAP_READDIRPLUS;
    conn->want &= ~static_cast<unsigned>(FUSE_CAP_READDIRPLUS_AUTO);
  }
}

fuse_lowlevel_ops make_ops() {
  fuse_lowlevel_ops ops;
  std::memset(&ops, 0, sizeof ops);
  ops.init = op_init;
  ops.lookup = op_lookup;
  ops.forget = op_forget;
  ops.forget_multi = op_forget_multi;
  ops.getattr = op_getattr;
  ops.setattr = op_setattr;
  ops.access = op_access;
  ops.mknod = op_mknod;
  ops.mkdir = op_mkdir;
  ops.unlink = op_unlink;
  ops.rmdir = op_rmdir;
  ops.symlink = op_symlink;
  ops.rename = op_rename;
  ops.link = op_link;
  ops.open = op_open;
  ops.read = op_read;
  ops.write = op_write;
  ops.release = op_release;
  ops.opendir = op_opendir;
  ops.readdir = op_readdir;
  ops.readdirplus = op_readdirplus;
  ops.releasedir = op_releasedir;
  ops.statfs = op_statfs;
  ops.setxattr = op_setxattr;
  ops.getxattr = op_getxattr;
  ops.listxattr = op_listxattr;
  ops.removexattr = op_removexattr;
  ops.create = op_create;
  ops.fallocate = op_fallocate;
  return ops;
}

const fuse_lowlevel_ops kOps = make_ops();

std::string escape_option(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == ',' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

struct Session::Impl {
  fs::Filesystem& filesystem;
  Context context{filesystem};
  MountConfig config;
  fuse_session* se = nullptr;
  std::unique_ptr<Notifier> notifier;
  std::atomic<bool> mounted{false};
  std::atomic<bool> stop_requested{false};
  std::mutex unmount_mu;
  // The request loop starts inside mount(), so the mount answers (stat, ls) as soon as
  // mount() returns, even before serve() is called.
  std::thread loop_thread;
  int loop_rc = 0;

  Impl(fs::Filesystem& f, MountConfig c) : filesystem(f), config(std::move(c)) {}

  void run_loop() {
    fuse_loop_config loop;
    std::memset(&loop, 0, sizeof loop);
    loop.clone_fd = 0;
    loop.max_idle_threads = 10;
    loop_rc = fuse_session_loop_mt(se, &loop);
  }

  void unmount() {
    std::lock_guard lock(unmount_mu);
    if (!mounted.exchange(false)) return;
    if (notifier) {
      filesystem.set_kernel_notifier(nullptr);
      notifier->stop();
    }
    std::unique_lock gate(context.fd_gate);
    fuse_session_unmount(se);  // closes /dev/fuse; later replies find the fd -1 and are dropped
  }
};

namespace {

}  // namespace

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Session::~Session() {
  if (!impl_) return;
  if (impl_->loop_thread.joinable()) {
    stop();
    impl_->loop_thread.join();
  }
  impl_->unmount();
  // Requests the core still holds (a getxattr waiting for its stub, a read for its body) are
  // answered from the core's executor; a reply after fuse_session_destroy touches freed
  // memory (ThreadSanitizer caught one racing the destroy). Shutting the core down fails
  // what waits for the server; the executor then delivers those replies, and the session
  // is freed only after the last one (or, if the executor is gone, a bounded wait).
  impl_->filesystem.shutdown();
  if (!impl_->context.wait_until_answered(std::chrono::seconds(10))) {
    spdlog::warn("FUSE requests still unanswered at unmount; freeing the session anyway");
  }
  if (impl_->se != nullptr) fuse_session_destroy(impl_->se);
}

Result<std::unique_ptr<Session>> Session::mount(fs::Filesystem& filesystem, const MountConfig& config) {
  if (auto ok = check_mountpoint(config.mountpoint); !ok) return ok.error();
  std::string options = "fsname=" + escape_option(config.fsname.empty() ? "popfs" : config.fsname) +
                        ",subtype=popfs";
  if (config.allow_other) options += ",allow_other";
  if (config.read_only) options += ",ro";
  std::vector<std::string> args_storage = {"popfs", "-o", options};
  if (config.debug) args_storage.emplace_back("-d");
  std::vector<char*> argv;
  for (auto& a : args_storage) argv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());

  auto impl = std::make_unique<Impl>(filesystem, config);
  impl->se = fuse_session_new(&args, &kOps, sizeof kOps, &impl->context);
  impl->context.se = impl->se;
  fuse_opt_free_args(&args);
  if (impl->se == nullptr) return Error(Errc::invalid_argument, "FUSE rejected the mount options: " + options);
  if (fuse_session_mount(impl->se, config.mountpoint.c_str()) != 0) {
    fuse_session_destroy(impl->se);
    impl->se = nullptr;
    std::string hint = config.allow_other ? " (allow_other needs user_allow_other in /etc/fuse.conf)" : "";
    return Error(Errc::io, "mounting FUSE on " + config.mountpoint + " failed" + hint);
  }
  impl->mounted = true;
  impl->notifier = std::make_unique<Notifier>(impl->se);
  impl->context.notifier = impl->notifier.get();
  filesystem.set_kernel_notifier(impl->notifier.get());
  Impl* raw = impl.get();
  impl->loop_thread = std::thread([raw] { raw->run_loop(); });
  return std::unique_ptr<Session>(new Session(std::move(impl)));
}

Result<void> Session::serve(std::function<void()> on_ready) {
  auto& d = *impl_;
  // The loop already runs (started by mount()), so on_ready may touch the mount.
  if (on_ready) on_ready();
  if (d.loop_thread.joinable()) d.loop_thread.join();
  d.unmount();
  const int rc = d.loop_rc;
  if (rc != 0 && !d.stop_requested) {
    return Error(Errc::io, "the FUSE session ended with an error: " + std::string(std::strerror(rc > 0 ? rc : -rc)));
  }
  return {};
}

void Session::stop() {
  auto& d = *impl_;
  if (d.stop_requested.exchange(true)) return;
  fuse_session_exit(d.se);
  // The loop sits in read(/dev/fuse): a lazy unmount ends the connection and wakes it.
  if (!d.mounted) return;
  const char* argv[] = {"fusermount3", "-u", "-z", d.config.mountpoint.c_str(), nullptr};
  // The loop may already have ended and unmounted by itself: fusermount3's complaint about
  // that is noise, so its stderr goes to /dev/null.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  if (posix_spawnp(&pid, "fusermount3", &actions, nullptr, const_cast<char* const*>(argv), environ) == 0) {
    int status = 0;
    waitpid(pid, &status, 0);
  }
  posix_spawn_file_actions_destroy(&actions);
}

}  // namespace popfs::fuse
