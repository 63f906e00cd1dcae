#pragma once
// Internal state of popfs::fs::Filesystem, shared by the source files of src/fs.
//
// Locking: `mu` guards everything below it. Maildrop completions never take `mu`: they post
// to `worker` (a thread of ours), so the maildrop's thread keeps moving. Callbacks into the
// adapter (read replies) and the KernelNotifier are called without `mu` held.

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "popfs/fs/filesystem.hpp"

namespace popfs::fs {

// One thread running posted tasks in order; drains its queue before stopping.
class Worker {
 public:
  Worker();
  ~Worker();
  void post(std::function<void()> task);
  void stop();  // runs what is queued, then joins

 private:
  void run();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  bool joined_ = false;
  std::thread thread_;
};

struct MessageState {
  store::MessageRecord record;
  std::string name;                        // file name in / and in .headers/
  std::optional<std::uint64_t> stub_size;  // presented size of the stub, once known
  std::optional<std::uint64_t> lf_size;    // with -o lf: presented size once fetched
  std::size_t index = 0;                   // position in the visible listing
  // Opens skipped: listed by the server but not shown until its sizes are exact (a file
  // the kernel serves without asking us must never have a provisional size).
  bool held = false;
};

enum class NodeKind { root, headers_dir, message, stub, none };

struct PendingRead {
  std::uint64_t offset = 0;
  std::size_t size = 0;
  Filesystem::ReadDone done;
};

// One RETR in flight; readers of the message wait here and share it.
struct BodyFetch {
  MessageId id;
  std::uint64_t list_size = 0;
  std::string data;  // filled by the maildrop's sink on its thread, read after done()
  // Set once the whole message arrived (as presented, -o lf applied), while it is stored.
  std::shared_ptr<const std::string> body;
  std::vector<PendingRead> waiters;
  std::vector<std::function<void(Result<void>)>> listeners;  // sync and the like
  bool retried = false;
  // Bodies over FsOptions::stream_bytes go to the cache while they arrive, in pieces, so
  // memory stays bounded whatever the size; their readers are answered from the cache once
  // the body is committed. `received` and `streaming` belong to the maildrop's thread until
  // done(); `writer` to store_worker.
  std::uint64_t received = 0;
  bool streaming = false;
  std::unique_ptr<store::BodyWriter> writer;
  std::optional<Error> stream_error;  // the first failure to stage a piece
};

// Who waited on a fetch that ended, to be answered outside mu.
struct FetchWaiters {
  std::vector<PendingRead> readers;
  std::vector<std::function<void(Result<void>)>> listeners;
};

struct StubFetch {
  std::vector<std::function<void(Result<std::string>)>> waiters;
  std::shared_ptr<const std::string> text;  // set once it arrived, while it is stored
};

struct Filesystem::Impl {
  Impl(mailbox::Maildrop& m, store::Cache& c, FsOptions o);

  mailbox::Maildrop& maildrop;
  store::Cache& cache;
  const FsOptions options;
  Worker worker;        // completions and local work
  Worker store_worker;  // cache writes (bodies, stubs), so replies never wait for a sync

  std::mutex mu;
  std::condition_variable cv;  // deletions committed, shutdown, timer changes
  KernelNotifier* notifier = nullptr;
  bool started = false;
  bool stopped = false;

  // ---- the visible listing ----
  std::vector<MessageId> order;  // visible messages in server order
  std::vector<MessageId> server_order;  // the same with the held ones
  std::map<MessageId, MessageState> messages;  // visible and held
  // Visible messages whose size (or stub size) is not exact yet; opens can be skipped only
  // while this is empty.
  std::set<MessageId> inexact;
  bool opens_skipped = false;
  std::deque<MessageId> held_queue;  // held messages waiting for their body fetch
  std::unordered_map<std::string, MessageId> by_name;
  // Every inode the kernel may still hold: visible messages and vanished ones still looked up.
  std::unordered_map<std::uint64_t, MessageId> by_inode;
  std::map<MessageId, MessageState> orphans;  // vanished while the kernel held them
  std::unordered_map<std::uint64_t, std::uint64_t> lookups;
  // Inodes whose whole content local_content() handed out for the kernel's page cache since
  // the kernel last forgot them: not read and pushed again at every open.
  std::unordered_set<std::uint64_t> pushed;

  // ---- fetching ----
  std::map<MessageId, std::shared_ptr<BodyFetch>> fetches;
  std::uint64_t bytes_in_flight = 0;
  std::map<MessageId, std::shared_ptr<StubFetch>> stub_fetches;
  std::deque<MessageId> stub_queue;  // background stub prefetch
  bool top_unsupported = false;
  bool server_reachable = true;  // last contact worked: worth waiting for a stub
  std::optional<MessageId> last_read;
  // Read-ahead bookkeeping: every position of `order` in [prefetch_clean_from,
  // prefetch_clean_until) had a body or a fetch when prefetch_after last looked, so it need
  // not look again (rescanning the whole window cost ~1,500 string compares per file read).
  // Forgotten whenever a position may have stopped being so: a fetch failed or was not
  // stored, a body went missing, or `order` changed.
  std::size_t prefetch_clean_from = 0;
  std::size_t prefetch_clean_until = 0;
  void forget_prefetch_scan() { prefetch_clean_from = prefetch_clean_until = 0; }
  // -o lf: converted bodies of recently read messages.
  std::deque<std::pair<MessageId, std::shared_ptr<const std::string>>> lf_bodies;

