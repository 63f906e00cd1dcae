#pragma once
// popfs's exit codes (documented in popfs(1)): a script can tell "fix your config" from
// "try again later" without parsing messages.

#include "popfs/util/error.hpp"

namespace popfs::app {

enum ExitCode : int {
  kExitOk = 0,
  kExitUsage = 1,        // bad command line, config file or option value
  kExitAuth = 2,         // authentication failed
  kExitConnection = 3,   // host not found, refused, TLS not trusted, no STLS, server error
  kExitBusy = 4,         // mailbox in use by another client, or login too soon
  kExitMount = 5,        // mountpoint missing/busy/not mounted, FUSE unavailable
  kExitCache = 6,        // the cache could not be opened or written
};

int exit_code_for(Errc code) noexcept;

}  // namespace popfs::app
