#include "popfs/app/credentials.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>

#include <spdlog/spdlog.h>

#include "popfs/app/command.hpp"
#include "popfs/app/config.hpp"
#include "popfs/net/account.hpp"

namespace popfs::app {
namespace {

std::string first_line(const std::string& text) {
  const auto end = text.find_first_of("\r\n");
  return end == std::string::npos ? text : text.substr(0, end);
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

std::string octal_mode(mode_t mode) {
  std::array<char, 8> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "%04o", static_cast<unsigned>(mode & 07777));
  return buffer.data();
}

// The full path of `program` in $PATH (as `env` has it), or nullopt.
std::optional<std::string> find_in_path(const std::string& program, const EnvLookup& env) {
  const std::string path = env("PATH").value_or("/usr/local/bin:/usr/bin:/bin");
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto end = path.find(':', start);
    const std::string dir = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
    const std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return std::nullopt;
}

bool has_session_bus(const EnvLookup& env) {
  if (env("DBUS_SESSION_BUS_ADDRESS")) return true;
  if (auto runtime = env("XDG_RUNTIME_DIR")) {
    struct stat st {};
    const std::string bus = *runtime + "/bus";
    return ::stat(bus.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
  }
  return false;
}

SecretSource cached(std::string secret) {
  auto shared = std::make_shared<const std::string>(std::move(secret));
  return [shared]() -> Result<std::string> { return *shared; };
}

}  // namespace

Result<std::string> secret_from_command(const std::string& command, std::string_view what,
                                        std::chrono::milliseconds timeout) {
  // The command is not logged: people do write "echo hunter2" there.
  spdlog::debug("running the {}", what);
  auto output = run_shell_command(command, timeout);
  if (!output) {
    return Error(output.error().code == Errc::timeout ? Errc::timeout : Errc::auth_failed,
                 std::string(what) + " failed: " + output.error().message);
  }
  if (output->exit_status != 0) {
    std::string msg = std::string(what) + " exited with status " + std::to_string(output->exit_status);
    const std::string err = trimmed(output->err);
    if (!err.empty()) msg += ": " + err;
    return Error(Errc::auth_failed, msg);
  }
  std::string secret = first_line(output->out);
  if (secret.empty()) return Error(Errc::auth_failed, std::string(what) + " printed nothing on its first line");
  return secret;
}

Result<std::string> secret_from_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Error(Errc::invalid_argument, "cannot open password file " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  // fstat on the open descriptor: the file checked is the file read.
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error(Errc::invalid_argument, "password file " + path + " is not a regular file");
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    ::close(fd);
    return Error(Errc::invalid_argument,
                 "password file " + path + " is accessible by group or others (mode " +
                     octal_mode(st.st_mode) + "); refusing to use it. Run: chmod 600 " + path);
  }
  std::string content;
  std::array<char, 4096> buffer{};
  while (content.find('\n') == std::string::npos && content.size() < 64 * 1024) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return Error(Errc::invalid_argument, "cannot read password file " + path + ": " + std::strerror(err));
    }
    if (n == 0) break;
    content.append(buffer.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  std::string secret = first_line(content);
  std::fill(content.begin(), content.end(), '\0');
  if (secret.empty()) return Error(Errc::invalid_argument, "password file " + path + " has an empty first line");
  return secret;
}

std::optional<std::string> secret_from_keyring(const std::string& user, const std::string& host,
                                               const EnvLookup& env) {
  const auto secret_tool = find_in_path("secret-tool", env);
  if (!secret_tool || !has_session_bus(env)) return std::nullopt;
  auto output = run_program(
      {*secret_tool, "lookup", "service", "popfs", "user", user, "host", host},
      std::chrono::seconds(10));
  if (!output || output->exit_status != 0) {
    spdlog::debug("no password in the keyring for {}@{}", user, host);
    return std::nullopt;
  }
  std::string secret = first_line(output->out);
  if (secret.empty()) return std::nullopt;
  return secret;
}

Result<SecretSource> make_password_source(const CredentialRequest& request) {
  if (request.password_command) {
    spdlog::debug("password source: --password-command (run at each login)");
    const std::string command = *request.password_command;
    const auto timeout = request.command_timeout;
    return SecretSource([command, timeout]() { return secret_from_command(command, "--password-command", timeout); });
  }
  if (request.password_file) {
    auto secret = secret_from_file(*request.password_file);
    if (!secret) return std::move(secret).error();
    spdlog::debug("password source: --password-file {}", *request.password_file);
    return cached(std::move(secret).value());
  }
  if (auto env = request.env("POPFS_PASSWORD")) {
    spdlog::debug("password source: POPFS_PASSWORD");
    return cached(std::move(*env));
  }
  if (request.use_keyring) {
    if (auto secret = secret_from_keyring(request.user, request.host, request.env)) {
      spdlog::debug("password source: desktop keyring");
      return cached(std::move(*secret));
    }
  }
  if (request.allow_prompt) {
    std::string prompt = "Password for " + request.user + "@" + request.host;
    if (request.port != 0) prompt += ":" + std::to_string(request.port);
    auto secret = prompt_secret(prompt + ": ", request.tty_path);
    if (secret) {
      spdlog::debug("password source: terminal prompt");
      return cached(std::move(secret).value());
    }
    if (secret.error().code == Errc::cancelled) return Error(Errc::auth_failed, "no password entered");
  }
  return Error(Errc::auth_failed,
               "no password for " + request.user + "@" + request.host +
                   ": use --password-file FILE, --password-command CMD, the POPFS_PASSWORD "
                   "environment variable, or run popfs on a terminal to be asked");
}

Result<SecretSource> make_token_source(const CredentialRequest& request) {
  if (!request.oauth_token_command) {
    return Error(Errc::invalid_argument, "no --oauth-token-command given");
  }
  spdlog::debug("token source: --oauth-token-command (run at each login)");
  const std::string command = *request.oauth_token_command;
  const auto timeout = request.command_timeout;
  return SecretSource([command, timeout]() { return secret_from_command(command, "--oauth-token-command", timeout); });
}

Result<void> attach_credentials(const MountSettings& settings, net::Account& account,
                                bool allow_prompt, const EnvLookup& env) {
  CredentialRequest request;
  request.password_command = settings.password_command;
  request.password_file = settings.password_file;
  request.oauth_token_command = settings.oauth_token_command;
  request.user = settings.url.user;
  request.host = settings.url.host;
  request.port = settings.url.port;
  request.env = env;
  request.allow_prompt = allow_prompt;
  if (request.oauth_token_command) {
    auto source = make_token_source(request);
    if (!source) return std::move(source).error();
    account.oauth_token = std::move(source).value();
    account.password = nullptr;
    return {};
  }
  auto source = make_password_source(request);
  if (!source) return std::move(source).error();
  account.password = std::move(source).value();
  account.oauth_token = nullptr;
  return {};
}

}  // namespace popfs::app
