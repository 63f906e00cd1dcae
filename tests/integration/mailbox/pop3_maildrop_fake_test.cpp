// Pop3Maildrop against the scriptable fake server: duplicates and reordered snapshots in
// commit_deletions, refusals, LOGIN-DELAY, cut connections, stalls, a missing TOP/UIDL.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "maildrop_test_util.hpp"
#include "popfs_test/manual_executor.hpp"
#include "popfs/mailbox/pop3_maildrop.hpp"
#include "popfs_test/fake_pop3_server.hpp"
#include "popfs_test/process.hpp"

namespace popfs::mailbox {
namespace {

using namespace std::chrono_literals;
using namespace popfs::mailbox::testing;
using popfs::test::FakeAuthResult;
using popfs::test::FakeMessage;
using popfs::test::FakePop3Options;
using popfs::test::FakePop3Server;
using popfs::test::FakeTls;

net::Account fake_account(const FakePop3Server& server) {
  net::Account account;
  account.host = server.host();
  account.port = server.port();
  account.security = net::Security::implicit_tls;
  account.user = "user";
  account.password = []() -> Result<std::string> { return std::string("password"); };
  account.ca_file = server.ca_file();
  account.connect_timeout = 5s;
  account.response_timeout = 5s;
  account.idle_grace = 200ms;
  return account;
}

FakePop3Options tls_options(std::vector<FakeMessage> mailbox) {
  FakePop3Options options;
  options.tls = FakeTls::implicit;
  options.mailbox = std::move(mailbox);
  return options;
}

std::vector<std::string> contents(const std::vector<FakeMessage>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) out.push_back(m.content);
  return out;
}

std::size_t count_commands(const FakePop3Server& server, const std::string& prefix) {
  std::size_t count = 0;
  for (const auto& session : server.commands())
    for (const auto& line : session) count += line.rfind(prefix, 0) == 0 ? 1u : 0u;
  return count;
}

const FakeMessage a1{"dup", "Subject: a1\n\nfirst dup\n", {}};
const FakeMessage b{"b/../x", "Subject: b\n\nb\n", {}};
const FakeMessage a2{"dup", "Subject: a2\n\nsecond dup\n", {}};
const FakeMessage c{"c", "Subject: c\n\nc\n", {}};

// Sessions that start after this behave (knobs are read when a session starts).
void stop_dropping(FakePop3Server& server) {
  server.update([](FakePop3Options& o) {
    o.drop_on_command.clear();
    o.drop_after_bytes.reset();
  });
}

TEST(Pop3MaildropFake, DuplicateUidlsGetOccurrencesInServerOrder) {
  FakePop3Server server(tls_options({a1, b, a2, c}));
  Pop3Maildrop maildrop(fake_account(server));
  auto listing = list_now(maildrop);
  ASSERT_TRUE(listing && *listing) << listing->error().describe();
  const MessageTable& m = ***listing;
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m.id(0), (MessageId{"dup", 1}));
  EXPECT_EQ(m.id(1), (MessageId{"b/../x", 1}));
  EXPECT_EQ(m.id(2), (MessageId{"dup", 2}));
  EXPECT_EQ(m.id(3), (MessageId{"c", 1}));
  auto second = retr_now(maildrop, MessageId{"dup", 2});
  ASSERT_TRUE(second && *second);
  EXPECT_EQ(**second, "Subject: a2\r\n\r\nsecond dup\r\n");
}

