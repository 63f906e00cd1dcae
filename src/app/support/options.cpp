#include "popfs/app/options.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <limits>

namespace popfs::app {
namespace {

Error bad(std::string msg) { return Error(Errc::invalid_argument, std::move(msg)); }

// Splits "123abc" into a decimal number and its suffix.
bool split_number(std::string_view text, std::uint64_t& number, std::string_view& suffix) {
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, number);
  if (ec != std::errc() || ptr == text.data()) return false;
  suffix = text.substr(static_cast<std::size_t>(ptr - text.data()));
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string canonical_name(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c == '-') c = '_';
  }
  return out;
}

// mount(8), fstab and mount.fuse3 pass these; they mean nothing to popfs itself.
constexpr std::array<std::string_view, 22> kIgnoredOptions = {
    "defaults", "auto",  "noauto",   "user",     "users",      "nouser", "owner", "group",
    "_netdev",  "nofail", "exec",    "noexec",   "suid",       "nosuid", "dev",   "nodev",
    "atime",    "noatime", "relatime", "nodiratime", "strictatime", "lazytime"};

bool is_ignored(std::string_view name) {
  for (const auto ignored : kIgnoredOptions) {
    if (name == ignored) return true;
  }
  // x-systemd.*, x-gvfs-*, comment=... are for userspace tools, not the filesystem.
  return name.rfind("x-", 0) == 0 || name == "comment";
}

}  // namespace

void MountOptions::overlay(const MountOptions& higher) {
  if (higher.has_secret_source()) {
    password_command = higher.password_command;
    password_file = higher.password_file;
    oauth_token_command = higher.oauth_token_command;
  }
  auto take = [](auto& mine, const auto& theirs) {
    if (theirs) mine = theirs;
  };
  take(url, higher.url);
  take(ca_file, higher.ca_file);
  take(fingerprint, higher.fingerprint);
  take(cache_dir, higher.cache_dir);
  take(foreground, higher.foreground);
  take(debug, higher.debug);
  take(read_only, higher.read_only);
  take(lf, higher.lf);
  take(layout, higher.layout);
  take(allow_other, higher.allow_other);
  take(insecure_plaintext, higher.insecure_plaintext);
  take(poll, higher.poll);
  take(idle_grace, higher.idle_grace);
  take(cache_size, higher.cache_size);
}

Result<std::uint64_t> parse_size(std::string_view text) {
  std::uint64_t number = 0;
  std::string_view suffix;
  if (!split_number(text, number, suffix)) {
    return bad("invalid size '" + std::string(text) + "': expected a number with an optional K, M, G or T suffix, e.g. 2G");
  }
  std::string unit = lower(suffix);
  // Accept "2G", "2GB" and "2GiB" alike: all binary multiples.
  if (unit.size() == 3 && unit.substr(1) == "ib") unit.resize(1);
  if (unit.size() == 2 && unit[1] == 'b') unit.resize(1);
  unsigned shift = 0;
  if (unit.empty() || unit == "b") {
    shift = 0;
  } else if (unit == "k") {
    shift = 10;
  } else if (unit == "m") {
    shift = 20;
  } else if (unit == "g") {
    shift = 30;
  } else if (unit == "t") {
    shift = 40;
  } else {
    return bad("invalid size '" + std::string(text) + "': unknown unit '" + std::string(suffix) + "' (use K, M, G or T)");
  }
  if (shift > 0 && number > (std::numeric_limits<std::uint64_t>::max() >> shift)) {
    return bad("size '" + std::string(text) + "' is too large");
  }
  return number << shift;
}

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::uint64_t number = 0;
  std::string_view suffix;
  if (!split_number(text, number, suffix)) {
    return bad("invalid duration '" + std::string(text) + "': expected seconds or a number with ms, s, m or h, e.g. 90s");
  }
  const std::string unit = lower(suffix);
  std::uint64_t factor_ms = 0;
  if (unit.empty() || unit == "s") {
    factor_ms = 1000;
  } else if (unit == "ms") {
    factor_ms = 1;
  } else if (unit == "m" || unit == "min") {
    factor_ms = 60'000;
  } else if (unit == "h") {
    factor_ms = 3'600'000;
  } else {
    return bad("invalid duration '" + std::string(text) + "': unknown unit '" + std::string(suffix) + "' (use ms, s, m or h)");
  }
  // Limit to about 30 years; anything longer is a typo and would overflow later arithmetic.
  constexpr std::uint64_t kMaxMs = std::uint64_t{1'000'000'000} * 1000;
  if (number > kMaxMs / factor_ms) return bad("duration '" + std::string(text) + "' is too large");
  return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(number * factor_ms));
}

