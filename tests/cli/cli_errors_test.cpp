// The real `popfs` binary, failing in ways a user must be able to act on (issue 5), and its
// command line. No test here mounts anything when popfs behaves; MountGuard still cleans up
// if a mount happens by mistake. Exit codes: include/popfs/app/exit_code.hpp and popfs(1).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "cli_harness.hpp"
#include "popfs_test/corpus.hpp"
#include "popfs_test/dovecot.hpp"
#include "popfs_test/fake_pop3_server.hpp"
#include "popfs_test/process.hpp"

#ifndef POPFS_EXPECTED_VERSION
#error "POPFS_EXPECTED_VERSION must be set by CMake"
#endif

namespace popfs::test::cli {
namespace {

constexpr int kUsage = 1;
constexpr int kAuth = 2;
constexpr int kConnection = 3;
constexpr int kBusy = 4;
constexpr int kMount = 5;

std::string pop3s_url(const std::string& user, const std::string& host, std::uint16_t port) {
  return "pop3s://" + user + "@" + host + ":" + std::to_string(port);
}

bool sent_credentials(const std::vector<std::string>& lines, const std::string& password) {
  for (const auto& line : lines) {
    for (const char* verb : {"USER", "PASS", "AUTH", "APOP"}) {
      if (contains_nocase(line.substr(0, 4), verb)) return true;
    }
    if (line.find(password) != std::string::npos) return true;
  }
  return false;
}

// Each test gets its own HOME/XDG dirs, an empty mountpoint and a guard for it.
class CliErrors : public ::testing::Test {
 protected:
  CliEnvironment env;
  std::filesystem::path mountpoint = env.make_dir("mnt");
  MountGuard guard{env, mountpoint};
  std::filesystem::path password_file = env.make_file("password", "secret\n", 0600);

