#pragma once
// mount(8) support. With an fstab line of type fuse.popfs, mount.fuse3 runs
//   popfs SOURCE MOUNTPOINT -o OPTIONS
// (without the "mount" subcommand). rewrite_mount_helper_args() turns that into
//   mount -o OPTIONS SOURCE MOUNTPOINT
// so main() can call it first and hand the result to the normal command-line parser.

#include <optional>
#include <string>
#include <vector>

namespace popfs::app {

// `args` excludes argv[0]. Returns nullopt when args already start with a subcommand or an
// option (the normal command line), else the rewritten arguments.
std::optional<std::vector<std::string>> rewrite_mount_helper_args(const std::vector<std::string>& args);

}  // namespace popfs::app
