// The maildrop's scheduling as a state machine, with fake time: sessions, idle grace,
// fresh snapshots, retries, pipelining fallback, LOGIN-DELAY, login backoff, shutdown.

#include "popfs/mailbox/session_scheduler.hpp"

#include <gtest/gtest.h>

namespace popfs::mailbox {
namespace {

using namespace std::chrono_literals;

template <class A>
std::vector<A> all_of(const Actions& actions) {
  std::vector<A> out;
  for (const auto& a : actions) {
    if (const auto* x = std::get_if<A>(&a)) out.push_back(*x);
  }
  return out;
}
template <class A>
std::optional<A> one_of(const Actions& actions) {
  auto found = all_of<A>(actions);
  if (found.size() != 1) return std::nullopt;
  return found.front();
}

std::shared_ptr<MessageTable> table_of(std::initializer_list<const char*> uidls) {
  auto table = std::make_shared<MessageTable>();
  std::uint32_t n = 0;
  for (const char* u : uidls) table->append(u, ++n, 100);
  return table;
}

Request top_of(const char* uidl) {
  Request r;
  r.kind = RequestKind::top;
  r.id = MessageId{uidl, 1};
  return r;
}
Request retr_of(const char* uidl) {
  Request r;
  r.kind = RequestKind::retr;
  r.id = MessageId{uidl, 1};
  return r;
}
Request list_request() { return Request{}; }

class SchedulerTest : public ::testing::Test {
 protected:
  SchedulerTest() : scheduler(options()) {}
  static SchedulerOptions options() {
    SchedulerOptions o;
    o.account_name = "me@host:995";
    o.idle_grace = 3s;
    o.connect_timeout = 15s;
    o.auth_backoff_initial = 60s;
    o.auth_backoff_max = 300s;
    return o;
  }
  // Opens the session the scheduler asked for and answers its UIDL.
  Actions log_in(SessionId session, std::shared_ptr<MessageTable> table = table_of({"a", "b", "c"})) {
    auto out = scheduler.opened(session, Opened{}, now);
    EXPECT_TRUE(one_of<action::SendUidl>(out)) << "UIDL first";
    auto more = scheduler.uidl_answered(session, std::move(table), now);
    out.insert(out.end(), more.begin(), more.end());
    return out;
  }
  Clock::time_point now{std::chrono::hours(1)};
  SessionScheduler scheduler;
  RequestId next = 1;
};

TEST_F(SchedulerTest, WorkStartsASessionServedAfterUidlThenQuitsAfterTheIdleGrace) {
  auto out = scheduler.submit(next++, top_of("b"), now);
  auto open = one_of<action::OpenSession>(out);
  ASSERT_TRUE(open);
  EXPECT_TRUE(open->pipelining);
  EXPECT_FALSE(one_of<action::Send>(out)) << "nothing before the login";
  out = log_in(open->session);
  auto send = one_of<action::Send>(out);
  ASSERT_TRUE(send);
  EXPECT_EQ(send->kind, RequestKind::top);
  EXPECT_EQ(send->number, 2u) << "the number from this session's UIDL";
  out = scheduler.answered(open->session, send->request, Answered{}, now);
  ASSERT_TRUE(one_of<action::Complete>(out));
  auto idle = one_of<action::ArmTimer>(out);
  ASSERT_TRUE(idle);
  EXPECT_EQ(idle->timer, Timer::idle);
  EXPECT_EQ(idle->at, now + 3s);
  now += 3s;
  out = scheduler.timer_fired(Timer::idle, now);
  EXPECT_TRUE(one_of<action::Quit>(out));
  out = scheduler.quit_done(open->session, now);
  EXPECT_FALSE(scheduler.session_open());
  EXPECT_EQ(scheduler.sessions_started(), 1u);
}

// The idle timer is cancelled when work comes to an idle session, and only then: a pipeline
// of 100,000 TOPs is not 100,000 timer cancellations.
TEST_F(SchedulerTest, WorkForAnIdleSessionCancelsItsIdleTimerWorkForABusyOneDoesNot) {
  auto open = one_of<action::OpenSession>(scheduler.submit(next++, top_of("a"), now));
  ASSERT_TRUE(open);
  auto first = one_of<action::Send>(log_in(open->session));
  ASSERT_TRUE(first);
  auto out = scheduler.answered(open->session, first->request, Answered{}, now);
  ASSERT_TRUE(one_of<action::ArmTimer>(out)) << "idle now";
  out = scheduler.submit(next++, top_of("b"), now);
  ASSERT_TRUE(one_of<action::Send>(out));
  auto cancel = one_of<action::CancelTimer>(out);
  ASSERT_TRUE(cancel) << "the idle session is busy again";
  EXPECT_EQ(cancel->timer, Timer::idle);
  out = scheduler.submit(next++, top_of("c"), now);
  ASSERT_TRUE(one_of<action::Send>(out));
  EXPECT_TRUE(all_of<action::CancelTimer>(out).empty()) << "no timer is armed while the session works";
  // A timer that fires anyway (cancelled too late) while the session works ends nothing.
  out = scheduler.timer_fired(Timer::idle, now + 3s);
  EXPECT_TRUE(all_of<action::Quit>(out).empty());
  EXPECT_TRUE(scheduler.session_open());
}

TEST_F(SchedulerTest, AListingUsesASessionThatBeganAfterItAndItsListIsPipelinedBehindUidl) {
  auto open = one_of<action::OpenSession>(scheduler.submit(next++, top_of("a"), now));
  ASSERT_TRUE(open);
  auto out = log_in(open->session);
  auto top = one_of<action::Send>(out);
  ASSERT_TRUE(top);
  // A listing asked for while this session is open must not use its old snapshot.
  // Its QUIT is queued at once, behind the TOP in flight.
  out = scheduler.submit(next++, list_request(), now);
  EXPECT_FALSE(one_of<action::Send>(out));
  ASSERT_TRUE(one_of<action::Quit>(out)) << "the old session ends";
  out = scheduler.answered(open->session, top->request, Answered{}, now);
  EXPECT_TRUE(one_of<action::Complete>(out));
  EXPECT_FALSE(one_of<action::OpenSession>(out)) << "not before the old one has quit";
  out = scheduler.quit_done(open->session, now);
  auto fresh = one_of<action::OpenSession>(out);
  ASSERT_TRUE(fresh);
  out = scheduler.opened(fresh->session, Opened{}, now);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<action::SendUidl>(out[0]));
  auto list = std::get_if<action::Send>(&out[1]);
  ASSERT_NE(list, nullptr);
  EXPECT_EQ(list->kind, RequestKind::list);
}

TEST_F(SchedulerTest, CompletionsComeInRequestOrder) {
  auto open = one_of<action::OpenSession>(scheduler.submit(next++, top_of("a"), now));
  scheduler.submit(next++, top_of("b"), now);
  auto sends = all_of<action::Send>(log_in(open->session));
  ASSERT_EQ(sends.size(), 2u);
  auto out = scheduler.answered(open->session, sends[1].request, Answered{}, now);
  EXPECT_TRUE(all_of<action::Complete>(out).empty()) << "the second waits for the first";
  out = scheduler.answered(open->session, sends[0].request, Answered{}, now);
  auto done = all_of<action::Complete>(out);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0].request, sends[0].request);
  EXPECT_EQ(done[1].request, sends[1].request);
}

