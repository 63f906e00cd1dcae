#include "cli_harness.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "popfs_test/process.hpp"

#ifndef POPFS_BINARY
#error "POPFS_BINARY must be set by CMake"
#endif

namespace popfs::test::cli {
namespace {

std::atomic<unsigned> output_counter{0};

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The child: stdin /dev/null, the outputs in files, a process group of its own (a timed-out
// run is killed with everything it started in the foreground), SIGTERM when the spawning
// thread ends (a crashed test leaves no daemon behind).
pid_t spawn(const std::vector<std::string>& argv, std::vector<std::string> env,
            const std::filesystem::path& out_file, const std::filesystem::path& err_file) {
  SpawnOptions options;
  options.stdout_file = out_file;
  options.stderr_file = err_file;
  options.environment = std::move(env);
  options.own_process_group = true;
  options.die_with_parent = true;
  return spawn_process(argv, options);
}

bool is_zombie_or_gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return true;
  const auto paren = text.rfind(')');
  if (paren == std::string::npos || paren + 2 >= text.size()) return true;
  const char state = text[paren + 2];
  return state == 'Z' || state == 'X';
}

// /proc/self/mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mount_path(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size() && std::isdigit(static_cast<unsigned char>(text[i + 1]))) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string directory_prefix() {
  std::string prefix = "popfs-cli-";
  if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info()) {
    prefix += std::string(info->name()).substr(0, 40) + "-";
  }
  return prefix;
}

}  // namespace

std::string CliResult::describe() const {
  std::ostringstream text;
  text << "exit code " << exit_code << (timed_out ? " (TIMED OUT)" : "") << "\n--- stdout ---\n"
       << out << "\n--- stderr ---\n" << err;
  return text.str();
}

bool contains_nocase(std::string_view haystack, std::string_view needle) {
  const auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                              [](char a, char b) {
                                return std::tolower(static_cast<unsigned char>(a)) ==
                                       std::tolower(static_cast<unsigned char>(b));
                              });
  return it != haystack.end();
}

CliEnvironment::CliEnvironment() : dir_(directory_prefix()) {
  for (const char* sub : {"home", "home/.config", "home/.cache", "outputs"}) {
    std::filesystem::create_directories(dir_ / sub);
  }
}

std::filesystem::path CliEnvironment::make_dir(const std::string& name) const {
  const auto directory = dir_ / name;
  std::filesystem::create_directories(directory);
  return directory;
}

std::filesystem::path CliEnvironment::make_file(const std::string& name, std::string_view content,
                                                unsigned mode) const {
  const auto file = dir_ / name;
  write_file(file, content);
  std::filesystem::permissions(file, static_cast<std::filesystem::perms>(mode),
                               std::filesystem::perm_options::replace);
  return file;
}

std::vector<std::string> CliEnvironment::environment(const std::vector<std::string>& extra) const {
  std::vector<std::string> env = {
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "HOME=" + (dir_ / "home").string(),
      "XDG_CONFIG_HOME=" + (dir_ / "home/.config").string(),
      "XDG_CACHE_HOME=" + (dir_ / "home/.cache").string(),
      "LANG=C",
  };
  for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"}) {
    if (const char* value = std::getenv(name)) env.push_back(std::string(name) + "=" + value);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

CliResult CliEnvironment::run(const std::vector<std::string>& args, std::chrono::milliseconds timeout,
                              const std::vector<std::string>& extra_env) const {
  std::vector<std::string> argv = {POPFS_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv, timeout, extra_env);
}

CliResult CliEnvironment::run_program(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                                      const std::vector<std::string>& extra_env) const {
  const unsigned n = output_counter++;
  const auto out_file = dir_ / "outputs" / ("run" + std::to_string(n) + ".out");
  const auto err_file = dir_ / "outputs" / ("run" + std::to_string(n) + ".err");
  const pid_t pid = spawn(argv, environment(extra_env), out_file, err_file);
  CliResult result;
  auto status = wait_process(pid, timeout);
  if (!status) {
    result.timed_out = true;
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    wait_process(pid, 10s);
  } else if (WIFEXITED(*status)) {
    result.exit_code = WEXITSTATUS(*status);
  }
  result.out = read_text(out_file);
  result.err = read_text(err_file);
  return result;
}

pid_t CliEnvironment::start(const std::vector<std::string>& args, const std::filesystem::path& stdout_file,
                            const std::filesystem::path& stderr_file,
                            const std::vector<std::string>& extra_env) const {
  std::vector<std::string> argv = {POPFS_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return spawn(argv, environment(extra_env), stdout_file, stderr_file);
}

bool is_mounted(const std::filesystem::path& mountpoint) {
  std::ifstream mountinfo("/proc/self/mountinfo");
  const std::string wanted = mountpoint.lexically_normal().string();
  std::string line;
  while (std::getline(mountinfo, line)) {
    std::istringstream fields(line);
    std::string id, parent, device, root, path;
    if (fields >> id >> parent >> device >> root >> path && unescape_mount_path(path) == wanted) return true;
  }
  return false;
}

std::vector<pid_t> processes_mentioning(const std::string& text) {
  std::vector<pid_t> found;
  const pid_t self = ::getpid();
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid == self || is_zombie_or_gone(pid)) continue;
    std::string cmdline = read_text(entry.path() / "cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(text) != std::string::npos) found.push_back(pid);
  }
  return found;
}

bool wait_process_gone(pid_t pid, std::chrono::milliseconds timeout) {
  return wait_until(
      [pid] {
        // Reap it if it is our child; otherwise init does.
        int status = 0;
        ::waitpid(pid, &status, WNOHANG);
        return is_zombie_or_gone(pid);
      },
      timeout);
}

std::vector<std::string> eml_files(const std::filesystem::path& directory) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 4 && name.ends_with(".eml")) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string MountGuard::cleanup() {
  std::string report;
  const std::string mp = mountpoint_.string();
  auto unmount_all_ways = [&] {
    if (!is_mounted(mountpoint_)) return;
    auto umount = env_.run({"umount", mp}, 60s);
    if (!is_mounted(mountpoint_)) return;
    report += "popfs umount left it mounted (" + umount.describe() + "); ";
    env_.run_program({"fusermount3", "-u", mp}, 20s);
    if (!is_mounted(mountpoint_)) return;
    report += "fusermount3 -u failed; ";
    env_.run_program({"umount", "-l", mp}, 20s);
    if (is_mounted(mountpoint_)) report += "umount -l failed; ";
  };
  unmount_all_ways();
  for (const pid_t pid : processes_mentioning(mp)) {
    report += "terminated pid " + std::to_string(pid) + "; ";
    ::kill(pid, SIGTERM);
    if (!wait_process_gone(pid, 10s)) {
      ::kill(pid, SIGKILL);
      wait_process_gone(pid, 5s);
    }
  }
  unmount_all_ways();
  return report;
}

}  // namespace popfs::test::cli
