#include "popfs/mailbox/session_scheduler.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace popfs::mailbox {
namespace {

// Failures after which a question may safely be asked again on a new session.
bool connection_broke(const Error& error) { return error.code == Errc::connection || error.code == Errc::timeout; }

bool needs_fresh_session(RequestKind kind) { return kind == RequestKind::list || kind == RequestKind::commit; }

long long whole_seconds(Clock::duration duration) { return std::chrono::ceil<std::chrono::seconds>(duration).count(); }

}  // namespace

SessionScheduler::SessionScheduler(SchedulerOptions options) : options_(std::move(options)) {}

SessionScheduler::Session* SessionScheduler::find(SessionId session) {
  if (current_ && current_->id == session) return current_.get();
  if (closing_ && closing_->id == session) return closing_.get();
  return nullptr;
}

std::shared_ptr<MessageTable> SessionScheduler::session_table(SessionId session) const {
  if (current_ && current_->id == session) return current_->table;
  if (closing_ && closing_->id == session) return closing_->table;
  return nullptr;
}

// ---- events ---------------------------------------------------------------------------

Actions SessionScheduler::submit(RequestId id, Request request, Clock::time_point now) {
  Actions out;
  order_.push_back(id);
  if (shutting_down_) {
    complete(id, Error(Errc::cancelled, "the mailbox is shutting down"), out);
    return out;
  }
  pending_.push_back(Pending{id, std::move(request), ++request_serial_});
  pump(now, out);
  return out;
}

Actions SessionScheduler::opened(SessionId session, Opened result, Clock::time_point now) {
  Actions out;
  if (!current_ || current_->id != session) return out;
  if (result.error) {
    current_.reset();
    if (result.error->code == Errc::login_delay) {
      not_before_ = now + std::chrono::seconds(result.login_delay_seconds.value_or(60));
    }
    if (result.credentials_refused) back_off_logins(*result.error, now);
    fail_pending(*result.error, out);
    maybe_finish_shutdown(out);
    return out;
  }
  login_backoff_ = Clock::duration::zero();
  refused_login_.reset();
  if (result.login_delay_seconds) not_before_ = now + std::chrono::seconds(*result.login_delay_seconds);
  if (result.capabilities_known && !result.top_advertised) top_unsupported_ = true;
  ++sessions_started_;
  // Numbers are only valid for this session: learn them first, before LIST (fact 18). A
  // queued listing's LIST needs no numbers: it goes out right behind the UIDL.
  out.emplace_back(action::SendUidl{session});
  if (!pending_.empty() && pending_.front().request.kind == RequestKind::list &&
      pending_.front().serial < current_->start_serial) {
    Pending list = std::move(pending_.front());
    pending_.pop_front();
    dispatch(*current_, std::move(list), out);
  }
  return out;
}

Actions SessionScheduler::uidl_answered(SessionId session, Result<std::shared_ptr<MessageTable>> table,
                                        Clock::time_point now) {
  Actions out;
  if (!current_ || current_->id != session) return out;
  if (!table) {
    Error error = std::move(table).error();
    if (error.code == Errc::unsupported) {
      error = Error(Errc::unsupported,
                    fmt::format("{} does not support UIDL, which popfs needs to name messages", options_.account_name));
    }
    // The connection fails what was sent on it with this reason (a pipelined LIST).
    out.emplace_back(action::Abort{session, error});
    current_.reset();
    fail_pending(error, out);
    maybe_finish_shutdown(out);
    return out;
  }
  current_->table = std::move(*table);
  current_->ready = true;
  pump(now, out);
  return out;
}

Actions SessionScheduler::answered(SessionId session, RequestId request, Answered result, Clock::time_point now) {
  Actions out;
  auto it = in_flight_.find(request);
  if (it == in_flight_.end()) return out;
  Pending pending = std::move(it->second.pending);
  in_flight_.erase(it);
  Session* s = find(session);
  if (s != nullptr && s->active > 0) --s->active;
  if (pending.request.kind == RequestKind::commit) drop_session(session);  // its QUIT ended it
  if (!result.error) {
    complete(request, std::nullopt, out);
    after_request(now, out);
    return out;
  }
  Error error = std::move(*result.error);
  if (pending.request.kind == RequestKind::top && error.code == Errc::message_gone) {
    // The snapshot has this message, so a refusal means TOP itself is broken.
    top_unsupported_ = true;
    error = unsupported_top();
  }
  const bool broke_on_batch = result.failed_while_pipelining &&
                              (connection_broke(error) || error.code == Errc::protocol_violation);
  if (broke_on_batch && s != nullptr && !s->batch_failure_noted) {
    s->batch_failure_noted = true;
    note_batch_failure(error);
  }
  if (connection_broke(error) || broke_on_batch) {
    drop_session(session);
    const bool question = pending.request.kind == RequestKind::list || pending.request.kind == RequestKind::top;
    if (question && !pending.retried && !shutting_down_) {
      pending.retried = true;
      auto position = std::find_if(pending_.begin(), pending_.end(),
                                   [&](const Pending& other) { return other.id > pending.id; });
      pending_.insert(position, std::move(pending));
      after_request(now, out);
      return out;
    }
  }
  complete(request, std::move(error), out);
  after_request(now, out);
  return out;
}

