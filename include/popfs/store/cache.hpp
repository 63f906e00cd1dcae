#pragma once
// The popfs cache of one account: an LMDB environment holding the last listing, header
// stubs, message bodies, sizes, mtimes, serial numbers and pending deletions. It knows
// nothing of POP3 or FUSE. Every method is safe to call from any thread at any time.
// Survives kill -9 at any moment: what it returns afterwards is either the old or the new
// state of each record, never a mix, and a body is only ever returned whole.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "popfs/util/message_id.hpp"
#include "popfs/util/message_table.hpp"
#include "popfs/util/result.hpp"

namespace popfs::store {

// Every message the cache has listed gets a serial number, once, never reused (not even
// after reset()). The filesystem derives its inode numbers from it; the cache knows nothing
// of inodes. Serials start at kFirstSerial and count up.
inline constexpr std::uint64_t kFirstSerial = 4;  // what schema 1 started its inode pairs at

struct MessageRecord {
  MessageId id;
  std::uint64_t serial = 0;     // assigned once per id, stable across remounts
  std::uint64_t list_size = 0;  // LIST size from the latest listing
  std::optional<std::uint64_t> exact_size;  // byte count of the body, once fetched (kept
                                            // after the body is evicted: it stays exact)
  std::optional<std::uint64_t> stub_size;   // byte count of the stored header stub
  std::int64_t mtime = 0;       // seconds since the epoch: Date: header, else first_seen
  std::int64_t first_seen = 0;  // when popfs first listed this id
  bool has_stub = false;
  bool has_body = false;
  // layout=maildir: the Maildir flags a client set (bits 0-5: D F P R S T), whether it
  // moved the message to cur/ (kMailFlagInCur) and whether its name has ":2,FLAGS"
  // (kMailFlagHasInfo). Local state: POP3 has no flags.
  std::uint8_t mail_flags = 0;
};
inline constexpr std::uint8_t kMailFlagInCur = 0x40;
inline constexpr std::uint8_t kMailFlagHasInfo = 0x80;

// What the cache keeps of a message besides its id, serial and LIST size (a MessageRecord
// without them): for a mount that starts from the server's listing.
struct RecordState {
  std::optional<std::uint64_t> exact_size;
  std::optional<std::uint64_t> stub_size;
  std::int64_t mtime = 0;
  std::int64_t first_seen = 0;
  bool has_stub = false;
  bool has_body = false;
  std::uint8_t mail_flags = 0;
};
inline RecordState state_of(const MessageRecord& r) {
  return RecordState{r.exact_size, r.stub_size, r.mtime, r.first_seen, r.has_stub, r.has_body, r.mail_flags};
}

// What apply_listing changed.
struct ListingUpdate {
  std::vector<std::uint64_t> serials;         // the serial of every row of the listing, in row order
  std::vector<std::uint64_t> removed_serials;  // messages that left the listing (purged)
  std::size_t added = 0;                       // rows that were new to the cache
  std::vector<RecordState> states;            // per row, when asked for (ListingStates::wanted)
};
enum class ListingStates { not_wanted, wanted };

// One header stub to store (put_stubs).
struct StubWrite {
  MessageId id;
  std::string_view text;
  std::optional<std::int64_t> date_mtime;  // from its Date: header, replaces mtime when given
};

struct CacheStats {
  std::uint64_t messages = 0;
  std::uint64_t stubs = 0;
  std::uint64_t bodies = 0;
  std::uint64_t body_bytes = 0;
  std::uint64_t pending_deletions = 0;
  std::uint64_t body_cap_bytes = 0;
};

// Streams one body into the cache. Nothing is visible until commit(); destroying the
// writer without commit() discards what was written (a cut download leaves no trace).
// Memory use is bounded (a few MiB) whatever the body's size: big bodies are staged in the
// cache in pieces, invisible to readers until commit(). A BodyWriter must not outlive the
// Cache that made it; use it from one thread at a time.
class BodyWriter {
 public:
  virtual ~BodyWriter() = default;
  virtual Result<void> append(std::string_view chunk) = 0;
  // Stores the body, sets exact_size, and evicts least-recently-read bodies if the cap is
  // exceeded (never the one just committed). Errc::not_found (and nothing stored) if the
  // message left the listing meanwhile: a body fetched before an invalidation is dropped.
  virtual Result<void> commit() = 0;
};

// Processes: several may have one cache open at once (a mount and `popfs sync`); one
// process opens a directory once. Do not fork with a Cache open and use it in the child
// (LMDB's rule): open it after daemonizing.
class Cache {
 public:
  struct Options {
    // Created with mode 0700 if missing. An existing one must belong to this user (else
    // Errc::cache) and is tightened to 0700 if group or others had access: it holds mail.
    // One Cache per directory per process; other processes may open it at the same time.
    std::filesystem::path dir;
    std::uint64_t body_cap_bytes = 2ULL << 30;  // cap for bodies; stubs and metadata are always kept
    std::uint64_t initial_map_bytes = 64ULL << 20;  // LMDB map size to start with; grows as needed
  };

