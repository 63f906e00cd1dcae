#pragma once
// The control socket of a running mount: how `popfs status|refresh|sync|umount MOUNTPOINT`
// reach the daemon serving MOUNTPOINT. A Unix stream socket, private to the user (its
// directory is 0700), named after the mountpoint's real path:
//   root: /run/popfs/<hash>.sock; others: /run/user/<uid>/popfs/<hash>.sock, or
//   /tmp/popfs-<uid>/<hash>.sock when there is no /run/user/<uid>.
// Protocol: the client sends one command line ("status", "refresh", "sync", "umount");
// the daemon answers with lines, the last of which is "ok" or "error <exit code> <message>".
// Lines before it are "key: value" pairs (status) or "progress ..." lines (sync).

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "popfs/util/result.hpp"

namespace popfs::app {

// The mountpoint as an absolute path, symlinks resolved where possible. The mountpoint of a
// daemon that died answers ENOTCONN and cannot be resolved; its lexical absolute path is
// used then, so it can still be found and unmounted.
std::string resolve_mountpoint(const std::string& mountpoint);

// The socket path for a mountpoint (resolved with resolve_mountpoint first).
Result<std::string> control_socket_path(const std::string& mountpoint);

// Writes reply lines to the connected client; safe to use until the handler returns.
class ControlReply {
 public:
  virtual ~ControlReply() = default;
  virtual void line(std::string_view text) = 0;
};

class ControlServer {
 public:
  using Handler = std::function<void(const std::string& command, ControlReply& reply)>;
  // Listens on `socket_path` (replacing a stale socket) and serves each client on its own
  // thread, calling handler once per command.
  static Result<std::unique_ptr<ControlServer>> start(const std::string& socket_path, Handler handler);
  virtual ~ControlServer() = default;  // stops listening and removes the socket file
};

// Sends `command` to the daemon serving `mountpoint` and passes each reply line to on_line
// (the final "ok"/"error" line excluded). Returns the final line's verdict: ok, or an Error
// whose message is the daemon's. Errc::not_found if no popfs daemon serves the mountpoint.
Result<void> control_request(const std::string& mountpoint, const std::string& command,
                             const std::function<void(std::string_view)>& on_line,
                             int* exit_code = nullptr);

}  // namespace popfs::app
