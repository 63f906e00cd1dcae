// net::Connection against the private Dovecot: TLS variants, certificate checks, login,
// and byte-exact RETR/TOP compared with an independent client (Python poplib).

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "net_test_util.hpp"
#include "popfs/net/connection.hpp"
#include "popfs/pop3/listing.hpp"
#include "popfs_test/corpus.hpp"
#include "popfs_test/dovecot.hpp"
#include "popfs_test/independent_client.hpp"
#include "popfs_test/process.hpp"
#include "popfs_test/temp_dir.hpp"

namespace popfs::net {
namespace {

using namespace std::chrono_literals;
using testing::dovecot_account;
using testing::fetch_and_wait;
using testing::open_and_wait;
using testing::run_until;

class ConnectionDovecotTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    popfs::test::CorpusOptions corpus;
    corpus.count = 12;
    corpus.seed = 7;
    popfs::test::DovecotOptions options;
    options.corpus = popfs::test::generate_corpus(corpus);
    dovecot_ = new popfs::test::Dovecot(std::move(options));
    reference_ = new std::vector<popfs::test::IndependentMessage>(
        popfs::test::fetch_all_independently(*dovecot_));
  }
  static void TearDownTestSuite() {
    delete reference_;
    reference_ = nullptr;
    delete dovecot_;
    dovecot_ = nullptr;
  }

  std::shared_ptr<Connection> connect(Account account, ConnectionLimits limits = {}) {
    auto connection = Connection::create(io_.get_executor(), std::move(account), 1, limits);
    auto opened = open_and_wait(io_, connection);
    EXPECT_TRUE(opened.has_value()) << "login did not finish";
    if (opened && !*opened) ADD_FAILURE() << opened->error().describe();
    return connection;
  }

  // UIDL -> RETR bytes for every message, all requests queued at once.
  std::map<std::string, std::string> fetch_everything(Connection& connection) {
    auto uidl_text = fetch_and_wait(io_, connection, pop3::Command::uidl());
    EXPECT_TRUE(uidl_text && *uidl_text);
    if (!uidl_text || !*uidl_text) return {};
    auto entries = pop3::parse_uidl_listing(**uidl_text);
    EXPECT_TRUE(entries);
    std::map<std::string, std::string> bodies;
    std::size_t finished = 0;
    bool all_ok = true;
    for (const auto& entry : *entries) {
      auto* body = &bodies[entry.uidl];
      connection.execute(
          pop3::Command::retr(entry.number), [body](std::string_view c) { body->append(c); },
          [&, uidl = entry.uidl](Result<pop3::StatusLine> status) {
            ++finished;
            if (!status) {
              all_ok = false;
              ADD_FAILURE() << uidl << ": " << status.error().describe();
            }
          });
    }
    EXPECT_TRUE(run_until(io_, [&] { return finished == entries->size(); }));
    EXPECT_TRUE(all_ok);
    return bodies;
  }

  void expect_same_as_reference(const std::map<std::string, std::string>& bodies) {
    ASSERT_EQ(bodies.size(), reference_->size());
    for (const auto& message : *reference_) {
      auto it = bodies.find(message.uidl);
      ASSERT_NE(it, bodies.end()) << message.uidl;
      EXPECT_EQ(it->second, message.content) << "RETR bytes differ for " << message.uidl;
    }
  }

  static popfs::test::Dovecot* dovecot_;
  static std::vector<popfs::test::IndependentMessage>* reference_;
  boost::asio::io_context io_;
};

popfs::test::Dovecot* ConnectionDovecotTest::dovecot_ = nullptr;
std::vector<popfs::test::IndependentMessage>* ConnectionDovecotTest::reference_ = nullptr;

TEST_F(ConnectionDovecotTest, ImplicitTlsRetrBytesEqualIndependentClient) {
  auto connection = connect(dovecot_account(*dovecot_, Security::implicit_tls));
  ASSERT_TRUE(connection->is_ready());
  EXPECT_TRUE(connection->pipelining()) << "Dovecot advertises PIPELINING";
  EXPECT_NE(connection->auth_method(), AuthMethod::none);
  expect_same_as_reference(fetch_everything(*connection));
}

TEST_F(ConnectionDovecotTest, StlsOnStrictHostRetrBytesEqualIndependentClient) {
  // 127.0.0.2: Dovecot refuses plaintext auth there unless STLS happened first.
  auto account = dovecot_account(*dovecot_, Security::stls);
  account.host = dovecot_->strict_host();
  auto connection = connect(account);
  ASSERT_TRUE(connection->is_ready());
  EXPECT_TRUE(connection->capabilities().top) << "CAPA after login lists TOP";
  expect_same_as_reference(fetch_everything(*connection));
}

