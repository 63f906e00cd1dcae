#pragma once
// .parts/<name>/: the MIME leaf parts of a message as files, nested multiparts and forwarded
// messages as folders (the part tree of popfs_mime, from GMime). A message's tree is made
// from its body, fetched once if it is not cached (the first look into its folder), and
// kept for the mount: trees are small (a few hundred bytes a part). A part's bytes are
// decoded from the cached body when read; the last few decoded parts are kept.
//
// Inodes: the message's folder is part_folder_inode(serial); the part or subfolder at
// position i of the tree (pre-order, from 1) is part_inode(serial, i).
//
// Threading: any thread may call in; one mutex guards the trees and decoded parts, never
// held while calling out.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "body_fetcher.hpp"
#include "core_context.hpp"
#include "popfs/mime/part_tree.hpp"

namespace popfs::fs {

struct PartIndex {
  mime::PartTree tree;
  // Entry i (from 1) in pre-order; [0] is null (the message's folder itself).
  std::vector<const mime::PartEntry*> entries;
  std::vector<std::uint32_t> parent;  // the index of each entry's folder (0: the message's)
  std::int64_t mtime = 0;             // the message's
};

class PartsView {
 public:
  using TreeDone = std::function<void(Result<std::shared_ptr<const PartIndex>>)>;
  using ReadDone = std::function<void(Result<std::string>)>;

  PartsView(CoreContext& core, BodyFetcher& bodies) : core_(core), bodies_(bodies) {}

  // The tree of `message` (inline when known, else later on the executor).
  void tree(const Message& message, TreeDone done);
  std::shared_ptr<const PartIndex> known(std::uint64_t serial);

  // Attributes and lookups within a known tree; folder = 0 is the message's folder.
  Attr attr(std::uint64_t serial, const PartIndex& index, std::uint32_t at) const;
  std::optional<std::uint32_t> child(const PartIndex& index, std::uint32_t folder, std::string_view name) const;
  std::vector<std::uint32_t> children(const PartIndex& index, std::uint32_t folder) const;

  void read(const Message& message, std::uint32_t at, std::uint64_t offset, std::size_t size, ReadDone done);
  void forget(std::uint64_t serial);  // the message is gone

 private:
  void parse(std::uint64_t serial, std::int64_t mtime, const std::string& body);

  CoreContext& core_;
  BodyFetcher& bodies_;
  std::mutex mu_;
  std::map<std::uint64_t, std::shared_ptr<const PartIndex>> trees_;
  std::map<std::uint64_t, std::vector<TreeDone>> waiting_;
  std::deque<std::pair<std::uint64_t, std::shared_ptr<const std::string>>> decoded_;  // key: inode
};

}  // namespace popfs::fs
