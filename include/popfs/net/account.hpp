#pragma once
// Everything needed to open a POP3 session to one account. Filled in by app/ from the URL,
// the config file and the command line.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "popfs/util/result.hpp"

namespace popfs::net {

enum class Security {
  implicit_tls,  // pop3s://, TLS from the first byte (port 995)
  stls,          // pop3://, STLS before any credential; refuse if the server lacks it
  plaintext,     // pop3:// with --insecure-plaintext: STLS if offered, else clear text
};

struct Account {
  std::string host;
  std::uint16_t port = 995;
  Security security = Security::implicit_tls;
  std::string user;

  // Called whenever a session must authenticate; the secret is used and dropped, never
  // logged or stored. Exactly one of the two is set.
  std::function<Result<std::string>()> password;
  std::function<Result<std::string>()> oauth_token;  // SASL XOAUTH2 / OAUTHBEARER

  std::string ca_file;             // PEM bundle to trust instead of the system CAs
  std::string fingerprint_sha256;  // pin: 64 lowercase hex digits, empty for none

  std::chrono::milliseconds connect_timeout{std::chrono::seconds(15)};
  std::chrono::milliseconds response_timeout{std::chrono::seconds(30)};
  // Minimum progress (like curl's --speed-limit): while an answer is awaited, at least this
  // many bytes of it must arrive in every response_timeout, unless the answer ends first;
  // otherwise the connection fails with Errc::timeout ("server too slow"). response_timeout
  // alone only catches silence, so a server trickling a byte every few seconds would hold a
  // reader for ever. 1 KiB per 30 s (34 bytes/s) cuts trickles, never a slow link. 0: off.
  std::uint64_t min_progress_bytes = 1024;
  // Keep an idle session this long for more work, then QUIT so other clients can log in.
  std::chrono::milliseconds idle_grace{std::chrono::seconds(3)};
  bool pipelining = true;  // use PIPELINING when the server advertises it

  // "user@host:port", for messages and cache directory names.
  std::string display_name() const {
    return user + "@" + host + ":" + std::to_string(port);
  }
};

}  // namespace popfs::net
