#pragma once
// Detaching from the terminal so that `popfs mount` returns only once the mount is ready:
// the parent waits on a pipe for the daemon's verdict and exits with it.

#include <string>

namespace popfs::app {

class Detacher {
 public:
  // Forks. In the parent this never returns: it waits for the child's verdict, prints the
  // child's error if any, and exits with its code. In the child it returns after setsid().
  // Call before any thread is started.
  static Detacher detach();

  // Child side: the mount is ready. Redirects stdin/stdout/stderr to /dev/null.
  void ready();
  // Child side: the mount failed; the parent prints `message` and exits with `code`.
  void failed(int code, const std::string& message);

  Detacher(Detacher&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Detacher(const Detacher&) = delete;
  Detacher& operator=(const Detacher&) = delete;
  ~Detacher();

 private:
  explicit Detacher(int fd) : fd_(fd) {}
  int fd_;  // write end of the verdict pipe; -1 once the verdict was sent
};

}  // namespace popfs::app