TEST(Pop3MaildropFake, CommitDeletesExactlyTheNamedMessagesInAReorderedSnapshot) {
  FakePop3Server server(tls_options({a1, b, a2, c}));
  Pop3Maildrop maildrop(fake_account(server));
  auto listing = list_now(maildrop);
  ASSERT_TRUE(listing && *listing);
  // Another client reorders the maildrop (and message numbers) before the commit.
  server.set_mailbox({c, a1, a2, b});
  auto committed = commit_now(maildrop, {MessageId{"dup", 2}, MessageId{"c", 1}});
  ASSERT_TRUE(committed && *committed) << committed->error().describe();
  EXPECT_EQ(std::set<MessageId>((*committed)->begin(), (*committed)->end()),
            (std::set<MessageId>{{"dup", 2}, {"c", 1}}));
  EXPECT_EQ(contents(server.mailbox()), contents({a1, b}))
      << "the second 'dup' in the new order and 'c' are gone, nothing else";
  // DELE went out by the fresh session's numbers: "c" is now 1, the second "dup" is 3.
  const auto sessions = server.commands();
  const auto& last = sessions.back();
  EXPECT_NE(std::find(last.begin(), last.end(), "DELE 1"), last.end());
  EXPECT_NE(std::find(last.begin(), last.end(), "DELE 3"), last.end());
  EXPECT_EQ(last.back(), "QUIT");
}

TEST(Pop3MaildropFake, CommitOfAbsentMessagesReportsThemGoneAndDeletesNothing) {
  FakePop3Server server(tls_options({a1, b}));
  Pop3Maildrop maildrop(fake_account(server));
  auto committed = commit_now(maildrop, {MessageId{"dup", 2}, MessageId{"zzz", 1}});
  ASSERT_TRUE(committed && *committed) << committed->error().describe();
  EXPECT_EQ((*committed)->size(), 2u);
  EXPECT_EQ(server.mailbox().size(), 2u);
  EXPECT_EQ(count_commands(server, "DELE"), 0u);
}

TEST(Pop3MaildropFake, ConnectionLostDuringDeleIsAnErrorAndNothingIsDeleted) {
  auto options = tls_options({a1, b, c});
  options.drop_on_command = "DELE";
  options.drop_after_bytes = 0;
  FakePop3Server server(options);
  Pop3Maildrop maildrop(fake_account(server));
  auto committed = commit_now(maildrop, {MessageId{"c", 1}, MessageId{"dup", 1}});
  ASSERT_TRUE(committed.has_value());
  ASSERT_FALSE(*committed) << "a commit without QUIT's +OK must not be reported done";
  EXPECT_EQ(server.mailbox().size(), 3u);
  EXPECT_TRUE(server.deleted_uidls().empty());
  EXPECT_EQ(server.session_count(), 1u) << "DELE is never replayed on another session";
}

TEST(Pop3MaildropFake, LostQuitAnswerIsReportedAsAnError) {
  // The server may or may not have committed; without +OK the client cannot know, so it
  // must not claim success (the caller retries by UIDL, which is idempotent).
  auto options = tls_options({a1, b, c});
  options.drop_on_command = "QUIT";
  options.drop_after_bytes = 0;
  FakePop3Server server(options);
  Pop3Maildrop maildrop(fake_account(server));
  auto committed = commit_now(maildrop, {MessageId{"c", 1}});
  ASSERT_TRUE(committed.has_value());
  ASSERT_FALSE(*committed);
  EXPECT_EQ(count_commands(server, "DELE"), 1u);
  // Retrying is safe: by UIDL in a fresh snapshot, "c" is gone or deleted again.
  stop_dropping(server);
  auto again = commit_now(maildrop, {MessageId{"c", 1}});
  ASSERT_TRUE(again && *again) << again->error().describe();
  EXPECT_EQ(contents(server.mailbox()), contents({a1, b}));
}

TEST(Pop3MaildropFake, InUseIsReportedToEveryWaitingRequest) {
  auto options = tls_options({a1});
  options.auth_result = FakeAuthResult::in_use;
  FakePop3Server server(options);
  Pop3Maildrop maildrop(fake_account(server));
  auto listing = list_now(maildrop);
  ASSERT_TRUE(listing.has_value());
  ASSERT_FALSE(*listing);
  EXPECT_EQ(listing->error().code, Errc::in_use) << listing->error().describe();
}