Actions SessionScheduler::quit_done(SessionId session, Clock::time_point now) {
  Actions out;
  drop_session(session);
  after_request(now, out);
  return out;
}

Actions SessionScheduler::lost(SessionId session, Clock::time_point now) {
  Actions out;
  if (!current_ || current_->id != session) return out;
  if (current_->active == 0) current_.reset();
  pump(now, out);
  return out;
}

Actions SessionScheduler::timer_fired(Timer timer, Clock::time_point now) {
  Actions out;
  if (timer == Timer::login_delay) {
    delay_timer_armed_ = false;
    pump(now, out);
    return out;
  }
  idle_timer_armed_ = false;
  if (current_ && current_->ready && !current_->ending && current_->active == 0 && pending_.empty()) {
    end_session(*current_, out);
  }
  return out;
}

Actions SessionScheduler::shutdown(Clock::time_point now) {
  (void)now;
  Actions out;
  if (shutting_down_) {
    maybe_finish_shutdown(out);
    return out;
  }
  shutting_down_ = true;
  idle_timer_armed_ = false;
  out.emplace_back(action::CancelTimer{Timer::idle});
  out.emplace_back(action::CancelTimer{Timer::login_delay});
  fail_pending(Error(Errc::cancelled, "the mailbox is shutting down"), out);
  if (current_) {
    // Leave the server cleanly (a dropped connection looks like a crash in its logs): the
    // answers in flight, then QUIT. QUIT commits the DELEs this session sent, and only a
    // commit sends DELE, for deletions that were asked for, so committing them is right.
    closing_ = std::move(current_);
    out.emplace_back(action::ClosePolitely{closing_->id});
  }
  maybe_finish_shutdown(out);
  return out;
}

Actions SessionScheduler::closed(SessionId session, Clock::time_point now) {
  (void)now;
  Actions out;
  if (closing_ && closing_->id == session) closing_.reset();
  maybe_finish_shutdown(out);
  return out;
}

// ---- scheduling -------------------------------------------------------------------------

void SessionScheduler::pump(Clock::time_point now, Actions& out) {
  if (shutting_down_) return;
  while (!pending_.empty()) {
    if (!current_) {
      start_session(now, out);
      return;
    }
    Session& session = *current_;
    if (!session.ready || session.ending) return;  // its events pump again
    const Pending& front = pending_.front();
    if (needs_fresh_session(front.request.kind) && session.start_serial <= front.serial) {
      end_session(session, out);
      return;
    }
    Pending next = std::move(pending_.front());
    pending_.pop_front();
    const bool commit = next.request.kind == RequestKind::commit;
    cancel_idle_timer(out);
    dispatch(session, std::move(next), out);
    if (commit) return;  // that session ends with the commit's QUIT
  }
  arm_idle_timer(now, out);
}

void SessionScheduler::arm_idle_timer(Clock::time_point now, Actions& out) {
  if (!current_ || !current_->ready || current_->ending || current_->active > 0) return;
  out.emplace_back(action::ArmTimer{Timer::idle, now + options_.idle_grace});
  idle_timer_armed_ = true;
}

// Only when armed: a pipeline of 100,000 TOPs dispatches one request at a time.
void SessionScheduler::cancel_idle_timer(Actions& out) {
  if (!idle_timer_armed_) return;
  idle_timer_armed_ = false;
  out.emplace_back(action::CancelTimer{Timer::idle});
}

void SessionScheduler::start_session(Clock::time_point now, Actions& out) {
  if (refused_login_ && now < login_retry_at_) {
    const bool try_now = std::any_of(pending_.begin(), pending_.end(),
                                     [](const Pending& p) { return p.request.try_login_now; });
    if (!try_now) {
      fail_pending(refused_login_error(login_retry_at_ - now), out);
      return;
    }
  }
  if (now < not_before_) {
    const auto wait = not_before_ - now;
    if (wait > options_.connect_timeout) {
      fail_pending(Error(Errc::login_delay, fmt::format("{} allows a new login only after a delay "
                                                        "([LOGIN-DELAY]); try again in {} s",
                                                        options_.account_name, whole_seconds(wait) + 1)),
                   out);
      return;
    }
    if (!delay_timer_armed_) {
      delay_timer_armed_ = true;
      out.emplace_back(action::ArmTimer{Timer::login_delay, not_before_});
    }
    return;
  }
  for (auto& p : pending_) p.request.try_login_now = false;  // this is the one attempt
  current_ = std::make_unique<Session>();
  current_->id = next_session_++;
  current_->start_serial = request_serial_ + 1;
  out.emplace_back(action::OpenSession{current_->id, options_.pipelining && !pipelining_broken_});
}

