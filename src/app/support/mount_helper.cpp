#include "popfs/app/mount_helper.hpp"

#include <array>
#include <string_view>

namespace popfs::app {
namespace {

constexpr std::array<std::string_view, 8> kSubcommands = {
    "mount", "umount", "unmount", "sync", "status", "refresh", "cache", "help"};

bool is_subcommand(std::string_view word) {
  for (const auto sub : kSubcommands) {
    if (word == sub) return true;
  }
  return false;
}

}  // namespace

std::optional<std::vector<std::string>> rewrite_mount_helper_args(const std::vector<std::string>& args) {
  if (args.size() < 2) return std::nullopt;
  const std::string& source = args[0];
  const std::string& mountpoint = args[1];
  if (source.empty() || source.front() == '-' || is_subcommand(source)) return std::nullopt;
  if (mountpoint.empty() || mountpoint.front() == '-') return std::nullopt;
  std::vector<std::string> out{"mount"};
  out.insert(out.end(), args.begin() + 2, args.end());
  out.push_back(source);
  out.push_back(mountpoint);
  return out;
}

}  // namespace popfs::app
