#pragma once
// One error type for every layer: a category that code can branch on, a message a user can
// read, and the errno the FUSE adapter replies with.

#include <string>
#include <string_view>

namespace popfs {

enum class Errc {
  // Network and POP3 (see doc/SEMANTICS.md, "Errors a user must be able to read").
  host_not_found = 1,
  connection_refused,
  connection,          // any other connect/read/write failure, including a cut connection
  tls_untrusted,       // chain, host name or fingerprint did not verify
  stls_unavailable,    // pop3:// server does not offer STLS and plaintext was not allowed
  auth_failed,
  in_use,              // [IN-USE]: another client holds the maildrop lock
  login_delay,         // [LOGIN-DELAY]: logged in too recently
  temporary,           // [SYS/TEMP] or another transient server failure
  permanent,           // [SYS/PERM] or a server refusal that retrying will not fix
  protocol_violation,  // the server said something that is not POP3, or too much of it
  timeout,
  message_gone,        // the UIDL is not in the server's current snapshot
  unsupported,         // the server lacks a needed command (e.g. UIDL)
  cancelled,
  // Local.
  not_found,
  read_only,
  invalid_argument,
  cache,               // LMDB or cache file failure
  io,                  // local file system failure
  no_space,
  not_permitted,       // refused on purpose, e.g. deleting one of two messages sharing a UIDL
  not_a_directory,     // a path goes through a file as if it were a directory
  access_denied,       // the caller may not do this (EACCES)
};

std::string_view errc_name(Errc code) noexcept;

// The errno a FUSE reply uses for this kind of failure.
int errc_to_errno(Errc code) noexcept;

struct Error {
  Errc code;
  std::string message;  // what failed and, where it helps, what to do about it

  Error(Errc c, std::string msg) : code(c), message(std::move(msg)) {}
  int to_errno() const noexcept { return errc_to_errno(code); }
  // "<errc name>: <message>", for logs.
  std::string describe() const;
};

}  // namespace popfs
