#include "popfs_test/dovecot.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "popfs_test/independent_client.hpp"
#include "popfs_test/process.hpp"
#include "popfs_test/tls_cert.hpp"

namespace popfs::test {

namespace fs = std::filesystem;

namespace {

constexpr const char* kDovecotBinary = "/usr/sbin/dovecot";
constexpr const char* kSessionMarker = "popfs-session:";

std::string current_user_name() {
  const passwd* entry = ::getpwuid(::geteuid());
  return entry != nullptr ? entry->pw_name : "root";
}

std::string tail(const std::string& text, std::size_t bytes) {
  return text.size() <= bytes ? text : text.substr(text.size() - bytes);
}

// Value of "key=<number>" in a log line, 0 when absent.
std::size_t field(const std::string& line, const std::string& key) {
  const auto at = line.find(" " + key + "=");
  if (at == std::string::npos) return 0;
  return static_cast<std::size_t>(std::strtoull(line.c_str() + at + key.size() + 2, nullptr, 10));
}

}  // namespace

Dovecot::Dovecot(DovecotOptions options) : options_(std::move(options)), dir_("popfs-dovecot-") {
  if (!fs::exists(kDovecotBinary)) {
    throw std::runtime_error(std::string("Dovecot fixture: ") + kDovecotBinary +
                             " not found; install the dovecot-pop3d package (scripts/install-deps)");
  }
  if (::geteuid() != 0) {
    // Unprivileged Dovecot can only switch to its own user.
    mail_uid_ = ::getuid();
    mail_gid_ = ::getgid();
  }
  const auto certificate = make_self_signed_certificate(dir_ / "tls");
  ca_file_ = certificate.cert;
  key_file_ = certificate.key;
  for (const char* sub : {"run", "state", "home"}) {
    fs::create_directories(dir_ / sub);
    ::chmod((dir_ / sub).c_str(), 0755);
  }
  if (options_.existing_maildir.empty()) {
    write_maildir(maildir(), options_.corpus);
    chown_to_mail_user(dir_ / "home");
  } else {
    chown_to_mail_user(dir_ / "home");  // the home directory, empty
    // Only the directories: a million files need not be touched at every start.
    for (const char* sub : {"", "cur", "new", "tmp"}) {
      const fs::path path = options_.existing_maildir / sub;
      if (!fs::is_directory(path)) throw std::runtime_error("Dovecot fixture: " + path.string() + " is not a directory");
      if (::geteuid() == 0) ::lchown(path.c_str(), mail_uid_, mail_gid_);
    }
  }
  next_delivery_ = options_.corpus.messages.size();
  // The corpus can be large; the Maildir holds it now.
  options_.corpus.messages.clear();
  options_.corpus.messages.shrink_to_fit();

  write_file(password_file(), options_.password + "\n");
  ::chmod(password_file().c_str(), 0600);
  config_file_ = dir_ / "dovecot.conf";
  pick_ports();
  write_config();
  if (!options_.start) return;
  // Another process may take a port between free_loopback_port() and Dovecot's bind():
  // then pick new ports and try again.
  for (int attempt = 1;; ++attempt) {
    try {
      start();
      return;
    } catch (const std::runtime_error& e) {
      if (attempt == 3 || std::string(e.what()).find("Address already in use") == std::string::npos) throw;
      pick_ports();
      write_config();
    }
  }
}

void Dovecot::pick_ports() {
  pop3_port_ = free_loopback_port();
  do {
    pop3s_port_ = free_loopback_port();
  } while (pop3s_port_ == pop3_port_);
}

Dovecot::~Dovecot() {
  try {
    stop();
  } catch (...) {
    // A destructor must not throw; stop() already tried SIGKILL.
  }
}

fs::path Dovecot::maildir() const {
  return options_.existing_maildir.empty() ? dir_ / "home" / "Maildir" : options_.existing_maildir;
}

void Dovecot::chown_to_mail_user(const fs::path& path) const {
  if (::geteuid() != 0) return;
  ::lchown(path.c_str(), mail_uid_, mail_gid_);
  if (!fs::is_directory(path)) return;
  for (const auto& entry : fs::recursive_directory_iterator(path)) {
    ::lchown(entry.path().c_str(), mail_uid_, mail_gid_);
  }
}

void Dovecot::write_config() const {
  const std::string d = dir_.path().string();
  const std::string internal_user = ::geteuid() == 0 ? "dovecot" : current_user_name();
  const std::string login_user = ::geteuid() == 0 ? "dovenull" : current_user_name();
  std::ofstream passwd(dir_ / "passwd");
  passwd << options_.user << ":{PLAIN}" << options_.password << ":" << mail_uid_ << ":" << mail_gid_
         << "::" << d << "/home::\n";
  passwd.close();
  ::chmod((dir_ / "passwd").c_str(), 0644);

  std::ofstream conf(config_file_);
  conf << "# Private Dovecot for popfs tests; generated, see tests/support/src/dovecot.cpp\n"
       << "base_dir = " << d << "/run\n"
       << "state_dir = " << d << "/state\n"
       << "log_path = " << d << "/dovecot.log\n"
       << "info_log_path = " << d << "/dovecot.log\n"
       << "debug_log_path = " << d << "/dovecot.log\n"
       << "protocols = pop3\n"
       << "listen = 127.0.0.1, 127.0.0.2\n"
       << "ssl = yes\n"
       << "ssl_cert = <" << ca_file_.string() << "\n"
       << "ssl_key = <" << key_file_.string() << "\n"
       << "default_internal_user = " << internal_user << "\n"
       << "default_login_user = " << login_user << "\n"
       << "first_valid_uid = " << std::min<uid_t>(mail_uid_, 1) << "\n"
       << "disable_plaintext_auth = " << (options_.disable_plaintext_auth ? "yes" : "no") << "\n"
       << "auth_mechanisms = plain login\n"
       << "mail_location = maildir:" << maildir().string() << "\n"
       << "pop3_logout_format = " << kSessionMarker
       << " top=%t retr=%r dele=%d messages=%m top_bytes=%p retr_bytes=%b\n"
       << "passdb {\n  driver = passwd-file\n  args = scheme=PLAIN " << d << "/passwd\n}\n"
       << "userdb {\n  driver = passwd-file\n  args = " << d << "/passwd\n}\n"
       << "service pop3-login {\n"
       << "  inet_listener pop3 {\n    port = " << pop3_port_ << "\n  }\n"
       << "  inet_listener pop3s {\n    port = " << pop3s_port_ << "\n    ssl = yes\n  }\n";
  if (::geteuid() != 0) conf << "  chroot =\n";
  conf << "}\n";
  if (::geteuid() != 0) conf << "service anvil {\n  chroot =\n}\n";
  for (const auto& line : options_.extra_config) conf << line << "\n";
  conf.close();
  if (!conf) throw std::runtime_error("Dovecot fixture: cannot write " + config_file_.string());
}

bool Dovecot::running() const { return pid_ > 0 && process_running(pid_); }

void Dovecot::start() {
  if (running()) return;
  SpawnOptions spawn;
  spawn.stdout_file = dir_ / "dovecot.stderr";
  spawn.stderr_file = spawn.stdout_file;
  spawn.die_with_parent = true;  // a crashed test must not leave Dovecot running
  pid_ = spawn_process({kDovecotBinary, "-F", "-c", config_file_.string()}, spawn);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  const auto ready = [&](const std::string& host, std::uint16_t port) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return wait_until(
        [&] { return !process_running(pid_) || wait_for_port(host, port, std::chrono::milliseconds(0)); },
        std::max(left, std::chrono::milliseconds(0))) &&
           process_running(pid_);
  };
  if (ready(host(), pop3_port_) && ready(host(), pop3s_port_) && ready(strict_host(), pop3_port_)) {
    return;
  }
  const bool exited = !process_running(pid_);
  stop();
  std::string output;
  std::error_code ec;
  if (fs::exists(dir_ / "dovecot.stderr", ec)) output = read_file(dir_ / "dovecot.stderr");
  throw std::runtime_error(std::string("Dovecot fixture: dovecot ") +
                           (exited ? "exited during startup" : "did not listen within 30 s") +
                           "; config " + config_file_.string() + "\n--- output:\n" + tail(output, 2000) +
                           "\n--- log:\n" + tail(log(), 3000));
}

