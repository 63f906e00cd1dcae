#include "fake_maildrop.hpp"

#include <algorithm>

namespace popfs::test {

FakeMaildrop::FakeMaildrop(Executor& executor) : executor_(executor) {}

// Callers hold mu_.
void FakeMaildrop::post(std::function<void()> task) {
  if (latency_.count() > 0) {
    executor_.post_after(latency_, std::move(task));  // simulated round trip
  } else {
    executor_.post(std::move(task));
  }
}

void FakeMaildrop::add(std::string uidl, std::string content, std::optional<std::uint64_t> list_size) {
  std::lock_guard lock(mu_);
  messages_.push_back({std::move(uidl), std::move(content), list_size});
}

void FakeMaildrop::remove(const std::string& uidl) {
  std::lock_guard lock(mu_);
  std::erase_if(messages_, [&](const Message& m) { return m.uidl == uidl; });
}

void FakeMaildrop::replace_all(std::vector<Message> messages) {
  std::lock_guard lock(mu_);
  messages_ = std::move(messages);
}

std::vector<std::string> FakeMaildrop::uidls() {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& m : messages_) out.push_back(m.uidl);
  return out;
}

void FakeMaildrop::set_offline(bool offline) { std::lock_guard lock(mu_); offline_ = offline; }
void FakeMaildrop::set_top_supported(bool s) { std::lock_guard lock(mu_); top_supported_ = s; }
void FakeMaildrop::fail_next_retrs(int count, bool partial) {
  std::lock_guard lock(mu_);
  retr_failures_ = count;
  retr_partial_ = partial;
}
void FakeMaildrop::fail_next_commits(int count) { std::lock_guard lock(mu_); commit_failures_ = count; }
void FakeMaildrop::set_latency(std::chrono::milliseconds l) { std::lock_guard lock(mu_); latency_ = l; }
void FakeMaildrop::hold_retrs(bool hold) {
  std::lock_guard lock(mu_);
  hold_retrs_ = hold;
  if (hold) return;
  for (auto& h : held_) post(std::move(h));
  held_.clear();
}
void FakeMaildrop::hold_tops(bool hold) {
  std::lock_guard lock(mu_);
  hold_tops_ = hold;
  if (hold) return;
  for (auto& h : held_tops_) post(std::move(h));
  held_tops_.clear();
}
int FakeMaildrop::login_now_lists() { std::lock_guard lock(mu_); return login_now_lists_; }

int FakeMaildrop::list_calls() { std::lock_guard lock(mu_); return list_calls_; }
int FakeMaildrop::top_calls() { std::lock_guard lock(mu_); return top_calls_; }
int FakeMaildrop::commit_calls() { std::lock_guard lock(mu_); return commit_calls_; }
int FakeMaildrop::shutdown_calls() { std::lock_guard lock(mu_); return shutdown_calls_; }
int FakeMaildrop::retr_calls() {
  std::lock_guard lock(mu_);
  int total = 0;
  for (const auto& [uidl, n] : retr_calls_) total += n;
  return total;
}
int FakeMaildrop::retr_calls(const std::string& uidl) {
  std::lock_guard lock(mu_);
  auto it = retr_calls_.find(uidl);
  return it == retr_calls_.end() ? 0 : it->second;
}

std::optional<std::size_t> FakeMaildrop::find(const MessageId& id) {
  std::uint32_t seen = 0;
  for (std::size_t i = 0; i < messages_.size(); ++i) {
    if (messages_[i].uidl == id.uidl && ++seen == id.occurrence) return i;
  }
  return std::nullopt;
}

void FakeMaildrop::list(ListDone done, mailbox::ListOptions options) {
  std::lock_guard guard(mu_);
  ++list_calls_;
  if (options.try_login_now) ++login_now_lists_;
  post([this, done = std::move(done)] {
    std::unique_lock lock(mu_);
    if (offline_) {
      lock.unlock();
      return done(Error(Errc::connection, "fake: offline"));
    }
    auto listing = std::make_shared<MessageTable>();
    for (const auto& m : messages_) {
      listing->append(m.uidl, static_cast<std::uint32_t>(listing->size() + 1), m.list_size.value_or(m.content.size()));
    }
    lock.unlock();
    done(mailbox::Listing(std::move(listing)));
  });
}

