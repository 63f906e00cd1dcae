// Filesystem: work nobody waits for. Listings (start, poll, refresh) and their diff, UIDL
// resets, the deletion queue with retries, status and shutdown.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "filesystem_impl.hpp"

namespace popfs::fs {
namespace {

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void Filesystem::Impl::set_last_error(const Error& e) { last_error = e.describe(); }

Result<void> Filesystem::start() {
  auto& d = *impl_;
  auto records = d.cache.listing();
  if (!records) return records.error();
  auto pending = d.cache.pending_deletions();
  if (!pending) return pending.error();
  {
    std::lock_guard lock(d.mu);
    if (d.started) return Error(Errc::invalid_argument, "Filesystem::start called twice");
    d.started = true;
    d.pending_deletions.insert(pending->begin(), pending->end());
    std::vector<std::pair<std::uint64_t, std::string>> vanished;
    d.install_listing(*records, vanished);
    d.next_poll = std::chrono::steady_clock::now() + d.options.poll;
    // Deletions recorded by an earlier run that did not get to commit them.
    if (!d.pending_deletions.empty()) d.schedule_commit(std::chrono::milliseconds(0));
  }
  d.timer = std::thread([&d] { d.timer_loop(); });
  d.request_refresh({});
  return {};
}

void Filesystem::refresh(std::function<void(Result<void>)> done) { impl_->request_refresh(std::move(done)); }

void Filesystem::Impl::request_refresh(std::function<void(Result<void>)> done) {
  {
    std::lock_guard lock(mu);
    if (stopped) {
      if (done) worker.post([done] { done(Error(Errc::cancelled, "popfs is shutting down")); });
      return;
    }
    if (done) refresh_waiters.push_back(std::move(done));
    if (refresh_in_flight) return;
    refresh_in_flight = true;
    activity = false;
    next_poll = std::chrono::steady_clock::now() + options.poll;
  }
  maildrop.list([this](Result<mailbox::Listing> listing) {
    worker.post([this, listing = std::move(listing)]() mutable { on_listing(std::move(listing)); });
  });
}

void Filesystem::Impl::on_listing(Result<mailbox::Listing> listing) {
  auto fail = [this](const Error& e) {
    std::vector<std::function<void(Result<void>)>> waiters;
    {
      std::lock_guard lock(mu);
      set_last_error(e);
      server_reachable = false;
      refresh_in_flight = false;
      waiters = std::move(refresh_waiters);
    }
    spdlog::warn("listing the mailbox failed, serving the cached listing: {}", e.describe());
    for (auto& w : waiters) w(e);
  };
  if (!listing) return fail(listing.error());

  std::vector<store::ListedMessage> listed;
  listed.reserve(listing->messages.size());
  for (const auto& m : listing->messages) listed.push_back({m.id, m.size});

  // A wholesale UIDL change (the server rebuilt its index) is a reset, not N new messages
  // and N deletions: start the cache over.
  auto old = cache.listing();
  if (!old) return fail(old.error());
  if (!old->empty() && !listed.empty()) {
    std::set<std::string> old_uidls;
    for (const auto& r : *old) old_uidls.insert(r.id.uidl);
    const bool any_survives = std::any_of(listed.begin(), listed.end(),
                                          [&](const auto& m) { return old_uidls.count(m.id.uidl) != 0; });
    if (!any_survives) {
      spdlog::warn("every UIDL on the server changed ({} old, {} new): resetting the cache", old->size(),
                   listed.size());
      if (auto r = cache.reset(); !r) return fail(r.error());
      std::lock_guard lock(mu);
      pending_deletions.clear();
      committed_deletions.clear();
    }
  }
  auto records = cache.apply_listing(listed, now_seconds());
  if (!records) return fail(records.error());

  Notes notes;
  std::vector<std::function<void(Result<void>)>> waiters;
  {
    std::lock_guard lock(mu);
    std::set<std::string> before;
    for (const auto& [id, s] : messages) {
      if (!s.held) before.insert(s.name);
    }
    std::vector<std::pair<std::uint64_t, std::string>> vanished;
    install_listing(*records, vanished);
    bool appeared = false;
    for (const auto& [id, s] : messages) appeared = appeared || (!s.held && before.count(s.name) == 0);
    notes.entries = std::move(vanished);
    if (appeared || !notes.entries.empty()) {
      notes.inodes.push_back(kRootInode);
      notes.inodes.push_back(kHeadersInode);
    }
    last_refresh = std::chrono::system_clock::now();
    last_error.clear();
    server_reachable = true;
    refresh_in_flight = false;
    waiters = std::move(refresh_waiters);
    if (options.prefetch_stubs) {
      for (const auto& id : order) {
        if (!messages.at(id).record.has_stub) stub_queue.push_back(id);
      }
      pump_stub_queue();
    }
    pump_held();
  }
  (void)cache.set_meta("last_refresh", std::to_string(now_seconds()));
  send(notes);
  for (auto& w : waiters) w(Result<void>{});
}

// ---- deletions ----

void Filesystem::Impl::schedule_commit(std::chrono::milliseconds delay) {
  const auto at = std::chrono::steady_clock::now() + delay;
  if (!next_commit || at < *next_commit) next_commit = at;
  cv.notify_all();
}

void Filesystem::Impl::start_commit() {
  if (stopped || commit_in_flight || pending_deletions.empty()) return;
  commit_in_flight = true;
  std::vector<MessageId> ids(pending_deletions.begin(), pending_deletions.end());
  maildrop.commit_deletions(std::move(ids), [this](Result<std::vector<MessageId>> result) {
    worker.post([this, result = std::move(result)]() mutable { on_commit_done(std::move(result)); });
  });
}

void Filesystem::Impl::on_commit_done(Result<std::vector<MessageId>> result) {
  if (result) {
    if (auto r = cache.remove_pending_deletions(*result); !r) {
      spdlog::warn("could not clear committed deletions from the cache: {}", r.error().describe());
    }
  } else {
    spdlog::warn("committing deletions failed, will retry: {}", result.error().describe());
  }
  std::lock_guard lock(mu);
  commit_in_flight = false;
  ++commits_finished;
  if (result) {
    for (const auto& id : *result) {
      pending_deletions.erase(id);
      committed_deletions.insert(id);
    }
    retry_delay = std::chrono::milliseconds(0);
    last_commit_error.reset();
    if (!pending_deletions.empty()) schedule_commit(options.deletion_batch_delay);
  } else {
    last_commit_error = result.error();
    set_last_error(result.error());
    retry_delay = std::clamp(retry_delay * 2, options.deletion_retry_min, options.deletion_retry_max);
    schedule_commit(retry_delay);
  }
  cv.notify_all();
}

Result<void> Filesystem::flush_deletions(std::chrono::milliseconds timeout) {
  auto& d = *impl_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(d.mu);
  if (d.pending_deletions.empty()) return {};
  const std::uint64_t before = d.commits_finished;
  // A commit already on the wire may not carry the newest unlinks: wait for one more.
  const std::uint64_t target = before + (d.commit_in_flight ? 2 : 1);
  if (d.commit_in_flight) {
    d.next_commit = std::chrono::steady_clock::now();
  } else {
    d.next_commit.reset();
    d.start_commit();
  }
  d.cv.wait_until(lock, deadline, [&] {
    return d.pending_deletions.empty() || d.commits_finished >= target || d.stopped ||
           (d.commits_finished > before && d.last_commit_error.has_value());
  });
  if (d.pending_deletions.empty()) return {};
  const std::string count = std::to_string(d.pending_deletions.size());
  if (d.last_commit_error) {
    return Error(d.last_commit_error->code, count + " deletions are still pending (they stay queued): " +
                                                d.last_commit_error->message);
  }
  return Error(Errc::timeout, count + " deletions are still pending; they stay queued and are "
                                      "committed on the next mount");
}

// ---- timer: polling and deletion commits ----

void Filesystem::Impl::timer_loop() {
  std::unique_lock lock(mu);
  while (!stopped) {
    std::optional<std::chrono::steady_clock::time_point> wake;
    if (options.poll.count() > 0) wake = next_poll;
    if (next_commit && (!wake || *next_commit < *wake)) wake = next_commit;
    if (wake) {
      cv.wait_until(lock, *wake);
    } else {
      cv.wait(lock);
    }
    if (stopped) break;
    const auto now = std::chrono::steady_clock::now();
    if (next_commit && now >= *next_commit && !commit_in_flight) {
      next_commit.reset();
      start_commit();
    }
    if (options.poll.count() > 0 && now >= next_poll) {
      next_poll = now + options.poll;
      // Only while the mount is in use: an idle mount does not keep logging in.
      if (activity && !refresh_in_flight) {
        lock.unlock();
        request_refresh({});
        lock.lock();
      }
    }
  }
}

// ---- status and shutdown ----

Status Filesystem::status() {
  auto& d = *impl_;
  Status s;
  if (auto stats = d.cache.stats()) {
    s.cached_messages = stats->bodies;
    s.cached_bytes = stats->body_bytes;
  }
  std::lock_guard lock(d.mu);
  s.messages = d.order.size();
  s.pending_deletions = d.pending_deletions.size();
  s.last_refresh = d.last_refresh;
  s.last_error = d.last_error;
  s.refreshing = d.refresh_in_flight;
  s.opens_skipped = d.opens_skipped;
  return s;
}

void Filesystem::shutdown() {
  auto& d = *impl_;
  {
    std::lock_guard lock(d.mu);
    if (d.stopped) return;
    d.stopped = true;
    d.stub_queue.clear();
  }
  d.cv.notify_all();
  if (d.timer.joinable()) d.timer.join();
  d.maildrop.shutdown();  // fails queued work; no maildrop callback runs after this
  d.store_worker.stop();  // finishes cache writes (which may post to the worker)
  d.worker.stop();
}

}  // namespace popfs::fs
