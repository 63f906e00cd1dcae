#include "popfs/pop3/session.hpp"

#include <gtest/gtest.h>

#include "feed.hpp"
#include "popfs/pop3/capabilities.hpp"
#include "popfs/pop3/listing.hpp"
#include "popfs/pop3/sasl.hpp"

namespace popfs::pop3 {
namespace {

using Events = std::vector<std::string>;
using testing::describe_status;
using testing::splittings;

// Feeds pieces to the session and records "<COMMAND> <event>" lines; body chunks of one
// response are joined. Stops at idle or error.
struct Recorder {
  Events events;
  std::string rest;
  std::string body;
  std::vector<Errc> errors;  // error kinds of -ERR answers and fatal errors, in order

  void feed(Session& s, std::string_view in) {
    for (;;) {
      auto step = s.consume(in);
      in.remove_prefix(step.consumed);
      const auto& ev = step.event;
      const std::string who(command_name(ev.command));
      switch (ev.kind) {
        case SessionEvent::Kind::need_more: return;
        case SessionEvent::Kind::idle: rest += std::string(in); return;
        case SessionEvent::Kind::error:
          events.push_back(who + " ERROR");
          if (ev.error) errors.push_back(ev.error->code);
          return;
        case SessionEvent::Kind::status:
          events.push_back(who + " " + describe_status(ev.status));
          if (ev.error) errors.push_back(ev.error->code);
          body.clear();
          break;
        case SessionEvent::Kind::body_chunk: body += std::string(ev.data); break;
        case SessionEvent::Kind::body_end:
          events.push_back(who + " BODY " + body);
          break;
      }
    }
  }
};

std::string sent(Session& s, const Command& c) {
  auto bytes = s.send(c);
  EXPECT_TRUE(bytes.ok()) << c.redacted() << ": " << (bytes.ok() ? "" : bytes.error().message);
  return bytes.ok() ? bytes.value() : std::string();
}

void expect_refused(Session& s, const Command& c) {
  const auto pending = s.pending();
  const auto state = s.state();
  EXPECT_FALSE(s.check(c).ok()) << c.redacted();
  auto bytes = s.send(c);
  ASSERT_FALSE(bytes.ok()) << c.redacted() << " was accepted in " << session_state_name(state);
  EXPECT_EQ(bytes.error().code, Errc::invalid_argument);
  EXPECT_EQ(s.pending(), pending) << "a refused command must not be queued";
  EXPECT_EQ(s.state(), state);
}

// A session that has seen the greeting and logged in with USER/PASS.
Session logged_in() {
  Session s;
  Recorder r;
  r.feed(s, "+OK Dovecot ready.\r\n");
  sent(s, Command::user("alice"));
  sent(s, Command::pass("secret"));
  r.feed(s, "+OK\r\n+OK Logged in.\r\n");
  EXPECT_EQ(s.state(), SessionState::transaction);
  return s;
}

TEST(Session, GreetingAndUserPassLogin) {
  Session s;
  EXPECT_EQ(s.state(), SessionState::authorization);
  EXPECT_FALSE(s.greeted());
  EXPECT_EQ(s.pending(), 1u);  // the greeting
  Recorder r;
  r.feed(s, "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n");
  EXPECT_TRUE(s.greeted());
  ASSERT_TRUE(s.apop_timestamp().has_value());
  EXPECT_EQ(*s.apop_timestamp(), "<1896.697170952@dbc.mtview.ca.us>");
  EXPECT_EQ(sent(s, Command::user("mrose")), "USER mrose\r\n");
  EXPECT_EQ(sent(s, Command::pass("tanstaaf")), "PASS tanstaaf\r\n");
  r.feed(s, "+OK mrose is a real hoopy frood\r\n+OK mrose's maildrop has 2 messages\r\n");
  EXPECT_EQ(r.events, (Events{"greeting +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>",
                              "USER +OK mrose is a real hoopy frood",
                              "PASS +OK mrose's maildrop has 2 messages"}));
  EXPECT_EQ(s.state(), SessionState::transaction);
  EXPECT_EQ(s.pending(), 0u);
}

TEST(Session, NothingBeforeGreeting) {
  Session s;
  expect_refused(s, Command::capa());
  expect_refused(s, Command::user("a"));
}

TEST(Session, RefusalsInAuthorization) {
  Session s;
  Recorder r;
  r.feed(s, "+OK ready\r\n");
  expect_refused(s, Command::retr(1));
  expect_refused(s, Command::stat());
  expect_refused(s, Command::list());
  expect_refused(s, Command::uidl());
  expect_refused(s, Command::top(1, 0));
  expect_refused(s, Command::dele(1));
  expect_refused(s, Command::rset());
  expect_refused(s, Command::noop());
  expect_refused(s, Command::pass("x"));  // no USER before it
  expect_refused(s, Command::auth_response("abc"));  // no AUTH exchange
  // A refused USER leaves PASS refused.
  sent(s, Command::user("nobody"));
  r.feed(s, "-ERR no such user\r\n");
  expect_refused(s, Command::pass("x"));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], Errc::auth_failed);
}