TEST_F(SchedulerTest, AQuestionLostWithTheConnectionIsAskedOnceMoreARetrNever) {
  auto open = one_of<action::OpenSession>(scheduler.submit(next++, top_of("a"), now));
  scheduler.submit(next++, retr_of("b"), now);
  auto sends = all_of<action::Send>(log_in(open->session));
  ASSERT_EQ(sends.size(), 2u);
  const Answered cut{Error(Errc::connection, "cut"), false};
  auto out = scheduler.answered(open->session, sends[0].request, cut, now);
  auto reopen = one_of<action::OpenSession>(out);
  ASSERT_TRUE(reopen) << "the TOP goes again on a new session";
  EXPECT_TRUE(all_of<action::Complete>(out).empty());
  out = scheduler.answered(open->session, sends[1].request, cut, now);
  EXPECT_TRUE(all_of<action::Complete>(out).empty()) << "delivered after the TOP, in order";
  auto resent = all_of<action::Send>(log_in(reopen->session));
  ASSERT_EQ(resent.size(), 1u);
  EXPECT_EQ(resent[0].kind, RequestKind::top);
  out = scheduler.answered(reopen->session, resent[0].request, cut, now);
  auto done = all_of<action::Complete>(out);
  ASSERT_EQ(done.size(), 2u) << "a second cut fails the TOP; the RETR failed at the first";
  EXPECT_EQ(done[0].error->code, Errc::connection);
  EXPECT_EQ(done[1].error->code, Errc::connection);
}

