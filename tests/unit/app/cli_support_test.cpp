// The small pieces the popfs command uses: mount(8) argument rewriting and exit codes.

#include <gtest/gtest.h>

#include "popfs/app/exit_code.hpp"
#include "popfs/app/mount_helper.hpp"

namespace popfs::app {
namespace {

using Args = std::vector<std::string>;

TEST(MountHelper, MountFuseStyleBecomesMountSubcommand) {
  // What mount.fuse3 runs for "pop3s://alice@h /home/alice/mail fuse.popfs noauto,user,lf".
  const auto rewritten = rewrite_mount_helper_args({"pop3s://alice@h", "/home/alice/mail", "-o", "lf,dev,suid"});
  ASSERT_TRUE(rewritten.has_value());
  EXPECT_EQ(*rewritten, (Args{"mount", "-o", "lf,dev,suid", "pop3s://alice@h", "/home/alice/mail"}));
  EXPECT_EQ(*rewrite_mount_helper_args({"work", "/m"}), (Args{"mount", "work", "/m"}));
}

TEST(MountHelper, NormalCommandLinesAreLeftAlone) {
  EXPECT_FALSE(rewrite_mount_helper_args({"mount", "pop3s://a@h", "/m"}).has_value());
  EXPECT_FALSE(rewrite_mount_helper_args({"umount", "/m"}).has_value());
  EXPECT_FALSE(rewrite_mount_helper_args({"status", "/m"}).has_value());
  EXPECT_FALSE(rewrite_mount_helper_args({"--help"}).has_value());
  EXPECT_FALSE(rewrite_mount_helper_args({"-d", "mount", "x", "/m"}).has_value());
  EXPECT_FALSE(rewrite_mount_helper_args({"pop3s://a@h"}).has_value());
  EXPECT_FALSE(rewrite_mount_helper_args({}).has_value());
}

TEST(ExitCode, DocumentedMapping) {
  EXPECT_EQ(to_int(exit_code_for(Errc::invalid_argument)), 1);
  EXPECT_EQ(to_int(exit_code_for(Errc::auth_failed)), 2);
  for (Errc e : {Errc::host_not_found, Errc::connection_refused, Errc::tls_untrusted,
                 Errc::stls_unavailable, Errc::connection, Errc::timeout}) {
    EXPECT_EQ(to_int(exit_code_for(e)), 3) << errc_name(e);
  }
  EXPECT_EQ(to_int(exit_code_for(Errc::in_use)), 4);
  EXPECT_EQ(to_int(exit_code_for(Errc::login_delay)), 4);
  EXPECT_EQ(to_int(exit_code_for(Errc::io)), 5);
  EXPECT_EQ(to_int(exit_code_for(Errc::cache)), 6);
}

}  // namespace
}  // namespace popfs::app
