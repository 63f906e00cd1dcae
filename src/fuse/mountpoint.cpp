#include "popfs/fuse/mountpoint.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace popfs::fuse {
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

Result<std::string> check_mountpoint(const std::string& given) {
  std::error_code error;
  const auto absolute = std::filesystem::absolute(given, error);
  if (error) return Error(Errc::not_found, given + ": " + error.message());
  struct stat st;
  if (::stat(absolute.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOTCONN) {
      return Error(Errc::io, "mountpoint " + given + " is a dead FUSE mount (a popfs that crashed?); run: fusermount3 -u " +
                                 given);
    }
    if (err == ENOENT) {
      return Error(Errc::io, "mountpoint " + given + " does not exist (create it with: mkdir -p " + given + ")");
    }
    return Error(Errc::io, "cannot use mountpoint " + given + ": " + std::strerror(err));
  }
  if (!S_ISDIR(st.st_mode)) return Error(Errc::io, "mountpoint " + given + " is not a directory");
  const auto resolved = std::filesystem::canonical(absolute, error);
  if (error) return Error(Errc::io, given + ": " + error.message());
  struct stat parent;
  const std::string up = resolved.string() + "/..";
  const bool covered = ::stat(up.c_str(), &parent) == 0 && (parent.st_dev != st.st_dev || parent.st_ino == st.st_ino);
  if (covered || is_mount_point(resolved.string())) {
    return Error(Errc::io, "mountpoint " + given + " is already mounted (unmount it with: popfs umount " + given + ")");
  }
  // The mount would hide these files, and a later `rm -r` of the mountpoint would be a surprise.
  if (!std::filesystem::is_empty(resolved, error) || error) {
    return Error(Errc::io, "mountpoint " + given + " is not empty; mount on an empty directory");
  }
  const int fd = ::open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return Error(Errc::unsupported, std::string("FUSE is not available (/dev/fuse: ") + std::strerror(err) +
                                        "); load the fuse module or, in a container, pass --device /dev/fuse");
  }
  ::close(fd);
  return resolved.string();
}

}  // namespace popfs::fuse
