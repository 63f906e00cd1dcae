#pragma once
// The filesystem core: a mailbox as a directory (doc/SEMANTICS.md, "The directory"). Holds
// the inode table, the in-memory listing, lazy fetching with read-ahead, the deletion queue
// and the poller. No FUSE headers, no sockets: the FUSE adapter (popfs::fuse) translates
// kernel requests into these calls, and tests call them directly.
//
// Thread-safe. No call blocks on the network: operations that need the server complete
// later through their callback, on one of the core's threads.
//
// Decisions where doc/SEMANTICS.md is silent (tests in tests/unit/fs, tests/mount):
// - unlink inside .headers/ (and of .headers itself) fails with EROFS; setxattr and
//   removexattr fail with EROFS for every name; getxattr of an unknown name or of a header
//   the message lacks gives ENODATA; listxattr names only attributes that have a value.
// - Without default_permissions, only the mounting user (or root) may unlink (EACCES).
// - The kernel-facing lookup/getattr wait for a never-fetched header stub while the server
//   answers (so tar/rsync see final mtimes and stub sizes); offline they answer at once
//   with mtime = first_seen. `ls` (readdir) never waits.
// - While st_size is provisional (LIST size; 0 for an unfetched stub) its attribute timeout
//   is 0 and opens use direct_io, so readers get exactly the message bytes.
// - -o lf: sizes are the LIST (CRLF) size until the message was fetched, exact after.
// - Without TOP on the server, .headers/ reads fail with EIO and mtimes stay first_seen.
// - Every UIDL changed at once (and the old listing was not empty) is a reset: the cache is
//   cleared, including pending deletions (their UIDLs no longer name anything).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "popfs/fs/kernel_notifier.hpp"
#include "popfs/fs/options.hpp"
#include "popfs/mailbox/maildrop.hpp"
#include "popfs/store/cache.hpp"
#include "popfs/util/result.hpp"

namespace popfs::fs {

// Fixed inode numbers. Messages get 16 + 2 * (cache inode) and their stubs in .headers/ one
// more, so both are stable across remounts and never collide.
inline constexpr std::uint64_t kRootInode = 1;
inline constexpr std::uint64_t kHeadersInode = 2;
inline constexpr std::string_view kHeadersDirName = ".headers";

struct Attr {
  std::uint64_t ino = 0;
  bool is_dir = false;
  std::uint32_t permissions = 0;  // 0555 for directories, 0444 for files
  std::uint32_t nlink = 1;
  uid_t uid = 0;
  gid_t gid = 0;
  std::uint64_t size = 0;
  std::int64_t mtime = 0;
  bool size_exact = false;     // false while st_size is the LIST size (or unknown)
  double attr_timeout = 0.0;   // seconds the kernel may cache these attributes
  double entry_timeout = 0.0;  // seconds the kernel may cache the name -> inode binding
  // The kernel-facing lookup/getattr would first fetch the header stub (mtime and a stub's
  // size are not final yet): readdirplus leaves such entries to a lookup.
  bool awaiting_stub = false;
};

struct DirEntry {
  std::string name;
  std::uint64_t ino = 0;
  bool is_dir = false;
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

  // Both references must outlive the Filesystem. shutdown() also shuts the maildrop down.
  Filesystem(mailbox::Maildrop& maildrop, store::Cache& cache, FsOptions options);
  ~Filesystem();  // calls shutdown()
  Filesystem(const Filesystem&) = delete;
  Filesystem& operator=(const Filesystem&) = delete;

  // Loads the cached listing (so the mount works offline at once), then in the background:
  // refreshes from the server, commits pending deletions of earlier runs, fetches stubs,
  // and starts the poller.
  Result<void> start();
  // Lists the server now; `done` (optional) runs once the new listing is applied or failed.
  void refresh(std::function<void(Result<void>)> done = {});
  Status status();
  // Downloads every uncached body, pipelined. progress runs after each message.
  void sync(std::function<void(SyncProgress)> progress, std::function<void(Result<void>)> done);
  // Commits pending deletions now and waits for the result (for umount and shutdown).
  // Must not be called from a maildrop callback.
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
  // Every entry of a directory, "." and ".." first, messages in server order. From memory.
  Result<std::vector<DirEntry>> read_directory(std::uint64_t ino);
  // open_flags: the open(2) flags; anything but read-only fails with EROFS.
  Result<OpenInfo> open(std::uint64_t ino, int open_flags);
  // The whole content of a file whose size is exact, when its bytes are local (a cached
  // body, a known stub) and at most `limit` bytes; nullopt otherwise, and nullopt for a file
  // already handed out since the kernel last forgot it. Never touches the network. The
  // adapter stores it in the kernel's page cache (at open, or ahead of a sequential reader
  // when KernelNotifier::content_ready names it), sparing a READ round trip. At open it
  // counts as the start of a read (sequential read-ahead); ahead of a reader it does not.
  enum class Push { at_open, ahead };
  std::optional<std::string> local_content(std::uint64_t ino, std::size_t limit, Push push = Push::at_open);
  // Up to `size` bytes at `offset`; fewer only at the end of the file. `done` runs exactly
  // once, inline when the data is local, otherwise later from a core thread.
  void read(std::uint64_t ino, std::uint64_t offset, std::size_t size, ReadDone done);
  // Root *.eml only: records the deletion durably, hides the message, commits in the
  // background. EROFS with -o ro and inside .headers/; ENOENT for unknown names.
  Result<void> unlink(std::uint64_t parent, std::string_view name);
  // Extended attributes from the header stub (fetched with TOP n 0 if not cached yet, so
  // these may complete later). getxattr gives nullopt (ENODATA) for an unknown name or a
  // header the message lacks; listxattr names only attributes that have a value.
  using XattrDone = std::function<void(Result<std::optional<std::string>>)>;
  using XattrListDone = std::function<void(Result<std::vector<std::string>>)>;
  void getxattr(std::uint64_t ino, std::string name, XattrDone done);
  void listxattr(std::uint64_t ino, XattrListDone done);

 private:
  Result<Attr> getattr_now(std::uint64_t ino);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace popfs::fs
