#pragma once
// The popfs cache of one account: an LMDB environment holding the last listing, header
// stubs, message bodies, sizes, mtimes, inode numbers and pending deletions. It knows
// nothing of POP3 or FUSE. Every method is safe to call from any thread at any time.
// Survives kill -9 at any moment: what it returns afterwards is either the old or the new
// state of each record, never a mix, and a body is only ever returned whole.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "popfs/util/message_id.hpp"
#include "popfs/util/result.hpp"

namespace popfs::store {

struct MessageRecord {
  MessageId id;
  std::uint64_t inode = 0;      // assigned once per id, never reused, stable across remounts
  std::uint64_t list_size = 0;  // LIST size from the latest listing
  std::optional<std::uint64_t> exact_size;  // byte count of the stored body, once fetched
  std::int64_t mtime = 0;       // seconds since the epoch: Date: header, else first_seen
  std::int64_t first_seen = 0;  // when popfs first listed this id
  bool has_stub = false;
  bool has_body = false;
};

struct ListedMessage {
  MessageId id;
  std::uint64_t list_size = 0;
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
class BodyWriter {
 public:
  virtual ~BodyWriter() = default;
  virtual Result<void> append(std::string_view chunk) = 0;
  // Stores the body, sets exact_size, and evicts least-recently-read bodies if the cap is
  // exceeded (never the one just committed).
  virtual Result<void> commit() = 0;
};

class Cache {
 public:
  struct Options {
    std::filesystem::path dir;                  // created with mode 0700 if missing
    std::uint64_t body_cap_bytes = 2ULL << 30;  // cap for bodies; stubs and metadata are always kept
  };

  // Opens or creates the cache; checks the schema version and migrates older ones.
  // Errc::cache with a readable message if the directory is unusable or from a newer popfs.
  static Result<std::unique_ptr<Cache>> open(const Options& options);
  virtual ~Cache() = default;

  // The last listing, in server order (empty for a new cache).
  virtual Result<std::vector<MessageRecord>> listing() = 0;

  // Replaces the listing with the server's: records of ids still present keep their
  // inode, exact size, mtime, stub and body; new ids get fresh inodes and first_seen = now;
  // ids no longer present are purged with their stub and body (but not their pending
  // deletion, which is removed only by remove_pending_deletions). Returns the new listing.
  virtual Result<std::vector<MessageRecord>> apply_listing(const std::vector<ListedMessage>& listed,
                                                           std::int64_t now) = 0;

  // Forgets every message, stub, body and pending deletion (a UIDL reset, or cache clear);
  // inode numbers keep counting up so none is reused.
  virtual Result<void> reset() = 0;

  virtual Result<std::optional<MessageRecord>> record(const MessageId& id) = 0;

  virtual Result<std::optional<std::string>> stub(const MessageId& id) = 0;
  // Stores the header stub; date_mtime (from its Date: header) replaces mtime when given.
  virtual Result<void> put_stub(const MessageId& id, std::string_view stub,
                                std::optional<std::int64_t> date_mtime) = 0;

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

}  // namespace popfs::store
