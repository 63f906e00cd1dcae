#pragma once
// An in-memory Maildrop for core tests: asynchronous through the test's executor (callbacks
// are never inline, as the contract says, and run when the test drives the executor),
// programmable failures, and counts of every call.

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "popfs/mailbox/maildrop.hpp"
#include "popfs/util/executor.hpp"

namespace popfs::test {

class FakeMaildrop final : public mailbox::Maildrop {
 public:
  struct Message {
    std::string uidl;
    std::string content;                      // what RETR returns
    std::optional<std::uint64_t> list_size;  // LIST size if it should differ from the content
  };

  explicit FakeMaildrop(Executor& executor);

  // ---- the server's state ----
  void add(std::string uidl, std::string content, std::optional<std::uint64_t> list_size = {});
  void remove(const std::string& uidl);  // deleted by another client
  void replace_all(std::vector<Message> messages);
  std::vector<std::string> uidls();

  // ---- faults ----
  void set_offline(bool offline);                   // every call fails with Errc::connection
  void set_top_supported(bool supported);
  void fail_next_retrs(int count, bool partial);    // cut: some chunks, then a connection error
  void fail_next_commits(int count);
  void hold_retrs(bool hold);                       // RETR completions wait until released
  void hold_tops(bool hold);                        // TOP answers wait until released (a stalled server)
  void set_latency(std::chrono::milliseconds latency);  // each answer this much (executor) time later

  // ---- counts ----
  int list_calls();
  int top_calls();
  int retr_calls();
  int retr_calls(const std::string& uidl);
  int commit_calls();
  int shutdown_calls();

  void list(ListDone done, mailbox::ListOptions options) override;
  void list(ListDone done) { list(std::move(done), mailbox::ListOptions{}); }
  int login_now_lists();  // list() calls that asked to log in now
  void top(MessageId id, std::uint32_t lines, TextDone done) override;
  void retr(MessageId id, ChunkSink sink, Done done) override;
  void commit_deletions(std::vector<MessageId> ids, DeletionsDone done) override;
  void shutdown() override;

 private:
  void post(std::function<void()> task);  // mu_ held
  std::optional<std::size_t> find(const MessageId& id);  // mu_ held

  Executor& executor_;
  std::mutex mu_;
  std::vector<std::function<void()>> held_;

  std::vector<Message> messages_;
  bool offline_ = false;
  bool top_supported_ = true;
  int retr_failures_ = 0;
  bool retr_partial_ = false;
  int commit_failures_ = 0;
  bool hold_retrs_ = false;
  bool hold_tops_ = false;
  std::vector<std::function<void()>> held_tops_;
  std::chrono::milliseconds latency_{0};

  int list_calls_ = 0;
  int top_calls_ = 0;
  int commit_calls_ = 0;
  int shutdown_calls_ = 0;
  int login_now_lists_ = 0;
  std::map<std::string, int> retr_calls_;
};

}  // namespace popfs::test
