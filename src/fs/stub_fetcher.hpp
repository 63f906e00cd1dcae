#pragma once
// Header stubs (TOP n 0): one request per message shared by everyone who wants it, a
// background prefetch that keeps the server busy (its window counts bytes, not requests),
// and cache writes in batches (one transaction for every stub that arrived meanwhile).
//
// Threading: any thread may call in. One mutex guards the state below; it is never held
// while calling out (maildrop, cache, callbacks), only into the Namespace (a leaf). A stub
// is taken in on the maildrop's thread (memory and queues only); callers hear back on the
// executor, through the core's TaskScope; cache writes run on the store queue.

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core_context.hpp"

namespace popfs::fs {

class StubFetcher {
 public:
  using Done = std::function<void(Result<std::string>)>;  // the stub as the server sends it

  explicit StubFetcher(CoreContext& core) : core_(core) {}

  // From a fetch in flight, the cache, or TOP n 0. `done` (may be empty) runs later.
  void fetch(std::uint64_t serial, Done done);
  // For the kernel's lookup and getattr: as fetch(), but gives up after FsOptions::stub_wait
  // (Errc::timeout). After one such wait, and while the server is unreachable, it gives up
  // at once, until a stub arrives again: a stalled server must not stall `ls -l`.
  // for_stub_file: the lookup is of the stub's own file, which has no cached attributes to
  // fall back on (only EIO): it tries again after a failed fetch, though not after a stall.
  void fetch_bounded(std::uint64_t serial, Done done, bool for_stub_file = false);
  // For a directory page: fetches these, and runs `done` once every one has arrived or
  // failed, or once FsOptions::stub_wait has passed (then, as above, later waits give up
  // at once until a stub arrives). One timer for all.
  void fetch_all_bounded(const std::vector<std::uint64_t>& serials, std::function<void()> done);
  // Whether a kernel lookup should wait for a stub at all.
  bool worth_waiting(bool for_stub_file = false);
  // Fetches these in the background, in this order, within the window.
  void prefetch(const std::vector<std::uint64_t>& serials);
  // Then every stub the listing still lacks, in listing order (from the start of the
  // listing again: called after each listing). No queue of the whole listing is made.
  void prefetch_listing();
  void set_server_reachable(bool reachable);
  // Called (on the executor) with every stub that arrives from the server.
  void on_arrival(std::function<void(std::uint64_t serial, const std::string& stub)> hook) { on_arrival_ = std::move(hook); }
  void stop();

 private:
  // A directory page waiting for its stubs: one count for all of them, taken down on the
  // thread where each stub arrives; only the page's end goes to the executor (not a task,
  // and a wake-up of a core thread, per stub).
  struct PageWait {
    explicit PageWait(std::size_t stubs, std::function<void()> then) : left(stubs), done(std::move(then)) {}
    std::atomic<std::size_t> left;
    std::atomic<bool> answered{false};  // done ran, or the stall timer's turn came
    std::atomic<Executor::TimerId> timer{0};
    std::function<void()> done;
  };
  struct Fetch {
    MessageId id;
    std::vector<Done> waiters;
    std::vector<std::shared_ptr<PageWait>> pages;
    std::shared_ptr<const std::string> text;  // arrived, waiting to be stored
    std::uint64_t estimate = 0;               // bytes counted against the window
  };
  struct Arrived {
    std::uint64_t serial;
    MessageId id;
    std::shared_ptr<const std::string> text;
    std::optional<std::int64_t> date;
  };

  void fetch(std::uint64_t serial, Done done, std::shared_ptr<PageWait> page);
  void start(std::uint64_t serial, const Message& message, Done done, std::shared_ptr<PageWait> page = {});
  bool begin(std::uint64_t serial, const Message& message, Done done, std::shared_ptr<PageWait> page = {});
  void count_down(const std::shared_ptr<PageWait>& page);
  void answered(std::uint64_t serial, Result<std::string> text);
  // on_executor: false on the maildrop's thread (waiters are then answered from the executor).
  void arrived(std::uint64_t serial, Result<std::string> result, bool on_executor);
  void read_cached(std::uint64_t serial, MessageId id, Done done);
  void pump_prefetch();
  Executor::TimerId start_stall_timer(std::shared_ptr<std::atomic<bool>> answered, std::function<void()> expired);
  void store_batch();
  void schedule_store_batch();  // after kStoreDelay
  bool room() const;            // mu_ held
  bool room_for_batch() const;  // mu_ held: a whole prefetch batch fits in the window

  CoreContext& core_;
  std::function<void(std::uint64_t, const std::string&)> on_arrival_;  // set before any fetch
  std::mutex mu_;
  std::unordered_map<std::uint64_t, Fetch> fetches_;
  std::deque<std::uint64_t> queue_;             // explicit prefetches, first
  std::optional<std::size_t> listing_cursor_;  // prefetch_listing: the next row to look at
  std::uint64_t bytes_in_flight_ = 0;
  std::vector<Arrived> to_store_;
  std::uint64_t to_store_bytes_ = 0;
  bool store_scheduled_ = false;
  bool reachable_ = true;
  bool stalled_ = false;
  bool stopped_ = false;
};

}  // namespace popfs::fs
