#include "popfs/app/logging.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

namespace popfs::app {
namespace {

TEST(MaskSecrets, PassCommand) {
  EXPECT_EQ(mask_secrets("PASS hunter2"), "PASS ****");
  EXPECT_EQ(mask_secrets("PASS hunter2\r\n"), "PASS ****\r\n");
  EXPECT_EQ(mask_secrets("pass with spaces in it"), "pass ****");
}

TEST(MaskSecrets, AuthInitialResponse) {
  EXPECT_EQ(mask_secrets("AUTH PLAIN AGFsaWNlAGh1bnRlcjI="), "AUTH PLAIN ****");
  EXPECT_EQ(mask_secrets("AUTH XOAUTH2 dXNlcj1hbGljZQFhdXRoPUJlYXJlciB5YTI5AQE=\r\n"),
            "AUTH XOAUTH2 ****\r\n");
  EXPECT_EQ(mask_secrets("AUTH PLAIN"), "AUTH PLAIN");  // nothing secret yet
}

TEST(MaskSecrets, ApopDigest) {
  EXPECT_EQ(mask_secrets("APOP alice c4c9334bac560ecc979e58001b3e22fb"), "APOP alice ****");
}

TEST(MaskSecrets, OtherLinesUnchanged) {
  for (const char* line : {"USER alice", "RETR 1", "UIDL", "TOP 3 0", "CAPA\r\n", "PASSWORD x", "AUTHX y"}) {
    EXPECT_EQ(mask_secrets(line), line);
  }
}

TEST(ProtocolMasker, MasksSaslContinuationLinesUntilTheServerAnswers) {
  ProtocolMasker masker;
  EXPECT_EQ(masker.client_line("AUTH PLAIN\r\n"), "AUTH PLAIN\r\n");
  EXPECT_TRUE(masker.in_sasl_exchange());
  masker.server_line("+ ");
  EXPECT_EQ(masker.client_line("AGFsaWNlAGh1bnRlcjI=\r\n"), "****\r\n");
  masker.server_line("+OK Logged in.");
  EXPECT_FALSE(masker.in_sasl_exchange());
  EXPECT_EQ(masker.client_line("STAT\r\n"), "STAT\r\n");
}

TEST(ProtocolMasker, FailedExchangeEndsMasking) {
  ProtocolMasker masker;
  EXPECT_EQ(masker.client_line("AUTH XOAUTH2 dG9rZW4="), "AUTH XOAUTH2 ****");
  masker.server_line("+ eyJzdGF0dXMiOiI0MDEifQ==");
  EXPECT_EQ(masker.client_line(""), "****");
  masker.server_line("-ERR [AUTH] Authentication failed.");
  EXPECT_EQ(masker.client_line("QUIT"), "QUIT");
}

TEST(ProtocolMasker, BareAuthListsMechanismsOnly) {
  ProtocolMasker masker;
  EXPECT_EQ(masker.client_line("AUTH"), "AUTH");
  EXPECT_FALSE(masker.in_sasl_exchange());
}

class CapturedLog {
 public:
  explicit CapturedLog(bool debug) {
    LogSetup setup;
    setup.debug = debug;
    setup.extra_sinks.push_back(std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_));
    setup_logging(setup);
  }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;
  ~CapturedLog() { setup_logging(LogSetup{}); }
  std::string text() {
    spdlog::default_logger()->flush();
    return stream_.str();
  }

 private:
  std::ostringstream stream_;
};

TEST(SetupLogging, InfoByDefault) {
  CapturedLog log(false);
  spdlog::info("visible-info");
  spdlog::debug("hidden-debug");
  EXPECT_NE(log.text().find("visible-info"), std::string::npos);
  EXPECT_EQ(log.text().find("hidden-debug"), std::string::npos);
  EXPECT_EQ(spdlog::default_logger()->name(), "popfs");
}

TEST(SetupLogging, DebugWithD) {
  CapturedLog log(true);
  spdlog::debug("shown-debug");
  EXPECT_NE(log.text().find("shown-debug"), std::string::npos);
}

TEST(SetupLogging, DaemonLogsToSyslogWithoutThrowing) {
  LogSetup setup;
  setup.daemon = true;
  setup_logging(setup);
  spdlog::info("popfs unit test: syslog sink works");
  EXPECT_EQ(spdlog::default_logger()->sinks().size(), 1u);
  setup_logging(LogSetup{});
}

}  // namespace
}  // namespace popfs::app