  // ---- deletions, polling, status ----
  std::set<MessageId> pending_deletions;  // hidden from the listing until committed
  // Committed this run: hidden even if a listing taken before the QUIT still shows them.
  std::set<MessageId> committed_deletions;
  bool commit_in_flight = false;
  std::optional<std::chrono::steady_clock::time_point> next_commit;
  std::chrono::milliseconds retry_delay{0};
  std::uint64_t commits_finished = 0;
  std::optional<Error> last_commit_error;
  bool activity = false;
  bool refresh_in_flight = false;
  std::vector<std::function<void(Result<void>)>> refresh_waiters;
  std::chrono::steady_clock::time_point next_poll;
  std::optional<std::chrono::system_clock::time_point> last_refresh;
  std::string last_error;
  std::thread timer;

  // ---- helpers (callers hold mu unless noted) ----
  static std::uint64_t message_inode(const store::MessageRecord& r) { return 16 + 2 * r.inode; }
  static std::uint64_t stub_inode(const store::MessageRecord& r) { return 17 + 2 * r.inode; }
  NodeKind kind_of(std::uint64_t ino) const;
  const MessageState* state_of(std::uint64_t ino) const;
  MessageState* mutable_state(const MessageId& id);
  Attr message_attr(const MessageState& s) const;
  Attr stub_attr(const MessageState& s) const;
  Attr file_attr(std::uint64_t ino, const MessageState& s, std::optional<std::uint64_t> exact_size,
                 std::uint64_t provisional_size) const;
  Attr dir_attr(std::uint64_t ino) const;
  void install_listing(const std::vector<store::MessageRecord>& records,
                       std::vector<std::pair<std::uint64_t, std::string>>& vanished);
  void rebuild_order();  // `order` and indexes from server_order
  // Both sizes of the message are exact (the body's once fetched; the stub's once fetched,
  // or never without TOP).
  bool sizes_exact(const MessageState& s) const;
  void drop_orphan_if_unused(std::uint64_t ino);
  std::optional<std::string> hide(const MessageId& id);  // returns the name it had
  void note_activity() { activity = true; }
  // The id whose stub the kernel-facing attribute calls should wait for, if any.
  std::optional<MessageId> stub_to_wait_for(std::uint64_t ino) const;

  // Notifications collected under mu, sent after unlocking.
  struct Notes {
    std::vector<std::uint64_t> inodes;
    std::vector<std::pair<std::uint64_t, std::string>> entries;
  };
  void send(const Notes& notes);  // without mu (takes it)
  // After a message's sizes may have changed: keeps `inexact` true, and shows a held message
  // once its sizes are exact.
  void note_sizes(const MessageId& id, Notes& notes);
  // Stubs can then never be fetched; their size 0 counts as final.
  void mark_top_unsupported(Notes& notes);
  void pump_held();  // starts body fetches of held messages within the read-ahead budget
  // With opens skipped, a read of `read` (its message, or its stub) missed the page cache:
  // offers the kernel the cached files that follow it in directory order.
  void push_ahead(const MessageId& read, bool stubs);

  // fetching.cpp
  std::shared_ptr<BodyFetch> start_fetch(const MessageId& id, std::optional<PendingRead> waiter);  // mu held
  void issue_retr(const std::shared_ptr<BodyFetch>& fetch);
  void on_body_arrived(const std::shared_ptr<BodyFetch>& fetch);  // maildrop thread
  void store_body(const std::shared_ptr<BodyFetch>& fetch, const std::string& raw);  // store_worker
  void stream_piece(const std::shared_ptr<BodyFetch>& fetch, const std::string& piece);  // store_worker
  void finish_streamed(const std::shared_ptr<BodyFetch>& fetch, const std::string& rest);  // store_worker
  void on_fetch_failed(const std::shared_ptr<BodyFetch>& fetch, Result<void> result);  // worker
  // The body's byte count is now known (mu held): st_size becomes exact, and the kernel is
  // told if it changed. lf_body: the -o lf presentation, when it is in memory.
  void learn_body_size(const MessageId& id, std::uint64_t raw_size,
                       const std::shared_ptr<const std::string>& lf_body, Notes& notes);
  FetchWaiters end_fetch(const std::shared_ptr<BodyFetch>& fetch, bool stored);  // mu held
  void prefetch_after(std::size_t index);                                           // mu held
  void note_read_start(const MessageId& id, const MessageState& s);                // mu held
  void fetch_stub(const MessageId& id, std::function<void(Result<std::string>)> done);  // mu held
  Result<std::optional<MessageId>> xattr_message(std::uint64_t ino);  // takes mu
  void on_stub_arrived(const MessageId& id, Result<std::string> result);  // maildrop thread
  void pump_stub_queue();                                                           // mu held
  void read_message(const MessageId& id, std::uint64_t offset, std::size_t size,
                    ReadDone done, bool allow_prefix = true);  // without mu
  void read_stub(const MessageId& id, std::uint64_t offset, std::size_t size, ReadDone done);
  void try_prefix_read(const MessageId& id, std::uint64_t list_size, PendingRead read);  // mu held
  std::optional<std::shared_ptr<const std::string>> lf_body(const MessageId& id);  // without mu
  std::string present(std::string body) const;  // applies -o lf

  // background.cpp
  void request_refresh(std::function<void(Result<void>)> done);
  void on_listing(Result<mailbox::Listing> listing);  // worker
  void schedule_commit(std::chrono::milliseconds delay);  // mu held
  void start_commit();                                    // mu held
  void on_commit_done(Result<std::vector<MessageId>> result);  // worker
  void timer_loop();
  void set_last_error(const Error& e);  // mu held
};

}  // namespace popfs::fs
