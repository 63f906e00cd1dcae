// Pop3Maildrop against the private Dovecot: listing, RETR and TOP compared with an
// independent client, short sessions (QUIT after the idle grace), fresh snapshots, deletion.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "../net/net_test_util.hpp"
#include "maildrop_test_util.hpp"
#include "popfs/mailbox/pop3_maildrop.hpp"
#include "popfs_test/corpus.hpp"
#include "popfs_test/delay_proxy.hpp"
#include "popfs_test/dovecot.hpp"
#include "popfs_test/independent_client.hpp"
#include "popfs_test/process.hpp"

#include <spdlog/cfg/env.h>

namespace popfs::mailbox {
namespace {

using namespace std::chrono_literals;
using namespace popfs::mailbox::testing;
using popfs::net::testing::dovecot_account;

popfs::test::DovecotOptions dovecot_options(std::size_t count, std::uint64_t seed) {
  popfs::test::CorpusOptions corpus;
  corpus.count = count;
  corpus.seed = seed;
  popfs::test::DovecotOptions options;
  options.corpus = popfs::test::generate_corpus(corpus);
  return options;
}

// SPDLOG_LEVEL=debug shows the POP3 dialogue (secrets redacted).
const bool log_levels_from_environment = [] {
  spdlog::cfg::load_env_levels();
  return true;
}();

class Pop3MaildropDovecotTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dovecot_ = new popfs::test::Dovecot(dovecot_options(10, 11));
    reference_ = new std::vector<popfs::test::IndependentMessage>(
        popfs::test::fetch_all_independently(*dovecot_));
  }
  static void TearDownTestSuite() {
    delete reference_;
    delete dovecot_;
    reference_ = nullptr;
    dovecot_ = nullptr;
  }
  static popfs::test::Dovecot* dovecot_;
  static std::vector<popfs::test::IndependentMessage>* reference_;
};

popfs::test::Dovecot* Pop3MaildropDovecotTest::dovecot_ = nullptr;
std::vector<popfs::test::IndependentMessage>* Pop3MaildropDovecotTest::reference_ = nullptr;

TEST_F(Pop3MaildropDovecotTest, ListMatchesIndependentClient) {
  Pop3Maildrop maildrop(dovecot_account(*dovecot_, net::Security::implicit_tls));
  auto listing = list_now(maildrop);
  ASSERT_TRUE(listing.has_value());
  ASSERT_TRUE(*listing) << listing->error().describe();
  const MessageTable& messages = ***listing;
  ASSERT_EQ(messages.size(), reference_->size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    EXPECT_EQ(messages.uidl(i), (*reference_)[i].uidl);
    EXPECT_EQ(messages.occurrence(i), 1u);
    EXPECT_EQ(messages.size_of(i), (*reference_)[i].list_size);
  }
}

TEST_F(Pop3MaildropDovecotTest, EveryRetrEqualsIndependentClientAndCompletesInOrder) {
  Pop3Maildrop maildrop(dovecot_account(*dovecot_, net::Security::stls));
  std::mutex mutex;
  std::vector<std::string> completion_order;
  std::vector<std::shared_ptr<std::string>> bodies;
  std::vector<Eventually<Result<void>>> results(reference_->size());
  for (std::size_t i = 0; i < reference_->size(); ++i) {
    auto body = std::make_shared<std::string>();
    bodies.push_back(body);
    const auto uidl = (*reference_)[i].uidl;
    maildrop.retr(
        MessageId{uidl, 1}, [body](std::string_view chunk) { body->append(chunk); },
        [&, i, uidl](Result<void> r) {
          {
            std::lock_guard lock(mutex);
            completion_order.push_back(uidl);
          }
          results[i].set(std::move(r));
        });
  }
  for (std::size_t i = 0; i < reference_->size(); ++i) {
    auto r = results[i].get();
    ASSERT_TRUE(r.has_value());
    ASSERT_TRUE(*r) << r->error().describe();
    EXPECT_EQ(*bodies[i], (*reference_)[i].content) << (*reference_)[i].uidl;
  }
  std::vector<std::string> expected;
  for (const auto& m : *reference_) expected.push_back(m.uidl);
  std::lock_guard lock(mutex);
  EXPECT_EQ(completion_order, expected);
}

TEST_F(Pop3MaildropDovecotTest, TopZeroMatchesIndependentClient) {
  Pop3Maildrop maildrop(dovecot_account(*dovecot_, net::Security::implicit_tls));
  const auto& message = (*reference_)[1];
  auto top = top_now(maildrop, MessageId{message.uidl, 1}, 0);
  ASSERT_TRUE(top.has_value());
  ASSERT_TRUE(*top) << top->error().describe();
  EXPECT_EQ(**top, popfs::test::top_independently(*dovecot_, message.uidl, 0));
  EXPECT_FALSE(maildrop.stats().top_unsupported);
}

