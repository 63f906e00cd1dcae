// Terminal prompt with echo off. The terminal settings are restored on every path out,
// including a fatal signal (Ctrl-C, SIGTERM, hang-up) arriving while the user types.

#include <fcntl.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "popfs/app/credentials.hpp"

namespace popfs::app {
namespace {

// The signal handler can only reach globals. One prompt at a time (prompts happen on the
// main thread before the daemon starts).
int g_tty_fd = -1;
termios g_saved_termios{};

constexpr std::array<int, 4> kFatalSignals = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

extern "C" void restore_terminal_and_die(int sig) {
  if (g_tty_fd >= 0) ::tcsetattr(g_tty_fd, TCSANOW, &g_saved_termios);
  // SA_RESETHAND put the default action back; deliver the signal again once we return.
  ::raise(sig);
}

class EchoOff {
 public:
  EchoOff(int fd, const termios& saved) : fd_(fd) {
    g_saved_termios = saved;
    g_tty_fd = fd;
    struct sigaction action {};
    action.sa_handler = restore_terminal_and_die;
    ::sigemptyset(&action.sa_mask);
    action.sa_flags = static_cast<int>(SA_RESETHAND);
    for (std::size_t i = 0; i < kFatalSignals.size(); ++i) {
      ::sigaction(kFatalSignals[i], &action, &previous_[i]);
    }
    // Ctrl-Z would leave the shell with echo off; refuse to stop while the prompt is up.
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    ::sigemptyset(&ignore.sa_mask);
    ::sigaction(SIGTSTP, &ignore, &previous_tstp_);
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHOE | ECHOK | ECHONL);
    ::tcsetattr(fd_, TCSAFLUSH, &quiet);
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;
  ~EchoOff() {
    ::tcsetattr(fd_, TCSAFLUSH, &g_saved_termios);
    for (std::size_t i = 0; i < kFatalSignals.size(); ++i) {
      ::sigaction(kFatalSignals[i], &previous_[i], nullptr);
    }
    ::sigaction(SIGTSTP, &previous_tstp_, nullptr);
    g_tty_fd = -1;
  }

 private:
  int fd_;
  std::array<struct sigaction, kFatalSignals.size()> previous_{};
  struct sigaction previous_tstp_ {};
};

void write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

Result<std::string> prompt_secret(const std::string& prompt, const std::string& tty_path) {
  const int fd = ::open(tty_path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return Error(Errc::not_found, "no terminal to prompt on (" + tty_path + ")");
  termios saved{};
  if (::tcgetattr(fd, &saved) != 0) {
    ::close(fd);
    return Error(Errc::not_found, tty_path + " is not a terminal");
  }

  std::string line;
  bool complete = false;
  {
    EchoOff guard(fd, saved);
    write_all(fd, prompt);
    constexpr std::size_t kMaxLine = 4096;
    char c = 0;
    while (line.size() < kMaxLine) {
      const ssize_t n = ::read(fd, &c, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (c == '\n' || c == '\r') {
        complete = true;
        break;
      }
      line += c;
    }
    // The user's Enter was not echoed; move to the next line ourselves.
    write_all(fd, "\n");
  }
  ::close(fd);
  if (!complete) return Error(Errc::cancelled, "no password entered");
  return line;
}

}  // namespace popfs::app
