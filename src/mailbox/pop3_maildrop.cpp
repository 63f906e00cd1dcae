#include "popfs/mailbox/pop3_maildrop.hpp"

#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "ordered_completions.hpp"
#include "popfs/net/io_thread.hpp"
#include "popfs/pop3/listing.hpp"

namespace popfs::mailbox {

namespace {

using Clock = std::chrono::steady_clock;

// Failures after which the same request may safely be sent again on a new session.
bool connection_broke(const Error& error) {
  return error.code == Errc::connection || error.code == Errc::timeout;
}

}  // namespace

class Pop3Maildrop::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(net::IoThread& io, net::Account account, Pop3MaildropOptions options)
      : io_(io), account_(std::move(account)), options_(options), idle_timer_(io_.executor()),
        delay_timer_(io_.executor()) {}

  enum class Kind { list, top, retr, commit };
  struct Op {
    Kind kind = Kind::list;
    std::uint64_t ticket = 0;
    std::uint64_t serial = 0;  // sessions with start_serial > serial began after this call
    MessageId id;
    std::uint32_t lines = 0;
    std::vector<MessageId> ids;
    ListDone list_done;
    TextDone text_done;
    ChunkSink sink;
    Done done;
    DeletionsDone deletions_done;
    bool retried = false;
    bool delivered_bytes = false;
  };
  using OpPtr = std::shared_ptr<Op>;

  struct Session {
    std::shared_ptr<net::Connection> connection;
    std::uint64_t start_serial = 0;
    bool ready = false;   // logged in and UIDL known
    bool ending = false;  // QUIT queued (or about to be): takes no new work
    bool committing = false;
    bool batch_failure_noted = false;
    bool closed = false;  // shutdown's close_politely() has finished
    std::map<MessageId, std::uint32_t> numbers;
    std::vector<pop3::UidlEntry> uidls;
    std::vector<MessageId> ids_in_order;
    std::size_t active_ops = 0;
  };
  using SessionPtr = std::shared_ptr<Session>;

  // Called from any thread.
  void submit(OpPtr op) {
    io_.post([self = shared_from_this(), op = std::move(op)]() mutable {
      if (self->shutting_down_) {
        op->ticket = self->order_.take_ticket();
        self->fail(op, Error(Errc::cancelled, "the mailbox is shutting down"));
        return;
      }
      op->ticket = self->order_.take_ticket();
      op->serial = ++self->request_serial_;
      self->pending_.push_back(std::move(op));
      self->pump();
    });
  }

  void shutdown() {
    if (io_.running_in_this_thread()) {
      begin_shutdown({});
      return;
    }
    std::promise<void> finished;
    auto future = finished.get_future();
    io_.post([self = shared_from_this(), &finished] {
      self->begin_shutdown([&finished] { finished.set_value(); });
    });
    future.wait();
  }

  Stats stats() const {
    std::lock_guard lock(stats_mutex_);
    return stats_;
  }

 private:
  // ---- Scheduling -------------------------------------------------------------------------

  void pump() {
    if (shutting_down_) return;
    while (!pending_.empty()) {
      if (!session_) {
        start_session();
        return;
      }
      auto session = session_;
      if (!session->ready || session->ending) return;  // its callbacks call pump() again
      if (session->connection->is_dead()) {
        drop_session(session);
        continue;
      }
      OpPtr op = pending_.front();
      const bool needs_fresh = op->kind == Kind::list || op->kind == Kind::commit;
      if (needs_fresh && session->start_serial <= op->serial) {
        end_session(session);
        return;
      }
      pending_.pop_front();
      idle_timer_.cancel();
      dispatch(session, op);
      if (op->kind == Kind::commit) return;  // that session ends with the commit's QUIT
    }
    arm_idle_timer();
  }

  void arm_idle_timer() {
    auto session = session_;
    if (!session || !session->ready || session->ending || session->active_ops > 0) return;
    idle_timer_.expires_after(account_.idle_grace);
    idle_timer_.async_wait([self = shared_from_this(), session](boost::system::error_code ec) {
      if (ec || self->session_ != session || session->active_ops > 0 || !self->pending_.empty())
        return;
      self->end_session(session);
    });
  }

