// popfs umount / status / refresh / sync / cache: clients of a running daemon's control
// socket, or (sync, cache) direct users of an account's cache and server.

#include "commands.hpp"

#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "account_stack.hpp"
#include "popfs/fuse/mountpoint.hpp"
#include "popfs/app/command.hpp"
#include "popfs/app/control.hpp"
#include "popfs/app/credentials.hpp"
#include "popfs/app/exit_code.hpp"
#include "popfs/app/logging.hpp"
#include "status_format.hpp"

namespace popfs::app {
namespace {

constexpr std::chrono::seconds kUnmountWait{30};

bool is_mounted(const std::string& mountpoint) { return fuse::is_mount_point(resolve_mountpoint(mountpoint)); }

// Unmounts without the daemon's help (it died, or never had a control socket).
Result<void> unmount_directly(const std::string& mountpoint) {
  if (::geteuid() == 0 && ::umount2(mountpoint.c_str(), 0) == 0) return {};
  auto ran = run_program({"fusermount3", "-u", mountpoint}, std::chrono::seconds(30));
  if (!ran) return std::move(ran).error();
  if (ran->exit_status != 0) return Error(Errc::io, "fusermount3 -u " + mountpoint + ": " + ran->err);
  return {};
}

int request_error(const Error& error, int code) {
  if (error.code == Errc::not_found) return fail(to_int(ExitCode::mount), error.message);
  return fail(code ? code : to_int(ExitCode::connection), error.message);
}

// Sends one request to the daemon serving `mountpoint` and prints every line it answers.
int print_answer(const std::string& mountpoint, std::string_view request) {
  int code = 0;
  const auto answer = control_request(mountpoint, std::string(request),
                                      [](std::string_view line) { std::printf("%.*s\n", static_cast<int>(line.size()), line.data()); },
                                      &code);
  if (!answer) return request_error(answer.error(), code);
  return to_int(ExitCode::ok);
}

}  // namespace

int fail(int code, const std::string& message) {
  std::fprintf(stderr, "popfs: %s\n", message.c_str());
  return code;
}

int run_umount(const std::string& mountpoint) {
  int code = 0;
  const auto answer = control_request(mountpoint, "umount", {}, &code);
  if (!answer && answer.error().code == Errc::not_found) {
    if (!is_mounted(mountpoint)) return fail(to_int(ExitCode::mount), mountpoint + " is not mounted");
    std::fprintf(stderr, "popfs: no daemon answers for %s; unmounting it anyway (pending deletions "
                         "stay queued in the cache for the next mount)\n", mountpoint.c_str());
    if (auto done = unmount_directly(mountpoint); !done) return fail(to_int(ExitCode::mount), done.error().message);
    return to_int(ExitCode::ok);
  }
  // The daemon unmounts after answering; wait until the kernel agrees.
  const auto deadline = std::chrono::steady_clock::now() + kUnmountWait;
  while (is_mounted(mountpoint)) {
    if (std::chrono::steady_clock::now() > deadline) {
      return fail(to_int(ExitCode::mount), mountpoint + " is still mounted (busy? close the files in use and retry)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!answer) return fail(code ? code : to_int(ExitCode::connection), "unmounted, but " + answer.error().message);
  return to_int(ExitCode::ok);
}

int run_status(const std::string& mountpoint) { return print_answer(mountpoint, "status"); }

int run_refresh(const std::string& mountpoint, bool now) {
  return print_answer(mountpoint, now ? "refresh --now" : "refresh");
}

int run_sync_mounted(const std::string& mountpoint) {
  ProgressPrinter printer(::isatty(STDOUT_FILENO) != 0);
  int code = 0;
  const auto answer = control_request(mountpoint, "sync",
                                      [&printer](std::string_view line) {
                                        if (auto progress = parse_progress_line(line)) printer.update(*progress);
                                      },
                                      &code);
  printer.finish();
  if (!answer) return request_error(answer.error(), code);
  return to_int(ExitCode::ok);
}

int run_sync_offline(const MountSettings& settings) {
  setup_logging({.debug = settings.debug, .daemon = false, .extra_sinks = {}});
  net::Account account = settings.to_account();
  if (auto attached = attach_credentials(settings, account, ::isatty(STDIN_FILENO) != 0); !attached) {
    return fail(to_int(exit_code_for(attached.error().code)), attached.error().message);
  }
  auto stack = build_account_stack(settings, account);
  if (!stack) return fail(to_int(exit_code_for(stack.error().code)), stack.error().message);
  if (auto contact = start_and_first_contact(**stack, account); !contact) {
    return fail(to_int(exit_code_for(contact.error().code)), contact.error().message);
  }
  ProgressPrinter printer(::isatty(STDOUT_FILENO) != 0);
  std::promise<Result<void>> promise;
  auto future = promise.get_future();
  (*stack)->filesystem->sync([&printer](fs::SyncProgress progress) { printer.update(progress); },
                             [&promise](Result<void> result) { promise.set_value(std::move(result)); });
  Result<void> result = future.get();
  printer.finish();
  // Deletions queued by an earlier mount are committed too, so the cache matches the server.
  if (auto flushed = (*stack)->filesystem->flush_deletions(std::chrono::seconds(60)); !flushed) {
    std::fprintf(stderr, "popfs: pending deletions stay queued: %s\n", flushed.error().message.c_str());
  }
  if (!result) return fail(to_int(exit_code_for(result.error().code)), result.error().message);
  return to_int(ExitCode::ok);
}

int run_cache_stats(const MountSettings& settings) {
  if (!std::filesystem::exists(settings.cache_dir)) {
    std::printf("cache: %s (none yet)\n", settings.cache_dir.c_str());
    return to_int(ExitCode::ok);
  }
  auto cache = store::Cache::open({.dir = settings.cache_dir, .body_cap_bytes = settings.cache_size});
  if (!cache) return fail(to_int(ExitCode::cache), cache.error().message);
  auto stats = (*cache)->stats();
  if (!stats) return fail(to_int(ExitCode::cache), stats.error().message);
  std::printf("cache: %s\n", settings.cache_dir.c_str());
  std::printf("messages: %llu\n", static_cast<unsigned long long>(stats->messages));
  std::printf("header stubs: %llu\n", static_cast<unsigned long long>(stats->stubs));
  std::printf("bodies: %llu\n", static_cast<unsigned long long>(stats->bodies));
  std::printf("body bytes: %llu (%s of %s)\n", static_cast<unsigned long long>(stats->body_bytes),
              human_bytes(stats->body_bytes).c_str(), human_bytes(stats->body_cap_bytes).c_str());
  std::printf("pending deletions: %llu\n", static_cast<unsigned long long>(stats->pending_deletions));
  return to_int(ExitCode::ok);
}

int run_cache_clear(const MountSettings& settings) {
  if (!std::filesystem::exists(settings.cache_dir)) return to_int(ExitCode::ok);
  auto cache = store::Cache::open({.dir = settings.cache_dir, .body_cap_bytes = settings.cache_size});
  if (!cache) return fail(to_int(ExitCode::cache), cache.error().message);
  // Bodies only: the listing, inode numbers and pending deletions must survive, or a later
  // mount would rename files and forget what rm asked for.
  if (auto cleared = (*cache)->clear_bodies(); !cleared) return fail(to_int(ExitCode::cache), cleared.error().message);
  std::printf("cleared cached message bodies in %s\n", settings.cache_dir.c_str());
  return to_int(ExitCode::ok);
}

}  // namespace popfs::app
