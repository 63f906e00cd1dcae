#pragma once
// Delivers completions in the order their operations were started, whatever order they
// finish in (the Maildrop contract). Single-threaded: used only on the maildrop's I/O thread.

#include <cstdint>
#include <functional>
#include <map>
#include <utility>

namespace popfs::mailbox::detail {

class OrderedCompletions {
 public:
  std::uint64_t take_ticket() { return next_ticket_++; }

  // Runs `completion` once every earlier ticket has completed.
  void complete(std::uint64_t ticket, std::function<void()> completion) {
    ready_.emplace(ticket, std::move(completion));
    while (!ready_.empty() && ready_.begin()->first == next_to_run_) {
      auto run = std::move(ready_.begin()->second);
      ready_.erase(ready_.begin());
      ++next_to_run_;
      run();
    }
  }

  bool idle() const noexcept { return next_to_run_ == next_ticket_; }

 private:
  std::uint64_t next_ticket_ = 0;
  std::uint64_t next_to_run_ = 0;
  std::map<std::uint64_t, std::function<void()>> ready_;
};

}  // namespace popfs::mailbox::detail