TEST_F(SchedulerTest, GarbageInABatchTurnsPipeliningOffForLaterSessions) {
  auto open = one_of<action::OpenSession>(scheduler.submit(next++, retr_of("a"), now));
  auto send = one_of<action::Send>(log_in(open->session));
  ASSERT_TRUE(send);
  scheduler.answered(open->session, send->request, Answered{Error(Errc::protocol_violation, "junk"), true}, now);
  EXPECT_TRUE(scheduler.pipelining_disabled());
  auto reopen = one_of<action::OpenSession>(scheduler.submit(next++, retr_of("a"), now));
  ASSERT_TRUE(reopen);
  EXPECT_FALSE(reopen->pipelining);
}

TEST_F(SchedulerTest, ShortLoginDelayIsWaitedOutALongOneFails) {
  auto open = one_of<action::OpenSession>(scheduler.submit(next++, top_of("a"), now));
  Opened ok;
  ok.login_delay_seconds = 10;
  scheduler.opened(open->session, ok, now);
  auto sent = one_of<action::Send>(scheduler.uidl_answered(open->session, table_of({"a"}), now));
  ASSERT_TRUE(sent);
  scheduler.answered(open->session, sent->request, Answered{}, now);
  now += 3s;
  scheduler.timer_fired(Timer::idle, now);
  scheduler.quit_done(open->session, now);
  // 7 s left of the 10: shorter than connect_timeout, so the request waits.
  auto out = scheduler.submit(next++, top_of("a"), now);
  EXPECT_FALSE(one_of<action::OpenSession>(out));
  auto wait = one_of<action::ArmTimer>(out);
  ASSERT_TRUE(wait);
  EXPECT_EQ(wait->timer, Timer::login_delay);
  EXPECT_EQ(wait->at, now + 7s);
  now += 7s;
  EXPECT_TRUE(one_of<action::OpenSession>(scheduler.timer_fired(Timer::login_delay, now)));

  SessionScheduler other(options());
  auto first = one_of<action::OpenSession>(other.submit(1, top_of("a"), now));
  Opened refused;
  refused.error = Error(Errc::login_delay, "[LOGIN-DELAY] wait");
  refused.login_delay_seconds = 600;
  other.opened(first->session, refused, now);
  auto done = one_of<action::Complete>(other.submit(2, top_of("a"), now + 1s));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->error->code, Errc::login_delay);
  EXPECT_NE(done->error->message.find("try again in 600 s"), std::string::npos) << done->error->message;
}

