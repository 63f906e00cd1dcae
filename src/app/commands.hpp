#pragma once
// The popfs subcommands. Each returns the process exit code (popfs/app/exit_code.hpp) and
// prints its own messages.

#include <string>

#include "popfs/app/config.hpp"

namespace popfs::app {

int run_mount(const MountSettings& settings, const std::string& mountpoint);
int run_umount(const std::string& mountpoint);
int run_status(const std::string& mountpoint);
int run_refresh(const std::string& mountpoint, bool now);
// `target` is a mountpoint served by a popfs daemon, or else a URL/account (settings).
int run_sync_mounted(const std::string& mountpoint);
int run_sync_offline(const MountSettings& settings);
int run_cache_stats(const MountSettings& settings);
int run_cache_clear(const MountSettings& settings);

// "popfs: <message>" on stderr; returns `code`.
int fail(int code, const std::string& message);

}  // namespace popfs::app
