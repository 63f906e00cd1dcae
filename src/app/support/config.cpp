#include "popfs/app/config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <toml++/toml.h>

namespace popfs::app {
namespace {

Error bad(std::string msg) { return Error(Errc::invalid_argument, std::move(msg)); }

std::string where(const std::string& path, const toml::source_region& region) {
  return path + ":" + std::to_string(region.begin.line) + ": ";
}

enum class KeyKind { text, flag, duration_seconds, duration_ms, size };

struct KeySpec {
  std::string_view name;
  KeyKind kind;
};

// Every key an [accounts.NAME] table may hold; [defaults] takes the same except url.
constexpr KeySpec kKeys[] = {
    {"url", KeyKind::text},
    {"password_command", KeyKind::text},
    {"password_file", KeyKind::text},
    {"oauth_token_command", KeyKind::text},
    {"ca_file", KeyKind::text},
    {"fingerprint", KeyKind::text},
    {"cache_dir", KeyKind::text},
    {"layout", KeyKind::text},
    {"poll", KeyKind::duration_seconds},
    {"idle_grace", KeyKind::duration_ms},
    {"cache_size", KeyKind::size},
    {"lf", KeyKind::flag},
    {"read_only", KeyKind::flag},
    {"allow_other", KeyKind::flag},
    {"insecure_plaintext", KeyKind::flag},
};

const KeySpec* find_key(std::string_view name) {
  for (const auto& spec : kKeys) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

std::string known_keys(bool allow_url) {
  std::string out;
  for (const auto& spec : kKeys) {
    if (!allow_url && spec.name == "url") continue;
    if (!out.empty()) out += ", ";
    out += spec.name;
  }
  return out;
}

std::optional<std::string>* text_field(std::string_view name, MountOptions& o) {
  if (name == "url") return &o.url;
  if (name == "password_command") return &o.password_command;
  if (name == "password_file") return &o.password_file;
  if (name == "oauth_token_command") return &o.oauth_token_command;
  if (name == "ca_file") return &o.ca_file;
  if (name == "fingerprint") return &o.fingerprint;
  if (name == "cache_dir") return &o.cache_dir;
  if (name == "layout") return &o.layout;
  return nullptr;
}

std::optional<bool>* flag_field(std::string_view name, MountOptions& o) {
  if (name == "lf") return &o.lf;
  if (name == "read_only") return &o.read_only;
  if (name == "allow_other") return &o.allow_other;
  if (name == "insecure_plaintext") return &o.insecure_plaintext;
  return nullptr;
}

// An integer (seconds or bytes) or a string with a unit.
Result<std::uint64_t> number_or_text(const toml::node& node, KeyKind kind) {
  if (const auto* integer = node.as_integer()) {
    const std::int64_t v = integer->get();
    if (v < 0) return bad("must not be negative");
    const auto u = static_cast<std::uint64_t>(v);
    if (kind == KeyKind::size) return u;
    if (u > std::uint64_t{1'000'000'000}) return bad("is too large");
    return u * 1000;  // durations are in milliseconds from here on
  }
  if (const auto* str = node.as_string()) {
    if (kind == KeyKind::size) return parse_size(str->get());
    auto d = parse_duration(str->get());
    if (!d) return std::move(d).error();
    return static_cast<std::uint64_t>(d.value().count());
  }
  return bad(kind == KeyKind::size ? "must be a number of bytes or a string like \"2G\""
                                   : "must be a number of seconds or a string like \"90s\"");
}

Result<MountOptions> parse_options_table(const toml::table& table, const std::string& path,
                                         const std::string& table_name, bool allow_url) {
  MountOptions options;
  for (const auto& [key, node] : table) {
    const std::string prefix = where(path, key.source());
    const std::string name(key.str());
    const KeySpec* spec = find_key(name);
    if (spec == nullptr || (!allow_url && name == "url")) {
      return bad(prefix + "unknown key '" + name + "' in [" + table_name + "]; known keys: " +
                 known_keys(allow_url));
    }
    switch (spec->kind) {
      case KeyKind::text: {
        const auto* str = node.as_string();
        if (str == nullptr || str->get().empty()) {
          return bad(prefix + "'" + name + "' in [" + table_name + "] must be a non-empty string");
        }
        *text_field(name, options) = str->get();
        break;
      }
      case KeyKind::flag: {
        const auto* boolean = node.as_boolean();
        if (boolean == nullptr) {
          return bad(prefix + "'" + name + "' in [" + table_name + "] must be true or false");
        }
        *flag_field(name, options) = boolean->get();
        break;
      }
      case KeyKind::duration_seconds:
      case KeyKind::duration_ms:
      case KeyKind::size: {
        auto value = number_or_text(node, spec->kind);
        if (!value) {
          return bad(prefix + "'" + name + "' in [" + table_name + "] " + value.error().message);
        }
        if (spec->kind == KeyKind::size) {
          options.cache_size = value.value();
        } else if (spec->kind == KeyKind::duration_ms) {
          options.idle_grace = std::chrono::milliseconds(static_cast<std::int64_t>(value.value()));
        } else {
          options.poll = std::chrono::duration_cast<std::chrono::seconds>(
              std::chrono::milliseconds(static_cast<std::int64_t>(value.value())));
        }
        break;
      }
    }
  }
  return options;
}

bool valid_account_name(std::string_view name) {
  if (name.empty()) return false;
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) == 0 && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

// "~/x" expanded and a relative path made absolute now: the daemon changes its working
// directory to "/" and reads some of these files (ca_file) only later.
std::string absolute_path(const std::string& path, const EnvLookup& env) {
  const std::string expanded = expand_home(path, env);
  std::error_code error;
  const auto absolute = std::filesystem::absolute(expanded, error);
  return error ? expanded : absolute.lexically_normal().string();
}

}  // namespace

net::Account MountSettings::to_account() const {
  net::Account account;
  apply_url(url, insecure_plaintext, account);
  account.ca_file = ca_file;
  account.fingerprint_sha256 = fingerprint;
  account.idle_grace = idle_grace;
  return account;
}

std::string default_config_path(const EnvLookup& env) {
  if (auto xdg = env("XDG_CONFIG_HOME"); xdg && xdg->front() == '/') {
    return *xdg + "/popfs/config.toml";
  }
  return home_directory(env) + "/.config/popfs/config.toml";
}

std::string default_cache_dir(const PopUrl& url, const EnvLookup& env) {
  std::string base;
  if (auto xdg = env("XDG_CACHE_HOME"); xdg && xdg->front() == '/') {
    base = *xdg;
  } else {
    base = home_directory(env) + "/.cache";
  }
  std::string user;
  for (const char c : url.user) {
    if (c == '/') {
      user += "%2F";
    } else if (c == '%') {
      user += "%25";
    } else {
      user += c;
    }
  }
  return base + "/popfs/" + user + "@" + url.host + ":" + std::to_string(url.port);
}

Result<ConfigFile> parse_config(std::string_view text, const std::string& path) {
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return bad(path + ":" + std::to_string(e.source().begin.line) + ": " +
               std::string(e.description()));
  }
  ConfigFile config;
  config.path = path;
  for (const auto& [key, node] : root) {
    const std::string prefix = where(path, key.source());
    const std::string name(key.str());
    if (name == "defaults") {
      const auto* table = node.as_table();
      if (table == nullptr) return bad(prefix + "'defaults' must be a table: [defaults]");
      auto options = parse_options_table(*table, path, "defaults", false);
      if (!options) return std::move(options).error();
      config.defaults = std::move(options).value();
    } else if (name == "accounts") {
      const auto* accounts = node.as_table();
      if (accounts == nullptr) return bad(prefix + "'accounts' must be a table: [accounts.NAME]");
      for (const auto& [account_key, account_node] : *accounts) {
        const std::string account_prefix = where(path, account_key.source());
        const std::string account(account_key.str());
        if (!valid_account_name(account)) {
          return bad(account_prefix + "account name '" + account +
                     "' may only contain letters, digits, '.', '-' and '_'");
        }
        const auto* table = account_node.as_table();
        if (table == nullptr) {
          return bad(account_prefix + "'accounts." + account + "' must be a table: [accounts." +
                     account + "]");
        }
        auto options = parse_options_table(*table, path, "accounts." + account, true);
        if (!options) return std::move(options).error();
        if (!options->url) {
          return bad(account_prefix + "account '" + account +
                     "' has no url (url = \"pop3s://USER@HOST\")");
        }
        if (auto url = parse_url(*options->url); !url) {
          return bad(account_prefix + "account '" + account + "': " + url.error().message);
        }
        config.accounts.emplace(account, std::move(options).value());
      }
    } else {
      return bad(prefix + "unknown key '" + name +
                 "' at the top level; expected [defaults] or [accounts.NAME]");
    }
  }
  return config;
}

Result<ConfigFile> load_config(const std::string& path, bool must_exist) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT && !must_exist) return ConfigFile{};
    return bad("cannot read config file " + path + ": " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return bad("cannot read config file " + path + ": not a regular file");
  }
  std::string content;
  std::array<char, 8192> buffer{};
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return bad("cannot read config file " + path + ": " + std::strerror(err));
    }
    if (n == 0) break;
    content.append(buffer.data(), static_cast<std::size_t>(n));
    if (content.size() > 1024 * 1024) {
      ::close(fd);
      return bad("config file " + path + " is larger than 1 MiB");
    }
  }
  ::close(fd);
  return parse_config(content, path);
}

