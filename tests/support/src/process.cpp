#include "popfs_test/process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "popfs_test/temp_dir.hpp"

extern char** environ;

namespace popfs::test {

namespace {

std::vector<char*> to_c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Closes a file descriptor when it goes out of scope.
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

namespace {

int open_output(const std::filesystem::path& file) {
  const std::string path = file.empty() ? std::string("/dev/null") : file.string();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("spawn_process: cannot open " + path);
  return fd;
}

// fork + exec with PR_SET_PDEATHSIG set in the child. The parent waits for the exec (a
// close-on-exec pipe reaches EOF), so prctl is in force before the spawning thread can end,
// and an exec failure is reported here rather than as exit status 127.
pid_t spawn_dying_with_parent(const std::vector<std::string>& argv, std::vector<std::string>& env,
                              const SpawnOptions& options) {
  const std::string executable = find_in_path(argv[0]);  // before fork: the child only execs
  std::vector<std::string> args = argv;
  auto c_args = to_c_strings(args);
  auto c_env = to_c_strings(env);
  int exec_pipe[2];
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0) throw std::runtime_error("spawn_process: pipe failed");
  const int null_in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int out = open_output(options.stdout_file);
  const int err = options.stderr_file == options.stdout_file ? ::dup(out) : open_output(options.stderr_file);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(null_in, STDIN_FILENO);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    if (options.own_process_group) ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
    }
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
    ::execve(executable.c_str(), c_args.data(), c_env.data());
    const int exec_errno = errno;
    [[maybe_unused]] const auto written = ::write(exec_pipe[1], &exec_errno, sizeof exec_errno);
    ::_exit(127);
  }
  const int fork_errno = errno;
  ::close(exec_pipe[1]);
  ::close(null_in);
  ::close(out);
  ::close(err);
  if (pid < 0) {
    ::close(exec_pipe[0]);
    throw std::runtime_error(std::string("spawn_process: fork failed: ") + std::strerror(fork_errno));
  }
  int exec_errno = 0;
  ssize_t n;
  do {
    n = ::read(exec_pipe[0], &exec_errno, sizeof exec_errno);
  } while (n < 0 && errno == EINTR);
  ::close(exec_pipe[0]);
  if (n > 0) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    throw std::runtime_error("spawn_process: cannot execute " + executable + ": " + std::strerror(exec_errno));
  }
  return pid;
}

}  // namespace

std::string find_in_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string directories = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t at = 0;
  while (at <= directories.size()) {
    const auto end = std::min(directories.find(':', at), directories.size());
    const std::string candidate = directories.substr(at, end - at) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    at = end + 1;
  }
  throw std::runtime_error("spawn_process: " + name + " not found in PATH");
}

pid_t spawn_process(const std::vector<std::string>& argv, const SpawnOptions& options) {
  if (argv.empty()) throw std::invalid_argument("spawn_process: empty argv");
  std::vector<std::string> env;
  if (options.environment) {
    env = *options.environment;
  } else {
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  }
  for (const auto& extra : options.extra_env) env.push_back(extra);
  if (options.die_with_parent) return spawn_dying_with_parent(argv, env, options);
  std::vector<std::string> args = argv;

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const auto out_path = options.stdout_file.empty() ? std::string("/dev/null") : options.stdout_file.string();
  const auto err_path = options.stderr_file.empty() ? std::string("/dev/null") : options.stderr_file.string();
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (!options.stderr_file.empty() && options.stderr_file == options.stdout_file) {
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
  }
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // The child starts with default signal dispositions and an empty mask, whatever the
  // test process blocked (the delay proxy tool blocks SIGTERM, for example).
  sigset_t all;
  sigfillset(&all);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  posix_spawnattr_setsigmask(&attributes, &none);
  short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  if (options.own_process_group) {
    posix_spawnattr_setpgroup(&attributes, 0);
    flags |= POSIX_SPAWN_SETPGROUP;
  }
  posix_spawnattr_setflags(&attributes, flags);

  auto c_args = to_c_strings(args);
  auto c_env = to_c_strings(env);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, c_args[0], &actions, &attributes, c_args.data(), c_env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) {
    throw std::runtime_error("spawn_process: cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  return pid;
}

std::optional<int> wait_process(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return std::nullopt;  // not our child (already reaped)
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
}

bool process_running(pid_t pid) {
  siginfo_t info{};
  // WNOWAIT: look without reaping, so a later wait_process still gets the status.
  if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return false;
  return info.si_pid == 0;
}

std::optional<int> stop_process(pid_t pid, std::chrono::milliseconds grace) {
  if (pid <= 0) return std::nullopt;
  ::kill(pid, SIGTERM);
  if (auto status = wait_process(pid, grace)) return status;
  if (!process_running(pid)) return wait_process(pid, 0ms);
  ::kill(pid, SIGKILL);
  return wait_process(pid, 10s);
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::vector<std::string>& extra_env) {
  TempDir dir("popfs-cmd-");
  const auto output_file = dir / "output";
  SpawnOptions options;
  options.stdout_file = output_file;
  options.stderr_file = output_file;
  options.extra_env = extra_env;
  const pid_t pid = spawn_process(argv, options);
  CommandResult result;
  auto status = wait_process(pid, timeout);
  if (!status) {
    stop_process(pid, 1s);
    result.output = "(timed out)\n";
  } else if (WIFEXITED(*status)) {
    result.exit_code = WEXITSTATUS(*status);
  }
  std::error_code ec;
  if (std::filesystem::exists(output_file, ec)) result.output += read_file(output_file);
  return result;
}

std::uint16_t free_loopback_port() {
  FdGuard sock{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (sock.fd < 0) throw std::runtime_error("free_loopback_port: socket failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (::bind(sock.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    throw std::runtime_error(std::string("free_loopback_port: bind failed: ") + std::strerror(errno));
  }
  socklen_t length = sizeof address;
  ::getsockname(sock.fd, reinterpret_cast<sockaddr*>(&address), &length);
  return ntohs(address.sin_port);
}

bool wait_for_port(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
    throw std::invalid_argument("wait_for_port: not an IPv4 address: " + host);
  }
  return wait_until(
      [&] {
        FdGuard sock{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
        return sock.fd >= 0 &&
               ::connect(sock.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
      },
      timeout);
}

}  // namespace popfs::test
