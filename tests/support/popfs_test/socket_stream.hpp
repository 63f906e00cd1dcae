#pragma once
// A blocking byte stream over a socket, optionally TLS (server side), with line reading:
// the server end of the fake POP3 server and of popfs-generated-server.

#include <openssl/ssl.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace popfs::test {

// A server-side TLS context from PEM files. Throws std::runtime_error on failure.
class TlsServerContext {
 public:
  TlsServerContext(const std::string& cert_file, const std::string& key_file);
  ~TlsServerContext();
  TlsServerContext(const TlsServerContext&) = delete;
  TlsServerContext& operator=(const TlsServerContext&) = delete;
  SSL_CTX* get() const { return ctx_; }

 private:
  SSL_CTX* ctx_ = nullptr;
};

class SocketStream {
 public:
  explicit SocketStream(int fd) : fd_(fd) {}
  ~SocketStream();
  SocketStream(const SocketStream&) = delete;
  SocketStream& operator=(const SocketStream&) = delete;

  // Server-side TLS handshake; drops anything already buffered in plaintext (STLS rule).
  bool start_tls(SSL_CTX* ctx);
  bool tls() const { return ssl_ != nullptr; }

  // A line without its CRLF/LF; nullopt on EOF, error, or a line over max_line bytes.
  std::optional<std::string> read_line(std::size_t max_line = 1 << 20);
  // Whether a whole line has arrived already: a server answers every pipelined command
  // before it writes, so that many answers go out in one write.
  bool line_buffered() const { return buffer_.find('\n') != std::string::npos; }
  bool write(std::string_view bytes);
  // Abrupt close (no TLS close_notify): the peer sees the connection cut.
  void close();

 private:
  bool fill();

  int fd_;
  SSL* ssl_ = nullptr;
  std::string buffer_;
};

}  // namespace popfs::test
