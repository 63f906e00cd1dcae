#include "popfs/app/systemd.hpp"

#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>

#include "test_helpers.hpp"

namespace popfs::app {
namespace {

// A datagram socket standing in for systemd's notification socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;
  ~NotifySocket() {
    ::unsetenv("NOTIFY_SOCKET");
    ::close(fd_);
  }
  bool ok() const { return fd_ >= 0 && bound_; }

  std::string receive() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1) return "<nothing within 10 s>";
    char buffer[512];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
  }

 private:
  int fd_ = -1;
  bool bound_ = false;
};

TEST(Systemd, NotificationsReachTheSocket) {
  test::TempDir dir;
  NotifySocket socket(dir.file("notify"));
  ASSERT_TRUE(socket.ok());
  EXPECT_TRUE(running_under_systemd());
  notify_ready("mounted pop3s://alice@h:995 on /m");
  EXPECT_EQ(socket.receive(), "READY=1\nSTATUS=mounted pop3s://alice@h:995 on /m");
  notify_status("3 messages\n2 deletions pending");
  EXPECT_EQ(socket.receive(), "STATUS=3 messages 2 deletions pending");
  notify_stopping();
  EXPECT_EQ(socket.receive(), "STOPPING=1");
  notify_ready();
  EXPECT_EQ(socket.receive(), "READY=1");
}

TEST(Systemd, NothingHappensOutsideSystemd) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(running_under_systemd());
  notify_ready("x");  // must neither fail nor block
  notify_stopping();
  EXPECT_FALSE(running_under_systemd());
}

}  // namespace
}  // namespace popfs::app
