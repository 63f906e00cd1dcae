#pragma once
// The config file ($XDG_CONFIG_HOME/popfs/config.toml) and the resolution of a mount source
// (URL or account name) plus options into complete settings.
//
//   [defaults]            # optional: applies to every mount
//   lf = true
//   [accounts.work]
//   url = "pop3s://alice@mail.example.com"
//   password_command = "pass show mail/work"
//   poll = "2m"
//
// Precedence, lowest first: built-in defaults, [defaults], [accounts.NAME], command line.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "popfs/app/environment.hpp"
#include "popfs/app/options.hpp"
#include "popfs/app/url.hpp"
#include "popfs/net/account.hpp"
#include "popfs/util/result.hpp"

namespace popfs::app {

inline constexpr std::chrono::seconds kDefaultPoll{60};
inline constexpr std::uint64_t kDefaultCacheSize = std::uint64_t{2} << 30;  // 2G

struct ConfigFile {
  std::string path;  // the file read; empty when there was none
  MountOptions defaults;
  std::map<std::string, MountOptions, std::less<>> accounts;  // every account has a url
};

// Everything a mount (or sync/status/cache) needs, resolved and validated.
struct MountSettings {
  std::string source;        // as given: URL or account name
  std::string account_name;  // empty when the source was a URL
  PopUrl url;
  std::optional<std::string> password_command;
  std::optional<std::string> password_file;  // "~" expanded
  std::optional<std::string> oauth_token_command;
  std::string ca_file;      // empty: system CAs
  std::string fingerprint;  // 64 lowercase hex digits, empty: no pin
  std::string cache_dir;    // default: $XDG_CACHE_HOME/popfs/<user>@<host>:<port>
  bool foreground = false;
  bool debug = false;
  bool read_only = false;
  bool lf = false;
  bool maildir = false;  // layout=maildir: cur/, new/, tmp/ (doc/SEMANTICS.md, "Maildir layout")
  bool allow_other = false;
  bool insecure_plaintext = false;
  std::chrono::seconds poll = kDefaultPoll;
  std::chrono::milliseconds idle_grace = std::chrono::seconds(3);
  std::uint64_t cache_size = kDefaultCacheSize;

  // Host, port, security, user, ca_file, fingerprint and idle_grace; credentials are added
  // by make_credentials() (credentials.hpp).
  net::Account to_account() const;
};

// $XDG_CONFIG_HOME/popfs/config.toml, else ~/.config/popfs/config.toml.
std::string default_config_path(const EnvLookup& env);

// $XDG_CACHE_HOME/popfs/<user>@<host>:<port>, else ~/.cache/popfs/...; a '/' in the user
// name is written as %2F so the name stays one path component.
std::string default_cache_dir(const PopUrl& url, const EnvLookup& env);

// Parses config text. `path` is used in messages: "FILE:LINE: unknown key 'x' in [accounts.y]".
Result<ConfigFile> parse_config(std::string_view text, const std::string& path);

// Reads and parses `path`. A missing file is an empty config unless `must_exist`
// (an explicit --config); an unreadable or malformed file is always an error.
Result<ConfigFile> load_config(const std::string& path, bool must_exist);

// Resolves `source` (a URL, or an account name from `config`) with the command-line layer on
// top and checks the result (both a password and a token source, fingerprint syntax, poll
// of zero...). Errors are Errc::invalid_argument and name what to fix.
Result<MountSettings> resolve_mount_settings(std::string_view source,
                                             const MountOptions& command_line,
                                             const ConfigFile& config, const EnvLookup& env);

// "sha256:AB:CD:..." / "sha256:abcd..." / "abcd..." -> 64 lowercase hex digits.
Result<std::string> normalize_fingerprint(std::string_view text);

}  // namespace popfs::app
