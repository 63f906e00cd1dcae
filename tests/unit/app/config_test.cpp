#include "popfs/app/config.hpp"

#include <gtest/gtest.h>

#include "test_helpers.hpp"

namespace popfs::app {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using test::fake_env;
using test::TempDir;

const std::string kGoodConfig = R"(# popfs test config
[defaults]
lf = true
poll = 120

[accounts.work]
url = "pop3s://alice%40example.com@mail.example.com"
password_command = "pass show mail/work"
ca_file = "/etc/ssl/certs/ca-certificates.crt"
fingerprint = "sha256:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"
cache_dir = "~/popfs-cache"
poll = "2m"
idle_grace = "500ms"
cache_size = "512M"
read_only = true
allow_other = false
insecure_plaintext = false

[accounts.home]
url = "pop3://bob@[::1]:1110"
password_file = "~/.popfs-home"
lf = false
cache_size = 1048576
insecure_plaintext = true
oauth_token_command = "x"
)";

const EnvLookup kEnv = fake_env({{"HOME", "/home/alice"}});

ConfigFile parse_ok(const std::string& text) {
  auto config = parse_config(text, "/cfg/config.toml");
  EXPECT_TRUE(config.ok()) << (config.ok() ? "" : config.error().message);
  return config.ok() ? config.value() : ConfigFile{};
}

std::string parse_error(const std::string& text) {
  auto config = parse_config(text, "/cfg/config.toml");
  EXPECT_FALSE(config.ok());
  if (config.ok()) return {};
  EXPECT_EQ(config.error().code, Errc::invalid_argument);
  return config.error().message;
}

TEST(ConfigFile, ParsesDefaultsAndAccounts) {
  const ConfigFile config = parse_ok(kGoodConfig);
  EXPECT_EQ(config.path, "/cfg/config.toml");
  EXPECT_EQ(config.defaults.lf, true);
  EXPECT_EQ(config.defaults.poll, seconds(120));
  ASSERT_EQ(config.accounts.size(), 2u);
  const MountOptions& work = config.accounts.at("work");
  EXPECT_EQ(work.url, "pop3s://alice%40example.com@mail.example.com");
  EXPECT_EQ(work.password_command, "pass show mail/work");
  EXPECT_EQ(work.poll, seconds(120));  // "2m"
  EXPECT_EQ(work.idle_grace, milliseconds(500));
  EXPECT_EQ(work.cache_size, 512u << 20);
  EXPECT_EQ(work.read_only, true);
  EXPECT_EQ(work.allow_other, false);
  const MountOptions& home = config.accounts.at("home");
  EXPECT_EQ(home.cache_size, 1048576u);
  EXPECT_EQ(home.lf, false);
  EXPECT_EQ(home.password_file, "~/.popfs-home");
}

