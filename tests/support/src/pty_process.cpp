#include "popfs_test/pty_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "popfs_test/process.hpp"

namespace popfs::test {

namespace {

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Reads what is available on the terminal's master side. False once the slave side is
// closed by every process (EIO) or on another error.
bool drain(int master, std::string& output) {
  char buffer[16384];
  while (true) {
    const ssize_t n = ::read(master, buffer, sizeof buffer);
    if (n > 0) {
      output.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;  // 0 or EIO: nobody holds the slave side any more
  }
}

// True once the child has exited; it stays a zombie (not reaped), so its process group id
// cannot be reused while we still kill the group.
bool child_exited(pid_t pid) {
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return true;
  return info.si_pid == pid;
}

}  // namespace

PtyRunResult run_in_pty(const std::vector<std::string>& argv, const PtyRunOptions& options) {
  if (argv.empty()) throw std::invalid_argument("run_in_pty: empty argv");
  // Everything the child needs is prepared before fork: after it, only exec-safe calls.
  const std::string executable = find_in_path(argv[0]);
  std::vector<std::string> args = argv;
  std::vector<std::string> env = options.environment;
  auto c_args = c_strings(args);
  auto c_env = c_strings(env);
  const std::string directory = options.working_directory.string();
  winsize size{};
  size.ws_col = options.columns;
  size.ws_row = options.rows;

  const auto started = std::chrono::steady_clock::now();
  int master = -1;
  const pid_t parent = ::getpid();
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, &size);
  if (pid < 0) throw std::runtime_error(std::string("run_in_pty: forkpty failed: ") + std::strerror(errno));
  if (pid == 0) {
    // forkpty made us a session leader with the terminal as controlling tty and stdio.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
    }
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a crashed test leaves no NeoMutt behind
    if (::getppid() != parent) ::_exit(127);
    if (!directory.empty() && ::chdir(directory.c_str()) != 0) ::_exit(127);
    ::execve(executable.c_str(), c_args.data(), c_env.data());
    ::_exit(127);
  }
  ::fcntl(master, F_SETFL, ::fcntl(master, F_GETFL) | O_NONBLOCK);
  ::fcntl(master, F_SETFD, FD_CLOEXEC);

  PtyRunResult result;
  const auto deadline = started + options.timeout;
  bool open = true;
  while (true) {
    if (open) {
      pollfd fd{master, POLLIN, 0};
      ::poll(&fd, 1, 10);
      open = drain(master, result.output);
    } else {
      ::poll(nullptr, 0, 10);
    }
    if (child_exited(pid)) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      result.timed_out = true;
      break;
    }
  }
  // The child's leftovers (a shell filter still running, or everything on a timeout) go with
  // its group; the group id is still ours because the leader is not reaped yet.
  ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (open) drain(master, result.output);
  ::close(master);
  result.elapsed = std::chrono::steady_clock::now() - started;
  if (!result.timed_out && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
  return result;
}

std::string terminal_text(std::string_view output) {
  std::string text;
  std::size_t i = 0;
  while (i < output.size()) {
    const char c = output[i];
    if (c == '\x1b' && i + 1 < output.size()) {
      const char kind = output[i + 1];
      if (kind == '[') {  // CSI: parameters, then one final byte in 0x40..0x7E
        std::size_t j = i + 2;
        while (j < output.size() && (output[j] < 0x40 || output[j] > 0x7e)) ++j;
        const char final_byte = j < output.size() ? output[j] : '\0';
        // Cursor positioning and clearing start a new piece of text.
        if (final_byte == 'H' || final_byte == 'f' || final_byte == 'd' || final_byte == 'J') text += '\n';
        i = j + 1;
      } else if (kind == ']') {  // OSC: up to BEL or ESC backslash
        std::size_t j = i + 2;
        while (j < output.size() && output[j] != '\x07' && output[j] != '\x1b') ++j;
        i = j + (j < output.size() && output[j] == '\x1b' ? 2 : 1);
      } else if (kind == '(' || kind == ')') {  // character set selection
        i += 3;
      } else {
        i += 2;
      }
      continue;
    }
    if (c == '\n' || c == '\t' || static_cast<unsigned char>(c) >= 0x20) text += c;
    ++i;
  }
  // Drop blank lines and trailing spaces.
  std::string cleaned;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (!line.empty()) {
      cleaned.append(line);
      cleaned += '\n';
    }
    start = end + 1;
  }
  return cleaned;
}

}  // namespace popfs::test
