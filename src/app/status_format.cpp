#include "status_format.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <sstream>

#include "popfs/app/url.hpp"

namespace popfs::app {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string format_time(std::chrono::system_clock::time_point when) {
  const std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm local{};
  localtime_r(&t, &local);
  char text[64];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S %z", &local);
  return text;
}

std::string format_duration(double seconds) {
  if (seconds < 0 || seconds > 1e7) return "--:--";
  const auto total = static_cast<long>(seconds + 0.5);
  char text[32];
  std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", total / 3600, (total / 60) % 60, total % 60);
  return text;
}

}  // namespace

std::string human_bytes(std::uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
  return text;
}

std::vector<std::string> format_status(const MountSettings& settings, const std::string& mountpoint,
                                       const fs::Status& status) {
  std::vector<std::string> lines;
  lines.push_back("account: " + format_url(settings.url));
  lines.push_back("mountpoint: " + mountpoint);
  lines.push_back("messages: " + std::to_string(status.messages));
  lines.push_back("cached messages: " + std::to_string(status.cached_messages));
  lines.push_back("cached bytes: " + std::to_string(status.cached_bytes) + " (" +
                  human_bytes(status.cached_bytes) + ")");
  lines.push_back("pending deletions: " + std::to_string(status.pending_deletions));
  lines.push_back(std::string("opens: ") + (status.opens_skipped ? "skipped (every size exact; new mail is "
                                                                   "listed once fetched)"
                                                                 : "answered"));
  lines.push_back("last refresh: " +
                  (status.last_refresh ? format_time(*status.last_refresh) : std::string("never")));
  lines.push_back("last error: " + (status.last_error.empty() ? std::string("none") : status.last_error));
  lines.push_back("cache: " + settings.cache_dir);
  return lines;
}

std::string format_progress_line(const fs::SyncProgress& progress) {
  std::ostringstream out;
  out << "progress " << progress.done_messages << ' ' << progress.total_messages << ' '
      << progress.done_bytes << ' ' << progress.total_bytes << ' ' << progress.failed_messages;
  return out.str();
}

std::optional<fs::SyncProgress> parse_progress_line(std::string_view line) {
  if (!line.starts_with("progress ")) return std::nullopt;
  std::istringstream in{std::string(line.substr(9))};
  fs::SyncProgress progress;
  if (!(in >> progress.done_messages >> progress.total_messages >> progress.done_bytes >>
        progress.total_bytes >> progress.failed_messages)) {
    return std::nullopt;
  }
  return progress;
}

ProgressPrinter::ProgressPrinter(bool terminal) : terminal_(terminal), started_(now_seconds()) {}

void ProgressPrinter::update(const fs::SyncProgress& progress) {
  const double elapsed = now_seconds() - started_;
  const double rate = elapsed > 0 ? static_cast<double>(progress.done_bytes) / elapsed : 0;
  const double remaining_bytes =
      static_cast<double>(progress.total_bytes) - static_cast<double>(progress.done_bytes);
  const double eta = rate > 0 ? remaining_bytes / rate : -1;
  const double fraction = progress.total_messages == 0
                              ? 1.0
                              : static_cast<double>(progress.done_messages) /
                                    static_cast<double>(progress.total_messages);
  char summary[256];
  std::snprintf(summary, sizeof summary, "%llu/%llu messages, %s/%s, %s/s, ETA %s%s",
                static_cast<unsigned long long>(progress.done_messages),
                static_cast<unsigned long long>(progress.total_messages),
                human_bytes(progress.done_bytes).c_str(), human_bytes(progress.total_bytes).c_str(),
                human_bytes(static_cast<std::uint64_t>(rate)).c_str(), format_duration(eta).c_str(),
                progress.failed_messages ? (", " + std::to_string(progress.failed_messages) + " failed").c_str()
                                         : "");
  if (terminal_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth);
    std::string bar(static_cast<std::size_t>(filled), '=');
    bar.resize(kWidth, ' ');
    std::fprintf(stdout, "\r[%s] %s\033[K", bar.c_str(), summary);
    std::fflush(stdout);
    drew_ = true;
    return;
  }
  const auto decile = static_cast<std::uint64_t>(fraction * 10);
  if (decile > last_decile_ || progress.done_messages == progress.total_messages) {
    last_decile_ = decile;
    std::fprintf(stdout, "sync: %s\n", summary);
    std::fflush(stdout);
  }
}

void ProgressPrinter::finish() {
  if (terminal_ && drew_) std::fputc('\n', stdout);
}

}  // namespace popfs::app