  void start_session() {
    const auto now = Clock::now();
    if (refused_login_ && now < login_retry_at_) {
      fail_pending(refused_login_error(login_retry_at_ - now));
      return;
    }
    if (now < not_before_) {
      const auto wait = not_before_ - now;
      if (wait > account_.connect_timeout) {
        const auto seconds =
            std::chrono::duration_cast<std::chrono::seconds>(wait).count() + 1;
        fail_pending(Error(Errc::login_delay,
                           fmt::format("{} allows a new login only after a delay "
                                       "([LOGIN-DELAY]); try again in {} s",
                                       account_.display_name(), seconds)));
        return;
      }
      delay_timer_.expires_at(not_before_);
      delay_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (!ec) self->pump();
      });
      return;
    }
    auto session = std::make_shared<Session>();
    session->start_serial = request_serial_ + 1;
    net::Account account = account_;
    account.pipelining = account.pipelining && !pipelining_broken_;
    session->connection = net::Connection::create(io_.executor(), std::move(account),
                                                  ++generation_, options_.limits);
    session_ = session;
    update_stats();
    session->connection->open([self = shared_from_this(), session](Result<void> opened) {
      self->on_opened(session, std::move(opened));
    });
  }

  void on_opened(const SessionPtr& session, Result<void> opened) {
    if (session_ != session) return;
    if (!opened) {
      session_.reset();
      Error error = std::move(opened).error();
      if (error.code == Errc::login_delay) {
        const auto& caps = session->connection->capabilities();
        not_before_ = Clock::now() + std::chrono::seconds(caps.login_delay_seconds.value_or(60));
      }
      if (session->connection->credentials_refused()) back_off_logins(error);
      update_stats();
      fail_pending(error);
      return;
    }
    login_backoff_ = Clock::duration::zero();
    refused_login_.reset();
    const auto& caps = session->connection->capabilities();
    if (caps.login_delay_seconds)
      not_before_ = Clock::now() + std::chrono::seconds(*caps.login_delay_seconds);
    if (!caps.entries.empty() && !caps.top) top_unsupported_ = true;
    ++sessions_started_;
    update_stats();
    // Numbers are only valid for this session: learn them first, before LIST (fact 18).
    session->connection->fetch_text(
        pop3::Command::uidl(), [self = shared_from_this(), session](Result<std::string> body) {
          self->on_uidl(session, std::move(body));
        });
  }

  void on_uidl(const SessionPtr& session, Result<std::string> body) {
    if (session_ != session) return;
    Result<std::vector<pop3::UidlEntry>> entries =
        body ? pop3::parse_uidl_listing(*body) : Result<std::vector<pop3::UidlEntry>>(body.error());
    if (!entries) {
      Error error = std::move(entries).error();
      if (error.code == Errc::unsupported)
        error = Error(Errc::unsupported,
                      fmt::format("{} does not support UIDL, which popfs needs to name messages",
                                  account_.display_name()));
      session->connection->abort(error);
      session_.reset();
      update_stats();
      fail_pending(error);
      return;
    }
    std::map<std::string, std::uint32_t> seen;
    for (const auto& entry : *entries) {
      MessageId id{entry.uidl, ++seen[entry.uidl]};
      session->numbers.emplace(id, entry.number);
      session->ids_in_order.push_back(std::move(id));
    }
    session->uidls = std::move(*entries);
    session->ready = true;
    pump();
  }

  // Wrong credentials stay wrong: another login would fail the same way and, repeated by
  // every poll, can get the account locked. Wait, longer after each refusal.
  void back_off_logins(const Error& refusal) {
    const Clock::duration initial = options_.auth_backoff_initial;
    const Clock::duration max = options_.auth_backoff_max;
    login_backoff_ = login_backoff_ == Clock::duration::zero()
                         ? initial
                         : std::min<Clock::duration>(login_backoff_ * 2, max);
    login_retry_at_ = Clock::now() + login_backoff_;
    refused_login_ = refusal;
    spdlog::warn("pop3 {}: login refused; no new login attempt for {} s",
                 account_.display_name(), whole_seconds(login_backoff_));
  }

  Error refused_login_error(Clock::duration left) const {
    return Error(refused_login_->code,
                 fmt::format("{} (popfs tries to log in again in {} s: repeated failed logins "
                             "can lock the account)",
                             refused_login_->message, whole_seconds(left)));
  }

  static long long whole_seconds(Clock::duration duration) {
    return std::chrono::ceil<std::chrono::seconds>(duration).count();
  }

  // QUIT once the session's queued work is done; then the next session may start.
  void end_session(const SessionPtr& session) {
    if (session->ending) return;
    session->ending = true;
    idle_timer_.cancel();
    session->connection->quit([self = shared_from_this(), session](Result<void> quit) {
      if (!quit) spdlog::debug("pop3 {}: QUIT: {}", self->account_.display_name(),
                               quit.error().describe());
      self->drop_session(session);
      self->pump();
      self->maybe_finish_shutdown();
    });
  }

  void drop_session(const SessionPtr& session) {
    if (session_ == session) session_.reset();
    update_stats();
  }

  // ---- Operations ---------------------------------------------------------------------------

  void dispatch(const SessionPtr& session, const OpPtr& op) {
    ++session->active_ops;
    auto self = shared_from_this();
    auto& connection = *session->connection;
    switch (op->kind) {
      case Kind::list:
        connection.fetch_text(pop3::Command::list(),
                              [self, session, op](Result<std::string> body) {
                                self->on_list(session, op, std::move(body));
                              });
        return;
      case Kind::top: {
        if (top_unsupported_) return finish(session, op, unsupported_top());
        auto number = session->numbers.find(op->id);
        if (number == session->numbers.end()) return finish(session, op, gone(op->id));
        connection.fetch_text(
            pop3::Command::top(number->second, op->lines),
            [self, session, op](Result<std::string> text) {
              if (!text && text.error().code == Errc::message_gone) {
                // The snapshot has this message, so a refusal means TOP itself is broken.
                self->top_unsupported_ = true;
                self->update_stats();
                return self->finish(session, op, self->unsupported_top());
              }
              if (!text) return self->finish(session, op, std::move(text).error());
              self->finish_text(session, op, std::move(*text));
            });
        return;
      }
      case Kind::retr: {
        auto number = session->numbers.find(op->id);
        if (number == session->numbers.end()) return finish(session, op, gone(op->id));
        connection.execute(
            pop3::Command::retr(number->second),
            [op](std::string_view chunk) {
              op->delivered_bytes = true;
              op->sink(chunk);
            },
            [self, session, op](Result<pop3::StatusLine> status) {
              if (!status) return self->finish(session, op, std::move(status).error());
              self->finish_ok(session, op);
            });
        return;
      }
      case Kind::commit:
        commit(session, op);
        return;
    }
  }

  void on_list(const SessionPtr& session, const OpPtr& op, Result<std::string> body) {
    if (!body) return finish(session, op, std::move(body).error());
    auto sizes = pop3::parse_list_listing(*body);
    if (!sizes) return finish(session, op, std::move(sizes).error());
    std::map<std::uint32_t, std::uint64_t> size_of;
    for (const auto& entry : *sizes) size_of[entry.number] = entry.size;
    Listing listing;
    listing.messages.reserve(session->ids_in_order.size());
    for (std::size_t i = 0; i < session->ids_in_order.size(); ++i) {
      auto size = size_of.find(session->uidls[i].number);
      listing.messages.push_back(
          MessageInfo{session->ids_in_order[i], size == size_of.end() ? 0 : size->second});
    }
    --session->active_ops;
    order_.complete(op->ticket, [op, listing = std::move(listing)]() mutable {
      op->list_done(std::move(listing));
    });
    after_op();
  }

  void commit(const SessionPtr& session, const OpPtr& op) {
    session->committing = true;
    session->ending = true;
    struct Progress {
      std::vector<MessageId> gone;
      std::vector<MessageId> marked;
    };
    auto progress = std::make_shared<Progress>();
    std::set<MessageId> unique(op->ids.begin(), op->ids.end());
    auto self = shared_from_this();
    for (const auto& id : unique) {
      auto number = session->numbers.find(id);
      if (number == session->numbers.end()) {
        progress->gone.push_back(id);
        continue;
      }
      session->connection->execute(
          pop3::Command::dele(number->second), {},
          [self, progress, id](Result<pop3::StatusLine> status) {
            if (status) {
              progress->marked.push_back(id);
            } else {
              spdlog::warn("pop3 {}: DELE of {} not done: {}", self->account_.display_name(),
                           id.uidl, status.error().describe());
            }
          });
    }
    session->connection->quit([self, session, op, progress](Result<void> quit) {
      self->drop_session(session);
      --session->active_ops;
      if (!quit) {
        Error error = std::move(quit).error();
        error.message = "deletions not committed (nothing was deleted): " + error.message;
        self->complete_error(op, std::move(error));
      } else {
        std::vector<MessageId> done_ids = std::move(progress->gone);
        done_ids.insert(done_ids.end(), progress->marked.begin(), progress->marked.end());
        self->order_.complete(op->ticket, [op, done_ids = std::move(done_ids)]() mutable {
          op->deletions_done(std::move(done_ids));
        });
      }
      self->after_op();
    });
  }

  void finish_text(const SessionPtr& session, const OpPtr& op, std::string text) {
    --session->active_ops;
    order_.complete(op->ticket, [op, text = std::move(text)]() mutable {
      op->text_done(std::move(text));
    });
    after_op();
  }

  void finish_ok(const SessionPtr& session, const OpPtr& op) {
    --session->active_ops;
    order_.complete(op->ticket, [op] { op->done(Result<void>{}); });
    after_op();
  }

  void finish(const SessionPtr& session, const OpPtr& op, Error error) {
    --session->active_ops;
    const bool broke_on_batch = session->connection->failed_while_pipelining() &&
                                (connection_broke(error) || error.code == Errc::protocol_violation);
    if (broke_on_batch && !session->batch_failure_noted) {
      session->batch_failure_noted = true;
      note_batch_failure(error);
    }
    if (connection_broke(error) || broke_on_batch) {
      drop_session(session);
      const bool safe = op->kind != Kind::commit && !op->delivered_bytes;
      if (safe && !op->retried && !shutting_down_) {
        op->retried = true;
        auto position = std::find_if(pending_.begin(), pending_.end(),
                                     [&](const OpPtr& other) { return other->ticket > op->ticket; });
        pending_.insert(position, op);
        after_op();
        return;
      }
    }
    complete_error(op, std::move(error));
    after_op();
  }

  // Some servers break on batches (fact 15): garbage in answer to a batch turns pipelining
  // off at once; connections cut during batches do so the second time (one cut may just be
  // the network).
  void note_batch_failure(const Error& error) {
    if (pipelining_broken_) return;
    ++batch_failures_;
    if (error.code == Errc::protocol_violation || batch_failures_ >= 2) {
      pipelining_broken_ = true;
      update_stats();
      spdlog::info("pop3 {}: the server failed on pipelined commands ({}); sending one "
                   "command at a time from now on",
                   account_.display_name(), error.describe());
    }
  }

  void after_op() {
    pump();
    maybe_finish_shutdown();
  }

  void complete_error(const OpPtr& op, Error error) {
    order_.complete(op->ticket, [op, error = std::move(error)]() mutable {
      switch (op->kind) {
        case Kind::list: op->list_done(std::move(error)); break;
        case Kind::top: op->text_done(std::move(error)); break;
        case Kind::retr: op->done(std::move(error)); break;
        case Kind::commit: op->deletions_done(std::move(error)); break;
      }
    });
  }

  void fail(const OpPtr& op, Error error) { complete_error(op, std::move(error)); }

  void fail_pending(const Error& error) {
    auto ops = std::move(pending_);
    pending_.clear();
    for (auto& op : ops) complete_error(op, error);
    maybe_finish_shutdown();
  }

  Error unsupported_top() const {
    return Error(Errc::unsupported,
                 fmt::format("{} has no working TOP command", account_.display_name()));
  }
  Error gone(const MessageId& id) const {
    return Error(Errc::message_gone, fmt::format("message {} (#{}) is no longer on {}", id.uidl,
                                                 id.occurrence, account_.display_name()));
  }

  // ---- Shutdown ------------------------------------------------------------------------------

  void begin_shutdown(std::function<void()> finished) {
    if (shutting_down_) {
      if (finished) finished();
      return;
    }
    shutting_down_ = true;
    shutdown_finished_ = std::move(finished);
    idle_timer_.cancel();
    delay_timer_.cancel();
    fail_pending(Error(Errc::cancelled, "the mailbox is shutting down"));
    if (session_) {
      // Leave the server cleanly (a dropped connection looks like a crash in its logs): the
      // answers in flight, then QUIT, each wait bounded. QUIT commits the DELEs this session
      // sent, and only commit() sends DELE, for deletions the filesystem asked for, so
      // committing them is right; its DELEs not yet written are failed, not sent.
      auto session = session_;
      drop_session(session);
      closing_ = session;
      session->connection->close_politely(
          options_.shutdown_drain_timeout, options_.shutdown_quit_timeout,
          [self = shared_from_this(), session](Result<void> closed) {
            if (!closed)
              spdlog::debug("pop3 {}: closing at shutdown: {}", self->account_.display_name(),
                            closed.error().describe());
            session->closed = true;
            self->maybe_finish_shutdown();
          });
    }
    maybe_finish_shutdown();
  }

  void maybe_finish_shutdown() {
    if (!shutting_down_ || !shutdown_finished_) return;
    if (session_ || !pending_.empty() || !order_.idle()) return;
    if (closing_ && (!closing_->closed || closing_->active_ops > 0)) return;
    closing_.reset();
    auto finished = std::move(shutdown_finished_);
    shutdown_finished_ = nullptr;
    finished();
  }

  void update_stats() {
    std::lock_guard lock(stats_mutex_);
    stats_.sessions_started = sessions_started_;
    stats_.session_open = session_ != nullptr;
    stats_.top_unsupported = top_unsupported_;
    stats_.pipelining_disabled = pipelining_broken_;
  }

  net::IoThread& io_;
  net::Account account_;
  Pop3MaildropOptions options_;
  boost::asio::steady_timer idle_timer_;
  boost::asio::steady_timer delay_timer_;
  detail::OrderedCompletions order_;
  std::deque<OpPtr> pending_;
  SessionPtr session_;
  SessionPtr closing_;
  std::uint64_t request_serial_ = 0;
  std::uint64_t generation_ = 0;
  std::uint64_t sessions_started_ = 0;
  Clock::time_point not_before_{};
  // The last refusal of the credentials, while logins are held back.
  std::optional<Error> refused_login_;
  Clock::duration login_backoff_{};
  Clock::time_point login_retry_at_{};
  bool top_unsupported_ = false;
  bool pipelining_broken_ = false;
  int batch_failures_ = 0;
  bool shutting_down_ = false;
  std::function<void()> shutdown_finished_;
  mutable std::mutex stats_mutex_;
  Stats stats_;
};

