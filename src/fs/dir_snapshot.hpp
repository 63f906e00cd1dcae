#pragma once
// A directory as it was when it was opened (fs::DirSnapshot, opaque to the adapter): a
// directory of the namespace at one listing, or a folder of a message's MIME parts.

#include <atomic>
#include <cstdint>
#include <memory>

#include "namespace.hpp"
#include "parts_view.hpp"

namespace popfs::fs {

struct DirSnapshot {
  std::shared_ptr<const Namespace::Version> version;  // namespace directories
  NodeKind kind = NodeKind::root;
  std::shared_ptr<const PartIndex> parts;  // part folders: the message's tree
  std::uint64_t serial = 0;
  std::uint32_t folder = 0;  // 0: the message's own folder
  // Set once a page of this open directory was read while a program statted what it
  // lists: its later pages wait for their stubs too. Their attributes then spare the
  // lookups whose waits would have kept that signal fresh.
  mutable std::atomic<bool> statted{false};
};

}  // namespace popfs::fs