TEST(Pop3MaildropFake, LoginDelayAnswerIsReportedAndNotRetriedAtOnce) {
  auto options = tls_options({a1});
  options.auth_result = FakeAuthResult::login_delay;
  FakePop3Server server(options);
  Pop3Maildrop maildrop(fake_account(server));
  auto first = list_now(maildrop);
  ASSERT_TRUE(first.has_value());
  ASSERT_FALSE(*first);
  EXPECT_EQ(first->error().code, Errc::login_delay) << first->error().describe();
  ASSERT_EQ(server.session_count(), 1u);
  // The server asked us to wait: the next request fails without a new login attempt.
  auto second = list_now(maildrop);
  ASSERT_TRUE(second.has_value());
  ASSERT_FALSE(*second);
  EXPECT_EQ(second->error().code, Errc::login_delay);
  EXPECT_EQ(server.session_count(), 1u);
}

TEST(Pop3MaildropFake, AdvertisedLoginDelayIsHonouredBetweenSessions) {
  auto options = tls_options({a1});
  options.capabilities.push_back("LOGIN-DELAY 900");
  FakePop3Server server(options);
  Pop3Maildrop maildrop(fake_account(server));
  auto first = list_now(maildrop);
  ASSERT_TRUE(first && *first);
  // list() needs a new session, which the server only allows 900 s after the last login.
  auto second = list_now(maildrop);
  ASSERT_TRUE(second.has_value());
  ASSERT_FALSE(*second);
  EXPECT_EQ(second->error().code, Errc::login_delay) << second->error().describe();
  EXPECT_EQ(server.session_count(), 1u);
}

TEST(Pop3MaildropFake, ShortLoginDelayIsWaitedFor) {
  auto options = tls_options({a1});
  options.capabilities.push_back("LOGIN-DELAY 1");
  FakePop3Server server(options);
  Pop3Maildrop maildrop(fake_account(server));
  auto first = list_now(maildrop);
  ASSERT_TRUE(first && *first);
  const auto started = std::chrono::steady_clock::now();
  auto second = list_now(maildrop);
  ASSERT_TRUE(second && *second) << second->error().describe();
  EXPECT_GE(std::chrono::steady_clock::now() - started, 900ms);
  EXPECT_EQ(server.session_count(), 2u);
}

TEST(Pop3MaildropFake, DropMidRetrIsAnErrorNeverAShortMessage) {
  const std::string big(300000, 'y');
  auto options = tls_options({{"big", "Subject: big\n\n" + big + "\n", {}}});
  options.drop_on_command = "RETR";
  options.drop_after_bytes = 70000;
  FakePop3Server server(options);
  Pop3Maildrop maildrop(fake_account(server));
  auto retr = retr_now(maildrop, MessageId{"big", 1});
  ASSERT_TRUE(retr.has_value());
  ASSERT_FALSE(*retr) << "a cut RETR must fail";
  EXPECT_EQ(retr->error().code, Errc::connection) << retr->error().describe();
  EXPECT_EQ(count_commands(server, "RETR"), 1u) << "bytes were delivered: no silent retry";
}

