// popfs-delay-proxy: relays TCP on 127.0.0.1 to a target, adding a fixed delay to every
// chunk in each direction. Prints the listening port on stdout once ready; runs until
// SIGTERM or SIGINT.
#include <CLI/CLI.hpp>

#include <signal.h>

#include <cstdio>
#include <exception>

#include "popfs_test/delay_proxy.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Relay TCP with added latency (for popfs tests and benchmarks)"};
  std::string target;
  int delay_ms = 10;
  std::uint16_t listen_port = 0;
  app.add_option("--target", target, "HOST:PORT to relay to")->required();
  app.add_option("--delay-ms", delay_ms, "delay per direction, in milliseconds")
      ->check(CLI::Range(0, 60'000));
  app.add_option("--listen", listen_port, "port to listen on (127.0.0.1); default: a free one");
  CLI11_PARSE(app, argc, argv);

  const auto colon = target.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == target.size()) {
    std::fprintf(stderr, "popfs-delay-proxy: --target must be HOST:PORT, not '%s'\n", target.c_str());
    return 2;
  }
  // Block the stop signals before any thread starts, then wait for them synchronously.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  try {
    popfs::test::DelayProxyOptions options;
    options.target_host = target.substr(0, colon);
    options.target_port = static_cast<std::uint16_t>(std::stoul(target.substr(colon + 1)));
    options.delay = std::chrono::milliseconds(delay_ms);
    options.listen_port = listen_port;
    popfs::test::DelayProxy proxy(options);
    std::printf("%u\n", static_cast<unsigned>(proxy.port()));
    std::fflush(stdout);
    int received = 0;
    sigwait(&stop_signals, &received);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "popfs-delay-proxy: %s\n", e.what());
    return 1;
  }
  return 0;
}
