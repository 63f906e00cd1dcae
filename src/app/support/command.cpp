#include "popfs/app/command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

extern char** environ;

namespace popfs::app {
namespace {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int* out() { return &fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read_end;
  Fd write_end;
  bool open() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return false;
    *read_end.out() = fds[0];
    *write_end.out() = fds[1];
    return true;
  }
};

class SpawnSetup {
 public:
  SpawnSetup() {
    ::posix_spawn_file_actions_init(&actions_);
    ::posix_spawnattr_init(&attr_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
  ~SpawnSetup() {
    ::posix_spawn_file_actions_destroy(&actions_);
    ::posix_spawnattr_destroy(&attr_);
  }
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
};

// Reads what is available; returns false at EOF or on error.
bool drain(int fd, std::string& into, std::size_t limit) {
  std::array<char, 4096> buffer{};
  const ssize_t n = ::read(fd, buffer.data(), buffer.size());
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) return false;
  const auto count = static_cast<std::size_t>(n);
  if (into.size() < limit) into.append(buffer.data(), std::min(count, limit - into.size()));
  // Keep reading past the limit (and drop it) so the child never blocks on a full pipe.
  return true;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

Result<CommandOutput> run_program(const std::vector<std::string>& argv,
                                  std::chrono::milliseconds timeout) {
  if (argv.empty()) return Error(Errc::invalid_argument, "empty command");
  Pipe out;
  Pipe err;
  if (!out.open() || !err.open()) {
    return Error(Errc::io, std::string("cannot create a pipe: ") + std::strerror(errno));
  }

  SpawnSetup setup;
  ::posix_spawn_file_actions_adddup2(&setup.actions_, out.write_end.get(), STDOUT_FILENO);
  ::posix_spawn_file_actions_adddup2(&setup.actions_, err.write_end.get(), STDERR_FILENO);
  // The child starts with default signal handling and nothing blocked, whatever the daemon
  // (FUSE threads, ignored SIGPIPE) has set up for itself.
  sigset_t defaults;
  ::sigemptyset(&defaults);
  for (const int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD}) ::sigaddset(&defaults, sig);
  sigset_t empty;
  ::sigemptyset(&empty);
  ::posix_spawnattr_setsigdefault(&setup.attr_, &defaults);
  ::posix_spawnattr_setsigmask(&setup.attr_, &empty);
  ::posix_spawnattr_setflags(&setup.attr_, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));  // posix_spawn's signature
  args.push_back(nullptr);

  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &setup.actions_, &setup.attr_, args.data(), environ);
  out.write_end.reset();
  err.write_end.reset();
  if (rc != 0) {
    return Error(rc == ENOENT ? Errc::not_found : Errc::io,
                 "cannot run " + argv[0] + ": " + std::strerror(rc));
  }

  CommandOutput result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool out_open = true;
  bool err_open = true;
  while (out_open || err_open) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      int ignored = 0;
      ::waitpid(pid, &ignored, 0);
      return Error(Errc::timeout, argv[0] + " did not finish within " +
                                      std::to_string(timeout.count() / 1000) + " seconds");
    }
    std::array<pollfd, 2> fds{pollfd{out_open ? out.read_end.get() : -1, POLLIN, 0},
                              pollfd{err_open ? err.read_end.get() : -1, POLLIN, 0}};
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(std::min<long>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    if (out_open && fds[0].revents != 0) out_open = drain(out.read_end.get(), result.out, kMaxCommandOutput);
    if (err_open && fds[1].revents != 0) err_open = drain(err.read_end.get(), result.err, kMaxCommandError);
  }

  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Error(Errc::io, std::string("waitpid: ") + std::strerror(errno));
  }
  result.exit_status = decode_status(status);
  return result;
}

Result<CommandOutput> run_shell_command(const std::string& command,
                                        std::chrono::milliseconds timeout) {
  return run_program({"/bin/sh", "-c", command}, timeout);
}

}  // namespace popfs::app
