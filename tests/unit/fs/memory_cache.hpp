#pragma once
// An in-memory store::Cache with the header's semantics, for core tests that want to look
// inside the cache or run before/without LMDB. The real cache is used where durability matters.

#include <map>
#include <mutex>
#include <set>

#include "popfs/store/cache.hpp"

namespace popfs::test {

class MemoryCache final : public store::Cache {
 public:
  Result<std::vector<store::MessageRecord>> listing() override;
  Result<std::vector<store::MessageRecord>> apply_listing(const std::vector<store::ListedMessage>& listed,
                                                          std::int64_t now) override;
  Result<void> reset() override;
  Result<std::optional<store::MessageRecord>> record(const MessageId& id) override;
  Result<std::optional<std::string>> stub(const MessageId& id) override;
  Result<void> put_stub(const MessageId& id, std::string_view stub, std::optional<std::int64_t> date_mtime) override;
  Result<std::unique_ptr<store::BodyWriter>> begin_body(const MessageId& id) override;
  Result<std::optional<std::size_t>> read_body(const MessageId& id, std::uint64_t offset,
                                               std::span<char> out) override;
  Result<void> clear_bodies() override;
  Result<void> add_pending_deletion(const MessageId& id) override;
  Result<std::vector<MessageId>> pending_deletions() override;
  Result<void> remove_pending_deletions(const std::vector<MessageId>& ids) override;
  Result<std::optional<std::string>> meta(std::string_view key) override;
  Result<void> set_meta(std::string_view key, std::string_view value) override;
  Result<store::CacheStats> stats() override;

  int reset_calls();
  void commit_body(const MessageId& id, std::string body);  // used by the writer

 private:
  std::mutex mu_;
  std::vector<MessageId> order_;
  std::map<MessageId, store::MessageRecord> records_;
  std::map<MessageId, std::string> stubs_;
  std::map<MessageId, std::string> bodies_;
  std::set<MessageId> pending_;
  std::map<std::string, std::string, std::less<>> meta_;
  std::uint64_t next_inode_ = 1;
  int reset_calls_ = 0;
};

}  // namespace popfs::test
