#include "popfs/app/logging.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "test_helpers.hpp"

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

// Points stderr at a file for the lifetime of the object.
class StderrToFile {
 public:
  explicit StderrToFile(const std::string& path) {
    std::fflush(stderr);
    saved_ = ::dup(STDERR_FILENO);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  StderrToFile(const StderrToFile&) = delete;
  StderrToFile& operator=(const StderrToFile&) = delete;
  ~StderrToFile() {
    std::fflush(stderr);
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
  }

 private:
  int saved_ = -1;
};

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(SetupLogging, StderrFormat) {
  test::TempDir dir;
  const std::string path = dir.file("stderr");
  {
    StderrToFile redirect(path);
    ::unsetenv("JOURNAL_STREAM");
    setup_logging(LogSetup{});
    spdlog::warn("disk almost full");
    spdlog::default_logger()->flush();
  }
  setup_logging(LogSetup{});
  EXPECT_EQ(read_all(path), "popfs: warning: disk almost full\n");
}

TEST(SetupLogging, JournalGetsPriorityPrefixes) {
  test::TempDir dir;
  const std::string path = dir.file("stderr");
  {
    StderrToFile redirect(path);
    struct stat st {};
    ASSERT_EQ(::fstat(STDERR_FILENO, &st), 0);
    const std::string stream = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
    ::setenv("JOURNAL_STREAM", stream.c_str(), 1);
    LogSetup setup;
    setup.debug = true;
    setup_logging(setup);
    spdlog::debug("d");
    spdlog::info("i");
    spdlog::warn("w");
    spdlog::error("e");
    spdlog::default_logger()->flush();
    ::unsetenv("JOURNAL_STREAM");
  }
  setup_logging(LogSetup{});
  EXPECT_EQ(read_all(path), "<7>d\n<6>i\n<4>w\n<3>e\n");
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
