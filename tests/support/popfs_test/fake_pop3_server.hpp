#pragma once
// A scriptable POP3 server for faults a real server will not produce. Listens on
// 127.0.0.1:<free port>, one thread per connection. Plain TCP, STLS or implicit TLS with a
// generated self-signed certificate (ca_file()).
//
// Implements USER/PASS, AUTH PLAIN, AUTH LOGIN, CAPA, STAT, LIST, UIDL, TOP, RETR
// (dot-stuffed), DELE, RSET, NOOP, QUIT and STLS. Like a real server, a session sees the
// mailbox as it was at login and deletions are applied to the mailbox only at QUIT.
//
// Knobs are read when a session starts; change them between sessions with update().
// Pauses the server makes (trickle, answer_delay) end early when the server is destroyed.
//   FakePop3Server server({.mailbox = {{"uid-1", "Subject: a\n\nbody\n"}}});
//   server.update([](FakePop3Options& o) { o.drop_after_bytes = 100; o.drop_on_command = "RETR"; });

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace popfs::test {

struct FakeMessage {
  std::string uidl{};   // sent as is: hostile values ("../x", "a/b", 200 chars, duplicates) welcome
  std::string content{};  // LF or CRLF; sent with CRLF line endings unless send_bare_lf
  std::optional<std::size_t> list_size{};  // LIST/STAT report this instead of the true size
};

enum class FakeAuthResult {
  ok,
  wrong_password,  // -ERR [AUTH] (also what a wrong user/password gets)
  in_use,          // -ERR [IN-USE]
  login_delay,     // -ERR [LOGIN-DELAY]
  sys_temp,        // -ERR [SYS/TEMP]
  sys_perm,        // -ERR [SYS/PERM]
};

enum class FakeTls {
  none,      // plaintext only
  stls,      // plaintext, STLS offered in CAPA and honoured
  implicit,  // TLS from the first byte
};

struct FakePop3Options {
  std::vector<FakeMessage> mailbox{};  // initial mailbox (later: add_message, mailbox())
  std::string user = "user";
  std::string password = "password";
  FakeTls tls = FakeTls::none;
  bool advertise_stls = true;          // tls == stls: list STLS in CAPA (it works either way)
  bool require_tls_for_login = false;  // USER/PASS/AUTH refused with [AUTH] before STLS
  // Greeting line without CRLF.
  std::string greeting = "+OK popfs fake POP3 server ready";
  // CAPA lines (STLS is appended when tls == stls and the session is not yet encrypted).
  std::vector<std::string> capabilities = {"TOP",        "UIDL",           "USER",
                                           "PIPELINING", "RESP-CODES",     "AUTH-RESP-CODE",
                                           "SASL PLAIN LOGIN"};
  // Commands answered with "-ERR unknown command" (e.g. {"TOP"}, {"UIDL"}, {"CAPA"}).
  std::set<std::string> disabled_commands{};
  FakeAuthResult auth_result = FakeAuthResult::ok;
  bool send_bare_lf = false;  // send message content with LF endings (a broken server)

  // Faults below (drop, stall, raw responses, auth_result) apply to the next N sessions
  // only, then the server behaves; unset: to every session. Lets a test check a retry.
  std::optional<std::size_t> fault_sessions{};
  // A "command" below is a whole line ("RETR 2", exact) or a verb ("RETR", any case).
  // Close the connection (no QUIT processing) after this many bytes of output (plaintext
  // bytes, before TLS). Counted from the start of the session, or, with drop_on_command,
  // from the start of the first response to that command, so the cut can fall mid-message.
  std::optional<std::size_t> drop_after_bytes{};
  std::string drop_on_command{};
  // Stop answering (keep reading, never reply again) before / after answering the first
  // such command; "GREETING" in stall_before means no greeting at all.
  std::string stall_before{};
  std::string stall_after{};
  // Exact bytes to send instead of the normal response. Key: a command as above; the
  // whole line wins over the verb.
  std::map<std::string, std::string> raw_responses{};
  // Pace every byte sent from the first response to this command to the end of the session:
  // trickle_bytes at a time, trickle_interval before each piece. One byte per 100 ms is a
  // trickling server; kilobytes per few ms is a slow but steady link.
  std::string trickle_on_command{};
  std::size_t trickle_bytes = 1;
  std::chrono::milliseconds trickle_interval{100};
  // Wait `answer_delay` before answering the first such command (commands sent behind it
  // wait too): a server that stalls, then answers after all.
  std::string delay_before{};
  std::chrono::milliseconds answer_delay{0};
};

class FakePop3Server {
 public:
  explicit FakePop3Server(FakePop3Options options = {});
  ~FakePop3Server();  // closes every connection and joins every thread
  FakePop3Server(const FakePop3Server&) = delete;
  FakePop3Server& operator=(const FakePop3Server&) = delete;

  std::string host() const { return "127.0.0.1"; }
  std::uint16_t port() const;
  std::string ca_file() const;  // PEM certificate to trust (empty when tls == none)

  // Changes knobs for sessions that start afterwards.
  void update(const std::function<void(FakePop3Options&)>& change);

  std::vector<FakeMessage> mailbox() const;  // current contents, deletions applied
  void add_message(FakeMessage message);     // new mail, visible to later sessions
  void set_mailbox(std::vector<FakeMessage> messages);
  std::vector<std::string> deleted_uidls() const;  // removed by QUIT, in commit order

  std::size_t session_count() const;  // connections accepted so far
  // Every line each session's client sent (without CRLF), in order; PASS lines included.
  std::vector<std::vector<std::string>> commands() const;
  std::vector<std::string> commands(std::size_t session) const;
  bool wait_for_sessions(std::size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  // Waits until some session has sent a line starting with this prefix (e.g. "DELE").
  bool wait_for_command(const std::string& prefix,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  struct State;  // shared with session threads

 private:
  std::shared_ptr<State> state_;
};

}  // namespace popfs::test
