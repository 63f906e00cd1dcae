#include "stub_fetcher.hpp"

#include <atomic>

#include "popfs/fs/header_fields.hpp"
#include "popfs/fs/mail_date.hpp"

namespace popfs::fs {
namespace {

// Stubs are a few KiB; a message's LIST size bounds its stub.
constexpr std::uint64_t kStubEstimate = 8 * 1024;
// Stubs are written in batches: one transaction (one disk sync) for all that arrived within
// kStoreDelay, or as soon as kStubsPerTransaction are waiting. A stub can always be fetched
// again, so waiting costs nothing but memory, which kStoreQueueBytes bounds.
constexpr std::size_t kStubsPerTransaction = 2048;
constexpr auto kStoreDelay = std::chrono::milliseconds(100);
constexpr std::uint64_t kStoreQueueBytes = 4ULL << 20;
// prefetch_listing takes the listing's stubless messages this many at a time.
constexpr std::size_t kListingBatch = 256;
// The prefetch asks for at least this many stubs at a time (unless nothing is under way).
constexpr std::size_t kPrefetchBatch = 64;

Error gone_error() { return Error(Errc::not_found, "the message is no longer on the server"); }

}  // namespace

std::string to_lf(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    out += text[i];
  }
  return out;
}

bool StubFetcher::room() const {
  const std::size_t on_the_wire = fetches_.size() - to_store_.size();
  return on_the_wire < core_.options.max_stub_requests_in_flight && bytes_in_flight_ < core_.options.stub_window_bytes &&
         to_store_bytes_ < kStoreQueueBytes;
}

void StubFetcher::fetch(std::uint64_t serial, Done done) { fetch(serial, std::move(done), nullptr); }

// For a page, `done` is empty: the page is counted down where a fetch under way ends, or
// here, on the caller's thread, when there is nothing to wait for (the stub is gone, cached
// or arrived already): no task per stub, only the page's end is posted.
void StubFetcher::fetch(std::uint64_t serial, Done done, std::shared_ptr<PageWait> page) {
  const auto message = core_.names.message(serial);
  if (!message) {
    if (page) return count_down(page);
    if (done) core_.tasks.post([done] { done(gone_error()); });
    return;
  }
  {
    std::unique_lock lock(mu_);
    if (auto it = fetches_.find(serial); it != fetches_.end()) {
      if (auto text = it->second.text) {  // arrived, being stored
        lock.unlock();
        if (page) return count_down(page);
        if (done) core_.tasks.post([done, text] { done(*text); });
      } else if (page) {
        it->second.pages.push_back(std::move(page));
      } else if (done) {
        it->second.waiters.push_back(std::move(done));
      }
      return;
    }
  }
  if (message->has_stub) {
    if (page) return count_down(page);  // its size is known: the page needs no text
    return read_cached(serial, message->id, std::move(done));
  }
  if (page) return start(serial, *message, {}, std::move(page));
  start(serial, *message, std::move(done));
}

void StubFetcher::count_down(const std::shared_ptr<PageWait>& page) {
  if (--page->left != 0 || page->answered.exchange(true)) return;
  core_.tasks.post([this, page] {
    core_.tasks.cancel(page->timer.load());
    page->done();
  });
}

void StubFetcher::read_cached(std::uint64_t serial, MessageId id, Done done) {
  core_.tasks.post([this, serial, id = std::move(id), done = std::move(done)]() mutable {
    auto stub = core_.cache.stub(id);
    if (!stub) {
      if (done) done(std::move(stub).error());
      return;
    }
    if (stub.value()) {
      if (done) done(std::move(*stub.value()));
      return;
    }
    // The cache lost it: its size is not known any more; ask the server.
    core_.notify(core_.names.set_has_stub(serial, false));
    fetch(serial, std::move(done));
  });
}

