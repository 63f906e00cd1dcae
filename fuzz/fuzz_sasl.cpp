// libFuzzer target for what popfs reads during a SASL login: the server's "+ " challenges
// (pop3::Session's SASL state, src/pop3/status.cpp continuations), their base64
// (src/pop3/sasl.cpp base64_decode) and the APOP timestamp of the greeting.
//
// Input: byte 0: low 2 bits the mechanism (PLAIN with or without initial response, LOGIN,
// XOAUTH2), next 3 bits the piece size; the rest is what the server sends from its greeting
// on. The session answers every challenge as the net layer does. Properties:
// - the exchange (events, states) is the same whole and split into pieces;
// - a client line is accepted exactly once after each challenge; +OK ends the exchange in
//   TRANSACTION, -ERR in AUTHORIZATION with a login category;
// - base64_decode accepts exactly RFC 4648 text with padding, its output has the length the
//   text implies and encodes back to the text (up to unused low bits of the last symbol),
//   decoding is piecewise at quad boundaries, and decode(encode(x)) == x for any bytes;
// - the APOP timestamp is a "<...@...>" run of the greeting without blanks.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "popfs/pop3/command.hpp"
#include "popfs/pop3/sasl.hpp"
#include "popfs/pop3/session.hpp"

namespace {

using popfs::Errc;
using popfs::fuzz::check;
namespace pop3 = popfs::pop3;

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// RFC 4648 section 4 with padding, written as the grammar: quads of alphabet symbols, the
// last one may end in "=" or "==".
bool is_valid_base64(std::string_view text) {
  if (text.size() % 4 != 0) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool in_last_quad = i + 4 >= text.size();
    if (text[i] == '=') {
      const std::size_t k = i % 4;
      if (!in_last_quad || k < 2) return false;
      if (k == 2 && text[i + 1] != '=') return false;
      continue;
    }
    if (kAlphabet.find(text[i]) == std::string_view::npos) return false;
  }
  return true;
}

