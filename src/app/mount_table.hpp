#pragma once
// Whether a path is a mount point, from the kernel's mount table.

#include <string>

namespace popfs::app {

// `path` must be absolute and resolved (see resolve_mountpoint in popfs/app/control.hpp).
bool is_mount_point(const std::string& path);

}  // namespace popfs::app
