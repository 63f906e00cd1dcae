// Filesystem: getting bytes. One RETR per message shared by all its readers, read-ahead for
// sequential readers, TOP prefixes for the first bytes of big messages, header stubs.

#include <spdlog/spdlog.h>

#include <algorithm>

#include "filesystem_impl.hpp"
#include "popfs/fs/header_fields.hpp"
#include "popfs/fs/mail_date.hpp"

namespace popfs::fs {
namespace {

std::string slice(const std::string& data, std::uint64_t offset, std::size_t size) {
  if (offset >= data.size()) return {};
  return data.substr(static_cast<std::size_t>(offset), size);
}

bool worth_retrying(const Error& e) {
  return e.code == Errc::connection || e.code == Errc::timeout || e.code == Errc::temporary;
}

Error read_error(const Error& e) {
  return Error(Errc::io, "could not fetch the message: " + e.describe());
}

constexpr std::size_t kLfBodiesKept = 8;

}  // namespace

std::string Filesystem::Impl::present(std::string body) const {
  if (!options.lf) return body;
  std::string out;
  out.reserve(body.size());
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\r' && i + 1 < body.size() && body[i + 1] == '\n') continue;
    out += body[i];
  }
  return out;
}

void Filesystem::Impl::read_message(const MessageId& id, std::uint64_t offset, std::size_t size,
                                    ReadDone done, bool allow_prefix) {
  std::unique_lock lock(mu);
  if (stopped) {
    lock.unlock();
    return done(Error(Errc::cancelled, "popfs is shutting down"));
  }
  MessageState* s = mutable_state(id);
  if (s == nullptr) {
    lock.unlock();
    return done(Error(Errc::not_found, "the message is no longer on the server"));
  }
  if (offset == 0) {
    note_read_start(id, *s);
    push_ahead(id, false);  // with opens skipped, this read missed the page cache
  }
  if (s->record.has_body) {
    lock.unlock();
    if (options.lf) {
      if (auto body = lf_body(id)) return done(slice(**body, offset, size));
    } else {
      std::string buffer(size, '\0');
      auto n = cache.read_body(id, offset, std::span<char>(buffer.data(), buffer.size()));
      if (!n) return done(read_error(n.error()));
      if (n.value()) {
        buffer.resize(*n.value());
        return done(std::move(buffer));
      }
    }
    lock.lock();
    s = mutable_state(id);  // evicted from the cache meanwhile: fetch again
    if (s == nullptr) {
      lock.unlock();
      return done(Error(Errc::not_found, "the message is no longer on the server"));
    }
    s->record.has_body = false;
    forget_prefetch_scan();
  }
  PendingRead read{offset, size, std::move(done)};
  if (auto it = fetches.find(id); it != fetches.end()) {
    if (auto body = it->second->body) {  // complete, being stored: answer from memory
      lock.unlock();
      return read.done(slice(*body, read.offset, read.size));
    }
    it->second->waiters.push_back(std::move(read));
    return;
  }
  const std::uint64_t end = offset + size;
  if (allow_prefix && !options.lf && !top_unsupported &&
      s->record.list_size > options.prefix_read_min_size && end <= options.prefix_read_limit &&
      end * 2 <= s->record.list_size) {
    return try_prefix_read(id, s->record.list_size, std::move(read));
  }
  start_fetch(id, std::move(read));
}

