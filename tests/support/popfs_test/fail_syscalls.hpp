#pragma once
// The environment that makes a client's rename/link/unlink fail with chosen errnos for
// paths under a prefix, through the LD_PRELOAD library popfs_fail_syscalls
// (tests/support/preload/fail_syscalls.cpp). A test gets the library's path from CMake
// ($<TARGET_FILE:popfs_fail_syscalls>). Only for programs that call the libc functions
// (NeoMutt, notmuch, coreutils); it does not reach programs making raw system calls.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace popfs::test {

struct SyscallFailures {
  std::filesystem::path under{};       // paths starting with this, as the client passes them
  std::optional<int> rename_errno{};   // rename*, by source path
  std::optional<int> link_errno{};     // link*, by target path
  std::optional<int> unlink_errno{};   // unlink*
};

// "LD_PRELOAD=library" and the POPFS_FAIL_* variables, for NeoMuttOptions::extra_env.
std::vector<std::string> syscall_failure_env(const std::filesystem::path& library, const SyscallFailures& failures);

}  // namespace popfs::test
