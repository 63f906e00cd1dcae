#include "popfs/app/credentials.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <sstream>

#include "popfs/app/command.hpp"
#include "popfs/app/config.hpp"
#include "popfs/app/logging.hpp"
#include "test_helpers.hpp"

namespace popfs::app {
namespace {

using namespace std::chrono_literals;
using test::fake_env;
using test::TempDir;

// A request that can only use what a test gives it: no keyring, no terminal.
CredentialRequest isolated_request() {
  CredentialRequest r;
  r.user = "alice";
  r.host = "mail.example.com";
  r.port = 995;
  r.env = fake_env({});
  r.use_keyring = false;
  r.allow_prompt = false;
  return r;
}

std::string get(const SecretSource& source) {
  auto secret = source();
  EXPECT_TRUE(secret.ok()) << (secret.ok() ? "" : secret.error().message);
  return secret.ok() ? secret.value() : std::string();
}

TEST(Command, CapturesOutputAndStatus) {
  auto out = run_shell_command("echo out; echo err >&2; exit 7", 10s);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->out, "out\n");
  EXPECT_EQ(out->err, "err\n");
  EXPECT_EQ(out->exit_status, 7);
}

TEST(Command, MissingProgram) {
  auto out = run_program({"/nonexistent/program"}, 10s);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().code, Errc::not_found);
}

TEST(Command, TimeoutKillsTheChild) {
  const auto start = std::chrono::steady_clock::now();
  auto out = run_shell_command("exec sleep 30", 300ms);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().code, Errc::timeout);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

TEST(PasswordCommand, FirstLineOfStdout) {
  auto secret = secret_from_command("printf 'hunter2\\nsecond line\\n'", "--password-command");
  ASSERT_TRUE(secret.ok()) << secret.error().message;
  EXPECT_EQ(secret.value(), "hunter2");
  auto crlf = secret_from_command("printf 'pw\\r\\n'", "--password-command");
  ASSERT_TRUE(crlf.ok());
  EXPECT_EQ(crlf.value(), "pw");
}

TEST(PasswordCommand, FailureCarriesStatusAndStderr) {
  auto secret = secret_from_command("echo 'vault is locked' >&2; exit 3", "--password-command");
  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(secret.error().code, Errc::auth_failed);
  EXPECT_NE(secret.error().message.find("--password-command"), std::string::npos);
  EXPECT_NE(secret.error().message.find("status 3"), std::string::npos) << secret.error().message;
  EXPECT_NE(secret.error().message.find("vault is locked"), std::string::npos);
}

TEST(PasswordCommand, FailureMessageNeverCarriesStdout) {
  // A command that printed the secret and then failed: the message shows stderr only.
  auto secret = secret_from_command("echo hunter2; echo 'agent not running' >&2; exit 1", "--password-command");
  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(secret.error().message.find("hunter2"), std::string::npos) << secret.error().message;
  EXPECT_NE(secret.error().message.find("agent not running"), std::string::npos);
}

TEST(PasswordCommand, NotRunUntilALoginNeedsIt) {
  TempDir dir;
  auto request = isolated_request();
  const std::string marker = dir.file("ran");
  request.password_command = "touch " + marker + "; echo pw";
  auto source = make_password_source(request);
  ASSERT_TRUE(source.ok());
  EXPECT_FALSE(std::filesystem::exists(marker));
  EXPECT_EQ(get(source.value()), "pw");
  EXPECT_TRUE(std::filesystem::exists(marker));
}

TEST(PasswordCommand, EmptyOutputIsAnError) {
  auto secret = secret_from_command("true", "--password-command");
  ASSERT_FALSE(secret.ok());
  EXPECT_NE(secret.error().message.find("printed nothing"), std::string::npos);
}

TEST(PasswordCommand, RunsAgainForEveryLogin) {
  TempDir dir;
  auto request = isolated_request();
  const std::string counter = dir.file("n");
  request.password_command = "n=$(cat " + counter + " 2>/dev/null || echo 0); n=$((n+1)); echo $n > " +
                             counter + "; echo token$n";
  auto source = make_password_source(request);
  ASSERT_TRUE(source.ok());
  EXPECT_EQ(get(source.value()), "token1");
  EXPECT_EQ(get(source.value()), "token2");
}

