// Pop3Maildrop: the Asio driver of a SessionScheduler. Every event (a request, a session
// opened, an answer, a timer) goes to the scheduler on the I/O thread; the actions it
// returns are carried out here on net::Connections.

#include "popfs/mailbox/pop3_maildrop.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <stdexcept>

#include "popfs/mailbox/session_scheduler.hpp"
#include "popfs/pop3/listing.hpp"
#include "popfs/util/thread_pool.hpp"

namespace popfs::mailbox {
namespace {

// Cuts a streamed multi-line answer into lines (without CRLF) as its chunks arrive.
class LineSplitter {
 public:
  template <class F>
  void feed(std::string_view chunk, F&& on_line) {
    while (!chunk.empty()) {
      const auto end = chunk.find('\n');
      if (end == std::string_view::npos) {
        partial_.append(chunk);
        return;
      }
      std::string_view line = chunk.substr(0, end);
      chunk.remove_prefix(end + 1);
      if (!partial_.empty()) {
        partial_.append(line);
        line = partial_;
      }
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      on_line(line);
      partial_.clear();
    }
  }
  template <class F>
  void finish(F&& on_line) {
    if (!partial_.empty()) on_line(std::string_view(partial_));
    partial_.clear();
  }

 private:
  std::string partial_;
};

bool blank(std::string_view line) { return line.find_first_not_of(" \t") == std::string_view::npos; }

// A hostile server must not make a listing take unbounded memory (~40 bytes a message).
constexpr std::size_t kMaxListedMessages = 10'000'000;
constexpr std::size_t kExpectedUidlBytes = 20;  // Dovecot's are 16; a longer one grows the arena

}  // namespace

class Pop3Maildrop::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(net::IoThread& io, Executor& executor, net::Account account, Pop3MaildropOptions options)
      : io_(io), executor_(executor), account_(std::move(account)), options_(options),
        scheduler_(scheduler_options(account_, options_)) {}

  // What a caller asked for, and what its completion will carry.
  struct Call {
    ListDone list_done;
    TextDone text_done;
    ChunkSink sink;
    Done done;
    DeletionsDone deletions_done;
    Listing listing;
    std::string text;
    std::vector<MessageId> gone;  // commit: absent ones, then those marked and committed
  };
  static std::pair<Request, Call> top_call(MessageId id, std::uint32_t lines, TextDone done) {
    Request request;
    request.kind = RequestKind::top;
    request.id = std::move(id);
    request.lines = lines;
    Call call;
    call.text_done = std::move(done);
    return {std::move(request), std::move(call)};
  }

  // From any thread.
  void submit(Request request, Call call) {
    io_.post([self = shared_from_this(), request = std::move(request), call = std::move(call)]() mutable {
      self->take(std::move(request), std::move(call));
    });
  }
  // Several in one hand-over to the I/O thread.
  void submit_many(std::vector<std::pair<Request, Call>> calls) {
    io_.post([self = shared_from_this(), calls = std::move(calls)]() mutable {
      for (auto& [request, call] : calls) self->take(std::move(request), std::move(call));
    });
  }

  void take(Request request, Call call) {
    const RequestId id = next_request_++;
    calls_.emplace_back(std::move(call));
    check_idle_session();
    run(scheduler_.submit(id, std::move(request), now()));
  }

  void shutdown() {
    if (io_.running_in_this_thread()) {
      run(scheduler_.shutdown(now()));
      return;
    }
    std::promise<void> finished;
    auto future = finished.get_future();
    io_.post([self = shared_from_this(), &finished] {
      if (self->scheduler_.shut_down()) return finished.set_value();
      self->shutdown_waiters_.push_back([&finished] { finished.set_value(); });
      self->run(self->scheduler_.shutdown(self->now()));
    });
    future.wait();
  }

  Stats stats() const {
    std::lock_guard lock(stats_mutex_);
    return stats_;
  }

