#include "popfs/app/systemd.hpp"

#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <string>

namespace popfs::app {
namespace {

void send(const std::string& state) {
  // sd_notify returns 0 without $NOTIFY_SOCKET; a failure to notify is not worth failing for.
  (void)::sd_notify(0, state.c_str());
}

std::string status_line(std::string_view status) {
  std::string line = "STATUS=";
  for (const char c : status) line += (c == '\n' ? ' ' : c);
  return line;
}

}  // namespace

bool running_under_systemd() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  return socket != nullptr && *socket != '\0';
}

void notify_ready(std::string_view status) {
  std::string state = "READY=1";
  if (!status.empty()) state += "\n" + status_line(status);
  send(state);
}

void notify_status(std::string_view status) { send(status_line(status)); }

void notify_stopping() { send("STOPPING=1"); }

}  // namespace popfs::app
