// popfs-generated-server: a small, fast POP3 server for scale benchmarks. It serves N
// messages of the scale mailbox (tests/support/popfs_test/scale_mailbox.hpp), each computed
// on the fly from (seed, index), so a million-message maildrop costs no files and no
// indexing: only an array of sizes, computed at start.
//
// Implicit TLS (pop3s, a self-signed certificate in --dir) by default, or --plaintext (a
// pop3:// URL; popfs then needs --insecure-plaintext). CAPA announces TOP, UIDL, USER,
// PIPELINING, RESP-CODES; commands: USER, PASS, CAPA, STAT, LIST, UIDL, TOP, RETR, DELE, NOOP,
// RSET, QUIT. Pipelined commands are answered in order, many answers per write. DELE takes
// effect at QUIT, for later sessions of this server's life (nothing is stored).
// UIDLs look like Dovecot's: 8 hex digits of the index + 1, then a fixed "validity".
//
// Once it accepts connections it writes DIR/server.env (POP3S_PORT or POP3_PORT, CA_FILE,
// MAIL_USER, PASSWORD_FILE, SERVER_LOG, MESSAGE_COUNT, WIRE_BYTES) and runs until SIGINT or
// SIGTERM. SERVER_LOG gets a line per login and per session end, in the form the Dovecot
// fixture configures ("popfs-session: top=... retr=..."), so scripts read both alike.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "popfs_test/scale_mailbox.hpp"
#include "popfs_test/socket_stream.hpp"
#include "popfs_test/tls_cert.hpp"

namespace {

using popfs::test::scale_message;
using popfs::test::scale_message_header;

// The maildrop: sizes of every message, and which are still there (DELE at QUIT removes).
class Maildrop {
 public:
  Maildrop(std::uint64_t seed, std::size_t count) : seed_(seed), sizes_(count) {
    const unsigned workers = std::max(1u, std::thread::hardware_concurrency());
    std::vector<std::thread> threads;
    for (unsigned w = 0; w < workers; ++w) {
      threads.emplace_back([this, w, workers, count] {
        for (std::size_t i = w; i < count; i += workers)
          sizes_[i] = static_cast<std::uint32_t>(popfs::test::scale_message_sizes(seed_, i).crlf);
      });
    }
    for (auto& thread : threads) thread.join();
    auto live = std::make_shared<std::vector<std::uint32_t>>(count);
    for (std::size_t i = 0; i < count; ++i) (*live)[i] = static_cast<std::uint32_t>(i);
    live_ = std::move(live);
  }

  std::uint64_t seed() const { return seed_; }
  std::uint32_t size(std::uint32_t index) const { return sizes_[index]; }
  std::uint64_t total_bytes() const {
    std::uint64_t total = 0;
    for (const auto size : sizes_) total += size;
    return total;
  }
  std::shared_ptr<const std::vector<std::uint32_t>> snapshot() const {
    std::lock_guard lock(mutex_);
    return live_;
  }
  void remove(const std::vector<std::uint32_t>& indexes) {
    if (indexes.empty()) return;
    std::lock_guard lock(mutex_);
    auto next = std::make_shared<std::vector<std::uint32_t>>();
    next->reserve(live_->size());
    std::vector<std::uint32_t> sorted = indexes;
    std::sort(sorted.begin(), sorted.end());
    for (const auto index : *live_)
      if (!std::binary_search(sorted.begin(), sorted.end(), index)) next->push_back(index);
    live_ = std::move(next);
  }

 private:
  std::uint64_t seed_;
  std::vector<std::uint32_t> sizes_;  // CRLF size by index
  mutable std::mutex mutex_;
  std::shared_ptr<const std::vector<std::uint32_t>> live_;
};

class Log {
 public:
  explicit Log(const std::string& path) : out_(path, std::ios::app) {}
  void line(const std::string& text) {
    std::lock_guard lock(mutex_);
    out_ << text << '\n';
    out_.flush();
  }

