#pragma once
// Waiting for Maildrop callbacks (which run on the maildrop's thread) from a test thread.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "popfs/mailbox/maildrop.hpp"

namespace popfs::mailbox::testing {

// A value set once from another thread; get() waits for it with a deadline.
template <class T>
class Eventually {
 public:
  void set(T value) {
    std::lock_guard lock(mutex_);
    value_.emplace(std::move(value));
    ready_.notify_all();
  }
  std::optional<T> get(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    std::unique_lock lock(mutex_);
    ready_.wait_for(lock, timeout, [&] { return value_.has_value(); });
    return value_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::optional<T> value_;
};

inline std::optional<Result<Listing>> list_now(Maildrop& maildrop) {
  Eventually<Result<Listing>> result;
  maildrop.list([&](Result<Listing> r) { result.set(std::move(r)); }, ListOptions{});
  return result.get();
}

inline std::optional<Result<std::string>> top_now(Maildrop& maildrop, const MessageId& id,
                                                  std::uint32_t lines) {
  Eventually<Result<std::string>> result;
  maildrop.top(id, lines, [&](Result<std::string> r) { result.set(std::move(r)); });
  return result.get();
}

// RETR into a string; the bytes are only returned if done(ok).
inline std::optional<Result<std::string>> retr_now(Maildrop& maildrop, const MessageId& id) {
  Eventually<Result<std::string>> result;
  auto bytes = std::make_shared<std::string>();
  maildrop.retr(
      id, [bytes](std::string_view chunk) { bytes->append(chunk); },
      [&, bytes](Result<void> r) {
        if (r) result.set(std::move(*bytes));
        else result.set(std::move(r).error());
      });
  return result.get();
}

inline std::optional<Result<std::vector<MessageId>>> commit_now(Maildrop& maildrop,
                                                                std::vector<MessageId> ids) {
  Eventually<Result<std::vector<MessageId>>> result;
  maildrop.commit_deletions(std::move(ids),
                            [&](Result<std::vector<MessageId>> r) { result.set(std::move(r)); });
  return result.get();
}

}  // namespace popfs::mailbox::testing
