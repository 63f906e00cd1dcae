#include "body_fetcher.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace popfs::fs {
namespace {

std::string slice(const std::string& data, std::uint64_t offset, std::size_t size) {
  if (offset >= data.size()) return {};
  return data.substr(static_cast<std::size_t>(offset), size);
}

bool worth_retrying(const Error& e) {
  return e.code == Errc::connection || e.code == Errc::timeout || e.code == Errc::temporary;
}

Error read_error(const Error& e) { return Error(Errc::io, "could not fetch the message: " + e.describe()); }

Error gone_error() { return Error(Errc::not_found, "the message is no longer on the server"); }

constexpr std::size_t kLfBodiesKept = 8;

}  // namespace

// ---- reading ---------------------------------------------------------------------------

bool BodyFetcher::read_from_cache(const Message& message, std::uint64_t offset, std::size_t size, ReadDone& done) {
  if (!message.has_body) return false;
  if (core_.options.lf) {
    if (auto body = lf_body(message)) {
      done(slice(*body, offset, size));
      return true;
    }
  } else {
    // A read of the whole body asks for "as much as there is": no bigger buffer than that.
    if (message.exact_size) {
      size = static_cast<std::size_t>(
          std::min<std::uint64_t>(size, *message.exact_size - std::min(offset, *message.exact_size)));
    }
    std::string buffer(size, '\0');
    auto n = core_.cache.read_body(message.id, offset, std::span<char>(buffer.data(), buffer.size()));
    if (!n) {
      done(read_error(n.error()));
      return true;
    }
    if (n.value()) {
      buffer.resize(*n.value());
      done(std::move(buffer));
      return true;
    }
  }
  core_.names.set_has_body(message.serial, false);  // evicted meanwhile: fetch it again
  return false;
}

void BodyFetcher::read(const Message& message, std::uint64_t offset, std::size_t size, ReadDone done,
                       bool allow_prefix) {
  if (read_from_cache(message, offset, size, done)) return;
  PendingRead read{offset, size, std::move(done)};
  FetchPtr fetch;
  {
    std::unique_lock lock(mu_);
    if (stopped_) {
      lock.unlock();
      return read.done(Error(Errc::cancelled, "popfs is shutting down"));
    }
    if (auto it = fetches_.find(message.serial); it != fetches_.end()) {
      if (auto body = it->second->body) {  // complete, being stored: answer from memory
        lock.unlock();
        return read.done(slice(*body, read.offset, read.size));
      }
      it->second->waiters.push_back(std::move(read));
      return;
    }
    const std::uint64_t end = offset + size;
    const bool prefix = allow_prefix && !core_.options.lf && !core_.names.top_unsupported() &&
                        message.list_size > core_.options.prefix_read_min_size &&
                        end <= core_.options.prefix_read_limit && end * 2 <= message.list_size;
    if (!prefix) {
      fetch = start_locked(message);
      fetch->waiters.push_back(std::move(read));
    }
  }
  if (fetch) return issue(fetch);
  prefix_read(message, std::move(read));
}

void BodyFetcher::prefix_read(const Message& message, PendingRead read) {
  const std::uint64_t end = read.offset + read.size;
  const std::uint64_t header = message.stub_size.value_or(0);
  const std::uint64_t body_needed = end > header ? end - header : 0;
  // Lines of mail text are rarely shorter than 32 bytes on average; asking for a few more
  // lines than needed is cheaper than a second round trip.
  const auto lines = static_cast<std::uint32_t>(std::min<std::uint64_t>(body_needed / 32 + 64, 1u << 20));
  core_.maildrop.top(message.id, lines, [this, message, read = std::move(read)](Result<std::string> text) mutable {
    core_.tasks.post([this, message, read = std::move(read), text = std::move(text)]() mutable {
      const std::uint64_t needed = read.offset + read.size;
      if (text && text->size() >= needed) return read.done(slice(*text, read.offset, read.size));
      if (!text && text.error().code == Errc::unsupported) core_.notify(core_.names.mark_top_unsupported());
      // Too short (or no TOP): the whole message it is.
      auto now = core_.names.message(message.serial);
      if (!now) return read.done(gone_error());
      this->read(*now, read.offset, read.size, std::move(read.done), false);
    });
  });
}

