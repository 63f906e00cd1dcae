#pragma once
// Readiness notification for systemd (Type=notify units). Outside systemd (no
// $NOTIFY_SOCKET) every call does nothing.

#include <string_view>

namespace popfs::app {

// True when started by systemd with a notification socket.
bool running_under_systemd();

// "READY=1" (and "STATUS=<status>" if given): the mount is up.
void notify_ready(std::string_view status = {});

// "STATUS=<status>": free text shown by systemctl status.
void notify_status(std::string_view status);

// "STOPPING=1": shutting down (committing deletions, unmounting).
void notify_stopping();

}  // namespace popfs::app
