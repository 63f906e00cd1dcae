#pragma once
// Test helpers: feed bytes to a parser or session in many different splits and write down
// what came out, so every case is checked whole, byte by byte and with random splits.

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "popfs/pop3/response_parser.hpp"
#include "popfs/pop3/session.hpp"

namespace popfs::pop3::testing {

// A readable record of the events: "+OK text", "-ERR [CODE] text", "+ challenge",
// "BODY <all chunks of one body joined>", "END", "ERROR".
struct Transcript {
  std::vector<std::string> events;
  std::string rest;            // bytes left unconsumed when the parser went idle
  std::size_t max_chunk = 0;   // largest body chunk seen
  std::size_t chunks = 0;
};

inline std::string describe_status(const StatusLine& s) {
  std::string out = s.ok() ? "+OK" : s.err() ? "-ERR" : "+";
  if (s.code) out += " [" + s.code->text + "]";
  if (!s.text.empty() || s.continuation()) out += " " + s.text;
  return out;
}

// Splits: whole, one byte at a time, and random pieces of 1..max_piece bytes (fixed seeds).
inline std::vector<std::vector<std::string>> splittings(const std::string& bytes,
                                                        int random_seeds = 12,
                                                        std::size_t max_piece = 17) {
  std::vector<std::vector<std::string>> out;
  out.push_back({bytes});
  std::vector<std::string> singles;
  for (char c : bytes) singles.emplace_back(1, c);
  out.push_back(singles);
  for (int seed = 1; seed <= random_seeds; ++seed) {
    std::mt19937 rng(static_cast<std::uint32_t>(seed));
    std::uniform_int_distribution<std::size_t> len(1, max_piece);
    std::vector<std::string> pieces;
    std::size_t pos = 0;
    while (pos < bytes.size()) {
      std::size_t n = len(rng);
      pieces.push_back(bytes.substr(pos, n));
      pos += n;
    }
    out.push_back(pieces);
  }
  return out;
}

template <class Parser, class Step>
Transcript run_impl(Parser& parser, const std::vector<std::string>& pieces) {
  Transcript t;
  std::string body;
  bool in_body = false;
  bool stopped = false;
  for (std::size_t p = 0; p < pieces.size(); ++p) {
    std::string_view in = pieces[p];
    if (stopped) {
      t.rest += pieces[p];
      continue;
    }
    for (;;) {
      Step step = parser.consume(in);
      in.remove_prefix(step.consumed);
      const auto& ev = step.event;
      using K = ParseEvent::Kind;
      if (ev.kind == K::need_more) break;
      if (ev.kind == K::idle) {
        t.rest += std::string(in);
        stopped = true;
        break;
      }
      if (ev.kind == K::error) {
        t.events.push_back("ERROR");
        t.rest += std::string(in);
        stopped = true;
        break;
      }
      if (ev.kind == K::status) {
        t.events.push_back(describe_status(ev.status));
        in_body = !ev.complete;
        body.clear();
      } else if (ev.kind == K::body_chunk) {
        if (ev.data.empty()) t.events.push_back("EMPTY CHUNK");
        body += std::string(ev.data);
        ++t.chunks;
        if (ev.data.size() > t.max_chunk) t.max_chunk = ev.data.size();
      } else if (ev.kind == K::body_end) {
        if (!in_body) t.events.push_back("END WITHOUT BODY");
        t.events.push_back("BODY " + body);
        t.events.push_back("END");
        in_body = false;
      }
    }
  }
  // Events that need no more input (a body_end after the last chunk).
  if (!stopped) {
    for (;;) {
      Step step = parser.consume({});
      if (step.event.kind == ParseEvent::Kind::body_end) {
        t.events.push_back("BODY " + body);
        t.events.push_back("END");
        continue;
      }
      if (step.event.kind == ParseEvent::Kind::error) t.events.push_back("ERROR");
      break;
    }
  }
  return t;
}

inline Transcript run(ResponseParser& parser, const std::vector<std::string>& pieces) {
  return run_impl<ResponseParser, ParseStep>(parser, pieces);
}

inline Transcript run(Session& session, const std::vector<std::string>& pieces) {
  return run_impl<Session, SessionStep>(session, pieces);
}

}  // namespace popfs::pop3::testing
