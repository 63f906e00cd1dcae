// popfs: mount a POP3 mailbox as a directory of message files.

#include <unistd.h>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "commands.hpp"
#include "popfs/app/config.hpp"
#include "popfs/app/control.hpp"
#include "popfs/app/environment.hpp"
#include "popfs/app/exit_code.hpp"
#include "popfs/app/mount_helper.hpp"
#include "popfs/app/options.hpp"

#ifndef POPFS_VERSION
#define POPFS_VERSION "unknown"
#endif

namespace popfs::app {
namespace {

// Options shared by mount, sync and cache: how to reach and store an account.
struct ConnectionArgs {
  std::string password_file, password_command, oauth_token_command, ca_file, fingerprint, cache_dir;
  std::vector<std::string> option_strings;  // each -o argument
  bool foreground = false, debug = false, insecure_plaintext = false;

  void add_to(CLI::App& command, bool mount_only) {
    command.add_option("--password-file", password_file,
                       "Read the password from the first line of FILE (must not be group/world readable)");
    command.add_option("--password-command", password_command, "Run CMD and use the first line it prints as the password");
    command.add_option("--oauth-token-command", oauth_token_command,
                       "Run CMD for an OAuth2 access token (SASL XOAUTH2/OAUTHBEARER)");
    command.add_option("--ca-file", ca_file, "Trust the PEM certificates in FILE instead of the system CAs");
    command.add_option("--fingerprint", fingerprint, "Pin the server certificate: sha256:HEX");
    command.add_option("--cache-dir", cache_dir, "Cache directory (default $XDG_CACHE_HOME/popfs/USER@HOST:PORT)");
    command.add_flag("--insecure-plaintext", insecure_plaintext,
                     "Allow a pop3:// server without STLS (sends the password in clear text)");
    command.add_flag("-d,--debug", debug, "Log protocol-level detail (credentials masked)");
    command.add_option("-o", option_strings, "Mount options: ro, lf, poll=SECONDS, cache_size=SIZE, allow_other, ...")
        ->allow_extra_args(false);
    if (mount_only) command.add_flag("-f,--foreground", foreground, "Stay in the foreground, log to stderr");
  }

  Result<MountOptions> to_options() const {
    MountOptions options;
    for (const auto& text : option_strings) {
      if (auto applied = apply_mount_option_string(text, options); !applied) return std::move(applied).error();
    }
    if (!password_file.empty()) options.password_file = password_file;
    if (!password_command.empty()) options.password_command = password_command;
    if (!oauth_token_command.empty()) options.oauth_token_command = oauth_token_command;
    if (!ca_file.empty()) options.ca_file = ca_file;
    if (!fingerprint.empty()) options.fingerprint = fingerprint;
    if (!cache_dir.empty()) options.cache_dir = cache_dir;
    if (foreground) options.foreground = true;
    if (debug) options.debug = true;
    if (insecure_plaintext) options.insecure_plaintext = true;
    return options;
  }
};

Result<MountSettings> resolve(const std::string& source, const ConnectionArgs& args, const std::string& config_path) {
  auto options = args.to_options();
  if (!options) return std::move(options).error();
  const EnvLookup env = process_environment();
  const bool explicit_config = !config_path.empty();
  auto config = load_config(explicit_config ? config_path : default_config_path(env), explicit_config);
  if (!config) return std::move(config).error();
  return resolve_mount_settings(source, *options, *config, env);
}

bool has_daemon(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_directory(path, error)) return false;
  auto socket = control_socket_path(path);
  return socket && std::filesystem::exists(*socket, error);
}

int run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (auto rewritten = rewrite_mount_helper_args(args)) args = std::move(*rewritten);

  // The arguments are parsed from a vector (after the mount(8) rewrite), which does not carry
  // argv[0]: name the program here so usage lines read "Usage: popfs ...".
  CLI::App app{"popfs: a POP3 mailbox as a directory of message files", "popfs"};
  app.set_version_flag("--version", std::string("popfs ") + POPFS_VERSION);
  app.require_subcommand(1);
  std::string config_path;
  app.add_option("--config", config_path, "Config file (default $XDG_CONFIG_HOME/popfs/config.toml)");

  std::string source, mountpoint;
  ConnectionArgs connection;

  auto* mount = app.add_subcommand("mount", "Mount URL (pop3s://USER@HOST[:PORT]) or a named account at MOUNTPOINT");
  connection.add_to(*mount, true);
  mount->add_option("source", source, "pop3s://USER@HOST[:PORT], pop3://USER@HOST[:PORT] or an account name")->required();
  mount->add_option("mountpoint", mountpoint, "An existing empty directory")->required();

  auto* umount = app.add_subcommand("umount", "Commit pending deletions, then unmount");
  umount->add_option("mountpoint", mountpoint)->required();
  auto* status = app.add_subcommand("status", "Show account, messages, cache and errors of a mount");
  status->add_option("mountpoint", mountpoint)->required();
  auto* refresh = app.add_subcommand("refresh", "See new mail now");
  refresh->add_option("mountpoint", mountpoint)->required();
  bool refresh_now = false;
  refresh->add_flag("--now", refresh_now,
                    "Log in even while popfs holds logins back after a refused password (one attempt)");

  auto* sync = app.add_subcommand("sync", "Download every message into the cache (through the daemon if mounted)");
  connection.add_to(*sync, false);
  sync->add_option("target", source, "A popfs mountpoint, a URL or an account name")->required();

  auto* cache = app.add_subcommand("cache", "Inspect or clear an account's cache");
  cache->require_subcommand(1);
  auto* cache_stats = cache->add_subcommand("stats", "Show what the cache holds");
  auto* cache_clear = cache->add_subcommand("clear", "Drop cached message bodies (listing and pending deletions stay)");
  for (auto* command : {cache_stats, cache_clear}) {
    connection.add_to(*command, false);
    command->add_option("source", source, "A URL or an account name")->required();
  }

  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app.parse(reversed);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : to_int(ExitCode::usage);
  }

  if (*mount || *sync || *cache_stats || *cache_clear) {
    if (*sync && has_daemon(source)) return run_sync_mounted(source);
    auto settings = resolve(source, connection, config_path);
    if (!settings) return fail(to_int(exit_code_for(settings.error().code)), settings.error().message);
    if (*mount) return run_mount(*settings, mountpoint);
    if (*sync) return run_sync_offline(*settings);
    if (*cache_stats) return run_cache_stats(*settings);
    return run_cache_clear(*settings);
  }
  if (*umount) return run_umount(mountpoint);
  if (*status) return run_status(mountpoint);
  if (*refresh) return run_refresh(mountpoint, refresh_now);
  return to_int(ExitCode::usage);
}

}  // namespace
}  // namespace popfs::app

int main(int argc, char** argv) { return popfs::app::run(argc, argv); }
