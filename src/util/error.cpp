#include "popfs/util/error.hpp"

#include <cerrno>

namespace popfs {

std::string_view errc_name(Errc code) noexcept {
  switch (code) {
    case Errc::host_not_found: return "host_not_found";
    case Errc::connection_refused: return "connection_refused";
    case Errc::connection: return "connection";
    case Errc::tls_untrusted: return "tls_untrusted";
    case Errc::stls_unavailable: return "stls_unavailable";
    case Errc::auth_failed: return "auth_failed";
    case Errc::in_use: return "in_use";
    case Errc::login_delay: return "login_delay";
    case Errc::temporary: return "temporary";
    case Errc::permanent: return "permanent";
    case Errc::protocol_violation: return "protocol_violation";
    case Errc::timeout: return "timeout";
    case Errc::message_gone: return "message_gone";
    case Errc::unsupported: return "unsupported";
    case Errc::cancelled: return "cancelled";
    case Errc::not_found: return "not_found";
    case Errc::read_only: return "read_only";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::cache: return "cache";
    case Errc::io: return "io";
    case Errc::no_space: return "no_space";
    case Errc::not_permitted: return "not_permitted";
    case Errc::not_a_directory: return "not_a_directory";
    case Errc::access_denied: return "access_denied";
  }
  return "unknown";
}

int errc_to_errno(Errc code) noexcept {
  switch (code) {
    case Errc::message_gone:
    case Errc::not_found: return ENOENT;
    case Errc::read_only: return EROFS;
    case Errc::invalid_argument: return EINVAL;
    case Errc::no_space: return ENOSPC;
    case Errc::timeout: return ETIMEDOUT;
    case Errc::cancelled: return EINTR;
    case Errc::unsupported: return ENOTSUP;
    case Errc::auth_failed: return EACCES;
    case Errc::not_permitted: return EPERM;
    case Errc::not_a_directory: return ENOTDIR;
    case Errc::access_denied: return EACCES;
    default: return EIO;  // what a network filesystem reports for "could not get the data"
  }
}

std::string Error::describe() const {
  std::string out(errc_name(code));
  out += ": ";
  out += message;
  return out;
}

}  // namespace popfs
