// Cancellation in aio, Python 3.12's rules: cancel()/cancelling()/uncancel(), awaiting a task
// that is cancelled, shield, timeout() scopes (cpython #86296, #102780), wait_for, gather.
#include <concur/asyncio.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace aio = concur::asyncio;
using namespace std::chrono_literals;

namespace {

aio::Task<int> sleep_then(std::chrono::milliseconds d, int v) {
  co_await aio::sleep(d);
  co_return v;
}

// Catches the first cancellation, then finishes with a value after a short sleep.
aio::Task<int> stubborn(int* caught) {
  try {
    co_await aio::sleep(1h);
  } catch (const aio::CancelledError&) {
    ++*caught;
  }
  aio::current_task()->uncancel();
  co_await aio::sleep(1ms);
  co_return 5;
}

aio::Task<void> counts() {
  aio::Task<int> t = aio::create_task(sleep_then(1h, 0));
  co_await aio::sleep(0s);
  EXPECT_TRUE(t.cancel());
  EXPECT_TRUE(t.cancel());
  EXPECT_EQ(t.cancelling(), 2);
  EXPECT_EQ(t.uncancel(), 1);
  bool cancelled = false;
  try {
    (void)co_await t;
  } catch (const aio::CancelledError&) {
    cancelled = true;
  }
  EXPECT_TRUE(cancelled);
  EXPECT_TRUE(t.cancelled());
  EXPECT_THROW((void)t.exception(), aio::CancelledError);
}

}  // namespace

TEST(AioCancellation, CancellingCountsRequestsAndUncancelTakesThemBack) { aio::run(counts()); }

namespace {
aio::Task<void> a_caught_cancellation_lets_the_task_finish() {
  int caught = 0;
  aio::Task<int> t = aio::create_task(stubborn(&caught));
  co_await aio::sleep(0s);
  t.cancel();
  EXPECT_EQ(co_await t, 5);
  EXPECT_EQ(caught, 1);
  EXPECT_FALSE(t.cancelled());
}
}  // namespace

TEST(AioCancellation, ATaskThatCatchesItsCancellationFinishesNormally) {
  aio::run(a_caught_cancellation_lets_the_task_finish());
}

namespace {
aio::Task<int> awaits_inner(aio::Task<int>* inner) { co_return co_await *inner; }

aio::Task<void> cancelling_the_awaiter_cancels_the_awaited() {
  aio::Task<int> inner = aio::create_task(sleep_then(1h, 1));
  aio::Task<int> outer = aio::create_task(awaits_inner(&inner));
  co_await aio::sleep(0s);
  outer.cancel();
  std::vector<aio::Task<int>> both;
  both.push_back(outer.share());
  auto [done, pending] = co_await aio::wait(both, 10s);
  EXPECT_EQ(done.size(), 1u);
  EXPECT_TRUE(outer.cancelled());
  EXPECT_TRUE(inner.cancelled());  // as Python: the cancellation is forwarded
}

aio::Task<int> three_when_set(aio::Event* go) {
  co_await go->wait();
  co_return 3;
}
aio::Task<void> shield_keeps_the_inner_task(bool* inner_finished) {
  aio::Event go;
  aio::Task<int> inner = aio::create_task(three_when_set(&go));
  aio::Task<int> outer = aio::create_task(
      [](aio::Task<int>* in) -> aio::Task<int> { co_return co_await aio::shield(*in); }(&inner));
  co_await aio::sleep(0s);
  outer.cancel();
  bool cancelled = false;
  try {
    (void)co_await outer;
  } catch (const aio::CancelledError&) {
    cancelled = true;
  }
  EXPECT_TRUE(cancelled);
  EXPECT_FALSE(inner.done());
  go.set();
  EXPECT_EQ(co_await inner, 3);
  *inner_finished = true;
}
}  // namespace

TEST(AioCancellation, CancellingATaskThatAwaitsAnotherCancelsThatOneToo) {
  aio::run(cancelling_the_awaiter_cancels_the_awaited());
}

