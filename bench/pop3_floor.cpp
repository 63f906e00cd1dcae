// bench_pop3_floor: the fastest a POP3 client can be against a server, for scripts/bench-scale
// to set popfs's figures beside. No popfs code: plain sockets (or OpenSSL for pop3s), one
// non-blocking loop that keeps writing commands while it reads answers, so the server always
// has work queued.
//
//   --mode list: greeting, then USER, PASS, UIDL, LIST, QUIT sent at once (a pipelined
//                login and listing: the floor of popfs's mount + first ls)
//   --mode top:  greeting, USER, PASS, STAT sent at once, then TOP k 0 for every k, then
//                QUIT (the floor of a cold ls -l, which needs every header block)
//
// Prints one line of key=value: seconds (from before connect to the answer to QUIT),
// messages, and for list uidl_bytes and list_bytes (the LIST total); for top top_bytes (on
// the wire) and header_hits (header blocks with a line starting with --header-prefix).
// --uidl-file writes the UIDLs, one a line, in server order. Exit status 1 on any error.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

using Clock = std::chrono::steady_clock;

// A non-blocking connection, TLS or not. read/write return bytes moved, 0 for "would block",
// and throw on errors and end of stream.
class Connection {
 public:
  Connection(const std::string& host, std::uint16_t port, const std::string& ca_file, bool tls) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || found == nullptr)
      throw std::runtime_error("cannot resolve " + host);
    fd_ = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool connected = fd_ >= 0 && ::connect(fd_, found->ai_addr, found->ai_addrlen) == 0;
    ::freeaddrinfo(found);
    if (!connected) throw std::runtime_error("cannot connect to " + host + ":" + std::to_string(port) + ": " + std::strerror(errno));
    const int on = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    if (tls) {
      ctx_ = SSL_CTX_new(TLS_client_method());
      if (ctx_ == nullptr || SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr) != 1)
        throw std::runtime_error("cannot load the CA file " + ca_file);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
      ssl_ = SSL_new(ctx_);
      SSL_set_fd(ssl_, fd_);
      in_addr ip4{};
      if (::inet_pton(AF_INET, host.c_str(), &ip4) == 1) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host.c_str());
      } else {
        SSL_set1_host(ssl_, host.c_str());
        // SSL_set_tlsext_host_name, without the macro's old-style cast
        SSL_ctrl(ssl_, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(host.c_str()));
      }
      if (SSL_connect(ssl_) != 1) throw std::runtime_error("TLS handshake failed: " + openssl_error());
      SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    }
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  }
  ~Connection() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  int fd() const { return fd_; }
  bool wants_write() const { return ssl_wants_write_; }

  std::size_t read(char* into, std::size_t size) {
    if (ssl_ != nullptr) {
      const int n = SSL_read(ssl_, into, static_cast<int>(size));
      if (n > 0) return static_cast<std::size_t>(n);
      return would_block(n, "read");
    }
    const ssize_t n = ::recv(fd_, into, size, 0);
    if (n > 0) return static_cast<std::size_t>(n);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
    throw std::runtime_error(n == 0 ? "the server closed the connection" : std::string("recv: ") + std::strerror(errno));
  }
  std::size_t write(const char* bytes, std::size_t size) {
    if (ssl_ != nullptr) {
      const int n = SSL_write(ssl_, bytes, static_cast<int>(std::min<std::size_t>(size, 1 << 20)));
      if (n > 0) return static_cast<std::size_t>(n);
      return would_block(n, "write");
    }
    const ssize_t n = ::send(fd_, bytes, size, MSG_NOSIGNAL);
    if (n > 0) return static_cast<std::size_t>(n);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
    throw std::runtime_error(std::string("send: ") + std::strerror(errno));
  }

 private:
  static std::string openssl_error() {
    char reason[256] = "unknown";
    if (const unsigned long code = ERR_get_error(); code != 0) ERR_error_string_n(code, reason, sizeof reason);
    return reason;
  }
  std::size_t would_block(int result, const char* what) {
    const int error = SSL_get_error(ssl_, result);
    ssl_wants_write_ = error == SSL_ERROR_WANT_WRITE;
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return 0;
    if (error == SSL_ERROR_ZERO_RETURN) throw std::runtime_error("the server closed the TLS session");
    throw std::runtime_error(std::string("TLS ") + what + " failed: " + openssl_error());
  }

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool ssl_wants_write_ = false;
};

