#pragma once
// A byte stream to one POP3 server: TCP, optionally upgraded to TLS (implicit or STLS), with
// a deadline on every step. Owned by one Connection and used only from its executor.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "popfs/net/account.hpp"
#include "popfs/util/result.hpp"

namespace popfs::net::detail {

namespace asio = boost::asio;

class Transport : public std::enable_shared_from_this<Transport> {
 public:
  Transport(asio::any_io_executor executor, const Account& account);
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;
  ~Transport();

  // Resolve and connect TCP within account.connect_timeout.
  asio::awaitable<Result<void>> connect();
  // TLS handshake (SNI, chain, host name or fingerprint pin) within connect_timeout.
  // After this every read and write is encrypted.
  asio::awaitable<Result<void>> start_tls();
  // Read whatever is available; fails with Errc::timeout if nothing arrives in `timeout`.
  asio::awaitable<Result<std::size_t>> read_some(std::span<char> buffer,
                                                 std::chrono::milliseconds timeout);
  asio::awaitable<Result<void>> write(std::string_view data, std::chrono::milliseconds timeout);

  // Abort: pending operations fail, no more I/O is possible. Safe to call more than once.
  void close() noexcept;
  bool is_open() const noexcept;
  bool tls_active() const noexcept { return tls_active_; }
  // The sha256 fingerprint of the server's leaf certificate once TLS is up (lowercase hex).
  const std::string& peer_fingerprint() const noexcept { return leaf_fingerprint_; }

 private:
  using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;

  void arm(std::chrono::milliseconds timeout, const char* step);
  void disarm() noexcept;
  void start_deadline_timer();
  Error io_error(const boost::system::error_code& ec, const char* step) const;
  Error tls_error(const boost::system::error_code& ec) const;
  std::string where() const;

  Account account_;
  std::string pin_;  // normalised account.fingerprint_sha256
  asio::ssl::context tls_context_;
  std::unique_ptr<TlsStream> stream_;
  asio::steady_timer deadline_;
  asio::steady_timer::time_point deadline_at_{};  // of the step armed now
  const char* deadline_step_ = nullptr;
  bool armed_ = false;
  bool timer_waiting_ = false;  // deadline_ has a wait pending
  std::uint64_t deadline_token_ = 0;
  const char* timed_out_step_ = nullptr;  // set when the deadline closed the socket
  bool tls_active_ = false;
  bool closed_ = false;  // close() was called: refuse further I/O (connect would reopen)
  std::string leaf_fingerprint_;
};

// "sha256:AB:CD..." or "abcd..." -> "abcd...": 64 lowercase hex digits, or "" if malformed.
std::string normalise_fingerprint(std::string_view text);

}  // namespace popfs::net::detail
