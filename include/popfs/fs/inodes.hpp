#pragma once
// Inode numbers: the one place they are made. The cache gives every message a serial once
// (store::MessageRecord::serial, never reused); its file is inode 16 + 2 * serial and its
// header stub in .headers/ the next odd number, so both are stable across remounts and
// never collide. Numbers below 16 are the filesystem's own directories.

#include <cstdint>
#include <optional>
#include <string_view>

namespace popfs::fs {

inline constexpr std::uint64_t kRootInode = 1;     // the mount point (FUSE_ROOT_ID)
inline constexpr std::uint64_t kHeadersInode = 2;  // MOUNTPOINT/.headers
inline constexpr std::string_view kHeadersDirName = ".headers";
inline constexpr std::uint64_t kFirstMessageInode = 16;

enum class NodeKind { root, headers_dir, message, stub, none };

constexpr std::uint64_t message_inode(std::uint64_t serial) { return kFirstMessageInode + 2 * serial; }
constexpr std::uint64_t stub_inode(std::uint64_t serial) { return kFirstMessageInode + 1 + 2 * serial; }

// What an inode number names, by its form alone (whether that message exists is the
// Namespace's business).
constexpr NodeKind kind_of_inode(std::uint64_t ino) {
  if (ino == kRootInode) return NodeKind::root;
  if (ino == kHeadersInode) return NodeKind::headers_dir;
  if (ino < kFirstMessageInode) return NodeKind::none;
  return ino % 2 == 0 ? NodeKind::message : NodeKind::stub;
}
constexpr std::uint64_t serial_of_inode(std::uint64_t ino) { return (ino - kFirstMessageInode) / 2; }

}  // namespace popfs::fs