TEST(Pop3MaildropFake, StallTimesOutWithinTheDeadline) {
  auto options = tls_options({a1});
  options.stall_before = "TOP";
  FakePop3Server server(options);
  auto account = fake_account(server);
  account.response_timeout = 500ms;
  Pop3Maildrop maildrop(account);
  const auto started = std::chrono::steady_clock::now();
  auto top = top_now(maildrop, MessageId{"dup", 1}, 0);
  ASSERT_TRUE(top.has_value());
  ASSERT_FALSE(*top);
  EXPECT_EQ(top->error().code, Errc::timeout) << top->error().describe();
  // One retry on a new session is allowed for a safe command: at most two deadlines.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

TEST(Pop3MaildropFake, SafeRequestIsRetriedOnceWhenTheSessionDropsBeforeAnswering) {
  // Session 1 hangs up on TOP before answering (as a server does after its idle timeout);
  // sessions after it behave (knobs are read when a session starts).
  auto options = tls_options({a1, c});
  options.drop_on_command = "TOP";
  options.drop_after_bytes = 0;
  FakePop3Server server(options);
  auto account = fake_account(server);
  account.idle_grace = 60s;
  Pop3Maildrop maildrop(account);
  auto listing = list_now(maildrop);
  ASSERT_TRUE(listing && *listing);
  stop_dropping(server);
  auto header = top_now(maildrop, MessageId{"c", 1}, 0);
  ASSERT_TRUE(header && *header) << header->error().describe();
  EXPECT_EQ(**header, "Subject: c\r\n\r\n");
  EXPECT_EQ(server.session_count(), 2u);
  EXPECT_EQ(count_commands(server, "TOP"), 2u);
}

// Several TOPs handed over at once: each answer reaches its own index, in order; one the
// server does not hold is message_gone, the others are unaffected.
TEST(Pop3MaildropFake, TopManyAnswersEachIdInOrder) {
  FakePop3Server server(tls_options({a1, b, c}));
  Pop3Maildrop maildrop(fake_account(server));
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<std::size_t, Result<std::string>>> answers;
  maildrop.top_many({MessageId{"c", 1}, MessageId{"absent", 1}, MessageId{"dup", 1}}, 0,
                    [&](std::size_t i, Result<std::string> text) {
                      std::lock_guard lock(mu);
                      answers.emplace_back(i, std::move(text));
                      cv.notify_all();
                    });
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return answers.size() == 3; }));
  ASSERT_EQ(answers[0].first, 0u);
  ASSERT_EQ(answers[1].first, 1u);
  ASSERT_EQ(answers[2].first, 2u);
  ASSERT_TRUE(answers[0].second.ok());
  EXPECT_EQ(*answers[0].second, "Subject: c\r\n\r\n");
  ASSERT_FALSE(answers[1].second.ok());
  EXPECT_EQ(answers[1].second.error().code, Errc::message_gone);
  ASSERT_TRUE(answers[2].second.ok());
  EXPECT_EQ(*answers[2].second, "Subject: a1\r\n\r\n");
  EXPECT_EQ(count_commands(server, "TOP"), 2u) << "the absent one is never asked for";
}

// The filesystem is the one layer that decides whether a download is asked for again.
TEST(Pop3MaildropFake, RetrLostWithTheConnectionIsNotSentAgain) {
  auto options = tls_options({a1, c});
  options.drop_on_command = "RETR";
  options.drop_after_bytes = 0;
  FakePop3Server server(options);
  auto account = fake_account(server);
  account.idle_grace = 60s;
  Pop3Maildrop maildrop(account);
  auto listing = list_now(maildrop);
  ASSERT_TRUE(listing && *listing);
  stop_dropping(server);
  auto body = retr_now(maildrop, MessageId{"c", 1});
  ASSERT_TRUE(body.has_value());
  ASSERT_FALSE(*body);
  EXPECT_EQ(body->error().code, Errc::connection) << body->error().describe();
  EXPECT_EQ(count_commands(server, "RETR"), 1u);
  // The next request works on a new session.
  auto again = retr_now(maildrop, MessageId{"c", 1});
  ASSERT_TRUE(again && *again) << again->error().describe();
  EXPECT_EQ(**again, "Subject: c\r\n\r\nc\r\n");
}

TEST(Pop3MaildropFake, MissingTopIsRememberedAsUnsupported) {
  auto options = tls_options({a1, c});
  options.disabled_commands = {"TOP"};  // still advertised in CAPA, but refused
  FakePop3Server server(options);
  Pop3Maildrop maildrop(fake_account(server));
  auto first = top_now(maildrop, MessageId{"c", 1}, 0);
  ASSERT_TRUE(first.has_value());
  ASSERT_FALSE(*first);
  EXPECT_EQ(first->error().code, Errc::unsupported) << first->error().describe();
  auto second = top_now(maildrop, MessageId{"dup", 1}, 0);
  ASSERT_TRUE(second.has_value());
  ASSERT_FALSE(*second);
  EXPECT_EQ(second->error().code, Errc::unsupported);
  EXPECT_EQ(count_commands(server, "TOP"), 1u) << "the second top() did not ask again";
  EXPECT_TRUE(maildrop.stats().top_unsupported);
}

