#include "parts_view.hpp"

#include <spdlog/spdlog.h>

namespace popfs::fs {
namespace {

constexpr std::size_t kDecodedKept = 4;

void index_entries(const std::vector<mime::PartEntry>& entries, std::uint32_t parent, PartIndex& index) {
  for (const auto& e : entries) {
    if (index.entries.size() > 0xFFFF) return;  // beyond what an inode can number
    const auto at = static_cast<std::uint32_t>(index.entries.size());
    index.entries.push_back(&e);
    index.parent.push_back(parent);
    if (e.kind == mime::PartEntry::Kind::folder) index_entries(e.children, at, index);
  }
}

}  // namespace

std::shared_ptr<const PartIndex> PartsView::known(std::uint64_t serial) {
  std::lock_guard lock(mu_);
  const auto it = trees_.find(serial);
  return it == trees_.end() ? nullptr : it->second;
}

void PartsView::tree(const Message& message, TreeDone done) {
  if (auto index = known(message.serial)) return done(index);
  {
    std::lock_guard lock(mu_);
    auto& waiters = waiting_[message.serial];
    waiters.push_back(std::move(done));
    if (waiters.size() > 1) return;  // a fetch for it is under way
  }
  const std::uint64_t serial = message.serial;
  auto mtime = core_.names.getattr(message_inode(serial));
  const std::int64_t when = mtime ? mtime->mtime : 0;
  // The whole body: RETR once if needed (the same download as a read of the message).
  bodies_.raw_body(message, [this, serial, when](Result<std::string> body) {
    if (body) parse(serial, when, *body);
    std::vector<TreeDone> waiters;
    std::shared_ptr<const PartIndex> index;
    {
      std::lock_guard lock(mu_);
      waiters = std::move(waiting_[serial]);
      waiting_.erase(serial);
      if (auto it = trees_.find(serial); it != trees_.end()) index = it->second;
    }
    for (auto& w : waiters) {
      if (index) {
        w(index);
      } else {
        w(body ? Error(Errc::io, "the message could not be parsed") : body.error());
      }
    }
  });
}

void PartsView::parse(std::uint64_t serial, std::int64_t mtime, const std::string& body) {
  auto index = std::make_shared<PartIndex>();
  index->tree = mime::parse_parts(body);
  index->mtime = mtime;
  index->entries.push_back(nullptr);
  index->parent.push_back(0);
  index_entries(index->tree.entries, 0, *index);
  std::lock_guard lock(mu_);
  trees_[serial] = std::move(index);
}

Attr PartsView::attr(std::uint64_t serial, const PartIndex& index, std::uint32_t at) const {
  Attr a;
  a.uid = core_.options.uid;
  a.gid = core_.options.gid;
  a.mtime = index.mtime;
  a.size_exact = true;
  a.attr_timeout = core_.options.attr_timeout;
  a.entry_timeout = core_.options.entry_timeout;
  const mime::PartEntry* e = at == 0 ? nullptr : index.entries[at];
  if (e == nullptr || e->kind == mime::PartEntry::Kind::folder) {
    a.ino = at == 0 ? part_folder_inode(serial) : part_inode(serial, at);
    a.is_dir = true;
    a.permissions = 0555;
    a.nlink = 2;
    return a;
  }
  a.ino = part_inode(serial, at);
  a.permissions = 0444;
  a.size = e->decoded_size;  // exact once parsed: parts are listed only then
  return a;
}

std::optional<std::uint32_t> PartsView::child(const PartIndex& index, std::uint32_t folder, std::string_view name) const {
  for (std::uint32_t i = 1; i < index.entries.size(); ++i) {
    if (index.parent[i] == folder && index.entries[i]->name == name) return i;
  }
  return std::nullopt;
}

std::vector<std::uint32_t> PartsView::children(const PartIndex& index, std::uint32_t folder) const {
  std::vector<std::uint32_t> out;
  for (std::uint32_t i = 1; i < index.entries.size(); ++i) {
    if (index.parent[i] == folder) out.push_back(i);
  }
  return out;
}

void PartsView::read(const Message& message, std::uint32_t at, std::uint64_t offset, std::size_t size, ReadDone done) {
  const std::uint64_t ino = part_inode(message.serial, at);
  auto slice = [offset, size](const std::string& data) {
    return offset >= data.size() ? std::string() : data.substr(static_cast<std::size_t>(offset), size);
  };
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, bytes] : decoded_) {
      if (key == ino) return done(slice(*bytes));
    }
  }
  auto index = known(message.serial);
  if (!index || at == 0 || at >= index->entries.size() || index->entries[at]->kind != mime::PartEntry::Kind::file) {
    return done(Error(Errc::not_found, "no such part"));
  }
  bodies_.raw_body(message, [this, index, at, ino, slice, done = std::move(done)](Result<std::string> body) {
    if (!body) return done(std::move(body).error());
    auto decoded = std::make_shared<const std::string>(mime::decode_part(*body, *index->entries[at]));
    {
      std::lock_guard lock(mu_);
      decoded_.emplace_back(ino, decoded);
      if (decoded_.size() > kDecodedKept) decoded_.pop_front();
    }
    done(slice(*decoded));
  });
}

void PartsView::forget(std::uint64_t serial) {
  std::lock_guard lock(mu_);
  trees_.erase(serial);
}

}  // namespace popfs::fs
