#pragma once
// Exit codes of the popfs command (documented in popfs(1)).

#include "popfs/util/error.hpp"

namespace popfs::app {

enum class ExitCode : int {
  ok = 0,
  usage = 1,       // bad command line, option or config file
  auth = 2,        // authentication failed, no password available
  connection = 3,  // host not found, refused, TLS not trusted, no STLS, server error
  busy = 4,        // [IN-USE] / [LOGIN-DELAY]
  mount = 5,       // mountpoint missing or busy, FUSE not available
  cache = 6,       // cache directory or database error
};

// The exit code for a failure of this kind. Errc::io maps to `mount` (local file system
// trouble at mount time); callers that know better pass their own code.
ExitCode exit_code_for(Errc code) noexcept;

inline int to_int(ExitCode code) noexcept { return static_cast<int>(code); }

}  // namespace popfs::app