TEST(AioCancellation, ShieldProtectsTheInnerTask) {
  bool finished = false;
  aio::run(shield_keeps_the_inner_task(&finished));
  EXPECT_TRUE(finished);
}

namespace {
aio::Task<void> self_cancel_hits_the_next_suspension() {
  aio::current_task()->cancel();
  int reached = 0;
  try {
    ++reached;  // no suspension yet: runs
    co_await aio::sleep(0s);
    ++reached;
  } catch (const aio::CancelledError&) {
  }
  EXPECT_EQ(reached, 1);
  aio::current_task()->uncancel();
}
}  // namespace

TEST(AioCancellation, ACancelRequestedWhileRunningHitsTheNextSuspension) {
  aio::run(self_cancel_hits_the_next_suspension());
}

namespace {
aio::Task<void> nested_timeouts() {
  // The outer expires first: its TimeoutError crosses the inner block.
  bool outer_timed_out = false;
  try {
    auto outer = co_await aio::timeout(10ms);
    auto inner = co_await aio::timeout(1h);
    co_await aio::sleep(1h);
  } catch (const concur::TimeoutError&) {
    outer_timed_out = true;
  }
  EXPECT_TRUE(outer_timed_out);
  EXPECT_EQ(aio::current_task()->cancelling(), 0);
  // The inner expires first and is caught inside the outer block, which goes on.
  int after_inner = 0;
  {
    auto outer = co_await aio::timeout(1h);
    try {
      auto inner = co_await aio::timeout(5ms);
      co_await aio::sleep(1h);
    } catch (const concur::TimeoutError&) {
      after_inner = 1;
    }
    co_await aio::sleep(1ms);
    after_inner = 2;
    EXPECT_FALSE(outer.expired());
  }
  EXPECT_EQ(after_inner, 2);
}

aio::Task<void> expiry_without_a_suspension_is_withdrawn() {
  {
    auto guard = co_await aio::timeout(0s);  // expired, but nothing inside suspends
  }
  co_await aio::sleep(1ms);  // must not throw
  EXPECT_EQ(aio::current_task()->cancelling(), 0);
}

}  // namespace

TEST(AioTimeout, NestedScopes) { aio::run(nested_timeouts()); }

TEST(AioTimeout, AnExpiryWithNoSuspensionInsideIsWithdrawn) {
  aio::run(expiry_without_a_suspension_is_withdrawn());
}

namespace {
aio::Task<void> victim_until(std::chrono::steady_clock::time_point deadline, int* outcome) {
  try {
    auto guard = co_await aio::timeout_at(deadline);
    co_await aio::sleep(1h);
  } catch (const concur::TimeoutError&) {
    *outcome = 1;
  } catch (const aio::CancelledError&) {
    *outcome = 2;
  }
}
// The timeout and an outside cancel() fall due at the same instant. `cancel_first`: the
// cancel's timer was scheduled first, so both requests are pending when the victim's await
// resumes: the cancellation wins (Python 3.12). Otherwise the victim has already taken its
// TimeoutError when the cancel comes, and it finds the task done.
aio::Task<void> expiry_and_cancel_at_once(bool cancel_first, int* outcome) {
  auto& loop = aio::get_running_loop();
  const auto at = loop.time() + 5ms;
  aio::TaskRef<void> victim;
  if (cancel_first) loop.call_at(at, [&victim] { victim.cancel(); });
  aio::Task<void> v = aio::create_task(victim_until(at, outcome));
  victim = v;
  co_await aio::sleep(0s);  // the victim enters its block (its timer is scheduled now)
  if (!cancel_first) loop.call_at(at, [&victim] { victim.cancel(); });
  std::vector<aio::Task<void>> one;
  one.push_back(v.share());
  co_await aio::wait(one, 10s);
}
}  // namespace

