#include "transport.hpp"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <fmt/format.h>

namespace popfs::net::detail {

namespace {

using boost::system::error_code;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

std::string hex_lower(const unsigned char* data, std::size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out.push_back(digits[data[i] >> 4]);
    out.push_back(digits[data[i] & 0x0f]);
  }
  return out;
}

std::string certificate_sha256(X509* cert) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (cert == nullptr || X509_digest(cert, EVP_sha256(), digest.data(), &length) != 1) return {};
  return hex_lower(digest.data(), length);
}

std::string seconds_text(std::chrono::milliseconds timeout) {
  return fmt::format("{:.1f} s", static_cast<double>(timeout.count()) / 1000.0);
}

}  // namespace

std::string normalise_fingerprint(std::string_view text) {
  if (text.size() > 7) {
    std::string prefix(text.substr(0, 7));
    std::transform(prefix.begin(), prefix.end(), prefix.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (prefix == "sha256:") text.remove_prefix(7);
  }
  std::string out;
  for (char c : text) {
    if (c == ':') continue;
    const auto u = static_cast<unsigned char>(c);
    if (!std::isxdigit(u)) return {};
    out.push_back(static_cast<char>(std::tolower(u)));
  }
  return out.size() == 64 ? out : std::string{};
}

Transport::Transport(asio::any_io_executor executor, const Account& account)
    : account_(account),
      pin_(normalise_fingerprint(account.fingerprint_sha256)),
      tls_context_(asio::ssl::context::tls_client),
      stream_(std::make_unique<TlsStream>(executor, tls_context_)),
      deadline_(executor) {}

Transport::~Transport() { close(); }

std::string Transport::where() const { return fmt::format("{}:{}", account_.host, account_.port); }

bool Transport::is_open() const noexcept { return stream_->lowest_layer().is_open(); }

void Transport::close() noexcept {
  closed_ = true;
  disarm();
  ++deadline_token_;
  deadline_.cancel();
  error_code ignored;
  stream_->lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  stream_->lowest_layer().close(ignored);
}

// A pipeline reads and writes thousands of times a second, each with its deadline: arming
// sets deadline_at_, and the timer itself moves only when it would fire too late. Firing
// early (the deadline moved on meanwhile) it is set for the rest.
void Transport::arm(std::chrono::milliseconds timeout, const char* step) {
  deadline_at_ = asio::steady_timer::clock_type::now() + timeout;
  deadline_step_ = step;
  armed_ = true;
  if (timer_waiting_ && deadline_.expiry() <= deadline_at_) return;
  start_deadline_timer();
}

void Transport::start_deadline_timer() {
  const auto token = ++deadline_token_;  // a wait this one replaces ignores its completion
  deadline_.expires_at(deadline_at_);
  timer_waiting_ = true;
  deadline_.async_wait([weak = weak_from_this(), token](const error_code& ec) {
    auto self = weak.lock();
    if (!self || self->deadline_token_ != token) return;
    self->timer_waiting_ = false;
    if (ec || !self->armed_) return;
    if (asio::steady_timer::clock_type::now() < self->deadline_at_) return self->start_deadline_timer();
    self->timed_out_step_ = self->deadline_step_;
    error_code ignored;
    self->stream_->lowest_layer().close(ignored);  // fails the pending operation
  });
}

void Transport::disarm() noexcept { armed_ = false; }

Error Transport::io_error(const error_code& ec, const char* step) const {
  if (closed_ && timed_out_step_ == nullptr)
    return Error(Errc::cancelled, fmt::format("connection to {} closed by popfs", where()));
  if (timed_out_step_ != nullptr) {
    const auto timeout = std::string_view(timed_out_step_) == "connecting" ||
                                 std::string_view(timed_out_step_) == "TLS handshake"
                             ? account_.connect_timeout
                             : account_.response_timeout;
    return Error(Errc::timeout, fmt::format("{}: no answer within {} while {}", where(),
                                            seconds_text(timeout), timed_out_step_));
  }
  if (ec == asio::error::connection_refused)
    return Error(Errc::connection_refused,
                 fmt::format("connection to {} refused: is a POP3 server listening on that port?",
                             where()));
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated)
    return Error(Errc::connection, fmt::format("{} closed the connection while {}", where(), step));
  return Error(Errc::connection, fmt::format("{}: {} failed: {}", where(), step, ec.message()));
}

asio::awaitable<Result<void>> Transport::connect() {
  auto self = shared_from_this();
  if (closed_) co_return io_error({}, "starting");
  asio::ip::tcp::resolver resolver(deadline_.get_executor());
  arm(account_.connect_timeout, "connecting");
  const std::string service = std::to_string(account_.port);
  auto [resolve_ec, endpoints] = co_await resolver.async_resolve(account_.host, service, use_nothrow);
  if (resolve_ec) {
    disarm();
    if (timed_out_step_ != nullptr) co_return io_error(resolve_ec, "connecting");
    co_return Error(Errc::host_not_found,
                    fmt::format("cannot resolve host '{}' ({}): check the host name",
                                account_.host, resolve_ec.message()));
  }
  if (closed_) co_return io_error({}, "connecting");
  auto [connect_ec, endpoint] =
      co_await asio::async_connect(stream_->lowest_layer(), endpoints, use_nothrow);
  disarm();
  if (connect_ec || closed_) co_return io_error(connect_ec, "connecting");
  error_code ignored;
  stream_->lowest_layer().set_option(asio::ip::tcp::no_delay(true), ignored);
  co_return Result<void>{};
}