void check_base64(std::string_view text, std::size_t split_hint) {
  const auto decoded = pop3::base64_decode(text);
  check(decoded.ok() == is_valid_base64(text), "base64_decode accepts exactly padded RFC 4648 text");
  if (!decoded) {
    check(decoded.error().code == Errc::protocol_violation, "bad base64 is a protocol violation");
    return;
  }
  std::size_t padding = 0;
  while (padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
  check(decoded->size() == text.size() / 4 * 3 - padding, "the decoded length is what the text implies");

  const std::string again = pop3::base64_encode(*decoded);
  check(again.size() == text.size(), "re-encoding keeps the length");
  // The last symbol before the padding may carry unused low bits; all others must match.
  const std::size_t exact = text.size() - padding - (padding > 0 ? 1 : 0);
  check(again.compare(0, exact, text.substr(0, exact)) == 0, "re-encoding gives the text back");

  // Quads decode independently: a cut at a quad boundary before any padding changes nothing.
  const std::size_t quads = (text.size() - padding) / 4;
  if (quads > 0) {
    const std::size_t cut = (split_hint % quads) * 4;
    const auto head = pop3::base64_decode(text.substr(0, cut));
    const auto tail = pop3::base64_decode(text.substr(cut));
    check(head && tail && *head + *tail == *decoded, "decoding is piecewise at quad boundaries");
  }
}

void check_round_trip(std::string_view bytes) {
  const std::string encoded = pop3::base64_encode(bytes);
  check(encoded.size() == (bytes.size() + 2) / 3 * 4, "base64 length");
  const auto decoded = pop3::base64_decode(encoded);
  check(decoded && *decoded == bytes, "decode(encode(x)) == x");
}

void check_apop_timestamp(std::string_view greeting_text) {
  const auto stamp = pop3::apop_timestamp(greeting_text);
  if (!stamp) return;
  check(stamp->size() >= 3 && stamp->front() == '<' && stamp->back() == '>', "a timestamp is bracketed");
  check(stamp->find('@') != std::string::npos, "a timestamp holds an @");
  check(stamp->find_first_of(" \t") == std::string::npos, "a timestamp holds no blank");
  check(greeting_text.find(*stamp) == greeting_text.find('<'), "the timestamp starts at the first <");
  const std::string digest = pop3::apop_digest(*stamp, "secret");
  check(digest.size() == 32 && digest.find_first_not_of("0123456789abcdef") == std::string::npos,
        "an APOP digest is 32 lowercase hex digits");
}

pop3::Command auth_command(unsigned mechanism) {
  switch (mechanism) {
    case 0: return pop3::Command::auth("PLAIN", pop3::sasl_plain("user", "secret"));
    case 1: return pop3::Command::auth("PLAIN");
    case 2: return pop3::Command::auth("LOGIN");
    default: return pop3::Command::auth("XOAUTH2");
  }
}

// Runs the login over `bytes` fed `piece` bytes at a time (0: at once); returns a transcript.
std::string exchange(std::string_view bytes, unsigned mechanism, std::size_t piece) {
  pop3::Session session(/*tls_active=*/true);
  std::string out;
  std::size_t pos = 0;
  bool auth_sent = false;
  while (true) {
    const std::size_t n = piece == 0 ? bytes.size() - pos : std::min(piece, bytes.size() - pos);
    std::string_view in = bytes.substr(pos, n);
    pos += n;
    bool stop = false;
    for (int guard = 0;; ++guard) {
      check(guard < 100'000, "consume() makes progress");
      auto step = session.consume(in);
      check(step.consumed <= in.size(), "consume() uses at most its input");
      in.remove_prefix(step.consumed);
      const auto& event = step.event;
      using Kind = pop3::SessionEvent::Kind;
      if (event.kind == Kind::need_more) break;
      if (event.kind == Kind::idle || event.kind == Kind::error) {
        out += event.kind == Kind::idle ? "|idle" : "|error";
        stop = true;
        break;
      }
      check(event.kind == Kind::status, "a login has no multi-line answers");
      const auto& status = event.status;
      out += "|" + std::string(pop3::command_name(event.command)) + ":" +
             std::to_string(static_cast<int>(status.kind)) + ":" + status.text;
      if (event.command == pop3::CommandKind::greeting) {
        if (!status.ok()) {
          check(session.state() == pop3::SessionState::closed, "a -ERR greeting closes the session");
          continue;
        }
        check_apop_timestamp(status.text);
        if (session.apop_timestamp()) {
          check(status.text.find(*session.apop_timestamp()) != std::string::npos,
                "the session keeps the greeting's timestamp");
        }
        check(session.send(auth_command(mechanism)).ok(), "AUTH is accepted after the greeting");
        check(session.in_sasl_exchange(), "AUTH starts the exchange");
        check(!session.send(pop3::Command::auth_response("x")).ok(),
              "no client line before the first challenge");
        auth_sent = true;
        continue;
      }
      check(auth_sent, "only AUTH gets answers");
      if (status.continuation()) {
        check(session.in_sasl_exchange(), "a challenge continues the exchange");
        check_base64(status.text, pos);
        const auto challenge = pop3::base64_decode(status.text);
        // LOGIN answers with a name, XOAUTH2 with an empty line after an error challenge.
        const std::string reply = challenge ? pop3::base64_encode(*challenge) : std::string("*");
        check(session.send(pop3::Command::auth_response(reply)).ok(), "one client line per challenge");
        check(!session.send(pop3::Command::auth_response(reply)).ok(), "only one client line per challenge");
        continue;
      }
      check(!session.in_sasl_exchange(), "+OK or -ERR ends the exchange");
      if (status.ok()) {
        check(session.state() == pop3::SessionState::transaction, "+OK to AUTH logs in");
      } else {
        check(session.state() == pop3::SessionState::authorization, "-ERR to AUTH stays logged out");
        check(event.error.has_value(), "-ERR carries an error");
        const Errc c = event.error->code;
        check(c == Errc::auth_failed || c == Errc::in_use || c == Errc::login_delay || c == Errc::temporary ||
                  c == Errc::permanent,
              "a refused AUTH has a login category");
      }
      // Nothing more is sent: any further bytes are unsolicited.
    }
    if (stop || pos >= bytes.size()) break;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const unsigned mechanism = data[0] & 3;
  const std::size_t piece = (data[0] >> 2) & 7;
  const std::string_view bytes = popfs::fuzz::as_text(data + 1, size - 1);

  const std::string whole = exchange(bytes, mechanism, 0);
  const std::string split = exchange(bytes, mechanism, piece == 0 ? 1 : piece);
  check(whole == split, "the login goes the same whole and in pieces");

  // The raw bytes as one challenge, and as bytes to encode.
  const std::string_view first_line = bytes.substr(0, bytes.find_first_of("\r\n"));
  check_base64(first_line, size);
  check_round_trip(bytes);
  check_apop_timestamp(first_line);
  return 0;
}