void StubFetcher::start(std::uint64_t serial, const Message& message, Done done, std::shared_ptr<PageWait> page) {
  if (!begin(serial, message, std::move(done), std::move(page))) return;
  core_.maildrop.top(message.id, 0, [this, serial](Result<std::string> text) { answered(serial, std::move(text)); });
}

// The bookkeeping of a new TOP n 0: false if none is to be sent (one is under way, or TOP
// cannot be asked: `done` then hears why).
bool StubFetcher::begin(std::uint64_t serial, const Message& message, Done done, std::shared_ptr<PageWait> page) {
  const bool no_top = core_.names.top_unsupported();
  std::lock_guard lock(mu_);
  if (auto it = fetches_.find(serial); it != fetches_.end()) {
    if (done) it->second.waiters.push_back(std::move(done));
    if (page) it->second.pages.push_back(std::move(page));
    return false;
  }
  if (stopped_ || no_top) {
    if (page) count_down(page);  // nothing goes on the wire: no answer to wait for
    if (done) {
      core_.tasks.post([done, stopped = stopped_] {
        done(stopped ? Error(Errc::cancelled, "popfs is shutting down")
                     : Error(Errc::unsupported, "the server does not support TOP"));
      });
    }
    return false;
  }
  Fetch& f = fetches_[serial];
  f.id = message.id;
  if (done) f.waiters.push_back(std::move(done));
  if (page) f.pages.push_back(std::move(page));
  f.estimate = std::min(message.list_size, kStubEstimate);
  bytes_in_flight_ += f.estimate;
  return true;
}

// On the maildrop's thread. A prefetched stub nobody waits for is only memory and queues:
// handled here, sparing a wake-up of the executor per stub (100,000 of them for a cold
// `ls -l` of a big mailbox). Replies to waiters always go to the executor.
void StubFetcher::answered(std::uint64_t serial, Result<std::string> text) {
  if (text) return arrived(serial, std::move(text), false);
  core_.tasks.post([this, serial, text = std::move(text)]() mutable { arrived(serial, std::move(text), true); });
}

void StubFetcher::arrived(std::uint64_t serial, Result<std::string> result, bool on_executor) {
  std::optional<std::int64_t> date;
  std::shared_ptr<const std::string> text;
  if (result) {
    if (auto field = header_field(*result, "Date")) date = parse_mail_date(*field);
    text = std::make_shared<const std::string>(std::move(*result));
  }
  // The namespace first: whoever finds the text below must find its size and mtime too
  // (the kernel keeps what a lookup answered for a while).
  if (text) {
    const std::optional<std::uint64_t> lf = core_.options.lf ? std::optional<std::uint64_t>(to_lf(*text).size())
                                                             : std::nullopt;
    core_.notify(core_.names.learn_stub(serial, text->size(), lf, date));
  }
  std::vector<Done> waiters;
  std::vector<std::shared_ptr<PageWait>> pages;
  bool schedule_store = false;
  bool store_now = false;
  {
    std::lock_guard lock(mu_);
    auto it = fetches_.find(serial);
    if (it != fetches_.end()) {
      waiters = std::move(it->second.waiters);
      pages = std::move(it->second.pages);
      // Off the wire: the window has room for the next request at once.
      bytes_in_flight_ -= it->second.estimate;
      it->second.estimate = 0;
      if (text) {
        it->second.text = text;
        to_store_.push_back(Arrived{serial, it->second.id, text, date});
        to_store_bytes_ += text->size();
        schedule_store = !store_scheduled_;
        store_scheduled_ = true;
        store_now = to_store_.size() == kStubsPerTransaction;  // a full batch: no need to wait
      } else {
        fetches_.erase(it);
      }
    }
    // Lookups wait for stubs only while the server answers.
    const Errc code = text ? Errc::io : result.error().code;
    reachable_ = text || code == Errc::message_gone || code == Errc::unsupported;
    if (text) stalled_ = false;
    if (!text && code == Errc::unsupported) {
      queue_.clear();
      listing_cursor_.reset();
    }
  }
  if (store_now) core_.tasks.post_to(core_.store_queue, [this] { store_batch(); });
  if (schedule_store) schedule_store_batch();
  if (text) {
    if (on_arrival_) on_arrival_(serial, *text);
  } else if (result.error().code == Errc::unsupported) {
    core_.notify(core_.names.mark_top_unsupported());
  }
  for (const auto& page : pages) count_down(page);
  if (!waiters.empty()) {
    auto answer = [waiters = std::move(waiters), text, result = std::move(result)]() mutable {
      for (auto& w : waiters) {
        if (text) {
          w(*text);
        } else {
          w(result.error());
        }
      }
    };
    if (on_executor) {
      answer();
    } else {
      core_.tasks.post(std::move(answer));
    }
  }
  pump_prefetch();
}

