#pragma once
// Text forms shared by the daemon and the client side of the control socket.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "popfs/app/config.hpp"
#include "popfs/fs/filesystem.hpp"

namespace popfs::app {

// "key: value" lines for `popfs status`.
std::vector<std::string> format_status(const MountSettings& settings, const std::string& mountpoint,
                                       const fs::Status& status);

// "progress <done> <total> <done_bytes> <total_bytes> <failed>" and back.
std::string format_progress_line(const fs::SyncProgress& progress);
std::optional<fs::SyncProgress> parse_progress_line(std::string_view line);

// Shows sync progress: a redrawn bar on a terminal, a line per 10% (and the last) otherwise.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool terminal);
  void update(const fs::SyncProgress& progress);
  void finish();

 private:
  bool terminal_;
  double started_ = 0;
  std::uint64_t last_decile_ = 0;
  bool drew_ = false;
};

std::string human_bytes(std::uint64_t bytes);

}  // namespace popfs::app