TEST(Pop3MaildropFake, TopAbsentFromCapaIsUnsupportedWithoutAsking) {
  auto options = tls_options({a1});
  options.capabilities = {"UIDL", "USER", "SASL PLAIN"};
  FakePop3Server server(options);
  Pop3Maildrop maildrop(fake_account(server));
  auto top = top_now(maildrop, MessageId{"dup", 1}, 0);
  ASSERT_TRUE(top.has_value());
  ASSERT_FALSE(*top);
  EXPECT_EQ(top->error().code, Errc::unsupported);
  EXPECT_EQ(count_commands(server, "TOP"), 0u);
}

TEST(Pop3MaildropFake, MissingUidlIsUnsupported) {
  auto options = tls_options({a1});
  options.disabled_commands = {"UIDL"};
  FakePop3Server server(options);
  Pop3Maildrop maildrop(fake_account(server));
  auto listing = list_now(maildrop);
  ASSERT_TRUE(listing.has_value());
  ASSERT_FALSE(*listing);
  EXPECT_EQ(listing->error().code, Errc::unsupported) << listing->error().describe();
}

TEST(Pop3MaildropFake, UidlIsSentBeforeList) {
  FakePop3Server server(tls_options({a1, c}));
  Pop3Maildrop maildrop(fake_account(server));
  auto listing = list_now(maildrop);
  ASSERT_TRUE(listing && *listing);
  const auto commands = server.commands(0);
  auto uidl = std::find(commands.begin(), commands.end(), "UIDL");
  auto list = std::find(commands.begin(), commands.end(), "LIST");
  ASSERT_NE(uidl, commands.end());
  ASSERT_NE(list, commands.end());
  EXPECT_LT(uidl, list);
  // With PIPELINING a STAT goes first in the same write: its count sizes the table.
  auto stat = std::find(commands.begin(), commands.end(), "STAT");
  ASSERT_NE(stat, commands.end());
  EXPECT_LT(stat, uidl);
}

// A server whose STAT fails (or that has none) still lists: the count was only a hint.
TEST(Pop3MaildropFake, AFailingStatOnlyCostsTheHint) {
  auto options = tls_options({a1, c});
  options.disabled_commands = {"STAT"};
  FakePop3Server server(options);
  Pop3Maildrop maildrop(fake_account(server));
  auto listing = list_now(maildrop);
  ASSERT_TRUE(listing && *listing) << (listing && !*listing ? listing->error().describe() : "");
  EXPECT_EQ((**listing)->size(), 2u);
}

TEST(Pop3MaildropFake, GarbageInAnswerToABatchTurnsPipeliningOff) {
  auto options = tls_options({a1, b, c});
  options.raw_responses = {{"RETR 2", "this is not POP3\r\n"}};
  FakePop3Server server(options);
  Pop3Maildrop maildrop(fake_account(server));
  auto listing = list_now(maildrop);
  ASSERT_TRUE(listing && *listing);
  EXPECT_FALSE(maildrop.stats().pipelining_disabled);
  // RETR 1, 2, 3 go out together; the answer to RETR 2 is garbage.
  Eventually<Result<void>> first;
  Eventually<Result<void>> second;
  maildrop.retr(MessageId{"dup", 1}, [](std::string_view) {},
                [&](Result<void> r) { first.set(std::move(r)); });
  maildrop.retr(MessageId{"b/../x", 1}, [](std::string_view) {},
                [&](Result<void> r) { second.set(std::move(r)); });
  maildrop.retr(MessageId{"c", 1}, [](std::string_view) {}, [](Result<void>) {});
  auto r1 = first.get();
  auto r2 = second.get();
  ASSERT_TRUE(r1 && r2);
  EXPECT_TRUE(*r1);
  ASSERT_FALSE(*r2) << "garbage is never a message";
  EXPECT_EQ(r2->error().code, Errc::protocol_violation) << r2->error().describe();
  EXPECT_TRUE(maildrop.stats().pipelining_disabled);
}

