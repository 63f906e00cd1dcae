#include "mount_table.hpp"

#include <fstream>

namespace popfs::app {
namespace {

// /proc/self/mounts writes space, tab, newline and backslash in paths as octal escapes.
std::string unescape_mount_path(const std::string& field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const std::string digits = field.substr(i + 1, 3);
      if (digits.find_first_not_of("01234567") == std::string::npos) {
        out += static_cast<char>(std::stoi(digits, nullptr, 8));
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

}  // namespace

bool is_mount_point(const std::string& path) {
  std::ifstream mounts("/proc/self/mounts");
  std::string device, mount_path, rest;
  while (mounts >> device >> mount_path && std::getline(mounts, rest)) {
    if (unescape_mount_path(mount_path) == path) return true;
  }
  return false;
}

}  // namespace popfs::app
