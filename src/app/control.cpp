#include "popfs/app/control.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <list>
#include <mutex>
#include <thread>

namespace popfs::app {
namespace {

constexpr std::size_t kMaxCommandLength = 256;

// FNV-1a: a stable hash (std::hash may differ between builds) to name the socket.
std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

Result<std::string> private_runtime_dir() {
  const uid_t uid = geteuid();
  std::string dir;
  if (uid == 0) {
    dir = "/run/popfs";
  } else if (const std::string user_run = "/run/user/" + std::to_string(uid);
             ::access(user_run.c_str(), W_OK) == 0) {
    dir = user_run + "/popfs";
  } else {
    dir = "/tmp/popfs-" + std::to_string(uid);
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Error(Errc::io, "cannot create " + dir + ": " + std::strerror(errno));
  }
  struct stat info {};
  if (::lstat(dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode) || info.st_uid != uid ||
      (info.st_mode & 077) != 0) {
    return Error(Errc::io, dir + " must be a directory owned by you with mode 0700");
  }
  return dir;
}

Result<sockaddr_un> socket_address(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) {
    return Error(Errc::invalid_argument, "control socket path too long: " + path);
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

class SocketReply final : public ControlReply {
 public:
  explicit SocketReply(int fd) : fd_(fd) {}
  void line(std::string_view text) override {
    std::string out(text);
    out += '\n';
    write_all(fd_, out);  // a client that went away just stops receiving
  }

 private:
  int fd_;
};

class SocketControlServer final : public ControlServer {
 public:
  SocketControlServer(int listen_fd, std::string path, Handler handler)
      : listen_fd_(listen_fd), path_(std::move(path)), handler_(std::move(handler)),
        acceptor_([this] { accept_loop(); }) {}

  ~SocketControlServer() override {
    ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
    acceptor_.join();
    ::close(listen_fd_);
    ::unlink(path_.c_str());
    std::list<std::thread> clients;
    {
      std::lock_guard lock(mutex_);
      clients.swap(clients_);
    }
    for (auto& client : clients) client.join();
  }

 private:
  void accept_loop() {
    for (;;) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;  // shut down
      }
      std::lock_guard lock(mutex_);
      clients_.emplace_back([this, fd] { serve_client(fd); });
    }
  }

  void serve_client(int fd) {
    std::string command;
    char c = 0;
    while (command.size() < kMaxCommandLength) {
      const ssize_t n = ::recv(fd, &c, 1, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || c == '\n') break;
      command += c;
    }
    SocketReply reply(fd);
    handler_(command, reply);
    ::close(fd);
  }

  int listen_fd_;
  std::string path_;
  Handler handler_;
  std::mutex mutex_;
  std::list<std::thread> clients_;
  std::thread acceptor_;
};

}  // namespace

std::string resolve_mountpoint(const std::string& mountpoint) {
  std::error_code error;
  const auto absolute = std::filesystem::absolute(mountpoint, error).lexically_normal();
  const auto resolved = std::filesystem::weakly_canonical(absolute, error);
  std::string text = error ? absolute.string() : resolved.string();
  if (text.size() > 1 && text.back() == '/') text.pop_back();
  return text;
}

Result<std::string> control_socket_path(const std::string& mountpoint) {
  const std::string resolved = resolve_mountpoint(mountpoint);
  auto dir = private_runtime_dir();
  if (!dir) return std::move(dir).error();
  char name[32];
  std::snprintf(name, sizeof name, "%016llx.sock",
                static_cast<unsigned long long>(fnv1a(resolved)));
  return *dir + "/" + name;
}

Result<std::unique_ptr<ControlServer>> ControlServer::start(const std::string& socket_path,
                                                           Handler handler) {
  auto address = socket_address(socket_path);
  if (!address) return std::move(address).error();
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error(Errc::io, std::string("socket: ") + std::strerror(errno));
  ::unlink(socket_path.c_str());  // a stale socket of a daemon that was killed
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&*address), sizeof(sockaddr_un)) != 0 ||
      ::listen(fd, 16) != 0) {
    const std::string reason = std::strerror(errno);
    ::close(fd);
    return Error(Errc::io, "control socket " + socket_path + ": " + reason);
  }
  return std::unique_ptr<ControlServer>(
      std::make_unique<SocketControlServer>(fd, socket_path, std::move(handler)));
}

Result<void> control_request(const std::string& mountpoint, const std::string& command,
                             const std::function<void(std::string_view)>& on_line, int* exit_code) {
  auto path = control_socket_path(mountpoint);
  if (!path) return std::move(path).error();
  auto address = socket_address(*path);
  if (!address) return std::move(address).error();
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error(Errc::io, std::string("socket: ") + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&*address), sizeof(sockaddr_un)) != 0) {
    ::close(fd);
    return Error(Errc::not_found, "no popfs daemon is serving " + mountpoint);
  }
  write_all(fd, command + "\n");
  std::string pending;
  std::string final_line;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buffer, static_cast<std::size_t>(n));
    for (std::size_t end; (end = pending.find('\n')) != std::string::npos;) {
      std::string line = pending.substr(0, end);
      pending.erase(0, end + 1);
      if (line == "ok" || line.rfind("error ", 0) == 0) {
        final_line = std::move(line);
      } else if (on_line) {
        on_line(line);
      }
    }
  }
  ::close(fd);
  if (final_line == "ok") return {};
  if (final_line.empty()) {
    return Error(Errc::connection, "the popfs daemon for " + mountpoint + " closed the connection");
  }
  // "error <code> <message>"
  std::string rest = final_line.substr(6);
  int code = 3;
  if (const auto space = rest.find(' '); space != std::string::npos) {
    code = std::atoi(rest.substr(0, space).c_str());
    rest.erase(0, space + 1);
  }
  if (exit_code) *exit_code = code;
  return Error(Errc::temporary, rest);
}

}  // namespace popfs::app
