#include "mount_fixture.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <future>
#include <sstream>

#include "popfs/mailbox/pop3_maildrop.hpp"
#include "popfs/net/account.hpp"
#include "popfs/util/uidl_name.hpp"
#include "popfs_test/corpus.hpp"

namespace popfs::test {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

CommandResult shell(const std::string& command_line) { return run_command({"bash", "-c", command_line}); }

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> ls(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  auto r = shell("ls -1 " + shell_quote(dir.string()));
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);) names.push_back(line);
  return names;
}

std::vector<std::string> sorted_names(const std::vector<IndependentMessage>& messages) {
  std::vector<std::string> names;
  for (const auto& m : messages) names.push_back(message_file_name(m.uidl));
  std::sort(names.begin(), names.end());
  return names;
}

namespace {

bool is_mounted(const std::filesystem::path& mountpoint) {
  struct stat here;
  struct stat parent;
  if (::stat(mountpoint.c_str(), &here) != 0) return false;
  if (::stat((mountpoint / "..").c_str(), &parent) != 0) return false;
  return here.st_dev != parent.st_dev;
}

void force_unmount(const std::filesystem::path& mountpoint) {
  if (!is_mounted(mountpoint)) return;
  (void)run_command({"fusermount3", "-u", mountpoint.string()});
  if (is_mounted(mountpoint)) (void)run_command({"fusermount3", "-u", "-z", mountpoint.string()});
}

}  // namespace

net::Account mount_account(const std::string& host, std::uint16_t port, const std::string& user,
                           const std::string& password, const std::string& ca_file) {
  net::Account account;
  account.host = host;
  account.port = port;
  account.security = net::Security::implicit_tls;
  account.user = user;
  account.password = [password]() -> Result<std::string> { return password; };
  account.ca_file = ca_file;
  return account;
}

Mount::Mount(const Dovecot& dovecot, const std::filesystem::path& cache_dir, const std::filesystem::path& mountpoint,
             fs::FsOptions options)
    : Mount(mount_account(dovecot.host(), dovecot.pop3s_port(), dovecot.user(), dovecot.password(), dovecot.ca_file()),
            cache_dir, mountpoint, options) {}

Mount::Mount(net::Account account, const std::filesystem::path& cache_dir, const std::filesystem::path& mountpoint,
             fs::FsOptions options)
    : mountpoint_(mountpoint) {
  account.connect_timeout = std::chrono::seconds(3);
  account.response_timeout = std::chrono::seconds(5);
  account.idle_grace = std::chrono::milliseconds(300);
  executor_ = std::make_unique<ThreadPool>(2, "test-core");
  maildrop_ = std::make_unique<mailbox::Pop3Maildrop>(account, mailbox::Pop3MaildropOptions{}, executor_.get());
  auto cache = store::Cache::open({cache_dir, 2ULL << 30});
  if (!cache) throw std::runtime_error("cache: " + cache.error().describe());
  cache_ = std::move(cache).value();
  options.uid = ::getuid();
  options.gid = ::getgid();
  filesystem_ = std::make_unique<fs::Filesystem>(*maildrop_, *cache_, options, *executor_);
  if (auto started = filesystem_->start(); !started) throw std::runtime_error(started.error().describe());
  // Like `popfs mount`: the first contact finishes (or fails: offline) before the mount.
  auto first = std::make_shared<std::promise<void>>();
  filesystem_->refresh([first](Result<void>) { first->set_value(); });
  if (first->get_future().wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    throw std::runtime_error("the first listing did not finish in 30 s");
  }
  std::filesystem::create_directories(mountpoint_);
  auto session = fuse::Session::mount(*filesystem_, {mountpoint_.string(), "popfs-test", false, false, false});
  if (!session) throw std::runtime_error("mount: " + session.error().describe());
  session_ = std::move(session).value();
  mounted_ = true;
  // The mount answers as soon as mount() returns, before serve() (popfs stats it then).
  auto stat_done = std::make_shared<std::promise<bool>>();
  std::thread([stat_done, where = mountpoint_] { stat_done->set_value(is_mounted(where)); }).detach();
  auto stat_future = stat_done->get_future();
  const bool answered = stat_future.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  server_ = std::thread([this] { (void)session_->serve(); });
  if (!answered) throw std::runtime_error("stat of the mountpoint hung until serve() was called");
  if (!stat_future.get()) throw std::runtime_error("the mount never appeared");
}

Result<void> Mount::unmount(std::chrono::milliseconds flush_timeout) {
  if (!mounted_) return {};
  mounted_ = false;
  Result<void> flushed = filesystem_->flush_deletions(flush_timeout);
  session_->stop();
  if (server_.joinable()) server_.join();
  force_unmount(mountpoint_);
  session_.reset();
  filesystem_->shutdown();
  executor_->stop();  // the cache writes still queued
  filesystem_.reset();
  maildrop_.reset();
  executor_.reset();
  cache_.reset();
  return flushed;
}

Mount::~Mount() {
  (void)unmount(std::chrono::seconds(2));
  force_unmount(mountpoint_);
}

void MountTest::start_dovecot(std::size_t corpus_count, std::size_t large_count,
                              std::vector<std::string> extra_config) {
  CorpusOptions corpus;
  corpus.count = corpus_count;
  corpus.large_count = large_count;
  corpus.large_bytes = 600 * 1024;
  DovecotOptions options;
  options.corpus = generate_corpus(corpus);
  options.extra_config = std::move(extra_config);
  dovecot_ = std::make_unique<Dovecot>(std::move(options));
}

fs::FsOptions MountTest::default_options() {
  fs::FsOptions o;
  o.poll = std::chrono::seconds(0);
  o.deletion_batch_delay = std::chrono::milliseconds(100);
  o.deletion_retry_min = std::chrono::milliseconds(200);
  o.deletion_retry_max = std::chrono::milliseconds(1000);
  return o;
}

Mount& MountTest::mount(fs::FsOptions options) {
  mount_ = std::make_unique<Mount>(*dovecot_, work_.path() / "cache", mp(), options);
  return *mount_;
}

void MountTest::unmount() {
  if (mount_) (void)mount_->unmount();
  mount_.reset();
}

void MountTest::TearDown() {
  mount_.reset();
  force_unmount(mp());
  dovecot_.reset();
}

}  // namespace popfs::test
