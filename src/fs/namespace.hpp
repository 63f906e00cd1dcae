#pragma once
// The namespace: every listed message as the kernel sees it (name, inode, size, mtime),
// held compactly for mailboxes of a million messages. The listing itself is the
// maildrop's MessageTable (UIDLs in one arena, shared, immutable); beside it one serial and
// one 40-byte state per message, a name index (the table's own) and, only when the server's
// order is not the order of serials, a permutation for inode lookups. No per-message
// std::string or map node is kept: names are made from the UIDL when asked for.
//
// Threading: every member function may be called from any thread; one mutex guards all
// state, held only inside these functions (never while calling out: it calls nothing).
// Results are copies. Directory snapshots (read_dir) stay valid while the listing changes.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "notes.hpp"
#include "popfs/fs/attr.hpp"
#include "popfs/fs/inodes.hpp"
#include "popfs/fs/options.hpp"
#include "popfs/mailbox/maildrop.hpp"
#include "popfs/store/cache.hpp"
#include "popfs/util/result.hpp"

namespace popfs::fs {

// One listed message, copied out for the fetchers.
struct Message {
  std::uint64_t serial = 0;
  MessageId id;
  std::uint64_t list_size = 0;
  std::optional<std::uint64_t> exact_size;  // of the body as the server sends it
  std::optional<std::uint64_t> stub_size;   // of the header stub as the server sends it
  bool has_body = false;                    // in the cache
  bool has_stub = false;                    // in the cache
  bool held = false;                        // listed, not shown yet (opens skipped)
};

// What the cache (or defaults, for new mail) says of a message when it is first installed.
using InitialState = store::RecordState;

struct DirSnapshot;

// One entry of a directory read (read_dir).
struct ListedEntry {
  DirEntry entry;
  std::optional<Attr> attr;        // for message entries, as getattr would answer
  bool stub_pending = false;       // its header stub is neither cached nor known
  std::uint64_t next_offset = 0;   // the offset that continues after this entry
};

class Namespace {
 public:
  struct Version;
  explicit Namespace(const FsOptions& options);

  // ---- the listing ----
  struct Installed {
    Notes notes;                              // vanished and appeared names, changed dirs
    std::vector<std::uint64_t> held;          // serials held back until their sizes are exact
    std::size_t visible = 0;
  };
  // Replaces the listing. `serials` has one serial per row (from the cache). A message
  // whose serial was listed before keeps its state; a new one takes initial[row] when
  // `initial` is given (a start from the cache), else defaults with mtime = first_seen =
  // now. Rows for which `deleted` is true are hidden (pending deletions). With opens
  // skipped, new messages whose sizes are not exact are held (listed but not shown).
  Installed install(mailbox::Listing table, std::vector<std::uint64_t> serials, const std::vector<InitialState>& initial,
                    const std::function<bool(const MessageId&)>& deleted, std::int64_t now);

  // ---- the kernel's view ----
  // Counts one kernel reference on success when `count` is set.
  Result<Attr> lookup(std::uint64_t parent, std::string_view name, bool count);
  Result<Attr> getattr(std::uint64_t ino);
  void add_lookup(std::uint64_t ino, std::uint64_t count);
  void forget(std::uint64_t ino, std::uint64_t count);
  NodeKind kind(std::uint64_t ino);  // none for an unknown inode
  // The message behind a message or stub inode (visible, held or vanished-but-known).
  std::optional<Message> message_of(std::uint64_t ino);
  std::optional<Message> message(std::uint64_t serial);
  // The visible message named `name` in directory `dir` (root, cur/, new/, .headers/).
  std::optional<Message> message_named(std::uint64_t dir, std::string_view name);
  // The serial of the message whose stub a kernel lookup/getattr of `ino` (or of `name` in
  // `parent`) would wait for: the stub is neither cached nor known, and TOP works.
  std::optional<std::uint64_t> stub_pending(std::uint64_t ino);
  std::optional<std::uint64_t> stub_pending(std::uint64_t parent, std::string_view name);

  // Directory snapshots: the listing as it was at opendir, so offsets stay valid.
  Result<std::shared_ptr<const DirSnapshot>> open_dir(std::uint64_t ino);
  // Up to `max` entries from `offset` ("." and ".." first), with attributes of messages
  // as they are now; messages gone or hidden since the snapshot are left out.
  std::vector<ListedEntry> read_dir(const DirSnapshot& snapshot, std::uint64_t offset, std::size_t max);
  std::vector<DirEntry> all_entries(std::uint64_t dir);  // for tests: the whole directory