std::optional<std::string> BodyFetcher::cached_body(const Message& message, std::size_t limit) {
  if (core_.options.lf || !message.has_body || !message.exact_size || *message.exact_size > limit) {
    return std::nullopt;
  }
  std::string content(static_cast<std::size_t>(*message.exact_size), '\0');
  auto n = core_.cache.read_body(message.id, 0, std::span<char>(content.data(), content.size()));
  if (!n || !n.value() || *n.value() != content.size()) return std::nullopt;
  return content;
}

std::optional<std::uint64_t> BodyFetcher::lf_size(const Message& message) {
  auto body = lf_body(message);
  if (!body) return std::nullopt;
  return body->size();
}

std::optional<std::string> BodyFetcher::read_all(const MessageId& id) {
  std::string raw;
  std::string buffer(1 << 20, '\0');
  for (;;) {
    auto n = core_.cache.read_body(id, raw.size(), std::span<char>(buffer.data(), buffer.size()));
    if (!n || !n.value()) return std::nullopt;
    if (*n.value() == 0) return raw;
    raw.append(buffer.data(), *n.value());
  }
}

void BodyFetcher::raw_body(const Message& message, std::function<void(Result<std::string>)> done) {
  if (message.has_body) {
    if (auto body = read_all(message.id)) return done(std::move(*body));
  }
  FetchPtr issue_this;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return core_.tasks.post([done] { done(Error(Errc::cancelled, "popfs is shutting down")); });
    auto it = fetches_.find(message.serial);
    const FetchPtr fetch = it != fetches_.end() ? it->second : (issue_this = start_locked(message));
    // Listeners run once the body is in the cache (or the download failed).
    fetch->listeners.push_back([this, id = message.id, done = std::move(done)](Result<void> r) {
      if (!r) return done(std::move(r).error());
      auto body = read_all(id);
      if (!body) return done(Error(Errc::io, "the message could not be kept in the cache"));
      done(std::move(*body));
    });
  }
  if (issue_this) issue(issue_this);
}

std::shared_ptr<const std::string> BodyFetcher::lf_body(const Message& message) {
  {
    std::lock_guard lock(mu_);
    for (const auto& [serial, body] : lf_bodies_) {
      if (serial == message.serial) return body;
    }
  }
  auto raw = read_all(message.id);
  if (!raw) return nullptr;
  auto converted = std::make_shared<const std::string>(to_lf(*raw));
  core_.names.learn_body(message.serial, raw->size(), converted->size());
  std::lock_guard lock(mu_);
  lf_bodies_.emplace_back(message.serial, converted);
  if (lf_bodies_.size() > kLfBodiesKept) lf_bodies_.pop_front();
  return converted;
}

// ---- read-ahead ------------------------------------------------------------------------

void BodyFetcher::note_read_start(const Message& message) {
  std::optional<std::uint64_t> previous;
  {
    std::lock_guard lock(mu_);
    if (last_read_ == message.serial) return;
    previous = last_read_;
    last_read_ = message.serial;
  }
  if (!previous) return;
  const auto before = core_.names.position(*previous);
  const auto now = core_.names.position(message.serial);
  if (before && now && *before < *now && *now - *before <= 3) prefetch_after(message);
}

void BodyFetcher::prefetch_after(const Message& message) {
  const auto candidates = core_.names.uncached_after(message.serial, core_.options.prefetch_messages);
  std::vector<FetchPtr> started;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    for (const auto& m : candidates) {
      if (fetches_.count(m.serial) != 0) continue;
      if (bytes_in_flight_ > 0 && bytes_in_flight_ + m.list_size > core_.options.prefetch_bytes) break;
      started.push_back(start_locked(m));
    }
  }
  for (const auto& f : started) issue(f);
}

void BodyFetcher::fetch_held(const std::vector<std::uint64_t>& serials) {
  {
    std::lock_guard lock(mu_);
    held_queue_.assign(serials.begin(), serials.end());
  }
  pump_held();
}