TEST(Session, RefusalsInTransaction) {
  Session s = logged_in();
  expect_refused(s, Command::user("a"));
  expect_refused(s, Command::pass("a"));
  expect_refused(s, Command::apop("a", "c4c9334bac560ecc979e58001b3e22fb"));
  expect_refused(s, Command::auth("PLAIN"));
  expect_refused(s, Command::stls());
  EXPECT_TRUE(s.check(Command::capa()).ok());
  EXPECT_TRUE(s.check(Command::noop()).ok());
}

TEST(Session, TransactionCommandsWaitForLoginAnswer) {
  Session s;
  Recorder r;
  r.feed(s, "+OK\r\n");
  sent(s, Command::user("a"));
  sent(s, Command::pass("b"));
  expect_refused(s, Command::stat());  // PASS not answered yet
  r.feed(s, "+OK\r\n-ERR [AUTH] Authentication failed.\r\n");
  EXPECT_EQ(s.state(), SessionState::authorization);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], Errc::auth_failed);
  expect_refused(s, Command::stat());
}

TEST(Session, PipelinedAnswersMatchedInOrderInEverySplit) {
  const std::string answers =
      "+OK\r\n1 aaa\r\n2 a/b\r\n.\r\n"
      "+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n"
      "+OK 120 octets\r\nSubject: hi\r\n\r\n..dot\r\n.\r\n"
      "-ERR no such message\r\n"
      "+OK\r\nSubject: two\r\n\r\n.\r\n"
      "+OK 2 a/b\r\n"
      "+OK message 1 deleted\r\n";
  int index = 0;
  for (const auto& pieces : splittings(answers)) {
    Session s = logged_in();
    sent(s, Command::uidl());
    sent(s, Command::list());
    sent(s, Command::retr(1));
    sent(s, Command::retr(9));
    sent(s, Command::top(2, 0));
    sent(s, Command::uidl(2));
    sent(s, Command::dele(1));
    EXPECT_EQ(s.pending(), 7u);
    Recorder r;
    for (const auto& piece : pieces) r.feed(s, piece);
    EXPECT_EQ(r.events, (Events{"UIDL +OK", "UIDL BODY 1 aaa\r\n2 a/b\r\n", "LIST +OK 2 messages",
                                "LIST BODY 1 120\r\n2 200\r\n", "RETR +OK 120 octets",
                                "RETR BODY Subject: hi\r\n\r\n.dot\r\n",
                                "RETR -ERR no such message", "TOP +OK",
                                "TOP BODY Subject: two\r\n\r\n", "UIDL +OK 2 a/b",
                                "DELE +OK message 1 deleted"}))
        << "splitting #" << index;
    EXPECT_EQ(r.errors, std::vector<Errc>{Errc::message_gone}) << "splitting #" << index;
    EXPECT_EQ(s.pending(), 0u);
    EXPECT_EQ(s.state(), SessionState::transaction);
    ++index;
  }
}

