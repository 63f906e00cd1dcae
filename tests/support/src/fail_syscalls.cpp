#include "popfs_test/fail_syscalls.hpp"

namespace popfs::test {

std::vector<std::string> syscall_failure_env(const std::filesystem::path& library, const SyscallFailures& failures) {
  std::vector<std::string> env{"LD_PRELOAD=" + library.string(), "POPFS_FAIL_UNDER=" + failures.under.string()};
  if (failures.rename_errno) env.push_back("POPFS_FAIL_RENAME=" + std::to_string(*failures.rename_errno));
  if (failures.link_errno) env.push_back("POPFS_FAIL_LINK=" + std::to_string(*failures.link_errno));
  if (failures.unlink_errno) env.push_back("POPFS_FAIL_UNLINK=" + std::to_string(*failures.unlink_errno));
  return env;
}

}  // namespace popfs::test
