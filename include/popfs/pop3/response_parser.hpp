#pragma once
// Incremental, sans-I/O parser for POP3 server responses.
//
// POP3 responses are not self-describing: whether a body follows "+OK" depends on the
// command. So the caller says what it expects (expect(shape)) for every response, in the
// order the commands were sent; the parser keeps that queue, so pipelined answers that
// arrive back to back in one read are matched in order. (pop3::Session does this for you:
// most code should use Session, not this class directly.)
//
// Usage (the loop every caller writes):
//
//   parser.expect(ResponseShape::multi_line);           // e.g. after sending "RETR 3"
//   std::string_view in = bytes_just_read;
//   for (;;) {
//     ParseStep step = parser.consume(in);
//     in.remove_prefix(step.consumed);
//     switch (step.event.kind) {
//       case ParseEvent::Kind::need_more: /* read more, then call again */ break;
//       case ParseEvent::Kind::status:    /* step.event.status; complete == no body */ continue;
//       case ParseEvent::Kind::body_chunk:/* step.event.data, valid until next consume */ continue;
//       case ParseEvent::Kind::body_end:  continue;
//       case ParseEvent::Kind::idle:      /* nothing expected: `in` is unsolicited */ break;
//       case ParseEvent::Kind::error:     /* step.event.error; drop the connection */ break;
//     }
//     break;
//   }
//
// Guarantees:
// - Any split of the input works, down to one byte per call; the terminator "CRLF.CRLF" is
//   found wherever the reads split it.
// - Body data is streamed: memory use is bounded by limits.max_line_bytes (status lines are
//   buffered whole) plus limits.max_chunk_bytes (the body chunk being assembled), whatever
//   the size of the response.
// - Body data is dot-unstuffed (one leading '.' removed), has CRLF line endings (a bare LF
//   from the server becomes CRLF; a lone CR not before LF is passed through), and never
//   includes the terminating ".\r\n". Every delivered line, the last one included, ends in
//   CRLF.
// - consume() never consumes bytes past the end of the response it is working on, and
//   stops (event idle, consumed 0) when no response is expected: the rest of the buffer is
//   left for the next expect().
// - After an error the parser is poisoned: every later consume() returns the same error.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "popfs/pop3/status.hpp"
#include "popfs/util/error.hpp"

namespace popfs::pop3 {

enum class ResponseShape {
  // One status line: "+OK ..." or "-ERR ..." (greeting, USER, PASS, STAT, DELE, QUIT, ...).
  status,
  // A status line; after "+OK" a dot-terminated body follows (CAPA, LIST, UIDL, TOP, RETR).
  // After "-ERR" nothing follows.
  multi_line,
  // One status line that may also be a SASL continuation "+ <base64>" (AUTH and the lines
  // sent during its exchange). A continuation completes this response; expect again for
  // the server's answer to the client's next SASL line.
  status_or_continuation,
};

// The parser raises max_line_bytes to at least 512 (RFC 1939's status line) and
// max_chunk_bytes to at least 1.
struct ParserLimits {
  // Longest line accepted, status or body, without its line ending. RFC says 512 for
  // status lines and 1000 for mail, but real mail has far longer lines (at least 1 MiB).
  std::size_t max_line_bytes = 1024 * 1024;
  // Largest multi-line response, counted in bytes received (status line, body, terminator).
  // expect() may override it per response (e.g. from the LIST size of a RETR).
  std::uint64_t max_response_bytes = std::uint64_t{1} << 30;  // 1 GiB
  // Body chunks are delivered once they reach this size (or when the input runs out).
  std::size_t max_chunk_bytes = 64 * 1024;
};

struct ParseEvent {
  enum class Kind {
    need_more,   // all input consumed; call again with more bytes
    status,      // `status` is set; `complete` tells whether the response ends here
    body_chunk,  // `data`: the next piece of the body (never empty)
    body_end,    // the terminating "." line was seen; the response is complete
    idle,        // no response is expected: nothing consumed, the rest is not ours
    error,       // `error` is set (Errc::protocol_violation); the connection is unusable
  };
  Kind kind = Kind::need_more;
  StatusLine status;         // Kind::status
  bool complete = false;     // Kind::status: true if no body follows (single line or -ERR)
  std::string_view data;     // Kind::body_chunk; valid until the next consume() call
  std::optional<Error> error;  // Kind::error
};

struct ParseStep {
  std::size_t consumed = 0;  // bytes of the input used; remove them before the next call
  ParseEvent event;
};

class ResponseParser {
 public:
  explicit ResponseParser(ParserLimits limits = {});

  // Queue the shape of the next response (one call per command sent, in send order).
  // max_response_bytes overrides limits.max_response_bytes for this response only.
  void expect(ResponseShape shape, std::optional<std::uint64_t> max_response_bytes = {});

  // Parse from the front of `input`; at most one event per call. Call again (also with an
  // empty input) until need_more or idle: a pending body_end may follow a body_chunk
  // without further input.
  ParseStep consume(std::string_view input);

  // Responses queued by expect() and not yet complete (the current one included).
  std::size_t pending() const noexcept { return expected_.size(); }
  bool failed() const noexcept { return error_.has_value(); }
  const ParserLimits& limits() const noexcept { return limits_; }

  // Forget all expectations and partial state (e.g. after STLS, or on a new connection).
  void reset();

 private:
  enum class Phase { status_line, body };
  enum class BodyState { line_start, after_dot, after_dot_cr, in_line, in_line_cr };
  struct Expected {
    ResponseShape shape;
    std::uint64_t max_bytes;
  };

  ParseStep fail(std::size_t consumed, std::string message);
  ParseStep consume_status(std::string_view input);
  ParseStep consume_body(std::string_view input);
  ParseStep finish_response(std::size_t consumed, ParseEvent event);
  ParseStep flush_chunk(std::size_t consumed);

  ParserLimits limits_;
  std::deque<Expected> expected_;
  Phase phase_ = Phase::status_line;
  std::string line_;                // status line being assembled (bounded)
  std::string chunk_;               // body output being assembled (bounded)
  std::string delivered_;           // the chunk handed out by the last body_chunk event
  BodyState body_state_ = BodyState::line_start;
  std::size_t body_line_bytes_ = 0;   // length of the current body line so far
  std::uint64_t response_bytes_ = 0;  // bytes received for the current response
  bool end_pending_ = false;          // terminator seen, body_end not yet reported
  std::optional<Error> error_;
};

}  // namespace popfs::pop3