  // Opens or creates the cache; checks the schema version and migrates older ones.
  // Errc::cache with a readable message if the directory is unusable or from a newer popfs.
  static Result<std::unique_ptr<Cache>> open(const Options& options);
  virtual ~Cache() = default;

  // Visits the last listing in server order (nothing for a new cache). The record passed
  // is valid during the call only. Memory stays flat however long the listing.
  virtual Result<void> scan_listing(const std::function<void(const MessageRecord&)>& visit) = 0;
  // The same, collected (for tests and small tools: allocates per message).
  Result<std::vector<MessageRecord>> listing();

  // Replaces the listing with the server's, in one pass: the listing is sorted by id and
  // merged with the cache's records (sorted the same way), and only what changed is
  // written: new ids get fresh serials (in server order) and first_seen = mtime = now;
  // ids no longer present are purged with their stub and body (but not their pending
  // deletion, which is removed only by remove_pending_deletions); a changed LIST size is
  // updated. Records of ids still present keep everything else.
  // With ListingStates::wanted the update carries every row's RecordState, read in the
  // same pass: a mount need not scan the cached listing before the server's arrives.
  virtual Result<ListingUpdate> apply_listing(const MessageTable& listed, std::int64_t now, ListingStates states) = 0;
  Result<ListingUpdate> apply_listing(const MessageTable& listed, std::int64_t now) {
    return apply_listing(listed, now, ListingStates::not_wanted);
  }
  // True when the cache lists messages and none of them is in `listed` (the server renamed
  // everything: a UIDL reset). Stops at the first message found.
  virtual Result<bool> holds_none_of(const MessageTable& listed) = 0;

  // Forgets every message, stub, body and pending deletion (a UIDL reset, or cache clear);
  // serials keep counting up so none is reused.
  virtual Result<void> reset() = 0;

  virtual Result<std::optional<MessageRecord>> record(const MessageId& id) = 0;

  virtual Result<std::optional<std::string>> stub(const MessageId& id) = 0;
  // Stores the header stub; date_mtime (from its Date: header) replaces mtime when given.
  // Errc::not_found if the id is not in the listing.
  virtual Result<void> put_stub(const MessageId& id, std::string_view stub,
                                std::optional<std::int64_t> date_mtime) = 0;
  // Stores several stubs in one transaction, not synced by itself (a stub can be fetched
  // again; a crash of the process loses nothing, a crash of the machine may lose the last
  // batches). Returns, per stub, whether it was stored (false: the id is not listed).
  virtual Result<std::vector<bool>> put_stubs(const std::vector<StubWrite>& stubs) = 0;

  // Stores a message's Maildir flags (MessageRecord::mail_flags). Errc::not_found if the
  // id is not in the listing.
  virtual Result<void> set_mail_flags(const MessageId& id, std::uint8_t flags) = 0;

  virtual Result<std::unique_ptr<BodyWriter>> begin_body(const MessageId& id) = 0;
  // Copies up to out.size() bytes of the stored body from offset into out; returns the
  // count (0 at or past the end), or nullopt if no body is stored. Marks it recently used.
  virtual Result<std::optional<std::size_t>> read_body(const MessageId& id, std::uint64_t offset,
                                                       std::span<char> out) = 0;
  // Drops every stored body (stubs and metadata stay).
  virtual Result<void> clear_bodies() = 0;

  // Durable (synced to disk) before it returns: an unlink is never forgotten.
  virtual Result<void> add_pending_deletion(const MessageId& id) = 0;
  virtual Result<std::vector<MessageId>> pending_deletions() = 0;
  virtual Result<void> remove_pending_deletions(const std::vector<MessageId>& ids) = 0;

  // Small named values: "account", "last_refresh", "last_error", ...
  virtual Result<std::optional<std::string>> meta(std::string_view key) = 0;
  virtual Result<void> set_meta(std::string_view key, std::string_view value) = 0;

  virtual Result<CacheStats> stats() = 0;
};

// `popfs cache clear`: deletes the cache directory of one account. Refuses (Errc::cache)
// while a popfs process has that cache open, and removes only files the cache created: a
// directory holding anything else is left in place with an error saying so. Ok if the
// directory does not exist.
Result<void> remove_cache_dir(const std::filesystem::path& dir);

}  // namespace popfs::store
