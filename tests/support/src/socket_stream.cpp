#include "popfs_test/socket_stream.hpp"

#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace popfs::test {

TlsServerContext::TlsServerContext(const std::string& cert_file, const std::string& key_file) {
  ctx_ = SSL_CTX_new(TLS_server_method());
  if (ctx_ == nullptr || SSL_CTX_use_certificate_chain_file(ctx_, cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx_, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    char reason[256];
    ERR_error_string_n(ERR_get_error(), reason, sizeof reason);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    throw std::runtime_error(std::string("fake server TLS context: ") + reason);
  }
}

TlsServerContext::~TlsServerContext() { SSL_CTX_free(ctx_); }

SocketStream::~SocketStream() { close(); }

bool SocketStream::start_tls(SSL_CTX* ctx) {
  buffer_.clear();
  ssl_ = SSL_new(ctx);
  if (ssl_ == nullptr) return false;
  SSL_set_fd(ssl_, fd_);
  if (SSL_accept(ssl_) != 1) {
    ERR_clear_error();
    return false;
  }
  return true;
}

bool SocketStream::fill() {
  char chunk[16384];
  while (true) {
    if (ssl_ != nullptr) {
      const int n = SSL_read(ssl_, chunk, sizeof chunk);
      if (n <= 0) {
        ERR_clear_error();
        return false;
      }
      buffer_.append(chunk, static_cast<std::size_t>(n));
      return true;
    }
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }
}

std::optional<std::string> SocketStream::read_line(std::size_t max_line) {
  while (true) {
    const auto end = buffer_.find('\n');
    if (end != std::string::npos) {
      std::string line = buffer_.substr(0, end);
      buffer_.erase(0, end + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    if (buffer_.size() > max_line || fd_ < 0 || !fill()) return std::nullopt;
  }
}

bool SocketStream::write(std::string_view bytes) {
  while (!bytes.empty() && fd_ >= 0) {
    if (ssl_ != nullptr) {
      const int chunk = static_cast<int>(std::min<std::size_t>(bytes.size(), 1 << 20));
      const int n = SSL_write(ssl_, bytes.data(), chunk);
      if (n <= 0) {
        ERR_clear_error();
        return false;
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    } else {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  return fd_ >= 0;
}

void SocketStream::close() {
  if (ssl_ != nullptr) {
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

}  // namespace popfs::test
