#pragma once
// A raw TCP client for poking test servers byte by byte (plaintext only). Every read has a
// deadline; nothing here throws on a closed connection: reads return what arrived.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace popfs::test {

class LineClient {
 public:
  // Connects to host:port; throws std::runtime_error if it cannot.
  LineClient(const std::string& host, std::uint16_t port);
  ~LineClient();
  LineClient(const LineClient&) = delete;
  LineClient& operator=(const LineClient&) = delete;

  void send(std::string_view bytes);           // exactly these bytes
  void send_line(std::string_view line) { send(std::string(line) + "\r\n"); }

  // One line including its CRLF (or LF); nullopt on timeout or if the peer closed first.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // A multi-line response body up to and including ".\r\n" (raw, still dot-stuffed).
  std::optional<std::string> read_multiline(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Everything until the peer closes (or the timeout passes: then nullopt).
  std::optional<std::string> read_until_closed(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // True if nothing at all arrives within the window (and the connection is still open).
  bool silent_for(std::chrono::milliseconds window);
  // Whether the peer has closed (EOF seen while reading).
  bool closed() const { return closed_; }
  int fd() const { return fd_; }

 private:
  // Reads more bytes into buffer_ until the deadline; false on timeout or EOF.
  bool fill(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string buffer_;
  bool closed_ = false;
};

}  // namespace popfs::test