Pop3Maildrop::Pop3Maildrop(net::Account account, Pop3MaildropOptions options)
    : io_(std::make_unique<net::IoThread>()),
      impl_(std::make_shared<Impl>(*io_, std::move(account), options)) {}

Pop3Maildrop::~Pop3Maildrop() {
  impl_->shutdown();
  io_->stop();  // joins; handlers still queued (and the Impl they hold) go with io_
  impl_.reset();
}

void Pop3Maildrop::list(ListDone done) {
  auto op = std::make_shared<Impl::Op>();
  op->kind = Impl::Kind::list;
  op->list_done = std::move(done);
  impl_->submit(std::move(op));
}

void Pop3Maildrop::top(MessageId id, std::uint32_t lines, TextDone done) {
  auto op = std::make_shared<Impl::Op>();
  op->kind = Impl::Kind::top;
  op->id = std::move(id);
  op->lines = lines;
  op->text_done = std::move(done);
  impl_->submit(std::move(op));
}

void Pop3Maildrop::retr(MessageId id, ChunkSink sink, Done done) {
  auto op = std::make_shared<Impl::Op>();
  op->kind = Impl::Kind::retr;
  op->id = std::move(id);
  op->sink = std::move(sink);
  op->done = std::move(done);
  impl_->submit(std::move(op));
}

void Pop3Maildrop::commit_deletions(std::vector<MessageId> ids, DeletionsDone done) {
  auto op = std::make_shared<Impl::Op>();
  op->kind = Impl::Kind::commit;
  op->ids = std::move(ids);
  op->deletions_done = std::move(done);
  impl_->submit(std::move(op));
}

void Pop3Maildrop::shutdown() { impl_->shutdown(); }

Pop3Maildrop::Stats Pop3Maildrop::stats() const { return impl_->stats(); }

std::unique_ptr<Maildrop> make_pop3_maildrop(net::Account account) {
  return std::make_unique<Pop3Maildrop>(std::move(account));
}

}  // namespace popfs::mailbox