// ---- Backoff after refused credentials ---------------------------------------------------

// Login attempts the server saw: SASL, USER/PASS and APOP each count once.
std::size_t login_attempts(const FakePop3Server& server) {
  return count_commands(server, "AUTH") + count_commands(server, "PASS") +
         count_commands(server, "APOP");
}

Pop3MaildropOptions backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max) {
  Pop3MaildropOptions options;
  options.auth_backoff_initial = initial;
  options.auth_backoff_max = max;
  return options;
}

// The maildrop's clock and timers are this executor's: the backoff passes when the test
// moves the clock, not by sleeping.
void wait_past(popfs::test::ManualExecutor& time, std::chrono::milliseconds duration) {
  time.advance(duration + 20ms);
}

Errc list_error(Maildrop& maildrop) {
  auto listing = list_now(maildrop);
  if (!listing) return Errc::timeout;
  if (*listing) return Errc::invalid_argument;  // stands for "it succeeded"
  return listing->error().code;
}

TEST(Pop3MaildropFake, WrongPasswordHoldsBackLoginsUntilTheBackoffElapses) {
  auto options = tls_options({a1});
  options.auth_result = FakeAuthResult::wrong_password;
  FakePop3Server server(options);
  popfs::test::ManualExecutor time;
  Pop3Maildrop maildrop(fake_account(server), backoff(500ms, 1h), &time);

  auto first = list_now(maildrop);
  ASSERT_TRUE(first && !*first);
  EXPECT_EQ(first->error().code, Errc::auth_failed) << first->error().describe();
  EXPECT_EQ(login_attempts(server), 1u);

  auto second = list_now(maildrop);
  ASSERT_TRUE(second && !*second);
  EXPECT_EQ(second->error().code, Errc::auth_failed) << "the same error, at once";
  EXPECT_NE(second->error().message.find(first->error().message), std::string::npos)
      << second->error().message;
  EXPECT_EQ(login_attempts(server), 1u) << "no second login attempt during the backoff";
  EXPECT_EQ(server.session_count(), 1u) << "the server was not even contacted";

  wait_past(time, 500ms);
  EXPECT_EQ(list_error(maildrop), Errc::auth_failed);
  EXPECT_EQ(login_attempts(server), 2u) << "one attempt once the backoff has passed";
  // Refused again: the next backoff (1 s) holds the next request back too.
  EXPECT_EQ(list_error(maildrop), Errc::auth_failed);
  EXPECT_EQ(login_attempts(server), 2u);
}

TEST(Pop3MaildropFake, BackoffDoublesUpToItsCap) {
  auto options = tls_options({a1});
  options.auth_result = FakeAuthResult::wrong_password;
  FakePop3Server server(options);
  popfs::test::ManualExecutor time;
  Pop3Maildrop maildrop(fake_account(server), backoff(300ms, 400ms), &time);
  EXPECT_EQ(list_error(maildrop), Errc::auth_failed);  // backoff 300 ms
  wait_past(time, 300ms);
  EXPECT_EQ(list_error(maildrop), Errc::auth_failed);  // 600 ms, capped to 400 ms
  EXPECT_EQ(login_attempts(server), 2u);
  EXPECT_EQ(list_error(maildrop), Errc::auth_failed);
  EXPECT_EQ(login_attempts(server), 2u) << "doubled after the second refusal";
  wait_past(time, 400ms);
  EXPECT_EQ(list_error(maildrop), Errc::auth_failed);
  EXPECT_EQ(login_attempts(server), 3u) << "the cap (400 ms), not 600 ms";
}

