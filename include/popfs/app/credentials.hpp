#pragma once
// Where the password (or OAuth token) comes from. Tried in this order, the first source that
// is configured or available wins:
//   1. --password-command CMD   run via /bin/sh -c each time a session authenticates; the
//                               first line of stdout is the secret (fresh tokens, rotating
//                               passwords); a non-zero exit is an error carrying its stderr
//   2. --password-file FILE     first line; refused if group or world has any access
//   3. POPFS_PASSWORD           environment variable
//   4. desktop keyring          `secret-tool lookup service popfs user USER host HOST`, only if
//                               secret-tool is installed and a session bus exists; skipped
//                               silently otherwise
//   5. prompt on the terminal   /dev/tty, echo off (restored even if a signal kills us)
// Sources 2 to 5 are read once, when the source is made (so the prompt happens before the
// daemon detaches from the terminal), and kept in memory only. Secrets are never logged.
// --oauth-token-command is run each time, like a password command.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "popfs/app/environment.hpp"
#include "popfs/util/result.hpp"

namespace popfs::net {
struct Account;
}

namespace popfs::app {

struct MountSettings;

using SecretSource = std::function<Result<std::string>()>;

inline constexpr std::chrono::seconds kSecretCommandTimeout{120};

struct CredentialRequest {
  std::optional<std::string> password_command;
  std::optional<std::string> password_file;
  std::optional<std::string> oauth_token_command;
  std::string user;  // for the keyring lookup and the prompt
  std::string host;
  std::uint16_t port = 0;
  EnvLookup env = process_environment();
  bool use_keyring = true;
  bool allow_prompt = true;
  std::string tty_path = "/dev/tty";
  std::chrono::milliseconds command_timeout = kSecretCommandTimeout;
};

// Runs CMD via /bin/sh -c and returns the first line of its stdout. Errc::auth_failed when
// it exits non-zero (message includes its stderr) or prints nothing; Errc::timeout.
// `what` names the option in messages, e.g. "--password-command".
Result<std::string> secret_from_command(const std::string& command, std::string_view what,
                                        std::chrono::milliseconds timeout = kSecretCommandTimeout);

// First line of FILE. Errc::invalid_argument if it is group/world accessible ("chmod 600"),
// not a regular file, unreadable or empty.
Result<std::string> secret_from_file(const std::string& path);

// The desktop keyring through secret-tool; nullopt when unavailable or nothing is stored.
std::optional<std::string> secret_from_keyring(const std::string& user, const std::string& host,
                                               const EnvLookup& env);

// Prompts on `tty_path` with echo off and reads one line. Errc::not_found when there is no
// terminal; Errc::cancelled at end of input.
Result<std::string> prompt_secret(const std::string& prompt,
                                  const std::string& tty_path = "/dev/tty");

// The password source for net::Account::password, per the order above. Errc::auth_failed
// when no source yields a password (the message lists the options).
Result<SecretSource> make_password_source(const CredentialRequest& request);

// The token source for net::Account::oauth_token; requires request.oauth_token_command.
Result<SecretSource> make_token_source(const CredentialRequest& request);

// Sets account.oauth_token (if settings has a token command) or account.password.
Result<void> attach_credentials(const MountSettings& settings, net::Account& account,
                                bool allow_prompt = true, const EnvLookup& env = process_environment());

}  // namespace popfs::app