  // ---- learning ----
  // The body's byte count (and its -o lf presentation's) is known: st_size becomes exact;
  // the kernel is told if it changed; a held message may be shown.
  Notes learn_body(std::uint64_t serial, std::uint64_t raw_size, std::optional<std::uint64_t> lf_size);
  void set_has_body(std::uint64_t serial, bool cached);
  // The stub arrived (raw size, -o lf size) with the Date: it gave, if any.
  Notes learn_stub(std::uint64_t serial, std::uint64_t raw_size, std::optional<std::uint64_t> lf_size,
                   std::optional<std::int64_t> date);
  // The stub's size as presented, learnt from a cached stub (no change of mtime).
  void learn_stub_size(std::uint64_t serial, std::uint64_t raw_size, std::optional<std::uint64_t> lf_size);
  Notes set_has_stub(std::uint64_t serial, bool cached);
  // Without TOP stubs can never be fetched: their size 0 counts as final.
  Notes mark_top_unsupported();
  bool top_unsupported();
  // Removes a visible message (an unlink); returns every (directory, name) it had.
  std::optional<std::vector<std::pair<std::uint64_t, std::string>>> hide(std::uint64_t serial);

  // layout=maildir: a rename within cur/ and new/ that keeps the message's name and changes
  // only where it is and its flags. Returns the message and its flags as the cache keeps
  // them (store::MessageRecord::mail_flags); EROFS for any other rename.
  struct Renamed {
    Message message;
    std::uint8_t mail_flags = 0;
  };
  Result<Renamed> rename(std::uint64_t from_dir, std::string_view from, std::uint64_t to_dir, std::string_view to,
                         std::int64_t now);

  // ---- sequences (read-ahead, held mail, pushing ahead) ----
  // Visible messages after `serial`'s position (up to `count` positions) that have no body
  // in the cache.
  std::vector<Message> uncached_after(std::uint64_t serial, std::size_t count);
  // The position of a visible message in the listing.
  std::optional<std::size_t> position(std::uint64_t serial);
  std::vector<Message> held_messages();
  std::vector<Message> visible_messages();  // sync: everything, in order
  // Up to `max` visible messages whose header stub is neither cached nor known, from listing
  // position `row` on (for the prefetch); `row` moves past those looked at.
  std::vector<std::uint64_t> stubless(std::size_t& row, std::size_t max);
  // Whether any UIDL of `table` is listed now (else the server renamed everything).
  bool knows_any(const MessageTable& table);
  // Files after `serial`'s position whose bytes are local and exact, that the kernel holds
  // and has not been given since it last forgot them: marks them given. (ino, serial, size)
  struct PushCandidate {
    std::uint64_t ino;
    std::uint64_t serial;
    std::uint64_t size;
  };
  std::vector<PushCandidate> push_candidates(std::uint64_t serial, bool stubs, std::size_t files,
                                             std::uint64_t bytes, std::uint64_t file_limit);
  // Marks the file given to the kernel's page cache; false if it already was.
  bool mark_pushed(std::uint64_t ino);
  void unmark_pushed(std::uint64_t ino);

  // ---- opens ----
  bool every_size_exact();
  bool opens_skipped();
  // From now on new mail is held until its sizes are exact. Returns the message inodes
  // whose provisional size the kernel may still hold (see take_size_learnt): the kernel
  // must drop their attributes before it opens files unasked.
  std::vector<std::uint64_t> skip_opens();
  // Whether the kernel may still hold the provisional (LIST) size of this message, whose
  // exact size was learnt while the kernel held it or was being given it: true once after
  // the size became exact (a forget does not clear it: a reply made before may still be on
  // its way to make the inode again).
  bool take_size_learnt(std::uint64_t ino);

  struct Counts {
    std::size_t visible = 0;
    std::size_t held = 0;
    std::size_t memory_bytes = 0;  // of the namespace itself
  };
  Counts counts();
  Attr dir_attr(std::uint64_t ino);
  // The directories' mtime: the last change to the listing or to a message's place or
  // flags (kept in the cache by the caller, so it is stable across remounts).
  std::int64_t dir_mtime_ns();
  void note_dir_mtime_ns(std::int64_t mtime_ns);
  void note_change(std::int64_t now);  // the listing changed at `now` (seconds)

