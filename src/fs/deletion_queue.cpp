#include "deletion_queue.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <sstream>

#include "popfs/fs/header_fields.hpp"

namespace popfs::fs {
namespace {

constexpr std::string_view kCarriedKey = "reset_deletions";  // Message-IDs, one per line

}  // namespace

Result<void> DeletionQueue::load() {
  auto pending = core_.cache.pending_deletions();
  if (!pending) return pending.error();
  auto carried = core_.cache.meta(kCarriedKey);
  std::lock_guard lock(mu_);
  pending_.insert(pending->begin(), pending->end());
  if (carried && carried.value()) {
    std::istringstream lines(**carried);
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty()) carried_message_ids_.insert(line);
    }
  }
  return {};
}

void DeletionQueue::start() {
  std::lock_guard lock(mu_);
  // Deletions recorded by an earlier run that did not get to commit them.
  if (!pending_.empty()) schedule_locked(Clock::duration::zero());
}

Result<void> DeletionQueue::add(const Message& message) {
  // Durable before the reply: an unlink that returned is never forgotten.
  if (auto r = core_.cache.add_pending_deletion(message.id); !r) return r;
  {
    std::lock_guard lock(mu_);
    pending_.insert(message.id);
    schedule_locked(core_.options.deletion_batch_delay);
  }
  Notes notes;
  if (auto names = core_.names.hide(message.serial)) {
    // The kernel drops the unlinked name itself; its stub's and part folder's are ours.
    for (auto& [dir, name] : *names) {
      notes.entries.emplace_back(dir, std::move(name));
      notes.inodes.push_back(dir);
    }
  }
  core_.notify(std::move(notes));
  return {};
}

std::set<MessageId> DeletionQueue::hidden_ids() {
  std::lock_guard lock(mu_);
  std::set<MessageId> out = pending_;
  out.insert(committed_.begin(), committed_.end());
  return out;
}

std::size_t DeletionQueue::pending() {
  std::lock_guard lock(mu_);
  return pending_.size();
}

void DeletionQueue::schedule_locked(Clock::duration delay) {
  if (stopped_) return;
  const auto at = core_.tasks.clock().now() + delay;
  if (timer_ != 0 && timer_at_ <= at) return;
  core_.tasks.cancel(timer_);
  timer_at_ = at;
  timer_ = core_.tasks.post_at(at, [this] {
    {
      std::lock_guard lock(mu_);
      timer_ = 0;
      if (in_flight_) {  // one commit at a time: go again when it ends
        schedule_locked(Clock::duration::zero());
        return;
      }
    }
    commit();
  });
}

void DeletionQueue::commit() {
  std::vector<MessageId> ids;
  {
    std::lock_guard lock(mu_);
    if (stopped_ || in_flight_ || pending_.empty()) return;
    in_flight_ = true;
    ids.assign(pending_.begin(), pending_.end());
  }
  core_.maildrop.commit_deletions(std::move(ids), [this](Result<std::vector<MessageId>> result) {
    core_.tasks.post([this, result = std::move(result)]() mutable { committed(std::move(result)); });
  });
}

void DeletionQueue::committed(Result<std::vector<MessageId>> result) {
  if (result) {
    if (auto r = core_.cache.remove_pending_deletions(*result); !r) {
      spdlog::warn("could not clear committed deletions from the cache: {}", r.error().describe());
    }
  } else {
    spdlog::warn("committing deletions failed, will retry: {}", result.error().describe());
    core_.report_error(result.error());
  }
  Finished finished;
  {
    std::lock_guard lock(mu_);
    in_flight_ = false;
    ++commits_finished_;
    if (result) {
      for (const auto& id : *result) {
        pending_.erase(id);
        committed_.insert(id);
      }
      retry_delay_ = Clock::duration::zero();
      last_error_.reset();
      if (!pending_.empty()) schedule_locked(core_.options.deletion_batch_delay);
    } else {
      last_error_ = result.error();
      retry_delay_ = std::clamp<Clock::duration>(retry_delay_ * 2, core_.options.deletion_retry_min,
                                                 core_.options.deletion_retry_max);
      schedule_locked(retry_delay_);
    }
    finished = finished_waiters_locked();
  }
  for (auto& [done, outcome] : finished) done(std::move(outcome));
}

