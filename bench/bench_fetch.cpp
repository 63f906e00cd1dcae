// bench_fetch: how fast popfs's POP3 client downloads a whole mailbox, beside mpop.
//
// Generates the benchmark mailbox (2,000 messages, ~22 MB), starts a private Dovecot, and
// downloads every message over pop3s (UIDL, LIST, RETR all), pipelined:
//   - with popfs's Pop3Maildrop and with mpop, directly over loopback, and
//   - both again through a DelayProxy adding --delay-ms (default 10 ms) each way.
// Prints each time and popfs/mpop ratios beside the targets (<= 1.0x at 10 ms, <= 1.2x with
// no delay). Informational: the exit status only reflects failures, not speed.
// Run it through scripts/bench-fetch (release build).

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "popfs/mailbox/pop3_maildrop.hpp"
#include "popfs_test/corpus.hpp"
#include "popfs_test/delay_proxy.hpp"
#include "popfs_test/dovecot.hpp"
#include "popfs_test/process.hpp"
#include "popfs_test/temp_dir.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
};

struct Run {
  double seconds = 0;
  std::size_t messages = 0;
  std::uint64_t bytes = 0;
};

// popfs: list() then retr() of every message, all queued at once (the maildrop pipelines).
Run fetch_with_popfs(const popfs::test::Dovecot& dovecot, const Endpoint& endpoint) {
  popfs::net::Account account;
  account.host = endpoint.host;
  account.port = endpoint.port;
  account.security = popfs::net::Security::implicit_tls;
  account.user = dovecot.user();
  const std::string password = dovecot.password();
  account.password = [password]() -> popfs::Result<std::string> { return password; };
  account.ca_file = dovecot.ca_file();

  const auto started = Clock::now();
  popfs::mailbox::Pop3Maildrop maildrop(account);
  std::mutex mutex;
  std::condition_variable changed;
  std::optional<popfs::Result<popfs::mailbox::Listing>> listing;
  maildrop.list([&](popfs::Result<popfs::mailbox::Listing> result) {
    std::lock_guard lock(mutex);
    listing = std::move(result);
    changed.notify_all();
  });
  {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return listing.has_value(); });
  }
  if (!*listing) throw std::runtime_error("popfs list: " + listing->error().describe());

  const popfs::MessageTable& messages = ***listing;
  std::atomic<std::uint64_t> bytes{0};
  std::size_t finished = 0;
  std::optional<popfs::Error> failure;
  for (std::size_t row = 0; row < messages.size(); ++row) {
    maildrop.retr(
        messages.id(row), [&](std::string_view chunk) { bytes += chunk.size(); },
        [&](popfs::Result<void> result) {
          std::lock_guard lock(mutex);
          if (!result && !failure) failure = result.error();
          ++finished;
          changed.notify_all();
        });
  }
  {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return finished == messages.size(); });
  }
  const auto elapsed = Clock::now() - started;
  if (failure) throw std::runtime_error("popfs retr: " + failure->describe());
  return Run{std::chrono::duration<double>(elapsed).count(), messages.size(), bytes.load()};
}

// mpop with a private configuration: pop3s, the fixture's CA, keep on, only_new off (so it
// fetches everything every time), delivery into a fresh mbox file (one file: the cheapest
// delivery mpop has; popfs's side keeps the bytes in memory).
Run fetch_with_mpop(const popfs::test::Dovecot& dovecot, const Endpoint& endpoint) {
  popfs::test::TempDir dir("popfs-bench-mpop-");
  const auto mbox = dir / "mbox";
  const auto password_file = dir / "password";
  popfs::test::write_file(password_file, dovecot.password());
  const auto config = dir / "mpoprc";
  popfs::test::write_file(
      config, fmt::format("defaults\n"
                          "account bench\n"
                          "host {}\n"
                          "port {}\n"
                          "tls on\n"
                          "tls_starttls off\n"
                          "tls_trust_file {}\n"
                          "user {}\n"
                          "passwordeval cat {}\n"
                          "auth plain\n"
                          "pipelining auto\n"
                          "keep on\n"
                          "only_new off\n"
                          "received_header off\n"
                          "uidls_file {}\n"
                          "delivery mbox {}\n"
                          "account default : bench\n",
                          endpoint.host, endpoint.port, dovecot.ca_file(), dovecot.user(),
                          password_file.string(), (dir / "uidls").string(), mbox.string()));
  std::filesystem::permissions(config, std::filesystem::perms::owner_read |
                                           std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::replace);

  const auto started = Clock::now();
  const auto result =
      popfs::test::run_command({"mpop", "--quiet", "--file=" + config.string(), "bench"}, 10min);
  const auto elapsed = Clock::now() - started;
  if (result.exit_code != 0)
    throw std::runtime_error(fmt::format("mpop failed (exit {}): {}", result.exit_code,
                                         result.output));
  Run run;
  run.seconds = std::chrono::duration<double>(elapsed).count();
  // mbox: every message starts with a "From " line (mpop quotes "From " in bodies).
  const std::string content = popfs::test::read_file(mbox);
  run.bytes = content.size();
  run.messages = content.rfind("From ", 0) == 0 ? 1 : 0;
  for (auto at = content.find("\nFrom "); at != std::string::npos;
       at = content.find("\nFrom ", at + 1))
    ++run.messages;
  return run;
}