TEST(ConfigFile, UnknownKeyNamesKeyAndLine) {
  const std::string msg = parse_error("[accounts.work]\nurl = \"pop3s://a@h\"\n\nlinefeeds = true\n");
  EXPECT_NE(msg.find("/cfg/config.toml:4:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'linefeeds'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("accounts.work"), std::string::npos) << msg;
}

TEST(ConfigFile, UrlIsNotAllowedInDefaults) {
  const std::string msg = parse_error("[defaults]\nurl = \"pop3s://a@h\"\n");
  EXPECT_NE(msg.find(":2:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'url'"), std::string::npos) << msg;
}

TEST(ConfigFile, UnknownTopLevelKey) {
  const std::string msg = parse_error("verbose = true\n");
  EXPECT_NE(msg.find(":1:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'verbose'"), std::string::npos) << msg;
}

TEST(ConfigFile, MalformedTomlGivesFileAndLine) {
  const std::string msg = parse_error("[accounts.work]\nurl = \"pop3s://a@h\"\npoll = = 3\n");
  EXPECT_EQ(msg.rfind("/cfg/config.toml:3:", 0), 0u) << msg;
}

TEST(ConfigFile, WrongValueTypes) {
  EXPECT_NE(parse_error("[defaults]\nlf = \"yes\"\n").find("true or false"), std::string::npos);
  EXPECT_NE(parse_error("[defaults]\npoll = true\n").find("seconds"), std::string::npos);
  EXPECT_NE(parse_error("[defaults]\npoll = \"soon\"\n").find("soon"), std::string::npos);
  EXPECT_NE(parse_error("[defaults]\ncache_size = -1\n").find("negative"), std::string::npos);
  EXPECT_NE(parse_error("[defaults]\nca_file = 3\n").find("string"), std::string::npos);
  EXPECT_NE(parse_error("accounts = 3\n").find("table"), std::string::npos);
}

TEST(ConfigFile, AccountNeedsAValidUrl) {
  EXPECT_NE(parse_error("[accounts.work]\nlf = true\n").find("has no url"), std::string::npos);
  const std::string msg = parse_error("[accounts.work]\nurl = \"imap://a@h\"\n");
  EXPECT_NE(msg.find("work"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unsupported scheme"), std::string::npos) << msg;
}

TEST(ConfigFile, AccountNamesAreRestricted) {
  EXPECT_NE(parse_error("[accounts.\"a/b\"]\nurl = \"pop3s://a@h\"\n").find("account name"),
            std::string::npos);
}

TEST(ConfigFile, LoadMissingFile) {
  TempDir dir;
  auto optional = load_config(dir.file("none.toml"), false);
  ASSERT_TRUE(optional.ok());
  EXPECT_TRUE(optional->path.empty());
  EXPECT_TRUE(optional->accounts.empty());

  auto required = load_config(dir.file("none.toml"), true);
  ASSERT_FALSE(required.ok());
  EXPECT_NE(required.error().message.find(dir.file("none.toml")), std::string::npos);
  EXPECT_NE(required.error().message.find("No such file"), std::string::npos);
}

TEST(ConfigFile, LoadUnreadableFile) {
  TempDir dir;
  auto result = load_config(dir.path(), false);  // a directory, not a file
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find(dir.path()), std::string::npos);
}

TEST(ConfigFile, LoadFromDisk) {
  TempDir dir;
  const std::string path = dir.write("config.toml", kGoodConfig);
  auto config = load_config(path, true);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->path, path);
  EXPECT_EQ(config->accounts.count("work"), 1u);
}

TEST(Paths, DefaultConfigPath) {
  EXPECT_EQ(default_config_path(fake_env({{"XDG_CONFIG_HOME", "/x/conf"}, {"HOME", "/home/a"}})),
            "/x/conf/popfs/config.toml");
  EXPECT_EQ(default_config_path(fake_env({{"HOME", "/home/a"}})), "/home/a/.config/popfs/config.toml");
  // The XDG spec says relative values are invalid and must be ignored.
  EXPECT_EQ(default_config_path(fake_env({{"XDG_CONFIG_HOME", "rel"}, {"HOME", "/home/a"}})),
            "/home/a/.config/popfs/config.toml");
}

TEST(Paths, DefaultCacheDir) {
  PopUrl url{"alice", "mail.example.com", 995, net::Security::implicit_tls};
  EXPECT_EQ(default_cache_dir(url, fake_env({{"XDG_CACHE_HOME", "/x/cache"}})),
            "/x/cache/popfs/alice@mail.example.com:995");
  EXPECT_EQ(default_cache_dir(url, fake_env({{"HOME", "/home/a"}})),
            "/home/a/.cache/popfs/alice@mail.example.com:995");
  url.user = "a/b";
  EXPECT_EQ(default_cache_dir(url, fake_env({{"HOME", "/h"}})), "/h/.cache/popfs/a%2Fb@mail.example.com:995");
}

TEST(Resolve, UrlWithBuiltInDefaults) {
  auto s = resolve_mount_settings("pop3s://alice@mail.example.com", {}, {}, kEnv);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->url.host, "mail.example.com");
  EXPECT_TRUE(s->account_name.empty());
  EXPECT_EQ(s->poll, seconds(60));
  EXPECT_EQ(s->cache_size, std::uint64_t{2} << 30);
  EXPECT_EQ(s->cache_dir, "/home/alice/.cache/popfs/alice@mail.example.com:995");
  EXPECT_FALSE(s->read_only);
  EXPECT_FALSE(s->lf);
  EXPECT_FALSE(s->foreground);
  EXPECT_FALSE(s->password_command || s->password_file || s->oauth_token_command);
}

TEST(Resolve, AccountNameUsesFileValuesAndDefaults) {
  const ConfigFile config = parse_ok(kGoodConfig);
  auto s = resolve_mount_settings("work", {}, config, kEnv);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->account_name, "work");
  EXPECT_EQ(s->url.user, "alice@example.com");
  EXPECT_EQ(s->password_command, "pass show mail/work");
  EXPECT_EQ(s->fingerprint, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
  EXPECT_EQ(s->cache_dir, "/home/alice/popfs-cache");
  EXPECT_TRUE(s->lf);  // from [defaults]
  EXPECT_TRUE(s->read_only);
  EXPECT_EQ(s->poll, seconds(120));
  EXPECT_EQ(s->idle_grace, milliseconds(500));
  const net::Account account = s->to_account();
  EXPECT_EQ(account.user, "alice@example.com");
  EXPECT_EQ(account.port, 995);
  EXPECT_EQ(account.ca_file, "/etc/ssl/certs/ca-certificates.crt");
  EXPECT_EQ(account.fingerprint_sha256, s->fingerprint);
  EXPECT_EQ(account.idle_grace, milliseconds(500));
}

TEST(Resolve, CommandLineOverridesFile) {
  const ConfigFile config = parse_ok(kGoodConfig);
  MountOptions cli;
  ASSERT_TRUE(apply_mount_option_string("poll=30,rw,password_file=/run/pw,cache_size=1G", cli).ok());
  cli.foreground = true;
  auto s = resolve_mount_settings("work", cli, config, kEnv);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->poll, seconds(30));
  EXPECT_FALSE(s->read_only);
  EXPECT_TRUE(s->foreground);
  EXPECT_EQ(s->cache_size, std::uint64_t{1} << 30);
  EXPECT_EQ(s->password_file, "/run/pw");
  EXPECT_FALSE(s->password_command.has_value()) << "a command-line secret source replaces the file's";
  EXPECT_TRUE(s->lf);  // untouched by the command line
}

