#pragma once
// Runs the real `popfs` binary as a child process for end-to-end tests: a controlled
// environment (HOME, XDG_CONFIG_HOME, XDG_CACHE_HOME inside a TempDir, no POPFS_PASSWORD
// unless a test adds it, stdin /dev/null so never a TTY), stdout and stderr captured
// separately, and a deadline after which the child is killed and the run counts as failed.
//
// MountGuard makes sure a mount a test made is gone at the end of the test, whatever
// happened: `popfs umount`, then `fusermount3 -u`, then `umount -l`, and every process whose
// command line names the mountpoint (the detached daemon) is terminated by PID.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "popfs_test/temp_dir.hpp"

namespace popfs::test::cli {

using namespace std::chrono_literals;

struct CliResult {
  int exit_code = -1;      // -1: killed by a signal or by the deadline
  bool timed_out = false;
  std::string out;
  std::string err;
  // For failure messages: everything in one place.
  std::string describe() const;
};

// Case-insensitive substring test, for checking key words of messages.
bool contains_nocase(std::string_view haystack, std::string_view needle);

class CliEnvironment {
 public:
  // The directory's name includes the running GoogleTest test's name, to tell leftovers apart.
  CliEnvironment();

  const std::filesystem::path& root() const { return dir_.path(); }
  std::filesystem::path path(const std::string& child) const { return dir_ / child; }
  // A fresh empty directory under root (mountpoints, cache dirs, copy targets).
  std::filesystem::path make_dir(const std::string& name) const;
  // A file with these bytes and mode (password files, configs).
  std::filesystem::path make_file(const std::string& name, std::string_view content, unsigned mode) const;

  // The environment a child gets: PATH, HOME, XDG_* into root, sanitizer options, plus extra.
  std::vector<std::string> environment(const std::vector<std::string>& extra = {}) const;

  // Runs `popfs ARGS...` to completion (or the deadline).
  CliResult run(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 60s,
                const std::vector<std::string>& extra_env = {}) const;
  // Runs any program (argv[0] absolute or in PATH) the same way.
  CliResult run_program(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = 60s,
                        const std::vector<std::string>& extra_env = {}) const;

  // Starts `popfs ARGS...` in the background (for --foreground daemons); its stdout/stderr
  // go to the given files. The child is SIGTERMed if the test's thread dies.
  pid_t start(const std::vector<std::string>& args, const std::filesystem::path& stdout_file,
              const std::filesystem::path& stderr_file, const std::vector<std::string>& extra_env = {}) const;

 private:
  TempDir dir_;
};

// True when the path is a mount point now (per /proc/self/mountinfo).
bool is_mounted(const std::filesystem::path& mountpoint);

// PIDs of live processes (not zombies, not this process) whose command line contains text.
std::vector<pid_t> processes_mentioning(const std::string& text);

// Polls until the process is gone (or a zombie); true if it went before the timeout.
bool wait_process_gone(pid_t pid, std::chrono::milliseconds timeout);

// The names of the regular *.eml files in a directory, sorted.
std::vector<std::string> eml_files(const std::filesystem::path& directory);

class MountGuard {
 public:
  MountGuard(const CliEnvironment& env, std::filesystem::path mountpoint)
      : env_(env), mountpoint_(std::move(mountpoint)) {}
  ~MountGuard() { cleanup(); }
  MountGuard(const MountGuard&) = delete;
  MountGuard& operator=(const MountGuard&) = delete;

  // Unmounts by every means and terminates every process naming the mountpoint. Returns a
  // description of what it had to do beyond nothing (empty if the mount was already gone).
  std::string cleanup();

 private:
  const CliEnvironment& env_;
  std::filesystem::path mountpoint_;
};

}  // namespace popfs::test::cli