TEST(Pop3MaildropFake, SuccessfulLoginResetsTheBackoff) {
  auto options = tls_options({a1});
  options.auth_result = FakeAuthResult::wrong_password;
  FakePop3Server server(options);
  popfs::test::ManualExecutor time;
  Pop3Maildrop maildrop(fake_account(server), backoff(400ms, 1h), &time);
  EXPECT_EQ(list_error(maildrop), Errc::auth_failed);
  // The user fixes the password on the server side; after the backoff the login works.
  server.update([](FakePop3Options& o) { o.auth_result = FakeAuthResult::ok; });
  wait_past(time, 400ms);
  auto listing = list_now(maildrop);
  ASSERT_TRUE(listing && *listing) << listing->error().describe();
  EXPECT_EQ(login_attempts(server), 2u);

  // Refused again: the backoff starts over at 400 ms (not 800 ms).
  server.update([](FakePop3Options& o) { o.auth_result = FakeAuthResult::wrong_password; });
  EXPECT_EQ(list_error(maildrop), Errc::auth_failed);
  EXPECT_EQ(login_attempts(server), 3u);
  wait_past(time, 400ms);
  EXPECT_EQ(list_error(maildrop), Errc::auth_failed);
  EXPECT_EQ(login_attempts(server), 4u);
}

TEST(Pop3MaildropFake, BusyOrTemporaryRefusalsDoNotHoldBackLogins) {
  for (const auto result : {FakeAuthResult::in_use, FakeAuthResult::sys_temp}) {
    auto options = tls_options({a1});
    options.auth_result = result;
    FakePop3Server server(options);
    Pop3Maildrop maildrop(fake_account(server), backoff(1h, 1h));
    const Errc expected = result == FakeAuthResult::in_use ? Errc::in_use : Errc::temporary;
    EXPECT_EQ(list_error(maildrop), expected);
    EXPECT_EQ(list_error(maildrop), expected);
    EXPECT_EQ(login_attempts(server), 2u) << "each request tried to log in";
  }
}

// ---- Shutdown -------------------------------------------------------------------------------

Pop3MaildropOptions shutdown_bounds(std::chrono::milliseconds drain, std::chrono::milliseconds quit) {
  Pop3MaildropOptions options;
  options.shutdown_drain_timeout = drain;
  options.shutdown_quit_timeout = quit;
  return options;
}

TEST(Pop3MaildropFake, ShutdownWaitsForTheBatchInFlightThenQuits) {
  auto options = tls_options({a1, b, a2, c});
  options.delay_before = "TOP";  // the batch of TOPs is answered, but only after a while
  options.answer_delay = 700ms;
  FakePop3Server server(options);
  auto account = fake_account(server);
  account.idle_grace = 60s;
  Pop3Maildrop maildrop(account, shutdown_bounds(5s, 5s));
  auto listing = list_now(maildrop);
  ASSERT_TRUE(listing && *listing);
  std::vector<std::unique_ptr<Eventually<Result<std::string>>>> tops;
  for (std::size_t row = 0; row < (**listing)->size(); ++row) {
    tops.push_back(std::make_unique<Eventually<Result<std::string>>>());
    maildrop.top((**listing)->id(row), 0, [top = tops.back().get()](Result<std::string> r) {
      top->set(std::move(r));
    });
  }
  ASSERT_TRUE(server.wait_for_command("TOP"));
  ASSERT_FALSE(tops.front()->get(0ms).has_value()) << "the server still holds the answers";
  maildrop.shutdown();
  // The TOPs already written (at least the first; the others unless they were still queued)
  // are answered; any still queued is cancelled, never sent.
  std::size_t answered = 0;
  for (auto& top : tops) {
    auto result = top->get(0ms);
    ASSERT_TRUE(result.has_value()) << "every callback ran before shutdown() returned";
    if (*result) {
      ++answered;
    } else {
      EXPECT_EQ(result->error().code, Errc::cancelled) << result->error().describe();
    }
  }
  EXPECT_GE(answered, 1u);
  EXPECT_EQ(count_commands(server, "TOP"), answered) << "what the server got, it answered";
  const auto commands = server.commands(0);
  ASSERT_FALSE(commands.empty());
  EXPECT_EQ(commands.back(), "QUIT") << "no dropped connection";
  EXPECT_EQ(server.session_count(), 1u);
}