void Filesystem::Impl::try_prefix_read(const MessageId& id, std::uint64_t list_size, PendingRead read) {
  (void)list_size;
  const MessageState* s = mutable_state(id);
  const std::uint64_t end = read.offset + read.size;
  const std::uint64_t header = s != nullptr && s->stub_size ? *s->stub_size : 0;
  const std::uint64_t body_needed = end > header ? end - header : 0;
  // Lines of mail text are rarely shorter than 32 bytes on average; asking for a few more
  // lines than needed is cheaper than a second round trip.
  const auto lines = static_cast<std::uint32_t>(std::min<std::uint64_t>(body_needed / 32 + 64, 1u << 20));
  maildrop.top(id, lines, [this, id, read = std::move(read)](Result<std::string> text) mutable {
    worker.post([this, id, read = std::move(read), text = std::move(text)]() mutable {
      const std::uint64_t needed = read.offset + read.size;
      if (text && text->size() >= needed) return read.done(slice(*text, read.offset, read.size));
      if (!text && text.error().code == Errc::unsupported) {
        Notes notes;
        {
          std::lock_guard lock(mu);
          mark_top_unsupported(notes);
        }
        send(notes);
      }
      // Too short (or no TOP): the whole message it is.
      read_message(id, read.offset, read.size, std::move(read.done), false);
    });
  });
}

std::shared_ptr<BodyFetch> Filesystem::Impl::start_fetch(const MessageId& id, std::optional<PendingRead> waiter) {
  auto fetch = std::make_shared<BodyFetch>();
  fetch->id = id;
  if (const MessageState* s = mutable_state(id)) fetch->list_size = s->record.list_size;
  if (waiter) fetch->waiters.push_back(std::move(*waiter));
  if (stopped) {
    worker.post([this, fetch] { on_fetch_failed(fetch, Error(Errc::cancelled, "popfs is shutting down")); });
    fetches[id] = fetch;
    bytes_in_flight += fetch->list_size;
    return fetch;
  }
  fetches[id] = fetch;
  bytes_in_flight += fetch->list_size;
  issue_retr(fetch);
  return fetch;
}

void Filesystem::Impl::issue_retr(const std::shared_ptr<BodyFetch>& fetch) {
  fetch->data.clear();
  // One allocation for what is kept in memory (a streamed body keeps at most this much).
  fetch->data.reserve(static_cast<std::size_t>(
      std::min<std::uint64_t>(fetch->list_size + 64, options.stream_bytes + options.stream_piece_bytes)));
  fetch->received = 0;
  fetch->streaming = false;
  // Pieces of an earlier, cut attempt are queued before this: they go with the old writer.
  store_worker.post([fetch] {
    fetch->writer.reset();
    fetch->stream_error.reset();
  });
  maildrop.retr(
      fetch->id,
      [this, fetch](std::string_view chunk) {
        fetch->data.append(chunk);
        fetch->received += chunk.size();
        if (fetch->received > options.stream_bytes) fetch->streaming = true;
        if (fetch->streaming && fetch->data.size() >= options.stream_piece_bytes) {
          auto piece = std::make_shared<const std::string>(std::move(fetch->data));
          fetch->data = std::string();
          fetch->data.reserve(options.stream_piece_bytes + 64 * 1024);
          store_worker.post([this, fetch, piece] { stream_piece(fetch, *piece); });
        }
      },
      [this, fetch](Result<void> result) {
        if (result && fetch->streaming) {
          auto rest = std::make_shared<const std::string>(std::move(fetch->data));
          store_worker.post([this, fetch, rest] { finish_streamed(fetch, *rest); });
          return;
        }
        // Success is handled right here on the maildrop's thread (replies only, no disk):
        // readers must not queue behind the cache writes of other messages.
        if (result) return on_body_arrived(fetch);
        worker.post([this, fetch, result = std::move(result)]() mutable { on_fetch_failed(fetch, std::move(result)); });
      });
}

void Filesystem::Impl::stream_piece(const std::shared_ptr<BodyFetch>& fetch, const std::string& piece) {
  if (fetch->stream_error) return;
  if (!fetch->writer) {
    auto writer = cache.begin_body(fetch->id);
    if (!writer) {
      fetch->stream_error = writer.error();
      return;
    }
    fetch->writer = std::move(writer).value();
  }
  if (auto r = fetch->writer->append(piece); !r) fetch->stream_error = r.error();
}