 private:
  static SchedulerOptions scheduler_options(const net::Account& account, const Pop3MaildropOptions& options) {
    SchedulerOptions o;
    o.account_name = account.display_name();
    o.idle_grace = account.idle_grace;
    o.connect_timeout = account.connect_timeout;
    o.auth_backoff_initial = options.auth_backoff_initial;
    o.auth_backoff_max = options.auth_backoff_max;
    o.pipelining = account.pipelining;
    return o;
  }

  Clock::time_point now() const { return executor_.clock().now(); }
  // The slot of a request's call: empty once the request completed, null for an id before
  // the oldest kept or never given.
  std::optional<Call>* slot(RequestId request) {
    if (request < first_call_ || request - first_call_ >= calls_.size()) return nullptr;
    return &calls_[request - first_call_];
  }
  // Of a request in flight (as std::map::at, it throws for any other).
  Call& call(RequestId request) {
    auto* const found = slot(request);
    if (found == nullptr) throw std::out_of_range("pop3 maildrop: no call for this request");
    return found->value();
  }

  // A server that hung up an idle session: tell the scheduler before new work is placed.
  void check_idle_session() {
    for (const auto& [id, connection] : connections_) {
      if (connection->is_dead() && connection->outstanding() == 0) {
        run(scheduler_.lost(id, now()));
        return;
      }
    }
  }

  std::shared_ptr<net::Connection> connection(SessionId session) {
    const auto it = connections_.find(session);
    return it == connections_.end() ? nullptr : it->second;
  }

  // ---- carrying actions out ---------------------------------------------------------------

  void run(Actions actions) {
    update_stats();  // before any callback runs: a caller may look at once
    for (auto& a : actions) std::visit([this](auto& act) { perform(act); }, a);
  }

  void perform(action::OpenSession& a) {
    net::Account account = account_;
    account.pipelining = a.pipelining;
    auto c = net::Connection::create(io_.executor(), std::move(account), a.session, options_.limits);
    connections_[a.session] = c;
    c->open([self = shared_from_this(), session = a.session, c](Result<void> result) {
      Opened opened;
      if (!result) {
        opened.error = std::move(result).error();
        opened.credentials_refused = c->credentials_refused();
        self->connections_.erase(session);
      }
      const auto& caps = c->capabilities();
      opened.login_delay_seconds = caps.login_delay_seconds;
      opened.capabilities_known = !caps.entries.empty();
      opened.top_advertised = caps.top;
      self->run(self->scheduler_.opened(session, std::move(opened), self->now()));
    });
  }

  void perform(action::SendUidl& a) {
    auto c = connection(a.session);
    if (!c) return;
    auto table = std::make_shared<MessageTable>();
    auto lines = std::make_shared<LineSplitter>();
    auto failure = std::make_shared<std::optional<Error>>();
    auto on_line = [table, failure](std::string_view line) {
      if (*failure || blank(line)) return;
      auto entry = pop3::parse_uidl_line(line);
      if (!entry) return failure->emplace(std::move(entry).error()), void();
      if (table->size() >= kMaxListedMessages) {
        failure->emplace(Errc::protocol_violation, "the server lists more than 10,000,000 messages");
        return;
      }
      if (table->find_number(entry->number)) {
        failure->emplace(Errc::protocol_violation,
                         "the server listed message " + std::to_string(entry->number) + " twice in UIDL");
        return;
      }
      table->append(entry->uidl, entry->number);
    };
    if (c->pipelining()) {
      // STAT costs no round trip in the same write, and its count sizes the table once
      // (a million rows otherwise grow and rehash some twenty times).
      c->execute(pop3::Command::stat(), {}, [table](Result<pop3::StatusLine> status) {
        if (!status) return;  // the UIDL behind it says whatever went wrong
        if (auto stat = pop3::parse_stat(status->text); stat && stat->count <= kMaxListedMessages) {
          table->reserve(stat->count, stat->count * kExpectedUidlBytes);
        }
      });
    }
    c->execute(
        pop3::Command::uidl(), [lines, on_line](std::string_view chunk) { lines->feed(chunk, on_line); },
        [self = shared_from_this(), session = a.session, table, lines, on_line,
         failure](Result<pop3::StatusLine> status) {
          lines->finish(on_line);
          table->shrink_to_fit();
          Result<std::shared_ptr<MessageTable>> result = table;
          if (!status) {
            result = std::move(status).error();
          } else if (*failure) {
            result = **failure;
          }
          self->run(self->scheduler_.uidl_answered(session, std::move(result), self->now()));
        });
  }