void SessionScheduler::dispatch(Session& session, Pending pending, Actions& out) {
  const RequestId id = pending.id;
  const Request& request = pending.request;
  action::Send send;
  send.session = session.id;
  send.request = id;
  send.kind = request.kind;
  switch (request.kind) {
    case RequestKind::list: break;
    case RequestKind::top:
    case RequestKind::retr: {
      if (request.kind == RequestKind::top && top_unsupported_) return complete(id, unsupported_top(), out);
      const auto row = session.table->find(request.id);
      if (!row) return complete(id, gone(request.id), out);
      send.number = session.table->number(*row);
      send.lines = request.lines;
      break;
    }
    case RequestKind::commit: {
      session.ending = true;
      std::vector<MessageId> unique = request.ids;
      std::sort(unique.begin(), unique.end());
      unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
      for (auto& target : unique) {
        if (const auto row = session.table->find(target)) {
          send.deletions.emplace_back(std::move(target), session.table->number(*row));
        } else {
          send.absent.push_back(std::move(target));
        }
      }
      break;
    }
  }
  ++session.active;
  in_flight_.emplace(id, InFlight{std::move(pending), session.id});
  out.emplace_back(std::move(send));
}

void SessionScheduler::end_session(Session& session, Actions& out) {
  if (session.ending) return;
  session.ending = true;
  cancel_idle_timer(out);
  out.emplace_back(action::Quit{session.id});
}

void SessionScheduler::drop_session(SessionId session) {
  if (current_ && current_->id == session) current_.reset();
}

void SessionScheduler::after_request(Clock::time_point now, Actions& out) {
  pump(now, out);
  maybe_finish_shutdown(out);
}

// Wrong credentials stay wrong: another login would fail the same way and, repeated by
// every poll, can get the account locked. Wait, longer after each refusal.
void SessionScheduler::back_off_logins(const Error& refusal, Clock::time_point now) {
  login_backoff_ = login_backoff_ == Clock::duration::zero()
                       ? options_.auth_backoff_initial
                       : std::min<Clock::duration>(login_backoff_ * 2, options_.auth_backoff_max);
  login_retry_at_ = now + login_backoff_;
  refused_login_ = refusal;
  spdlog::warn("pop3 {}: login refused; no new login attempt for {} s", options_.account_name,
               whole_seconds(login_backoff_));
}

// Some servers break on batches (fact 15): garbage in answer to a batch turns pipelining
// off at once; connections cut during batches do so the second time (one cut may just be
// the network).
void SessionScheduler::note_batch_failure(const Error& error) {
  if (pipelining_broken_) return;
  ++batch_failures_;
  if (error.code == Errc::protocol_violation || batch_failures_ >= 2) {
    pipelining_broken_ = true;
    spdlog::info("pop3 {}: the server failed on pipelined commands ({}); sending one command at a time from now on",
                 options_.account_name, error.describe());
  }
}

void SessionScheduler::complete(RequestId id, std::optional<Error> error, Actions& out) {
  if (finished_.empty() && !order_.empty() && order_.front() == id) {
    // The usual case (answers come back in the order asked): nothing waits behind it.
    out.emplace_back(action::Complete{id, std::move(error)});
    order_.pop_front();
    return;
  }
  finished_.emplace(id, std::move(error));
  while (!order_.empty()) {
    auto ready = finished_.find(order_.front());
    if (ready == finished_.end()) break;
    out.emplace_back(action::Complete{ready->first, std::move(ready->second)});
    finished_.erase(ready);
    order_.pop_front();
  }
}

void SessionScheduler::fail_pending(const Error& error, Actions& out) {
  auto failing = std::move(pending_);
  pending_.clear();
  for (auto& p : failing) complete(p.id, error, out);
}

void SessionScheduler::maybe_finish_shutdown(Actions& out) {
  if (!shutting_down_ || shutdown_finished_) return;
  if (current_ || closing_ || !pending_.empty() || !order_.empty()) return;
  shutdown_finished_ = true;
  out.emplace_back(action::ShutdownFinished{});
}

Error SessionScheduler::refused_login_error(Clock::duration left) const {
  return Error(refused_login_->code,
               fmt::format("{} (popfs tries to log in again in {} s: repeated failed logins can lock the "
                           "account; `popfs refresh --now` tries once now)",
                           refused_login_->message, whole_seconds(left)));
}

Error SessionScheduler::unsupported_top() const {
  return Error(Errc::unsupported, fmt::format("{} has no working TOP command", options_.account_name));
}

Error SessionScheduler::gone(const MessageId& id) const {
  return Error(Errc::message_gone,
               fmt::format("message {} (#{}) is no longer on {}", id.uidl, id.occurrence, options_.account_name));
}

}  // namespace popfs::mailbox
