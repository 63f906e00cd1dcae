// libFuzzer target for the CAPA parser (src/pop3/capabilities.cpp).
//
// Input: byte 0 picks the piece size for the ResponseParser pass; the rest is a CAPA body.
// Properties:
// - the body parsed directly, with bare LFs made CRLF, and as delivered by ResponseParser
//   (dot-stuffed, fed in pieces) gives the same result;
// - parsing is line by line: the whole body fails exactly when one of its lines fails alone,
//   and otherwise its entries are the lines' entries in order;
// - what comes out is well formed: names upper-case without blanks, arguments without blanks,
//   the convenience flags agree with the entries, SASL mechanisms unique and upper-case.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "popfs/pop3/capabilities.hpp"
#include "popfs/pop3/listing.hpp"

namespace {

using popfs::fuzz::check;
using popfs::pop3::Capabilities;
using popfs::pop3::Capability;

bool has_blank(std::string_view text) {
  return text.find_first_of(std::string_view(" \t", 2)) != std::string_view::npos;
}

// A canonical text form, to compare two parses.
std::string describe(const popfs::Result<Capabilities>& result) {
  if (!result) return "error";
  const Capabilities& caps = *result;
  std::string out;
  for (const auto& entry : caps.entries) {
    out += entry.name;
    for (const auto& arg : entry.args) out += "\x1f" + arg;
    out += '\x1e';
  }
  out += caps.top ? "T" : "-";
  out += caps.uidl ? "U" : "-";
  out += caps.user ? "u" : "-";
  out += caps.stls ? "S" : "-";
  out += caps.pipelining ? "P" : "-";
  out += caps.resp_codes ? "R" : "-";
  out += caps.auth_resp_code ? "A" : "-";
  for (const auto& mech : caps.sasl_mechanisms) out += "|" + mech;
  out += "|delay=" + (caps.login_delay_seconds ? std::to_string(*caps.login_delay_seconds) : "-");
  out += "|expire=" + caps.expire.value_or("-");
  out += "|impl=" + caps.implementation.value_or("-");
  return out;
}

void check_well_formed(const Capabilities& caps) {
  bool top = false, uidl = false, user = false, stls = false, pipelining = false;
  for (const Capability& entry : caps.entries) {
    check(!entry.name.empty() && !has_blank(entry.name), "a capability name is one word");
    check(entry.name == popfs::fuzz::ascii_upper(entry.name), "capability names are upper-cased");
    check(entry.name.find('\0') == std::string::npos, "no NUL in a capability");
    for (const auto& arg : entry.args) check(!arg.empty() && !has_blank(arg), "an argument is one word");
    top |= entry.name == "TOP";
    uidl |= entry.name == "UIDL";
    user |= entry.name == "USER";
    stls |= entry.name == "STLS";
    pipelining |= entry.name == "PIPELINING";
    check(caps.has(entry.name) && caps.has(popfs::fuzz::ascii_lower(entry.name)),
          "has() finds every entry, in any case");
  }
  check(caps.top == top && caps.uidl == uidl && caps.user == user && caps.stls == stls &&
            caps.pipelining == pipelining,
        "the flags agree with the entries");
  for (std::size_t i = 0; i < caps.sasl_mechanisms.size(); ++i) {
    const auto& mech = caps.sasl_mechanisms[i];
    check(mech == popfs::fuzz::ascii_upper(mech), "SASL mechanisms are upper-cased");
    check(caps.has_sasl(popfs::fuzz::ascii_lower(mech)), "has_sasl() ignores case");
    for (std::size_t j = i + 1; j < caps.sasl_mechanisms.size(); ++j) {
      check(caps.sasl_mechanisms[j] != mech, "SASL mechanisms are listed once");
    }
  }
  check(caps.login_delay_seconds.has_value() == caps.has("LOGIN-DELAY"),
        "LOGIN-DELAY is known exactly when it was listed");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t piece = data[0] % 17;  // 0: the whole response at once
  const std::string_view body = popfs::fuzz::as_text(data + 1, size - 1);

  const auto direct = popfs::pop3::parse_capabilities(body);
  const std::string expected = describe(direct);
  if (direct) check_well_formed(*direct);

  check(describe(popfs::pop3::parse_capabilities(popfs::fuzz::lf_to_crlf(body))) == expected,
        "bare LF and CRLF line endings parse alike");

  const auto delivered = popfs::fuzz::parse_multi_line(popfs::fuzz::multi_line_response(body), piece);
  check(delivered.has_value(), "ResponseParser delivers any dot-stuffed body");
  check(describe(popfs::pop3::parse_capabilities(*delivered)) == expected,
        "the body as ResponseParser delivers it parses like the body itself");

  // Line by line.
  std::vector<Capability> entries;
  bool any_failed = false;
  for (auto line : popfs::pop3::split_lines(body)) {
    // With its CRLF back: split_lines() removed one CR, a second one belongs to the line.
    auto alone = popfs::pop3::parse_capabilities(std::string(line) + "\r\n");
    if (!alone) {
      any_failed = true;
      continue;
    }
    check(alone->entries.size() <= 1, "one line holds at most one capability");
    for (auto& entry : alone->entries) entries.push_back(entry);
  }
  check(any_failed == !direct, "the body fails exactly when one of its lines fails");
  if (direct) {
    check(entries.size() == direct->entries.size(), "entries come from the lines, in order");
    for (std::size_t i = 0; i < entries.size(); ++i) {
      check(entries[i].name == direct->entries[i].name && entries[i].args == direct->entries[i].args,
            "entries come from the lines, in order");
    }
  }
  return 0;
}