  void perform(action::Send& a) {
    auto c = connection(a.session);
    if (!c) return answered(a.session, a.request, Error(Errc::connection, "the session is gone"));
    switch (a.kind) {
      case RequestKind::list: return send_list(*c, a);
      case RequestKind::top:
        c->fetch_text(pop3::Command::top(a.number, a.lines),
                      [self = shared_from_this(), session = a.session, request = a.request](Result<std::string> text) {
                        if (!text) return self->answered(session, request, std::move(text).error());
                        self->call(request).text = std::move(*text);
                        self->answered(session, request, std::nullopt);
                      });
        return;
      case RequestKind::retr: {
        auto& call = this->call(a.request);
        c->execute(
            pop3::Command::retr(a.number), [sink = call.sink](std::string_view chunk) { sink(chunk); },
            [self = shared_from_this(), session = a.session, request = a.request](Result<pop3::StatusLine> status) {
              self->answered(session, request, status ? std::nullopt : std::optional<Error>(std::move(status).error()));
            });
        return;
      }
      case RequestKind::commit: return send_commit(*c, a);
    }
  }

  void send_list(net::Connection& c, const action::Send& a) {
    auto sizes = std::make_shared<std::vector<std::pair<std::uint32_t, std::uint64_t>>>();
    auto lines = std::make_shared<LineSplitter>();
    auto failure = std::make_shared<std::optional<Error>>();
    auto on_line = [sizes, failure](std::string_view line) {
      if (*failure || blank(line)) return;
      auto entry = pop3::parse_list_line(line);
      if (!entry) return failure->emplace(std::move(entry).error()), void();
      sizes->emplace_back(entry->number, entry->size);
    };
    c.execute(
        pop3::Command::list(), [lines, on_line](std::string_view chunk) { lines->feed(chunk, on_line); },
        [self = shared_from_this(), session = a.session, request = a.request, sizes, lines, on_line,
         failure](Result<pop3::StatusLine> status) {
          lines->finish(on_line);
          if (!status) return self->answered(session, request, std::move(status).error());
          if (*failure) return self->answered(session, request, **failure);
          // LIST comes after this session's UIDL: its table knows every number.
          auto uidls = self->scheduler_.session_table(session);
          if (!uidls) return self->answered(session, request, Error(Errc::connection, "the session is gone"));
          // The session's own table becomes the listing (no copy of a million rows), unless an
          // earlier LIST of this session handed it out already: then it is shared, and const.
          auto listing = uidls.use_count() > 2 ? std::make_shared<MessageTable>(*uidls) : uidls;
          for (const auto& [number, size] : *sizes) {
            if (const auto row = listing->find_number(number)) listing->set_size(*row, size);
          }
          self->call(request).listing = std::move(listing);
          self->answered(session, request, std::nullopt);
        });
  }