TEST(PasswordFile, FirstLineOfAPrivateFile) {
  TempDir dir;
  const std::string path = dir.write("pw", "s3cret\nignored\n", 0600);
  auto secret = secret_from_file(path);
  ASSERT_TRUE(secret.ok()) << secret.error().message;
  EXPECT_EQ(secret.value(), "s3cret");
  EXPECT_EQ(secret_from_file(dir.write("nonl", "abc", 0400)).value(), "abc");
}

TEST(PasswordFile, GroupOrWorldReadableIsRefused) {
  TempDir dir;
  for (const mode_t mode : {0644u, 0640u, 0604u, 0660u, 0620u}) {
    const std::string path = dir.write("pw", "s3cret\n", mode);
    auto secret = secret_from_file(path);
    ASSERT_FALSE(secret.ok()) << std::oct << mode;
    EXPECT_EQ(secret.error().code, Errc::invalid_argument);
    EXPECT_NE(secret.error().message.find("chmod 600 " + path), std::string::npos) << secret.error().message;
    EXPECT_EQ(secret.error().message.find("s3cret"), std::string::npos);
  }
}

TEST(PasswordFile, MissingEmptyOrNotAFile) {
  TempDir dir;
  EXPECT_FALSE(secret_from_file(dir.file("none")).ok());
  EXPECT_FALSE(secret_from_file(dir.write("empty", "", 0600)).ok());
  EXPECT_FALSE(secret_from_file(dir.write("blank", "\nsecond\n", 0600)).ok());
  EXPECT_FALSE(secret_from_file(dir.path()).ok());
}

TEST(PasswordFile, ReadOnceAndKeptInMemory) {
  TempDir dir;
  auto request = isolated_request();
  request.password_file = dir.write("pw", "first\n", 0600);
  auto source = make_password_source(request);
  ASSERT_TRUE(source.ok());
  dir.write("pw", "second\n", 0600);
  EXPECT_EQ(get(source.value()), "first");
}

TEST(PasswordFile, RefusalStopsSourceCreation) {
  TempDir dir;
  auto request = isolated_request();
  request.password_file = dir.write("pw", "x\n", 0644);
  request.env = fake_env({{"POPFS_PASSWORD", "from-env"}});
  auto source = make_password_source(request);
  ASSERT_FALSE(source.ok()) << "an insecure file must not silently fall back to other sources";
  EXPECT_NE(source.error().message.find("chmod 600"), std::string::npos);
}

TEST(PasswordEnv, UsedWhenNothingElseIsConfigured) {
  auto request = isolated_request();
  request.env = fake_env({{"POPFS_PASSWORD", "from-env"}});
  auto source = make_password_source(request);
  ASSERT_TRUE(source.ok());
  EXPECT_EQ(get(source.value()), "from-env");
}

TEST(PasswordSources, NoSourceIsAClearError) {
  auto source = make_password_source(isolated_request());
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.error().code, Errc::auth_failed);
  for (const char* hint : {"--password-file", "--password-command", "POPFS_PASSWORD", "alice@mail.example.com"}) {
    EXPECT_NE(source.error().message.find(hint), std::string::npos) << source.error().message;
  }
}

// A stand-in for libsecret's secret-tool that answers only the exact lookup popfs must make.
std::string install_fake_secret_tool(const TempDir& dir) {
  dir.write("secret-tool",
            "#!/bin/sh\n"
            "if [ \"$*\" = 'lookup service popfs user alice host mail.example.com' ]; then\n"
            "  printf from-keyring\n"
            "  exit 0\n"
            "fi\n"
            "echo \"unexpected: $*\" >&2\n"
            "exit 1\n",
            0700);
  return dir.path();
}

TEST(PasswordKeyring, LooksUpServiceUserAndHost) {
  TempDir dir;
  const std::string bin = install_fake_secret_tool(dir);
  auto env = fake_env({{"PATH", bin}, {"DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent"}});
  EXPECT_EQ(secret_from_keyring("alice", "mail.example.com", env), "from-keyring");
  EXPECT_EQ(secret_from_keyring("bob", "mail.example.com", env), std::nullopt);
}

