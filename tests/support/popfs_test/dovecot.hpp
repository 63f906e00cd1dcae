#pragma once
// A private Dovecot POP3 server for tests (package dovecot-pop3d). Everything it uses lives
// in its own temp directory (config, base_dir, state_dir, log, certificate, Maildir); it runs
// as `dovecot -F -c <conf>` child of the test and never touches the system Dovecot.
//
//   popfs::test::Dovecot dovecot({.corpus = popfs::test::generate_corpus({.count = 10})});
//   connect to dovecot.host():dovecot.pop3s_port(), trust dovecot.ca_file(),
//   log in as dovecot.user() / dovecot.password().
//
// Loopback caveat: Dovecot treats a connection whose remote and local IP are equal as secure,
// so on 127.0.0.1 it accepts USER/PASS without STLS even with disable_plaintext_auth. To see
// the refusal ("-ERR [AUTH] Plaintext authentication disallowed"), connect to strict_host()
// (127.0.0.2, also in the certificate) instead.
//
// Dovecot is stopped with SIGTERM if the thread that started it dies (see
// SpawnOptions::die_with_parent): create and start it from the test's main thread.
//
// Failures (dovecot missing, does not start in time) throw std::runtime_error with the reason
// and the tail of Dovecot's log, which fails the calling test with that message.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "popfs_test/corpus.hpp"
#include "popfs_test/temp_dir.hpp"

namespace popfs::test {

struct DovecotOptions {
  Corpus corpus{};                        // messages put in the Maildir before the first start
  // Serve this existing Maildir instead (corpus ignored; kept when the fixture goes, with the
  // index Dovecot built in it, so a big mailbox is generated and indexed once). Its directories
  // are given to the mail user; its files must be readable by it.
  std::filesystem::path existing_maildir{};
  std::vector<std::string> extra_config{};  // appended lines, e.g. "pop3_lock_session = yes"
  bool disable_plaintext_auth = true;     // plain auth only after STLS (see loopback caveat)
  std::string user = "popfs-test";
  std::string password = "correct horse battery";
  bool start = true;                      // false: call start() yourself
};

// One POP3 session as Dovecot logged it at logout (pop3_logout_format).
struct SessionCounts {
  std::size_t top = 0;     // TOP commands
  std::size_t retr = 0;    // RETR commands
  std::size_t dele = 0;    // messages expunged at QUIT (0 if the connection dropped)
  std::size_t messages = 0;  // messages in the maildrop at login
  bool quit = false;       // "Logged out" (QUIT) rather than a dropped connection
};

// Not thread-safe: use one instance from the test's thread.
class Dovecot {
 public:
  explicit Dovecot(DovecotOptions options = {});
  ~Dovecot();  // stops the server whatever happened
  Dovecot(const Dovecot&) = delete;
  Dovecot& operator=(const Dovecot&) = delete;

  void start();  // on the same ports every time; waits until both ports accept
  void stop();   // SIGTERM, SIGKILL after a deadline; waits for the master to exit
  bool running() const;

  std::string host() const { return "127.0.0.1"; }
  std::string strict_host() const { return "127.0.0.2"; }
  std::uint16_t pop3_port() const { return pop3_port_; }    // plaintext, offers STLS
  std::uint16_t pop3s_port() const { return pop3s_port_; }  // implicit TLS
  std::string ca_file() const { return ca_file_.string(); } // self-signed, CN/SAN localhost, 127.0.0.1/2
  const std::string& user() const { return options_.user; }
  const std::string& password() const { return options_.password; }
  // The password on one line, mode 0600 (what `popfs --password-file` accepts).
  std::filesystem::path password_file() const { return dir_ / "password"; }
  std::filesystem::path maildir() const;
  std::filesystem::path directory() const { return dir_.path(); }

  // New mail: written to tmp/, then renamed into new/. Returns the Maildir base name; it
  // sorts after every earlier message, so the new message comes last in server order.
  std::string deliver(std::string_view message_lf);
  // Mail deleted by another client: by position in server order (0-based, among the files
  // now in the Maildir) or by Maildir base name. Throws if there is no such message.
  void remove_message(std::size_t index);
  void remove_message(std::string_view base_name);
  std::size_t maildir_message_count() const;
  std::vector<std::string> maildir_files() const;  // base names in server order

  // Dovecot's log, and the sessions parsed from it (in logout order).
  std::string log() const;
  std::vector<SessionCounts> sessions() const;
  std::size_t logins() const;  // successful logins
  // Dovecot writes the logout line just after the client has gone: wait for it.
  bool wait_for_sessions(std::size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  // Server-order UIDLs, obtained with Python's poplib (not popfs code).
  std::vector<std::string> uidls() const;

 private:
  void pick_ports();
  void write_config() const;
  void chown_to_mail_user(const std::filesystem::path& path) const;

  DovecotOptions options_;
  TempDir dir_;
  std::filesystem::path config_file_;
  std::filesystem::path ca_file_;
  std::filesystem::path key_file_;
  std::uint16_t pop3_port_ = 0;
  std::uint16_t pop3s_port_ = 0;
  uid_t mail_uid_ = 65534;
  gid_t mail_gid_ = 65534;
  std::size_t next_delivery_ = 0;
  pid_t pid_ = -1;
};

}  // namespace popfs::test