Error Transport::tls_error(const error_code& ec) const {
  if (timed_out_step_ != nullptr) return io_error(ec, "TLS handshake");
  const long verify = SSL_get_verify_result(stream_->native_handle());
  const bool verify_failed = verify != X509_V_OK ||
                             (ec.category() == asio::error::get_ssl_category() &&
                              ERR_GET_REASON(static_cast<unsigned long>(ec.value())) ==
                                  SSL_R_CERTIFICATE_VERIFY_FAILED);
  if (verify_failed || (!pin_.empty() && !leaf_fingerprint_.empty() && leaf_fingerprint_ != pin_)) {
    std::string reason;
    if (!pin_.empty())
      reason = fmt::format("its sha256 fingerprint {} does not match the pinned --fingerprint",
                           leaf_fingerprint_.empty() ? "(unknown)" : leaf_fingerprint_);
    else
      reason = X509_verify_cert_error_string(verify);
    return Error(Errc::tls_untrusted,
                 fmt::format("TLS certificate of {} is not trusted: {}. If you trust this server, "
                             "pass --ca-file FILE with its CA certificate, or pin it with "
                             "--fingerprint sha256:{}",
                             where(), reason,
                             leaf_fingerprint_.empty() ? "HEX" : leaf_fingerprint_));
  }
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated)
    return Error(Errc::connection,
                 fmt::format("{} closed the connection during the TLS handshake", where()));
  return Error(Errc::connection,
               fmt::format("TLS handshake with {} failed: {}", where(), ec.message()));
}

asio::awaitable<Result<void>> Transport::start_tls() {
  auto self = shared_from_this();
  if (closed_) co_return io_error({}, "starting");
  SSL_CTX* ctx = tls_context_.native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  error_code ec;
  if (!account_.ca_file.empty()) {
    tls_context_.load_verify_file(account_.ca_file, ec);
    if (ec)
      co_return Error(Errc::tls_untrusted, fmt::format("cannot load --ca-file '{}': {}",
                                                       account_.ca_file, ec.message()));
  } else {
    tls_context_.set_default_verify_paths(ec);
  }
  if (!account_.fingerprint_sha256.empty() && pin_.empty())
    co_return Error(Errc::invalid_argument,
                    "--fingerprint must be sha256: followed by 64 hexadecimal digits");

  SSL* ssl = stream_->native_handle();
  error_code address_ec;
  (void)asio::ip::make_address(account_.host, address_ec);  // only: is it an IP literal?
  if (address_ec) {
    // SNI only for names (RFC 6066), and the name is what the certificate must carry.
    SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(account_.host.c_str()));  // the macro casts old-style
    if (pin_.empty()) {
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      SSL_set1_host(ssl, account_.host.c_str());
    }
  } else if (pin_.empty()) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), account_.host.c_str());
  }

  stream_->set_verify_mode(asio::ssl::verify_peer);
  // Record the leaf's fingerprint for messages and the pin. With a pin, chain errors are
  // tolerated here and the leaf is judged by its fingerprint alone; without one, OpenSSL's
  // verdict (chain + host name) stands.
  stream_->set_verify_callback([this](bool preverified, asio::ssl::verify_context& vc) {
    X509_STORE_CTX* store = vc.native_handle();
    const int depth = X509_STORE_CTX_get_error_depth(store);
    if (depth == 0) leaf_fingerprint_ = certificate_sha256(X509_STORE_CTX_get_current_cert(store));
    if (pin_.empty()) return preverified;
    if (depth > 0) return true;
    return leaf_fingerprint_ == pin_;
  });

  arm(account_.connect_timeout, "TLS handshake");
  auto [handshake_ec] =
      co_await stream_->async_handshake(asio::ssl::stream_base::client, use_nothrow);
  disarm();
  if (handshake_ec) co_return tls_error(handshake_ec);

  // The verdict that counts is the certificate actually in use, not what a callback saw.
  X509* peer = SSL_get1_peer_certificate(ssl);
  leaf_fingerprint_ = certificate_sha256(peer);
  X509_free(peer);
  if (!pin_.empty() && leaf_fingerprint_ != pin_) {
    close();
    co_return tls_error(error_code{});
  }
  if (pin_.empty() && SSL_get_verify_result(ssl) != X509_V_OK) {
    close();
    co_return tls_error(error_code{});
  }
  tls_active_ = true;
  co_return Result<void>{};
}

asio::awaitable<Result<std::size_t>> Transport::read_some(std::span<char> buffer,
                                                          std::chrono::milliseconds timeout) {
  auto self = shared_from_this();
  if (closed_) co_return io_error({}, "starting");
  arm(timeout, "waiting for the server's answer");
  error_code ec;
  std::size_t n = 0;
  if (tls_active_) {
    std::tie(ec, n) = co_await stream_->async_read_some(asio::buffer(buffer.data(), buffer.size()),
                                                        use_nothrow);
  } else {
    std::tie(ec, n) = co_await stream_->next_layer().async_read_some(
        asio::buffer(buffer.data(), buffer.size()), use_nothrow);
  }
  disarm();
  if (ec) co_return io_error(ec, "reading");
  co_return n;
}

asio::awaitable<Result<void>> Transport::write(std::string_view data,
                                               std::chrono::milliseconds timeout) {
  auto self = shared_from_this();
  if (closed_) co_return io_error({}, "starting");
  arm(timeout, "sending a command");
  error_code ec;
  if (tls_active_) {
    std::tie(ec, std::ignore) =
        co_await asio::async_write(*stream_, asio::buffer(data.data(), data.size()), use_nothrow);
  } else {
    std::tie(ec, std::ignore) = co_await asio::async_write(
        stream_->next_layer(), asio::buffer(data.data(), data.size()), use_nothrow);
  }
  disarm();
  if (ec) co_return io_error(ec, "writing");
  co_return Result<void>{};
}

}  // namespace popfs::net::detail