enum class Answer { single, multi };
enum class Purpose { greeting, login, stat, uidl, list, top, quit };

struct Expected {
  Answer answer;
  Purpose purpose;
};

struct Options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  bool tls = false;
  std::string ca_file;
  std::string user;
  std::string password_file;
  std::string mode = "list";
  std::string header_prefix;
  std::string uidl_file;
};

class FloorClient {
 public:
  explicit FloorClient(const Options& options) : options_(options) {
    std::ifstream in(options.password_file);
    if (!std::getline(in, password_)) throw std::runtime_error("cannot read " + options.password_file);
    if (!options.uidl_file.empty()) {
      uidls_.open(options.uidl_file, std::ios::trunc);
      if (!uidls_) throw std::runtime_error("cannot write " + options.uidl_file);
    }
  }

  void run() {
    const auto start = Clock::now();
    Connection connection(options_.host, options_.port, options_.ca_file, options_.tls);
    expect(Answer::single, Purpose::greeting);
    char chunk[1 << 16];
    while (!done_) {
      // Write as much as the socket takes, then read everything that arrived.
      while (out_pos_ < out_.size()) {
        const std::size_t n = connection.write(out_.data() + out_pos_, out_.size() - out_pos_);
        if (n == 0) break;
        out_pos_ += n;
        if (out_pos_ == out_.size()) refill();
      }
      bool progress = false;
      while (!done_) {
        const std::size_t n = connection.read(chunk, sizeof chunk);
        if (n == 0) break;
        progress = true;
        in_.append(chunk, n);
        parse();
      }
      if (done_ || progress) continue;
      pollfd p{connection.fd(), POLLIN, 0};
      if (out_pos_ < out_.size() || connection.wants_write()) p.events |= POLLOUT;
      if (::poll(&p, 1, 120'000) <= 0) throw std::runtime_error("no progress for 120 s");
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (options_.mode == "list") {
      std::printf("mode=list seconds=%.3f messages=%zu uidl_bytes=%llu list_bytes=%llu\n", seconds, uidl_lines_,
                  static_cast<unsigned long long>(uidl_bytes_), static_cast<unsigned long long>(list_bytes_));
    } else {
      std::printf("mode=top seconds=%.3f messages=%zu top_bytes=%llu header_hits=%zu\n", seconds, tops_done_,
                  static_cast<unsigned long long>(top_bytes_), header_hits_);
    }
  }

 private:
  void expect(Answer answer, Purpose purpose) { expected_.push_back({answer, purpose}); }
  void send(const std::string& command, Answer answer, Purpose purpose) {
    out_ += command;
    out_ += "\r\n";
    expect(answer, purpose);
  }

  // Queues the next TOP commands, a few hundred KB at a time, then QUIT.
  void refill() {
    if (out_pos_ == out_.size()) {
      out_.clear();
      out_pos_ = 0;
    }
    while (next_top_ <= top_count_ && out_.size() < (256u << 10)) {
      send("TOP " + std::to_string(next_top_++) + " 0", Answer::multi, Purpose::top);
      if (next_top_ > top_count_) send("QUIT", Answer::single, Purpose::quit);
    }
  }

  void parse() {
    while (true) {
      const char* begin = in_.data() + in_pos_;
      const void* found = std::memchr(begin, '\n', in_.size() - in_pos_);
      if (found == nullptr) break;
      const char* end = static_cast<const char*>(found);
      std::string_view line(begin, static_cast<std::size_t>(end - begin));
      in_pos_ += line.size() + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      take(line);
      if (done_) return;
    }
    if (in_pos_ > (1u << 20)) {
      in_.erase(0, in_pos_);
      in_pos_ = 0;
    }
  }

  void take(std::string_view line) {
    if (expected_.empty()) throw std::runtime_error("an answer nobody asked for: " + std::string(line));
    const Expected current = expected_.front();
    if (current.purpose == Purpose::top) top_bytes_ += line.size() + 2;
    if (in_body_) {
      if (line == ".") {
        in_body_ = false;
        expected_.pop_front();
        if (current.purpose == Purpose::top) {
          ++tops_done_;
          header_hits_ += hit_;
          hit_ = false;
        }
        return;
      }
      body_line(current.purpose, line);
      return;
    }
    if (line.substr(0, 3) != "+OK") throw std::runtime_error("the server refused: " + std::string(line));
    if (current.answer == Answer::multi) {
      in_body_ = true;
      return;
    }
    expected_.pop_front();
    switch (current.purpose) {
      case Purpose::greeting: after_greeting(); break;
      case Purpose::stat: after_stat(line); break;
      case Purpose::quit: done_ = true; break;
      default: break;
    }
  }

  void body_line(Purpose purpose, std::string_view line) {
    if (purpose == Purpose::uidl) {
      ++uidl_lines_;
      uidl_bytes_ += line.size() + 2;
      if (uidls_.is_open()) uidls_ << line.substr(line.find(' ') + 1) << '\n';
    } else if (purpose == Purpose::list) {
      const auto space = line.find(' ');
      list_bytes_ += std::stoull(std::string(line.substr(space + 1)));
    } else if (purpose == Purpose::top) {
      if (!options_.header_prefix.empty() && line.substr(0, options_.header_prefix.size()) == options_.header_prefix)
        hit_ = true;
    }
  }

  void after_greeting() {
    send("USER " + options_.user, Answer::single, Purpose::login);
    send("PASS " + password_, Answer::single, Purpose::login);
    if (options_.mode == "list") {
      send("UIDL", Answer::multi, Purpose::uidl);
      send("LIST", Answer::multi, Purpose::list);
      send("QUIT", Answer::single, Purpose::quit);
    } else {
      send("STAT", Answer::single, Purpose::stat);
    }
  }

  void after_stat(std::string_view line) {
    top_count_ = std::stoull(std::string(line.substr(4)));
    next_top_ = 1;
    if (top_count_ == 0) send("QUIT", Answer::single, Purpose::quit);
    refill();
  }

  const Options& options_;
  std::string password_;
  std::ofstream uidls_;
  std::string out_;
  std::size_t out_pos_ = 0;
  std::string in_;
  std::size_t in_pos_ = 0;
  std::deque<Expected> expected_;
  bool in_body_ = false;
  bool done_ = false;
  std::size_t top_count_ = 0, next_top_ = 1, tops_done_ = 0;
  std::size_t uidl_lines_ = 0, header_hits_ = 0;
  bool hit_ = false;
  std::uint64_t uidl_bytes_ = 0, list_bytes_ = 0, top_bytes_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The floor: a pipelining POP3 client (no popfs code), for scripts/bench-scale"};
  Options options;
  app.add_option("--host", options.host, "Server address (default 127.0.0.1)");
  app.add_option("--port", options.port, "Server port")->required();
  app.add_flag("--tls", options.tls, "Implicit TLS (pop3s), verified against --ca-file");
  app.add_option("--ca-file", options.ca_file, "PEM certificates to trust");
  app.add_option("--user", options.user, "User name")->required();
  app.add_option("--password-file", options.password_file, "The password, on the first line")->required();
  app.add_option("--mode", options.mode, "list (login, UIDL, LIST) or top (TOP k 0 for every message)")
      ->check(CLI::IsMember({"list", "top"}));
  app.add_option("--header-prefix", options.header_prefix, "Count header blocks with a line starting so (mode top)");
  app.add_option("--uidl-file", options.uidl_file, "Write the UIDLs there, one a line (mode list)");
  CLI11_PARSE(app, argc, argv);
  try {
    FloorClient(options).run();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_pop3_floor: %s\n", error.what());
    return 1;
  }
  return 0;
}
