#pragma once
// Logging setup and secret masking for protocol traces.
//
// setup_logging() installs the default spdlog logger: stderr while in the foreground,
// syslog (ident "popfs", facility daemon) once daemonized; level info, debug with -d. When
// stderr is connected to the systemd journal ($JOURNAL_STREAM), lines carry "<N>" priority
// prefixes so journalctl shows warnings and errors as such.
// Code everywhere then logs with spdlog::info(...) etc.

#include <string>
#include <string_view>
#include <vector>

#include <spdlog/common.h>

namespace popfs::app {

struct LogSetup {
  bool debug = false;   // -d: level debug (protocol lines, masked)
  bool daemon = false;  // true: syslog, false: stderr
  // Additional sinks (tests capture output here).
  std::vector<spdlog::sink_ptr> extra_sinks;
};

void setup_logging(const LogSetup& setup);

// Masks the secret part of one client protocol line, keeping the rest readable:
//   PASS xxx              -> PASS ****
//   AUTH PLAIN <b64>      -> AUTH PLAIN ****   (any mechanism with an initial response)
//   APOP user <digest>    -> APOP user ****
// Other lines come back unchanged (a trailing CRLF is kept).
std::string mask_secrets(std::string_view client_line);

// Stateful masking for one connection: after a client "AUTH <mech>", every client line is a
// SASL response and is masked completely until the server ends the exchange with +OK/-ERR.
class ProtocolMasker {
 public:
  std::string client_line(std::string_view line);
  void server_line(std::string_view line);
  bool in_sasl_exchange() const { return in_sasl_; }

 private:
  bool in_sasl_ = false;
};

}  // namespace popfs::app
