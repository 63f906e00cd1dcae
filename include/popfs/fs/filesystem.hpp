#pragma once
// The filesystem core: a mailbox as a directory (doc/SEMANTICS.md, "The directory", and its
// "Maildir layout" and "MIME parts"). No FUSE headers, no sockets: the FUSE adapter
// (popfs::fuse) translates kernel requests into these calls, and tests call them directly.
//
// Thread-safe. No call blocks on the network: operations that need the server complete
// later through their callback, on a thread of the executor. The core is made of parts
// that each own their state and lock (src/fs, doc/ARCHITECTURE.md): the Namespace (names,
// inodes, sizes, mtimes), the BodyFetcher, the StubFetcher, the DeletionQueue and the
// Refresher (listings and polling); this class composes them.
//
// Decisions where doc/SEMANTICS.md is silent (tests in tests/unit/fs, tests/mount):
// - unlink inside .headers/ (and of .headers itself) fails with EROFS; setxattr and
//   removexattr fail with EROFS for every name; getxattr of an unknown user.* name or of a
//   header the message lacks gives ENODATA, of a name outside user.* ENOTSUP; listxattr
//   names only attributes that have a value.
// - Without default_permissions, only the mounting user (or root) may unlink (EACCES).
// - The kernel-facing lookup/getattr wait for a never-fetched header stub while the server
//   answers (so tar/rsync see final mtimes and stub sizes), at most FsOptions::stub_wait;
//   offline, or once a wait ran out, they answer at once with mtime = first_seen (until a
//   stub arrives again). `ls` (readdir) never waits.
// - While st_size is provisional (LIST size; 0 for an unfetched stub) its attribute timeout
//   is 0 and opens use direct_io, so readers get exactly the message bytes.
// - -o lf: sizes are the LIST (CRLF) size until the message was fetched, exact after.
// - Without TOP on the server, .headers/ reads fail with EIO and mtimes stay first_seen.
// - Every UIDL changed at once (and the old listing was not empty) is a reset: the cache is
//   cleared; pending deletions are carried over by Message-ID (doc/SEMANTICS.md).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "popfs/fs/attr.hpp"
#include "popfs/fs/inodes.hpp"
#include "popfs/fs/kernel_notifier.hpp"
#include "popfs/fs/options.hpp"
#include "popfs/mailbox/maildrop.hpp"
#include "popfs/store/cache.hpp"
#include "popfs/util/executor.hpp"
#include "popfs/util/result.hpp"

namespace popfs::fs {

// A directory as it was at opendir (offsets stay valid while mail arrives), and one entry
// of a read of it.
struct DirSnapshot;
struct DirItem {
  DirEntry entry;
  std::optional<Attr> attr;       // for message files and stubs: as getattr answers now
  std::uint64_t next_offset = 0;  // the offset that continues after this entry
};

struct OpenInfo {
  // Bypass the page cache for this open: used while st_size is provisional (a LIST size, or
  // an unfetched stub's 0), so a reader gets exactly the bytes, neither cut nor padded.
  bool direct_io = false;
  bool keep_cache = false;  // content is exact and unchanged: keep the page cache
  // Every file's size is exact and stays so for the rest of the mount (see "Opens skipped"
  // in doc/SEMANTICS.md): the adapter tells the kernel that opens need no answer (ENOSYS),
  // which spares one round trip per file opened. Set once; open() is not called again.
  bool skip_opens = false;
};

struct Status {
  std::uint64_t messages = 0;
  std::uint64_t cached_messages = 0;
  std::uint64_t cached_bytes = 0;
  std::uint64_t pending_deletions = 0;
  std::optional<std::chrono::system_clock::time_point> last_refresh;
  std::string last_error;  // empty when the last server contact succeeded
  bool refreshing = false;
  bool opens_skipped = false;  // OpenInfo::skip_opens was given: files come from the page cache
};

struct SyncProgress {
  std::uint64_t done_messages = 0;
  std::uint64_t total_messages = 0;
  std::uint64_t done_bytes = 0;
  std::uint64_t total_bytes = 0;  // by LIST sizes
  std::uint64_t failed_messages = 0;
};

class Filesystem {
 public:
  using ReadDone = std::function<void(Result<std::string>)>;

  // Every reference must outlive the Filesystem. Its work and timers run on `executor`
  // (completions may run on any of its threads); the executor may be stopped (drained)
  // after shutdown(), before the Filesystem is destroyed. shutdown() also shuts the
  // maildrop down.
  Filesystem(mailbox::Maildrop& maildrop, store::Cache& cache, FsOptions options, Executor& executor);
  ~Filesystem();  // calls shutdown(); tasks of the core not started by then never run
  Filesystem(const Filesystem&) = delete;
  Filesystem& operator=(const Filesystem&) = delete;

  // In the background: lists the server (the first listing is merged with the cache and
  // installed in one pass; if the server cannot be listed, the cached listing is installed
  // before `refresh`'s callers hear of it), commits pending deletions of earlier runs,
  // fetches stubs, and starts the poller.
  Result<void> start();
  // The cached listing, unless a listing is installed already: for a mount that goes on
  // before the server's first listing came (or failed).
  Result<void> use_cached_listing();
  // Lists the server now; `done` (optional) runs once the new listing is applied or failed.
  // try_login_now: even during the backoff after a refused login (popfs refresh --now).
  void refresh(std::function<void(Result<void>)> done = {}, bool try_login_now = false);
  Status status();
  // Downloads every uncached body, pipelined. progress runs after each message.
  void sync(std::function<void(SyncProgress)> progress, std::function<void(Result<void>)> done);
  // Commits pending deletions now; done runs once they are committed, a commit failed, or
  // the timeout passed.
  void flush_deletions(std::chrono::milliseconds timeout, std::function<void(Result<void>)> done);
  // The same, waiting (for umount). Not from a thread of the executor.
  Result<void> flush_deletions(std::chrono::milliseconds timeout);
  // Stops the poller and background work, shuts the maildrop down (failing queued work),
  // and runs the remaining completions. Idempotent.
  void shutdown();