TEST(Session, EventsCarryMessageNumbers) {
  Session s = logged_in();
  sent(s, Command::retr(5));
  auto step = s.consume("+OK\r\n");
  ASSERT_EQ(step.event.kind, SessionEvent::Kind::status);
  EXPECT_EQ(step.event.command, CommandKind::retr);
  ASSERT_TRUE(step.event.message.has_value());
  EXPECT_EQ(*step.event.message, 5u);
  EXPECT_FALSE(step.event.complete);
}

TEST(Session, UnsolicitedBytesLeaveSessionIdle) {
  Session s = logged_in();
  Recorder r;
  r.feed(s, "+OK surprise\r\n");
  EXPECT_TRUE(r.events.empty());
  EXPECT_EQ(r.rest, "+OK surprise\r\n");
}

TEST(Session, StlsDiscardsClearTextInjection) {
  for (const auto& pieces : splittings("+OK Begin TLS negotiation\r\n+OK injected\r\n")) {
    Session s;
    Recorder r;
    r.feed(s, "+OK ready\r\n");
    EXPECT_EQ(sent(s, Command::stls()), "STLS\r\n");
    expect_refused(s, Command::capa());  // nothing may follow STLS
    for (const auto& piece : pieces) r.feed(s, piece);
    EXPECT_EQ(r.events, (Events{"greeting +OK ready", "STLS +OK Begin TLS negotiation"}));
    EXPECT_TRUE(s.awaiting_tls());
    expect_refused(s, Command::user("a"));
    s.tls_established();
    EXPECT_FALSE(s.awaiting_tls());
    EXPECT_TRUE(s.tls_active());
    EXPECT_EQ(s.pending(), 0u);
    expect_refused(s, Command::stls());
    // The injected "+OK" was dropped: the next answer is matched to CAPA.
    sent(s, Command::capa());
    Recorder after;
    after.feed(s, "+OK\r\nUSER\r\n.\r\n");
    EXPECT_EQ(after.events, (Events{"CAPA +OK", "CAPA BODY USER\r\n"}));
  }
}

TEST(Session, StlsOnlyAlone) {
  Session s;
  Recorder r;
  r.feed(s, "+OK ready\r\n");
  sent(s, Command::capa());
  expect_refused(s, Command::stls());  // CAPA still pending
  r.feed(s, "+OK\r\nSTLS\r\n.\r\n");
  sent(s, Command::stls());
  r.feed(s, "-ERR [SYS/TEMP] TLS not available right now\r\n");
  EXPECT_FALSE(s.awaiting_tls());
  EXPECT_TRUE(s.check(Command::user("a")).ok());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], Errc::temporary);
}

TEST(Session, ImplicitTlsRefusesStls) {
  Session s(true);
  Recorder r;
  r.feed(s, "+OK ready\r\n");
  expect_refused(s, Command::stls());
}

TEST(Session, SaslPlainWithContinuation) {
  Session s;
  Recorder r;
  r.feed(s, "+OK ready\r\n");
  EXPECT_EQ(sent(s, Command::auth("PLAIN")), "AUTH PLAIN\r\n");
  EXPECT_TRUE(s.in_sasl_exchange());
  expect_refused(s, Command::auth_response(sasl_plain("test", "test")));  // no "+ " yet
  expect_refused(s, Command::capa());
  r.feed(s, "+ \r\n");
  EXPECT_EQ(sent(s, Command::auth_response(sasl_plain("test", "test"))), "AHRlc3QAdGVzdA==\r\n");
  r.feed(s, "+OK Logged in.\r\n");
  EXPECT_EQ(r.events, (Events{"greeting +OK ready", "AUTH + ", "AUTH-RESPONSE +OK Logged in."}));
  EXPECT_FALSE(s.in_sasl_exchange());
  EXPECT_EQ(s.state(), SessionState::transaction);
}

TEST(Session, SaslLoginTwoChallenges) {
  Session s;
  Recorder r;
  r.feed(s, "+OK ready\r\n");
  sent(s, Command::auth("LOGIN"));
  r.feed(s, "+ VXNlcm5hbWU6\r\n");
  sent(s, Command::auth_response(base64_encode("alice")));
  r.feed(s, "+ UGFzc3dvcmQ6\r\n");
  sent(s, Command::auth_response(base64_encode("pw")));
  r.feed(s, "+OK\r\n");
  EXPECT_EQ(r.events, (Events{"greeting +OK ready", "AUTH + VXNlcm5hbWU6",
                              "AUTH-RESPONSE + UGFzc3dvcmQ6", "AUTH-RESPONSE +OK"}));
  EXPECT_EQ(s.state(), SessionState::transaction);
}

