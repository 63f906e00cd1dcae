#pragma once
// Child processes and loopback ports for tests. Every wait is a poll with a deadline,
// never a fixed sleep. Failures to start throw std::runtime_error with a readable message.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <thread>
#include <string>
#include <vector>

namespace popfs::test {

using namespace std::chrono_literals;

struct SpawnOptions {
  // Where the child's stdout/stderr go (appended); /dev/null when empty.
  std::filesystem::path stdout_file{};
  std::filesystem::path stderr_file{};
  // Extra environment entries "NAME=value" added to the parent's environment (or to
  // `environment` when given).
  std::vector<std::string> extra_env{};
  // The child's whole environment instead of the parent's.
  std::optional<std::vector<std::string>> environment{};
  // The child leads a process group of its own, so everything it starts in the foreground
  // can be killed with it (kill(-pid)).
  bool own_process_group = false;
  // SIGTERM the child if the spawning thread dies first (a crashed or timed-out test must
  // not leave servers behind). Linux ties this to the *thread*: spawn from a thread that
  // outlives the child, normally the test's main thread.
  bool die_with_parent = false;
};

// The executable `name` would run as: itself when it holds a '/', else the first match in
// PATH. Throws std::runtime_error when there is none.
std::string find_in_path(const std::string& name);

// Starts argv[0] (searched in PATH) with the given arguments. Throws if it cannot start.
pid_t spawn_process(const std::vector<std::string>& argv, const SpawnOptions& options = {});

// Waits for the child to exit; returns its wait status, or nullopt if it is still running
// at the deadline. Reaps it.
std::optional<int> wait_process(pid_t pid, std::chrono::milliseconds timeout);

// SIGTERM, then SIGKILL if it is still running after grace; always reaps. Returns the
// wait status (or nullopt if the pid was not our child any more).
std::optional<int> stop_process(pid_t pid, std::chrono::milliseconds grace = 10s);

// True while the child has not exited (does not reap a running child).
bool process_running(pid_t pid);

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal or timed out
  std::string output;  // stdout and stderr, interleaved
};
// Runs a command to completion with a deadline (killed if it runs over).
CommandResult run_command(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = 60s,
                          const std::vector<std::string>& extra_env = {});

// A loopback TCP port that was free a moment ago (bound to port 0, then released).
std::uint16_t free_loopback_port();

// Polls until a TCP connect to host:port succeeds, or the timeout passes.
bool wait_for_port(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout);

// Polls a condition every few milliseconds until it holds or the timeout passes.
template <class Condition>
bool wait_until(Condition&& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
}

}  // namespace popfs::test