void BodyFetcher::pump_held() {
  std::vector<FetchPtr> started;
  for (;;) {
    std::uint64_t serial = 0;
    {
      std::lock_guard lock(mu_);
      if (stopped_ || held_queue_.empty()) break;
      serial = held_queue_.front();
    }
    const auto m = core_.names.message(serial);
    std::lock_guard lock(mu_);
    if (m && m->held && !m->exact_size && fetches_.count(serial) == 0) {
      // The read-ahead budget bounds the memory of bodies in flight.
      if (bytes_in_flight_ > 0 && bytes_in_flight_ + m->list_size > core_.options.prefetch_bytes) break;
      started.push_back(start_locked(*m));
    }
    if (!held_queue_.empty() && held_queue_.front() == serial) held_queue_.pop_front();
  }
  for (const auto& f : started) issue(f);
}

// ---- one fetch -------------------------------------------------------------------------

BodyFetcher::FetchPtr BodyFetcher::start_locked(const Message& message) {
  auto fetch = std::make_shared<Fetch>();
  fetch->serial = message.serial;
  fetch->id = message.id;
  fetch->list_size = message.list_size;
  fetches_[message.serial] = fetch;
  bytes_in_flight_ += fetch->list_size;
  return fetch;
}

void BodyFetcher::issue(const FetchPtr& fetch) {
  fetch->data.clear();
  // One allocation for what is kept in memory (a streamed body keeps at most this much).
  fetch->data.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(
      fetch->list_size + 64, core_.options.stream_bytes + core_.options.stream_piece_bytes)));
  fetch->received = 0;
  fetch->streaming = false;
  // Pieces of an earlier, cut attempt are queued before this: they go with the old writer.
  core_.tasks.post_to(core_.store_queue, [fetch] {
    fetch->writer.reset();
    fetch->stream_error.reset();
  });
  core_.maildrop.retr(
      fetch->id, [this, fetch](std::string_view chunk) { sink(fetch, chunk); },
      [this, fetch](Result<void> result) {
        if (result && fetch->streaming) {
          auto rest = std::make_shared<const std::string>(std::move(fetch->data));
          queue_for_store(rest->size());
          core_.tasks.post_to(core_.store_queue, [this, fetch, rest] { finish_streamed(fetch, *rest); });
          return;
        }
        // Replies leave the maildrop's thread: its thread is for the network.
        core_.tasks.post([this, fetch, result = std::move(result)]() mutable {
          if (result) return arrived(fetch);
          failed(fetch, std::move(result).error());
        });
      });
}

void BodyFetcher::sink(const FetchPtr& fetch, std::string_view chunk) {
  fetch->data.append(chunk);
  fetch->received += chunk.size();
  if (fetch->received > core_.options.stream_bytes) fetch->streaming = true;
  if (fetch->streaming && fetch->data.size() >= core_.options.stream_piece_bytes) {
    auto piece = std::make_shared<const std::string>(std::move(fetch->data));
    fetch->data = std::string();
    fetch->data.reserve(core_.options.stream_piece_bytes + 64 * 1024);
    queue_for_store(piece->size());
    core_.tasks.post_to(core_.store_queue, [this, fetch, piece] { stream_piece(fetch, *piece); });
  }
}

// Waits while the store queue is over its budget, unless this thread is one the queue
// itself needs (then the budget is only counted).
void BodyFetcher::queue_for_store(std::uint64_t bytes) {
  std::unique_lock lock(store_mu_);
  if (!core_.tasks.executor().running_in_this_thread()) {
    store_room_.wait_for(lock, std::chrono::minutes(5), [&] {
      return store_queued_bytes_ == 0 || store_queued_bytes_ + bytes <= core_.options.store_queue_bytes;
    });
  }
  store_queued_bytes_ += bytes;
}

void BodyFetcher::stored(std::uint64_t bytes) {
  {
    std::lock_guard lock(store_mu_);
    store_queued_bytes_ -= std::min(store_queued_bytes_, bytes);
  }
  store_room_.notify_all();
}

