// The system integration files: what `cmake --install` puts where, the mount(8) helper's
// argument conversion, and mount.fuse3's hand-over that popfs's main relies on.

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "popfs/app/command.hpp"
#include "popfs/app/config.hpp"
#include "popfs/app/mount_helper.hpp"
#include "test_helpers.hpp"

namespace popfs::app {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The decompressed bytes of a .gz file (empty if gzip fails, which the checks then report).
std::string read_gzip(const std::string& path) {
  auto out = run_program({"gzip", "-dc", path}, 30s);
  if (!out.ok() || out->exit_status != 0) return {};
  return out->out;
}

// Installs the support component (everything but the popfs binary) into a staging tree.
class InstalledTree : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_.path() + "/root";
    auto out = run_program({"/usr/bin/env", "DESTDIR=" + root_, POPFS_CMAKE_COMMAND, "--install",
                            POPFS_BINARY_DIR, "--component", "popfs_support", "--prefix", "/usr"},
                           120s);
    ASSERT_TRUE(out.ok()) << out.error().message;
    ASSERT_EQ(out->exit_status, 0) << out->out << out->err;
  }
  std::string path(const std::string& relative) const { return root_ + relative; }

  test::TempDir dir_;
  std::string root_;
};

TEST_F(InstalledTree, FilesLandWhereTheSystemLooksForThem) {
  struct stat st {};
  ASSERT_EQ(::stat(path("/usr/sbin/mount.popfs").c_str(), &st), 0);
  EXPECT_NE(st.st_mode & S_IXOTH, 0u) << "mount.popfs must be executable";
  EXPECT_NE(read_file(path("/usr/sbin/mount.popfs")).find("${POPFS_BIN:-/usr/bin/popfs}"), std::string::npos);

  ASSERT_TRUE(fs::is_symlink(path("/usr/sbin/mount.fuse.popfs")));
  EXPECT_EQ(fs::read_symlink(path("/usr/sbin/mount.fuse.popfs")), "mount.popfs");

  const std::string unit = read_file(path("/usr/lib/systemd/user/popfs@.service"));
  EXPECT_NE(unit.find("Type=notify"), std::string::npos);
  EXPECT_NE(unit.find("ExecStart=/usr/bin/popfs mount --foreground %i %h/mail/%i"), std::string::npos) << unit;
  EXPECT_NE(unit.find("ExecStop=/usr/bin/popfs umount %h/mail/%i"), std::string::npos) << unit;
  EXPECT_EQ(unit.find('@' + std::string("POPFS_BINDIR@")), std::string::npos);

  EXPECT_NE(read_file(path("/usr/share/bash-completion/completions/popfs")).find("complete -F _popfs popfs"),
            std::string::npos);

  // Man pages are installed gzip-compressed, as Debian policy wants.
  const std::string man1 = read_gzip(path("/usr/share/man/man1/popfs.1.gz"));
  EXPECT_NE(man1.find(".TH \"popfs\" \"1\""), std::string::npos) << man1.substr(0, 200);
  EXPECT_NE(man1.find("EXIT STATUS"), std::string::npos);
  const std::string man5 = read_gzip(path("/usr/share/man/man5/popfs-config.5.gz"));
  EXPECT_NE(man5.find(".TH \"popfs-config\" \"5\""), std::string::npos) << man5.substr(0, 200);
  const std::string man8 = read_gzip(path("/usr/share/man/man8/mount.popfs.8.gz"));
  EXPECT_NE(man8.find(".TH \"mount.popfs\" \"8\""), std::string::npos) << man8.substr(0, 200);
  ASSERT_TRUE(fs::is_symlink(path("/usr/share/man/man8/mount.fuse.popfs.8.gz")));
  EXPECT_EQ(fs::read_symlink(path("/usr/share/man/man8/mount.fuse.popfs.8.gz")), "mount.popfs.8.gz");

  // Debian policy: every package carries its copyright file and (native) changelog.
  EXPECT_NE(read_file(path("/usr/share/doc/popfs/copyright")).find("Upstream-Name: popfs"), std::string::npos);
  EXPECT_NE(read_gzip(path("/usr/share/doc/popfs/changelog.gz")).find("popfs (" POPFS_VERSION ")"),
            std::string::npos);
}

// Runs the installed helper with a stand-in popfs that records its arguments.
class MountHelperScript : public InstalledTree {
 protected:
  void SetUp() override {
    InstalledTree::SetUp();
    log_ = dir_.file("args");
    fake_ = dir_.write("popfs", "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > " + log_ + "\n", 0755);
  }
  CommandOutput run(const std::string& helper, const std::vector<std::string>& args) {
    std::vector<std::string> argv{"/usr/bin/env", "POPFS_BIN=" + fake_, path("/usr/sbin/" + helper)};
    argv.insert(argv.end(), args.begin(), args.end());
    ::unlink(log_.c_str());
    auto out = run_program(argv, 30s);
    EXPECT_TRUE(out.ok());
    return out.ok() ? out.value() : CommandOutput{};
  }
  std::string recorded() const { return read_file(log_); }

