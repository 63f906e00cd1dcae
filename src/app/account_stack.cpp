#include "account_stack.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <future>

#include "popfs/mailbox/pop3_maildrop.hpp"

namespace popfs::app {

AccountStack::~AccountStack() {
  if (filesystem) filesystem->shutdown();
  if (executor) executor->stop();
  filesystem.reset();
  maildrop.reset();
  cache.reset();
}

Result<std::unique_ptr<AccountStack>> build_account_stack(const MountSettings& settings,
                                                          net::Account account) {
  auto stack = std::make_unique<AccountStack>();
  auto cache = store::Cache::open({.dir = settings.cache_dir, .body_cap_bytes = settings.cache_size});
  if (!cache) return std::move(cache).error();
  stack->cache = std::move(*cache);
  // Two threads: replies and cache writes (a strand) go on while a reply is being built.
  stack->executor = std::make_unique<ThreadPool>(2, "popfs-core");
  stack->maildrop = std::make_unique<mailbox::Pop3Maildrop>(std::move(account), mailbox::Pop3MaildropOptions{},
                                                             stack->executor.get());

  fs::FsOptions options;
  options.read_only = settings.read_only;
  options.lf = settings.lf;
  options.layout = settings.maildir ? fs::Layout::maildir : fs::Layout::flat;
  options.poll = settings.poll;
  options.uid = ::getuid();
  options.gid = ::getgid();
  stack->filesystem = std::make_unique<fs::Filesystem>(*stack->maildrop, *stack->cache, options, *stack->executor);
  return stack;
}

namespace {

bool retrying_cannot_fix(Errc code) {
  return code == Errc::auth_failed || code == Errc::tls_untrusted ||
         code == Errc::stls_unavailable || code == Errc::protocol_violation ||
         code == Errc::invalid_argument;
}

}  // namespace

Result<void> start_and_first_contact(AccountStack& stack, const net::Account& account) {
  if (auto started = stack.filesystem->start(); !started) return started;
  auto promise = std::make_shared<std::promise<Result<void>>>();
  auto verdict = promise->get_future();
  stack.filesystem->refresh([promise](Result<void> result) { promise->set_value(std::move(result)); });

  const auto limit = account.connect_timeout + account.response_timeout * 2;
  Result<void> result = Error(Errc::timeout, "the server " + account.host + " did not answer in time");
  if (verdict.wait_for(limit) == std::future_status::ready) result = verdict.get();
  if (result) return result;

  const Error& error = result.error();
  if (retrying_cannot_fix(error.code)) return result;
  // A failed listing has installed the cached one already; a listing still under way has not.
  if (auto installed = stack.filesystem->use_cached_listing(); !installed) return installed;
  if (stack.filesystem->status().messages == 0) {
    // Nothing shown: a cache that lists nothing (every message of one it lists may be hidden
    // by a pending deletion, and the mount still has those to commit).
    auto listing = stack.cache->listing();
    if (!listing || listing->empty()) return result;
  }
  spdlog::warn("{}; serving the cached listing until the server can be reached", error.message);
  return {};
}

}  // namespace popfs::app
