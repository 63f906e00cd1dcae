#pragma once
// Inode numbers: the one place they are made. The cache gives every message a serial once
// (store::MessageRecord::serial, never reused); its file is inode 16 + 2 * serial and its
// header stub in .headers/ the next odd number, so both are stable across remounts and
// never collide. Numbers below 16 are the filesystem's own directories. The MIME parts of a
// message (.parts/<name>/) have numbers with the top bits set: its folder 2^62 + serial,
// its parts 2^63 + serial * 2^16 + the part's index in the message's part tree (at most
// 65,535 entries, more than popfs lists), stable as long as the message is.

#include <cstdint>
#include <optional>
#include <string_view>

namespace popfs::fs {

inline constexpr std::uint64_t kRootInode = 1;     // the mount point (FUSE_ROOT_ID)
inline constexpr std::uint64_t kHeadersInode = 2;  // MOUNTPOINT/.headers
inline constexpr std::uint64_t kCurInode = 3;      // layout=maildir: cur/, new/, tmp/
inline constexpr std::uint64_t kNewInode = 4;
inline constexpr std::uint64_t kTmpInode = 5;
inline constexpr std::uint64_t kPartsInode = 6;    // MOUNTPOINT/.parts
inline constexpr std::string_view kHeadersDirName = ".headers";
inline constexpr std::string_view kPartsDirName = ".parts";
inline constexpr std::uint64_t kFirstMessageInode = 16;
inline constexpr std::uint64_t kPartFolderBase = std::uint64_t{1} << 62;
inline constexpr std::uint64_t kPartBase = std::uint64_t{1} << 63;

enum class NodeKind { root, headers_dir, cur_dir, new_dir, tmp_dir, parts_dir, message, stub, part_folder, part, none };

constexpr std::uint64_t message_inode(std::uint64_t serial) { return kFirstMessageInode + 2 * serial; }
constexpr std::uint64_t stub_inode(std::uint64_t serial) { return kFirstMessageInode + 1 + 2 * serial; }

constexpr std::uint64_t part_folder_inode(std::uint64_t serial) { return kPartFolderBase + serial; }
constexpr std::uint64_t part_inode(std::uint64_t serial, std::uint32_t index) {
  return kPartBase + (serial << 16) + index;
}

// What an inode number names, by its form alone (whether that message exists is the
// Namespace's business).
constexpr NodeKind kind_of_inode(std::uint64_t ino) {
  switch (ino) {
    case kRootInode: return NodeKind::root;
    case kHeadersInode: return NodeKind::headers_dir;
    case kCurInode: return NodeKind::cur_dir;
    case kNewInode: return NodeKind::new_dir;
    case kTmpInode: return NodeKind::tmp_dir;
    case kPartsInode: return NodeKind::parts_dir;
    default: break;
  }
  if (ino < kFirstMessageInode) return NodeKind::none;
  if (ino >= kPartBase) return NodeKind::part;
  if (ino >= kPartFolderBase) return NodeKind::part_folder;
  return ino % 2 == 0 ? NodeKind::message : NodeKind::stub;
}
// The message a message, stub, part folder or part inode belongs to.
constexpr std::uint64_t serial_of_inode(std::uint64_t ino) {
  if (ino >= kPartBase) return (ino - kPartBase) >> 16;
  if (ino >= kPartFolderBase) return ino - kPartFolderBase;
  return (ino - kFirstMessageInode) / 2;
}
constexpr std::uint32_t part_index_of_inode(std::uint64_t ino) { return static_cast<std::uint32_t>(ino & 0xFFFF); }

}  // namespace popfs::fs
