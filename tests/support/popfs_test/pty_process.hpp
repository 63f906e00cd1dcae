#pragma once
// Running a full-screen program (NeoMutt) in a pseudo-terminal of our own, with a deadline.
// The child leads a new session and process group on the terminal's slave side; whatever it
// starts (shell filters, pagers) is in that group, and the group is killed by its id when
// the deadline passes. The terminal's output is drained all the time, so the program never
// blocks on a full terminal.

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace popfs::test {

struct PtyRunOptions {
  // The child's whole environment ("NAME=value"); nothing is inherited.
  std::vector<std::string> environment{};
  // The child's working directory; the caller's when empty.
  std::filesystem::path working_directory{};
  unsigned short columns = 160;
  unsigned short rows = 50;
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
};

struct PtyRunResult {
  int exit_code = -1;    // -1 when the program was killed by a signal or timed out
  int term_signal = 0;   // the signal that ended it, 0 if it exited
  bool timed_out = false;
  std::string output{};  // every byte it wrote to the terminal
  std::chrono::steady_clock::duration elapsed{};
};

// Runs argv (argv[0] searched in PATH) on a new pseudo-terminal and waits for it to exit or
// for the timeout (then SIGKILL to its process group). Throws std::runtime_error if it
// cannot start.
PtyRunResult run_in_pty(const std::vector<std::string>& argv, const PtyRunOptions& options);

// The text of terminal output without escape sequences: cursor positioning becomes a line
// break, blank lines are dropped. Rough and for failure messages only: it is not a terminal
// emulator, so never assert on it.
std::string terminal_text(std::string_view output);

}  // namespace popfs::test