  void send_commit(net::Connection& c, const action::Send& a) {
    auto marked = std::make_shared<std::vector<MessageId>>();
    call(a.request).gone = a.absent;
    for (const auto& [id, number] : a.deletions) {
      c.execute(pop3::Command::dele(number), {},
                [self = shared_from_this(), marked, id = id](Result<pop3::StatusLine> status) {
                  if (status) {
                    marked->push_back(id);
                  } else {
                    spdlog::warn("pop3 {}: DELE of {} not done: {}", self->account_.display_name(), id.uidl,
                                 status.error().describe());
                  }
                });
    }
    c.quit([self = shared_from_this(), session = a.session, request = a.request, marked](Result<void> quit) {
      self->connections_.erase(session);
      if (!quit) {
        Error error = std::move(quit).error();
        error.message = "deletions not committed (nothing was deleted): " + error.message;
        return self->answered(session, request, std::move(error));
      }
      auto& gone = self->call(request).gone;
      gone.insert(gone.end(), marked->begin(), marked->end());
      self->answered(session, request, std::nullopt);
    });
  }

  void answered(SessionId session, RequestId request, std::optional<Error> error) {
    Answered result;
    if (auto c = connection(session)) result.failed_while_pipelining = c->failed_while_pipelining();
    result.error = std::move(error);
    if (result.error && connection(session) && connection(session)->is_dead()) connections_.erase(session);
    run(scheduler_.answered(session, request, std::move(result), now()));
  }

  void perform(action::Quit& a) {
    auto c = connection(a.session);
    if (!c) return run(scheduler_.quit_done(a.session, now()));
    c->quit([self = shared_from_this(), session = a.session](Result<void> quit) {
      if (!quit) spdlog::debug("pop3 {}: QUIT: {}", self->account_.display_name(), quit.error().describe());
      self->connections_.erase(session);
      self->run(self->scheduler_.quit_done(session, self->now()));
    });
  }

  void perform(action::Abort& a) {
    if (auto c = connection(a.session)) c->abort(a.reason);
    connections_.erase(a.session);
  }

  void perform(action::ClosePolitely& a) {
    auto c = connection(a.session);
    if (!c) return run(scheduler_.closed(a.session, now()));
    c->close_politely(options_.shutdown_drain_timeout, options_.shutdown_quit_timeout,
                      [self = shared_from_this(), session = a.session](Result<void> closed) {
                        if (!closed) {
                          spdlog::debug("pop3 {}: closing at shutdown: {}", self->account_.display_name(),
                                        closed.error().describe());
                        }
                        self->connections_.erase(session);
                        self->run(self->scheduler_.closed(session, self->now()));
                      });
  }

  void perform(action::ArmTimer& a) {
    auto& id = timers_[a.timer];
    if (id != 0) executor_.cancel(id);
    std::weak_ptr<Impl> weak = shared_from_this();
    id = executor_.post_at(a.at, [weak, timer = a.timer] {
      auto self = weak.lock();
      if (!self) return;
      self->io_.post([self, timer] {
        self->timers_[timer] = 0;
        self->run(self->scheduler_.timer_fired(timer, self->now()));
      });
    });
  }

  void perform(action::CancelTimer& a) {
    auto& id = timers_[a.timer];
    if (id != 0) executor_.cancel(id);
    id = 0;
  }

  void perform(action::Complete& a) {
    auto* const pending = slot(a.request);
    if (pending == nullptr || !*pending) return;
    std::optional<Call> taken = std::exchange(*pending, std::nullopt);
    while (!calls_.empty() && !calls_.front()) {
      calls_.pop_front();
      ++first_call_;
    }
    Call& call = *taken;
    const bool ok = !a.error.has_value();
    if (call.list_done) {
      call.list_done(ok ? Result<Listing>(std::move(call.listing)) : Result<Listing>(std::move(*a.error)));
    } else if (call.text_done) {
      call.text_done(ok ? Result<std::string>(std::move(call.text)) : Result<std::string>(std::move(*a.error)));
    } else if (call.done) {
      call.done(ok ? Result<void>{} : Result<void>(std::move(*a.error)));
    } else if (call.deletions_done) {
      call.deletions_done(ok ? Result<std::vector<MessageId>>(std::move(call.gone))
                             : Result<std::vector<MessageId>>(std::move(*a.error)));
    }
  }

