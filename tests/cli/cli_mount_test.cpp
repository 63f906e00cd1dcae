// The real `popfs` binary with real FUSE mounts against the private Dovecot: readiness of
// `popfs mount`, rm + umount committing deletions, refresh, sync (mounted and offline), the
// cache command, recovery after kill -9, mount-time errors that need FUSE, and that the
// password never reaches argv or the log. Every mount is undone by a MountGuard.
#include <gtest/gtest.h>

#include <signal.h>
#include <cerrno>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <array>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli_harness.hpp"
#include "popfs_test/corpus.hpp"
#include "popfs_test/dovecot.hpp"
#include "popfs_test/independent_client.hpp"
#include "popfs_test/process.hpp"

#ifndef POPFS_BINARY
#error "POPFS_BINARY must be set by CMake"
#endif

namespace popfs::test::cli {
namespace {

constexpr int kMount = 5;

// Dovecot's UIDLs are plain hex/alphanumerics, so the file name is UIDL + ".eml" with no
// escaping (the escaping rules are tested elsewhere); checked, not assumed.
std::string file_name_for(const std::string& uidl) {
  for (const char c : uidl) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0) {
      ADD_FAILURE() << "UIDL " << uidl << " needs escaping; this test expects plain UIDLs";
    }
  }
  return uidl + ".eml";
}

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  auto byte_at = [&](std::size_t i) -> unsigned {
    return i < bytes.size() ? static_cast<unsigned>(static_cast<unsigned char>(bytes[i])) : 0U;
  };
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const unsigned v = (byte_at(i) << 16U) | (byte_at(i + 1) << 8U) | byte_at(i + 2);
    const std::size_t present = std::min<std::size_t>(3, bytes.size() - i);
    out += kAlphabet[(v >> 18U) & 63U];
    out += kAlphabet[(v >> 12U) & 63U];
    out += present > 1 ? kAlphabet[(v >> 6U) & 63U] : '=';
    out += present > 2 ? kAlphabet[v & 63U] : '=';
  }
  return out;
}

// For failure messages: sizes and the first offset where the bytes differ.
std::string difference(const std::string& actual, const std::string& expected) {
  std::size_t at = 0;
  while (at < actual.size() && at < expected.size() && actual[at] == expected[at]) ++at;
  auto show = [at](const std::string& bytes) {
    std::string out;
    for (std::size_t i = at; i < bytes.size() && i < at + 24; ++i) {
      const auto c = static_cast<unsigned char>(bytes[i]);
      char hex[4];
      std::snprintf(hex, sizeof hex, "%02x ", c);
      out += hex;
    }
    return out.empty() ? std::string("(end)") : out;
  };
  return "got " + std::to_string(actual.size()) + " bytes, expected " + std::to_string(expected.size()) +
         ", first difference at offset " + std::to_string(at) + ": got " + show(actual) + "expected " +
         show(expected);
}