TEST_F(SchedulerTest, RefusedCredentialsHoldLoginsBackDoublingAndRefreshNowTriesOnce) {
  Opened refused;
  refused.error = Error(Errc::auth_failed, "wrong password");
  refused.credentials_refused = true;
  auto open = one_of<action::OpenSession>(scheduler.submit(next++, list_request(), now));
  scheduler.opened(open->session, refused, now);
  now += 59s;
  auto held = scheduler.submit(next++, list_request(), now);
  EXPECT_FALSE(one_of<action::OpenSession>(held));
  auto failed = one_of<action::Complete>(held);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->error->code, Errc::auth_failed);
  EXPECT_NE(failed->error->message.find("again in 1 s"), std::string::npos) << failed->error->message;
  EXPECT_NE(failed->error->message.find("--now"), std::string::npos) << failed->error->message;
  // refresh --now: one attempt during the backoff; refused again, the backoff doubles.
  Request now_please = list_request();
  now_please.try_login_now = true;
  auto attempt = one_of<action::OpenSession>(scheduler.submit(next++, now_please, now));
  ASSERT_TRUE(attempt);
  scheduler.opened(attempt->session, refused, now);
  now += 119s;
  EXPECT_FALSE(one_of<action::OpenSession>(scheduler.submit(next++, list_request(), now)));
  now += 1s;
  auto later = one_of<action::OpenSession>(scheduler.submit(next++, list_request(), now));
  ASSERT_TRUE(later) << "after 120 s";
  log_in(later->session);  // success resets the backoff
  EXPECT_TRUE(scheduler.session_open());
}

TEST_F(SchedulerTest, CommitDeletesByTheFreshSnapshotsNumbersAndEndsTheSession) {
  Request commit;
  commit.kind = RequestKind::commit;
  commit.ids = {MessageId{"c", 1}, MessageId{"gone", 1}, MessageId{"c", 1}};
  auto open = one_of<action::OpenSession>(scheduler.submit(next++, commit, now));
  auto send = one_of<action::Send>(log_in(open->session, table_of({"x", "c"})));
  ASSERT_TRUE(send);
  ASSERT_EQ(send->deletions.size(), 1u);
  EXPECT_EQ(send->deletions[0].second, 2u);
  EXPECT_EQ(send->absent, (std::vector<MessageId>{MessageId{"gone", 1}}));
  auto out = scheduler.answered(open->session, send->request, Answered{}, now);
  EXPECT_TRUE(one_of<action::Complete>(out));
  EXPECT_FALSE(scheduler.session_open()) << "its QUIT ended the session";
}

TEST_F(SchedulerTest, TopRefusedForAListedMessageMeansNoWorkingTop) {
  auto open = one_of<action::OpenSession>(scheduler.submit(next++, top_of("a"), now));
  auto send = one_of<action::Send>(log_in(open->session));
  auto out = scheduler.answered(open->session, send->request, Answered{Error(Errc::message_gone, "no"), false}, now);
  auto done = one_of<action::Complete>(out);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->error->code, Errc::unsupported);
  EXPECT_TRUE(scheduler.top_unsupported());
  done = one_of<action::Complete>(scheduler.submit(next++, top_of("b"), now));
  ASSERT_TRUE(done) << "no TOP is sent again";
  EXPECT_EQ(done->error->code, Errc::unsupported);
}

TEST_F(SchedulerTest, ShutdownFailsQueuedWorkAndClosesTheSessionPolitely) {
  auto open = one_of<action::OpenSession>(scheduler.submit(next++, top_of("a"), now));
  auto send = one_of<action::Send>(log_in(open->session));
  ASSERT_TRUE(send);
  scheduler.submit(next++, list_request(), now);  // needs a new session: queued
  auto out = scheduler.shutdown(now);
  EXPECT_TRUE(one_of<action::ClosePolitely>(out));
  EXPECT_TRUE(all_of<action::Complete>(out).empty()) << "the queued one completes after the one in flight";
  EXPECT_FALSE(scheduler.shut_down());
  out = scheduler.answered(open->session, send->request, Answered{}, now);
  auto done = all_of<action::Complete>(out);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_FALSE(done[0].error);
  EXPECT_EQ(done[1].error->code, Errc::cancelled);
  out = scheduler.closed(open->session, now);
  EXPECT_TRUE(one_of<action::ShutdownFinished>(out));
  auto late = one_of<action::Complete>(scheduler.submit(next++, top_of("a"), now));
  ASSERT_TRUE(late);
  EXPECT_EQ(late->error->code, Errc::cancelled);
}

}  // namespace
}  // namespace popfs::mailbox
