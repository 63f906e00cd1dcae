#pragma once
// How a Filesystem presents and maintains a mailbox. Filled in by app/ from mount options.

#include <sys/types.h>

#include <chrono>
#include <cstdint>

namespace popfs::fs {

// How messages are laid out (doc/SEMANTICS.md): flat (<name>.eml in the mount point) or a
// Maildir (cur/, new/, tmp/) that mail clients open.
enum class Layout { flat, maildir };

struct FsOptions {
  Layout layout = Layout::flat;
  bool read_only = false;  // -o ro: unlink fails with EROFS, nothing is ever deleted
  bool lf = false;         // -o lf: present CRLF line endings as LF (changes sizes)
  // -o poll: while the mount is in use, list the server this often. Zero disables polling
  // (refresh() still works).
  std::chrono::seconds poll{60};
  uid_t uid = 0;  // owner of every file and directory (the mounting user)
  gid_t gid = 0;

  // Header stubs (TOP n 0) are fetched in the background after each listing so `ls -l`
  // has mtimes without waiting.
  bool prefetch_stubs = true;
  // The kernel-facing lookup/getattr wait for a message's stub the first time (see
  // Filesystem::lookup with a callback); off: they answer at once with first_seen as mtime.
  bool wait_for_stubs = true;
  // ... but at most this long: a server that stalls must not stall `ls -l` (after one wait
  // runs out, lookups answer at once until a stub arrives again).
  std::chrono::milliseconds stub_wait{1000};
  // The stub pipeline's window: requests in flight, counted in (estimated) answer bytes, so
  // the server is always busy, however long the link.
  std::uint64_t stub_window_bytes = 4ULL << 20;
  std::uint32_t max_stub_requests_in_flight = 4096;

  // Read-ahead for sequential readers (cp -r, tar, grep -r): when a body is read, RETRs for
  // the next messages in directory order are queued, bounded by both limits.
  std::uint32_t prefetch_messages = 128;
  std::uint64_t prefetch_bytes = 64ULL << 20;

  // A body larger than this is written to the cache while it downloads (memory stays
  // bounded); smaller ones are kept whole in memory until stored, so readers get them sooner.
  std::uint64_t stream_bytes = 8ULL << 20;
  std::size_t stream_piece_bytes = 1 << 20;
  // Bytes downloaded and waiting to be written to the cache: beyond this, the download
  // waits for the disk (memory stays bounded on a slow disk).
  std::uint64_t store_queue_bytes = 32ULL << 20;

  // Reads of the first bytes of an uncached message larger than this are answered from
  // TOP n k when the requested range ends within prefix_read_limit.
  std::uint64_t prefix_read_min_size = 64 * 1024;
  std::uint64_t prefix_read_limit = 256 * 1024;

  // Unlinks arriving within this delay are committed in one session; failed commits are
  // retried with exponential backoff between these bounds.
  std::chrono::milliseconds deletion_batch_delay{300};
  std::chrono::milliseconds deletion_retry_min{1000};
  std::chrono::milliseconds deletion_retry_max{60000};

  // When every listed file's size is exact (everything fetched once: after `popfs sync`, or
  // a remount of a fully read mailbox), tell the kernel to skip opens; from then on new mail
  // is listed only once its body and header stub are fetched (doc/SEMANTICS.md). Off with
  // -o lf, whose sizes are known only while a converted body is in memory.
  bool skip_opens_when_exact = true;
  // Cached files up to push_ahead_file_limit bytes are stored whole in the kernel's page
  // cache at open. With opens skipped, a read that misses the page cache stores up to
  // push_ahead_files following cached files (push_ahead_bytes in all) ahead of the reader.
  std::uint32_t push_ahead_files = 64;
  std::uint64_t push_ahead_bytes = 8ULL << 20;
  std::uint64_t push_ahead_file_limit = 256 * 1024;

  // Kernel cache timeouts (seconds) for names and for attributes that are exact. Every
  // change is also pushed to the kernel (KernelNotifier), so these can be long.
  double entry_timeout = 60.0;
  double attr_timeout = 60.0;
  // For a message whose st_size is still its LIST size: long enough that `ls -l` stats the
  // entries a READDIRPLUS page gave without one GETATTR each, short enough that a size the
  // kernel took just before the exact one was learnt (a reply in flight for an inode it had
  // not made yet, which no invalidation can reach) lasts no longer. -o lf sizes, and
  // unfetched stubs, are never cached while provisional (0).
  double provisional_attr_timeout = 1.0;
};

}  // namespace popfs::fs