TEST_F(ConnectionDovecotTest, UnpipelinedGivesTheSameBytes) {
  auto account = dovecot_account(*dovecot_, Security::implicit_tls);
  account.pipelining = false;
  auto connection = connect(account);
  ASSERT_TRUE(connection->is_ready());
  EXPECT_FALSE(connection->pipelining());
  expect_same_as_reference(fetch_everything(*connection));
}

TEST_F(ConnectionDovecotTest, TightPipelineBoundsGiveTheSameBytes) {
  auto connection = connect(dovecot_account(*dovecot_, Security::implicit_tls),
                            ConnectionLimits{2, 600});
  ASSERT_TRUE(connection->is_ready());
  expect_same_as_reference(fetch_everything(*connection));
}

TEST_F(ConnectionDovecotTest, TopZeroMatchesIndependentClient) {
  auto connection = connect(dovecot_account(*dovecot_, Security::implicit_tls));
  ASSERT_TRUE(connection->is_ready());
  auto uidl_text = fetch_and_wait(io_, *connection, pop3::Command::uidl());
  ASSERT_TRUE(uidl_text && *uidl_text);
  auto entries = pop3::parse_uidl_listing(**uidl_text);
  ASSERT_TRUE(entries);
  ASSERT_GE(entries->size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& entry = (*entries)[i];
    auto top = fetch_and_wait(io_, *connection, pop3::Command::top(entry.number, 0));
    ASSERT_TRUE(top && *top) << (top ? top->error().describe() : "no answer");
    EXPECT_EQ(**top, popfs::test::top_independently(*dovecot_, entry.uidl, 0)) << entry.uidl;
    EXPECT_NE((*top)->find("\r\n\r\n"), std::string::npos) << "TOP n 0 ends with the blank line";
  }
}

TEST_F(ConnectionDovecotTest, QuitIsAnsweredAndClosesTheSession) {
  const auto sessions_before = dovecot_->sessions().size();
  auto connection = connect(dovecot_account(*dovecot_, Security::implicit_tls));
  std::optional<Result<void>> quit;
  connection->quit([&](Result<void> r) { quit = std::move(r); });
  ASSERT_TRUE(run_until(io_, [&] { return quit.has_value(); }));
  EXPECT_TRUE(*quit);
  EXPECT_TRUE(connection->is_dead());
  ASSERT_TRUE(dovecot_->wait_for_sessions(sessions_before + 1));
  EXPECT_TRUE(dovecot_->sessions().back().quit);
}

TEST_F(ConnectionDovecotTest, WrongPasswordIsAuthFailedQuickly) {
  auto account = dovecot_account(*dovecot_, Security::implicit_tls);
  account.password = []() -> Result<std::string> { return std::string("wrong password"); };
  auto connection = Connection::create(io_.get_executor(), account);
  const auto started = std::chrono::steady_clock::now();
  // Dovecot delays failed logins by up to a few seconds (auth_failure_delay); allow that.
  auto opened = open_and_wait(io_, connection, 20s);
  ASSERT_TRUE(opened.has_value());
  ASSERT_FALSE(*opened);
  EXPECT_EQ(opened->error().code, Errc::auth_failed) << opened->error().describe();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 15s);
  EXPECT_EQ(opened->error().message.find("wrong password"), std::string::npos)
      << "the password must never appear in a message";
}

TEST_F(ConnectionDovecotTest, CertificateNotTrustedWithoutCaFile) {
  auto account = dovecot_account(*dovecot_, Security::implicit_tls);
  account.ca_file.clear();
  auto connection = Connection::create(io_.get_executor(), account);
  auto opened = open_and_wait(io_, connection);
  ASSERT_TRUE(opened.has_value());
  ASSERT_FALSE(*opened);
  EXPECT_EQ(opened->error().code, Errc::tls_untrusted) << opened->error().describe();
  EXPECT_NE(opened->error().message.find("--ca-file"), std::string::npos);
  EXPECT_NE(opened->error().message.find("--fingerprint"), std::string::npos);
}

TEST_F(ConnectionDovecotTest, StlsCertificateNotTrustedWithoutCaFile) {
  auto account = dovecot_account(*dovecot_, Security::stls);
  account.ca_file.clear();
  auto connection = Connection::create(io_.get_executor(), account);
  auto opened = open_and_wait(io_, connection);
  ASSERT_TRUE(opened.has_value());
  ASSERT_FALSE(*opened);
  EXPECT_EQ(opened->error().code, Errc::tls_untrusted) << opened->error().describe();
}