// The last piece of a streamed body arrived: commit it, then answer its readers from the cache.
void Filesystem::Impl::finish_streamed(const std::shared_ptr<BodyFetch>& fetch, const std::string& rest) {
  stream_piece(fetch, rest);
  Result<void> stored = fetch->stream_error ? Result<void>(*fetch->stream_error)
                       : fetch->writer       ? fetch->writer->commit()
                                             : Result<void>(Error(Errc::cache, "nothing was staged"));
  fetch->writer.reset();
  if (!stored) spdlog::warn("could not store a downloaded message in the cache: {}", stored.error().describe());
  const Result<void> outcome =
      stored ? Result<void>{} : Result<void>(Error(Errc::io, "could not store the message in the cache: " +
                                                              stored.error().describe()));
  Notes notes;
  FetchWaiters waiting;
  {
    std::lock_guard lock(mu);
    learn_body_size(fetch->id, fetch->received, nullptr, notes);
    if (MessageState* s = mutable_state(fetch->id)) s->record.has_body = stored.ok();
    waiting = end_fetch(fetch, stored.ok());
  }
  send(notes);
  // Replies leave this thread: a reader must not wait for the next message's disk writes.
  worker.post([this, id = fetch->id, outcome, waiting = std::move(waiting)]() mutable {
    for (auto& w : waiting.readers) {
      if (outcome) {
        read_message(id, w.offset, w.size, std::move(w.done), false);
      } else {
        w.done(outcome.error());
      }
    }
    for (auto& l : waiting.listeners) l(outcome);
  });
}

void Filesystem::Impl::on_fetch_failed(const std::shared_ptr<BodyFetch>& fetch, Result<void> result) {
  std::unique_lock lock(mu);
  // A cut download is thrown away; one more try for readers waiting on it.
  if (!fetch->retried && !stopped && !fetch->waiters.empty() && worth_retrying(result.error())) {
    fetch->retried = true;
    issue_retr(fetch);
    return;
  }
  set_last_error(result.error());
  FetchWaiters waiting = end_fetch(fetch, false);
  lock.unlock();
  for (auto& w : waiting.readers) w.done(read_error(result.error()));
  for (auto& l : waiting.listeners) l(result.error());
}

void Filesystem::Impl::on_body_arrived(const std::shared_ptr<BodyFetch>& fetch) {
  // Readers get the bytes first (from memory), the cache gets them after: a reader never
  // waits for the store's sync. Until the commit, readers are served from fetch->body.
  auto raw = std::make_shared<const std::string>(std::move(fetch->data));
  auto presented = options.lf ? std::make_shared<const std::string>(present(*raw)) : raw;

  Notes notes;
  std::vector<PendingRead> waiters;
  {
    std::lock_guard lock(mu);
    fetch->body = presented;
    learn_body_size(fetch->id, raw->size(), options.lf ? presented : nullptr, notes);
    waiters = std::move(fetch->waiters);
  }
  send(notes);
  for (auto& w : waiters) w.done(slice(*presented, w.offset, w.size));
  store_worker.post([this, fetch, raw] { store_body(fetch, *raw); });
}

void Filesystem::Impl::store_body(const std::shared_ptr<BodyFetch>& fetch, const std::string& raw) {
  bool listed = false;
  {
    std::lock_guard lock(mu);
    listed = messages.count(fetch->id) != 0;
  }
  // Store only for messages still listed: a vanished message's body would never be read.
  bool stored = false;
  if (listed) {
    auto writer = cache.begin_body(fetch->id);
    if (writer && writer.value()->append(raw) && writer.value()->commit()) stored = true;
  }
  FetchWaiters waiting;
  {
    std::lock_guard lock(mu);
    if (MessageState* s = mutable_state(fetch->id)) s->record.has_body = stored;
    waiting = end_fetch(fetch, stored);
  }
  // Readers use fetch->body meanwhile: none expected here.
  for (auto& w : waiting.readers) w.done(slice(*fetch->body, w.offset, w.size));
  for (auto& l : waiting.listeners) l(Result<void>{});
}

