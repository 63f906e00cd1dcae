#include "popfs/net/connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "popfs/pop3/errors.hpp"
#include "popfs/pop3/sasl.hpp"
#include "transport.hpp"

namespace popfs::net {

namespace asio = boost::asio;

namespace {
// A CAPA answer is a few hundred bytes; refuse to buffer a server that never stops.
constexpr std::uint64_t max_capa_bytes = 64 * 1024;
constexpr std::size_t read_chunk_bytes = 64 * 1024;

using Clock = std::chrono::steady_clock;

std::string seconds_text(std::chrono::milliseconds duration) {
  return fmt::format("{:.1f} s", static_cast<double>(duration.count()) / 1000.0);
}

std::chrono::milliseconds ceil_milliseconds(Clock::duration duration) {
  return std::chrono::ceil<std::chrono::milliseconds>(duration);
}
}  // namespace

std::string_view auth_method_name(AuthMethod method) noexcept {
  switch (method) {
    case AuthMethod::none: return "none";
    case AuthMethod::sasl_plain: return "SASL PLAIN";
    case AuthMethod::sasl_login: return "SASL LOGIN";
    case AuthMethod::user_pass: return "USER/PASS";
    case AuthMethod::apop: return "APOP";
    case AuthMethod::xoauth2: return "SASL XOAUTH2";
    case AuthMethod::oauthbearer: return "SASL OAUTHBEARER";
  }
  return "unknown";
}

struct Connection::Answer {
  pop3::StatusLine status;
  std::optional<Error> refusal;  // set for -ERR: the server answered, the session lives on
};

std::shared_ptr<Connection> Connection::create(asio::any_io_executor executor, Account account,
                                               std::uint64_t generation, Limits limits) {
  return std::shared_ptr<Connection>(
      new Connection(std::move(executor), std::move(account), generation, limits));
}

Connection::Connection(asio::any_io_executor executor, Account account, std::uint64_t generation,
                       Limits limits)
    : executor_(executor),
      account_(std::move(account)),
      generation_(generation),
      limits_(limits),
      transport_(std::make_shared<detail::Transport>(executor, account_)),
      session_(account_.security == Security::implicit_tls),
      wake_timer_(std::make_unique<asio::steady_timer>(executor)),
      close_deadline_(std::make_unique<asio::steady_timer>(executor)) {}

Connection::~Connection() { transport_->close(); }

bool Connection::is_ready() const noexcept { return phase_ == Phase::ready; }
bool Connection::is_dead() const noexcept { return phase_ == Phase::dead; }

void Connection::wake() noexcept { wake_timer_->cancel(); }

void Connection::open(Done done) {
  if (phase_ != Phase::created) {
    asio::post(executor_, [done = std::move(done)] {
      done(Error(Errc::invalid_argument, "POP3 connection opened twice"));
    });
    return;
  }
  phase_ = Phase::opening;
  auto self = shared_from_this();
  asio::co_spawn(
      executor_,
      [self, done = std::move(done)]() -> asio::awaitable<void> {
        auto login = co_await self->run_login();
        if (login && self->abort_reason_) login = *self->abort_reason_;
        if (!login) {
          Error error = self->abort_reason_ ? *self->abort_reason_ : login.error();
          spdlog::debug("pop3 {}: login failed: {}", self->account_.display_name(),
                        error.describe());
          self->fail_everything(error);
          done(std::move(error));
          co_return;
        }
        spdlog::debug("pop3 {}: logged in with {}{}", self->account_.display_name(),
                      auth_method_name(self->auth_method_),
                      self->pipelining_ ? ", pipelining" : "");
        if (self->phase_ == Phase::opening) self->phase_ = Phase::ready;
        done(Result<void>{});
        co_await self->pump();
      },
      asio::detached);
}

void Connection::execute(pop3::Command command, BodySink sink, StatusDone done,
                         std::optional<std::uint64_t> max_response_bytes) {
  if (phase_ == Phase::dead || phase_ == Phase::quitting) {
    Error error = abort_reason_ ? *abort_reason_
                                : Error(Errc::cancelled, "the POP3 session is closing or closed");
    asio::post(executor_, [done = std::move(done), error = std::move(error)] { done(error); });
    return;
  }
  waiting_.push_back(Request{std::move(command), std::move(sink), std::move(done),
                             max_response_bytes});
  wake();
}

void Connection::fetch_text(pop3::Command command, TextDone done,
                            std::optional<std::uint64_t> max_response_bytes) {
  auto body = std::make_shared<std::string>();
  execute(
      std::move(command), [body](std::string_view chunk) { body->append(chunk); },
      [body, done = std::move(done)](Result<pop3::StatusLine> status) {
        if (!status) return done(std::move(status).error());
        done(std::move(*body));
      },
      max_response_bytes);
}

void Connection::quit(Done done) {
  execute(pop3::Command::quit(), {},
          [done = std::move(done)](Result<pop3::StatusLine> status) {
            if (!status) return done(std::move(status).error());
            done(Result<void>{});
          });
  if (phase_ != Phase::dead) phase_ = Phase::quitting;
}

void Connection::abort(Error reason) {
  if (phase_ == Phase::dead || abort_reason_) return;
  abort_reason_ = std::move(reason);
  transport_->close();
  wake();
  if (phase_ == Phase::created) {
    // Nothing runs that would notice: fail the queue from the executor, not inline.
    asio::post(executor_, [self = shared_from_this()] {
      if (self->phase_ != Phase::dead) self->fail_everything(*self->abort_reason_);
    });
  }
}

void Connection::close_politely(std::chrono::milliseconds drain_timeout,
                                std::chrono::milliseconds quit_timeout, Done done) {
  if (phase_ == Phase::dead || closing_politely_) {
    asio::post(executor_, [done = std::move(done)] {
      done(Error(Errc::cancelled, "the POP3 session is already closed or closing"));
    });
    return;
  }
  closing_politely_ = true;
  close_done_ = std::move(done);
  if (phase_ == Phase::created || phase_ == Phase::opening) {
    abort(Error(Errc::cancelled, "the POP3 session was closed before the login finished"));
    return;
  }
  // Commands not yet written fail; a QUIT the owner queued is the one to send.
  const Error cancelled(Errc::cancelled, "the POP3 session is closing");
  std::deque<Request> kept;
  for (auto& request : waiting_) {
    if (request.command.kind == pop3::CommandKind::quit) {
      kept.push_back(std::move(request));
    } else {
      asio::post(executor_, [done = std::move(request.done), cancelled] { done(cancelled); });
    }
  }
  waiting_ = std::move(kept);
  const bool quit_written =
      std::any_of(in_flight_.begin(), in_flight_.end(), [](const Request& request) {
        return request.command.kind == pop3::CommandKind::quit;
      });
  if (waiting_.empty() && !quit_written) {
    waiting_.push_back(Request{pop3::Command::quit(), {}, [](Result<pop3::StatusLine>) {}, {}});
    phase_ = Phase::quitting;
  }
  close_quit_timeout_ = quit_timeout;
  arm_close_deadline(drain_timeout, "the answers in flight");
  wake();
}

void Connection::arm_close_deadline(std::chrono::milliseconds timeout, const char* waiting_for) {
  const auto token = ++close_deadline_token_;
  close_deadline_->expires_after(timeout);
  close_deadline_->async_wait(
      [weak = weak_from_this(), token, timeout, waiting_for](boost::system::error_code ec) {
        auto self = weak.lock();
        if (ec || !self || self->close_deadline_token_ != token) return;
        self->abort(Error(Errc::cancelled,
                          fmt::format("closing the POP3 session: {}:{} did not send {} within {}; "
                                      "connection dropped",
                                      self->account_.host, self->account_.port, waiting_for,
                                      seconds_text(timeout))));
      });
}

void Connection::fail_everything(const Error& error) {
  phase_ = Phase::dead;
  failed_while_pipelining_ = failed_while_pipelining_ || in_flight_.size() > 1;
  session_.connection_lost();
  transport_->close();
  wake_timer_->cancel();
  ++close_deadline_token_;
  close_deadline_->cancel();
  auto written = std::move(in_flight_);
  auto queued = std::move(waiting_);
  in_flight_.clear();
  waiting_.clear();
  for (auto& request : written) request.done(error);
  for (auto& request : queued) request.done(error);
  if (close_done_) {
    auto done = std::move(close_done_);
    close_done_ = nullptr;
    if (quit_confirmed_)
      done(Result<void>{});
    else
      done(error);
  }
}

Error Connection::login_refused(Error refusal) {
  if (refusal.code == Errc::auth_failed) credentials_refused_ = true;
  return refusal;
}

Error Connection::too_slow(std::uint64_t bytes) const {
  return Error(Errc::timeout,
               fmt::format("{}:{}: server too slow: {} bytes in {} while waiting for an answer "
                           "(at least {} bytes are expected in that time)",
                           account_.host, account_.port, bytes,
                           seconds_text(account_.response_timeout), account_.min_progress_bytes));
}

asio::awaitable<Result<Connection::Answer>> Connection::read_answer(const BodySink& sink) {
  std::optional<pop3::StatusLine> status;
  // The minimum-progress window (Account::min_progress_bytes): it starts when this answer is
  // first waited for, so an answer that ends within it has made progress whatever its size.
  std::optional<Clock::time_point> window_start;
  std::uint64_t window_bytes = 0;
  for (;;) {
    auto step = session_.consume(std::string_view(input_).substr(input_pos_));
    input_pos_ += step.consumed;
    auto& event = step.event;
    using Kind = pop3::SessionEvent::Kind;
    switch (event.kind) {
      case Kind::status:
        if (event.complete) co_return Answer{std::move(event.status), std::move(event.error)};
        status = std::move(event.status);
        continue;
      case Kind::body_chunk:
        if (sink) sink(event.data);
        continue;
      case Kind::body_end: {
        Answer answer;
        if (status) answer.status = std::move(*status);
        co_return answer;
      }
      case Kind::error:
        if (event.error) co_return std::move(*event.error);
        co_return Error(Errc::protocol_violation, "unreadable POP3 answer");
      case Kind::idle:
        co_return Error(Errc::protocol_violation,
                        fmt::format("{} sent data that answers no command",
                                    account_.display_name()));
      case Kind::need_more:
        break;
    }
    input_.erase(0, input_pos_);
    input_pos_ = 0;
    if (read_buffer_.empty()) read_buffer_.resize(read_chunk_bytes);
    if (!window_start) window_start = Clock::now();
    // Silence is cut by response_timeout; a window still short of bytes ends at its end.
    const bool window_short = window_bytes < account_.min_progress_bytes;
    auto read_timeout = account_.response_timeout;
    if (window_short) {
      const auto left = *window_start + account_.response_timeout - Clock::now();
      if (left <= Clock::duration::zero()) co_return too_slow(window_bytes);
      read_timeout = ceil_milliseconds(left);
    }
    auto got = co_await transport_->read_some(read_buffer_, read_timeout);
    if (!got) {
      // Nothing at all in the window is plain silence: the transport's message says so.
      if (got.error().code == Errc::timeout && window_short && window_bytes > 0)
        co_return too_slow(window_bytes);
      co_return std::move(got).error();
    }
    input_.append(read_buffer_.data(), *got);
    window_bytes += *got;
    if (Clock::now() - *window_start >= account_.response_timeout) {
      if (window_bytes < account_.min_progress_bytes) co_return too_slow(window_bytes);
      window_start = Clock::now();
      window_bytes = 0;
    }
  }
}

asio::awaitable<Result<Connection::Answer>> Connection::roundtrip(const pop3::Command& command,
                                                                  const BodySink& sink) {
  auto bytes = session_.send(command, command.kind == pop3::CommandKind::capa
                                          ? std::optional<std::uint64_t>(max_capa_bytes)
                                          : std::nullopt);
  if (!bytes) co_return std::move(bytes).error();
  if (spdlog::should_log(spdlog::level::debug))
    spdlog::debug("pop3 {} > {}", account_.display_name(), command.redacted());
  auto written = co_await transport_->write(*bytes, account_.response_timeout);
  if (!written) co_return std::move(written).error();
  co_return co_await read_answer(sink);
}

asio::awaitable<Result<pop3::Capabilities>> Connection::ask_capabilities() {
  std::string body;
  const pop3::Command capa = pop3::Command::capa();
  const BodySink collect = [&body](std::string_view c) { body.append(c); };
  auto answer = co_await roundtrip(capa, collect);
  if (!answer) co_return std::move(answer).error();
  if (answer->refusal) co_return pop3::Capabilities{};  // an RFC 1939-only server
  co_return pop3::parse_capabilities(body);
}

asio::awaitable<Result<void>> Connection::run_login() {
  auto self = shared_from_this();
  if (auto connected = co_await transport_->connect(); !connected) co_return connected;
  if (account_.security == Security::implicit_tls) {
    if (auto tls = co_await transport_->start_tls(); !tls) co_return tls;
  }
  const BodySink no_body;
  auto greeting = co_await read_answer(no_body);
  if (!greeting) co_return std::move(greeting).error();
  if (greeting->refusal) co_return std::move(*greeting->refusal);
  greeting_text_ = greeting->status.text;

  auto capabilities = co_await ask_capabilities();
  if (!capabilities) co_return std::move(capabilities).error();
  capabilities_ = std::move(*capabilities);
  const bool capa_known = !capabilities_.entries.empty();

  if (!transport_->tls_active()) {
    // Without CAPA we cannot know: try STLS and let the server say no.
    const bool stls_offered = capabilities_.stls || !capa_known;
    bool upgraded = false;
    if (stls_offered) {
      const pop3::Command stls = pop3::Command::stls();
      auto answer = co_await roundtrip(stls);
      if (!answer) co_return std::move(answer).error();
      if (!answer->refusal) {
        // Whatever the server sent in clear after its +OK must not be taken for an answer.
        input_.clear();
        input_pos_ = 0;
        if (auto tls = co_await transport_->start_tls(); !tls) co_return tls;
        session_.tls_established();
        upgraded = true;
        auto again = co_await ask_capabilities();
        if (!again) co_return std::move(again).error();
        capabilities_ = std::move(*again);
      }
    }
    if (!upgraded && account_.security != Security::plaintext) {
      co_return Error(Errc::stls_unavailable,
                      fmt::format("{} does not offer STLS, so the connection cannot be encrypted; "
                                  "no password was sent. Use pop3:// only with servers that "
                                  "support STLS, pop3s:// for TLS on port 995, or "
                                  "--insecure-plaintext to send the password in clear",
                                  account_.display_name()));
    }
    if (!upgraded)
      spdlog::warn("{}: no TLS (--insecure-plaintext): the password crosses the network in clear",
                   account_.display_name());
  }

  if (auto auth = co_await authenticate(); !auth) co_return auth;

  // Servers often show TOP, UIDL or PIPELINING only after login.
  auto after = co_await ask_capabilities();
  if (!after) co_return std::move(after).error();
  if (!after->entries.empty()) capabilities_ = std::move(*after);
  pipelining_ = account_.pipelining && capabilities_.pipelining;
  co_return Result<void>{};
}

asio::awaitable<Result<void>> Connection::authenticate() {
  const auto& caps = capabilities_;
  if (account_.oauth_token) {
    auto token = account_.oauth_token();
    if (!token) co_return std::move(token).error();
    if (caps.has_sasl("OAUTHBEARER")) {
      std::string response =
          pop3::sasl_oauthbearer(account_.user, account_.host, account_.port, *token);
      co_return co_await sasl_exchange(AuthMethod::oauthbearer, "OAUTHBEARER",
                                       std::move(response));
    }
    if (caps.has_sasl("XOAUTH2")) {
      std::string response = pop3::sasl_xoauth2(account_.user, *token);
      co_return co_await sasl_exchange(AuthMethod::xoauth2, "XOAUTH2", std::move(response));
    }
    co_return Error(Errc::auth_failed,
                    fmt::format("{} offers neither SASL OAUTHBEARER nor XOAUTH2, so the OAuth "
                                "token cannot be used; configure a password instead",
                                account_.display_name()));
  }
  if (!account_.password)
    co_return Error(Errc::invalid_argument, "no password source configured for " +
                                                account_.display_name());
  auto password = account_.password();
  if (!password) co_return std::move(password).error();

  if (caps.has_sasl("PLAIN")) {
    std::string response = pop3::sasl_plain(account_.user, *password);
    co_return co_await sasl_exchange(AuthMethod::sasl_plain, "PLAIN", std::move(response));
  }
  if (caps.has_sasl("LOGIN"))
    co_return co_await sasl_exchange(AuthMethod::sasl_login, "LOGIN", *password);
  const bool apop_usable = transport_->tls_active() && session_.apop_timestamp().has_value();
  if (caps.user || caps.entries.empty() || !apop_usable) {
    const pop3::Command user_command = pop3::Command::user(account_.user);
    auto user = co_await roundtrip(user_command);
    if (!user) co_return std::move(user).error();
    if (user->refusal) co_return login_refused(std::move(*user->refusal));
    const pop3::Command pass_command = pop3::Command::pass(*password);
    auto pass = co_await roundtrip(pass_command);
    if (!pass) co_return std::move(pass).error();
    if (pass->refusal) co_return login_refused(std::move(*pass->refusal));
    auth_method_ = AuthMethod::user_pass;
    co_return Result<void>{};
  }
  // APOP (MD5) only as a last resort and only inside TLS.
  const pop3::Command apop_command = pop3::Command::apop(
      account_.user, pop3::apop_digest(*session_.apop_timestamp(), *password));
  auto apop = co_await roundtrip(apop_command);
  if (!apop) co_return std::move(apop).error();
  if (apop->refusal) co_return login_refused(std::move(*apop->refusal));
  auth_method_ = AuthMethod::apop;
  co_return Result<void>{};
}

asio::awaitable<Result<void>> Connection::sasl_exchange(AuthMethod method, std::string mechanism,
                                                        std::string initial_response) {
  // Lines to send after each "+ " challenge, in order.
  std::vector<std::string> responses;
  const bool oauth = method == AuthMethod::xoauth2 || method == AuthMethod::oauthbearer;
  pop3::Command command = pop3::Command::auth(mechanism);
  if (method == AuthMethod::sasl_login) {
    // LOGIN asks "Username:" then "Password:"; initial_response is the password here.
    responses = {pop3::base64_encode(account_.user), pop3::base64_encode(initial_response)};
  } else if (oauth) {
    // Microsoft 365 wants the token after the server's "+", which every server accepts.
    responses = {std::move(initial_response)};
  } else {
    pop3::Command with_initial = pop3::Command::auth(mechanism, initial_response);
    if (pop3::encode(with_initial)) {
      command = std::move(with_initial);
    } else {
      responses = {std::move(initial_response)};  // too long for one line: answer the "+"
    }
  }
  std::size_t next = 0;
  bool failure_acknowledged = false;
  auto answer = co_await roundtrip(command);
  for (;;) {
    if (!answer) co_return std::move(answer).error();
    if (answer->refusal) co_return login_refused(std::move(*answer->refusal));
    if (answer->status.ok()) {
      auth_method_ = method;
      co_return Result<void>{};
    }
    // A "+ " challenge. (Commands are built before co_await: GCC 12 mishandles some
    // temporaries inside co_await expressions.)
    pop3::Command reply;
    if (next < responses.size()) {
      reply = pop3::Command::auth_response(std::move(responses[next++]));
    } else if (!failure_acknowledged) {
      // OAuth servers report a bad token as a challenge; acknowledge it to get the -ERR.
      failure_acknowledged = true;
      std::string acknowledgement;
      if (method == AuthMethod::oauthbearer) acknowledgement = pop3::sasl_oauthbearer_failure_ack();
      reply = pop3::Command::auth_response(std::move(acknowledgement));
    } else {
      co_return Error(Errc::protocol_violation,
                      fmt::format("{} kept sending SASL challenges for {}",
                                  account_.display_name(), mechanism));
    }
    answer = co_await roundtrip(reply);
  }
}

asio::awaitable<void> Connection::pump() {
  auto self = shared_from_this();
  std::size_t bytes_in_flight = 0;
  std::deque<std::size_t> sizes_in_flight;
  for (;;) {
    if (abort_reason_) {
      fail_everything(*abort_reason_);
      co_return;
    }
    if (phase_ == Phase::dead) co_return;
    if (waiting_.empty() && in_flight_.empty()) {
      wake_timer_->expires_at(asio::steady_timer::time_point::max());
      co_await wake_timer_->async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    // Fill the window: one command, or with PIPELINING as many as the bounds allow. While
    // the server still has half a window of commands to answer, let new ones gather and
    // send them in one write: one TLS record and one syscall for many commands. (A caller
    // that adds one command per answer would otherwise cost a write per command, and the
    // server a read and a TLS record per command.)
    std::string batch;
    bool batch_has_quit = false;
    const bool worth_writing = !pipelining_ || in_flight_.size() <= limits_.max_commands_in_flight / 2;
    while (worth_writing && !waiting_.empty()) {
      const bool room = in_flight_.empty() ||
                        (pipelining_ && in_flight_.size() < limits_.max_commands_in_flight &&
                         bytes_in_flight + pop3::max_command_line_bytes <=
                             limits_.max_bytes_in_flight);
      if (!room) break;
      // Closing politely: the answers in flight first, then QUIT.
      const bool is_quit = waiting_.front().command.kind == pop3::CommandKind::quit;
      if (closing_politely_ && is_quit && !in_flight_.empty()) break;
      Request request = std::move(waiting_.front());
      waiting_.pop_front();
      auto bytes = session_.send(request.command, request.max_response_bytes);
      if (!bytes) {
        // A command this session cannot take (e.g. after QUIT): fail it alone.
        asio::post(executor_, [done = std::move(request.done), error = bytes.error()] {
          done(error);
        });
        continue;
      }
      // Not formatted at all unless logged: this runs for every command of a 100,000-TOP pipeline.
      if (spdlog::should_log(spdlog::level::debug))
        spdlog::debug("pop3 {} > {}", account_.display_name(), request.command.redacted());
      batch_has_quit = batch_has_quit || is_quit;
      batch += *bytes;
      bytes_in_flight += bytes->size();
      sizes_in_flight.push_back(bytes->size());
      in_flight_.push_back(std::move(request));
    }
    if (!batch.empty()) {
      if (closing_politely_ && batch_has_quit)
        arm_close_deadline(close_quit_timeout_, "the answer to QUIT");
      auto written = co_await transport_->write(batch, account_.response_timeout);
      if (!written) {
        fail_everything(abort_reason_ ? *abort_reason_ : written.error());
        co_return;
      }
    }
    if (in_flight_.empty()) continue;

    auto answer = co_await read_answer(in_flight_.front().sink);
    if (!answer) {
      fail_everything(abort_reason_ ? *abort_reason_ : answer.error());
      co_return;
    }
    Request request = std::move(in_flight_.front());
    in_flight_.pop_front();
    bytes_in_flight -= sizes_in_flight.front();
    sizes_in_flight.pop_front();
    const bool was_quit = request.command.kind == pop3::CommandKind::quit;
    if (was_quit) quit_confirmed_ = !answer->refusal;
    if (answer->refusal)
      request.done(std::move(*answer->refusal));
    else
      request.done(std::move(answer->status));
    if (was_quit) {
      fail_everything(Error(Errc::cancelled, "the POP3 session has ended (QUIT)"));
      co_return;
    }
  }
}

}  // namespace popfs::net