// On the store queue: every stub that arrived since the last batch, in one transaction.
void StubFetcher::store_batch() {
  std::vector<Arrived> batch;
  {
    std::lock_guard lock(mu_);
    const std::size_t take = std::min(to_store_.size(), kStubsPerTransaction);
    batch.assign(std::make_move_iterator(to_store_.begin()), std::make_move_iterator(to_store_.begin() + static_cast<std::ptrdiff_t>(take)));
    to_store_.erase(to_store_.begin(), to_store_.begin() + static_cast<std::ptrdiff_t>(take));
    for (const auto& a : batch) to_store_bytes_ -= a.text->size();
    if (batch.empty()) store_scheduled_ = false;
  }
  if (batch.empty()) return;
  std::vector<store::StubWrite> writes;
  writes.reserve(batch.size());
  for (auto& a : batch) writes.push_back(store::StubWrite{std::move(a.id), *a.text, a.date});
  auto stored = core_.cache.put_stubs(writes);
  Notes notes;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    notes.add(core_.names.set_has_stub(batch[i].serial, stored && (*stored)[i]));
  }
  bool again = false;
  bool full = false;
  {
    std::lock_guard lock(mu_);
    for (const auto& a : batch) {
      if (auto it = fetches_.find(a.serial); it != fetches_.end() && it->second.text == a.text) fetches_.erase(it);
    }
    full = to_store_.size() >= kStubsPerTransaction;
    again = !to_store_.empty();
    store_scheduled_ = again;
  }
  core_.notify(std::move(notes));
  // A full batch goes at once; fewer wait for more (a transaction, and its disk sync, for
  // every few stubs that arrived during the last commit would cost more than the stubs).
  if (full) {
    core_.tasks.post_to(core_.store_queue, [this] { store_batch(); });
  } else if (again) {
    schedule_store_batch();
  }
  pump_prefetch();  // the store queue has room again
}

void StubFetcher::schedule_store_batch() {
  core_.tasks.post_after(kStoreDelay, [this] { core_.tasks.post_to(core_.store_queue, [this] { store_batch(); }); });
}

void StubFetcher::prefetch(const std::vector<std::uint64_t>& serials) {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    queue_.insert(queue_.end(), serials.begin(), serials.end());
  }
  pump_prefetch();
}

void StubFetcher::prefetch_listing() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    listing_cursor_ = 0;
  }
  pump_prefetch();
}