void Filesystem::Impl::learn_body_size(const MessageId& id, std::uint64_t raw_size,
                                       const std::shared_ptr<const std::string>& lf_body, Notes& notes) {
  MessageState* s = mutable_state(id);
  if (s == nullptr) return;
  const Attr before = message_attr(*s);
  s->record.exact_size = raw_size;
  if (lf_body) {
    s->lf_size = lf_body->size();
    lf_bodies.emplace_back(id, lf_body);
    if (lf_bodies.size() > kLfBodiesKept) lf_bodies.pop_front();
  }
  const Attr after = message_attr(*s);
  if (!before.size_exact || before.size != after.size) notes.inodes.push_back(after.ino);
  note_sizes(id, notes);
}

FetchWaiters Filesystem::Impl::end_fetch(const std::shared_ptr<BodyFetch>& fetch, bool stored) {
  fetches.erase(fetch->id);
  // A stored body keeps the read-ahead scan valid; anything else may leave a gap in it.
  if (!stored) forget_prefetch_scan();
  bytes_in_flight -= std::min(bytes_in_flight, fetch->list_size);
  pump_held();  // the budget has room again
  return FetchWaiters{std::move(fetch->waiters), std::move(fetch->listeners)};
}

void Filesystem::Impl::note_read_start(const MessageId& id, const MessageState& s) {
  // A reader that moved on to the next file(s) in directory order is reading sequentially
  // (cp -r, tar, grep -r): fetch ahead so the maildrop can pipeline the RETRs.
  if (last_read == id) return;
  if (last_read) {
    const MessageState* previous = mutable_state(*last_read);
    if (previous != nullptr && previous->index < s.index && s.index - previous->index <= 3) {
      prefetch_after(s.index);
    }
  }
  last_read = id;
}

void Filesystem::Impl::prefetch_after(std::size_t index) {
  const std::size_t last = std::min<std::size_t>(order.size(), index + 1 + options.prefetch_messages);
  const std::size_t first = index + 1;
  // Skip the part of the window known to need nothing (see prefetch_clean_*).
  const bool inside = prefetch_clean_from <= first && first <= prefetch_clean_until;
  std::size_t j = inside ? prefetch_clean_until : first;
  for (; j < last; ++j) {
    const MessageState& s = messages.at(order[j]);
    if (s.record.has_body || fetches.count(s.record.id) != 0) continue;
    if (bytes_in_flight > 0 && bytes_in_flight + s.record.list_size > options.prefetch_bytes) break;
    start_fetch(s.record.id, std::nullopt);
  }
  if (!inside) prefetch_clean_from = first;
  prefetch_clean_until = std::max(j, prefetch_clean_from);
}

std::optional<std::shared_ptr<const std::string>> Filesystem::Impl::lf_body(const MessageId& id) {
  {
    std::lock_guard lock(mu);
    for (const auto& [cached_id, body] : lf_bodies) {
      if (cached_id == id) return body;
    }
  }
  std::string raw;
  std::string buffer(1 << 20, '\0');
  for (;;) {
    auto n = cache.read_body(id, raw.size(), std::span<char>(buffer.data(), buffer.size()));
    if (!n || !n.value()) return std::nullopt;
    if (*n.value() == 0) break;
    raw.append(buffer.data(), *n.value());
  }
  auto converted = std::make_shared<const std::string>(present(std::move(raw)));
  std::lock_guard lock(mu);
  if (MessageState* s = mutable_state(id)) s->lf_size = converted->size();
  lf_bodies.emplace_back(id, converted);
  if (lf_bodies.size() > kLfBodiesKept) lf_bodies.pop_front();
  return converted;
}

// ---- header stubs ----