  void perform(action::ShutdownFinished&) {
    for (auto& [timer, id] : timers_) {
      if (id != 0) executor_.cancel(id);
      id = 0;
    }
    auto waiters = std::move(shutdown_waiters_);
    shutdown_waiters_.clear();
    for (auto& finished : waiters) finished();
  }

  void update_stats() {
    std::lock_guard lock(stats_mutex_);
    stats_.sessions_started = scheduler_.sessions_started();
    stats_.session_open = scheduler_.session_open();
    stats_.top_unsupported = scheduler_.top_unsupported();
    stats_.pipelining_disabled = scheduler_.pipelining_disabled();
  }

  net::IoThread& io_;
  Executor& executor_;
  net::Account account_;
  Pop3MaildropOptions options_;
  SessionScheduler scheduler_;
  std::map<SessionId, std::shared_ptr<net::Connection>> connections_;
  // The calls of requests not yet completed, by request id from first_call_ on (ids are given
  // in order and complete in order: the front goes first, no node per request).
  std::deque<std::optional<Call>> calls_;
  RequestId first_call_ = 1;
  RequestId next_request_ = 1;
  std::map<Timer, Executor::TimerId> timers_;
  std::vector<std::function<void()>> shutdown_waiters_;
  mutable std::mutex stats_mutex_;
  Stats stats_;
};

Pop3Maildrop::Pop3Maildrop(net::Account account, Pop3MaildropOptions options, Executor* executor)
    : own_executor_(executor == nullptr ? std::make_unique<ThreadPool>(1, "popfs-timers") : nullptr),
      io_(std::make_unique<net::IoThread>()),
      impl_(std::make_shared<Impl>(*io_, executor != nullptr ? *executor : *own_executor_, std::move(account),
                                   options)) {}

Pop3Maildrop::~Pop3Maildrop() {
  impl_->shutdown();
  io_->stop();  // joins; handlers still queued (and the Impl they hold) go with io_
  impl_.reset();
}

void Pop3Maildrop::list(ListDone done, ListOptions options) {
  Request request;
  request.kind = RequestKind::list;
  request.try_login_now = options.try_login_now;
  Impl::Call call;
  call.list_done = std::move(done);
  impl_->submit(std::move(request), std::move(call));
}

void Pop3Maildrop::top(MessageId id, std::uint32_t lines, TextDone done) {
  auto [request, call] = Impl::top_call(std::move(id), lines, std::move(done));
  impl_->submit(std::move(request), std::move(call));
}

void Pop3Maildrop::top_many(std::vector<MessageId> ids, std::uint32_t lines, TopEach done) {
  auto shared = std::make_shared<TopEach>(std::move(done));
  std::vector<std::pair<Request, Impl::Call>> calls;
  calls.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    calls.push_back(Impl::top_call(std::move(ids[i]), lines,
                                   [shared, i](Result<std::string> text) { (*shared)(i, std::move(text)); }));
  }
  impl_->submit_many(std::move(calls));
}

void Pop3Maildrop::retr(MessageId id, ChunkSink sink, Done done) {
  Request request;
  request.kind = RequestKind::retr;
  request.id = std::move(id);
  Impl::Call call;
  call.sink = std::move(sink);
  call.done = std::move(done);
  impl_->submit(std::move(request), std::move(call));
}

void Pop3Maildrop::commit_deletions(std::vector<MessageId> ids, DeletionsDone done) {
  Request request;
  request.kind = RequestKind::commit;
  request.ids = std::move(ids);
  Impl::Call call;
  call.deletions_done = std::move(done);
  impl_->submit(std::move(request), std::move(call));
}

void Pop3Maildrop::shutdown() { impl_->shutdown(); }

Pop3Maildrop::Stats Pop3Maildrop::stats() const { return impl_->stats(); }

}  // namespace popfs::mailbox