void StubFetcher::pump_prefetch() {
  // Refilled in batches, one hand-over to the maildrop each (not a TOP per stub that
  // arrived), once a batch fits or nothing is on the wire.
  std::vector<std::uint64_t> serials;
  std::vector<MessageId> ids;
  for (;;) {
    std::uint64_t serial = 0;
    {
      std::lock_guard lock(mu_);
      if (stopped_ || !room()) break;
      if (serials.empty() && !room_for_batch()) break;
      if (queue_.empty()) {
        if (!listing_cursor_) break;
        // The next few stubless messages of the listing (a leaf call: the namespace
        // calls nothing back).
        std::size_t row = *listing_cursor_;
        auto next = core_.names.stubless(row, kListingBatch);
        listing_cursor_ = next.empty() ? std::nullopt : std::optional<std::size_t>(row);
        queue_.insert(queue_.end(), next.begin(), next.end());
        if (queue_.empty()) break;
      }
      serial = queue_.front();
      queue_.pop_front();
      if (fetches_.count(serial) != 0) continue;
    }
    const auto message = core_.names.message(serial);
    if (!message || message->has_stub || message->stub_size) continue;
    if (!begin(serial, *message, {})) continue;
    serials.push_back(serial);
    ids.push_back(message->id);
  }
  if (serials.empty()) return;
  core_.maildrop.top_many(std::move(ids), 0, [this, serials = std::move(serials)](std::size_t i, Result<std::string> text) {
    answered(serials[i], std::move(text));
  });
}

bool StubFetcher::room_for_batch() const {
  const std::size_t on_the_wire = fetches_.size() - to_store_.size();
  return on_the_wire == 0 ||
         (on_the_wire + kPrefetchBatch <= core_.options.max_stub_requests_in_flight &&
          bytes_in_flight_ + kPrefetchBatch * kStubEstimate <= core_.options.stub_window_bytes);
}

void StubFetcher::fetch_bounded(std::uint64_t serial, Done done, bool for_stub_file) {
  if (!worth_waiting(for_stub_file)) {
    return core_.tasks.post([done] { done(Error(Errc::timeout, "the server does not answer now")); });
  }
  auto answered = std::make_shared<std::atomic<bool>>(false);
  auto timer = std::make_shared<std::atomic<Executor::TimerId>>(0);
  timer->store(start_stall_timer(answered, [done] { done(Error(Errc::timeout, "the server did not send the header in time")); }));
  fetch(serial, [this, answered, timer, done](Result<std::string> stub) {
    if (answered->exchange(true)) return;
    core_.tasks.cancel(timer->load());
    done(std::move(stub));
  });
}

void StubFetcher::fetch_all_bounded(const std::vector<std::uint64_t>& serials, std::function<void()> done) {
  if (serials.empty() || !worth_waiting()) return core_.tasks.post(std::move(done));
  auto page = std::make_shared<PageWait>(serials.size(), done);
  page->timer.store(start_stall_timer(std::shared_ptr<std::atomic<bool>>(page, &page->answered), std::move(done)));
  for (const auto serial : serials) fetch(serial, {}, page);
}

// After stub_wait: unless answered meanwhile, the server counts as stalled and `expired` runs.
Executor::TimerId StubFetcher::start_stall_timer(std::shared_ptr<std::atomic<bool>> answered,
                                                 std::function<void()> expired) {
  return core_.tasks.post_after(core_.options.stub_wait, [this, answered = std::move(answered),
                                                          expired = std::move(expired)] {
    if (answered->exchange(true)) return;
    {
      std::lock_guard lock(mu_);
      stalled_ = true;
    }
    expired();
  });
}

bool StubFetcher::worth_waiting(bool for_stub_file) {
  if (!core_.options.wait_for_stubs || core_.names.top_unsupported()) return false;
  std::lock_guard lock(mu_);
  return (reachable_ || for_stub_file) && !stalled_ && !stopped_;
}

void StubFetcher::set_server_reachable(bool reachable) {
  std::lock_guard lock(mu_);
  reachable_ = reachable;
  if (reachable) stalled_ = false;
}

void StubFetcher::stop() {
  bool waiting = false;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    queue_.clear();
    listing_cursor_.reset();
    waiting = !to_store_.empty();
  }
  // What arrived is kept: written now, not after a delay that may never come.
  while (waiting) {
    store_batch();
    std::lock_guard lock(mu_);
    waiting = !to_store_.empty();
  }
}

}  // namespace popfs::fs