  // popfs mount [args...] URL MOUNTPOINT
  CliResult mount(const std::string& url, std::vector<std::string> args = {},
                  const std::vector<std::string>& extra_env = {}) {
    std::vector<std::string> argv = {"mount"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(url);
    argv.push_back(mountpoint.string());
    return env.run(argv, 60s, extra_env);
  }

  void TearDown() override {
    EXPECT_FALSE(is_mounted(mountpoint)) << "a failed mount left a mount behind";
    // A failed `popfs mount` leaves no daemon behind either.
    EXPECT_TRUE(wait_until([&] { return processes_mentioning(mountpoint.string()).empty(); }, 10s))
        << "a process naming the mountpoint is still running";
  }
};

TEST_F(CliErrors, UnknownHostExits3AndSaysTheHostWasNotFound) {
  const auto r = mount("pop3s://u@nonexistent.invalid", {"--password-file", password_file.string()});
  EXPECT_EQ(r.exit_code, kConnection) << r.describe();
  EXPECT_TRUE(contains_nocase(r.err, "nonexistent.invalid")) << r.err;
  EXPECT_TRUE(contains_nocase(r.err, "not found") || contains_nocase(r.err, "resolve")) << r.err;
  EXPECT_TRUE(contains_nocase(r.err, "host")) << r.err;
}

TEST_F(CliErrors, RefusedPortExits3AndSaysRefused) {
  const std::uint16_t port = free_loopback_port();
  const auto r = mount(pop3s_url("u", "127.0.0.1", port), {"--password-file", password_file.string()});
  EXPECT_EQ(r.exit_code, kConnection) << r.describe();
  EXPECT_TRUE(contains_nocase(r.err, "refused")) << r.err;
}

TEST_F(CliErrors, OfflineSyncOfARefusedPortExits3Too) {
  const std::uint16_t port = free_loopback_port();
  const auto r = env.run({"sync", "--password-file", password_file.string(), "--cache-dir",
                          env.path("cache").string(), pop3s_url("u", "127.0.0.1", port)});
  EXPECT_EQ(r.exit_code, kConnection) << r.describe();
  EXPECT_TRUE(contains_nocase(r.err, "refused")) << r.err;
}

TEST_F(CliErrors, UntrustedCertificateExits3AndNamesCaFileAndFingerprint) {
  Dovecot dovecot({.corpus = generate_corpus({.count = 3, .seed = 5})});
  const auto r = mount(pop3s_url(dovecot.user(), "127.0.0.1", dovecot.pop3s_port()),
                       {"--password-file", dovecot.password_file().string()});
  EXPECT_EQ(r.exit_code, kConnection) << r.describe();
  EXPECT_TRUE(contains_nocase(r.err, "certificate")) << r.err;
  EXPECT_NE(r.err.find("--ca-file"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--fingerprint"), std::string::npos) << r.err;
  EXPECT_EQ(dovecot.logins(), 0u) << "popfs logged in over an untrusted connection";
}

TEST_F(CliErrors, ServerWithoutStlsExits3BeforeAnyCredentialIsSent) {
  FakePop3Server server({.mailbox = {{"uid-1", "Subject: a\n\nbody\n", std::nullopt}}});
  const auto r = mount("pop3://user@127.0.0.1:" + std::to_string(server.port()), {},
                       {"POPFS_PASSWORD=password"});
  EXPECT_EQ(r.exit_code, kConnection) << r.describe();
  EXPECT_NE(r.err.find("STLS"), std::string::npos) << r.err;
  ASSERT_GE(server.session_count(), 1u) << "popfs never contacted the server";
  for (const auto& session : server.commands()) {
    EXPECT_FALSE(sent_credentials(session, "password")) << "credentials sent in clear";
  }
}

TEST_F(CliErrors, WrongPasswordExits2AndSaysAuthentication) {
  Dovecot dovecot({.corpus = generate_corpus({.count = 3, .seed = 6})});
  const auto wrong = env.make_file("wrong-password", "not the password\n", 0600);
  const auto r = mount(pop3s_url(dovecot.user(), "127.0.0.1", dovecot.pop3s_port()),
                       {"--ca-file", dovecot.ca_file(), "--password-file", wrong.string()});
  EXPECT_EQ(r.exit_code, kAuth) << r.describe();
  EXPECT_TRUE(contains_nocase(r.err, "authentication")) << r.err;
  EXPECT_EQ(r.err.find("not the password"), std::string::npos) << "the password is in the message";
}

TEST_F(CliErrors, NoPasswordSourceWithoutATerminalExits2) {
  FakePop3Server server({.tls = FakeTls::implicit});
  const auto r = mount(pop3s_url("user", "127.0.0.1", server.port()), {"--ca-file", server.ca_file()});
  EXPECT_EQ(r.exit_code, kAuth) << r.describe();
  EXPECT_TRUE(contains_nocase(r.err, "password")) << r.err;
  EXPECT_NE(r.err.find("--password-file"), std::string::npos) << r.err;
}

TEST_F(CliErrors, MailboxInUseExits4) {
  FakePop3Server server({.tls = FakeTls::implicit, .auth_result = FakeAuthResult::in_use});
  const auto r = mount(pop3s_url("user", "127.0.0.1", server.port()), {"--ca-file", server.ca_file()},
                       {"POPFS_PASSWORD=password"});
  EXPECT_EQ(r.exit_code, kBusy) << r.describe();
  EXPECT_TRUE(contains_nocase(r.err, "in use") || contains_nocase(r.err, "in-use")) << r.err;
}

TEST_F(CliErrors, LoginDelayExits4) {
  FakePop3Server server({.tls = FakeTls::implicit, .auth_result = FakeAuthResult::login_delay});
  const auto r = mount(pop3s_url("user", "127.0.0.1", server.port()), {"--ca-file", server.ca_file()},
                       {"POPFS_PASSWORD=password"});
  EXPECT_EQ(r.exit_code, kBusy) << r.describe();
  EXPECT_TRUE(contains_nocase(r.err, "login-delay") || contains_nocase(r.err, "too soon")) << r.err;
}

TEST_F(CliErrors, MissingMountpointExits5) {
  const auto missing = env.path("no-such-dir");
  const auto r = env.run({"mount", "--password-file", password_file.string(), "pop3s://u@127.0.0.1:995",
                          missing.string()});
  EXPECT_EQ(r.exit_code, kMount) << r.describe();
  EXPECT_NE(r.err.find(missing.string()), std::string::npos) << r.err;
  EXPECT_TRUE(contains_nocase(r.err, "does not exist") || contains_nocase(r.err, "missing")) << r.err;
  EXPECT_FALSE(std::filesystem::exists(missing)) << "popfs created the mountpoint";
}

TEST_F(CliErrors, NonEmptyMountpointExits5AndKeepsItsFiles) {
  write_file(mountpoint / "keep.txt", "mine\n");
  const auto r = mount("pop3s://u@127.0.0.1:995", {"--password-file", password_file.string()});
  EXPECT_EQ(r.exit_code, kMount) << r.describe();
  EXPECT_TRUE(contains_nocase(r.err, "not empty")) << r.err;
  EXPECT_EQ(read_file(mountpoint / "keep.txt"), "mine\n");
}

// exit_code.hpp maps a refused password file (Errc::invalid_argument) to 1, "usage or
// configuration error" in popfs(1); the man page's 2 is "no password could be obtained".
TEST_F(CliErrors, GroupReadablePasswordFileExits1AndSaysChmod600) {
  FakePop3Server server({.tls = FakeTls::implicit});
  const auto loose = env.make_file("loose-password", "password\n", 0644);
  const auto r = mount(pop3s_url("user", "127.0.0.1", server.port()),
                       {"--ca-file", server.ca_file(), "--password-file", loose.string()});
  EXPECT_EQ(r.exit_code, kUsage) << r.describe();
  EXPECT_NE(r.err.find("chmod 600"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(loose.string()), std::string::npos) << r.err;
  EXPECT_EQ(server.session_count(), 0u) << "popfs connected although it refused the password file";
}

TEST_F(CliErrors, MalformedConfigExits1WithFileAndLine) {
  const auto config = env.make_file("config.toml", "# popfs\n[defaults]\nro = = true\n", 0600);
  const auto r = env.run({"--config", config.string(), "mount", "--password-file", password_file.string(),
                          "pop3s://u@127.0.0.1:995", mountpoint.string()});
  EXPECT_EQ(r.exit_code, kUsage) << r.describe();
  EXPECT_NE(r.err.find(config.string()), std::string::npos) << r.err;
  EXPECT_TRUE(r.err.find(config.string() + ":3") != std::string::npos || contains_nocase(r.err, "line 3"))
      << r.err;
}

TEST_F(CliErrors, UnreadableConfigExits1AndNamesTheFile) {
  const auto config = env.path("no-such-config.toml");
  const auto r = env.run({"--config", config.string(), "mount", "--password-file", password_file.string(),
                          "pop3s://u@127.0.0.1:995", mountpoint.string()});
  EXPECT_EQ(r.exit_code, kUsage) << r.describe();
  EXPECT_NE(r.err.find(config.string()), std::string::npos) << r.err;
}

TEST_F(CliErrors, UnknownOptionAndMissingCommandExit1) {
  const auto bogus = env.run({"mount", "--no-such-option", "pop3s://u@h", mountpoint.string()});
  EXPECT_EQ(bogus.exit_code, kUsage) << bogus.describe();
  EXPECT_TRUE(contains_nocase(bogus.out + bogus.err, "no-such-option")) << bogus.describe();
  const auto nothing = env.run({});
  EXPECT_EQ(nothing.exit_code, kUsage) << nothing.describe();
}

TEST_F(CliErrors, MalformedUrlExits1) {
  const auto r = mount("imap://u@example.org", {"--password-file", password_file.string()});
  EXPECT_EQ(r.exit_code, kUsage) << r.describe();
  EXPECT_NE(r.err.find("imap"), std::string::npos) << r.err;
}

TEST_F(CliErrors, ForegroundMountReportsTheSameExitCodes) {
  const std::uint16_t port = free_loopback_port();
  const auto r = mount(pop3s_url("u", "127.0.0.1", port), {"-f", "--password-file", password_file.string()});
  EXPECT_EQ(r.exit_code, kConnection) << r.describe();
  EXPECT_TRUE(contains_nocase(r.err, "refused")) << r.err;
}

TEST_F(CliErrors, ControlCommandsOnADirectoryThatIsNotMountedExit5) {
  for (const char* command : {"umount", "status", "refresh"}) {
    const auto r = env.run({command, mountpoint.string()});
    EXPECT_EQ(r.exit_code, kMount) << command << "\n" << r.describe();
    EXPECT_NE(r.err.find(mountpoint.string()), std::string::npos) << command << "\n" << r.err;
    EXPECT_TRUE(contains_nocase(r.err, "not mounted") || contains_nocase(r.err, "no popfs daemon"))
        << command << "\n" << r.err;
  }
}

TEST(CliHelp, HelpAndVersionExit0) {
  CliEnvironment env;
  const auto help = env.run({"--help"});
  EXPECT_EQ(help.exit_code, 0) << help.describe();
  EXPECT_TRUE(contains_nocase(help.out, "usage")) << help.out;
  for (const char* command : {"mount", "umount", "status", "refresh", "sync", "cache"}) {
    EXPECT_NE(help.out.find(command), std::string::npos) << command << " missing from\n" << help.out;
  }

  const auto mount_help = env.run({"mount", "--help"});
  EXPECT_EQ(mount_help.exit_code, 0) << mount_help.describe();
  EXPECT_TRUE(contains_nocase(mount_help.out, "usage")) << mount_help.out;
  for (const char* option : {"--password-file", "--password-command", "--ca-file", "--fingerprint", "--cache-dir",
                             "--foreground", "--insecure-plaintext"}) {
    EXPECT_NE(mount_help.out.find(option), std::string::npos) << option << " missing from\n" << mount_help.out;
  }

  const auto version = env.run({"--version"});
  EXPECT_EQ(version.exit_code, 0) << version.describe();
  EXPECT_NE(version.out.find("popfs"), std::string::npos) << version.out;
  EXPECT_NE(version.out.find(POPFS_EXPECTED_VERSION), std::string::npos) << version.out;
}

// The first line of every help names the program and the command, as a user types them
// (issue 11: "Usage:" used to be followed by nothing, because the arguments are parsed from a
// vector without argv[0]).
TEST(CliHelp, EveryCommandsHelpStartsWithUsagePopfsAndTheCommand) {
  CliEnvironment env;
  struct Case {
    std::vector<std::string> command;
    std::vector<std::string> shown;  // positionals and options the help must name
  };
  const std::vector<Case> cases = {
      {{}, {"mount", "umount", "status", "refresh", "sync", "cache", "--config", "--version"}},
      {{"mount"}, {"source", "mountpoint", "--password-file", "--foreground", "-o"}},
      {{"umount"}, {"mountpoint"}},
      {{"status"}, {"mountpoint"}},
      {{"refresh"}, {"mountpoint"}},
      {{"sync"}, {"target", "--password-file", "--cache-dir"}},
      {{"cache"}, {"stats", "clear"}},
      {{"cache", "stats"}, {"source", "--cache-dir"}},
      {{"cache", "clear"}, {"source", "--cache-dir"}},
  };
  for (const auto& c : cases) {
    std::string expected_usage = "Usage: popfs";
    for (const auto& word : c.command) expected_usage += " " + word;
    for (const char* help_flag : {"--help", "-h"}) {
      std::vector<std::string> argv = c.command;
      argv.emplace_back(help_flag);
      const auto r = env.run(argv);
      const std::string what = expected_usage + " " + help_flag;
      EXPECT_EQ(r.exit_code, 0) << what << "\n" << r.describe();
      EXPECT_EQ(r.err, "") << what;
      const auto usage = r.out.find("Usage:");
      ASSERT_NE(usage, std::string::npos) << what << "\n" << r.out;
      const auto line_end = r.out.find('\n', usage);
      const std::string usage_line = r.out.substr(usage, line_end - usage);
      // "Usage: popfs cache" must not pass for "popfs cache stats": the next byte ends the name.
      EXPECT_EQ(usage_line.rfind(expected_usage + " ", 0), 0u) << what << "\nusage line: " << usage_line;
      for (const auto& shown : c.shown) {
        EXPECT_NE(r.out.find(shown), std::string::npos) << shown << " missing from " << what << "\n" << r.out;
      }
    }
  }
}

}  // namespace
}  // namespace popfs::test::cli