std::string openssl_fingerprint(const std::string& pem_file) {
  auto result = popfs::test::run_command(
      {"openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", pem_file}, 30s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  // "sha256 Fingerprint=AB:CD:..."
  auto equals = result.output.find('=');
  std::string hex;
  for (char c : result.output.substr(equals + 1))
    if (std::isxdigit(static_cast<unsigned char>(c))) hex.push_back(c);
  return hex;
}

TEST_F(ConnectionDovecotTest, MatchingFingerprintPinIsAcceptedWithoutCaFile) {
  auto account = dovecot_account(*dovecot_, Security::implicit_tls);
  account.ca_file.clear();
  account.fingerprint_sha256 = "sha256:" + openssl_fingerprint(dovecot_->ca_file());
  auto connection = connect(account);
  EXPECT_TRUE(connection->is_ready());
}

TEST_F(ConnectionDovecotTest, WrongFingerprintPinIsRejectedEvenWithCaFile) {
  auto account = dovecot_account(*dovecot_, Security::implicit_tls);
  account.fingerprint_sha256 = std::string(64, 'a');
  auto connection = Connection::create(io_.get_executor(), account);
  auto opened = open_and_wait(io_, connection);
  ASSERT_TRUE(opened.has_value());
  ASSERT_FALSE(*opened);
  EXPECT_EQ(opened->error().code, Errc::tls_untrusted) << opened->error().describe();
  std::string actual = openssl_fingerprint(dovecot_->ca_file());
  std::transform(actual.begin(), actual.end(), actual.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  EXPECT_NE(opened->error().message.find(actual), std::string::npos)
      << "the message shows the certificate's real fingerprint: " << opened->error().message;
}

// A TLS server (openssl s_server) whose certificate is trusted but names another host.
TEST(ConnectionTls, CertificateForAnotherHostIsNotTrusted) {
  popfs::test::TempDir dir;
  const auto cert = (dir / "cert.pem").string();
  const auto key = (dir / "key.pem").string();
  auto made = popfs::test::run_command(
      {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
       "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=other.example",
       "-addext", "subjectAltName=DNS:other.example"},
      60s);
  ASSERT_EQ(made.exit_code, 0) << made.output;
  const auto port = popfs::test::free_loopback_port();
  const pid_t server = popfs::test::spawn_process(
      {"openssl", "s_server", "-quiet", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
       cert, "-key", key});
  struct Stop {
    pid_t pid;
    ~Stop() { popfs::test::stop_process(pid); }
  } stop{server};
  ASSERT_TRUE(popfs::test::wait_for_port("127.0.0.1", port, 20s));

  boost::asio::io_context io;
  Account account;
  account.host = "127.0.0.1";
  account.port = port;
  account.user = "u";
  account.password = []() -> Result<std::string> { return std::string("p"); };
  account.ca_file = cert;
  auto connection = Connection::create(io.get_executor(), account);
  auto opened = open_and_wait(io, connection);
  ASSERT_TRUE(opened.has_value());
  ASSERT_FALSE(*opened);
  EXPECT_EQ(opened->error().code, Errc::tls_untrusted) << opened->error().describe();
  EXPECT_NE(opened->error().message.find("mismatch"), std::string::npos)
      << opened->error().message;
}

TEST(ConnectionErrors, UnknownHostIsHostNotFound) {
  boost::asio::io_context io;
  Account account;
  account.host = "no-such-host.invalid";
  account.port = 995;
  account.user = "u";
  account.password = []() -> Result<std::string> { return std::string("p"); };
  auto connection = Connection::create(io.get_executor(), account);
  auto opened = open_and_wait(io, connection);
  ASSERT_TRUE(opened.has_value());
  ASSERT_FALSE(*opened);
  EXPECT_EQ(opened->error().code, Errc::host_not_found) << opened->error().describe();
}

TEST(ConnectionErrors, ClosedPortIsConnectionRefused) {
  boost::asio::io_context io;
  const std::uint16_t port = popfs::test::free_loopback_port();  // nothing listens there
  Account account;
  account.host = "127.0.0.1";
  account.port = port;
  account.user = "u";
  account.password = []() -> Result<std::string> { return std::string("p"); };
  auto connection = Connection::create(io.get_executor(), account);
  auto opened = open_and_wait(io, connection);
  ASSERT_TRUE(opened.has_value());
  ASSERT_FALSE(*opened);
  EXPECT_EQ(opened->error().code, Errc::connection_refused) << opened->error().describe();
}

}  // namespace
}  // namespace popfs::net