void BodyFetcher::arrived(const FetchPtr& fetch) {
  // Readers get the bytes first (from memory), the cache gets them after: a reader never
  // waits for the store's sync. Until the commit, readers are served from fetch->body.
  auto raw = std::make_shared<const std::string>(std::move(fetch->data));
  auto presented = core_.options.lf ? std::make_shared<const std::string>(to_lf(*raw)) : raw;
  // The size first: a reader served from fetch->body must stat the exact size afterwards.
  core_.notify(core_.names.learn_body(fetch->serial, raw->size(),
                                      core_.options.lf ? std::optional<std::uint64_t>(presented->size()) : std::nullopt));
  std::vector<PendingRead> waiters;
  {
    std::lock_guard lock(mu_);
    fetch->body = presented;
    waiters = std::move(fetch->waiters);
    if (core_.options.lf) {
      lf_bodies_.emplace_back(fetch->serial, presented);
      if (lf_bodies_.size() > kLfBodiesKept) lf_bodies_.pop_front();
    }
  }
  for (auto& w : waiters) w.done(slice(*presented, w.offset, w.size));
  queue_for_store(raw->size());
  core_.tasks.post_to(core_.store_queue, [this, fetch, raw] { store_whole(fetch, raw); });
}

void BodyFetcher::store_whole(const FetchPtr& fetch, std::shared_ptr<const std::string> raw) {
  // Store only for messages still listed: a vanished message's body would never be read.
  const auto listed = core_.names.message(fetch->serial);
  bool ok = false;
  if (listed) {
    auto writer = core_.cache.begin_body(fetch->id);
    ok = writer && writer.value()->append(*raw) && writer.value()->commit();
  }
  stored(raw->size());
  core_.names.set_has_body(fetch->serial, ok);
  Waiting waiting;
  {
    std::lock_guard lock(mu_);
    waiting = end_locked(fetch);
  }
  // Readers use fetch->body meanwhile: none expected here.
  for (auto& w : waiting.readers) w.done(slice(*fetch->body, w.offset, w.size));
  for (auto& l : waiting.listeners) l(Result<void>{});
  pump_held();
}

void BodyFetcher::stream_piece(const FetchPtr& fetch, const std::string& piece) {
  stored(piece.size());
  if (fetch->stream_error) return;
  if (!fetch->writer) {
    auto writer = core_.cache.begin_body(fetch->id);
    if (!writer) {
      fetch->stream_error = writer.error();
      return;
    }
    fetch->writer = std::move(writer).value();
  }
  if (auto r = fetch->writer->append(piece); !r) fetch->stream_error = r.error();
}

// The last piece of a streamed body arrived: commit it, then answer its readers from the cache.
void BodyFetcher::finish_streamed(const FetchPtr& fetch, const std::string& rest) {
  stream_piece(fetch, rest);
  Result<void> committed = fetch->stream_error ? Result<void>(*fetch->stream_error)
                           : fetch->writer     ? fetch->writer->commit()
                                               : Result<void>(Error(Errc::cache, "nothing was staged"));
  fetch->writer.reset();
  if (!committed) spdlog::warn("could not store a downloaded message in the cache: {}", committed.error().describe());
  const Result<void> outcome =
      committed ? Result<void>{}
                : Result<void>(Error(Errc::io, "could not store the message in the cache: " + committed.error().describe()));
  core_.notify(core_.names.learn_body(fetch->serial, fetch->received, std::nullopt));
  core_.names.set_has_body(fetch->serial, committed.ok());
  Waiting waiting;
  {
    std::lock_guard lock(mu_);
    waiting = end_locked(fetch);
  }
  // Replies leave this queue: a reader must not wait for the next message's disk writes.
  core_.tasks.post([this, serial = fetch->serial, outcome, waiting = std::move(waiting)]() mutable {
    for (auto& w : waiting.readers) {
      if (!outcome) {
        w.done(outcome.error());
        continue;
      }
      auto m = core_.names.message(serial);
      if (!m || !read_from_cache(*m, w.offset, w.size, w.done)) w.done(gone_error());
    }
    for (auto& l : waiting.listeners) l(outcome);
  });
  pump_held();
}