void Dovecot::stop() {
  if (pid_ <= 0) return;
  stop_process(pid_, std::chrono::seconds(20));
  pid_ = -1;
}

std::string Dovecot::deliver(std::string_view message_lf) {
  const std::string name = maildir_base_name(next_delivery_++);
  const fs::path temporary = maildir() / "tmp" / name;
  write_file(temporary, message_lf);
  chown_to_mail_user(temporary);
  // rename() makes the message appear complete or not at all, as a real MDA does.
  fs::rename(temporary, maildir() / "new" / name);
  return name;
}

std::vector<std::string> Dovecot::maildir_files() const {
  std::vector<std::string> names;
  for (const char* sub : {"cur", "new"}) {
    for (const auto& entry : fs::directory_iterator(maildir() / sub)) {
      const std::string file = entry.path().filename().string();
      names.push_back(file.substr(0, file.find(':')));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::size_t Dovecot::maildir_message_count() const { return maildir_files().size(); }

void Dovecot::remove_message(std::size_t index) {
  const auto names = maildir_files();
  if (index >= names.size()) {
    throw std::out_of_range("Dovecot::remove_message: no message at index " + std::to_string(index));
  }
  remove_message(names[index]);
}

void Dovecot::remove_message(std::string_view base_name) {
  for (const char* sub : {"cur", "new"}) {
    for (const auto& entry : fs::directory_iterator(maildir() / sub)) {
      const std::string file = entry.path().filename().string();
      if (file.substr(0, file.find(':')) == base_name) {
        fs::remove(entry.path());
        return;
      }
    }
  }
  throw std::out_of_range("Dovecot::remove_message: no message named " + std::string(base_name));
}

std::string Dovecot::log() const {
  std::error_code ec;
  if (!fs::exists(dir_ / "dovecot.log", ec)) return {};
  return read_file(dir_ / "dovecot.log");
}

std::vector<SessionCounts> Dovecot::sessions() const {
  std::vector<SessionCounts> result;
  std::istringstream lines(log());
  for (std::string line; std::getline(lines, line);) {
    if (line.find(kSessionMarker) == std::string::npos) continue;
    SessionCounts counts;
    counts.top = field(line, "top");
    counts.retr = field(line, "retr");
    counts.dele = field(line, "dele");
    counts.messages = field(line, "messages");
    counts.quit = line.find("Logged out") != std::string::npos;
    result.push_back(counts);
  }
  return result;
}

std::size_t Dovecot::logins() const {
  std::istringstream lines(log());
  std::size_t count = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("pop3-login: Info: Login: user=<") != std::string::npos) ++count;
  }
  return count;
}

bool Dovecot::wait_for_sessions(std::size_t count, std::chrono::milliseconds timeout) const {
  return wait_until([&] { return sessions().size() >= count; }, timeout);
}

std::vector<std::string> Dovecot::uidls() const { return uidls_independently(pop3s_endpoint(*this)); }

}  // namespace popfs::test