Result<std::string> normalize_fingerprint(std::string_view text) {
  std::string_view hex = text;
  const auto colon = text.find(':');
  // "AB:CD:..." is hex with separators; anything else before a colon names an algorithm.
  if (colon != std::string_view::npos && colon != 2) {
    std::string algo(text.substr(0, colon));
    for (char& c : algo) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (algo != "sha256") {
      return bad("fingerprint '" + std::string(text) + "': only sha256 fingerprints are supported (sha256:HEX)");
    }
    hex = text.substr(colon + 1);
  }
  std::string out;
  for (const char c : hex) {
    if (c == ':') continue;
    if (std::isxdigit(static_cast<unsigned char>(c)) == 0) {
      return bad("fingerprint '" + std::string(text) + "' is not hexadecimal; expected sha256:<64 hex digits>");
    }
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (out.size() != 64) {
    return bad("fingerprint '" + std::string(text) + "' has " + std::to_string(out.size()) +
               " hex digits; a sha256 fingerprint has 64");
  }
  return out;
}

Result<MountSettings> resolve_mount_settings(std::string_view source,
                                             const MountOptions& command_line,
                                             const ConfigFile& config, const EnvLookup& env) {
  MountSettings settings;
  settings.source = std::string(source);
  MountOptions merged = config.defaults;

  if (looks_like_url(source)) {
    auto url = parse_url(source);
    if (!url) return std::move(url).error();
    settings.url = std::move(url).value();
  } else {
    const auto found = config.accounts.find(source);
    if (found == config.accounts.end()) {
      std::string msg = "'" + std::string(source) + "' is neither a URL (pop3s://USER@HOST) nor an account";
      if (config.path.empty()) {
        msg += " (no config file was found at " + default_config_path(env) + ")";
      } else if (config.accounts.empty()) {
        msg += " (" + config.path + " defines no accounts)";
      } else {
        msg += " in " + config.path + " (accounts:";
        for (const auto& [name, unused] : config.accounts) msg += " " + name;
        msg += ")";
      }
      return bad(msg);
    }
    settings.account_name = found->first;
    merged.overlay(found->second);
    auto url = parse_url(*found->second.url);
    if (!url) return std::move(url).error();
    settings.url = std::move(url).value();
  }
  merged.overlay(command_line);

  if (merged.oauth_token_command && (merged.password_command || merged.password_file)) {
    return bad("both an OAuth token command and a password source are set; use only one of "
               "oauth_token_command and password_command/password_file");
  }
  settings.password_command = merged.password_command;
  if (merged.password_file) settings.password_file = absolute_path(*merged.password_file, env);
  settings.oauth_token_command = merged.oauth_token_command;

  if (merged.ca_file) {
    settings.ca_file = absolute_path(*merged.ca_file, env);
    if (::access(settings.ca_file.c_str(), R_OK) != 0) {
      return bad("cannot read CA file " + settings.ca_file + ": " + std::strerror(errno));
    }
  }
  if (merged.fingerprint) {
    auto fp = normalize_fingerprint(*merged.fingerprint);
    if (!fp) return std::move(fp).error();
    settings.fingerprint = std::move(fp).value();
  }
  settings.cache_dir = merged.cache_dir ? absolute_path(*merged.cache_dir, env)
                                        : default_cache_dir(settings.url, env);
  settings.foreground = merged.foreground.value_or(false);
  settings.debug = merged.debug.value_or(false);
  settings.read_only = merged.read_only.value_or(false);
  settings.lf = merged.lf.value_or(false);
  settings.maildir = merged.layout.value_or("flat") == "maildir";
  if (merged.layout && *merged.layout != "flat" && *merged.layout != "maildir") {
    return bad("layout must be \"flat\" or \"maildir\"");
  }
  settings.allow_other = merged.allow_other.value_or(false);
  settings.insecure_plaintext = merged.insecure_plaintext.value_or(false);
  settings.poll = merged.poll.value_or(kDefaultPoll);
  if (settings.poll.count() < 1) return bad("poll must be at least 1 second");
  if (merged.idle_grace) settings.idle_grace = *merged.idle_grace;
  settings.cache_size = merged.cache_size.value_or(kDefaultCacheSize);
  return settings;
}

}  // namespace popfs::app
