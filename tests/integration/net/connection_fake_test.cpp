// net::Connection against the scriptable fake server: what a real server will not do
// (no STLS, refusals with response codes, cut connections, stalls) and exactly what the
// client sent.

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "net_test_util.hpp"
#include "popfs/net/connection.hpp"
#include "popfs/pop3/sasl.hpp"
#include "popfs_test/corpus.hpp"
#include "popfs_test/fake_pop3_server.hpp"
#include "popfs_test/process.hpp"

namespace popfs::net {
namespace {

using namespace std::chrono_literals;
using popfs::test::FakeAuthResult;
using popfs::test::FakeMessage;
using popfs::test::FakePop3Options;
using popfs::test::FakePop3Server;
using popfs::test::FakeTls;
using testing::fetch_and_wait;
using testing::open_and_wait;
using testing::run_until;

Account fake_account(const FakePop3Server& server, Security security) {
  Account account;
  account.host = server.host();
  account.port = server.port();
  account.security = security;
  account.user = "user";
  account.password = []() -> Result<std::string> { return std::string("password"); };
  account.ca_file = server.ca_file();
  account.connect_timeout = 5s;
  account.response_timeout = 5s;
  return account;
}

FakePop3Options options_with(FakeTls tls, std::vector<FakeMessage> mailbox = {}) {
  FakePop3Options options;
  options.tls = tls;
  options.mailbox = std::move(mailbox);
  return options;
}

bool sent_credentials(const std::vector<std::string>& commands) {
  for (const auto& line : commands) {
    if (line.rfind("USER", 0) == 0 || line.rfind("PASS", 0) == 0 || line.rfind("AUTH", 0) == 0 ||
        line.rfind("APOP", 0) == 0 || line.find("password") != std::string::npos)
      return true;
  }
  return false;
}

class ConnectionFakeTest : public ::testing::Test {
 protected:
  std::optional<Result<void>> open(const Account& account, std::shared_ptr<Connection>* out = nullptr) {
    auto connection = Connection::create(io_.get_executor(), account);
    if (out) *out = connection;
    return open_and_wait(io_, connection);
  }
  boost::asio::io_context io_;
};

TEST_F(ConnectionFakeTest, NoStlsOfferedIsRefusedBeforeAnyCredential) {
  FakePop3Server server(options_with(FakeTls::none));
  auto opened = open(fake_account(server, Security::stls));
  ASSERT_TRUE(opened.has_value());
  ASSERT_FALSE(*opened);
  EXPECT_EQ(opened->error().code, Errc::stls_unavailable) << opened->error().describe();
  EXPECT_NE(opened->error().message.find("STLS"), std::string::npos);
  ASSERT_TRUE(server.wait_for_sessions(1));
  const auto commands = server.commands(0);
  EXPECT_FALSE(sent_credentials(commands)) << "the server received a credential";
  EXPECT_EQ(commands, std::vector<std::string>{"CAPA"});
}

TEST_F(ConnectionFakeTest, StlsRefusedByServerIsStlsUnavailable) {
  auto options = options_with(FakeTls::none);
  options.capabilities.push_back("STLS");  // offered, but the server then says no
  FakePop3Server server(options);
  auto opened = open(fake_account(server, Security::stls));
  ASSERT_TRUE(opened.has_value());
  ASSERT_FALSE(*opened);
  EXPECT_EQ(opened->error().code, Errc::stls_unavailable) << opened->error().describe();
  EXPECT_FALSE(sent_credentials(server.commands(0)));
}

TEST_F(ConnectionFakeTest, PlaintextAllowedOnlyWhenAsked) {
  FakePop3Server server(options_with(FakeTls::none));
  std::shared_ptr<Connection> connection;
  auto opened = open(fake_account(server, Security::plaintext), &connection);
  ASSERT_TRUE(opened.has_value());
  ASSERT_TRUE(*opened) << opened->error().describe();
  EXPECT_EQ(connection->auth_method(), AuthMethod::sasl_plain);
}

TEST_F(ConnectionFakeTest, StlsUpgradeAsksCapaAgainBeforeAndAfterLogin) {
  auto options = options_with(FakeTls::stls);
  options.require_tls_for_login = true;
  FakePop3Server server(options);
  std::shared_ptr<Connection> connection;
  auto opened = open(fake_account(server, Security::stls), &connection);
  ASSERT_TRUE(opened.has_value());
  ASSERT_TRUE(*opened) << opened->error().describe();
  const auto commands = server.commands(0);
  ASSERT_EQ(commands.size(), 5u);
  EXPECT_EQ(commands[0], "CAPA");
  EXPECT_EQ(commands[1], "STLS");
  EXPECT_EQ(commands[2], "CAPA");
  EXPECT_EQ(commands[3].rfind("AUTH PLAIN ", 0), 0u) << commands[3];
  EXPECT_EQ(commands[4], "CAPA");
}

TEST_F(ConnectionFakeTest, SaslLoginWhenPlainIsNotOffered) {
  auto options = options_with(FakeTls::implicit);
  options.capabilities = {"TOP", "UIDL", "SASL LOGIN"};
  FakePop3Server server(options);
  std::shared_ptr<Connection> connection;
  auto opened = open(fake_account(server, Security::implicit_tls), &connection);
  ASSERT_TRUE(opened.has_value());
  ASSERT_TRUE(*opened) << opened->error().describe();
  EXPECT_EQ(connection->auth_method(), AuthMethod::sasl_login);
  const auto commands = server.commands(0);
  ASSERT_GE(commands.size(), 4u);
  EXPECT_EQ(commands[1], "AUTH LOGIN");
  EXPECT_EQ(commands[2], pop3::base64_encode("user"));
  EXPECT_EQ(commands[3], pop3::base64_encode("password"));
}

TEST_F(ConnectionFakeTest, UserPassWhenNoSaslIsOffered) {
  auto options = options_with(FakeTls::implicit);
  options.capabilities = {"TOP", "UIDL", "USER"};
  FakePop3Server server(options);
  std::shared_ptr<Connection> connection;
  auto opened = open(fake_account(server, Security::implicit_tls), &connection);
  ASSERT_TRUE(opened.has_value());
  ASSERT_TRUE(*opened) << opened->error().describe();
  EXPECT_EQ(connection->auth_method(), AuthMethod::user_pass);
  EXPECT_FALSE(connection->pipelining()) << "PIPELINING not advertised";
}

TEST_F(ConnectionFakeTest, Xoauth2SendsTheTokenAfterTheContinuation) {
  const std::string token_line = pop3::sasl_xoauth2("user", "token-123");
  auto options = options_with(FakeTls::implicit);
  options.capabilities = {"TOP", "UIDL", "SASL XOAUTH2"};
  options.raw_responses = {{"AUTH XOAUTH2", "+ \r\n"}, {token_line, "+OK welcome\r\n"}};
  FakePop3Server server(options);
  auto account = fake_account(server, Security::implicit_tls);
  account.password = nullptr;
  account.oauth_token = []() -> Result<std::string> { return std::string("token-123"); };
  std::shared_ptr<Connection> connection;
  auto opened = open(account, &connection);
  ASSERT_TRUE(opened.has_value());
  ASSERT_TRUE(*opened) << opened->error().describe();
  EXPECT_EQ(connection->auth_method(), AuthMethod::xoauth2);
  const auto commands = server.commands(0);
  ASSERT_GE(commands.size(), 3u);
  EXPECT_EQ(commands[1], "AUTH XOAUTH2");
  EXPECT_EQ(commands[2], token_line);
}

TEST_F(ConnectionFakeTest, OauthbearerPreferredAndABadTokenIsAuthFailed) {
  const std::string token_line =
      pop3::sasl_oauthbearer("user", "127.0.0.1", 0, "expired");  // port fixed below
  auto options = options_with(FakeTls::implicit);
  options.capabilities = {"TOP", "UIDL", "SASL XOAUTH2 OAUTHBEARER"};
  FakePop3Server server(options);
  const std::string expected_line =
      pop3::sasl_oauthbearer("user", server.host(), server.port(), "expired");
  // The server rejects the token with an error challenge; the client must acknowledge it
  // with the failure line and then gets the -ERR.
  server.update([&](FakePop3Options& o) {
    o.raw_responses = {{"AUTH OAUTHBEARER", "+ \r\n"},
                       {expected_line, "+ eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=\r\n"},
                       {pop3::sasl_oauthbearer_failure_ack(), "-ERR [AUTH] invalid token\r\n"}};
  });
  auto account = fake_account(server, Security::implicit_tls);
  account.password = nullptr;
  account.oauth_token = []() -> Result<std::string> { return std::string("expired"); };
  auto opened = open(account);
  ASSERT_TRUE(opened.has_value());
  ASSERT_FALSE(*opened);
  EXPECT_EQ(opened->error().code, Errc::auth_failed) << opened->error().describe();
  const auto commands = server.commands(0);
  ASSERT_EQ(commands.size(), 4u);
  EXPECT_EQ(commands[1], "AUTH OAUTHBEARER");
  EXPECT_EQ(commands[2], expected_line);
  EXPECT_EQ(commands[3], pop3::sasl_oauthbearer_failure_ack());
  EXPECT_NE(token_line, expected_line);
}

// MD5 hex via OpenSSL, independent of popfs's own APOP code.
std::string md5_hex_independently(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_md5(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

TEST_F(ConnectionFakeTest, ApopOnlyAsLastResortAndOnlyInsideTls) {
  const std::string timestamp = "<1896.697170952@fake.example>";
  const std::string apop_line = "APOP user " + md5_hex_independently(timestamp + "password");
  auto options = options_with(FakeTls::implicit);
  options.greeting = "+OK POP3 server ready " + timestamp;
  options.capabilities = {"TOP", "UIDL"};  // neither USER nor SASL
  options.raw_responses = {{apop_line, "+OK maildrop locked and ready\r\n"}};
  FakePop3Server server(options);
  std::shared_ptr<Connection> connection;
  auto opened = open(fake_account(server, Security::implicit_tls), &connection);
  ASSERT_TRUE(opened.has_value());
  ASSERT_TRUE(*opened) << opened->error().describe();
  EXPECT_EQ(connection->auth_method(), AuthMethod::apop);
  EXPECT_EQ(server.commands(0).at(1), apop_line);

  // The same server without TLS: APOP (MD5) is not used in clear.
  auto plain_options = options;
  plain_options.tls = FakeTls::none;
  FakePop3Server plain_server(plain_options);
  auto opened_plain = open(fake_account(plain_server, Security::plaintext));
  ASSERT_TRUE(opened_plain.has_value());
  for (const auto& line : plain_server.commands(0))
    EXPECT_NE(line.rfind("APOP", 0), 0u) << "APOP sent without TLS";
}

TEST_F(ConnectionFakeTest, InUseIsReportedAsInUse) {
  auto options = options_with(FakeTls::implicit);
  options.auth_result = FakeAuthResult::in_use;
  FakePop3Server server(options);
  auto opened = open(fake_account(server, Security::implicit_tls));
  ASSERT_TRUE(opened.has_value());
  ASSERT_FALSE(*opened);
  EXPECT_EQ(opened->error().code, Errc::in_use) << opened->error().describe();
}

TEST_F(ConnectionFakeTest, LoginDelayIsReportedAsLoginDelay) {
  auto options = options_with(FakeTls::implicit);
  options.auth_result = FakeAuthResult::login_delay;
  FakePop3Server server(options);
  auto opened = open(fake_account(server, Security::implicit_tls));
  ASSERT_TRUE(opened.has_value());
  ASSERT_FALSE(*opened);
  EXPECT_EQ(opened->error().code, Errc::login_delay) << opened->error().describe();
}

TEST_F(ConnectionFakeTest, DropMidRetrFailsTheRetrAndEverythingAfterIt) {
  const std::string big(200000, 'x');
  auto options = options_with(FakeTls::implicit, {{"u1", "Subject: a\n\n" + big + "\n", {}},
                                                  {"u2", "Subject: b\n\nshort\n", {}}});
  options.drop_on_command = "RETR";
  options.drop_after_bytes = 50000;
  FakePop3Server server(options);
  std::shared_ptr<Connection> connection;
  auto opened = open(fake_account(server, Security::implicit_tls), &connection);
  ASSERT_TRUE(opened && *opened);
  std::string received;
  std::optional<Result<pop3::StatusLine>> first;
  std::optional<Result<pop3::StatusLine>> second;
  connection->execute(pop3::Command::retr(1), [&](std::string_view c) { received.append(c); },
                      [&](Result<pop3::StatusLine> r) { first = std::move(r); });
  connection->execute(pop3::Command::retr(2), {},
                      [&](Result<pop3::StatusLine> r) { second = std::move(r); });
  ASSERT_TRUE(run_until(io_, [&] { return first && second; }));
  ASSERT_FALSE(*first) << "a cut message must never be reported complete";
  EXPECT_EQ(first->error().code, Errc::connection) << first->error().describe();
  EXPECT_LT(received.size(), big.size());
  ASSERT_FALSE(*second);
  EXPECT_TRUE(connection->is_dead());
}

TEST_F(ConnectionFakeTest, StalledAnswerTimesOutWithinTheDeadline) {
  auto options = options_with(FakeTls::implicit, {{"u1", "Subject: a\n\nbody\n", {}}});
  options.stall_before = "RETR";
  FakePop3Server server(options);
  auto account = fake_account(server, Security::implicit_tls);
  account.response_timeout = 400ms;
  std::shared_ptr<Connection> connection;
  auto opened = open(account, &connection);
  ASSERT_TRUE(opened && *opened) << (opened ? opened->error().describe() : "");
  std::optional<Result<pop3::StatusLine>> retr;
  const auto started = std::chrono::steady_clock::now();
  connection->execute(pop3::Command::retr(1), {},
                      [&](Result<pop3::StatusLine> r) { retr = std::move(r); });
  ASSERT_TRUE(run_until(io_, [&] { return retr.has_value(); }, 10s));
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(*retr);
  EXPECT_EQ(retr->error().code, Errc::timeout) << retr->error().describe();
  EXPECT_GE(elapsed, 400ms);
  EXPECT_LT(elapsed, 5s);
}

TEST_F(ConnectionFakeTest, NoGreetingTimesOut) {
  auto options = options_with(FakeTls::implicit);
  options.stall_before = "GREETING";
  FakePop3Server server(options);
  auto account = fake_account(server, Security::implicit_tls);
  account.response_timeout = 300ms;
  auto opened = open(account);
  ASSERT_TRUE(opened.has_value());
  ASSERT_FALSE(*opened);
  EXPECT_EQ(opened->error().code, Errc::timeout) << opened->error().describe();
}

TEST_F(ConnectionFakeTest, GarbageAnswerIsProtocolViolation) {
  auto options = options_with(FakeTls::implicit, {{"u1", "Subject: a\n\nbody\n", {}}});
  options.raw_responses = {{"UIDL", "HELLO THERE\r\n"}};
  FakePop3Server server(options);
  std::shared_ptr<Connection> connection;
  auto opened = open(fake_account(server, Security::implicit_tls), &connection);
  ASSERT_TRUE(opened && *opened);
  auto uidl = fetch_and_wait(io_, *connection, pop3::Command::uidl());
  ASSERT_TRUE(uidl.has_value());
  ASSERT_FALSE(*uidl);
  EXPECT_EQ(uidl->error().code, Errc::protocol_violation) << uidl->error().describe();
}

TEST_F(ConnectionFakeTest, PipelinedAnswersAreMatchedInOrder) {
  std::vector<FakeMessage> mailbox;
  for (int i = 1; i <= 20; ++i)
    mailbox.push_back({"u" + std::to_string(i), "Subject: " + std::to_string(i) + "\n\nbody " +
                                                    std::to_string(i) + "\n", {}});
  FakePop3Server server(options_with(FakeTls::implicit, mailbox));
  std::shared_ptr<Connection> connection;
  auto opened = open(fake_account(server, Security::implicit_tls), &connection);
  ASSERT_TRUE(opened && *opened);
  ASSERT_TRUE(connection->pipelining());
  std::vector<std::string> bodies(20);
  std::size_t finished = 0;
  for (std::uint32_t n = 20; n >= 1; --n) {  // reverse order: answers must still match
    connection->fetch_text(pop3::Command::retr(n), [&, n](Result<std::string> r) {
      ASSERT_TRUE(r) << r.error().describe();
      bodies[n - 1] = std::move(*r);
      ++finished;
    });
  }
  ASSERT_TRUE(run_until(io_, [&] { return finished == 20; }));
  for (std::size_t i = 0; i < 20; ++i)
    EXPECT_EQ(bodies[i], "Subject: " + std::to_string(i + 1) + "\r\n\r\nbody " +
                             std::to_string(i + 1) + "\r\n");
}

// With PIPELINING the client does not wait for an answer before the next command: a server
// that stalls after the first RETR has still received the following ones, up to the bound.
// A slot freed by one answer is not refilled alone: the window refills once half of it is
// free, so commands go out in batches (one write, one TLS record), not one per answer.
TEST_F(ConnectionFakeTest, PipeliningWritesAheadWithinTheBound) {
  std::vector<FakeMessage> mailbox;
  for (int i = 1; i <= 10; ++i) mailbox.push_back({"u" + std::to_string(i), "S: x\n\nb\n", {}});
  auto options = options_with(FakeTls::implicit, mailbox);
  options.stall_after = "RETR";
  FakePop3Server server(options);
  auto account = fake_account(server, Security::implicit_tls);
  auto connection = Connection::create(io_.get_executor(), account, 1, ConnectionLimits{4, 4096});
  auto opened = open_and_wait(io_, connection);
  ASSERT_TRUE(opened && *opened);
  std::size_t failed = 0;
  for (std::uint32_t n = 1; n <= 10; ++n)
    connection->execute(pop3::Command::retr(n), {},
                        [&](Result<pop3::StatusLine> r) { failed += r ? std::size_t{0} : std::size_t{1}; });
  auto retr_count = [&] {
    std::size_t count = 0;
    for (const auto& line : server.commands(0)) count += line.rfind("RETR", 0) == 0 ? std::size_t{1} : std::size_t{0};
    return count;
  };
  // The window: RETR 1..4 reach the server at once.
  ASSERT_TRUE(popfs::test::wait_until(
      [&] {
        io_.poll();
        return retr_count() >= 4;
      },
      10s));
  run_until(io_, [] { return false; }, 200ms);  // give a runaway client the chance to misbehave
  EXPECT_EQ(retr_count(), 4u) << "at most 4 commands in flight, and one answer frees too little to write";
  connection->abort(Error(Errc::cancelled, "test over"));
  ASSERT_TRUE(run_until(io_, [&] { return failed == 9; }));
}

TEST_F(ConnectionFakeTest, WithoutPipeliningOneCommandAtATime) {
  std::vector<FakeMessage> mailbox;
  for (int i = 1; i <= 5; ++i) mailbox.push_back({"u" + std::to_string(i), "S: x\n\nb\n", {}});
  auto options = options_with(FakeTls::implicit, mailbox);
  options.stall_after = "RETR";
  FakePop3Server server(options);
  auto account = fake_account(server, Security::implicit_tls);
  account.pipelining = false;
  auto connection = Connection::create(io_.get_executor(), account);
  auto opened = open_and_wait(io_, connection);
  ASSERT_TRUE(opened && *opened);
  std::size_t answered = 0;
  for (std::uint32_t n = 1; n <= 5; ++n)
    connection->execute(pop3::Command::retr(n), {}, [&](Result<pop3::StatusLine>) { ++answered; });
  ASSERT_TRUE(run_until(io_, [&] { return answered >= 1; }));
  run_until(io_, [] { return false; }, 300ms);  // time for any wrongly pipelined command
  std::size_t retrs = 0;
  for (const auto& line : server.commands(0)) retrs += line.rfind("RETR", 0) == 0 ? std::size_t{1} : std::size_t{0};
  EXPECT_EQ(retrs, 2u) << "RETR 2 is sent only after RETR 1 was answered";
  connection->abort(Error(Errc::cancelled, "test over"));
  ASSERT_TRUE(run_until(io_, [&] { return answered == 5; }));
}

// RETR is streamed: a 1 MiB message reaches the sink in bounded pieces, not as one string.
TEST_F(ConnectionFakeTest, RetrIsStreamedInBoundedChunks) {
  std::string body;
  for (int i = 0; i < 16384; ++i) body += std::string(63, static_cast<char>('a' + i % 26)) + "\n";
  FakePop3Server server(options_with(FakeTls::implicit, {{"big", "Subject: big\n\n" + body, {}}}));
  std::shared_ptr<Connection> connection;
  auto opened = open(fake_account(server, Security::implicit_tls), &connection);
  ASSERT_TRUE(opened && *opened);
  std::size_t chunks = 0;
  std::size_t largest = 0;
  std::size_t total = 0;
  std::optional<Result<pop3::StatusLine>> done;
  connection->execute(
      pop3::Command::retr(1),
      [&](std::string_view chunk) {
        ++chunks;
        largest = std::max(largest, chunk.size());
        total += chunk.size();
      },
      [&](Result<pop3::StatusLine> r) { done = std::move(r); });
  ASSERT_TRUE(run_until(io_, [&] { return done.has_value(); }));
  ASSERT_TRUE(*done);
  EXPECT_EQ(total, std::string("Subject: big\r\n\r\n").size() + 16384u * 65u);
  EXPECT_GE(chunks, 16u);
  EXPECT_LE(largest, 64u * 1024u);
}

// Minimum progress: a server trickling one byte every 50 ms is never silent for a whole
// response_timeout, yet it is cut once a window passes with less than 1 KiB.
TEST_F(ConnectionFakeTest, TrickleIsCutWithinTwoWindows) {
  const std::string body(20000, 't');
  auto options = options_with(FakeTls::implicit, {{"slow", "Subject: s\n\n" + body + "\n", {}}});
  options.trickle_on_command = "RETR";
  options.trickle_bytes = 1;
  options.trickle_interval = 50ms;
  FakePop3Server server(options);
  auto account = fake_account(server, Security::implicit_tls);
  account.response_timeout = 600ms;
  ASSERT_EQ(account.min_progress_bytes, 1024u) << "the default is 1 KiB";
  std::shared_ptr<Connection> connection;
  auto opened = open(account, &connection);
  ASSERT_TRUE(opened && *opened) << (opened ? opened->error().describe() : "");
  std::optional<Result<pop3::StatusLine>> retr;
  const auto started = std::chrono::steady_clock::now();
  connection->execute(pop3::Command::retr(1), {},
                      [&](Result<pop3::StatusLine> r) { retr = std::move(r); });
  ASSERT_TRUE(run_until(io_, [&] { return retr.has_value(); }, 20s)) << "never cut";
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(*retr);
  EXPECT_EQ(retr->error().code, Errc::timeout) << retr->error().describe();
  // Not the silence message: bytes did arrive, too few of them.
  EXPECT_NE(retr->error().message.find("server too slow"), std::string::npos)
      << retr->error().message;
  EXPECT_GE(elapsed, 600ms) << "not before a whole window";
  EXPECT_LT(elapsed, 2 * 600ms + 500ms) << "within about two windows";
  EXPECT_TRUE(connection->is_dead());
}

// A slow but steady link is not a trickle: 300 KiB arriving over about five windows (8 KiB
// every 50 ms) must not be cut, though no window sees the whole answer.
TEST_F(ConnectionFakeTest, SlowSteadyStreamIsNotCut) {
  std::string body;
  for (int i = 0; i < 4800; ++i) body += std::string(63, static_cast<char>('a' + i % 26)) + "\n";
  FakePop3Server server(options_with(FakeTls::implicit, {{"big", "Subject: big\n\n" + body, {}}}));
  server.update([](FakePop3Options& o) {
    o.trickle_on_command = "RETR";
    o.trickle_bytes = 8192;
    o.trickle_interval = 50ms;
  });
  auto account = fake_account(server, Security::implicit_tls);
  account.response_timeout = 400ms;
  std::shared_ptr<Connection> connection;
  auto opened = open(account, &connection);
  ASSERT_TRUE(opened && *opened) << (opened ? opened->error().describe() : "");
  std::string received;
  std::optional<Result<pop3::StatusLine>> retr;
  const auto started = std::chrono::steady_clock::now();
  connection->execute(
      pop3::Command::retr(1), [&](std::string_view chunk) { received.append(chunk); },
      [&](Result<pop3::StatusLine> r) { retr = std::move(r); });
  ASSERT_TRUE(run_until(io_, [&] { return retr.has_value(); }, 30s));
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(*retr) << retr->error().describe();
  EXPECT_EQ(received, popfs::test::to_crlf("Subject: big\n\n" + body));
  EXPECT_GE(elapsed, 3 * 400ms) << "the answer spanned several windows";
}

// close_politely(): what is not written yet fails, what is in flight is answered, then QUIT.
TEST_F(ConnectionFakeTest, ClosePolitelyAnswersWhatIsInFlightThenQuits) {
  std::vector<FakeMessage> mailbox;
  for (int i = 1; i <= 4; ++i) mailbox.push_back({"u" + std::to_string(i), "S: x\n\nb\n", {}});
  auto options = options_with(FakeTls::implicit, mailbox);
  options.delay_before = "RETR";  // holds RETR 1 and 2 (written together) for a while
  options.answer_delay = 700ms;
  FakePop3Server server(options);
  auto connection = Connection::create(io_.get_executor(), fake_account(server, Security::implicit_tls),
                                       1, ConnectionLimits{2, 4096});
  auto opened = open_and_wait(io_, connection);
  ASSERT_TRUE(opened && *opened);
  std::vector<std::optional<Result<pop3::StatusLine>>> retrs(4);
  for (std::uint32_t n = 1; n <= 4; ++n)
    connection->execute(pop3::Command::retr(n), {},
                        [&, n](Result<pop3::StatusLine> r) { retrs[n - 1] = std::move(r); });
  ASSERT_TRUE(run_until(io_, [&] { return server.wait_for_command("RETR 1", 0ms); }, 10s));
  ASSERT_FALSE(retrs[0].has_value()) << "the server is still holding its answers";
  std::optional<Result<void>> closed;
  connection->close_politely(5s, 5s, [&](Result<void> r) { closed = std::move(r); });
  ASSERT_TRUE(run_until(io_, [&] { return closed.has_value(); }, 20s));
  ASSERT_TRUE(*closed) << closed->error().describe();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(retrs[static_cast<std::size_t>(i)].has_value()) << i;
  EXPECT_TRUE(*retrs[0]) << retrs[0]->error().describe();
  EXPECT_TRUE(*retrs[1]) << retrs[1]->error().describe();
  ASSERT_FALSE(*retrs[2]);
  EXPECT_EQ(retrs[2]->error().code, Errc::cancelled);
  ASSERT_FALSE(*retrs[3]);
  EXPECT_EQ(retrs[3]->error().code, Errc::cancelled);
  const auto commands = server.commands(0);
  ASSERT_GE(commands.size(), 3u);
  EXPECT_EQ(std::vector<std::string>(commands.end() - 3, commands.end()),
            (std::vector<std::string>{"RETR 1", "RETR 2", "QUIT"}))
      << "RETR 3 and 4 were never sent; QUIT came after the answers";
  EXPECT_TRUE(connection->is_dead());
}

TEST_F(ConnectionFakeTest, ClosePolitelyGivesUpOnAServerThatNeverAnswers) {
  auto options = options_with(FakeTls::implicit, {{"u1", "S: x\n\nb\n", {}}});
  options.stall_before = "RETR";
  FakePop3Server server(options);
  std::shared_ptr<Connection> connection;
  auto opened = open(fake_account(server, Security::implicit_tls), &connection);
  ASSERT_TRUE(opened && *opened);
  std::optional<Result<pop3::StatusLine>> retr;
  connection->execute(pop3::Command::retr(1), {},
                      [&](Result<pop3::StatusLine> r) { retr = std::move(r); });
  ASSERT_TRUE(run_until(io_, [&] { return server.wait_for_command("RETR", 0ms); }, 10s));
  std::optional<Result<void>> closed;
  const auto started = std::chrono::steady_clock::now();
  connection->close_politely(300ms, 300ms, [&](Result<void> r) { closed = std::move(r); });
  ASSERT_TRUE(run_until(io_, [&] { return closed.has_value(); }, 10s));
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(*closed);
  EXPECT_EQ(closed->error().code, Errc::cancelled) << closed->error().describe();
  ASSERT_TRUE(retr && !*retr);
  EXPECT_EQ(retr->error().code, Errc::cancelled) << retr->error().describe();
  EXPECT_GE(elapsed, 300ms);
  EXPECT_LT(elapsed, 2s) << "the drain bound, not response_timeout (5 s)";
  EXPECT_TRUE(connection->is_dead());
}

TEST_F(ConnectionFakeTest, ClosePolitelyBoundsTheWaitForQuit) {
  auto options = options_with(FakeTls::implicit);
  options.stall_before = "QUIT";
  FakePop3Server server(options);
  std::shared_ptr<Connection> connection;
  auto opened = open(fake_account(server, Security::implicit_tls), &connection);
  ASSERT_TRUE(opened && *opened);
  std::optional<Result<void>> closed;
  const auto started = std::chrono::steady_clock::now();
  connection->close_politely(300ms, 300ms, [&](Result<void> r) { closed = std::move(r); });
  ASSERT_TRUE(run_until(io_, [&] { return closed.has_value(); }, 10s));
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(*closed) << "QUIT was never answered";
  EXPECT_LT(elapsed, 2s);
  EXPECT_TRUE(server.wait_for_command("QUIT", 5s));
}

TEST_F(ConnectionFakeTest, CredentialsRefusedOnlyWhenTheServerRefusedThem) {
  auto options = options_with(FakeTls::implicit);
  options.auth_result = FakeAuthResult::wrong_password;
  FakePop3Server server(options);
  std::shared_ptr<Connection> refused;
  auto opened = open(fake_account(server, Security::implicit_tls), &refused);
  ASSERT_TRUE(opened && !*opened);
  EXPECT_EQ(opened->error().code, Errc::auth_failed);
  EXPECT_TRUE(refused->credentials_refused());

  server.update([](FakePop3Options& o) { o.auth_result = FakeAuthResult::in_use; });
  std::shared_ptr<Connection> busy;
  opened = open(fake_account(server, Security::implicit_tls), &busy);
  ASSERT_TRUE(opened && !*opened);
  EXPECT_EQ(opened->error().code, Errc::in_use);
  EXPECT_FALSE(busy->credentials_refused());

  // The password source failing is not the server refusing: nothing was tried.
  auto account = fake_account(server, Security::implicit_tls);
  account.password = []() -> Result<std::string> {
    return Error(Errc::auth_failed, "the password command printed nothing");
  };
  std::shared_ptr<Connection> no_password;
  opened = open(account, &no_password);
  ASSERT_TRUE(opened && !*opened);
  EXPECT_EQ(opened->error().code, Errc::auth_failed);
  EXPECT_FALSE(no_password->credentials_refused());
}

// Debug logs show the dialogue but never a secret, in clear or base64.
TEST_F(ConnectionFakeTest, DebugLogNeverContainsThePassword) {
  const std::string secret = "s3cr3t-Pa55-w0rd";
  std::ostringstream captured;
  auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(captured));
  logger->set_level(spdlog::level::debug);
  spdlog::set_default_logger(logger);
  struct Restore {
    std::shared_ptr<spdlog::logger> logger;
    ~Restore() { spdlog::set_default_logger(logger); }
  } restore{previous};

  for (const auto& capabilities :
       {std::vector<std::string>{"UIDL", "SASL PLAIN"}, std::vector<std::string>{"UIDL", "SASL LOGIN"},
        std::vector<std::string>{"UIDL", "USER"}}) {
    auto options = options_with(FakeTls::implicit);
    options.password = secret;
    options.capabilities = capabilities;
    FakePop3Server server(options);
    auto account = fake_account(server, Security::implicit_tls);
    account.password = [secret]() -> Result<std::string> { return secret; };
    auto opened = open(account);
    ASSERT_TRUE(opened && *opened) << (opened ? opened->error().describe() : "");
  }
  logger->flush();
  const std::string log = captured.str();
  EXPECT_NE(log.find("AUTH PLAIN"), std::string::npos) << "debug logging was on:\n" << log;
  EXPECT_NE(log.find("PASS"), std::string::npos) << log;
  EXPECT_EQ(log.find(secret), std::string::npos) << log;
  EXPECT_EQ(log.find(pop3::base64_encode(secret)), std::string::npos) << log;
  EXPECT_EQ(log.find(pop3::sasl_plain("user", secret)), std::string::npos) << log;
}

}  // namespace
}  // namespace popfs::net