 private:
  std::mutex mutex_;
  std::ofstream out_;
};

struct Config {
  std::string user = "alice";
  std::string password = "demo password";
  SSL_CTX* tls = nullptr;  // null: plaintext
};

// Appends `text` (LF lines) to `out` as POP3 multi-line data: CRLF, dot-stuffed. At most
// `max_lines` lines when given.
void append_stuffed(std::string& out, std::string_view text, std::optional<std::size_t> max_lines = std::nullopt) {
  std::size_t lines = 0;
  while (!text.empty() && (!max_lines || lines < *max_lines)) {
    const auto end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    if (!line.empty() && line[0] == '.') out += '.';
    out.append(line);
    out += "\r\n";
    ++lines;
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
}

std::string uidl_of(std::uint32_t index) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%08x5ca1ab1e", index + 1);
  return buffer;
}

std::optional<std::uint64_t> number(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

class Session {
 public:
  Session(Maildrop& maildrop, const Config& config, Log& log, popfs::test::SocketStream& stream)
      : maildrop_(maildrop), config_(config), log_(log), stream_(stream) {}

  void run() {
    out_ = "+OK popfs-generated-server ready.\r\n";
    bool open = stream_.write(out_);
    out_.clear();
    while (open && !quit_) {
      // No POP3 command is that long.
      const auto line = stream_.read_line(4096);
      if (!line) break;
      answer(*line);
      // Answer every complete command now buffered, then write the answers at once.
      if (out_.size() >= (1u << 20) || quit_ || !stream_.line_buffered()) {
        open = stream_.write(out_);
        out_.clear();
      }
    }
    if (logged_in_) {
      log_.line(std::string("pop3(") + config_.user + "): Info: " +
                (quit_ ? "Logged out" : "Disconnected: Connection closed") +
                " popfs-session: top=" + std::to_string(top_) + " retr=" + std::to_string(retr_) +
                " dele=" + std::to_string(quit_ ? deleted_count_ : 0) + " messages=" +
                std::to_string(messages_ ? messages_->size() : 0) + " top_bytes=" +
                std::to_string(top_bytes_) + " retr_bytes=" + std::to_string(retr_bytes_) +
                " uidl_all=" + std::to_string(uidl_all_) + " list_all=" + std::to_string(list_all_));
    }
  }

 private:
  void ok(std::string_view text = {}) {
    out_ += "+OK";
    if (!text.empty()) (out_ += ' ').append(text);
    out_ += "\r\n";
  }
  void err(std::string_view text) { (out_ += "-ERR ").append(text) += "\r\n"; }

  // The message numbered `text` in this session (1-based, not deleted), as an index.
  std::optional<std::uint32_t> message(std::string_view text) {
    const auto n = number(text);
    if (!n || *n == 0 || *n > messages_->size()) {
      err("There's no message " + std::string(text) + ".");
      return std::nullopt;
    }
    if (deleted_[*n - 1]) {
      err("Message is deleted.");
      return std::nullopt;
    }
    return (*messages_)[*n - 1];
  }

  void capabilities() {
    ok("");
    out_ += "CAPA\r\nTOP\r\nUIDL\r\nUSER\r\nPIPELINING\r\nRESP-CODES\r\n"
            "IMPLEMENTATION popfs-generated-server\r\n.\r\n";
  }

  void answer(std::string_view line) {
    const auto space = line.find(' ');
    std::string verb(line.substr(0, space));
    for (auto& c : verb) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
    std::vector<std::string_view> args;
    for (std::string_view rest = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
         !rest.empty();) {
      const auto next = rest.find(' ');
      if (next != 0) args.push_back(rest.substr(0, next));
      if (next == std::string_view::npos) break;
      rest.remove_prefix(next + 1);
    }
    if (verb == "CAPA") return capabilities();
    if (verb == "QUIT") return quit();
    if (verb == "NOOP") return ok();
    if (!logged_in_) {
      // The password may contain spaces: everything after "PASS ".
      return authorization(verb, args, space == std::string_view::npos ? std::string_view() : line.substr(space + 1));
    }
    if (verb == "STAT") return stat();
    if (verb == "LIST") return list(args);
    if (verb == "UIDL") return uidl(args);
    if (verb == "TOP" && args.size() == 2) return top(args[0], args[1]);
    if (verb == "RETR" && args.size() == 1) return retr(args[0]);
    if (verb == "DELE" && args.size() == 1) return dele(args[0]);
    if (verb == "RSET") {
      std::fill(deleted_.begin(), deleted_.end(), false);
      deleted_count_ = 0;
      return ok();
    }
    err("Unknown command.");
  }

  void authorization(const std::string& verb, const std::vector<std::string_view>& args,
                     std::string_view password) {
    if (verb == "USER" && args.size() == 1) {
      user_ = std::string(args[0]);
      return ok();
    }
    if (verb == "PASS" && !user_.empty()) {
      if (user_ != config_.user || password != config_.password) {
        user_.clear();
        return err("[AUTH] Authentication failed.");
      }
      logged_in_ = true;
      messages_ = maildrop_.snapshot();
      deleted_.assign(messages_->size(), false);
      log_.line("pop3-login: Info: Login: user=<" + config_.user + ">, method=PLAIN");
      return ok("Logged in.");
    }
    err("[AUTH] Log in first (USER, PASS).");
  }

  void stat() {
    std::uint64_t bytes = 0;
    std::size_t count = 0;
    for (std::size_t n = 0; n < messages_->size(); ++n) {
      if (deleted_[n]) continue;
      ++count;
      bytes += maildrop_.size((*messages_)[n]);
    }
    ok(std::to_string(count) + " " + std::to_string(bytes));
  }

  void list(const std::vector<std::string_view>& args) {
    if (!args.empty()) {
      const auto index = message(args[0]);
      if (index) ok(std::string(args[0]) + " " + std::to_string(maildrop_.size(*index)));
      return;
    }
    ok();
    ++list_all_;
    char buffer[48];
    for (std::size_t n = 0; n < messages_->size(); ++n) {
      if (deleted_[n]) continue;
      const int length = std::snprintf(buffer, sizeof buffer, "%zu %u\r\n", n + 1, maildrop_.size((*messages_)[n]));
      out_.append(buffer, static_cast<std::size_t>(length));
      flush_if_big();
    }
    out_ += ".\r\n";
  }

  void uidl(const std::vector<std::string_view>& args) {
    if (!args.empty()) {
      const auto index = message(args[0]);
      if (index) ok(std::string(args[0]) + " " + uidl_of(*index));
      return;
    }
    ok();
    ++uidl_all_;
    for (std::size_t n = 0; n < messages_->size(); ++n) {
      if (deleted_[n]) continue;
      ((out_ += std::to_string(n + 1)) += ' ') += uidl_of((*messages_)[n]);
      out_ += "\r\n";
      flush_if_big();
    }
    out_ += ".\r\n";
  }

  void top(std::string_view which, std::string_view lines_text) {
    const auto lines = number(lines_text);
    if (!lines) return err("Invalid number of lines.");
    const auto index = message(which);
    if (!index) return;
    const std::size_t before = out_.size();
    ok();
    if (*lines == 0) {
      append_stuffed(out_, scale_message_header(maildrop_.seed(), *index));
      out_ += "\r\n";
    } else {
      const auto m = scale_message(maildrop_.seed(), *index);
      append_stuffed(out_, m.header);
      out_ += "\r\n";
      append_stuffed(out_, m.body, *lines);
    }
    out_ += ".\r\n";
    ++top_;
    top_bytes_ += out_.size() - before;
  }

  void retr(std::string_view which) {
    const auto index = message(which);
    if (!index) return;
    const std::size_t before = out_.size();
    ok(std::to_string(maildrop_.size(*index)) + " octets");
    const auto m = scale_message(maildrop_.seed(), *index);
    append_stuffed(out_, m.header);
    out_ += "\r\n";
    append_stuffed(out_, m.body);
    out_ += ".\r\n";
    ++retr_;
    retr_bytes_ += out_.size() - before;
  }

  void dele(std::string_view which) {
    const auto index = message(which);
    if (!index) return;
    deleted_[*number(which) - 1] = true;
    ++deleted_count_;
    ok("Marked to be deleted.");
  }

  void quit() {
    if (logged_in_) {
      std::vector<std::uint32_t> gone;
      for (std::size_t n = 0; n < deleted_.size(); ++n)
        if (deleted_[n]) gone.push_back((*messages_)[n]);
      maildrop_.remove(gone);
    }
    ok("Logging out.");
    quit_ = true;
  }

  // Long listings go out while they are built (a 1M-line UIDL is ~25 MB).
  void flush_if_big() {
    if (out_.size() < (1u << 20)) return;
    stream_.write(out_);
    out_.clear();
  }

  Maildrop& maildrop_;
  const Config& config_;
  Log& log_;
  popfs::test::SocketStream& stream_;
  std::string out_;
  std::string user_;
  bool logged_in_ = false;
  bool quit_ = false;
  std::shared_ptr<const std::vector<std::uint32_t>> messages_;
  std::vector<bool> deleted_;
  std::size_t deleted_count_ = 0;
  std::size_t top_ = 0, retr_ = 0;
  std::size_t uidl_all_ = 0, list_all_ = 0;  // whole-maildrop listings (costly at 1M)
  std::uint64_t top_bytes_ = 0, retr_bytes_ = 0;
};

int listen_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd, 64) != 0)
    throw std::runtime_error(std::string("bind/listen on 127.0.0.1: ") + std::strerror(errno));
  return fd;
}

