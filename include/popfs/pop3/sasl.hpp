#pragma once
// SASL and APOP helpers (RFC 4648 base64, RFC 4616 PLAIN, the LOGIN mechanism, Google's
// XOAUTH2, RFC 7628 OAUTHBEARER, RFC 1939 APOP). All std-only: MD5 for APOP is implemented
// here (APOP is weak: use it only inside TLS, if at all).
//
// How an exchange looks with pop3::Session (the net layer drives it):
//   PLAIN:       send(Command::auth("PLAIN", sasl_plain(user, pass)))        -> +OK / -ERR
//                (or AUTH PLAIN, wait for "+ ", then auth_response(sasl_plain(...)))
//   LOGIN:       send(Command::auth("LOGIN")) -> "+ VXNlcm5hbWU6"
//                send(auth_response(base64_encode(user))) -> "+ UGFzc3dvcmQ6"
//                send(auth_response(base64_encode(pass))) -> +OK / -ERR
//   XOAUTH2:     send(Command::auth("XOAUTH2", sasl_xoauth2(user, token))); Microsoft 365
//                wants AUTH XOAUTH2 first and the response after its "+ " instead.
//                On failure the server sends "+ <base64 JSON error>": answer with
//                auth_response("") (an empty line) and the -ERR follows.
//   OAUTHBEARER: like XOAUTH2 with sasl_oauthbearer(); on failure answer the "+ " with
//                auth_response(sasl_oauthbearer_failure_ack()).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "popfs/util/result.hpp"

namespace popfs::pop3 {

std::string base64_encode(std::string_view bytes);
// Strict RFC 4648 decoding with padding; whitespace is not allowed.
// Errc::protocol_violation for invalid input (used on server challenges).
Result<std::string> base64_decode(std::string_view text);

// base64(authzid NUL authcid NUL password). authzid is usually empty.
std::string sasl_plain(std::string_view authcid, std::string_view password,
                       std::string_view authzid = {});
// base64("user=" user ^A "auth=Bearer " token ^A ^A)
std::string sasl_xoauth2(std::string_view user, std::string_view access_token);
// base64("n,a=" user "," ^A "host=" host ^A "port=" port ^A "auth=Bearer " token ^A ^A);
// ',' and '=' in user are escaped as "=2C" and "=3D" (RFC 5801 saslname).
std::string sasl_oauthbearer(std::string_view user, std::string_view host, std::uint16_t port,
                             std::string_view access_token);
// What a client sends to an OAUTHBEARER error challenge: base64 of a single ^A.
std::string sasl_oauthbearer_failure_ack();

// The APOP timestamp "<...>" (brackets included) from a greeting's text, if any.
std::optional<std::string> apop_timestamp(std::string_view greeting_text);
// Lowercase hex MD5(timestamp + secret), the APOP digest (timestamp with its brackets).
std::string apop_digest(std::string_view timestamp, std::string_view secret);
// Lowercase hex MD5 of bytes (exposed for tests).
std::string md5_hex(std::string_view bytes);

}  // namespace popfs::pop3
