#pragma once
// Whether a directory can take a popfs mount: the one check, used by `popfs mount` before
// it daemonizes (so the user sees why) and by Session::mount.

#include <string>

#include "popfs/util/result.hpp"

namespace popfs::fuse {

// The resolved absolute path if `given` is an existing, empty directory with nothing
// mounted on it and /dev/fuse can be opened; otherwise an error saying what to do (a
// dead FUSE mount names fusermount3 -u, one already mounted names popfs umount).
Result<std::string> check_mountpoint(const std::string& given);

// Whether `path` (absolute and resolved) is in the kernel's mount table.
bool is_mount_point(const std::string& path);

}  // namespace popfs::fuse
