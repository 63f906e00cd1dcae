#pragma once
// A TCP relay on 127.0.0.1 that adds latency: each chunk received at time t is forwarded at
// t + delay, in each direction, in order. Throughput is not limited by the delay (chunks in
// flight overlap), half-closes are forwarded (also delayed), many connections are served at
// once. Used to make loopback behave like a distant server (pipelining tests, benchmarks).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace popfs::test {

struct DelayProxyOptions {
  std::string target_host = "127.0.0.1";  // name or address
  std::uint16_t target_port = 0;
  std::chrono::milliseconds delay{10};    // per direction
  std::uint16_t listen_port = 0;          // 0: a free port
};

class DelayProxy {
 public:
  // Listens at once; throws std::runtime_error if it cannot.
  explicit DelayProxy(DelayProxyOptions options);
  ~DelayProxy();  // closes every relayed connection and joins every thread
  DelayProxy(const DelayProxy&) = delete;
  DelayProxy& operator=(const DelayProxy&) = delete;

  std::string host() const { return "127.0.0.1"; }
  std::uint16_t port() const;
  std::size_t connection_count() const;  // connections accepted so far

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace popfs::test