TEST(Pop3MaildropFake, ShutdownAgainstAServerThatNeverAnswersReturnsWithinTheBound) {
  auto options = tls_options({a1, c});
  options.stall_before = "TOP";
  FakePop3Server server(options);
  auto account = fake_account(server);
  account.idle_grace = 60s;
  Pop3Maildrop maildrop(account, shutdown_bounds(300ms, 300ms));
  auto listing = list_now(maildrop);
  ASSERT_TRUE(listing && *listing);
  Eventually<Result<std::string>> top;
  maildrop.top(MessageId{"c", 1}, 0, [&](Result<std::string> r) { top.set(std::move(r)); });
  ASSERT_TRUE(server.wait_for_command("TOP"));
  const auto started = std::chrono::steady_clock::now();
  maildrop.shutdown();
  const auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_GE(elapsed, 300ms) << "the answer in flight was waited for";
  EXPECT_LT(elapsed, 2s) << "bounded by the drain timeout, not response_timeout (5 s)";
  auto result = top.get(0ms);
  ASSERT_TRUE(result && !*result);
  EXPECT_EQ(result->error().code, Errc::cancelled) << result->error().describe();
}

// A commit under way at shutdown: its DELEs are deletions the filesystem asked for, so
// letting its QUIT commit them (within the bounds) is right, and it is reported as done.
TEST(Pop3MaildropFake, ShutdownDuringACommitLetsItsQuitCommit) {
  auto options = tls_options({a1, b, c});
  options.delay_before = "DELE";
  options.answer_delay = 500ms;
  FakePop3Server server(options);
  Pop3Maildrop maildrop(fake_account(server), shutdown_bounds(5s, 5s));
  Eventually<Result<std::vector<MessageId>>> committed;
  maildrop.commit_deletions({MessageId{"c", 1}},
                            [&](Result<std::vector<MessageId>> r) { committed.set(std::move(r)); });
  ASSERT_TRUE(server.wait_for_command("DELE"));
  maildrop.shutdown();
  auto result = committed.get(0ms);
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(*result) << result->error().describe();
  EXPECT_EQ(**result, (std::vector<MessageId>{MessageId{"c", 1}}));
  EXPECT_EQ(server.deleted_uidls(), std::vector<std::string>{"c"});
  EXPECT_EQ(count_commands(server, "QUIT"), 1u);
}

TEST(Pop3MaildropFake, CallbacksAreNeverInline) {
  FakePop3Server server(tls_options({a1}));
  Pop3Maildrop maildrop(fake_account(server));
  maildrop.shutdown();  // everything now fails at once with cancelled: still not inline
  const auto test_thread = std::this_thread::get_id();
  Eventually<bool> outer_on_test_thread;
  Eventually<bool> nested_ran_inside_outer;
  std::atomic<bool> inside_outer{false};
  maildrop.list([&](Result<Listing>) {
    inside_outer = true;
    // A call made from a callback (on the maildrop's thread) must not complete inline either.
    maildrop.list([&](Result<Listing>) { nested_ran_inside_outer.set(inside_outer.load()); });
    inside_outer = false;
    outer_on_test_thread.set(std::this_thread::get_id() == test_thread);
  });
  auto outer = outer_on_test_thread.get();
  auto nested = nested_ran_inside_outer.get();
  ASSERT_TRUE(outer && nested);
  EXPECT_FALSE(*outer);
  EXPECT_FALSE(*nested);
}

}  // namespace
}  // namespace popfs::mailbox
