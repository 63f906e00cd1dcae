// popfs mount: resolve, authenticate, detach, mount, serve, and on the way out commit
// pending deletions.

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <thread>

#include "account_stack.hpp"
#include "commands.hpp"
#include "daemon.hpp"
#include "popfs/fuse/mountpoint.hpp"

#include <malloc.h>
#include "popfs/app/control.hpp"
#include "popfs/app/credentials.hpp"
#include "popfs/app/exit_code.hpp"
#include "popfs/app/logging.hpp"
#include "popfs/app/systemd.hpp"
#include "popfs/app/url.hpp"
#include "popfs/fuse/session.hpp"
#include "status_format.hpp"

namespace popfs::app {
namespace {

constexpr std::chrono::seconds kFlushTimeout{60};
constexpr std::chrono::minutes kSyncTimeout{24 * 60};

// Turns SIGINT/SIGTERM/SIGHUP into Session::stop() on a thread of its own (blocked in every
// other thread, so no handler runs in an arbitrary context).
class SignalStopper {
 public:
  static sigset_t handled_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);  // our own wake-up for shutting the thread down
    return set;
  }
  explicit SignalStopper(fuse::Session& session)
      : thread_([&session] {
          const sigset_t set = handled_signals();
          int signal_number = 0;
          while (sigwait(&set, &signal_number) == 0) {
            if (signal_number == SIGUSR1) return;
            spdlog::info("signal {}: unmounting", signal_number);
            session.stop();
          }
        }) {}
  ~SignalStopper() {
    pthread_kill(thread_.native_handle(), SIGUSR1);
    thread_.join();
  }

 private:
  std::thread thread_;
};

void handle_control(const std::string& command, ControlReply& reply, const MountSettings& settings,
                    const std::string& mountpoint, fs::Filesystem& filesystem, fuse::Session& session) {
  if (command == "status") {
    for (const auto& line : format_status(settings, mountpoint, filesystem.status())) reply.line(line);
    reply.line("ok");
  } else if (command == "refresh" || command == "refresh --now") {
    auto promise = std::make_shared<std::promise<Result<void>>>();
    auto future = promise->get_future();
    filesystem.refresh([promise](Result<void> result) { promise->set_value(std::move(result)); },
                       command == "refresh --now");
    Result<void> result = future.get();
    reply.line("messages: " + std::to_string(filesystem.status().messages));
    reply.line(result ? std::string("ok")
                      : "error " + std::to_string(to_int(exit_code_for(result.error().code))) + " " +
                            result.error().message);
  } else if (command == "sync") {
    auto promise = std::make_shared<std::promise<Result<void>>>();
    auto future = promise->get_future();
    filesystem.sync([&reply](fs::SyncProgress progress) { reply.line(format_progress_line(progress)); },
                    [promise](Result<void> result) { promise->set_value(std::move(result)); });
    if (future.wait_for(kSyncTimeout) != std::future_status::ready) {
      reply.line("error 3 sync did not finish in time");
      return;
    }
    Result<void> result = future.get();
    reply.line(result ? std::string("ok")
                      : "error " + std::to_string(to_int(exit_code_for(result.error().code))) + " " +
                            result.error().message);
  } else if (command == "umount") {
    notify_stopping();
    const auto flushed = filesystem.flush_deletions(kFlushTimeout);
    const auto pending = filesystem.status().pending_deletions;
    if (flushed) {
      reply.line("ok");
    } else {
      reply.line("error " + std::to_string(to_int(exit_code_for(flushed.error().code))) + " " +
                 std::to_string(pending) + " deletion(s) could not be committed (" +
                 flushed.error().message + "); they stay queued in the cache for the next mount");
    }
    session.stop();
  } else {
    reply.line("error 1 unknown control command: " + command);
  }
}

}  // namespace

int run_mount(const MountSettings& settings, const std::string& mountpoint_arg) {
  auto mountpoint = fuse::check_mountpoint(mountpoint_arg);
  if (!mountpoint) return fail(to_int(ExitCode::mount), mountpoint.error().message);

  net::Account account = settings.to_account();
  if (auto attached = attach_credentials(settings, account, ::isatty(STDIN_FILENO) != 0); !attached) {
    return fail(to_int(exit_code_for(attached.error().code)), attached.error().message);
  }

  // Few malloc arenas: a daemon's threads (FUSE, executor, I/O) would otherwise each keep an
  // arena of freed memory as RSS.
  mallopt(M_ARENA_MAX, 2);
  std::optional<Detacher> detacher;
  if (!settings.foreground) detacher.emplace(Detacher::detach());
  setup_logging({.debug = settings.debug, .daemon = !settings.foreground, .extra_sinks = {}});
  const sigset_t signals = SignalStopper::handled_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread starts

  auto report = [&](int code, const std::string& message) {
    spdlog::error("{}", message);
    if (detacher) {
      detacher->failed(code, message);
    } else {
      std::fprintf(stderr, "popfs: %s\n", message.c_str());
    }
    return code;
  };

  auto stack = build_account_stack(settings, account);
  if (!stack) return report(to_int(exit_code_for(stack.error().code)), stack.error().message);
  if (auto contact = start_and_first_contact(**stack, account); !contact) {
    return report(to_int(exit_code_for(contact.error().code)), contact.error().message);
  }
  fs::Filesystem& filesystem = *(*stack)->filesystem;

  fuse::MountConfig config;
  config.mountpoint = *mountpoint;
  config.fsname = "popfs:" + account.display_name();
  config.allow_other = settings.allow_other;
  // A kernel read-only mount would refuse the Maildir flag renames too (they change nothing
  // on the server): with layout=maildir, -o ro is popfs's own refusal of unlink only.
  config.read_only = settings.read_only && !settings.maildir;
  config.debug = false;
  // Named before mounting: resolving the path afterwards would ask our own mount.
  auto socket_path = control_socket_path(*mountpoint);
  auto session = fuse::Session::mount(filesystem, config);
  if (!session) return report(to_int(ExitCode::mount), session.error().message);

  std::unique_ptr<ControlServer> control;
  if (!socket_path) {
    spdlog::warn("{} (popfs status/refresh/sync/umount will not reach this mount)", socket_path.error().message);
  } else {
    auto server = ControlServer::start(*socket_path, [&](const std::string& command, ControlReply& reply) {
      handle_control(command, reply, settings, *mountpoint, filesystem, **session);
    });
    if (server) {
      control = std::move(*server);
    } else {
      spdlog::warn("{} (popfs status/refresh/sync/umount will not reach this mount)", server.error().message);
    }
  }

  Result<void> served;
  {
    SignalStopper stopper(**session);
    served = (*session)->serve([&] {
      spdlog::info("mounted {} at {}", account.display_name(), *mountpoint);
      notify_ready("mounted " + account.display_name());
      if (detacher) detacher->ready();
    });
  }
  if (!served) return report(to_int(ExitCode::mount), served.error().message);

  // Unmounted (popfs umount, fusermount -u, or a signal): commit what rm asked for.
  notify_stopping();
  if (auto flushed = filesystem.flush_deletions(kFlushTimeout); !flushed) {
    spdlog::warn("pending deletions stay queued for the next mount: {}", flushed.error().message);
  }
  control.reset();
  session->reset();
  stack->reset();
  spdlog::info("unmounted {}", *mountpoint);
  return to_int(ExitCode::ok);
}

}  // namespace popfs::app
