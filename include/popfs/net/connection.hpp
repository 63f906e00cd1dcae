#pragma once
// One POP3 session over one TCP connection: connect, TLS (implicit or STLS), CAPA, login,
// then a request queue that pipelines commands when the server allows it.
//
// Threading: a Connection lives on one executor (a net::IoThread's). Every member function
// must be called on that executor; completion handlers run there too, never inline from the
// call that queued the work. Thread-safe use from elsewhere goes through the owner (e.g.
// mailbox::Pop3Maildrop), which posts to the executor.
//
// Request life: waiting -> written -> answered. With PIPELINING (advertised and
// Account::pipelining) commands are written back to back, bounded by Limits; otherwise one
// at a time. Answers are matched in order. When the connection fails, every queued and
// written request fails with the same error and the Connection is dead: message numbers
// belong to this session (generation()) and are never replayed on another one.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "popfs/net/account.hpp"
#include "popfs/pop3/capabilities.hpp"
#include "popfs/pop3/command.hpp"
#include "popfs/pop3/session.hpp"
#include "popfs/pop3/status.hpp"
#include "popfs/util/result.hpp"

namespace popfs::net {

namespace detail {
class Transport;
}

// How the login went, for logs and tests.
enum class AuthMethod { none, sasl_plain, sasl_login, user_pass, apop, xoauth2, oauthbearer };
std::string_view auth_method_name(AuthMethod method) noexcept;

// Bounds on pipelining.
struct ConnectionLimits {
  // Enough that the server never waits for the next command, even on a long link: a
  // window of 1,024 TOP n 0 answers is a few MB in flight.
  std::size_t max_commands_in_flight = 1024;
  // Bytes of commands written and not answered: kept below the socket buffers (16 KiB is
  // Linux's initial send buffer; the peer's receive buffer is larger), so a write never
  // blocks while the server is blocked writing answers we are not reading.
  std::size_t max_bytes_in_flight = 16384;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Limits = ConnectionLimits;

  using Done = std::function<void(Result<void>)>;
  // +OK status of a command, or the error (-ERR mapped by pop3::error_from_status, or the
  // connection failure).
  using StatusDone = std::function<void(Result<pop3::StatusLine>)>;
  using BodySink = std::function<void(std::string_view chunk)>;
  using TextDone = std::function<void(Result<std::string>)>;

  static std::shared_ptr<Connection> create(boost::asio::any_io_executor executor,
                                            Account account, std::uint64_t generation = 1,
                                            Limits limits = {});
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connect, TLS, greeting, CAPA, STLS (+CAPA), authenticate, CAPA. Commands queued before
  // open() completes are sent after the login.
  void open(Done done);

  // Queue a command. For multi-line answers `sink` receives the body (dot-unstuffed, CRLF)
  // as it arrives; done gets the +OK after the whole body. max_response_bytes bounds a
  // multi-line answer (protects against a server that never stops).
  void execute(pop3::Command command, BodySink sink, StatusDone done,
               std::optional<std::uint64_t> max_response_bytes = {});
  // The same, collecting the body into a string (CAPA, UIDL, LIST, TOP).
  void fetch_text(pop3::Command command, TextDone done,
                  std::optional<std::uint64_t> max_response_bytes = {});
  // QUIT after everything queued so far; done(ok) when the server answered +OK (that is
  // when DELEs become final). The connection is closed afterwards either way.
  void quit(Done done);
  // Drop the connection now; every pending request fails with `reason`.
  void abort(Error reason);
  // End the session without leaving the server in the middle of an answer, every wait
  // bounded: commands not yet written fail with Errc::cancelled (a QUIT the owner queued
  // stays), answers already in flight are awaited for at most drain_timeout, then QUIT is
  // written (unless the owner's is already) and its answer awaited for at most quit_timeout;
  // then the connection is closed. A bound that expires drops the connection, and whatever
  // is still pending fails with Errc::cancelled. Before the login has finished this is
  // abort(). done(ok) when QUIT was answered +OK, else the reason; the connection is dead
  // afterwards either way. QUIT commits the DELEs of this session: send DELE only for
  // deletions that are wanted.
  void close_politely(std::chrono::milliseconds drain_timeout,
                      std::chrono::milliseconds quit_timeout, Done done);

  bool is_ready() const noexcept;  // logged in and not failed or closing
  bool is_dead() const noexcept;   // failed, aborted or quit: create a new Connection
  std::size_t outstanding() const noexcept { return waiting_.size() + in_flight_.size(); }
  std::uint64_t generation() const noexcept { return generation_; }
  const pop3::Capabilities& capabilities() const noexcept { return capabilities_; }
  bool pipelining() const noexcept { return pipelining_; }
  AuthMethod auth_method() const noexcept { return auth_method_; }
  // Whether the failure (if any) happened with more than one command written: servers that
  // mishandle batches show up this way, and the owner may turn pipelining off.
  bool failed_while_pipelining() const noexcept { return failed_while_pipelining_; }
  // Whether open() failed because the server refused the credentials (Errc::auth_failed
  // from the server, not from the password source): logging in again with the same
  // credentials will fail again, and repeated attempts can lock the account.
  bool credentials_refused() const noexcept { return credentials_refused_; }

 private:
  struct Request {
    pop3::Command command;
    BodySink sink;
    StatusDone done;
    std::optional<std::uint64_t> max_response_bytes;
  };
  struct Answer;
  enum class Phase { created, opening, ready, quitting, dead };

  Connection(boost::asio::any_io_executor executor, Account account, std::uint64_t generation,
             Limits limits);

  boost::asio::awaitable<Result<void>> run_login();
  boost::asio::awaitable<Result<void>> authenticate();
  boost::asio::awaitable<Result<void>> sasl_exchange(AuthMethod method, std::string mechanism,
                                                     std::string initial_response);
  boost::asio::awaitable<Result<pop3::Capabilities>> ask_capabilities();
  boost::asio::awaitable<Result<Answer>> roundtrip(const pop3::Command& command,
                                                   const BodySink& sink = {});
  boost::asio::awaitable<Result<Answer>> read_answer(const BodySink& sink);
  Error too_slow(std::uint64_t bytes_in_window) const;
  boost::asio::awaitable<void> pump();
  void fail_everything(const Error& error);
  void wake() noexcept;
  Error login_refused(Error refusal);
  void arm_close_deadline(std::chrono::milliseconds timeout, const char* waiting_for);

  boost::asio::any_io_executor executor_;
  Account account_;
  std::uint64_t generation_;
  Limits limits_;
  std::shared_ptr<detail::Transport> transport_;
  pop3::Session session_;
  std::string input_;            // bytes read and not yet parsed, from input_pos_
  std::size_t input_pos_ = 0;
  std::vector<char> read_buffer_;
  std::deque<Request> waiting_;
  std::deque<Request> in_flight_;
  std::unique_ptr<boost::asio::steady_timer> wake_timer_;
  // close_politely(): the bound on the current wait, and who hears the end.
  std::unique_ptr<boost::asio::steady_timer> close_deadline_;
  std::uint64_t close_deadline_token_ = 0;
  std::chrono::milliseconds close_quit_timeout_{0};
  Done close_done_;
  bool closing_politely_ = false;
  bool quit_confirmed_ = false;  // QUIT answered +OK
  Phase phase_ = Phase::created;
  std::optional<Error> abort_reason_;
  pop3::Capabilities capabilities_;
  bool pipelining_ = false;
  bool failed_while_pipelining_ = false;
  bool credentials_refused_ = false;
  AuthMethod auth_method_ = AuthMethod::none;
  std::string greeting_text_;
};

}  // namespace popfs::net
