#include "popfs/app/exit_code.hpp"

namespace popfs::app {

ExitCode exit_code_for(Errc code) noexcept {
  switch (code) {
    case Errc::auth_failed:
      return ExitCode::auth;
    case Errc::host_not_found:
    case Errc::connection_refused:
    case Errc::connection:
    case Errc::tls_untrusted:
    case Errc::stls_unavailable:
    case Errc::temporary:
    case Errc::permanent:
    case Errc::protocol_violation:
    case Errc::timeout:
    case Errc::unsupported:
    case Errc::message_gone:
      return ExitCode::connection;
    case Errc::in_use:
    case Errc::login_delay:
      return ExitCode::busy;
    case Errc::io:
      return ExitCode::mount;
    case Errc::cache:
    case Errc::no_space:
      return ExitCode::cache;
    case Errc::not_permitted:
    case Errc::not_a_directory:
    case Errc::access_denied:
    case Errc::cancelled:
    case Errc::not_found:
    case Errc::read_only:
    case Errc::invalid_argument:
      return ExitCode::usage;
  }
  return ExitCode::usage;
}

}  // namespace popfs::app