void FakeMaildrop::top(MessageId id, std::uint32_t lines, TextDone done) {
  std::lock_guard guard(mu_);
  ++top_calls_;
  auto task = [this, id = std::move(id), lines, done = std::move(done)] {
    std::unique_lock lock(mu_);
    if (offline_) return lock.unlock(), done(Error(Errc::connection, "fake: offline"));
    if (!top_supported_) return lock.unlock(), done(Error(Errc::unsupported, "fake: no TOP"));
    auto index = find(id);
    if (!index) return lock.unlock(), done(Error(Errc::message_gone, "fake: no such message"));
    const std::string& content = messages_[*index].content;
    lock.unlock();
    // Header block, blank line, then `lines` body lines (RFC 1939 TOP).
    std::size_t end = content.find("\r\n\r\n");
    end = end == std::string::npos ? content.size() : end + 4;
    for (std::uint32_t i = 0; i < lines && end < content.size(); ++i) {
      const std::size_t eol = content.find("\r\n", end);
      end = eol == std::string::npos ? content.size() : eol + 2;
    }
    done(content.substr(0, end));
  };
  if (hold_tops_) {
    held_tops_.push_back(std::move(task));
  } else {
    post(std::move(task));
  }
}

void FakeMaildrop::retr(MessageId id, ChunkSink sink, Done done) {
  std::lock_guard guard(mu_);
  ++retr_calls_[id.uidl];
  auto task = [this, id = std::move(id), sink = std::move(sink), done = std::move(done)] {
    std::unique_lock lock(mu_);
    if (offline_) return lock.unlock(), done(Error(Errc::connection, "fake: offline"));
    auto index = find(id);
    if (!index) return lock.unlock(), done(Error(Errc::message_gone, "fake: no such message"));
    const std::string content = messages_[*index].content;
    const bool fail = retr_failures_ > 0;
    const bool partial = retr_partial_;
    if (fail) --retr_failures_;
    lock.unlock();
    if (fail) {
      if (partial) sink(std::string_view(content).substr(0, content.size() / 2));
      return done(Error(Errc::connection, "fake: connection cut during RETR"));
    }
    // Several chunks, as a socket would deliver them.
    for (std::size_t pos = 0; pos < content.size(); pos += 4096) {
      sink(std::string_view(content).substr(pos, 4096));
    }
    done(Result<void>{});
  };
  if (hold_retrs_) {
    held_.push_back(std::move(task));
  } else {
    post(std::move(task));
  }
}

void FakeMaildrop::commit_deletions(std::vector<MessageId> ids, DeletionsDone done) {
  std::lock_guard guard(mu_);
  ++commit_calls_;
  post([this, ids = std::move(ids), done = std::move(done)] {
    std::unique_lock lock(mu_);
    if (offline_) return lock.unlock(), done(Error(Errc::connection, "fake: offline"));
    if (commit_failures_ > 0) {
      --commit_failures_;
      return lock.unlock(), done(Error(Errc::connection, "fake: connection lost before QUIT"));
    }
    // Resolve every id against this snapshot first, then delete (like DELE n ... QUIT).
    std::vector<std::size_t> doomed;
    for (const auto& id : ids) {
      if (auto index = find(id)) doomed.push_back(*index);
    }
    std::sort(doomed.rbegin(), doomed.rend());
    for (auto index : doomed) messages_.erase(messages_.begin() + static_cast<std::ptrdiff_t>(index));
    lock.unlock();
    done(ids);
  });
}

void FakeMaildrop::shutdown() {
  std::lock_guard lock(mu_);
  ++shutdown_calls_;
  // Held work is released; its callbacks run when the test drives the executor.
  for (auto& h : held_) post(std::move(h));
  held_.clear();
  for (auto& h : held_tops_) post(std::move(h));
  held_tops_.clear();
  hold_retrs_ = hold_tops_ = false;
}

}  // namespace popfs::test
