#include "popfs/app/options.hpp"

#include <gtest/gtest.h>

namespace popfs::app {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = 1024 * KiB;
constexpr std::uint64_t GiB = 1024 * MiB;

TEST(Size, SuffixesAreBinaryMultiples) {
  EXPECT_EQ(parse_size("1024").value(), 1024u);
  EXPECT_EQ(parse_size("100k").value(), 100 * KiB);
  EXPECT_EQ(parse_size("100K").value(), 100 * KiB);
  EXPECT_EQ(parse_size("512M").value(), 512 * MiB);
  EXPECT_EQ(parse_size("2G").value(), 2 * GiB);
  EXPECT_EQ(parse_size("2GiB").value(), 2 * GiB);
  EXPECT_EQ(parse_size("2GB").value(), 2 * GiB);
  EXPECT_EQ(parse_size("1T").value(), 1024 * GiB);
  EXPECT_EQ(parse_size("0").value(), 0u);
}

TEST(Size, Errors) {
  for (const char* text : {"", "G", "2X", "-1", "1.5G", " 2G", "2 G", "99999999999999T"}) {
    auto size = parse_size(text);
    ASSERT_FALSE(size.ok()) << text;
    EXPECT_EQ(size.error().code, Errc::invalid_argument);
    EXPECT_NE(size.error().message.find("size"), std::string::npos);
  }
}

TEST(Duration, UnitsAndBareSeconds) {
  EXPECT_EQ(parse_duration("60").value(), seconds(60));
  EXPECT_EQ(parse_duration("90s").value(), seconds(90));
  EXPECT_EQ(parse_duration("500ms").value(), milliseconds(500));
  EXPECT_EQ(parse_duration("5m").value(), seconds(300));
  EXPECT_EQ(parse_duration("1h").value(), seconds(3600));
}

TEST(Duration, Errors) {
  for (const char* text : {"", "s", "5d", "x", "-5", "1.5s", "99999999999999h"}) {
    auto d = parse_duration(text);
    ASSERT_FALSE(d.ok()) << text;
    EXPECT_NE(d.error().message.find("duration"), std::string::npos) << d.error().message;
  }
}

TEST(MountOptionString, PopfsOptions) {
  MountOptions o;
  ASSERT_TRUE(apply_mount_option_string(
                  "ro,lf,poll=30,cache_size=512M,allow_other,idle_grace=500ms,insecure_plaintext,"
                  "ca_file=/etc/ca.pem,fingerprint=sha256:ab,cache_dir=/var/cache/x,"
                  "password_file=/home/a/.pw,debug",
                  o)
                  .ok());
  EXPECT_EQ(o.read_only, true);
  EXPECT_EQ(o.lf, true);
  EXPECT_EQ(o.poll, seconds(30));
  EXPECT_EQ(o.cache_size, 512 * MiB);
  EXPECT_EQ(o.allow_other, true);
  EXPECT_EQ(o.idle_grace, milliseconds(500));
  EXPECT_EQ(o.insecure_plaintext, true);
  EXPECT_EQ(o.ca_file, "/etc/ca.pem");
  EXPECT_EQ(o.fingerprint, "sha256:ab");
  EXPECT_EQ(o.cache_dir, "/var/cache/x");
  EXPECT_EQ(o.password_file, "/home/a/.pw");
  EXPECT_EQ(o.debug, true);
  EXPECT_FALSE(o.password_command.has_value());
}

TEST(MountOptionString, GenericMountOptionsAreIgnored) {
  MountOptions o;
  auto r = apply_mount_option_string(
      "noauto,user,users,_netdev,nofail,auto,defaults,exec,noexec,suid,nosuid,dev,nodev,nouser,"
      "x-systemd.automount,noatime",
      o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(o.read_only.has_value());
  EXPECT_FALSE(o.lf.has_value());
  EXPECT_FALSE(o.has_secret_source());
}

TEST(MountOptionString, RoAndRwSetReadOnly) {
  MountOptions o;
  ASSERT_TRUE(apply_mount_option_string("ro", o).ok());
  EXPECT_EQ(o.read_only, true);
  ASSERT_TRUE(apply_mount_option_string("rw", o).ok());
  EXPECT_EQ(o.read_only, false);
}

TEST(MountOptionString, FstabLineOptions) {
  // As mount.fuse3 hands them over for the fstab example in popfs(1), plus its dev,suid.
  MountOptions o;
  auto r = apply_mount_option_string("noauto,user,_netdev,password_command=pass show mail,dev,suid", o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(o.password_command, "pass show mail");
}

TEST(MountOptionString, BackslashEscapesComma) {
  MountOptions o;
  ASSERT_TRUE(apply_mount_option_string(R"(password_command=cut -d\, -f2 /x,lf)", o).ok());
  EXPECT_EQ(o.password_command, "cut -d, -f2 /x");
  EXPECT_EQ(o.lf, true);
  EXPECT_FALSE(apply_mount_option_string("lf\\", o).ok());
}

TEST(MountOptionString, DoubleQuotesProtectCommas) {
  MountOptions o;
  ASSERT_TRUE(apply_mount_option_string(R"(noauto,password_command="cut -d, -f2 /x",ro)", o).ok());
  EXPECT_EQ(o.password_command, "cut -d, -f2 /x");
  EXPECT_EQ(o.read_only, true);
  EXPECT_FALSE(apply_mount_option_string(R"(password_command="unterminated)", o).ok());
}

TEST(MountOptionString, UserWithValueIsIgnored) {
  MountOptions o;
  EXPECT_TRUE(apply_mount_option_string("user=alice,users", o).ok());
}

TEST(MountOptionString, DashesAndUnderscoresAreInterchangeable) {
  MountOptions o;
  ASSERT_TRUE(apply_mount_option_string("cache-size=1K,password-command=true", o).ok());
  EXPECT_EQ(o.cache_size, KiB);
  EXPECT_EQ(o.password_command, "true");
}

TEST(MountOptionString, Errors) {
  MountOptions o;
  auto unknown = apply_mount_option_string("lf,frobnicate", o);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("frobnicate"), std::string::npos);

  auto flag_value = apply_mount_option_string("lf=1", o);
  ASSERT_FALSE(flag_value.ok());
  EXPECT_NE(flag_value.error().message.find("takes no value"), std::string::npos);

  auto missing = apply_mount_option_string("poll", o);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("poll"), std::string::npos);

  auto bad_size = apply_mount_option_string("cache_size=lots", o);
  ASSERT_FALSE(bad_size.ok());
  EXPECT_NE(bad_size.error().message.find("lots"), std::string::npos);

  EXPECT_FALSE(apply_mount_option_string("password_file=", o).ok());
}

TEST(MountOptionString, PasswordOptionIsRefusedWithoutEchoingIt) {
  MountOptions o;
  auto r = apply_mount_option_string("password=hunter2", o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("password_file"), std::string::npos);
  EXPECT_EQ(r.error().message.find("hunter2"), std::string::npos);
}

TEST(MountOptions, OverlayReplacesSetFieldsOnly) {
  MountOptions low;
  low.poll = seconds(120);
  low.lf = true;
  low.cache_size = 5;
  MountOptions high;
  high.poll = seconds(30);
  low.overlay(high);
  EXPECT_EQ(low.poll, seconds(30));
  EXPECT_EQ(low.lf, true);
  EXPECT_EQ(low.cache_size, 5u);
}

TEST(MountOptions, OverlayReplacesSecretSourcesAsAGroup) {
  MountOptions file;
  file.password_command = "pass show mail";
  MountOptions cli;
  cli.password_file = "/home/a/.pw";
  file.overlay(cli);
  EXPECT_FALSE(file.password_command.has_value());
  EXPECT_EQ(file.password_file, "/home/a/.pw");

  MountOptions nothing_secret;
  nothing_secret.lf = true;
  file.overlay(nothing_secret);
  EXPECT_EQ(file.password_file, "/home/a/.pw");
}

}  // namespace
}  // namespace popfs::app