std::string read_all(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class CliMount : public ::testing::Test {
 protected:
  explicit CliMount(CorpusOptions corpus = {.count = 40, .seed = 11})
      : dovecot({.corpus = generate_corpus(corpus)}) {}

  CliEnvironment env;
  Dovecot dovecot;
  std::filesystem::path mountpoint = env.make_dir("mnt");
  std::filesystem::path cache_dir = env.path("cache");
  MountGuard guard{env, mountpoint};

  std::string url() const {
    return "pop3s://" + dovecot.user() + "@127.0.0.1:" + std::to_string(dovecot.pop3s_port());
  }
  std::vector<std::string> connection_args() const {
    return {"--ca-file", dovecot.ca_file(), "--password-file", dovecot.password_file().string(), "--cache-dir",
            cache_dir.string()};
  }
  // popfs mount (daemon mode: returns once ready)
  CliResult mount(const std::filesystem::path& where) const {
    std::vector<std::string> argv = {"mount"};
    const auto connection = connection_args();
    argv.insert(argv.end(), connection.begin(), connection.end());
    argv.push_back(url());
    argv.push_back(where.string());
    return env.run(argv, 90s);
  }
  CliResult mount() const { return mount(mountpoint); }

  // popfs umount, then: the mount is gone and so is the daemon.
  void umount_and_expect_daemon_gone() {
    const auto r = env.run({"umount", mountpoint.string()}, 90s);
    EXPECT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_FALSE(is_mounted(mountpoint));
    EXPECT_TRUE(wait_until([&] { return processes_mentioning(mountpoint.string()).empty(); }, 60s))
        << "the daemon is still running after popfs umount";
  }

  // Mounts once so the cache holds the listing (no bodies), unmounts, stops Dovecot and
  // mounts again: popfs must start offline from the cache.
  void mount_offline_with_cached_listing() {
    const auto online = mount();
    ASSERT_EQ(online.exit_code, 0) << online.describe();
    umount_and_expect_daemon_gone();
    dovecot.stop();
    const auto offline = mount();
    ASSERT_EQ(offline.exit_code, 0) << "a mount with a cached listing must work offline\n" << offline.describe();
  }

  void TearDown() override {
    const std::string leftovers = guard.cleanup();
    EXPECT_FALSE(is_mounted(mountpoint)) << leftovers;
  }
};

TEST_F(CliMount, MountReturnsOnlyWhenTheMountIsReady) {
  const auto uidls = dovecot.uidls();
  ASSERT_EQ(uidls.size(), 40u);
  const auto r = mount();
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  // No waiting: popfs mount has returned, so the listing must be there.
  ASSERT_TRUE(is_mounted(mountpoint));
  std::vector<std::string> expected;
  for (const auto& uidl : uidls) expected.push_back(file_name_for(uidl));
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(eml_files(mountpoint), expected);

  const auto status = env.run({"status", mountpoint.string()});
  EXPECT_EQ(status.exit_code, 0) << status.describe();
  EXPECT_NE(status.out.find("messages: 40"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("pending deletions: 0"), std::string::npos) << status.out;
  umount_and_expect_daemon_gone();
}

TEST_F(CliMount, RmThenUmountCommitsExactlyThoseDeletions) {
  const auto uidls = dovecot.uidls();
  ASSERT_EQ(uidls.size(), 40u);
  const auto r = mount();
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  const std::set<std::string> removed = {uidls[3], uidls[17], uidls[38]};
  for (const auto& uidl : removed) {
    std::error_code error;
    EXPECT_TRUE(std::filesystem::remove(mountpoint / file_name_for(uidl), error)) << uidl << ": " << error.message();
  }
  EXPECT_EQ(eml_files(mountpoint).size(), 37u) << "rm must remove the file from the listing at once";

  umount_and_expect_daemon_gone();
  // No waiting: umount returns after the deletions were committed.
  EXPECT_EQ(dovecot.maildir_message_count(), 37u);
  std::vector<std::string> expected;
  for (const auto& uidl : uidls) {
    if (removed.count(uidl) == 0) expected.push_back(uidl);
  }
  EXPECT_EQ(uidls_independently(pop3s_endpoint(dovecot)), expected);
}

TEST_F(CliMount, RefreshShowsNewMailAtOnce) {
  const auto r = mount();
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  ASSERT_EQ(eml_files(mountpoint).size(), 40u);
  dovecot.deliver("From: late@example.org\nTo: popfs-test@example.org\nSubject: new mail\n\nhello\n");
  const auto uidls = dovecot.uidls();
  ASSERT_EQ(uidls.size(), 41u);
  const auto refresh = env.run({"refresh", mountpoint.string()});
  EXPECT_EQ(refresh.exit_code, 0) << refresh.describe();
  const auto names = eml_files(mountpoint);
  EXPECT_EQ(names.size(), 41u);
  EXPECT_TRUE(std::find(names.begin(), names.end(), file_name_for(uidls.back())) != names.end())
      << "the new message " << uidls.back() << " is not listed after popfs refresh";
  umount_and_expect_daemon_gone();
}

// After a sync and with the server gone, a fresh mount on the same cache serves everything.
void expect_served_offline_byte_exact(const std::vector<IndependentMessage>& expected,
                                      const std::filesystem::path& mountpoint) {
  for (const auto& message : expected) {
    const auto file = mountpoint / file_name_for(message.uidl);
    std::string bytes;
    try {
      bytes = read_file(file);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cannot read " << file << " offline: " << e.what();
      continue;
    }
    EXPECT_TRUE(bytes == message.content) << file << ": " << difference(bytes, message.content);
  }
}

TEST_F(CliMount, SyncThroughTheMountThenServesEverythingOffline) {
  const auto expected = fetch_all_independently(dovecot);
  ASSERT_EQ(expected.size(), 40u);
  const auto r = mount();
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  const auto sync = env.run({"sync", mountpoint.string()}, 120s);
  EXPECT_EQ(sync.exit_code, 0) << sync.describe();
  umount_and_expect_daemon_gone();

  dovecot.stop();
  const auto offline = mount();
  ASSERT_EQ(offline.exit_code, 0) << "a mount with a cached listing must work offline\n" << offline.describe();
  EXPECT_EQ(eml_files(mountpoint).size(), 40u);
  expect_served_offline_byte_exact(expected, mountpoint);
  umount_and_expect_daemon_gone();
}

TEST_F(CliMount, OfflineSyncOfTheUrlThenServesEverythingOffline) {
  const auto expected = fetch_all_independently(dovecot);
  ASSERT_EQ(expected.size(), 40u);
  std::vector<std::string> argv = {"sync"};
  const auto connection = connection_args();
  argv.insert(argv.end(), connection.begin(), connection.end());
  argv.push_back(url());
  const auto sync = env.run(argv, 120s);
  ASSERT_EQ(sync.exit_code, 0) << sync.describe();
  EXPECT_FALSE(is_mounted(mountpoint));
  // Not a terminal: plain progress lines, ending with the total.
  EXPECT_NE(sync.out.find("40/40 messages"), std::string::npos) << sync.out;

  std::vector<std::string> stats_argv = {"cache", "stats"};
  stats_argv.insert(stats_argv.end(), connection.begin(), connection.end());
  stats_argv.push_back(url());
  const auto stats = env.run(stats_argv);
  EXPECT_EQ(stats.exit_code, 0) << stats.describe();
  EXPECT_NE(stats.out.find("bodies: 40"), std::string::npos) << stats.out;
  EXPECT_NE(stats.out.find("pending deletions: 0"), std::string::npos) << stats.out;

  dovecot.stop();
  const auto offline = mount();
  ASSERT_EQ(offline.exit_code, 0) << "a mount with a cached listing must work offline\n" << offline.describe();
  EXPECT_EQ(eml_files(mountpoint).size(), 40u);
  expect_served_offline_byte_exact(expected, mountpoint);
  umount_and_expect_daemon_gone();
}

class CliMountLarge : public CliMount {
 protected:
  CliMountLarge() : CliMount({.count = 40, .seed = 12, .large_count = 3, .large_bytes = 3 << 20}) {}
};

TEST_F(CliMountLarge, KillDashNineDuringCopyThenRemountCopiesByteExact) {
  const auto expected = fetch_all_independently(dovecot);
  ASSERT_EQ(expected.size(), 40u);
  const auto r = mount();
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  const auto daemons = processes_mentioning(mountpoint.string());
  ASSERT_EQ(daemons.size(), 1u) << "expected exactly one daemon for the mount";

  const auto first_copy = env.path("copy1");
  SpawnOptions spawn;
  spawn.stderr_file = env.path("cp1.err");
  spawn.die_with_parent = true;
  const pid_t cp = spawn_process({"cp", "-r", mountpoint.string(), first_copy.string()}, spawn);
  // Kill as soon as the copy has started writing.
  const bool started = wait_until(
      [&] {
        std::error_code error;
        return !process_running(cp) ||
               (std::filesystem::exists(first_copy, error) &&
                std::filesystem::directory_iterator(first_copy, error) != std::filesystem::directory_iterator());
      },
      60s);
  EXPECT_TRUE(started);
  EXPECT_TRUE(process_running(cp)) << "cp finished before the kill; the crash did not interrupt it";
  ASSERT_EQ(::kill(daemons[0], SIGKILL), 0);
  EXPECT_TRUE(wait_process_gone(daemons[0], 10s));
  const auto cp_status = wait_process(cp, 60s);
  ASSERT_TRUE(cp_status.has_value()) << "cp hung on the dead mount";

  // The dead mount: the kernel still lists it until someone unmounts it.
  const auto fusermount = env.run_program({"fusermount3", "-u", mountpoint.string()});
  EXPECT_EQ(fusermount.exit_code, 0) << fusermount.describe();
  ASSERT_FALSE(is_mounted(mountpoint));

  const auto again = mount();
  ASSERT_EQ(again.exit_code, 0) << "remount after kill -9\n" << again.describe();
  const auto second_copy = env.path("copy2");
  const auto copy = env.run_program({"cp", "-r", mountpoint.string(), second_copy.string()}, 120s);
  EXPECT_EQ(copy.exit_code, 0) << copy.describe();
  EXPECT_EQ(eml_files(second_copy).size(), 40u);
  for (const auto& message : expected) {
    const auto file = second_copy / file_name_for(message.uidl);
    const std::string bytes = read_all(file);
    EXPECT_TRUE(bytes == message.content) << file << ": " << difference(bytes, message.content);
  }
  umount_and_expect_daemon_gone();
}

class CliMountSmall : public CliMount {
 protected:
  CliMountSmall() : CliMount({.count = 5, .seed = 13}) {}
};

TEST_F(CliMountSmall, MountingTwiceExits5AndKeepsTheFirstMount) {
  const auto first = mount();
  ASSERT_EQ(first.exit_code, 0) << first.describe();
  const auto second = mount();
  EXPECT_EQ(second.exit_code, kMount) << second.describe();
  EXPECT_TRUE(contains_nocase(second.err, "already mounted") || contains_nocase(second.err, "busy"))
      << second.err;
  EXPECT_TRUE(is_mounted(mountpoint));
  EXPECT_EQ(eml_files(mountpoint).size(), 5u) << "the first mount must keep working";
  EXPECT_EQ(processes_mentioning(mountpoint.string()).size(), 1u) << "the second mount left a daemon";
  umount_and_expect_daemon_gone();
}

TEST_F(CliMountSmall, HiddenDevFuseExits5AndNamesFuse) {
  // A private mount namespace where /dev/fuse is /dev/null: nothing outside sees it.
  std::string command = "mount --bind /dev/null /dev/fuse && exec '" + std::string(POPFS_BINARY) + "' mount";
  for (const auto& arg : connection_args()) command += " '" + arg + "'";
  command += " '" + url() + "' '" + mountpoint.string() + "'";
  const auto r = env.run_program({"unshare", "-m", "--propagation", "private", "sh", "-c", command}, 90s);
  EXPECT_EQ(r.exit_code, kMount) << r.describe();
  EXPECT_TRUE(contains_nocase(r.err, "fuse")) << r.err;
  EXPECT_FALSE(is_mounted(mountpoint));
}

TEST_F(CliMountSmall, MissingDevFuseExits5AndSaysFuseIsNotAvailable) {
  // A private mount namespace whose /dev has no fuse device at all (a container without
  // --device /dev/fuse); /dev/null and /dev/urandom are recreated for popfs itself.
  std::string command =
      "mount -t tmpfs tmpfs /dev && mknod -m 666 /dev/null c 1 3 && mknod -m 666 /dev/urandom c 1 9 && exec '" +
      std::string(POPFS_BINARY) + "' mount";
  for (const auto& arg : connection_args()) command += " '" + arg + "'";
  command += " '" + url() + "' '" + mountpoint.string() + "'";
  const auto r = env.run_program({"unshare", "-m", "--propagation", "private", "sh", "-c", command}, 90s);
  EXPECT_EQ(r.exit_code, kMount) << r.describe();
  EXPECT_NE(r.err.find("FUSE"), std::string::npos) << r.err;
  EXPECT_TRUE(contains_nocase(r.err, "not available")) << r.err;
  EXPECT_NE(r.err.find("/dev/fuse"), std::string::npos) << r.err;
  EXPECT_FALSE(is_mounted(mountpoint));
}

TEST_F(CliMountSmall, NamedAccountFromTheDefaultConfigFileWithLfOption) {
  const auto expected = fetch_all_independently(dovecot);
  ASSERT_EQ(expected.size(), 5u);
  std::filesystem::create_directories(env.root() / "home/.config/popfs");
  write_file(env.root() / "home/.config/popfs/config.toml",
             "[accounts.work]\n"
             "url = \"" + url() + "\"\n"
             "ca_file = \"" + dovecot.ca_file() + "\"\n"
             "password_file = \"" + dovecot.password_file().string() + "\"\n"
             "cache_dir = \"" + cache_dir.string() + "\"\n"
             "lf = true\n");
  const auto r = env.run({"mount", "work", mountpoint.string()}, 90s);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  for (const auto& message : expected) {
    std::string lf;
    for (std::size_t i = 0; i < message.content.size(); ++i) {
      if (message.content[i] == '\r' && i + 1 < message.content.size() && message.content[i + 1] == '\n') continue;
      lf += message.content[i];
    }
    ASSERT_NE(lf, message.content) << "the corpus message has no CRLF to turn into LF";
    const auto file = mountpoint / file_name_for(message.uidl);
    const std::string bytes = read_all(file);
    EXPECT_TRUE(bytes == lf) << file << " is not the LF form of the message: " << difference(bytes, lf);
  }
  const auto status = env.run({"status", mountpoint.string()});
  EXPECT_NE(status.out.find(url()), std::string::npos) << status.describe();
  umount_and_expect_daemon_gone();
}

TEST_F(CliMountSmall, ReadOnlyMountRefusesRmAndDeletesNothing) {
  std::vector<std::string> argv = {"mount", "-o", "ro"};
  const auto connection = connection_args();
  argv.insert(argv.end(), connection.begin(), connection.end());
  argv.push_back(url());
  argv.push_back(mountpoint.string());
  const auto r = env.run(argv, 90s);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  const auto names = eml_files(mountpoint);
  ASSERT_EQ(names.size(), 5u);
  std::error_code error;
  EXPECT_FALSE(std::filesystem::remove(mountpoint / names[0], error));
  EXPECT_EQ(error.value(), EROFS) << error.message();
  EXPECT_EQ(eml_files(mountpoint).size(), 5u);
  umount_and_expect_daemon_gone();
  EXPECT_EQ(dovecot.maildir_message_count(), 5u);
}

// commands.cpp handles "no daemon answers": popfs umount must unmount the dead mount itself.
TEST_F(CliMountSmall, PopfsUmountCleansUpTheMountOfAKilledDaemon) {
  const auto r = mount();
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  const auto daemons = processes_mentioning(mountpoint.string());
  ASSERT_EQ(daemons.size(), 1u);
  ASSERT_EQ(::kill(daemons[0], SIGKILL), 0);
  ASSERT_TRUE(wait_process_gone(daemons[0], 10s));
  ASSERT_TRUE(is_mounted(mountpoint)) << "the kernel keeps a dead FUSE mount until someone unmounts it";
  // What a user finds later: once the kernel's cached attributes expire (the fs layer sets
  // 60 s attribute timeouts), even stat of the mountpoint fails with ENOTCONN.
  ASSERT_TRUE(wait_until(
      [&] {
        struct stat info {};
        return ::stat(mountpoint.c_str(), &info) != 0 && errno == ENOTCONN;
      },
      120s));

  const auto dead = env.run({"umount", mountpoint.string()}, 90s);
  EXPECT_EQ(dead.exit_code, 0) << dead.describe();
  EXPECT_FALSE(is_mounted(mountpoint)) << dead.describe();
  // And the directory is usable again: a new mount works.
  if (is_mounted(mountpoint)) env.run_program({"fusermount3", "-u", mountpoint.string()});
  const auto again = mount();
  EXPECT_EQ(again.exit_code, 0) << again.describe();
  EXPECT_EQ(eml_files(mountpoint).size(), 5u);
  umount_and_expect_daemon_gone();
}

TEST_F(CliMountSmall, DeletionQueuedBeforeKillDashNineIsCommittedByTheNextMount) {
  const auto uidls = dovecot.uidls();
  ASSERT_EQ(uidls.size(), 5u);
  const auto r = mount();
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  const auto daemons = processes_mentioning(mountpoint.string());
  ASSERT_EQ(daemons.size(), 1u);
  ASSERT_TRUE(std::filesystem::remove(mountpoint / file_name_for(uidls[2])));
  ASSERT_EQ(::kill(daemons[0], SIGKILL), 0);
  ASSERT_TRUE(wait_process_gone(daemons[0], 10s));

  const auto fusermount = env.run_program({"fusermount3", "-u", mountpoint.string()});
  EXPECT_EQ(fusermount.exit_code, 0) << fusermount.describe();
  ASSERT_FALSE(is_mounted(mountpoint));

  const auto again = mount();
  ASSERT_EQ(again.exit_code, 0) << again.describe();
  const auto names = eml_files(mountpoint);
  EXPECT_EQ(names.size(), 4u);
  EXPECT_TRUE(std::find(names.begin(), names.end(), file_name_for(uidls[2])) == names.end())
      << "the message rm'd before the crash is listed again";
  umount_and_expect_daemon_gone();
  EXPECT_EQ(dovecot.maildir_message_count(), 4u);
  const std::vector<std::string> expected = {uidls[0], uidls[1], uidls[3], uidls[4]};
  EXPECT_EQ(uidls_independently(pop3s_endpoint(dovecot)), expected);
}

TEST_F(CliMountSmall, OfflineMountListsFromCacheFailsUncachedReadsWithEioAndShowsTheError) {
  const auto uidls = dovecot.uidls();
  ASSERT_NO_FATAL_FAILURE(mount_offline_with_cached_listing());
  EXPECT_EQ(eml_files(mountpoint).size(), 5u);

  const auto status = env.run({"status", mountpoint.string()});
  EXPECT_EQ(status.exit_code, 0) << status.describe();
  EXPECT_NE(status.out.find("last error:"), std::string::npos) << status.out;
  EXPECT_EQ(status.out.find("last error: none"), std::string::npos) << "status hides the offline error\n"
                                                                   << status.out;
  // cat in a child with a deadline: a read must fail (EIO), never hang.
  const auto cat = env.run_program({"cat", (mountpoint / file_name_for(uidls[0])).string()}, 120s);
  EXPECT_FALSE(cat.timed_out) << "reading an uncached message offline hangs";
  EXPECT_NE(cat.exit_code, 0) << cat.describe();
  EXPECT_TRUE(contains_nocase(cat.err, "Input/output error")) << cat.describe();
  umount_and_expect_daemon_gone();
}

TEST_F(CliMountSmall, RmWhileOfflineStaysQueuedThroughUmountAndIsCommittedByTheNextMount) {
  const auto uidls = dovecot.uidls();
  ASSERT_NO_FATAL_FAILURE(mount_offline_with_cached_listing());
  ASSERT_TRUE(std::filesystem::remove(mountpoint / file_name_for(uidls[1])));
  EXPECT_EQ(eml_files(mountpoint).size(), 4u);

  // popfs(1): the server cannot be reached, so umount unmounts anyway, says how many
  // deletions stay queued, and exits 3.
  const auto offline_umount = env.run({"umount", mountpoint.string()}, 120s);
  EXPECT_EQ(offline_umount.exit_code, 3) << offline_umount.describe();
  EXPECT_TRUE(contains_nocase(offline_umount.err, "queued")) << offline_umount.err;
  EXPECT_NE(offline_umount.err.find('1'), std::string::npos) << offline_umount.err;
  EXPECT_FALSE(is_mounted(mountpoint));
  EXPECT_TRUE(wait_until([&] { return processes_mentioning(mountpoint.string()).empty(); }, 60s));
  EXPECT_EQ(dovecot.maildir_message_count(), 5u);

  dovecot.start();
  const auto again = mount();
  ASSERT_EQ(again.exit_code, 0) << again.describe();
  EXPECT_EQ(eml_files(mountpoint).size(), 4u) << "the queued deletion must stay hidden";
  umount_and_expect_daemon_gone();
  EXPECT_EQ(dovecot.maildir_message_count(), 4u);
  const std::vector<std::string> expected = {uidls[0], uidls[2], uidls[3], uidls[4]};
  EXPECT_EQ(uidls_independently(pop3s_endpoint(dovecot)), expected);
}

TEST_F(CliMountSmall, CacheClearDropsBodiesButKeepsTheListing) {
  const auto connection = connection_args();
  auto command = [&](std::vector<std::string> argv) {
    argv.insert(argv.end(), connection.begin(), connection.end());
    argv.push_back(url());
    return env.run(argv, 120s);
  };
  const auto sync = command({"sync"});
  ASSERT_EQ(sync.exit_code, 0) << sync.describe();
  const auto before = command({"cache", "stats"});
  EXPECT_NE(before.out.find("bodies: 5"), std::string::npos) << before.describe();
  const auto clear = command({"cache", "clear"});
  EXPECT_EQ(clear.exit_code, 0) << clear.describe();
  const auto after = command({"cache", "stats"});
  EXPECT_EQ(after.exit_code, 0) << after.describe();
  EXPECT_NE(after.out.find("bodies: 0"), std::string::npos) << after.out;
  EXPECT_NE(after.out.find("messages: 5"), std::string::npos) << after.out;
}

TEST_F(CliMountSmall, PasswordFromACommandOrTheEnvironmentMountsToo) {
  const std::string password_command = "cat '" + dovecot.password_file().string() + "'";
  const auto with_command = env.run({"mount", "--ca-file", dovecot.ca_file(), "--password-command", password_command,
                                     "--cache-dir", cache_dir.string(), url(), mountpoint.string()},
                                    90s);
  ASSERT_EQ(with_command.exit_code, 0) << with_command.describe();
  EXPECT_EQ(eml_files(mountpoint).size(), 5u);
  umount_and_expect_daemon_gone();

  const auto with_env = env.run({"mount", "--ca-file", dovecot.ca_file(), "--cache-dir", cache_dir.string(), url(),
                                 mountpoint.string()},
                                90s, {"POPFS_PASSWORD=" + dovecot.password()});
  ASSERT_EQ(with_env.exit_code, 0) << with_env.describe();
  EXPECT_EQ(eml_files(mountpoint).size(), 5u);
  umount_and_expect_daemon_gone();
}

TEST_F(CliMountSmall, PasswordIsNeitherInTheDaemonsArgvNorInItsDebugLog) {
  const std::string password = dovecot.password();
  const auto log = env.path("daemon.log");
  std::vector<std::string> argv = {"mount", "-f", "-d"};
  const auto connection = connection_args();
  argv.insert(argv.end(), connection.begin(), connection.end());
  argv.push_back(url());
  argv.push_back(mountpoint.string());
  const pid_t daemon = env.start(argv, env.path("daemon.out"), log);
  const bool mounted = wait_until([&] { return is_mounted(mountpoint) || !process_running(daemon); }, 60s);
  ASSERT_TRUE(mounted && is_mounted(mountpoint)) << read_all(log);

  std::string cmdline = read_all("/proc/" + std::to_string(daemon) + "/cmdline");
  ASSERT_NE(cmdline.find(mountpoint.string()), std::string::npos) << "not the daemon's command line";
  EXPECT_EQ(cmdline.find(password), std::string::npos) << "password in argv";

  // Make it log in and fetch something, so the debug log has protocol traffic.
  const auto names = eml_files(mountpoint);
  ASSERT_EQ(names.size(), 5u);
  EXPECT_FALSE(read_file(mountpoint / names[0]).empty());
  const auto umount = env.run({"umount", mountpoint.string()}, 90s);
  EXPECT_EQ(umount.exit_code, 0) << umount.describe();
  const auto status = wait_process(daemon, 60s);
  if (!status) stop_process(daemon);
  ASSERT_TRUE(status.has_value()) << "the foreground daemon did not exit after popfs umount";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "status " << *status;

  const std::string text = read_all(log);
  EXPECT_FALSE(text.empty()) << "-f -d wrote no log to stderr";
  EXPECT_NE(text.find(dovecot.user()), std::string::npos) << "the log does not show the session at all:\n" << text;
  EXPECT_EQ(text.find(password), std::string::npos) << "password in the log:\n" << text;
  const std::string user = dovecot.user();
  for (const std::string& encoded : {base64(std::string(1, '\0') + user + '\0' + password),
                                     base64(user + '\0' + user + '\0' + password), base64(password)}) {
    EXPECT_EQ(text.find(encoded), std::string::npos) << "base64 credentials in the log:\n" << text;
  }
}

}  // namespace
}  // namespace popfs::test::cli