TEST(Resolve, DefaultsApplyToUrlMounts) {
  const ConfigFile config = parse_ok(kGoodConfig);
  auto s = resolve_mount_settings("pop3s://x@y", {}, config, kEnv);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->lf);
  EXPECT_EQ(s->poll, seconds(120));
}

TEST(Resolve, UnknownAccountListsTheKnownOnes) {
  const ConfigFile config = parse_ok(kGoodConfig);
  auto s = resolve_mount_settings("wrok", {}, config, kEnv);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("'wrok'"), std::string::npos);
  EXPECT_NE(s.error().message.find("home work"), std::string::npos) << s.error().message;

  auto no_file = resolve_mount_settings("work", {}, ConfigFile{}, kEnv);
  ASSERT_FALSE(no_file.ok());
  EXPECT_NE(no_file.error().message.find("/home/alice/.config/popfs/config.toml"), std::string::npos)
      << no_file.error().message;
}

TEST(Resolve, TokenAndPasswordTogetherIsAnError) {
  const ConfigFile config = parse_ok(kGoodConfig);
  auto s = resolve_mount_settings("home", {}, config, kEnv);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("oauth_token_command"), std::string::npos);
  // Choosing one on the command line resolves it.
  MountOptions cli;
  cli.oauth_token_command = "get-token";
  auto fixed = resolve_mount_settings("home", cli, config, kEnv);
  ASSERT_TRUE(fixed.ok()) << fixed.error().message;
  EXPECT_EQ(fixed->oauth_token_command, "get-token");
  EXPECT_FALSE(fixed->password_file.has_value());
  EXPECT_EQ(fixed->to_account().security, net::Security::plaintext);  // insecure_plaintext = true
}

TEST(Resolve, InvalidValues) {
  MountOptions cli;
  cli.poll = seconds(0);
  EXPECT_FALSE(resolve_mount_settings("pop3s://a@h", cli, {}, kEnv).ok());

  MountOptions fp;
  fp.fingerprint = "sha1:abcd";
  auto r = resolve_mount_settings("pop3s://a@h", fp, {}, kEnv);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("sha256"), std::string::npos);

  MountOptions ca;
  ca.ca_file = "/nonexistent/ca.pem";
  r = resolve_mount_settings("pop3s://a@h", ca, {}, kEnv);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("/nonexistent/ca.pem"), std::string::npos);

  EXPECT_FALSE(resolve_mount_settings("pop3s://a:pw@h", {}, {}, kEnv).ok());
}

TEST(Resolve, RelativePathsBecomeAbsolute) {
  // The daemon runs in "/", so a relative path must be pinned to where popfs was started.
  TempDir dir;
  dir.write("ca.pem", "x");
  const auto old_cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  MountOptions cli;
  cli.ca_file = "ca.pem";
  cli.cache_dir = "cache/./x";
  cli.password_file = "../pw";
  auto s = resolve_mount_settings("pop3s://a@h", cli, {}, kEnv);
  std::filesystem::current_path(old_cwd);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->ca_file, dir.path() + "/ca.pem");
  EXPECT_EQ(s->cache_dir, dir.path() + "/cache/x");
  EXPECT_EQ(s->password_file, std::filesystem::path(dir.path()).parent_path().string() + "/pw");
}

TEST(Fingerprint, Normalisation) {
  const std::string hex(64, 'a');
  EXPECT_EQ(normalize_fingerprint("sha256:" + std::string(64, 'A')).value(), hex);
  EXPECT_EQ(normalize_fingerprint("SHA256:" + hex).value(), hex);
  EXPECT_EQ(normalize_fingerprint(hex).value(), hex);
  EXPECT_FALSE(normalize_fingerprint("sha256:abc").ok());
  EXPECT_FALSE(normalize_fingerprint("sha256:" + std::string(64, 'g')).ok());
  EXPECT_FALSE(normalize_fingerprint("md5:" + hex).ok());
}

}  // namespace
}  // namespace popfs::app

namespace popfs::app {
namespace {

TEST(Fingerprint, ColonSeparatedWithoutPrefix) {
  std::string grouped;
  for (int i = 0; i < 32; ++i) grouped += (i == 0 ? "" : ":") + std::string("0F");
  std::string expected;
  for (int i = 0; i < 32; ++i) expected += "0f";
  EXPECT_EQ(normalize_fingerprint(grouped).value(), expected);
}

}  // namespace
}  // namespace popfs::app
