#include "popfs_test/delay_proxy.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

namespace popfs::test {

namespace {

using Clock = std::chrono::steady_clock;

// One direction of one connection: a reader queues timestamped chunks, a writer sends each
// when it is due. An empty chunk means "the source closed": forward a half-close.
class Pipe {
 public:
  Pipe(int from, int to, std::chrono::milliseconds delay, std::atomic<int>& threads_done)
      : from_(from), to_(to), delay_(delay), threads_done_(threads_done) {}

  void start() {
    reader_ = std::thread([this] {
      read_loop();
      ++threads_done_;
    });
    writer_ = std::thread([this] {
      write_loop();
      ++threads_done_;
    });
  }
  void join() {
    reader_.join();
    writer_.join();
  }
  void stop() {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    ready_.notify_all();
  }

 private:
  struct Chunk {
    Clock::time_point due;
    std::string bytes;
  };

  void push(std::string bytes) {
    std::lock_guard lock(mutex_);
    queue_.push_back({Clock::now() + delay_, std::move(bytes)});
    ready_.notify_all();
  }

  void read_loop() {
    char buffer[65536];
    while (true) {
      const ssize_t n = ::recv(from_, buffer, sizeof buffer, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      push(std::string(buffer, static_cast<std::size_t>(n)));
    }
    push({});
  }

  void write_loop() {
    while (true) {
      Chunk chunk;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        const auto due = queue_.front().due;
        // Wait for the due time, unless stopped meanwhile.
        if (ready_.wait_until(lock, due, [&] { return stopping_; })) return;
        chunk = std::move(queue_.front());
        queue_.pop_front();
      }
      if (chunk.bytes.empty()) {
        ::shutdown(to_, SHUT_WR);
        return;
      }
      std::string_view rest(chunk.bytes);
      while (!rest.empty()) {
        const ssize_t n = ::send(to_, rest.data(), rest.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          // Destination gone: stop reading the source too, so this direction ends.
          ::shutdown(from_, SHUT_RD);
          ::shutdown(to_, SHUT_RDWR);
          return;
        }
        rest.remove_prefix(static_cast<std::size_t>(n));
      }
    }
  }

  int from_;
  int to_;
  std::chrono::milliseconds delay_;
  std::atomic<int>& threads_done_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Chunk> queue_;
  bool stopping_ = false;
  std::thread reader_;
  std::thread writer_;
};

class Connection {
 public:
  Connection(int client, int server, std::chrono::milliseconds delay)
      : client_(client),
        server_(server),
        upstream_(client, server, delay, threads_done_),
        downstream_(server, client, delay, threads_done_) {
    upstream_.start();
    downstream_.start();
  }
  ~Connection() {
    stop();
    upstream_.join();
    downstream_.join();
    ::close(client_);
    ::close(server_);
  }
  // Both directions closed and all four threads ended: safe to destroy without waiting.
  bool finished() const { return threads_done_.load() == 4; }
  void stop() {
    ::shutdown(client_, SHUT_RDWR);
    ::shutdown(server_, SHUT_RDWR);
    upstream_.stop();
    downstream_.stop();
  }

 private:
  int client_;
  int server_;
  std::atomic<int> threads_done_{0};
  Pipe upstream_;
  Pipe downstream_;
};

int connect_to(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd >= 0 && ::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  return fd;
}

void no_delay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

}  // namespace

struct DelayProxy::State {
  DelayProxyOptions options;
  int listen_fd = -1;
  int wake_fd = -1;
  std::uint16_t port = 0;
  std::atomic<std::size_t> accepted{0};
  std::thread acceptor;
  std::list<std::unique_ptr<Connection>> connections;  // touched by the acceptor thread only

  void accept_loop() {
    while (true) {
      pollfd fds[2] = {{listen_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
      // Wake up now and then to free finished connections (a long-running CLI proxy).
      if (::poll(fds, 2, 1000) < 0 && errno != EINTR) return;
      connections.remove_if([](const std::unique_ptr<Connection>& c) { return c->finished(); });
      if ((fds[1].revents & POLLIN) != 0) return;
      if ((fds[0].revents & POLLIN) == 0) continue;
      const int client = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      ++accepted;
      const int server = connect_to(options.target_host, options.target_port);
      if (server < 0) {
        ::close(client);  // the client sees the target's refusal as a closed connection
        continue;
      }
      no_delay(client);
      no_delay(server);
      connections.push_back(std::make_unique<Connection>(client, server, options.delay));
    }
  }
};

DelayProxy::DelayProxy(DelayProxyOptions options) : state_(std::make_shared<State>()) {
  State& state = *state_;
  state.options = std::move(options);
  state.listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(state.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(state.options.listen_port);
  socklen_t length = sizeof address;
  if (state.listen_fd < 0 ||
      ::bind(state.listen_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(state.listen_fd, 128) != 0 ||
      ::getsockname(state.listen_fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const std::string reason = std::strerror(errno);
    if (state.listen_fd >= 0) ::close(state.listen_fd);
    throw std::runtime_error("DelayProxy: cannot listen on 127.0.0.1:" +
                             std::to_string(state.options.listen_port) + ": " + reason);
  }
  state.port = ntohs(address.sin_port);
  state.wake_fd = ::eventfd(0, EFD_CLOEXEC);
  state.acceptor = std::thread([&state] { state.accept_loop(); });
}

DelayProxy::~DelayProxy() {
  State& state = *state_;
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto written = ::write(state.wake_fd, &one, sizeof one);
  state.acceptor.join();
  for (auto& connection : state.connections) connection->stop();
  state.connections.clear();  // joins each connection's threads
  ::close(state.listen_fd);
  ::close(state.wake_fd);
}

std::uint16_t DelayProxy::port() const { return state_->port; }
std::size_t DelayProxy::connection_count() const { return state_->accepted.load(); }

}  // namespace popfs::test
