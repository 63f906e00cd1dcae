#pragma once
// Helpers for driving a net::Connection from a test thread: the test owns an io_context and
// runs it until a condition holds (polled with a deadline, never a fixed sleep).

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "popfs/net/account.hpp"
#include "popfs/net/connection.hpp"
#include "popfs_test/dovecot.hpp"

namespace popfs::net::testing {

// Runs `io` until `done()` is true or the deadline passes; returns done().
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    if (io.stopped()) io.restart();
    io.run_one_for(std::chrono::milliseconds(50));
  }
  return done();
}

inline Account dovecot_account(const popfs::test::Dovecot& dovecot, Security security) {
  Account account;
  account.host = dovecot.host();
  account.security = security;
  account.port = security == Security::implicit_tls ? dovecot.pop3s_port() : dovecot.pop3_port();
  account.user = dovecot.user();
  std::string password = dovecot.password();
  account.password = [password]() -> Result<std::string> { return password; };
  account.ca_file = dovecot.ca_file();
  account.connect_timeout = std::chrono::seconds(10);
  account.response_timeout = std::chrono::seconds(10);
  return account;
}

// Opens a connection and waits for the login; the result of open().
inline std::optional<Result<void>> open_and_wait(boost::asio::io_context& io,
                                                 const std::shared_ptr<Connection>& connection,
                                                 std::chrono::milliseconds timeout =
                                                     std::chrono::seconds(30)) {
  std::optional<Result<void>> outcome;
  connection->open([&outcome](Result<void> r) { outcome = std::move(r); });
  run_until(io, [&] { return outcome.has_value(); }, timeout);
  return outcome;
}

// fetch_text and wait.
inline std::optional<Result<std::string>> fetch_and_wait(boost::asio::io_context& io,
                                                         Connection& connection,
                                                         pop3::Command command) {
  std::optional<Result<std::string>> outcome;
  connection.fetch_text(std::move(command),
                        [&outcome](Result<std::string> r) { outcome = std::move(r); });
  run_until(io, [&] { return outcome.has_value(); });
  return outcome;
}

}  // namespace popfs::net::testing
