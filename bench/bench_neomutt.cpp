// bench_neomutt: how long the real NeoMutt takes to open a Maildir until its index is shown.
//
// Runs NeoMutt (popfs_test/neomutt.hpp: its own terminal, HOME and muttrc) on --maildir,
// leaving with <exit> so it writes nothing, --runs times. For each run it prints the time
// from NeoMutt's start to the first drawing of the index (the status bar, drawn by NeoMutt
// once the mailbox is read) and to its exit, and the message count NeoMutt showed. Without
// a header cache NeoMutt reads every message's header block at every open, which is what a
// cold popfs mount pays for; --header-cache measures re-opening with NeoMutt's cache warm.
// --before-run CMD runs a shell command before each measured run (e.g. mounting popfs on a
// fresh cache, so that every run is cold), --after-run CMD after each (e.g. unmounting it,
// also when the run failed). Prints the median last, as
//   neomutt_open_seconds=S
// for scripts/bench-neomutt. Informational: the exit status reflects failures only.

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <vector>

#include "popfs_test/neomutt.hpp"
#include "popfs_test/temp_dir.hpp"

namespace {

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time NeoMutt opening a Maildir until its index is shown"};
  std::string maildir;
  int runs = 3;
  int timeout_seconds = 600;
  long expect = -1;
  bool header_cache = false;
  std::string before_run;
  std::string after_run;
  app.add_option("--maildir", maildir, "The Maildir to open (e.g. a popfs -o layout=maildir mount)")->required();
  app.add_option("--runs", runs, "Measured runs (median reported)")->check(CLI::PositiveNumber);
  app.add_option("--timeout", timeout_seconds, "Seconds before a run is killed")->check(CLI::PositiveNumber);
  app.add_option("--expect", expect, "Message count NeoMutt must show (checked when given)");
  app.add_flag("--header-cache", header_cache, "Re-open with a warm NeoMutt header cache (one unmeasured run fills it)");
  app.add_option("--before-run", before_run, "Shell command run before each run (e.g. a fresh popfs mount)");
  app.add_option("--after-run", after_run, "Shell command run after each run (e.g. popfs umount)");
  CLI11_PARSE(app, argc, argv);

  try {
    popfs::test::TempDir work("popfs-bench-neomutt-");
    popfs::test::NeoMuttOptions options;
    options.keys = "<exit>";
    options.timeout = std::chrono::seconds(timeout_seconds);
    options.header_cache = header_cache;
    options.work_dir = work.path();  // kept across runs: the header cache, when enabled
    auto shell = [](const std::string& command, const char* option) {
      if (command.empty()) return;
      std::fflush(stdout);  // our lines before the command's
      const int status = std::system(command.c_str());
      if (status != 0) throw std::runtime_error(fmt::format("{} failed (status {}): {}", option, status, command));
    };
    // --before-run, NeoMutt, then --after-run whatever NeoMutt did.
    auto run_once = [&] {
      shell(before_run, "--before-run");
      popfs::test::NeoMuttRun result;
      try {
        result = popfs::test::run_neomutt(maildir, options);
      } catch (...) {
        if (!after_run.empty()) (void)std::system(after_run.c_str());
        throw;
      }
      shell(after_run, "--after-run");
      return result;
    };
    if (header_cache) {
      const auto fill = run_once();
      if (!fill.ok()) throw std::runtime_error("the run filling the header cache failed\n" + fill.describe());
      fmt::print("header cache filled in {:.3f} s\n", std::chrono::duration<double>(fill.elapsed).count());
    }
    std::vector<double> shown;
    for (int run = 1; run <= runs; ++run) {
      const auto result = run_once();
      const auto after = result.index_shown_after();
      if (!result.ok() || !after) throw std::runtime_error(fmt::format("run {} failed\n{}", run, result.describe()));
      const auto& status = result.last_status();
      if (expect >= 0 && status.messages != static_cast<std::size_t>(expect)) {
        throw std::runtime_error(fmt::format("run {}: NeoMutt showed {} messages, expected {}", run, status.messages, expect));
      }
      shown.push_back(after->count());
      fmt::print("run {}: index shown after {:.3f} s, NeoMutt exited after {:.3f} s, {} messages ({} new){}\n", run,
                 after->count(), std::chrono::duration<double>(result.elapsed).count(), status.messages,
                 status.new_messages, result.errors.empty() ? "" : fmt::format(", {} errors", result.errors.size()));
    }
    fmt::print("neomutt_open_seconds={:.3f}\n", median(shown));
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_neomutt: {}\n", e.what());
    return 1;
  }
}
