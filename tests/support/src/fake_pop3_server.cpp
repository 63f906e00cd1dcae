#include "popfs_test/fake_pop3_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <list>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "popfs_test/corpus.hpp"
#include "popfs_test/process.hpp"
#include "popfs_test/temp_dir.hpp"
#include "popfs_test/tls_cert.hpp"
#include "popfs_test/socket_stream.hpp"

namespace popfs::test {

struct FakePop3Server::State {
  mutable std::mutex mutex;
  FakePop3Options options;
  struct Stored {
    std::uint64_t id;
    FakeMessage message;
  };
  std::vector<Stored> mailbox;
  std::uint64_t next_id = 1;
  std::vector<std::string> deleted;
  std::vector<std::vector<std::string>> commands;  // per session
  std::map<std::size_t, int> open_fds;             // session -> socket, for shutdown
  bool stopping = false;
  std::condition_variable stop_requested;          // ends the sessions' pauses

  std::unique_ptr<TempDir> tls_dir;
  std::unique_ptr<TlsServerContext> tls;
  std::string ca_file;
  int listen_fd = -1;
  int wake_fd = -1;
  std::uint16_t port = 0;
  std::thread acceptor;
  std::list<std::thread> sessions;

  void record(std::size_t session, const std::string& line) {
    std::lock_guard lock(mutex);
    commands[session].push_back(line);
  }
};

namespace {

using State = FakePop3Server::State;

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
  return s;
}

std::vector<std::string> split_words(const std::string& line) {
  std::vector<std::string> words;
  std::size_t at = 0;
  while (at < line.size()) {
    const auto end = line.find(' ', at);
    const auto word = line.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (!word.empty()) words.push_back(word);
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return words;
}

std::optional<std::string> base64_decode(const std::string& text) {
  std::string out;
  std::uint32_t accumulator = 0;
  int bits = 0;
  for (char c : text) {
    int value;
    if (c >= 'A' && c <= 'Z') value = c - 'A';
    else if (c >= 'a' && c <= 'z') value = c - 'a' + 26;
    else if (c >= '0' && c <= '9') value = c - '0' + 52;
    else if (c == '+') value = 62;
    else if (c == '/') value = 63;
    else if (c == '=') break;
    else return std::nullopt;
    accumulator = (accumulator << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((accumulator >> bits) & 0xFF);
    }
  }
  return out;
}

// Content as it goes on the wire, before dot-stuffing: CRLF (or LF) endings, final newline.
std::string wire_content(const std::string& content, bool bare_lf) {
  std::string text;
  if (bare_lf) {
    text = content;
    if (!text.empty() && text.back() != '\n') text += '\n';
  } else {
    text = to_crlf(content);
    if (!text.empty() && text.back() != '\n') text += "\r\n";
  }
  return text;
}

std::string dot_stuffed_body(const std::string& wire) {
  std::string out;
  out.reserve(wire.size() + 64);
  bool line_start = true;
  for (char c : wire) {
    if (line_start && c == '.') out += '.';
    out += c;
    line_start = c == '\n';
  }
  return out + ".\r\n";
}

// The header block and the first `lines` body lines, in wire form.
std::string top_of(const std::string& wire, std::size_t lines) {
  std::size_t at = 0;
  bool in_body = false;
  while (at < wire.size()) {
    const auto end = wire.find('\n', at);
    const auto next = end == std::string::npos ? wire.size() : end + 1;
    const std::string_view line(wire.data() + at, next - at);
    if (in_body) {
      if (lines == 0) break;
      --lines;
    } else if (line == "\r\n" || line == "\n") {
      in_body = true;
    }
    at = next;
  }
  return wire.substr(0, at);
}

class Session {
 public:
  Session(State& state, std::size_t number, int fd)
      : state_(state), number_(number), stream_(fd) {
    std::lock_guard lock(state_.mutex);
    options_ = state_.options;
    auto& left = state_.options.fault_sessions;
    if (left && *left > 0) {
      --*left;
    } else if (left) {
      options_.drop_after_bytes.reset();
      options_.stall_before.clear();
      options_.stall_after.clear();
      options_.raw_responses.clear();
      options_.auth_result = FakeAuthResult::ok;
      options_.trickle_on_command.clear();
      options_.delay_before.clear();
    }
  }

  void run() {
    try {
      serve();
    } catch (const std::exception&) {
      // A bug or odd input must end this session, not the whole test process.
    }
    finish();
  }

 private:
  void serve() {
    if (options_.tls == FakeTls::implicit && !stream_.start_tls(state_.tls->get())) return;
    if (options_.drop_on_command.empty()) budget_ = options_.drop_after_bytes;
    if (upper(options_.stall_before) == "GREETING") return stall();
    if (!send(options_.greeting + "\r\n")) return;
    while (auto line = stream_.read_line()) {
      state_.record(number_, *line);
      if (!handle(*line)) break;
    }
  }

  // One command; false when the session is over.
  bool handle(const std::string& line) {
    const auto words = split_words(line);
    const std::string verb = words.empty() ? std::string() : upper(words[0]);
    if (!budget_ && matches(options_.drop_on_command, line, verb)) budget_ = options_.drop_after_bytes;
    if (matches(options_.stall_before, line, verb)) return stall(), false;
    if (!trickling_ && matches(options_.trickle_on_command, line, verb)) trickling_ = true;
    if (!delayed_ && matches(options_.delay_before, line, verb)) {
      delayed_ = true;
      if (!pause(options_.answer_delay)) return false;
    }
    bool keep_going = true;
    if (const auto raw = raw_response(line, verb)) {
      keep_going = send(*raw) && verb != "QUIT";
    } else if (options_.disabled_commands.count(verb) != 0) {
      keep_going = send("-ERR unknown command\r\n");
    } else {
      keep_going = dispatch(verb, words, line);
    }
    if (keep_going && matches(options_.stall_after, line, verb)) {
      return stall(), false;
    }
    return keep_going;
  }

  // A knob naming a command: the exact line, or its verb in any case.
  static bool matches(const std::string& spec, const std::string& line, const std::string& verb) {
    return !spec.empty() && (spec == line || upper(spec) == verb);
  }

  std::optional<std::string> raw_response(const std::string& line, const std::string& verb) const {
    auto found = options_.raw_responses.find(line);
    if (found == options_.raw_responses.end()) found = options_.raw_responses.find(verb);
    if (found == options_.raw_responses.end()) return std::nullopt;
    return found->second;
  }

  bool dispatch(const std::string& verb, const std::vector<std::string>& words, const std::string& line) {
    if (verb == "QUIT") return quit();
    if (verb == "CAPA") return capa();
    if (verb == "NOOP") return send("+OK\r\n");
    if (!logged_in_) {
      if (verb == "STLS") return stls();
      if (verb == "USER") {
        user_ = words.size() > 1 ? words[1] : "";
        if (refuse_plaintext()) return send("-ERR [AUTH] Plaintext authentication disallowed\r\n");
        return send("+OK\r\n");
      }
      if (verb == "PASS") return login(user_, line.size() > 5 ? line.substr(5) : std::string());
      if (verb == "AUTH") return auth(words);
      return send("-ERR not logged in\r\n");
    }
    if (verb == "STAT") {
      std::size_t count = 0;
      std::size_t total = 0;
      for (std::size_t i = 0; i < snapshot_.size(); ++i) {
        if (!deleted_[i]) ++count, total += list_size(i);
      }
      return send("+OK " + std::to_string(count) + " " + std::to_string(total) + "\r\n");
    }
    if (verb == "LIST" || verb == "UIDL") {
      const bool uidl = verb == "UIDL";
      auto value = [&](std::size_t i) {
        return uidl ? snapshot_[i].message.uidl : std::to_string(list_size(i));
      };
      if (words.size() > 1) {
        const auto i = message_index(words[1]);
        if (!i) return send("-ERR no such message\r\n");
        return send("+OK " + words[1] + " " + value(*i) + "\r\n");
      }
      std::string out = "+OK\r\n";
      for (std::size_t i = 0; i < snapshot_.size(); ++i) {
        if (!deleted_[i]) out += std::to_string(i + 1) + " " + value(i) + "\r\n";
      }
      return send(out + ".\r\n");
    }
    if (verb == "RETR" || verb == "TOP") {
      const auto i = words.size() > 1 ? message_index(words[1]) : std::nullopt;
      if (!i) return send("-ERR no such message\r\n");
      const auto lines = verb == "TOP" && words.size() > 2 ? number(words[2]) : std::nullopt;
      if (verb == "TOP" && !lines) return send("-ERR invalid TOP arguments\r\n");
      std::string wire = wire_content(snapshot_[*i].message.content, options_.send_bare_lf);
      if (verb == "TOP") wire = top_of(wire, *lines);
      return send("+OK " + std::to_string(list_size(*i)) + " octets\r\n" + dot_stuffed_body(wire));
    }
    if (verb == "DELE") {
      const auto i = words.size() > 1 ? message_index(words[1]) : std::nullopt;
      if (!i) return send("-ERR no such message\r\n");
      deleted_[*i] = true;
      return send("+OK marked\r\n");
    }
    if (verb == "RSET") {
      std::fill(deleted_.begin(), deleted_.end(), false);
      return send("+OK\r\n");
    }
    return send("-ERR unknown command\r\n");
  }

  bool refuse_plaintext() const { return options_.require_tls_for_login && !stream_.tls(); }

  bool login(const std::string& user, const std::string& password) {
    if (refuse_plaintext()) return send("-ERR [AUTH] Plaintext authentication disallowed\r\n");
    switch (options_.auth_result) {
      case FakeAuthResult::in_use: return send("-ERR [IN-USE] Mailbox is locked by another session\r\n");
      case FakeAuthResult::login_delay: return send("-ERR [LOGIN-DELAY] Logged in too recently\r\n");
      case FakeAuthResult::sys_temp: return send("-ERR [SYS/TEMP] Temporary server failure\r\n");
      case FakeAuthResult::sys_perm: return send("-ERR [SYS/PERM] Permanent server failure\r\n");
      case FakeAuthResult::wrong_password: return send("-ERR [AUTH] Authentication failed\r\n");
      case FakeAuthResult::ok: break;
    }
    if (user != options_.user || password != options_.password) {
      return send("-ERR [AUTH] Authentication failed\r\n");
    }
    {
      std::lock_guard lock(state_.mutex);
      snapshot_ = state_.mailbox;
    }
    deleted_.assign(snapshot_.size(), false);
    sizes_.clear();
    for (const auto& stored : snapshot_) {
      sizes_.push_back(stored.message.list_size.value_or(
          wire_content(stored.message.content, options_.send_bare_lf).size()));
    }
    logged_in_ = true;
    return send("+OK Logged in\r\n");
  }

  bool auth(const std::vector<std::string>& words) {
    if (words.size() < 2) return send("+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n");
    const std::string mechanism = upper(words[1]);
    auto next_line = [&]() -> std::optional<std::string> {
      auto line = stream_.read_line();
      if (line) state_.record(number_, *line);
      return line;
    };
    if (mechanism == "PLAIN") {
      std::string encoded;
      if (words.size() > 2) {
        encoded = words[2];
      } else {
        if (!send("+ \r\n")) return false;
        auto line = next_line();
        if (!line) return false;
        encoded = *line;
      }
      if (encoded == "*") return send("-ERR authentication cancelled\r\n");
      const auto decoded = base64_decode(encoded);
      const auto first = decoded ? decoded->find('\0') : std::string::npos;
      const auto second = first == std::string::npos ? first : decoded->find('\0', first + 1);
      if (second == std::string::npos) return send("-ERR invalid AUTH PLAIN data\r\n");
      return login(decoded->substr(first + 1, second - first - 1), decoded->substr(second + 1));
    }
    if (mechanism == "LOGIN") {
      if (!send("+ VXNlcm5hbWU6\r\n")) return false;  // "Username:"
      auto user = next_line();
      if (!user || !send("+ UGFzc3dvcmQ6\r\n")) return false;  // "Password:"
      auto password = next_line();
      if (!password) return false;
      const auto u = base64_decode(*user);
      const auto p = base64_decode(*password);
      if (!u || !p) return send("-ERR invalid AUTH LOGIN data\r\n");
      return login(*u, *p);
    }
    return send("-ERR unsupported mechanism\r\n");
  }

  bool capa() {
    std::string out = "+OK Capability list follows\r\n";
    for (const auto& capability : options_.capabilities) out += capability + "\r\n";
    if (options_.tls == FakeTls::stls && options_.advertise_stls && !stream_.tls()) out += "STLS\r\n";
    return send(out + ".\r\n");
  }

  bool stls() {
    if (options_.tls != FakeTls::stls || stream_.tls()) return send("-ERR STLS not available\r\n");
    if (!send("+OK Begin TLS negotiation\r\n")) return false;
    return stream_.start_tls(state_.tls->get());
  }

  bool quit() {
    if (logged_in_) {
      std::lock_guard lock(state_.mutex);
      for (std::size_t i = 0; i < snapshot_.size(); ++i) {
        if (!deleted_[i]) continue;
        const auto id = snapshot_[i].id;
        auto& mailbox = state_.mailbox;
        const auto found = std::find_if(mailbox.begin(), mailbox.end(),
                                        [&](const State::Stored& s) { return s.id == id; });
        if (found != mailbox.end()) {
          state_.deleted.push_back(found->message.uidl);
          mailbox.erase(found);
        }
      }
    }
    send("+OK Bye\r\n");
    return false;
  }

  static std::optional<std::size_t> number(const std::string& word) {
    if (word.empty() || word.find_first_not_of("0123456789") != std::string::npos || word.size() > 9) {
      return std::nullopt;
    }
    return static_cast<std::size_t>(std::stoul(word));
  }

  std::optional<std::size_t> message_index(const std::string& word) const {
    const auto n = number(word);
    if (!n || *n == 0 || *n > snapshot_.size() || deleted_[*n - 1]) return std::nullopt;
    return *n - 1;
  }

  std::size_t list_size(std::size_t i) const { return sizes_[i]; }

  // Sends within the drop budget; false (and the connection cut) once it is spent.
  bool send(const std::string& bytes) {
    if (!budget_) return emit(bytes);
    const std::size_t allowed = std::min(*budget_, bytes.size());
    const bool all = emit(std::string_view(bytes).substr(0, allowed)) && allowed == bytes.size();
    *budget_ -= allowed;
    if (!all || *budget_ == 0) {
      cut();
      return false;
    }
    return true;
  }

  // Writes, paced when trickling.
  bool emit(std::string_view bytes) {
    if (!trickling_) return stream_.write(bytes);
    const std::size_t piece = std::max<std::size_t>(options_.trickle_bytes, 1);
    while (!bytes.empty()) {
      if (!pause(options_.trickle_interval)) return false;
      const auto part = bytes.substr(0, piece);
      if (!stream_.write(part)) return false;
      bytes.remove_prefix(part.size());
    }
    return true;
  }

  // Waits, unless the server is being destroyed (then false).
  bool pause(std::chrono::milliseconds duration) {
    std::unique_lock lock(state_.mutex);
    return !state_.stop_requested.wait_for(lock, duration, [&] { return state_.stopping; });
  }

  // Reads and records what the client sends, never answering, until it hangs up.
  void stall() {
    while (auto line = stream_.read_line()) state_.record(number_, *line);
    finish();
  }

  void cut() {
    {
      std::lock_guard lock(state_.mutex);
      state_.open_fds.erase(number_);
    }
    stream_.close();
  }

  void finish() { cut(); }

  State& state_;
  std::size_t number_;
  SocketStream stream_;
  FakePop3Options options_;
  std::optional<std::size_t> budget_;
  bool trickling_ = false;
  bool delayed_ = false;
  bool logged_in_ = false;
  std::string user_;
  std::vector<State::Stored> snapshot_;
  std::vector<bool> deleted_;
  std::vector<std::size_t> sizes_;  // what LIST and STAT report, per snapshot message
};

void accept_loop(State& state) {
  while (true) {
    pollfd fds[2] = {{state.listen_fd, POLLIN, 0}, {state.wake_fd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if ((fds[1].revents & POLLIN) != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int fd = ::accept4(state.listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard lock(state.mutex);
    if (state.stopping) {
      ::close(fd);
      return;
    }
    const std::size_t number = state.commands.size();
    state.commands.emplace_back();
    state.open_fds[number] = fd;
    state.sessions.emplace_back([&state, number, fd] {
      // A write to a closed TLS socket must fail with EPIPE, not kill the test.
      sigset_t pipe;
      sigemptyset(&pipe);
      sigaddset(&pipe, SIGPIPE);
      pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
      Session(state, number, fd).run();
    });
  }
}

}  // namespace

FakePop3Server::FakePop3Server(FakePop3Options options) : state_(std::make_shared<State>()) {
  State& state = *state_;
  for (auto& message : options.mailbox) state.mailbox.push_back({state.next_id++, std::move(message)});
  options.mailbox.clear();
  state.options = std::move(options);
  if (state.options.tls != FakeTls::none) {
    state.tls_dir = std::make_unique<TempDir>("popfs-fake-tls-");
    const auto certificate = make_self_signed_certificate(state.tls_dir->path());
    state.ca_file = certificate.cert.string();
    state.tls = std::make_unique<TlsServerContext>(certificate.cert.string(), certificate.key.string());
  }
  state.listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (state.listen_fd < 0 || ::bind(state.listen_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(state.listen_fd, 64) != 0 ||
      ::getsockname(state.listen_fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const std::string reason = std::strerror(errno);
    if (state.listen_fd >= 0) ::close(state.listen_fd);
    throw std::runtime_error("FakePop3Server: cannot listen on 127.0.0.1: " + reason);
  }
  state.port = ntohs(address.sin_port);
  state.wake_fd = ::eventfd(0, EFD_CLOEXEC);
  state.acceptor = std::thread([&state] { accept_loop(state); });
}

FakePop3Server::~FakePop3Server() {
  State& state = *state_;
  {
    std::lock_guard lock(state.mutex);
    state.stopping = true;
    for (const auto& [session, fd] : state.open_fds) ::shutdown(fd, SHUT_RDWR);
  }
  state.stop_requested.notify_all();
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto written = ::write(state.wake_fd, &one, sizeof one);
  state.acceptor.join();
  // No new sessions now; wake any still blocked, then join them.
  {
    std::lock_guard lock(state.mutex);
    for (const auto& [session, fd] : state.open_fds) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& thread : state.sessions) thread.join();
  ::close(state.listen_fd);
  ::close(state.wake_fd);
}

std::uint16_t FakePop3Server::port() const { return state_->port; }
std::string FakePop3Server::ca_file() const { return state_->ca_file; }

void FakePop3Server::update(const std::function<void(FakePop3Options&)>& change) {
  std::lock_guard lock(state_->mutex);
  change(state_->options);
}

std::vector<FakeMessage> FakePop3Server::mailbox() const {
  std::lock_guard lock(state_->mutex);
  std::vector<FakeMessage> out;
  for (const auto& stored : state_->mailbox) out.push_back(stored.message);
  return out;
}

void FakePop3Server::add_message(FakeMessage message) {
  std::lock_guard lock(state_->mutex);
  state_->mailbox.push_back({state_->next_id++, std::move(message)});
}

void FakePop3Server::set_mailbox(std::vector<FakeMessage> messages) {
  std::lock_guard lock(state_->mutex);
  state_->mailbox.clear();
  for (auto& message : messages) state_->mailbox.push_back({state_->next_id++, std::move(message)});
}

std::vector<std::string> FakePop3Server::deleted_uidls() const {
  std::lock_guard lock(state_->mutex);
  return state_->deleted;
}

std::size_t FakePop3Server::session_count() const {
  std::lock_guard lock(state_->mutex);
  return state_->commands.size();
}

std::vector<std::vector<std::string>> FakePop3Server::commands() const {
  std::lock_guard lock(state_->mutex);
  return state_->commands;
}

std::vector<std::string> FakePop3Server::commands(std::size_t session) const {
  std::lock_guard lock(state_->mutex);
  return session < state_->commands.size() ? state_->commands[session] : std::vector<std::string>{};
}

bool FakePop3Server::wait_for_sessions(std::size_t count, std::chrono::milliseconds timeout) const {
  return wait_until([&] { return session_count() >= count; }, timeout);
}

bool FakePop3Server::wait_for_command(const std::string& prefix, std::chrono::milliseconds timeout) const {
  return wait_until(
      [&] {
        for (const auto& session : commands()) {
          for (const auto& line : session) {
            if (line.rfind(prefix, 0) == 0) return true;
          }
        }
        return false;
      },
      timeout);
}

}  // namespace popfs::test