Result<void> apply_mount_option(std::string_view raw_name, std::optional<std::string_view> value,
                                MountOptions& into) {
  const std::string name = canonical_name(raw_name);
  if (is_ignored(raw_name) || is_ignored(name)) return {};

  auto flag = [&](std::optional<bool>& field, bool set_to) -> Result<void> {
    if (value) return bad("mount option '" + std::string(raw_name) + "' takes no value");
    field = set_to;
    return {};
  };
  auto text = [&](std::optional<std::string>& field) -> Result<void> {
    if (!value || value->empty()) {
      return bad("mount option '" + std::string(raw_name) + "' needs a value: " + std::string(raw_name) + "=...");
    }
    field = std::string(*value);
    return {};
  };

  if (name == "ro" || name == "read_only") return flag(into.read_only, true);
  if (name == "rw") return flag(into.read_only, false);
  if (name == "lf") return flag(into.lf, true);
  if (name == "crlf") return flag(into.lf, false);
  if (name == "allow_other") return flag(into.allow_other, true);
  if (name == "insecure_plaintext") return flag(into.insecure_plaintext, true);
  if (name == "debug") return flag(into.debug, true);
  if (name == "foreground") return flag(into.foreground, true);
  if (name == "password_command") return text(into.password_command);
  if (name == "password_file") return text(into.password_file);
  if (name == "oauth_token_command") return text(into.oauth_token_command);
  if (name == "ca_file") return text(into.ca_file);
  if (name == "fingerprint") return text(into.fingerprint);
  if (name == "cache_dir") return text(into.cache_dir);
  if (name == "layout") {
    if (!value || (*value != "flat" && *value != "maildir")) {
      return bad("mount option 'layout' is layout=flat (the default) or layout=maildir");
    }
    into.layout = std::string(*value);
    return {};
  }
  if (name == "poll" || name == "idle_grace") {
    if (!value) return bad("mount option '" + std::string(raw_name) + "' needs a value, e.g. " + name + "=60");
    auto duration = parse_duration(*value);
    if (!duration) return bad("mount option " + name + ": " + duration.error().message);
    if (name == "poll") {
      into.poll = std::chrono::duration_cast<std::chrono::seconds>(duration.value());
    } else {
      into.idle_grace = duration.value();
    }
    return {};
  }
  if (name == "cache_size") {
    if (!value) return bad("mount option 'cache_size' needs a value, e.g. cache_size=2G");
    auto size = parse_size(*value);
    if (!size) return bad("mount option cache_size: " + size.error().message);
    into.cache_size = size.value();
    return {};
  }
  if (name == "password" || name == "pass") {
    return bad("a password must not be given as a mount option (it would show in the process "
               "list); use password_file=FILE or password_command=CMD");
  }
  return bad("unknown mount option '" + std::string(raw_name) + "' (see popfs(1) for the list)");
}

Result<void> apply_mount_option_string(std::string_view text, MountOptions& into) {
  std::string current;
  bool escaped = false;
  auto finish = [&]() -> Result<void> {
    if (current.empty()) return {};
    const auto eq = current.find('=');
    Result<void> applied = eq == std::string::npos
                               ? apply_mount_option(current, std::nullopt, into)
                               : apply_mount_option(std::string_view(current).substr(0, eq),
                                                    std::string_view(current).substr(eq + 1), into);
    current.clear();
    return applied;
  };
  bool quoted = false;
  for (const char c : text) {
    if (escaped) {
      current += c;
      escaped = false;
    } else if (c == '\\') {
      escaped = true;
    } else if (c == '"') {
      quoted = !quoted;  // libmount's way: password_command="pass show a,b"
    } else if (c == ',' && !quoted) {
      if (auto r = finish(); !r) return r;
    } else {
      current += c;
    }
  }
  if (escaped) return bad("mount options end with a lone backslash: '" + std::string(text) + "'");
  if (quoted) return bad("unbalanced '\"' in mount options: '" + std::string(text) + "'");
  return finish();
}

}  // namespace popfs::app
