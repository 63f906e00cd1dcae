#pragma once
// What the kernel must be told after a change: collected while a component holds its lock,
// sent (KernelNotifier) after it let go.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace popfs::fs {

struct Notes {
  std::vector<std::uint64_t> inodes;                            // attributes or content changed
  std::vector<std::pair<std::uint64_t, std::string>> entries;  // (directory, name) appeared or vanished

  bool empty() const noexcept { return inodes.empty() && entries.empty(); }
  void add(Notes other) {
    inodes.insert(inodes.end(), other.inodes.begin(), other.inodes.end());
    for (auto& e : other.entries) entries.push_back(std::move(e));
  }
};

}  // namespace popfs::fs
