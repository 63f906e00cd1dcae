#include "popfs/pop3/response_parser.hpp"

#include <cstring>

#include <algorithm>
#include <utility>

namespace popfs::pop3 {

ResponseParser::ResponseParser(ParserLimits limits) : limits_(limits) {
  // A chunk of 0 bytes would never flush; a line limit under RFC 1939's 512 would refuse
  // legal status lines.
  limits_.max_chunk_bytes = std::max<std::size_t>(limits_.max_chunk_bytes, 1);
  limits_.max_line_bytes = std::max<std::size_t>(limits_.max_line_bytes, 512);
}

void ResponseParser::expect(ResponseShape shape, std::optional<std::uint64_t> max_response_bytes) {
  expected_.push_back(Expected{shape, max_response_bytes.value_or(limits_.max_response_bytes)});
}

void ResponseParser::reset() {
  expected_.clear();
  phase_ = Phase::status_line;
  line_.clear();
  chunk_.clear();
  delivered_.clear();
  body_state_ = BodyState::line_start;
  body_line_bytes_ = 0;
  response_bytes_ = 0;
  end_pending_ = false;
  error_.reset();
}

ParseStep ResponseParser::fail(std::size_t consumed, std::string message) {
  error_.emplace(Errc::protocol_violation, std::move(message));
  ParseStep step;
  step.consumed = consumed;
  step.event.kind = ParseEvent::Kind::error;
  step.event.error = error_;
  return step;
}

ParseStep ResponseParser::consume(std::string_view input) {
  if (error_) {
    ParseStep step;
    step.event.kind = ParseEvent::Kind::error;
    step.event.error = error_;
    return step;
  }
  if (end_pending_) {
    end_pending_ = false;
    ParseEvent event;
    event.kind = ParseEvent::Kind::body_end;
    return finish_response(0, std::move(event));
  }
  if (expected_.empty()) {
    ParseStep step;
    step.event.kind = ParseEvent::Kind::idle;
    return step;
  }
  return phase_ == Phase::status_line ? consume_status(input) : consume_body(input);
}

ParseStep ResponseParser::finish_response(std::size_t consumed, ParseEvent event) {
  expected_.pop_front();
  phase_ = Phase::status_line;
  line_.clear();
  body_state_ = BodyState::line_start;
  body_line_bytes_ = 0;
  response_bytes_ = 0;
  return ParseStep{consumed, std::move(event)};
}

ParseStep ResponseParser::consume_status(std::string_view input) {
  const Expected& expected = expected_.front();
  const auto newline = input.find('\n');
  const std::size_t take = newline == std::string_view::npos ? input.size() : newline;
  // +1: the CR of a CRLF ending is still in line_ until the LF arrives.
  if (line_.size() + take > limits_.max_line_bytes + 1) {
    return fail(0, "status line longer than " + std::to_string(limits_.max_line_bytes) + " bytes");
  }
  line_.append(input.substr(0, take));
  response_bytes_ += take;
  if (newline == std::string_view::npos) {
    return ParseStep{input.size(), ParseEvent{}};
  }
  const std::size_t consumed = newline + 1;
  response_bytes_ += 1;

  std::string_view line = line_;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  auto status = parse_status_line(line, expected.shape == ResponseShape::status_or_continuation);
  if (!status) return fail(consumed, status.error().message);

  ParseEvent event;
  event.kind = ParseEvent::Kind::status;
  event.status = std::move(status).value();
  if (expected.shape == ResponseShape::multi_line && event.status.ok()) {
    phase_ = Phase::body;
    line_.clear();
    body_state_ = BodyState::line_start;
    body_line_bytes_ = 0;
    event.complete = false;
    return ParseStep{consumed, std::move(event)};
  }
  event.complete = true;
  return finish_response(consumed, std::move(event));
}

ParseStep ResponseParser::flush_chunk(std::size_t consumed) {
  std::swap(delivered_, chunk_);
  chunk_.clear();
  ParseStep step;
  step.consumed = consumed;
  step.event.kind = ParseEvent::Kind::body_chunk;
  step.event.data = delivered_;
  return step;
}

namespace {

// The first CR or LF at or after `from` (input.size() if none). Two vectorised memchr scans:
// string_view::find_first_of("\r\n") calls memchr on the two-byte set once per byte.
std::size_t line_break_at(std::string_view input, std::size_t from) {
  const char* begin = input.data() + from;
  const std::size_t length = input.size() - from;
  const void* lf = std::memchr(begin, '\n', length);
  const std::size_t lf_at = lf == nullptr ? length : static_cast<std::size_t>(static_cast<const char*>(lf) - begin);
  const void* cr = std::memchr(begin, '\r', lf_at);
  const std::size_t cr_at = cr == nullptr ? lf_at : static_cast<std::size_t>(static_cast<const char*>(cr) - begin);
  return from + cr_at;
}

}  // namespace

ParseStep ResponseParser::consume_body(std::string_view input) {
  const std::uint64_t max_bytes = expected_.front().max_bytes;
  const std::size_t max_line = limits_.max_line_bytes;
  std::size_t i = 0;

  auto content_byte = [&](char c) { chunk_.push_back(c); ++body_line_bytes_; };
  auto end_line = [&] {
    chunk_.append("\r\n");
    body_state_ = BodyState::line_start;
    body_line_bytes_ = 0;
  };

  while (i < input.size()) {
    if (chunk_.size() >= limits_.max_chunk_bytes) return flush_chunk(i);

    if (body_state_ == BodyState::in_line) {
      // Fast path: copy a run of ordinary bytes at once.
      std::size_t room = limits_.max_chunk_bytes - chunk_.size();
      const std::size_t run_end = line_break_at(input, i);
      const std::size_t run = std::min(run_end - i, room);
      if (run > 0) {
        if (body_line_bytes_ + run > max_line) {
          return fail(i, "line longer than " + std::to_string(max_line) + " bytes in response");
        }
        response_bytes_ += run;
        if (response_bytes_ > max_bytes) {
          return fail(i, "multi-line response larger than " + std::to_string(max_bytes) + " bytes");
        }
        chunk_.append(input.substr(i, run));
        body_line_bytes_ += run;
        i += run;
        continue;
      }
    }

    const char c = input[i];
    ++i;
    if (++response_bytes_ > max_bytes) {
      return fail(i, "multi-line response larger than " + std::to_string(max_bytes) + " bytes");
    }
    bool terminator = false;
    switch (body_state_) {
      case BodyState::line_start:
        if (c == '.') {
          body_state_ = BodyState::after_dot;
        } else if (c == '\r') {
          body_state_ = BodyState::in_line_cr;
        } else if (c == '\n') {
          end_line();  // empty line with a bare LF
        } else {
          content_byte(c);
          body_state_ = BodyState::in_line;
        }
        break;
      case BodyState::after_dot:
        // The leading dot is dropped: either stuffing or the terminator.
        if (c == '\r') {
          body_state_ = BodyState::after_dot_cr;
        } else if (c == '\n') {
          terminator = true;
        } else {
          content_byte(c);
          body_state_ = BodyState::in_line;
        }
        break;
      case BodyState::after_dot_cr:
        if (c == '\n') {
          terminator = true;
        } else {
          content_byte('\r');  // ".\rX": a stuffed line starting with a lone CR
          if (c == '\r') {
            body_state_ = BodyState::in_line_cr;
          } else {
            content_byte(c);
            body_state_ = BodyState::in_line;
          }
        }
        break;
      case BodyState::in_line:
        if (c == '\r') {
          body_state_ = BodyState::in_line_cr;
        } else if (c == '\n') {
          end_line();  // bare LF: normalised to CRLF
        } else {
          content_byte(c);
        }
        break;
      case BodyState::in_line_cr:
        if (c == '\n') {
          end_line();
        } else if (c == '\r') {
          content_byte('\r');  // the earlier CR was a lone one; this one may start CRLF
        } else {
          content_byte('\r');
          content_byte(c);
          body_state_ = BodyState::in_line;
        }
        break;
    }
    if (terminator) {
      if (!chunk_.empty()) {
        end_pending_ = true;
        return flush_chunk(i);
      }
      ParseEvent event;
      event.kind = ParseEvent::Kind::body_end;
      return finish_response(i, std::move(event));
    }
    if (body_line_bytes_ > max_line) {
      return fail(i, "line longer than " + std::to_string(max_line) + " bytes in response");
    }
  }
  if (!chunk_.empty()) return flush_chunk(i);
  return ParseStep{i, ParseEvent{}};
}

}  // namespace popfs::pop3
