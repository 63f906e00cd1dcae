#include "popfs/pop3/response_parser.hpp"

#include <gtest/gtest.h>

#include "feed.hpp"

namespace popfs::pop3 {
namespace {

using testing::run;
using testing::splittings;
using testing::Transcript;
using Events = std::vector<std::string>;

// Runs `bytes` through a fresh parser expecting `shapes`, in every splitting, and checks
// each gives `expected` (and leaves `rest` unconsumed).
void expect_all_splits(const std::vector<ResponseShape>& shapes, const std::string& bytes,
                       const Events& expected, const std::string& rest = "",
                       ParserLimits limits = {}) {
  int index = 0;
  for (const auto& pieces : splittings(bytes)) {
    ResponseParser parser(limits);
    for (auto shape : shapes) parser.expect(shape);
    Transcript t = run(parser, pieces);
    EXPECT_EQ(t.events, expected) << "splitting #" << index << " (0 = whole, 1 = bytes)";
    // After an error the connection is dropped: what was left unread does not matter.
    if (expected.empty() || expected.back() != "ERROR") {
      EXPECT_EQ(t.rest, rest) << "splitting #" << index;
    }
    ++index;
  }
}

TEST(ResponseParser, SingleLineOk) {
  expect_all_splits({ResponseShape::status}, "+OK 2 320\r\n", {"+OK 2 320"});
}

TEST(ResponseParser, SingleLineOkWithoutText) {
  expect_all_splits({ResponseShape::status}, "+OK\r\n", {"+OK"});
}

TEST(ResponseParser, StatusCodesParsedOut) {
  expect_all_splits({ResponseShape::status}, "-ERR [IN-USE] Mailbox locked by pid 17\r\n",
                    {"-ERR [IN-USE] Mailbox locked by pid 17"});
  expect_all_splits({ResponseShape::status}, "-ERR [SYS/TEMP] disk full\r\n",
                    {"-ERR [SYS/TEMP] disk full"});
  expect_all_splits({ResponseShape::status}, "-ERR [X-VENDOR/ODD] strange\r\n",
                    {"-ERR [X-VENDOR/ODD] strange"});
}

TEST(ResponseParser, StatusCodeKindsRecognised) {
  ResponseParser parser;
  const std::vector<std::pair<std::string, ResponseCodeKind>> cases = {
      {"-ERR [IN-USE] x\r\n", ResponseCodeKind::in_use},
      {"-ERR [LOGIN-DELAY] x\r\n", ResponseCodeKind::login_delay},
      {"-ERR [SYS/TEMP] x\r\n", ResponseCodeKind::sys_temp},
      {"-ERR [SYS/PERM] x\r\n", ResponseCodeKind::sys_perm},
      {"-ERR [AUTH] x\r\n", ResponseCodeKind::auth},
      {"-ERR [auth] x\r\n", ResponseCodeKind::auth},
      {"-ERR [SYS/TEMP/DISK] x\r\n", ResponseCodeKind::sys_temp},
      {"-ERR [UTF8] x\r\n", ResponseCodeKind::other},
  };
  for (const auto& [line, kind] : cases) {
    parser.expect(ResponseShape::status);
    auto step = parser.consume(line);
    ASSERT_EQ(step.event.kind, ParseEvent::Kind::status) << line;
    ASSERT_TRUE(step.event.status.code.has_value()) << line;
    EXPECT_EQ(step.event.status.code->kind, kind) << line;
    EXPECT_EQ(step.event.status.text, "x");
    EXPECT_TRUE(step.event.complete);
    EXPECT_EQ(step.consumed, line.size());
  }
}

TEST(ResponseParser, BracketTextThatIsNotACodeStaysText) {
  expect_all_splits({ResponseShape::status}, "-ERR [no such message] sorry\r\n",
                    {"-ERR [no such message] sorry"});
  ResponseParser parser;
  parser.expect(ResponseShape::status);
  auto step = parser.consume("-ERR [no such message] sorry\r\n");
  ASSERT_EQ(step.event.kind, ParseEvent::Kind::status);
  EXPECT_FALSE(step.event.status.code.has_value());
}

TEST(ResponseParser, MultiLineWithDotStuffing) {
  expect_all_splits({ResponseShape::multi_line},
                    "+OK 120 octets\r\nSubject: x\r\n\r\n..leading dot\r\n...\r\nlast\r\n.\r\n",
                    {"+OK 120 octets", "BODY Subject: x\r\n\r\n.leading dot\r\n..\r\nlast\r\n",
                     "END"});
}

TEST(ResponseParser, LineOfExactlyTwoDotsIsOneDot) {
  expect_all_splits({ResponseShape::multi_line}, "+OK\r\n..\r\n.\r\n",
                    {"+OK", "BODY .\r\n", "END"});
}

TEST(ResponseParser, EmptyBody) {
  expect_all_splits({ResponseShape::multi_line}, "+OK 0 messages\r\n.\r\n",
                    {"+OK 0 messages", "BODY ", "END"});
}

TEST(ResponseParser, ErrOnMultiLineHasNoBody) {
  expect_all_splits({ResponseShape::multi_line, ResponseShape::status},
                    "-ERR no such message\r\n+OK\r\n", {"-ERR no such message", "+OK"});
}

TEST(ResponseParser, TerminatorSplitAtEveryPosition) {
  const std::string bytes = "+OK\r\nline one\r\n.\r\n";
  for (std::size_t cut = 1; cut < bytes.size(); ++cut) {
    ResponseParser parser;
    parser.expect(ResponseShape::multi_line);
    Transcript t = run(parser, {bytes.substr(0, cut), bytes.substr(cut)});
    EXPECT_EQ(t.events, (Events{"+OK", "BODY line one\r\n", "END"})) << "cut at " << cut;
    EXPECT_EQ(parser.pending(), 0u);
  }
}

TEST(ResponseParser, BareLfNormalisedToCrlf) {
  expect_all_splits({ResponseShape::multi_line}, "+OK\nFrom: a\n\nbody\n..x\n.\n",
                    {"+OK", "BODY From: a\r\n\r\nbody\r\n.x\r\n", "END"});
}

TEST(ResponseParser, MixedLineEndingsAndLoneCr) {
  expect_all_splits({ResponseShape::multi_line}, "+OK\r\na\rb\r\nc\r\r\nd\n.\r\n",
                    {"+OK", "BODY a\rb\r\nc\r\r\nd\r\n", "END"});
}

TEST(ResponseParser, DotFollowedByLoneCrIsStuffedLine) {
  expect_all_splits({ResponseShape::multi_line}, "+OK\r\n.\rx\r\n.\r\n",
                    {"+OK", "BODY \rx\r\n", "END"});
}

TEST(ResponseParser, DotInsideLineIsKept) {
  expect_all_splits({ResponseShape::multi_line}, "+OK\r\na.b\r\n .\r\n.\r\n",
                    {"+OK", "BODY a.b\r\n .\r\n", "END"});
}

TEST(ResponseParser, GarbageStatusIsProtocolViolation) {
  for (const std::string& bad : std::vector<std::string>{"HELLO there\r\n", "+OKAY\r\n", "\r\n", "OK\r\n",
                                std::string("+OK \0\r\n", 7), "+ challenge\r\n"}) {
    for (const auto& pieces : splittings(bad)) {
      ResponseParser parser;
      parser.expect(ResponseShape::status);
      Transcript t = run(parser, pieces);
      EXPECT_EQ(t.events, Events{"ERROR"}) << "input: " << bad;
      EXPECT_TRUE(parser.failed());
    }
  }
}

TEST(ResponseParser, LowercaseStatusAccepted) {
  expect_all_splits({ResponseShape::status}, "+ok fine\r\n", {"+OK fine"});
  expect_all_splits({ResponseShape::status}, "-err nope\r\n", {"-ERR nope"});
}

TEST(ResponseParser, ContinuationOnlyWhereExpected) {
  expect_all_splits({ResponseShape::status_or_continuation}, "+ VXNlcm5hbWU6\r\n",
                    {"+ VXNlcm5hbWU6"});
  expect_all_splits({ResponseShape::status_or_continuation}, "+\r\n", {"+ "});
  expect_all_splits({ResponseShape::status_or_continuation}, "+OK Logged in.\r\n",
                    {"+OK Logged in."});
  expect_all_splits({ResponseShape::multi_line}, "+ abc\r\n", {"ERROR"});
}

TEST(ResponseParser, ErrorIsSticky) {
  ResponseParser parser;
  parser.expect(ResponseShape::status);
  parser.expect(ResponseShape::status);
  auto first = parser.consume("garbage\r\n");
  ASSERT_EQ(first.event.kind, ParseEvent::Kind::error);
  ASSERT_TRUE(first.event.error.has_value());
  EXPECT_EQ(first.event.error->code, Errc::protocol_violation);
  auto second = parser.consume("+OK\r\n");
  EXPECT_EQ(second.event.kind, ParseEvent::Kind::error);
  EXPECT_EQ(second.consumed, 0u);
  parser.reset();
  EXPECT_FALSE(parser.failed());
  parser.expect(ResponseShape::status);
  EXPECT_EQ(parser.consume("+OK\r\n").event.kind, ParseEvent::Kind::status);
}

TEST(ResponseParser, PipelinedResponsesInOneBuffer) {
  expect_all_splits(
      {ResponseShape::multi_line, ResponseShape::multi_line, ResponseShape::status,
       ResponseShape::multi_line},
      "+OK\r\n1 abc\r\n2 def\r\n.\r\n+OK\r\n1 100\r\n2 200\r\n.\r\n+OK 2 300\r\n"
      "-ERR [SYS/TEMP] later\r\n",
      {"+OK", "BODY 1 abc\r\n2 def\r\n", "END", "+OK", "BODY 1 100\r\n2 200\r\n", "END",
       "+OK 2 300", "-ERR [SYS/TEMP] later"});
}

TEST(ResponseParser, BytesAfterLastExpectedResponseAreLeftAlone) {
  // The end of a RETR and the start of the next answer in one read: the parser stops
  // exactly at the end of the RETR.
  expect_all_splits({ResponseShape::multi_line}, "+OK\r\nHi\r\n.\r\n+OK 1 2\r\n",
                    {"+OK", "BODY Hi\r\n", "END"}, "+OK 1 2\r\n");
  ResponseParser parser;
  parser.expect(ResponseShape::multi_line);
  Transcript t = run(parser, {"+OK\r\nHi\r\n.\r\n+OK 1 2\r\n"});
  ASSERT_EQ(t.rest, "+OK 1 2\r\n");
  parser.expect(ResponseShape::status);
  Transcript next = run(parser, {t.rest});
  EXPECT_EQ(next.events, Events{"+OK 1 2"});
  EXPECT_EQ(next.rest, "");
}

TEST(ResponseParser, NothingExpectedMeansIdle) {
  ResponseParser parser;
  auto step = parser.consume("+OK\r\n");
  EXPECT_EQ(step.event.kind, ParseEvent::Kind::idle);
  EXPECT_EQ(step.consumed, 0u);
}

TEST(ResponseParser, OverlongStatusLineIsViolation) {
  ParserLimits limits;
  limits.max_line_bytes = 600;
  expect_all_splits({ResponseShape::status}, "+OK " + std::string(700, 'x') + "\r\n",
                    {"ERROR"}, "", limits);
  expect_all_splits({ResponseShape::status}, "+OK " + std::string(596, 'x') + "\r\n",
                    {"+OK " + std::string(596, 'x')}, "", limits);
}

TEST(ResponseParser, OverlongBodyLineIsViolation) {
  ParserLimits limits;
  limits.max_line_bytes = 600;
  expect_all_splits({ResponseShape::multi_line},
                    "+OK\r\n" + std::string(601, 'y') + "\r\n.\r\n", {"+OK", "ERROR"}, "", limits);
  expect_all_splits({ResponseShape::multi_line},
                    "+OK\r\n" + std::string(600, 'y') + "\r\n.\r\n",
                    {"+OK", "BODY " + std::string(600, 'y') + "\r\n", "END"}, "", limits);
  // A bare-LF body counts the same way.
  expect_all_splits({ResponseShape::multi_line}, "+OK\n" + std::string(601, 'y') + "\n.\n",
                    {"+OK", "ERROR"}, "", limits);
}

TEST(ResponseParser, DefaultLimitAcceptsOneMebibyteLines) {
  const std::string line(1024 * 1024, 'z');
  ResponseParser parser;
  parser.expect(ResponseShape::multi_line);
  Transcript t = run(parser, {"+OK\r\n", line.substr(0, 1000), line.substr(1000), "\r\n.\r\n"});
  ASSERT_EQ(t.events.size(), 3u);
  EXPECT_EQ(t.events[2], "END");
  EXPECT_EQ(t.events[1].size(), 5 + line.size() + 2);

  ResponseParser strict;
  strict.expect(ResponseShape::multi_line);
  Transcript too_long = run(strict, {"+OK\r\n", line, "zz\r\n.\r\n"});
  EXPECT_EQ(too_long.events, (Events{"+OK", "ERROR"}));
}

TEST(ResponseParser, OversizeResponseIsViolation) {
  ParserLimits limits;
  limits.max_response_bytes = 100;
  std::string body;
  for (int i = 0; i < 20; ++i) body += "0123456789\r\n";
  expect_all_splits({ResponseShape::multi_line}, "+OK\r\n" + body + ".\r\n", {"+OK", "ERROR"},
                    "", limits);
  // Just under the limit passes: 5 (status) + 12*7 (body) + 3 (terminator) = 92.
  std::string small;
  for (int i = 0; i < 7; ++i) small += "0123456789\r\n";
  expect_all_splits({ResponseShape::multi_line}, "+OK\r\n" + small + ".\r\n",
                    {"+OK", "BODY " + small, "END"}, "", limits);
}

TEST(ResponseParser, PerResponseSizeOverride) {
  ResponseParser parser;
  parser.expect(ResponseShape::multi_line, 20);
  parser.expect(ResponseShape::multi_line);
  Transcript t = run(parser, {"+OK\r\nabcdefghijklmnopqrstuvwxyz\r\n.\r\n"});
  EXPECT_EQ(t.events, (Events{"+OK", "ERROR"}));
}

TEST(ResponseParser, BodyIsStreamedInBoundedChunks) {
  ParserLimits limits;
  limits.max_chunk_bytes = 1000;
  std::string body;
  for (int i = 0; i < 5000; ++i) body += "line " + std::to_string(i) + "\r\n";
  ResponseParser parser(limits);
  parser.expect(ResponseShape::multi_line);
  Transcript t = run(parser, {"+OK\r\n" + body + ".\r\n"});
  ASSERT_EQ(t.events.size(), 3u);
  EXPECT_EQ(t.events[1], "BODY " + body);
  EXPECT_LE(t.max_chunk, 1001u);  // a CRLF may complete a full chunk
  EXPECT_GE(t.chunks, body.size() / 1001);
}

TEST(ResponseParser, ChunksAreNeverEmpty) {
  // Byte by byte through dot-stuffing and CRs: every body_chunk carries data.
  for (const auto& pieces : splittings("+OK\r\n..\r\n\r\n.\r\n")) {
    ResponseParser parser;
    parser.expect(ResponseShape::multi_line);
    Transcript t = run(parser, pieces);
    EXPECT_EQ(t.events, (Events{"+OK", "BODY .\r\n\r\n", "END"}));
  }
}

TEST(ResponseParser, TinyChunksGiveTheSameBody) {
  const std::string bytes = "+OK\r\n..a\r\nb\nc\r\r\n..\r\n\r\n.\r\n";
  const std::string body = ".a\r\nb\r\nc\r\r\n.\r\n\r\n";
  for (std::size_t chunk = 1; chunk <= 5; ++chunk) {
    ParserLimits limits;
    limits.max_chunk_bytes = chunk;
    expect_all_splits({ResponseShape::multi_line}, bytes, {"+OK", "BODY " + body, "END"}, "",
                      limits);
  }
}

TEST(ResponseParser, LargeMessageStreamsWithBoundedChunks) {
  // 8 MiB of mail with 1000-byte lines in 4 KiB reads: delivered whole, never in one piece.
  std::string line(998, 'm');
  line += "\r\n";
  const std::size_t lines = 8 * 1024;
  std::string wire = "+OK\r\n";
  for (std::size_t i = 0; i < lines; ++i) wire += line;
  wire += ".\r\n+OK next\r\n";
  ResponseParser parser;
  parser.expect(ResponseShape::multi_line);
  std::uint64_t delivered = 0;
  std::size_t largest = 0;
  bool ended = false;
  std::string_view rest;
  for (std::size_t pos = 0; pos < wire.size() && !ended; pos += 4096) {
    std::string_view in = std::string_view(wire).substr(pos, 4096);
    for (;;) {
      auto step = parser.consume(in);
      in.remove_prefix(step.consumed);
      if (step.event.kind == ParseEvent::Kind::body_chunk) {
        delivered += step.event.data.size();
        largest = std::max(largest, step.event.data.size());
        continue;
      }
      if (step.event.kind == ParseEvent::Kind::body_end) {
        ended = true;
        continue;
      }
      if (step.event.kind == ParseEvent::Kind::idle) rest = in;
      if (step.event.kind == ParseEvent::Kind::status) continue;
      ASSERT_NE(step.event.kind, ParseEvent::Kind::error);
      break;
    }
  }
  EXPECT_TRUE(ended);
  EXPECT_EQ(delivered, lines * line.size());
  EXPECT_LE(largest, parser.limits().max_chunk_bytes + 1);
  EXPECT_EQ(rest, "+OK next\r\n");
}

}  // namespace
}  // namespace popfs::pop3
