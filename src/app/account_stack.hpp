#pragma once
// The parts a mounted or offline account is made of, built in dependency order and torn
// down in reverse: cache, maildrop, filesystem core.

#include <memory>

#include "popfs/app/config.hpp"
#include "popfs/fs/filesystem.hpp"
#include "popfs/mailbox/maildrop.hpp"
#include "popfs/store/cache.hpp"
#include "popfs/util/result.hpp"
#include "popfs/util/thread_pool.hpp"

namespace popfs::app {

struct AccountStack {
  std::unique_ptr<store::Cache> cache;
  // The one executor of the core and the maildrop's timers: replies, cache writes, polls.
  std::unique_ptr<ThreadPool> executor;
  std::unique_ptr<mailbox::Maildrop> maildrop;
  std::unique_ptr<fs::Filesystem> filesystem;

  // The filesystem is shut down (and with it the maildrop), the executor drained (cache
  // writes still queued are done), then everything is destroyed in reverse order.
  ~AccountStack();
};

// Opens the cache and builds the maildrop and filesystem core (not started). `account`
// must already carry its credentials.
Result<std::unique_ptr<AccountStack>> build_account_stack(const MountSettings& settings,
                                                          net::Account account);

// Starts the core and waits for the first listing from the server. Errors that retrying
// cannot fix (authentication, TLS trust, no STLS) are returned always; others (server
// unreachable, busy) only when there is no cached listing to serve offline, otherwise
// they are logged as a warning and the mount goes on.
Result<void> start_and_first_contact(AccountStack& stack, const net::Account& account);

}  // namespace popfs::app