TEST(Session, Xoauth2FailureChallengeThenErr) {
  Session s;
  Recorder r;
  r.feed(s, "+OK ready\r\n");
  sent(s, Command::auth("XOAUTH2", sasl_xoauth2("a@b", "tok")));
  r.feed(s, "+ eyJzdGF0dXMiOiI0MDEifQ==\r\n");
  EXPECT_EQ(sent(s, Command::auth_response("")), "\r\n");
  r.feed(s, "-ERR [AUTH] Invalid credentials\r\n");
  EXPECT_EQ(s.state(), SessionState::authorization);
  EXPECT_FALSE(s.in_sasl_exchange());
  EXPECT_EQ(r.errors, std::vector<Errc>{Errc::auth_failed});
  EXPECT_TRUE(s.check(Command::user("a")).ok());
}

TEST(Session, ApopLogin) {
  Session s;
  Recorder r;
  r.feed(s, "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n");
  const auto digest = apop_digest(*s.apop_timestamp(), "tanstaaf");
  EXPECT_EQ(sent(s, Command::apop("mrose", digest)),
            "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n");
  r.feed(s, "+OK maildrop has 1 message (369 octets)\r\n");
  EXPECT_EQ(s.state(), SessionState::transaction);
}

TEST(Session, QuitFromTransactionGoesThroughUpdate) {
  Session s = logged_in();
  sent(s, Command::dele(1));
  sent(s, Command::quit());
  EXPECT_EQ(s.state(), SessionState::update);
  expect_refused(s, Command::noop());
  Recorder r;
  r.feed(s, "+OK\r\n+OK dewey POP3 server signing off\r\n");
  EXPECT_EQ(r.events, (Events{"DELE +OK", "QUIT +OK dewey POP3 server signing off"}));
  EXPECT_EQ(s.state(), SessionState::closed);
  expect_refused(s, Command::noop());
  auto step = s.consume("+OK late\r\n");
  EXPECT_EQ(step.event.kind, SessionEvent::Kind::idle);
}

TEST(Session, QuitErrIsPermanent) {
  Session s = logged_in();
  sent(s, Command::quit());
  Recorder r;
  r.feed(s, "-ERR some deleted messages not removed\r\n");
  EXPECT_EQ(s.state(), SessionState::closed);
  EXPECT_EQ(r.errors, std::vector<Errc>{Errc::permanent});
}

TEST(Session, QuitFromAuthorization) {
  Session s;
  Recorder r;
  r.feed(s, "+OK\r\n");
  sent(s, Command::quit());
  EXPECT_EQ(s.state(), SessionState::authorization);
  r.feed(s, "+OK bye\r\n");
  EXPECT_EQ(s.state(), SessionState::closed);
}

TEST(Session, ErrGreetingCloses) {
  Session s;
  Recorder r;
  r.feed(s, "-ERR [IN-USE] maildrop busy\r\n");
  EXPECT_EQ(s.state(), SessionState::closed);
  EXPECT_EQ(r.errors, std::vector<Errc>{Errc::in_use});
  expect_refused(s, Command::user("a"));
}

TEST(Session, ProtocolErrorCloses) {
  Session s = logged_in();
  sent(s, Command::stat());
  Recorder r;
  r.feed(s, "HTTP/1.1 400 Bad Request\r\n");
  EXPECT_EQ(r.events, Events{"STAT ERROR"});
  EXPECT_EQ(r.errors, std::vector<Errc>{Errc::protocol_violation});
  EXPECT_EQ(s.state(), SessionState::closed);
  expect_refused(s, Command::noop());
  EXPECT_EQ(s.consume("+OK\r\n").event.kind, SessionEvent::Kind::error);
}

