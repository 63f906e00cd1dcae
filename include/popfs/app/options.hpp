#pragma once
// Mount options: one layer of settings as given by the config file or the command line,
// the FUSE-style "-o a,b=c" parser (also what fstab and mount(8) hand over), and the size
// and duration parsers they use.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "popfs/util/result.hpp"

namespace popfs::app {

// One layer of mount options; a field that is unset was not given in that layer.
struct MountOptions {
  std::optional<std::string> url;  // only a config file account sets this
  // Secret sources. See credentials.hpp for the order in which they are tried.
  std::optional<std::string> password_command;
  std::optional<std::string> password_file;
  std::optional<std::string> oauth_token_command;
  std::optional<std::string> ca_file;
  std::optional<std::string> fingerprint;  // as given; config.cpp normalises it
  std::optional<std::string> cache_dir;
  std::optional<bool> foreground;
  std::optional<bool> debug;
  std::optional<bool> read_only;
  std::optional<bool> lf;
  std::optional<std::string> layout;  // "flat" or "maildir"
  std::optional<bool> allow_other;
  std::optional<bool> insecure_plaintext;
  std::optional<std::chrono::seconds> poll;
  std::optional<std::chrono::milliseconds> idle_grace;
  std::optional<std::uint64_t> cache_size;  // bytes

  bool has_secret_source() const {
    return password_command || password_file || oauth_token_command;
  }

  // Every field set in `higher` replaces ours. Secret sources are replaced as a group: if
  // `higher` names any of them, none of ours survives (a --password-file on the command line
  // must win over a password_command in the config file).
  void overlay(const MountOptions& higher);
};

// "2G", "512M", "100k", "1024", "2GiB", "2GB": binary multiples (K = 1024). Errc::invalid_argument
// with the offending text on anything else or on overflow.
Result<std::uint64_t> parse_size(std::string_view text);

// "60" (seconds), "90s", "500ms", "5m", "1h". Errc::invalid_argument on anything else.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// Applies one named option (FUSE "-o" spelling; '-' and '_' are interchangeable, so the long
// option names "cache-size" work too). `value` is empty for a flag. Generic mount(8)
// options that mean nothing to popfs (noauto, user, _netdev, nofail, dev, suid, ...) are
// accepted and ignored; "ro"/"rw" set read_only. Unknown names are an error.
Result<void> apply_mount_option(std::string_view name, std::optional<std::string_view> value,
                                MountOptions& into);

// Parses "a,b=c,..." (one -o argument) into `into`. A backslash escapes the next character
// and double quotes protect commas (as libmount writes them), so a command containing a comma
// can be written as password_command=cut\,-f2 or password_command="cut -d, -f2 FILE".
Result<void> apply_mount_option_string(std::string_view text, MountOptions& into);

}  // namespace popfs::app