std::uint16_t bound_port(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  return ntohs(address.sin_port);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Serve N generated messages over POP3 (scale benchmarks)"};
  std::string dir;
  std::size_t count = 1000;
  std::uint64_t seed = 1;
  std::uint16_t port = 0;
  bool plaintext = false;
  Config config;
  app.add_option("--dir", dir, "Where to write server.env, the password file, the certificate, the log")->required();
  app.add_option("--messages", count, "How many messages the maildrop holds")->check(CLI::Range(0, 100'000'000));
  app.add_option("--seed", seed, "Scale mailbox seed (the same as popfs-corpus --scale --seed)");
  app.add_option("--port", port, "Port on 127.0.0.1 (default: a free one)");
  app.add_flag("--plaintext", plaintext, "No TLS (clients need pop3:// and, for popfs, --insecure-plaintext)");
  app.add_option("--user", config.user, "User name (default alice)");
  CLI11_PARSE(app, argc, argv);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  try {
    std::filesystem::create_directories(dir);
    std::string ca_file;
    std::unique_ptr<popfs::test::TlsServerContext> tls;
    if (!plaintext) {
      const auto certificate = popfs::test::make_self_signed_certificate(std::filesystem::path(dir) / "tls");
      tls = std::make_unique<popfs::test::TlsServerContext>(certificate.cert.string(), certificate.key.string());
      ca_file = certificate.cert.string();
      config.tls = tls->get();
    }
    const auto started = std::chrono::steady_clock::now();
    Maildrop maildrop(seed, count);
    const double sizing = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    Log log(dir + "/server.log");
    const int listener = listen_loopback(port);

    std::thread([&] {
      while (true) {
        const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
          if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE) continue;
          return;
        }
        const int on = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        std::thread([&maildrop, &config, &log, fd] {
          popfs::test::SocketStream stream(fd);
          if (config.tls != nullptr && !stream.start_tls(config.tls)) return;
          Session(maildrop, config, log, stream).run();
        }).detach();
      }
    }).detach();

    const std::string password_file = dir + "/password";
    {
      std::ofstream out(password_file, std::ios::trunc);
      out << config.password << '\n';
    }
    ::chmod(password_file.c_str(), 0600);
    const std::string env_file = dir + "/server.env";
    {
      std::ofstream out(env_file + ".tmp", std::ios::trunc);
      out << (plaintext ? "POP3_PORT=" : "POP3S_PORT=") << bound_port(listener) << '\n'
          << "CA_FILE=" << ca_file << '\n'
          << "MAIL_USER=" << config.user << '\n'
          << "PASSWORD_FILE=" << password_file << '\n'
          << "SERVER_LOG=" << dir << "/server.log\n"
          << "MESSAGE_COUNT=" << count << '\n'
          << "WIRE_BYTES=" << maildrop.total_bytes() << '\n';
    }
    std::filesystem::rename(env_file + ".tmp", env_file);
    std::printf("popfs-generated-server: %s on 127.0.0.1:%u with %zu messages (sizes computed in %.1f s)\n",
                plaintext ? "pop3" : "pop3s", static_cast<unsigned>(bound_port(listener)), count, sizing);
    std::fflush(stdout);
    int received = 0;
    sigwait(&signals, &received);
    // Sessions may still run on detached threads that use the maildrop: leave without
    // destroying anything (every log line is already flushed).
    std::_Exit(0);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "popfs-generated-server: %s\n", error.what());
    return 1;
  }
  return 0;
}
