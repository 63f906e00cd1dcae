#pragma once
// Account URLs: pop3s://USER@HOST[:PORT] (implicit TLS, port 995) and
// pop3://USER@HOST[:PORT] (port 110, STLS required unless --insecure-plaintext).

#include <cstdint>
#include <string>
#include <string_view>

#include "popfs/net/account.hpp"
#include "popfs/util/result.hpp"

namespace popfs::app {

struct PopUrl {
  std::string user;  // percent-decoded
  std::string host;  // without the brackets of an IPv6 literal
  std::uint16_t port = 995;
  // implicit_tls for pop3://s, stls for pop3:// (to_account() relaxes it to plaintext
  // when --insecure-plaintext is given).
  net::Security security = net::Security::implicit_tls;
};

// Parses a URL. Errors (Errc::invalid_argument) say what is wrong and how a correct URL
// looks; a password in the URL is refused and the message names the safe alternatives.
Result<PopUrl> parse_url(std::string_view text);

// True when `text` has a "scheme://" prefix, i.e. is meant as a URL and not an account name.
bool looks_like_url(std::string_view text);

// Canonical form: pop3s://alice%40example.com@[::1]:995 (user re-encoded, port always shown).
std::string format_url(const PopUrl& url);

// Copies host, port, security and user into `account`. With insecure_plaintext a pop3://
// URL becomes Security::plaintext (STLS is still used when the server offers it).
void apply_url(const PopUrl& url, bool insecure_plaintext, net::Account& account);

}  // namespace popfs::app
