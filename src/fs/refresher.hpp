#pragma once
// Listings: the server's on start, on `popfs refresh` and every FsOptions::poll while the
// mount is in use; the cached one when the server cannot be listed at the start (offline). A new
// listing is merged into the cache (only what changed is written) and installed in the
// namespace; a wholesale UIDL change is a reset, not a million new messages and deletions.
//
// Threading: any thread may call in. One mutex guards the state below; never held while
// calling out. Listings complete on the executor; the poll timer is the executor's.

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "body_fetcher.hpp"
#include "core_context.hpp"
#include "deletion_queue.hpp"
#include "stub_fetcher.hpp"

namespace popfs::fs {

class Refresher {
 public:
  Refresher(CoreContext& core, DeletionQueue& deletions, StubFetcher& stubs, BodyFetcher& bodies)
      : core_(core), deletions_(deletions), stubs_(stubs), bodies_(bodies) {}

  // The cached listing into the namespace, unless a listing is there already (the server
  // cannot be listed at the start, or has not answered yet).
  Result<void> use_cached();
  // Lists the server now (joins a listing in flight); done (may be empty) when applied.
  void refresh(std::function<void(Result<void>)> done, mailbox::ListOptions options = {});
  void start_polling();
  void note_activity() noexcept { activity_.store(true, std::memory_order_relaxed); }
  void report_error(const Error& error);
  // Keeps the directories' mtime in the cache (after a listing changed them, and at shutdown
  // for the renames since), so a remount shows the same mtimes.
  void save_dir_mtime();

  struct State {
    std::optional<std::chrono::system_clock::time_point> last_refresh;
    std::string last_error;
    bool refreshing = false;
  };
  State state();
  void stop();

 private:
  void listed(Result<mailbox::Listing> listing);
  Result<Namespace::Installed> merge_and_install(const mailbox::Listing& table, std::int64_t now);
  void poll();
  void fail(const Error& error);
  void restore_dir_mtime();  // the directories' mtime as the cache kept it

  CoreContext& core_;
  DeletionQueue& deletions_;
  StubFetcher& stubs_;
  BodyFetcher& bodies_;
  std::atomic<bool> activity_{false};
  // The namespace holds a listing (cached or the server's); install_mu_ orders the first
  // install (use_cached may come from another thread than the listing).
  std::mutex install_mu_;
  bool installed_ = false;  // install_mu_
  std::mutex mu_;
  bool in_flight_ = false;
  bool stopped_ = false;
  std::vector<std::function<void(Result<void>)>> waiters_;
  Executor::TimerId poll_timer_ = 0;
  std::optional<std::chrono::system_clock::time_point> last_refresh_;
  std::string last_error_;
};

}  // namespace popfs::fs