  // The kernel side; may be null (tests). Must outlive the Filesystem or be reset first.
  void set_kernel_notifier(KernelNotifier* notifier);

  // ---- Operations the FUSE adapter calls. Inode numbers are the kernel's. ----
  // Counts one kernel lookup reference on success.
  Result<Attr> lookup(std::uint64_t parent, std::string_view name);
  // Adds lookup references without a lookup (readdirplus entries that reached the kernel).
  void add_lookup(std::uint64_t ino, std::uint64_t count = 1);
  void forget(std::uint64_t ino, std::uint64_t nlookup);
  Result<Attr> getattr(std::uint64_t ino);
  // The same, for the kernel: when the message's header stub was never fetched (and the
  // server is reachable), they first fetch it (TOP n 0), so st_mtime (Date:) and a stub's
  // st_size are final the first time a program sees them; tar and rsync then see no change
  // between stat and read. `done` may run inline or later on a core thread.
  using AttrDone = std::function<void(Result<Attr>)>;
  void lookup(std::uint64_t parent, std::string name, AttrDone done);
  void getattr(std::uint64_t ino, AttrDone done);
  // Every entry of a directory, "." and ".." first, messages in server order. From memory
  // (for tests and small tools: the kernel reads directories in pieces, below).
  Result<std::vector<DirEntry>> read_directory(std::uint64_t ino);
  // A directory to read; a message's .parts/ folder is made from its body, which may first
  // be fetched: `done` may run inline or later.
  using OpenDirDone = std::function<void(Result<std::shared_ptr<const DirSnapshot>>)>;
  void open_directory(std::uint64_t ino, OpenDirDone done);
  // Up to `max` entries from `offset` (0 for the first). Entries whose attributes would
  // first fetch a header stub have Attr::awaiting_stub set: readdirplus leaves them to a
  // lookup.
  std::vector<DirItem> read_directory(const DirSnapshot& snapshot, std::uint64_t offset, std::size_t max);
  // The same for readdirplus. While kernel lookups wait for header stubs (a program stats
  // what it lists: ls -l), the page's entries first wait for theirs too (at most
  // FsOptions::stub_wait for all), so the page carries their attributes and no lookup per
  // entry follows. A plain `ls` (no stats) never waits. `done` may run inline or later.
  using DirDone = std::function<void(std::vector<DirItem>)>;
  void read_directory_plus(std::shared_ptr<const DirSnapshot> snapshot, std::uint64_t offset, std::size_t max,
                           DirDone done);
  // open_flags: the open(2) flags; anything but read-only fails with EROFS.
  Result<OpenInfo> open(std::uint64_t ino, int open_flags);
  // The whole content of a file whose size is exact, when its bytes are local (a cached
  // body, a known stub) and at most `limit` bytes; nullopt otherwise, and nullopt for a file
  // already handed out since the kernel last forgot it. Never touches the network. The
  // adapter stores it in the kernel's page cache at open, sparing a READ round trip; it
  // counts as the start of a read (sequential read-ahead). Ahead of a reader, with opens
  // skipped, the core offers files itself (KernelNotifier::content_ready).
  std::optional<std::string> local_content(std::uint64_t ino, std::size_t limit);
  // The largest file stored whole in the page cache, at open or ahead of a reader
  // (FsOptions::push_ahead_file_limit: the one place this limit is set).
  std::size_t push_limit() const;
  // Up to `size` bytes at `offset`; fewer only at the end of the file. `done` runs exactly
  // once, inline when the data is local, otherwise later from a core thread.
  void read(std::uint64_t ino, std::uint64_t offset, std::size_t size, ReadDone done);
  // A message file (in the mount point, or cur/ and new/ of layout=maildir): records the
  // deletion durably, hides the message, commits in the background. EROFS with -o ro and
  // for anything else; ENOENT for unknown names; EACCES unless `caller` is the mounting user
  // or root (there is no default_permissions).
  Result<void> unlink(std::uint64_t parent, std::string_view name, uid_t caller);
  // layout=maildir: moving a message between new/ and cur/ and changing its flags (kept in
  // the cache). Any other rename fails (EROFS) and changes nothing. `flags`: renameat2's.
  Result<void> rename(std::uint64_t parent, std::string_view name, std::uint64_t new_parent,
                      std::string_view new_name, unsigned flags, uid_t caller);
  // The namespace's own memory, for benchmarks.
  std::size_t namespace_bytes();

  // Extended attributes from the header stub (fetched with TOP n 0 if not cached yet, so
  // these may complete later). getxattr gives nullopt (ENODATA) for an unknown name or a
  // header the message lacks; listxattr names only attributes that have a value.
  using XattrDone = std::function<void(Result<std::optional<std::string>>)>;
  using XattrListDone = std::function<void(Result<std::vector<std::string>>)>;
  void getxattr(std::uint64_t ino, std::string name, XattrDone done);
  void listxattr(std::uint64_t ino, XattrListDone done);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace popfs::fs