void BodyFetcher::failed(const FetchPtr& fetch, Error error) {
  std::unique_lock lock(mu_);
  // A cut download is thrown away; one more try for readers waiting on it.
  if (!fetch->retried && !stopped_ && !fetch->waiters.empty() && worth_retrying(error)) {
    fetch->retried = true;
    lock.unlock();
    return issue(fetch);
  }
  Waiting waiting = end_locked(fetch);
  lock.unlock();
  core_.report_error(error);
  for (auto& w : waiting.readers) w.done(read_error(error));
  for (auto& l : waiting.listeners) l(error);
  pump_held();
}

BodyFetcher::Waiting BodyFetcher::end_locked(const FetchPtr& fetch) {
  if (auto it = fetches_.find(fetch->serial); it != fetches_.end() && it->second == fetch) fetches_.erase(it);
  bytes_in_flight_ -= std::min(bytes_in_flight_, fetch->list_size);
  return Waiting{std::move(fetch->waiters), std::move(fetch->listeners)};
}

void BodyFetcher::stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  held_queue_.clear();
}

// ---- sync ------------------------------------------------------------------------------

namespace {
struct SyncJob {
  std::deque<Message> queue;
  SyncProgress progress;
  std::uint32_t in_flight = 0;
  std::function<void(SyncProgress)> on_progress;
  std::function<void(Result<void>)> on_done;
  std::optional<Error> first_error;
  std::mutex mu;
};
constexpr std::uint32_t kSyncInFlight = 16;
}  // namespace

void BodyFetcher::sync(std::function<void(SyncProgress)> progress, std::function<void(Result<void>)> done) {
  auto job = std::make_shared<SyncJob>();
  job->on_progress = std::move(progress);
  job->on_done = std::move(done);
  for (auto& m : core_.names.visible_messages()) {
    if (m.has_body) continue;
    job->progress.total_messages++;
    job->progress.total_bytes += m.list_size;
    job->queue.push_back(std::move(m));
  }
  if (job->queue.empty()) {
    core_.tasks.post([job] {
      if (job->on_progress) job->on_progress(job->progress);
      if (job->on_done) job->on_done(Result<void>{});
    });
    return;
  }
  // Keeps kSyncInFlight downloads going; each completion launches the next.
  auto launch = std::make_shared<std::function<void()>>();
  *launch = [this, job, weak = std::weak_ptr<std::function<void()>>(launch)] {
    for (;;) {
      Message m;
      {
        std::lock_guard lock(job->mu);
        if (job->in_flight >= kSyncInFlight || job->queue.empty()) return;
        m = std::move(job->queue.front());
        job->queue.pop_front();
        job->in_flight++;
      }
      auto listener = [job, self = weak.lock(), size = m.list_size](Result<void> r) {
        SyncProgress snapshot;
        bool finished = false;
        {
          std::lock_guard lock(job->mu);
          job->in_flight--;
          job->progress.done_messages++;
          job->progress.done_bytes += size;
          if (!r) {
            job->progress.failed_messages++;
            if (!job->first_error) job->first_error = r.error();
          }
          finished = job->in_flight == 0 && job->queue.empty();
          snapshot = job->progress;
        }
        if (self && !finished) (*self)();
        if (job->on_progress) job->on_progress(snapshot);
        if (!finished || !job->on_done) return;
        if (job->first_error) {
          job->on_done(Error(job->first_error->code, std::to_string(snapshot.failed_messages) +
                                                         " messages could not be fetched: " + job->first_error->message));
        } else {
          job->on_done(Result<void>{});
        }
      };
      const auto now = core_.names.message(m.serial);
      if (!now || now->has_body) {
        core_.tasks.post([listener] { listener(Result<void>{}); });
        continue;
      }
      FetchPtr issue_this;
      {
        std::lock_guard lock(mu_);
        auto it = fetches_.find(m.serial);
        FetchPtr fetch = it != fetches_.end() ? it->second : (issue_this = start_locked(*now));
        fetch->listeners.push_back(listener);
      }
      if (issue_this) issue(issue_this);
    }
  };
  (*launch)();
  // The listeners hold `launch` alive (through `self`) until the job ends.
}

}  // namespace popfs::fs
