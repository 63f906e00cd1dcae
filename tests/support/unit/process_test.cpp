// Process and port helpers.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <thread>

#include "popfs_test/process.hpp"
#include "popfs_test/temp_dir.hpp"

namespace popfs::test {
namespace {

TEST(Process, RunCommandCapturesOutputAndExitCode) {
  const auto ok = run_command({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(ok.exit_code, 3);
  EXPECT_NE(ok.output.find("out\n"), std::string::npos);
  EXPECT_NE(ok.output.find("err\n"), std::string::npos);
}

TEST(Process, RunCommandKillsACommandThatRunsOver) {
  const auto start = std::chrono::steady_clock::now();
  const auto result = run_command({"sleep", "30"}, std::chrono::milliseconds(200));
  EXPECT_EQ(result.exit_code, -1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(Process, StopProcessEndsAChildWithSigterm) {
  const pid_t pid = spawn_process({"sleep", "30"});
  EXPECT_TRUE(process_running(pid));
  const auto status = stop_process(pid, std::chrono::seconds(5));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGTERM);
}

TEST(Process, StopProcessFallsBackToSigkill) {
  TempDir dir;
  SpawnOptions options;
  options.stdout_file = dir / "out";
  const pid_t pid = spawn_process({"sh", "-c", "trap '' TERM; echo ready; exec sleep 30"}, options);
  ASSERT_TRUE(wait_until([&] { return read_file(dir / "out") == "ready\n"; }, std::chrono::seconds(10)));
  const auto status = stop_process(pid, std::chrono::milliseconds(200));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL);
}

TEST(Process, DieWithParentTerminatesTheChildWhenTheSpawningThreadEnds) {
  pid_t pid = -1;
  std::thread spawner([&] {
    SpawnOptions options;
    options.die_with_parent = true;
    options.extra_env = {"POPFS_PROBE=1"};
    pid = spawn_process({"sleep", "30"}, options);
  });
  spawner.join();
  const auto status = wait_process(pid, std::chrono::seconds(10));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGTERM);
}

TEST(Process, SpawnedChildSeesExtraEnvironmentAndWritesItsOutputFile) {
  TempDir dir;
  for (const bool die_with_parent : {false, true}) {
    SpawnOptions options;
    options.stdout_file = dir / (die_with_parent ? "a" : "b");
    options.extra_env = {"POPFS_PROBE=hello"};
    options.die_with_parent = die_with_parent;
    const pid_t pid = spawn_process({"sh", "-c", "echo $POPFS_PROBE"}, options);
    const auto status = wait_process(pid, std::chrono::seconds(10));
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(read_file(options.stdout_file), "hello\n");
  }
}

TEST(Process, SpawnOfAMissingProgramThrows) {
  SpawnOptions options;
  options.die_with_parent = true;
  EXPECT_THROW(spawn_process({"/nonexistent/popfs-no-such-program"}, options), std::runtime_error);
}

TEST(Ports, FreeLoopbackPortIsNotListening) {
  const auto port = free_loopback_port();
  EXPECT_NE(port, 0);
  EXPECT_FALSE(wait_for_port("127.0.0.1", port, std::chrono::milliseconds(50)));
}

}  // namespace
}  // namespace popfs::test