void DeletionQueue::flush(std::function<void(Result<void>)> done, Clock::duration timeout) {
  std::unique_lock lock(mu_);
  if (pending_.empty()) {
    lock.unlock();
    return core_.tasks.post([done] { done(Result<void>{}); });
  }
  FlushWaiter waiter;
  waiter.id = ++next_waiter_;
  waiter.started_at = commits_finished_;
  // A commit already on the wire may not carry the newest unlinks: wait for one more.
  waiter.target = commits_finished_ + (in_flight_ ? 2 : 1);
  waiter.done = std::move(done);
  const std::uint64_t id = waiter.id;
  waiter.timeout = core_.tasks.post_after(timeout, [this, id] {
    std::function<void(Result<void>)> expired;
    Result<void> outcome;
    {
      std::lock_guard relock(mu_);
      auto it = std::find_if(waiters_.begin(), waiters_.end(), [&](const FlushWaiter& w) { return w.id == id; });
      if (it == waiters_.end()) return;
      expired = std::move(it->done);
      waiters_.erase(it);
      outcome = outcome_locked();
    }
    expired(std::move(outcome));
  });
  waiters_.push_back(std::move(waiter));
  core_.tasks.cancel(timer_);
  timer_ = 0;
  if (in_flight_) {
    schedule_locked(Clock::duration::zero());
    return;
  }
  lock.unlock();
  commit();
}

Result<void> DeletionQueue::outcome_locked() const {
  if (pending_.empty()) return {};
  const std::string count = std::to_string(pending_.size());
  if (last_error_) {
    return Error(last_error_->code, count + " deletions are still pending (they stay queued): " + last_error_->message);
  }
  return Error(Errc::timeout, count + " deletions are still pending; they stay queued and are committed on the next mount");
}

DeletionQueue::Finished DeletionQueue::finished_waiters_locked() {
  Finished finished;
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    const bool over = pending_.empty() || stopped_ || commits_finished_ >= it->target ||
                      (commits_finished_ > it->started_at && last_error_.has_value());
    if (!over) {
      ++it;
      continue;
    }
    core_.tasks.cancel(it->timeout);
    finished.emplace_back(std::move(it->done), outcome_locked());
    it = waiters_.erase(it);
  }
  return finished;
}

// ---- UIDL resets -------------------------------------------------------------------------

void DeletionQueue::carry_over_reset() {
  std::set<MessageId> ids;
  {
    std::lock_guard lock(mu_);
    ids = pending_;
  }
  std::size_t unmatched = 0;
  std::set<std::string> found;
  for (const auto& id : ids) {
    auto stub = core_.cache.stub(id);
    std::optional<std::string> message_id;
    if (stub && stub.value()) message_id = header_field(**stub, "Message-ID");
    if (message_id && !message_id->empty()) {
      found.insert(*message_id);
    } else {
      ++unmatched;
    }
  }
  {
    std::lock_guard lock(mu_);
    carried_message_ids_.insert(found.begin(), found.end());
  }
  save_carried();
  if (unmatched > 0) {
    spdlog::warn("the server renamed every message (a UIDL reset): {} pending deletion(s) have no cached header to "
                 "recognise them by and may reappear under new names",
                 unmatched);
  }
}

void DeletionQueue::check_carried(const Message& message, const std::string& stub) {
  {
    std::lock_guard lock(mu_);
    if (carried_message_ids_.empty()) return;
  }
  const auto message_id = header_field(stub, "Message-ID");
  if (!message_id) return;
  {
    std::lock_guard lock(mu_);
    if (carried_message_ids_.erase(*message_id) == 0) return;
  }
  spdlog::info("deleting {} again: it was deleted before the server renamed its messages", message.id.uidl);
  // Cache writes (synced) do not belong on the thread that called: the executor does them.
  core_.tasks.post([this, message] {
    if (auto r = add(message); !r) spdlog::warn("could not queue the deletion: {}", r.error().describe());
    save_carried();
  });
}

void DeletionQueue::forget_all() {
  std::lock_guard lock(mu_);
  pending_.clear();
  committed_.clear();
}

void DeletionQueue::save_carried() {
  std::string lines;
  {
    std::lock_guard lock(mu_);
    for (const auto& m : carried_message_ids_) lines += m + "\n";
  }
  (void)core_.cache.set_meta(kCarriedKey, lines);
}

void DeletionQueue::stop() {
  Finished finished;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    core_.tasks.cancel(timer_);
    timer_ = 0;
    finished = finished_waiters_locked();
  }
  for (auto& [done, outcome] : finished) done(std::move(outcome));
}

}  // namespace popfs::fs