 private:
  struct State {  // 32 bytes
    std::uint64_t exact_size = kUnknown;
    std::int64_t mtime = 0;
    std::uint32_t stub_size = kUnknownStub;  // TOP answers are far below 4 GiB
    std::uint32_t message_lookups = 0;
    std::uint32_t stub_lookups = 0;
    std::uint16_t flags = 0;
  };
  struct Orphan {
    Attr attr;
    std::uint64_t lookups = 0;
  };
  static constexpr std::uint64_t kUnknown = ~std::uint64_t{0};
  static constexpr std::uint32_t kUnknownStub = ~std::uint32_t{0};
  enum Flag : std::uint16_t {
    kHasBody = 1,
    kHasStub = 2,
    kHeld = 4,
    kHidden = 8,
    kMessagePushed = 16,
    kStubPushed = 32,
    kInCur = 64,       // layout=maildir: in cur/ (else new/)
    kHasInfo = 8192,   // layout=maildir: the name has ":2,FLAGS"
    kSizeLearnt = 16384,  // exact now; the kernel may still hold the LIST size it was given
  };
  static constexpr unsigned kFlagShift = 7;  // the Maildir flags DFPRST, bits 7..12

  std::optional<std::size_t> row_of_serial(const Version& v, std::uint64_t serial) const;
  std::optional<std::size_t> row_of_inode(std::uint64_t ino) const;
  bool visible(std::size_t row) const;
  bool maildir() const;
  static std::uint8_t mail_flags_of(const State& s);  // DFPRST bits
  static std::uint8_t stored_mail_flags(const State& s);  // store::MessageRecord::mail_flags
  static void set_stored_mail_flags(State& s, std::uint8_t stored);
  std::uint64_t message_dir(const State& s) const;  // root, cur or new
  std::string message_name(const Version& v, std::size_t row, const State& s) const;
  // Every (directory, name) a message appears under: its file, its stub, its part folder.
  std::vector<std::pair<std::uint64_t, std::string>> names_of(const Version& v, std::size_t row, const State& s) const;
  // The directory's own entries; `listed`: as readdir shows them (.parts is not listed).
  std::vector<std::pair<std::string, std::uint64_t>> fixed_entries(NodeKind dir, bool listed) const;
  bool has_dir(NodeKind kind) const;  // a directory of the namespace, in this layout
  std::optional<std::size_t> row_in_dir(std::uint64_t dir, std::string_view name) const;
  Attr part_folder_attr(std::size_t row) const;
  Attr dir_attr_locked(std::uint64_t ino) const;
  void note_change_locked(std::int64_t now);  // a change seen at `now` (seconds)
  bool exact(std::size_t row) const;
  std::optional<std::uint64_t> presented_body_size(std::size_t row) const;
  std::optional<std::uint64_t> presented_stub_size(std::size_t row) const;
  // `cacheable`: a provisional size the kernel may keep for provisional_attr_timeout.
  Attr file_attr(std::uint64_t ino, std::int64_t mtime, std::optional<std::uint64_t> exact, std::uint64_t provisional,
                 bool cacheable) const;
  Attr message_attr(std::size_t row) const;
  Attr stub_attr(std::size_t row) const;
  Message message_at(std::size_t row) const;
  bool stub_pending_at(std::size_t row) const;
  // Call around a change of a row's sizes: keeps inexact_ right, shows a held row that
  // became exact.
  void after_size_change(std::size_t row, bool was_exact, Notes& notes);
  void reveal(std::size_t row, Notes& notes);
  void orphan(std::size_t row);  // the row leaves: keep what the kernel still holds
  std::string name_at(const Version& v, std::size_t row) const;

  const FsOptions options_;
  mutable std::mutex mu_;
  std::shared_ptr<const Version> current_;
  std::vector<State> states_;  // per row of current_
  std::unordered_map<std::uint64_t, std::uint64_t> lf_body_sizes_;  // serial -> size, -o lf only
  std::unordered_map<std::uint64_t, std::uint64_t> lf_stub_sizes_;
  std::map<std::uint64_t, Orphan> orphans_;  // by inode: vanished while the kernel held them
  std::size_t visible_ = 0;
  std::size_t held_ = 0;
  std::size_t inexact_ = 0;  // visible rows whose sizes are not all exact
  std::int64_t dir_mtime_ns_ = 0;
  bool top_unsupported_ = false;
  bool opens_skipped_ = false;
};

}  // namespace popfs::fs
