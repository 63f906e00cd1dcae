#include "memory_cache.hpp"

#include <algorithm>

namespace popfs::test {
namespace {

class MemoryBodyWriter final : public store::BodyWriter {
 public:
  MemoryBodyWriter(MemoryCache& cache, MessageId id) : cache_(cache), id_(std::move(id)) {}
  Result<void> append(std::string_view chunk) override {
    data_.append(chunk);
    return {};
  }
  Result<void> commit() override {
    cache_.commit_body(id_, std::move(data_));
    return {};
  }

 private:
  MemoryCache& cache_;
  MessageId id_;
  std::string data_;
};

}  // namespace

Result<std::vector<store::MessageRecord>> MemoryCache::listing() {
  std::lock_guard lock(mu_);
  std::vector<store::MessageRecord> out;
  for (const auto& id : order_) out.push_back(records_.at(id));
  return out;
}

Result<std::vector<store::MessageRecord>> MemoryCache::apply_listing(const std::vector<store::ListedMessage>& listed,
                                                                     std::int64_t now) {
  std::map<MessageId, store::MessageRecord> next;
  std::vector<MessageId> order;
  {
    std::lock_guard lock(mu_);
    for (const auto& m : listed) {
      store::MessageRecord r;
      if (auto it = records_.find(m.id); it != records_.end()) {
        r = it->second;
      } else {
        r.id = m.id;
        r.inode = next_inode_++;
        r.first_seen = now;
        r.mtime = now;
      }
      r.list_size = m.list_size;
      next[m.id] = r;
      order.push_back(m.id);
    }
    for (auto it = records_.begin(); it != records_.end(); ++it) {
      if (next.count(it->first) == 0) {
        stubs_.erase(it->first);
        bodies_.erase(it->first);
      }
    }
    records_ = std::move(next);
    order_ = std::move(order);
  }
  return listing();
}

Result<void> MemoryCache::reset() {
  std::lock_guard lock(mu_);
  ++reset_calls_;
  order_.clear();
  records_.clear();
  stubs_.clear();
  bodies_.clear();
  pending_.clear();
  return {};
}

Result<std::optional<store::MessageRecord>> MemoryCache::record(const MessageId& id) {
  std::lock_guard lock(mu_);
  auto it = records_.find(id);
  if (it == records_.end()) return std::optional<store::MessageRecord>{};
  return std::optional<store::MessageRecord>(it->second);
}

Result<std::optional<std::string>> MemoryCache::stub(const MessageId& id) {
  std::lock_guard lock(mu_);
  auto it = stubs_.find(id);
  if (it == stubs_.end()) return std::optional<std::string>{};
  return std::optional<std::string>(it->second);
}

Result<void> MemoryCache::put_stub(const MessageId& id, std::string_view stub, std::optional<std::int64_t> date) {
  std::lock_guard lock(mu_);
  auto it = records_.find(id);
  if (it == records_.end()) return Error(Errc::not_found, "no record");
  stubs_[id] = std::string(stub);
  it->second.has_stub = true;
  if (date) it->second.mtime = *date;
  return {};
}

Result<std::unique_ptr<store::BodyWriter>> MemoryCache::begin_body(const MessageId& id) {
  return std::unique_ptr<store::BodyWriter>(std::make_unique<MemoryBodyWriter>(*this, id));
}

void MemoryCache::commit_body(const MessageId& id, std::string body) {
  std::lock_guard lock(mu_);
  auto it = records_.find(id);
  if (it == records_.end()) return;
  it->second.has_body = true;
  it->second.exact_size = body.size();
  bodies_[id] = std::move(body);
}

Result<std::optional<std::size_t>> MemoryCache::read_body(const MessageId& id, std::uint64_t offset,
                                                          std::span<char> out) {
  std::lock_guard lock(mu_);
  auto it = bodies_.find(id);
  if (it == bodies_.end()) return std::optional<std::size_t>{};
  if (offset >= it->second.size()) return std::optional<std::size_t>(0);
  const std::size_t n = std::min<std::size_t>(out.size(), it->second.size() - static_cast<std::size_t>(offset));
  std::copy_n(it->second.data() + offset, n, out.data());
  return std::optional<std::size_t>(n);
}

Result<void> MemoryCache::clear_bodies() {
  std::lock_guard lock(mu_);
  bodies_.clear();
  for (auto& [id, r] : records_) r.has_body = false;
  return {};
}

Result<void> MemoryCache::add_pending_deletion(const MessageId& id) {
  std::lock_guard lock(mu_);
  pending_.insert(id);
  return {};
}

Result<std::vector<MessageId>> MemoryCache::pending_deletions() {
  std::lock_guard lock(mu_);
  return std::vector<MessageId>(pending_.begin(), pending_.end());
}

Result<void> MemoryCache::remove_pending_deletions(const std::vector<MessageId>& ids) {
  std::lock_guard lock(mu_);
  for (const auto& id : ids) pending_.erase(id);
  return {};
}

Result<std::optional<std::string>> MemoryCache::meta(std::string_view key) {
  std::lock_guard lock(mu_);
  auto it = meta_.find(key);
  if (it == meta_.end()) return std::optional<std::string>{};
  return std::optional<std::string>(it->second);
}

Result<void> MemoryCache::set_meta(std::string_view key, std::string_view value) {
  std::lock_guard lock(mu_);
  meta_[std::string(key)] = std::string(value);
  return {};
}

Result<store::CacheStats> MemoryCache::stats() {
  std::lock_guard lock(mu_);
  store::CacheStats s;
  s.messages = records_.size();
  s.stubs = stubs_.size();
  s.bodies = bodies_.size();
  for (const auto& [id, b] : bodies_) s.body_bytes += b.size();
  s.pending_deletions = pending_.size();
  return s;
}

int MemoryCache::reset_calls() {
  std::lock_guard lock(mu_);
  return reset_calls_;
}

}  // namespace popfs::test