  std::string log_;
  std::string fake_;
};

TEST_F(MountHelperScript, ConvertsToMountSubcommand) {
  const auto out = run("mount.popfs", {"pop3s://alice@mail.example.com", "/home/alice/mail", "-o",
                                       "noauto,user,_netdev,lf"});
  EXPECT_EQ(out.exit_status, 0) << out.err;
  EXPECT_EQ(recorded(), "mount\n-o\nnoauto,user,_netdev,lf\npop3s://alice@mail.example.com\n/home/alice/mail\n");
}

TEST_F(MountHelperScript, FuseTypeHelperIgnoresTypeAndFlags) {
  const auto out = run("mount.fuse.popfs", {"work", "/m", "-n", "-v", "-t", "fuse.popfs", "-o", "ro"});
  EXPECT_EQ(out.exit_status, 0) << out.err;
  EXPECT_EQ(recorded(), "mount\n-o\nro\nwork\n/m\n");
}

TEST_F(MountHelperScript, WithoutOptions) {
  EXPECT_EQ(run("mount.popfs", {"work", "/m"}).exit_status, 0);
  EXPECT_EQ(recorded(), "mount\nwork\n/m\n");
}

TEST_F(MountHelperScript, EscapedCommaAndSetuidForTheCurrentUser) {
  const std::string me = ::getuid() == 0 ? "root" : std::string(::getlogin() ? ::getlogin() : "");
  ASSERT_FALSE(me.empty());
  const auto out = run("mount.popfs", {"work", "/m", "-o", "password_command=cut -d\\, -f2 /p,setuid=" + me + ",ro"});
  EXPECT_EQ(out.exit_status, 0) << out.err;
  // setuid= is the helper's own option and is taken out; the escaped comma stays escaped.
  EXPECT_EQ(recorded(), "mount\n-o\npassword_command=cut -d\\, -f2 /p,ro\nwork\n/m\n");
}

TEST_F(MountHelperScript, FakeMountRunsNothing) {
  EXPECT_EQ(run("mount.popfs", {"work", "/m", "-f", "-o", "ro"}).exit_status, 0);
  EXPECT_FALSE(fs::exists(log_));
  EXPECT_EQ(run("mount.popfs", {"-sfv", "x"}).exit_status, 1);  // usage error
  EXPECT_FALSE(fs::exists(log_));
}

// mount.fuse3 (type fuse.popfs when mount.fuse.popfs is missing) runs "popfs SOURCE
// MOUNTPOINT -o OPTIONS" from $PATH; popfs's main rewrites that with
// rewrite_mount_helper_args(). Check the hand-over end to end with a recording popfs.
TEST(MountFuse3, HandsOverSourceMountpointAndOptions) {
  ASSERT_TRUE(fs::exists("/sbin/mount.fuse3")) << "fuse3 is in scripts/install-deps";
  test::TempDir dir;
  const std::string log = dir.file("args");
  dir.write("popfs", "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > " + log + "\n", 0755);
  auto out = run_program({"/usr/bin/env", "PATH=" + dir.path() + ":/usr/bin:/bin", "/sbin/mount.fuse3",
                          "pop3s://alice@h", "/m", "-t", "fuse.popfs", "-o", "noauto,user,_netdev,lf"},
                         30s);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->exit_status, 0) << out->err;
  std::vector<std::string> args;
  std::istringstream lines(read_file(log));
  for (std::string line; std::getline(lines, line);) args.push_back(line);
  ASSERT_GE(args.size(), 4u);
  EXPECT_EQ(args[0], "pop3s://alice@h");
  EXPECT_EQ(args[1], "/m");
  EXPECT_EQ(args[2], "-o");
  const auto rewritten = rewrite_mount_helper_args(args);
  ASSERT_TRUE(rewritten.has_value());
  EXPECT_EQ((*rewritten)[0], "mount");
  EXPECT_EQ(rewritten->back(), "/m");
  // Whatever mount.fuse3 passes on (it adds dev,suid) must be acceptable to popfs.
  MountOptions options;
  auto applied = apply_mount_option_string(args[3], options);
  EXPECT_TRUE(applied.ok()) << args[3] << ": " << applied.error().message;
  EXPECT_EQ(options.lf, true);
}

// The example in popfs-config(5) must be a valid config file.
TEST(ManPage, ConfigExampleParses) {
  const std::string page = read_file(std::string(POPFS_SOURCE_DIR) + "/doc/man/popfs-config.5.scd");
  const auto start = page.find("# ~/.config/popfs/config.toml");
  ASSERT_NE(start, std::string::npos);
  const auto end = page.find("```", start);
  ASSERT_NE(end, std::string::npos);
  auto config = parse_config(page.substr(start, end - start), "popfs-config.5 example");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->accounts.size(), 2u);
  EXPECT_EQ(config->defaults.poll, std::chrono::seconds(120));
}

}  // namespace
}  // namespace popfs::app