void Filesystem::Impl::read_stub(const MessageId& id, std::uint64_t offset, std::size_t size, ReadDone done) {
  std::unique_lock lock(mu);
  // Local answers inline (no hop through the worker): grep over .headers/* reads thousands.
  std::shared_ptr<const std::string> arrived;
  if (auto it = stub_fetches.find(id); it != stub_fetches.end()) arrived = it->second->text;
  const MessageState* s = mutable_state(id);
  if (offset == 0) push_ahead(id, true);  // with opens skipped, this read missed the page cache
  if (arrived) {
    lock.unlock();
    return done(slice(present(*arrived), offset, size));
  }
  if (s != nullptr && s->record.has_stub) {
    lock.unlock();
    auto stub = cache.stub(id);
    if (stub && stub.value()) return done(slice(present(std::move(*stub.value())), offset, size));
    lock.lock();
  }
  fetch_stub(id, [this, offset, size, done = std::move(done)](Result<std::string> stub) {
    if (!stub) return done(Error(Errc::io, "could not fetch the header: " + stub.error().describe()));
    done(slice(present(std::move(*stub)), offset, size));
  });
}

void Filesystem::Impl::fetch_stub(const MessageId& id, std::function<void(Result<std::string>)> done) {
  MessageState* s = mutable_state(id);
  if (s == nullptr) {
    if (done) worker.post([done] { done(Error(Errc::not_found, "the message is no longer on the server")); });
    return;
  }
  if (s->record.has_stub) {
    worker.post([this, id, done = std::move(done)]() mutable {
      auto stub = cache.stub(id);
      if (!stub) {
        if (done) done(stub.error());
        return;
      }
      if (stub.value()) {
        if (done) done(std::move(*stub.value()));
        return;
      }
      Notes notes;
      {
        std::lock_guard lock(mu);
        if (MessageState* m = mutable_state(id)) {
          m->record.has_stub = false;  // the cache lost it: its size is not known any more
          note_sizes(id, notes);
          fetch_stub(id, std::move(done));
        } else if (done) {
          worker.post([done] { done(Error(Errc::not_found, "the message is no longer on the server")); });
        }
      }
      send(notes);
    });
    return;
  }
  if (auto it = stub_fetches.find(id); it != stub_fetches.end()) {
    if (auto text = it->second->text) {  // arrived, being stored
      if (done) worker.post([done, text] { done(*text); });
    } else if (done) {
      it->second->waiters.push_back(std::move(done));
    }
    return;
  }
  if (top_unsupported || stopped) {
    if (done) {
      worker.post([done] { done(Error(Errc::unsupported, "the server does not support TOP")); });
    }
    return;
  }
  auto fetch = std::make_shared<StubFetch>();
  if (done) fetch->waiters.push_back(std::move(done));
  stub_fetches[id] = fetch;
  maildrop.top(id, 0, [this, id](Result<std::string> text) { on_stub_arrived(id, std::move(text)); });
}

// On the maildrop's thread: memory and replies only; the cache write goes to store_worker.
void Filesystem::Impl::on_stub_arrived(const MessageId& id, Result<std::string> result) {
  std::optional<std::int64_t> date;
  std::shared_ptr<const std::string> text;
  if (result) {
    if (auto field = header_field(*result, "Date")) date = parse_mail_date(*field);
    text = std::make_shared<const std::string>(std::move(*result));
  }
  Notes notes;
  std::vector<std::function<void(Result<std::string>)>> waiters;
  bool listed = false;
  {
    std::lock_guard lock(mu);
    auto it = stub_fetches.find(id);
    if (it != stub_fetches.end()) {
      waiters = std::move(it->second->waiters);
      if (text) {
        it->second->text = text;
      } else {
        stub_fetches.erase(it);
      }
    }
    if (text) {
      if (MessageState* s = mutable_state(id)) {
        s->stub_size = present(*text).size();
        if (date) s->record.mtime = *date;
        notes.inodes.push_back(message_inode(s->record));
        notes.inodes.push_back(stub_inode(s->record));
        note_sizes(id, notes);
      }
    } else if (result.error().code == Errc::unsupported) {
      mark_top_unsupported(notes);
    }
    // Attribute calls wait for stubs only while the server answers.
    server_reachable = text || result.error().code == Errc::message_gone || result.error().code == Errc::unsupported;
    listed = messages.count(id) != 0;
    pump_stub_queue();
  }
  send(notes);
  for (auto& w : waiters) {
    if (text) {
      w(*text);
    } else {
      w(result.error());
    }
  }
  if (!text) return;
  store_worker.post([this, id, text, date, listed] {
    const bool stored = listed && cache.put_stub(id, *text, date).ok();
    std::lock_guard lock(mu);
    if (MessageState* s = mutable_state(id)) s->record.has_stub = stored;
    stub_fetches.erase(id);
  });
}