TEST(PasswordKeyring, SkippedWithoutSessionBusOrSecretTool) {
  TempDir dir;
  const std::string bin = install_fake_secret_tool(dir);
  EXPECT_EQ(secret_from_keyring("alice", "mail.example.com", fake_env({{"PATH", bin}})), std::nullopt);
  EXPECT_EQ(secret_from_keyring("alice", "mail.example.com",
                                fake_env({{"PATH", dir.file("empty")}, {"DBUS_SESSION_BUS_ADDRESS", "x"}})),
            std::nullopt);
}

TEST(PasswordSources, OrderCommandFileEnvKeyring) {
  TempDir dir;
  const std::string bin = install_fake_secret_tool(dir);
  auto request = isolated_request();
  request.use_keyring = true;
  request.env = fake_env({{"PATH", bin}, {"DBUS_SESSION_BUS_ADDRESS", "x"}, {"POPFS_PASSWORD", "from-env"}});
  request.password_file = dir.write("pw", "from-file\n", 0600);
  request.password_command = "echo from-command";

  EXPECT_EQ(get(make_password_source(request).value()), "from-command");
  request.password_command.reset();
  EXPECT_EQ(get(make_password_source(request).value()), "from-file");
  request.password_file.reset();
  EXPECT_EQ(get(make_password_source(request).value()), "from-env");
  request.env = fake_env({{"PATH", bin}, {"DBUS_SESSION_BUS_ADDRESS", "x"}});
  EXPECT_EQ(get(make_password_source(request).value()), "from-keyring");
}

TEST(TokenSource, RunsTheTokenCommand) {
  auto request = isolated_request();
  request.oauth_token_command = "echo ya29.token";
  auto source = make_token_source(request);
  ASSERT_TRUE(source.ok());
  EXPECT_EQ(get(source.value()), "ya29.token");
  EXPECT_FALSE(make_token_source(isolated_request()).ok());
}

TEST(AttachCredentials, TokenOrPasswordNeverBoth) {
  MountSettings settings;
  settings.url = parse_url("pop3s://alice@mail.example.com").value();
  settings.oauth_token_command = "echo tok";
  net::Account account = settings.to_account();
  ASSERT_TRUE(attach_credentials(settings, account, false, fake_env({})).ok());
  ASSERT_TRUE(account.oauth_token);
  EXPECT_FALSE(account.password);
  EXPECT_EQ(account.oauth_token().value(), "tok");

  settings.oauth_token_command.reset();
  ASSERT_TRUE(attach_credentials(settings, account, false, fake_env({{"POPFS_PASSWORD", "pw"}})).ok());
  ASSERT_TRUE(account.password);
  EXPECT_FALSE(account.oauth_token);
  EXPECT_EQ(account.password().value(), "pw");

  EXPECT_FALSE(attach_credentials(settings, account, false, fake_env({})).ok());
}

TEST(Secrets, NeverAppearInTheLog) {
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  LogSetup setup;
  setup.debug = true;
  setup.extra_sinks.push_back(sink);
  setup_logging(setup);

  TempDir dir;
  auto request = isolated_request();
  request.password_command = "echo secret-from-command";
  EXPECT_EQ(get(make_password_source(request).value()), "secret-from-command");
  request.password_command.reset();
  request.password_file = dir.write("pw", "secret-from-file\n", 0600);
  EXPECT_EQ(get(make_password_source(request).value()), "secret-from-file");
  request.password_file.reset();
  request.env = fake_env({{"POPFS_PASSWORD", "secret-from-env"}});
  EXPECT_EQ(get(make_password_source(request).value()), "secret-from-env");
  request.oauth_token_command = "echo secret-token";
  EXPECT_EQ(get(make_token_source(request).value()), "secret-token");
  spdlog::default_logger()->flush();

  const std::string log = captured.str();
  EXPECT_NE(log.find("password source"), std::string::npos) << "the test sink captured nothing:\n" << log;
  for (const char* secret : {"secret-from-command", "secret-from-file", "secret-from-env", "secret-token"}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << secret << " leaked into the log:\n" << log;
  }
  setup_logging(LogSetup{});  // the sink refers to `captured`, which goes away now
}

}  // namespace
}  // namespace popfs::app
