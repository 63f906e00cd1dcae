#include "refresher.hpp"

#include <spdlog/spdlog.h>

#include <malloc.h>

#include <cstdlib>

namespace popfs::fs {
namespace {

constexpr std::string_view kDirMtimeKey = "dir_mtime_ns";

std::function<bool(const MessageId&)> hidden_by(std::set<MessageId> ids) {
  if (ids.empty()) return {};
  return [ids = std::move(ids)](const MessageId& id) { return ids.count(id) != 0; };
}

}  // namespace

Result<void> Refresher::use_cached() {
  std::lock_guard lock(install_mu_);
  if (installed_) return {};
  auto table = std::make_shared<MessageTable>();
  std::vector<std::uint64_t> serials;
  std::vector<InitialState> initial;
  bool consistent = true;
  auto scanned = core_.cache.scan_listing([&](const store::MessageRecord& r) {
    const auto row = table->append(r.id.uidl, static_cast<std::uint32_t>(table->size() + 1), r.list_size);
    if (table->occurrence(row) != r.id.occurrence) consistent = false;
    serials.push_back(r.serial);
    initial.push_back(store::state_of(r));
  });
  if (!scanned) return scanned.error();
  table->shrink_to_fit();
  serials.shrink_to_fit();
  if (!consistent) {
    // Occurrences are counted in server order; a cache whose order disagrees is ignored
    // (the server's listing replaces it).
    spdlog::warn("the cached listing is out of order; waiting for the server's");
    return {};
  }
  const auto installed = core_.names.install(std::move(table), std::move(serials), initial,
                                             hidden_by(deletions_.hidden_ids()), core_.tasks.clock().wall_seconds());
  restore_dir_mtime();
  installed_ = true;
  core_.notify(installed.notes);
  return {};
}

void Refresher::restore_dir_mtime() {
  if (auto kept = core_.cache.meta(kDirMtimeKey); kept && kept.value()) {
    core_.names.note_dir_mtime_ns(std::strtoll(kept.value()->c_str(), nullptr, 10));
  }
}

void Refresher::refresh(std::function<void(Result<void>)> done, mailbox::ListOptions options) {
  {
    std::lock_guard lock(mu_);
    if (stopped_) {
      if (done) core_.tasks.post([done] { done(Error(Errc::cancelled, "popfs is shutting down")); });
      return;
    }
    if (done) waiters_.push_back(std::move(done));
    if (in_flight_) return;
    in_flight_ = true;
    activity_.store(false, std::memory_order_relaxed);
  }
  core_.maildrop.list(
      [this](Result<mailbox::Listing> listing) {
        core_.tasks.post([this, listing = std::move(listing)]() mutable { listed(std::move(listing)); });
      },
      options);
}

void Refresher::fail(const Error& e) {
  std::vector<std::function<void(Result<void>)>> waiters;
  {
    std::lock_guard lock(mu_);
    last_error_ = e.describe();
    in_flight_ = false;
    waiters = std::move(waiters_);
    waiters_.clear();
  }
  stubs_.set_server_reachable(false);
  spdlog::warn("listing the mailbox failed, serving the cached listing: {}", e.describe());
  // Nothing listed yet this mount: the cached listing, before anyone hears of the failure.
  if (auto loaded = use_cached(); !loaded) spdlog::warn("the cached listing cannot be read: {}", loaded.error().describe());
  for (auto& w : waiters) w(e);
}

// The listing into the cache (one sorted merge) and into the namespace. The first listing
// of a mount is installed straight from the merge, which reads every cached record anyway:
// the cached listing itself is loaded only when the server cannot be listed (fail).
Result<Namespace::Installed> Refresher::merge_and_install(const mailbox::Listing& table, std::int64_t now) {
  std::lock_guard install_lock(install_mu_);
  const bool first = !installed_;
  // A wholesale UIDL change (the server rebuilt its index) is a reset, not N new messages
  // and N deletions: start the cache over, keeping what is needed to delete again.
  bool renamed_all = false;
  if (!table->empty() && first) {
    auto none = core_.cache.holds_none_of(*table);
    if (!none) return none.error();
    renamed_all = *none;
  } else if (!table->empty()) {
    renamed_all = core_.names.counts().visible + core_.names.counts().held > 0 && !core_.names.knows_any(*table);
  }
  if (renamed_all) {
    spdlog::warn("every UIDL on the server changed ({} messages now): resetting the cache", table->size());
    deletions_.carry_over_reset();
    if (auto r = core_.cache.reset(); !r) return r.error();
    deletions_.forget_all();
  }
  auto update =
      core_.cache.apply_listing(*table, now, first ? store::ListingStates::wanted : store::ListingStates::not_wanted);
  if (!update) return update.error();
  auto installed =
      core_.names.install(table, std::move(update->serials), update->states, hidden_by(deletions_.hidden_ids()), now);
  if (first) {
    // The directories' mtime as the last mount left it, moved on if mail came or went since.
    restore_dir_mtime();
    if (update->added > 0 || !update->removed_serials.empty()) core_.names.note_change(now);
    installed_ = true;
  }
  return installed;
}

void Refresher::listed(Result<mailbox::Listing> listing) {
  if (!listing) return fail(listing.error());
  const mailbox::Listing table = std::move(*listing);
  const std::int64_t now = core_.tasks.clock().wall_seconds();
  auto merged = merge_and_install(table, now);
  if (!merged) return fail(merged.error());
  const Namespace::Installed& installed = *merged;
  std::vector<std::function<void(Result<void>)>> waiters;
  {
    std::lock_guard lock(mu_);
    last_refresh_ = std::chrono::system_clock::time_point(std::chrono::seconds(now));
    last_error_.clear();
    in_flight_ = false;
    waiters = std::move(waiters_);
    waiters_.clear();
  }
  stubs_.set_server_reachable(true);
  core_.notify(installed.notes);
  // Held messages are shown once their body and stub are fetched; the rest of the stubs
  // come in the background so `ls -l` has its mtimes.
  stubs_.prefetch(installed.held);
  bodies_.fetch_held(installed.held);
  if (core_.options.prefetch_stubs) stubs_.prefetch_listing();
  // The waiters (a mount waits for its first listing) first; the bookkeeping after them.
  for (auto& w : waiters) w(Result<void>{});
  if (!installed.notes.empty()) save_dir_mtime();
  (void)core_.cache.set_meta("last_refresh", std::to_string(now));
  // A big listing leaves megabytes of transient buffers behind (the old table, parse
  // buffers): give them back to the system rather than keep them as the daemon's RSS.
  if (table->size() > 10000) malloc_trim(0);
}

void Refresher::save_dir_mtime() {
  (void)core_.cache.set_meta(kDirMtimeKey, std::to_string(core_.names.dir_mtime_ns()));
}

void Refresher::start_polling() {
  if (core_.options.poll.count() <= 0) return;
  std::lock_guard lock(mu_);
  if (stopped_) return;
  poll_timer_ = core_.tasks.post_after(core_.options.poll, [this] { poll(); });
}

void Refresher::poll() {
  // Only while the mount is in use: an idle mount does not keep logging in.
  if (activity_.load(std::memory_order_relaxed)) refresh({});
  start_polling();
}

void Refresher::report_error(const Error& error) {
  std::lock_guard lock(mu_);
  last_error_ = error.describe();
}

Refresher::State Refresher::state() {
  std::lock_guard lock(mu_);
  return State{last_refresh_, last_error_, in_flight_};
}

void Refresher::stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  core_.tasks.cancel(poll_timer_);
  poll_timer_ = 0;
}

}  // namespace popfs::fs
