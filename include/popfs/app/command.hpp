#pragma once
// Runs a helper program (password command, secret-tool) and captures its output, with a
// deadline. Uses posix_spawn, so it is safe to call from a multi-threaded process.

#include <chrono>
#include <string>
#include <vector>

#include "popfs/util/result.hpp"

namespace popfs::app {

struct CommandOutput {
  int exit_status = -1;    // exit code, or 128 + signal number if it was killed by a signal
  std::string out;         // stdout, at most kMaxCommandOutput bytes kept
  std::string err;         // stderr, at most kMaxCommandError bytes kept
};

inline constexpr std::size_t kMaxCommandOutput = 64 * 1024;
inline constexpr std::size_t kMaxCommandError = 4 * 1024;

// Runs argv[0] (an absolute path, or a name looked up in $PATH) with stdin inherited.
// Errors: the program cannot be started (Errc::not_found / Errc::io) or it ran past the
// timeout (Errc::timeout; it is then killed). A non-zero exit is not an error here.
Result<CommandOutput> run_program(const std::vector<std::string>& argv,
                                  std::chrono::milliseconds timeout);

// run_program({"/bin/sh", "-c", command}).
Result<CommandOutput> run_shell_command(const std::string& command,
                                        std::chrono::milliseconds timeout);

}  // namespace popfs::app
