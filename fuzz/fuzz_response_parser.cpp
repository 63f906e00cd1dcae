// libFuzzer target for the POP3 response parser and the parsers fed from it.
//
// Input layout: byte 0 picks the expected response shapes, byte 1 the split size; the rest
// is server bytes. The same bytes are parsed whole and in pieces, and both transcripts
// must agree; every body chunk must obey the parser's promises (CRLF only, bounded).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "popfs/pop3/capabilities.hpp"
#include "popfs/pop3/command.hpp"
#include "popfs/pop3/listing.hpp"
#include "popfs/pop3/response_parser.hpp"
#include "popfs/pop3/sasl.hpp"
#include "popfs/pop3/session.hpp"

namespace {

using popfs::pop3::ParseEvent;
using popfs::pop3::ParserLimits;
using popfs::pop3::ResponseParser;
using popfs::pop3::ResponseShape;

void check(bool condition) {
  if (!condition) std::abort();
}

void check_chunk(std::string_view data, const ParserLimits& limits) {
  check(!data.empty());
  check(data.size() <= limits.max_chunk_bytes + 1);
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (data[i] == '\n') check(i > 0 && data[i - 1] == '\r');
  }
}

std::string transcript(std::string_view bytes, std::uint8_t shapes_byte, std::size_t piece,
                       const ParserLimits& limits) {
  ResponseParser parser(limits);
  for (int i = 0; i < 4; ++i) {
    parser.expect(static_cast<ResponseShape>(((shapes_byte >> (2 * i)) & 3) % 3));
  }
  std::string out;
  std::string body;
  std::size_t pos = 0;
  while (true) {
    const std::size_t n = piece == 0 ? bytes.size() - pos : std::min(piece, bytes.size() - pos);
    std::string_view in = bytes.substr(pos, n);
    pos += n;
    bool stop = false;
    for (int guard = 0;; ++guard) {
      check(guard < 1'000'000);  // every call must make progress or stop
      auto step = parser.consume(in);
      check(step.consumed <= in.size());
      in.remove_prefix(step.consumed);
      const auto& ev = step.event;
      if (ev.kind == ParseEvent::Kind::need_more) {
        check(in.empty());
        break;
      }
      if (ev.kind == ParseEvent::Kind::idle) {
        check(step.consumed == 0);
        out += "|idle:" + std::string(in) + std::string(bytes.substr(pos));
        stop = true;
        break;
      }
      if (ev.kind == ParseEvent::Kind::error) {
        check(ev.error.has_value());
        out += "|error";
        stop = true;
        break;
      }
      if (ev.kind == ParseEvent::Kind::status) {
        out += "|status:" + std::to_string(static_cast<int>(ev.status.kind)) + ":" +
               (ev.status.code ? ev.status.code->text : "-") + ":" + ev.status.text;
        check(ev.status.text.find('\n') == std::string::npos);
        body.clear();
      } else if (ev.kind == ParseEvent::Kind::body_chunk) {
        check_chunk(ev.data, limits);
        body.append(ev.data);
      } else if (ev.kind == ParseEvent::Kind::body_end) {
        out += "|body:" + body;
        // What the multi-line parsers would see; they must not crash on anything.
        (void)popfs::pop3::parse_uidl_listing(body);
        (void)popfs::pop3::parse_list_listing(body);
        (void)popfs::pop3::parse_capabilities(body);
      }
    }
    if (stop || pos >= bytes.size()) break;
  }
  return out;
}

void fuzz_session(std::string_view bytes) {
  popfs::pop3::Session session;
  std::string_view in = bytes;
  bool sent_login = false;
  for (int guard = 0; guard < 100000; ++guard) {
    auto step = session.consume(in);
    check(step.consumed <= in.size());
    in.remove_prefix(step.consumed);
    const auto kind = step.event.kind;
    if (kind == ParseEvent::Kind::need_more || kind == ParseEvent::Kind::error) break;
    if (kind == ParseEvent::Kind::idle) {
      // Drive the session on so more of the input gets parsed as answers.
      if (!sent_login && session.greeted()) {
        (void)session.send(popfs::pop3::Command::user("u"));
        (void)session.send(popfs::pop3::Command::pass("p"));
        sent_login = true;
      } else if (session.state() == popfs::pop3::SessionState::transaction) {
        (void)session.send(popfs::pop3::Command::uidl());
        (void)session.send(popfs::pop3::Command::retr(1));
        (void)session.send(popfs::pop3::Command::uidl(1));
      } else {
        break;
      }
      continue;
    }
    if (kind == ParseEvent::Kind::status) {
      if (step.event.status.continuation()) (void)popfs::pop3::base64_decode(step.event.status.text);
      if (step.event.status.ok() && step.event.complete) {
        (void)popfs::pop3::parse_uidl_single(step.event.status.text);
        (void)popfs::pop3::parse_stat(step.event.status.text);
      }
    }
  }
}

// Whatever the argument, an encoded command is one line: CR, LF and NUL only in its CRLF.
void fuzz_encoder(std::string_view bytes) {
  using popfs::pop3::Command;
  const std::string arg(bytes.substr(0, 512));
  for (const Command& command :
       {Command::user(arg), Command::pass(arg), Command::auth(arg), Command::auth("PLAIN", arg),
        Command::auth_response(arg), Command::apop(arg, arg)}) {
    auto line = popfs::pop3::encode(command);
    if (!line) continue;
    const std::string& out = *line;
    check(out.size() >= 2 && out.compare(out.size() - 2, 2, "\r\n") == 0);
    check(out.find_first_of(std::string_view("\r\n\0", 3)) == out.size() - 2);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t shapes = data[0];
  const std::size_t piece = data[1] % 8;  // 0: whole input at once
  std::string_view bytes(reinterpret_cast<const char*>(data + 2), size - 2);

  ParserLimits limits;
  limits.max_line_bytes = 600;       // small so the fuzzer reaches the bounds
  limits.max_response_bytes = 4096;
  limits.max_chunk_bytes = 1 + (data[1] >> 3);  // 1..32: chunk boundaries everywhere

  const std::string whole = transcript(bytes, shapes, 0, limits);
  const std::string split = transcript(bytes, shapes, piece == 0 ? 1 : piece, limits);
  check(whole == split);

  fuzz_session(bytes);
  fuzz_encoder(bytes);
  return 0;
}
