#pragma once
// Message bodies: one RETR per message shared by all its readers, read-ahead for
// sequential readers (cp -r, tar, grep -r), TOP n k for the first bytes of big messages,
// big bodies written to the cache while they arrive, held new mail fetched before it is
// shown, and `popfs sync`. The one place that decides whether a cut download is asked for
// again: once, when someone is waiting for it (the maildrop never repeats a RETR).
//
// Threading: any thread may call in. One mutex guards the fetches and budgets; it is never
// held while calling out (maildrop, cache, callbacks), only the Namespace (a leaf). RETR
// chunks arrive on the maildrop's thread and touch only their fetch's buffer; completions
// run on the executor; cache writes on the store queue. The store queue is bounded: when
// more than FsOptions::store_queue_bytes wait to be written, the maildrop's thread waits
// in the RETR sink, so a slow disk slows the download instead of filling memory.

#include <condition_variable>
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
#include "popfs/fs/filesystem.hpp"

namespace popfs::fs {

class BodyFetcher {
 public:
  using ReadDone = std::function<void(Result<std::string>)>;

  explicit BodyFetcher(CoreContext& core) : core_(core) {}

  // Up to `size` bytes at `offset` of the message as presented (-o lf applied). `done` runs
  // inline when the bytes are local, otherwise later on the executor.
  void read(const Message& message, std::uint64_t offset, std::size_t size, ReadDone done,
            bool allow_prefix = true);
  // A read of the start of `message`: a reader that moved on to the next file(s) is reading
  // sequentially, so the next messages are fetched ahead.
  void note_read_start(const Message& message);
  // The whole cached body if it is at most `limit` bytes (no network); nullopt otherwise.
  std::optional<std::string> cached_body(const Message& message, std::size_t limit);
  // The whole body as the server sent it (CRLF, whatever -o lf presents), from the cache,
  // downloading it first (once) if it is not there.
  void raw_body(const Message& message, std::function<void(Result<std::string>)> done);
  // The -o lf presentation's size of a cached body (converts it once).
  std::optional<std::uint64_t> lf_size(const Message& message);

  // Fetches the bodies of held messages (not shown until their sizes are exact), within
  // the read-ahead budget.
  void fetch_held(const std::vector<std::uint64_t>& serials);
  void sync(std::function<void(SyncProgress)> progress, std::function<void(Result<void>)> done);
  void stop();

 private:
  struct PendingRead {
    std::uint64_t offset = 0;
    std::size_t size = 0;
    ReadDone done;
  };
  struct Fetch {
    std::uint64_t serial = 0;
    MessageId id;
    std::uint64_t list_size = 0;
    // Owned by the maildrop's thread until the RETR completes.
    std::string data;
    std::uint64_t received = 0;
    bool streaming = false;
    // Under mu_.
    std::shared_ptr<const std::string> body;  // arrived whole (as presented), being stored
    std::vector<PendingRead> waiters;
    std::vector<std::function<void(Result<void>)>> listeners;
    bool retried = false;
    // The store queue's.
    std::unique_ptr<store::BodyWriter> writer;
    std::optional<Error> stream_error;
  };
  using FetchPtr = std::shared_ptr<Fetch>;
  struct Waiting {
    std::vector<PendingRead> readers;
    std::vector<std::function<void(Result<void>)>> listeners;
  };

  // Answers from the cache if the body is there (true), else leaves `done` to the caller.
  bool read_from_cache(const Message& message, std::uint64_t offset, std::size_t size, ReadDone& done);
  FetchPtr start_locked(const Message& message);  // mu_ held; the caller issues it
  void issue(const FetchPtr& fetch);
  void sink(const FetchPtr& fetch, std::string_view chunk);  // maildrop thread
  void arrived(const FetchPtr& fetch);                       // executor
  void failed(const FetchPtr& fetch, Error error);           // executor
  void store_whole(const FetchPtr& fetch, std::shared_ptr<const std::string> raw);  // store queue
  void stream_piece(const FetchPtr& fetch, const std::string& piece);               // store queue
  void finish_streamed(const FetchPtr& fetch, const std::string& rest);             // store queue
  Waiting end_locked(const FetchPtr& fetch);  // mu_ held
  void prefix_read(const Message& message, PendingRead read);
  std::shared_ptr<const std::string> lf_body(const Message& message);
  std::optional<std::string> read_all(const MessageId& id);  // the cached body, whole
  void prefetch_after(const Message& message);
  void pump_held();
  // The store queue's byte budget.
  void queue_for_store(std::uint64_t bytes);
  void stored(std::uint64_t bytes);

  CoreContext& core_;
  std::mutex mu_;
  std::unordered_map<std::uint64_t, FetchPtr> fetches_;
  std::uint64_t bytes_in_flight_ = 0;  // LIST sizes of fetches, against prefetch_bytes
  std::optional<std::uint64_t> last_read_;  // serial
  std::deque<std::uint64_t> held_queue_;
  std::deque<std::pair<std::uint64_t, std::shared_ptr<const std::string>>> lf_bodies_;  // recent, -o lf
  bool stopped_ = false;

  std::mutex store_mu_;
  std::condition_variable store_room_;
  std::uint64_t store_queued_bytes_ = 0;
};

}  // namespace popfs::fs