TEST(Session, PerCommandResponseBound) {
  Session s = logged_in();
  ASSERT_TRUE(s.send(Command::retr(1), 30).ok());
  Recorder r;
  r.feed(s, "+OK\r\n" + std::string(100, 'x') + "\r\n.\r\n");
  EXPECT_EQ(r.events, (Events{"RETR +OK", "RETR ERROR"}));
  EXPECT_EQ(s.state(), SessionState::closed);
}

TEST(Session, ConnectionLostCloses) {
  Session s = logged_in();
  sent(s, Command::retr(1));
  s.connection_lost();
  EXPECT_EQ(s.state(), SessionState::closed);
  EXPECT_EQ(s.pending(), 0u);
  expect_refused(s, Command::retr(1));
}

TEST(Session, RefusedEncodingDoesNotQueue) {
  Session s = logged_in();
  auto bytes = s.send(Command::retr(0));
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(s.pending(), 0u);
  sent(s, Command::noop());
  EXPECT_EQ(s.pending(), 1u);
}

// Collects the body of the one multi-line answer fed in `pieces`.
std::string collected_body(Session& s, const std::vector<std::string>& pieces) {
  std::string body;
  bool ended = false;
  for (const auto& piece : pieces) {
    std::string_view in = piece;
    for (;;) {
      auto step = s.consume(in);
      in.remove_prefix(step.consumed);
      if (step.event.kind == SessionEvent::Kind::body_chunk) body += std::string(step.event.data);
      if (step.event.kind == SessionEvent::Kind::body_end) ended = true;
      if (step.event.kind == SessionEvent::Kind::need_more ||
          step.event.kind == SessionEvent::Kind::idle ||
          step.event.kind == SessionEvent::Kind::error) {
        break;
      }
    }
  }
  EXPECT_TRUE(ended);
  return body;
}

TEST(Session, HostileUidlListingInEverySplit) {
  const std::string long_uidl(200, 'L');
  const std::string answer = "+OK\r\n1 ../x\r\n2 a/b\r\n3 " + long_uidl +
                             "\r\n4 dup\r\n5 dup\r\n6 ..\r\n7 .hidden\r\n.\r\n";
  for (const auto& pieces : splittings(answer)) {
    Session s = logged_in();
    sent(s, Command::uidl());
    auto list = parse_uidl_listing(collected_body(s, pieces));
    ASSERT_TRUE(list.ok());
    ASSERT_EQ(list->size(), 7u);
    EXPECT_EQ((*list)[0].uidl, "../x");
    EXPECT_EQ((*list)[1].uidl, "a/b");
    EXPECT_EQ((*list)[2].uidl, long_uidl);
    EXPECT_EQ((*list)[3].uidl, "dup");
    EXPECT_EQ((*list)[4].uidl, "dup");
    EXPECT_EQ((*list)[4].number, 5u);
    EXPECT_EQ((*list)[5].uidl, "..");  // not at line start, so not dot-stuffing
    EXPECT_EQ((*list)[6].uidl, ".hidden");
  }
}

TEST(Session, CapaInEverySplit) {
  const std::string answer =
      "+OK Capability list follows\r\nCAPA\r\ntop\r\nUIDL\r\nSASL PLAIN XOAUTH2\r\n"
      "login-delay 300\r\nPIPELINING\r\n.\r\n";
  for (const auto& pieces : splittings(answer)) {
    Session s;
    Recorder r;
    r.feed(s, "+OK ready\r\n");
    sent(s, Command::capa());
    auto caps = parse_capabilities(collected_body(s, pieces));
    ASSERT_TRUE(caps.ok());
    EXPECT_TRUE(caps->top);
    EXPECT_TRUE(caps->uidl);
    EXPECT_TRUE(caps->pipelining);
    EXPECT_FALSE(caps->stls);
    EXPECT_EQ(caps->sasl_mechanisms, (std::vector<std::string>{"PLAIN", "XOAUTH2"}));
    ASSERT_TRUE(caps->login_delay_seconds.has_value());
    EXPECT_EQ(*caps->login_delay_seconds, 300u);
  }
}

}  // namespace
}  // namespace popfs::pop3