TEST_F(Pop3MaildropDovecotTest, UnknownMessageIsMessageGone) {
  Pop3Maildrop maildrop(dovecot_account(*dovecot_, net::Security::implicit_tls));
  auto retr = retr_now(maildrop, MessageId{"no-such-uidl", 1});
  ASSERT_TRUE(retr.has_value());
  ASSERT_FALSE(*retr);
  EXPECT_EQ(retr->error().code, Errc::message_gone);
  auto second = top_now(maildrop, MessageId{(*reference_)[0].uidl, 2}, 0);
  ASSERT_TRUE(second.has_value());
  ASSERT_FALSE(*second);
  EXPECT_EQ(second->error().code, Errc::message_gone) << "there is no second occurrence";
}

TEST_F(Pop3MaildropDovecotTest, SessionIsQuitAfterIdleGrace) {
  auto account = dovecot_account(*dovecot_, net::Security::implicit_tls);
  account.idle_grace = 300ms;
  const auto sessions_before = dovecot_->sessions().size();
  Pop3Maildrop maildrop(account);
  auto listing = list_now(maildrop);
  ASSERT_TRUE(listing && *listing);
  auto body = retr_now(maildrop, (**listing)->id(0));
  ASSERT_TRUE(body && *body);
  // Nothing else to do: after the grace the session logs out by itself (Dovecot's log says
  // so), while the maildrop object lives on.
  ASSERT_TRUE(dovecot_->wait_for_sessions(sessions_before + 1, 10s));
  const auto sessions = dovecot_->sessions();
  ASSERT_EQ(sessions.size(), sessions_before + 1);
  EXPECT_TRUE(sessions.back().quit) << "QUIT, not a dropped connection";
  EXPECT_EQ(sessions.back().retr, 1u) << "list and RETR shared one session";
  EXPECT_TRUE(popfs::test::wait_until([&] { return !maildrop.stats().session_open; }, 5s));
  EXPECT_EQ(maildrop.stats().sessions_started, 1u);
}

TEST_F(Pop3MaildropDovecotTest, ListAlwaysUsesAFreshSnapshot) {
  popfs::test::Dovecot dovecot(dovecot_options(3, 5));
  auto account = dovecot_account(dovecot, net::Security::implicit_tls);
  account.idle_grace = 60s;  // the first session would still be open for the second list()
  Pop3Maildrop maildrop(account);
  auto first = list_now(maildrop);
  ASSERT_TRUE(first && *first);
  ASSERT_EQ((**first)->size(), 3u);
  dovecot.deliver("Subject: new\n\nnew mail\n");
  auto second = list_now(maildrop);
  ASSERT_TRUE(second && *second) << second->error().describe();
  ASSERT_EQ((**second)->size(), 4u);
  const auto uidls = dovecot.uidls();
  EXPECT_EQ((**second)->uidl((**second)->size() - 1), uidls.back());
  EXPECT_EQ(maildrop.stats().sessions_started, 2u);
}

TEST_F(Pop3MaildropDovecotTest, CommitDeletionsDeletesExactlyTheNamedMessages) {
  popfs::test::Dovecot dovecot(dovecot_options(6, 3));
  const auto before = dovecot.uidls();
  ASSERT_EQ(before.size(), 6u);
  Pop3Maildrop maildrop(dovecot_account(dovecot, net::Security::implicit_tls));
  // Learn the listing in one session, then delete from another (fresh snapshot by UIDL).
  auto listing = list_now(maildrop);
  ASSERT_TRUE(listing && *listing);
  std::vector<MessageId> doomed{MessageId{before[4], 1}, MessageId{before[1], 1},
                                MessageId{"already-gone", 1}};
  auto committed = commit_now(maildrop, doomed);
  ASSERT_TRUE(committed.has_value());
  ASSERT_TRUE(*committed) << committed->error().describe();
  std::set<MessageId> reported((*committed)->begin(), (*committed)->end());
  EXPECT_EQ(reported, std::set<MessageId>(doomed.begin(), doomed.end()));

  std::vector<std::string> expected = before;
  expected.erase(expected.begin() + 4);
  expected.erase(expected.begin() + 1);
  EXPECT_EQ(dovecot.uidls(), expected);
  auto after = list_now(maildrop);
  ASSERT_TRUE(after && *after);
  EXPECT_EQ((**after)->size(), 4u);
}

