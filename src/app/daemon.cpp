#include "daemon.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "popfs/app/exit_code.hpp"

namespace popfs::app {
namespace {

void write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

[[noreturn]] void parent_wait(int fd, pid_t child) {
  std::string verdict;
  char buffer[1024];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    verdict.append(buffer, static_cast<std::size_t>(n));
  }
  if (verdict.rfind("ok", 0) == 0) std::_Exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (verdict.empty()) {
    std::fprintf(stderr, "popfs: the daemon exited before the mount was ready (status %d)\n",
                 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    std::_Exit(to_int(ExitCode::mount));
  }
  // "<code> <message>"
  const int code = std::atoi(verdict.c_str());
  const auto space = verdict.find(' ');
  const std::string message = space == std::string::npos ? verdict : verdict.substr(space + 1);
  std::fprintf(stderr, "popfs: %s\n", message.c_str());
  std::_Exit(code > 0 ? code : to_int(ExitCode::mount));
}

}  // namespace

Detacher Detacher::detach() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    std::fprintf(stderr, "popfs: pipe: %s\n", std::strerror(errno));
    std::_Exit(to_int(ExitCode::mount));
  }
  std::fflush(nullptr);
  const pid_t child = ::fork();
  if (child < 0) {
    std::fprintf(stderr, "popfs: fork: %s\n", std::strerror(errno));
    std::_Exit(to_int(ExitCode::mount));
  }
  if (child > 0) {
    ::close(fds[1]);
    parent_wait(fds[0], child);
  }
  ::close(fds[0]);
  ::setsid();
  if (::chdir("/") != 0) {
    // "/" always exists; nothing sensible to do otherwise.
  }
  return Detacher(fds[1]);
}

void Detacher::ready() {
  if (fd_ < 0) return;
  write_all(fd_, "ok");
  ::close(fd_);
  fd_ = -1;
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, STDIN_FILENO);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    if (null > STDERR_FILENO) ::close(null);
  }
}

void Detacher::failed(int code, const std::string& message) {
  if (fd_ < 0) return;
  write_all(fd_, std::to_string(code) + " " + message);
  ::close(fd_);
  fd_ = -1;
}

Detacher::~Detacher() {
  if (fd_ >= 0) ::close(fd_);  // the parent reports "exited before the mount was ready"
}

}  // namespace popfs::app