void Filesystem::Impl::pump_stub_queue() {
  if (top_unsupported || stopped) {
    stub_queue.clear();
    return;
  }
  while (stub_fetches.size() < options.max_stub_requests_in_flight && !stub_queue.empty()) {
    const MessageId id = std::move(stub_queue.front());
    stub_queue.pop_front();
    auto it = messages.find(id);
    if (it == messages.end() || it->second.record.has_stub || stub_fetches.count(id) != 0) continue;
    fetch_stub(id, {});
  }
}

// ---- sync ----

namespace {
struct SyncJob {
  std::deque<MessageId> queue;
  SyncProgress progress;
  std::uint32_t in_flight = 0;
  std::function<void(SyncProgress)> on_progress;
  std::function<void(Result<void>)> on_done;
  std::optional<Error> first_error;
};
constexpr std::uint32_t kSyncInFlight = 16;
}  // namespace

void Filesystem::sync(std::function<void(SyncProgress)> progress, std::function<void(Result<void>)> done) {
  auto& d = *impl_;
  auto job = std::make_shared<SyncJob>();
  job->on_progress = std::move(progress);
  job->on_done = std::move(done);
  std::lock_guard lock(d.mu);
  for (const auto& id : d.order) {
    const MessageState& s = d.messages.at(id);
    if (s.record.has_body) continue;
    job->queue.push_back(id);
    job->progress.total_messages++;
    job->progress.total_bytes += s.record.list_size;
  }
  // Launches more work; called with mu held. Completions come on the worker.
  auto launch = std::make_shared<std::function<void()>>();
  *launch = [&d, job, weak = std::weak_ptr<std::function<void()>>(launch)] {
    auto self = weak.lock();
    while (job->in_flight < kSyncInFlight && !job->queue.empty()) {
      const MessageId id = job->queue.front();
      job->queue.pop_front();
      MessageState* s = d.mutable_state(id);
      if (s == nullptr || s->record.has_body) {
        job->progress.done_messages++;
        continue;
      }
      const std::uint64_t size = s->record.list_size;
      auto it = d.fetches.find(id);
      auto fetch = it != d.fetches.end() ? it->second : d.start_fetch(id, std::nullopt);
      job->in_flight++;
      fetch->listeners.push_back([&d, job, self, size](Result<void> r) {
        std::unique_lock relock(d.mu);
        job->in_flight--;
        job->progress.done_messages++;
        job->progress.done_bytes += size;
        if (!r) {
          job->progress.failed_messages++;
          if (!job->first_error) job->first_error = r.error();
        }
        if (self) (*self)();
        const bool finished = job->in_flight == 0 && job->queue.empty();
        const SyncProgress snapshot = job->progress;
        relock.unlock();
        if (job->on_progress) job->on_progress(snapshot);
        if (finished && job->on_done) {
          if (job->first_error) {
            job->on_done(Error(job->first_error->code,
                               std::to_string(snapshot.failed_messages) + " messages could not be fetched: " +
                                   job->first_error->message));
          } else {
            job->on_done(Result<void>{});
          }
        }
      });
    }
  };
  (*launch)();
  if (job->in_flight == 0 && job->queue.empty()) {
    // Nothing to fetch at all (everything cached).
    d.worker.post([job] {
      if (job->on_progress) job->on_progress(job->progress);
      if (job->on_done) job->on_done(Result<void>{});
    });
  }
  // The listeners hold `launch` alive through `self` until the job ends.
  d.worker.post([launch] {});
}

}  // namespace popfs::fs