TEST_F(Pop3MaildropDovecotTest, WrongPasswordFailsEveryQueuedRequestWithAuthFailed) {
  auto account = dovecot_account(*dovecot_, net::Security::implicit_tls);
  account.password = []() -> Result<std::string> { return std::string("nope"); };
  Pop3Maildrop maildrop(account);
  Eventually<Result<Listing>> listing;
  Eventually<Result<std::string>> top;
  maildrop.list([&](Result<Listing> r) { listing.set(std::move(r)); });
  maildrop.top(MessageId{(*reference_)[0].uidl, 1}, 0,
               [&](Result<std::string> r) { top.set(std::move(r)); });
  auto l = listing.get();
  auto t = top.get();
  ASSERT_TRUE(l && t);
  ASSERT_FALSE(*l);
  ASSERT_FALSE(*t);
  EXPECT_EQ(l->error().code, Errc::auth_failed);
  EXPECT_EQ(t->error().code, Errc::auth_failed);
}

TEST_F(Pop3MaildropDovecotTest, ShutdownCancelsQueuedWorkAndReturns) {
  Pop3Maildrop maildrop(dovecot_account(*dovecot_, net::Security::implicit_tls));
  std::atomic<int> called{0};
  std::vector<std::optional<Errc>> codes(reference_->size());  // nullopt: success
  std::mutex mutex;
  for (std::size_t i = 0; i < reference_->size(); ++i) {
    maildrop.retr(MessageId{(*reference_)[i].uidl, 1}, [](std::string_view) {},
                  [&, i](Result<void> r) {
                    std::lock_guard lock(mutex);
                    if (!r) codes[i] = r.error().code;
                    ++called;
                  });
  }
  maildrop.shutdown();
  EXPECT_EQ(called.load(), static_cast<int>(reference_->size()))
      << "every callback ran before shutdown() returned";
  {
    std::lock_guard lock(mutex);
    for (const auto& code : codes) {
      if (code) {
        EXPECT_EQ(*code, Errc::cancelled) << "only success or cancellation";
      }
    }
  }
  // Nothing may succeed or fail differently after shutdown; later calls are cancelled.
  auto late = list_now(maildrop);
  ASSERT_TRUE(late.has_value());
  ASSERT_FALSE(*late);
  EXPECT_EQ(late->error().code, Errc::cancelled);
}

// shutdown() in the middle of a pipelined batch: what was written is answered, the rest is
// cancelled, and the session ends with QUIT, which Dovecot logs as a clean logout.
TEST_F(Pop3MaildropDovecotTest, ShutdownMidBatchLogsOutCleanly) {
  popfs::test::Dovecot dovecot(dovecot_options(10, 7));
  // 50 ms each way and 4 commands in flight: 40 TOPs take about a second.
  popfs::test::DelayProxy proxy({.target_port = dovecot.pop3s_port(), .delay = 50ms});
  auto account = dovecot_account(dovecot, net::Security::implicit_tls);
  account.port = proxy.port();
  account.idle_grace = 60s;
  Pop3MaildropOptions options;
  options.limits = net::ConnectionLimits{4, 4096};
  Pop3Maildrop maildrop(account, options);
  auto listing = list_now(maildrop);
  ASSERT_TRUE(listing && *listing) << listing->error().describe();

  std::atomic<std::size_t> answered{0};
  std::atomic<std::size_t> cancelled{0};
  std::atomic<std::size_t> other{0};
  Eventually<bool> first_answer;
  for (int round = 0; round < 4; ++round) {
    for (std::size_t row = 0; row < (**listing)->size(); ++row) {
      maildrop.top((**listing)->id(row), 0, [&](Result<std::string> r) {
        if (r) {
          ++answered;
          first_answer.set(true);
        } else if (r.error().code == Errc::cancelled) {
          ++cancelled;
        } else {
          ++other;
        }
      });
    }
  }
  ASSERT_TRUE(first_answer.get(30s).has_value());
  maildrop.shutdown();
  EXPECT_GT(cancelled.load(), 0u) << "shutdown came in the middle of the batch";
  EXPECT_EQ(other.load(), 0u);
  EXPECT_EQ(answered.load() + cancelled.load(), 40u);

  ASSERT_TRUE(dovecot.wait_for_sessions(1));
  const auto sessions = dovecot.sessions();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_TRUE(sessions[0].quit) << "QUIT, not a dropped connection:\n" << dovecot.log();
  EXPECT_EQ(sessions[0].top, answered.load())
      << "every TOP the server received was answered and read before QUIT";
}

}  // namespace
}  // namespace popfs::mailbox
