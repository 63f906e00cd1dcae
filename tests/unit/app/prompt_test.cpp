// The terminal prompt, driven through a pseudo-terminal.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>

#include "popfs/app/credentials.hpp"
#include "test_helpers.hpp"

namespace popfs::app {
namespace {

using namespace std::chrono_literals;

class Pty {
 public:
  Pty() {
    master_ = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master_ < 0 || ::grantpt(master_) != 0 || ::unlockpt(master_) != 0) return;
    slave_path_ = ::ptsname(master_);
    // Keep one slave descriptor open so the terminal outlives the prompt's own descriptor.
    slave_ = ::open(slave_path_.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
  }
  Pty(const Pty&) = delete;
  Pty& operator=(const Pty&) = delete;
  ~Pty() {
    if (slave_ >= 0) ::close(slave_);
    if (master_ >= 0) ::close(master_);
  }
  bool ok() const { return master_ >= 0 && slave_ >= 0; }
  const std::string& slave_path() const { return slave_path_; }

  bool echo_on() const {
    termios t{};
    ::tcgetattr(slave_, &t);
    return (t.c_lflag & ECHO) != 0;
  }

  void type(const std::string& text) const {
    ASSERT_EQ(::write(master_, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }

  // Collects terminal output until `expected` shows up or the deadline passes.
  bool wait_for_output(const std::string& expected, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (output_.find(expected) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{master_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buffer[256];
      const ssize_t n = ::read(master_, buffer, sizeof buffer);
      if (n <= 0) return false;
      output_.append(buffer, static_cast<std::size_t>(n));
    }
    return true;
  }

  // Waits until the prompt has switched echo off (it does so just before writing the prompt).
  bool wait_for_echo_off(std::chrono::milliseconds limit) const {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (echo_on()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::yield();
    }
    return true;
  }

  const std::string& output() const { return output_; }

 private:
  int master_ = -1;
  int slave_ = -1;
  std::string slave_path_;
  std::string output_;
};

TEST(Prompt, ReadsALineWithEchoOffAndRestoresEcho) {
  Pty pty;
  ASSERT_TRUE(pty.ok());
  ASSERT_TRUE(pty.echo_on());
  auto answer = std::async(std::launch::async, [&] { return prompt_secret("Password for alice@h: ", pty.slave_path()); });
  ASSERT_TRUE(pty.wait_for_output("Password for alice@h: ", 10s)) << pty.output();
  EXPECT_FALSE(pty.echo_on()) << "echo must be off while the user types";
  pty.type("hunter2\n");
  ASSERT_EQ(answer.wait_for(10s), std::future_status::ready);
  auto secret = answer.get();
  ASSERT_TRUE(secret.ok()) << secret.error().message;
  EXPECT_EQ(secret.value(), "hunter2");
  EXPECT_TRUE(pty.echo_on()) << "echo must be restored";
  pty.wait_for_output("\n", 2s);
  EXPECT_EQ(pty.output().find("hunter2"), std::string::npos) << "the password was echoed: " << pty.output();
}

TEST(Prompt, NoTerminal) {
  auto secret = prompt_secret("Password: ", "/dev/null");
  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(secret.error().code, Errc::not_found);
  test::TempDir dir;
  EXPECT_EQ(prompt_secret("Password: ", dir.file("none")).error().code, Errc::not_found);
}

TEST(Prompt, EchoIsRestoredWhenASignalKillsTheProcess) {
  Pty pty;
  ASSERT_TRUE(pty.ok());
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto secret = prompt_secret("Password: ", pty.slave_path());
    ::_exit(secret.ok() ? 0 : 1);
  }
  ASSERT_TRUE(pty.wait_for_output("Password: ", 10s));
  ASSERT_TRUE(pty.wait_for_echo_off(10s));
  ASSERT_EQ(::kill(child, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << "status " << status;
  EXPECT_TRUE(pty.echo_on()) << "a signal left the terminal with echo off";
}

TEST(Prompt, EndOfInputIsCancelled) {
  Pty pty;
  ASSERT_TRUE(pty.ok());
  auto answer = std::async(std::launch::async, [&] { return prompt_secret("Password: ", pty.slave_path()); });
  ASSERT_TRUE(pty.wait_for_output("Password: ", 10s));
  pty.type("\x04");  // Ctrl-D on an empty line: end of input
  ASSERT_EQ(answer.wait_for(10s), std::future_status::ready);
  auto secret = answer.get();
  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(secret.error().code, Errc::cancelled);
}

TEST(Prompt, IsTheLastPasswordSource) {
  Pty pty;
  ASSERT_TRUE(pty.ok());
  CredentialRequest request;
  request.user = "alice";
  request.host = "mail.example.com";
  request.port = 995;
  request.env = test::fake_env({});
  request.use_keyring = false;
  request.tty_path = pty.slave_path();
  auto source = std::async(std::launch::async, [&] { return make_password_source(request); });
  ASSERT_TRUE(pty.wait_for_output("Password for alice@mail.example.com:995: ", 10s)) << pty.output();
  pty.type("typed\n");
  ASSERT_EQ(source.wait_for(10s), std::future_status::ready);
  auto made = source.get();
  ASSERT_TRUE(made.ok()) << made.error().message;
  EXPECT_EQ(made.value()().value(), "typed");
  EXPECT_EQ(made.value()().value(), "typed");  // asked once, kept in memory
}

}  // namespace
}  // namespace popfs::app