double best_of(int runs, const std::function<Run()>& fetch, std::size_t expected_messages,
               const char* label) {
  double best = 1e300;
  for (int i = 0; i < runs; ++i) {
    const Run run = fetch();
    if (run.messages != expected_messages)
      throw std::runtime_error(fmt::format("{} fetched {} messages, expected {}", label,
                                           run.messages, expected_messages));
    fmt::print("  {:<28} run {}: {:7.3f} s  ({} messages, {:.1f} MB)\n", label, i + 1,
               run.seconds, run.messages, static_cast<double>(run.bytes) / 1e6);
    std::fflush(stdout);
    best = std::min(best, run.seconds);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Download a 2,000-message mailbox with popfs and with mpop, and compare"};
  int delay_ms = 10;
  int runs = 3;
  std::size_t count = 0;
  app.add_option("--delay-ms", delay_ms, "latency the proxy adds in each direction")
      ->capture_default_str();
  app.add_option("--runs", runs, "runs per configuration (the best counts)")->capture_default_str();
  app.add_option("--count", count, "messages (default: the benchmark mailbox's 2,000)");
  CLI11_PARSE(app, argc, argv);

  try {
    auto corpus_options = popfs::test::CorpusOptions::benchmark();
    if (count != 0) corpus_options.count = count;
    fmt::print("generating {} messages...\n", corpus_options.count);
    std::fflush(stdout);
    popfs::test::DovecotOptions dovecot_options;
    dovecot_options.corpus = popfs::test::generate_corpus(corpus_options);
    const auto total = dovecot_options.corpus.total_bytes();
    const auto messages = dovecot_options.corpus.messages.size();
    popfs::test::Dovecot dovecot(std::move(dovecot_options));
    fmt::print("mailbox: {} messages, {:.1f} MB (LF); Dovecot pop3s on port {}\n", messages,
               static_cast<double>(total) / 1e6, dovecot.pop3s_port());

    popfs::test::DelayProxyOptions proxy_options;
    proxy_options.target_host = dovecot.host();
    proxy_options.target_port = dovecot.pop3s_port();
    proxy_options.delay = std::chrono::milliseconds(delay_ms);
    popfs::test::DelayProxy proxy(proxy_options);

    const Endpoint direct{dovecot.host(), dovecot.pop3s_port()};
    const Endpoint delayed{proxy.host(), proxy.port()};

    fmt::print("\nno added delay:\n");
    const double popfs_direct = best_of(
        runs, [&] { return fetch_with_popfs(dovecot, direct); }, messages, "popfs");
    const double mpop_direct = best_of(
        runs, [&] { return fetch_with_mpop(dovecot, direct); }, messages, "mpop");
    fmt::print("\n{} ms each way (DelayProxy):\n", delay_ms);
    const double popfs_delayed = best_of(
        runs, [&] { return fetch_with_popfs(dovecot, delayed); }, messages, "popfs");
    const double mpop_delayed = best_of(
        runs, [&] { return fetch_with_mpop(dovecot, delayed); }, messages, "mpop");

    auto verdict = [](double ratio, double target) { return ratio <= target ? "meets" : "MISSES"; };
    const double ratio_direct = popfs_direct / mpop_direct;
    const double ratio_delayed = popfs_delayed / mpop_delayed;
    fmt::print("\nresults (best of {}):\n", runs);
    fmt::print("  {:<16} {:>9} {:>9} {:>8}   target\n", "", "popfs", "mpop", "ratio");
    fmt::print("  {:<16} {:>8.3f}s {:>8.3f}s {:>7.2f}x   <= 1.20x  {}\n", "no delay",
               popfs_direct, mpop_direct, ratio_direct, verdict(ratio_direct, 1.2));
    fmt::print("  {:<16} {:>8.3f}s {:>8.3f}s {:>7.2f}x   <= 1.00x  {}\n",
               fmt::format("{} ms delay", delay_ms), popfs_delayed, mpop_delayed, ratio_delayed,
               verdict(ratio_delayed, 1.0));
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_fetch: {}\n", e.what());
    return 1;
  }
}