TEST(AioTimeout, AnOutsideCancelAtTheSameInstantWinsOverTheExpiry) {
  int outcome = 0;
  aio::run(expiry_and_cancel_at_once(true, &outcome));
  EXPECT_EQ(outcome, 2);
}

TEST(AioTimeout, AnExpiryDeliveredBeforeTheCancelIsATimeoutError) {
  int outcome = 0;
  aio::run(expiry_and_cancel_at_once(false, &outcome));
  EXPECT_EQ(outcome, 1);
}

namespace {
aio::Task<void> wait_for_forwards_an_outer_cancellation(bool* inner_cancelled) {
  aio::Task<int> inner = aio::create_task(sleep_then(1h, 1));
  aio::Task<int> outer = aio::create_task(
      [](aio::Task<int>* in) -> aio::Task<int> { co_return co_await aio::wait_for(*in, 1h); }(&inner));
  co_await aio::sleep(0s);
  outer.cancel();
  bool cancelled = false;
  try {
    (void)co_await outer;
  } catch (const aio::CancelledError&) {
    cancelled = true;
  }
  EXPECT_TRUE(cancelled);
  *inner_cancelled = inner.cancelled();
}

aio::Task<void> wait_for_returns_a_result_that_beat_the_cancellation() {
  int caught = 0;
  // The inner task swallows the timeout's cancellation and returns: its value is the result.
  // (Started first: a task cancelled before it starts never runs, and a loaded machine may let
  // the 5 ms pass before its first step.)
  aio::Task<int> inner = aio::create_task(stubborn(&caught));
  co_await aio::sleep(0s);
  int v = co_await aio::wait_for(inner, 5ms);
  EXPECT_EQ(v, 5);
  EXPECT_EQ(caught, 1);
}
}  // namespace

TEST(AioWaitFor, AnOuterCancellationReachesTheInnerTask) {
  bool cancelled = false;
  aio::run(wait_for_forwards_an_outer_cancellation(&cancelled));
  EXPECT_TRUE(cancelled);
}

TEST(AioWaitFor, AnInnerTaskThatIgnoresTheTimeoutGivesItsValue) {
  aio::run(wait_for_returns_a_result_that_beat_the_cancellation());
}

namespace {
aio::Task<void> gather_cancelled_cancels_children(std::vector<aio::Task<int>>* kids) {
  co_await aio::gather(kids->at(0), kids->at(1));
}
aio::Task<void> gather_cancel() {
  std::vector<aio::Task<int>> kids;
  kids.push_back(aio::create_task(sleep_then(1h, 1)));
  kids.push_back(aio::create_task(sleep_then(1h, 2)));
  aio::Task<void> g = aio::create_task(gather_cancelled_cancels_children(&kids));
  co_await aio::sleep(0s);
  g.cancel();
  bool cancelled = false;
  try {
    co_await g;
  } catch (const aio::CancelledError&) {
    cancelled = true;
  }
  EXPECT_TRUE(cancelled);
  auto [done, pending] = co_await aio::wait(kids, 10s);
  EXPECT_EQ(pending.size(), 0u);
  EXPECT_TRUE(kids[0].cancelled());
  EXPECT_TRUE(kids[1].cancelled());
}
aio::Task<void> gather_child_cancelled() {
  aio::Task<int> a = aio::create_task(sleep_then(1h, 1));
  aio::Task<int> b = aio::create_task(sleep_then(5ms, 2));
  aio::get_running_loop().call_soon([ref = aio::TaskRef<int>(a)]() mutable { ref.cancel(); });
  bool cancelled = false;
  try {
    (void)co_await aio::gather(a, b);
  } catch (const aio::CancelledError&) {
    cancelled = true;
  }
  EXPECT_TRUE(cancelled);  // a child's cancellation is gather's failure
  EXPECT_EQ(co_await b, 2);
}
}  // namespace

TEST(AioGather, CancellingTheAwaiterCancelsEveryChild) { aio::run(gather_cancel()); }
TEST(AioGather, AChildsCancellationIsRethrown) { aio::run(gather_child_cancelled()); }
