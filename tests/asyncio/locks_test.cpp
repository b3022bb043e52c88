// aio locks: Lock, Event, Condition, Semaphore, BoundedSemaphore, Barrier (the parts of CPython
// 3.13's Lib/test/test_asyncio/test_locks.py that apply, plus the C++ forms: hold(), Held).
// A quiescent point (nothing runnable but the test's main task) is reached with lk_settle().
#include <concur/asyncio.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <type_traits>
#include <vector>

#include "test_support.hpp"

namespace aio = concur::asyncio;
using namespace std::chrono_literals;

namespace {

// Lets every other runnable task run until it suspends (a few loop iterations).
aio::Task<void> lk_settle() {
  for (int i = 0; i < 8; ++i) co_await aio::sleep(0s);
}

// Whether awaiting `t` throws E (any other exception propagates).
template <class E, class T>
aio::Task<bool> lk_throws(aio::Task<T> t) {
  try {
    co_await std::move(t);
  } catch (const E&) {
    co_return true;
  }
  co_return false;
}

template <class T>
T lk_run(aio::Task<T> main) {
  return aio::run(aio::wait_for(std::move(main), 20s));
}

aio::Task<void> lk_acquire_then_append(aio::Lock* lock, std::vector<int>* out, int tag) {
  const bool ok = co_await lock->acquire();
  EXPECT_TRUE(ok);
  out->push_back(tag);
}

// ---- Lock ----------------------------------------------------------------------------------------

aio::Task<void> lk_lock_basics() {
  aio::Lock lock;
  EXPECT_FALSE(lock.locked());
  const bool ok = co_await lock.acquire();
  EXPECT_TRUE(ok);
  EXPECT_TRUE(lock.locked());
  lock.release();
  EXPECT_FALSE(lock.locked());
  bool threw = false;
  try {
    lock.release();
  } catch (const concur::RuntimeError& e) {
    threw = std::string(e.what()) == "Lock is not acquired.";
  }
  EXPECT_TRUE(threw);
}

// test_acquire: waiters get the lock in the order they asked for it.
aio::Task<void> lk_lock_fifo() {
  aio::Lock lock;
  std::vector<int> result;
  co_await lock.acquire();
  auto t1 = aio::create_task(lk_acquire_then_append(&lock, &result, 1));
  auto t2 = aio::create_task(lk_acquire_then_append(&lock, &result, 2));
  co_await lk_settle();
  EXPECT_EQ(result, std::vector<int>{});
  lock.release();
  co_await lk_settle();
  EXPECT_EQ(result, (std::vector<int>{1}));
  auto t3 = aio::create_task(lk_acquire_then_append(&lock, &result, 3));
  co_await lk_settle();
  lock.release();
  co_await lk_settle();
  EXPECT_EQ(result, (std::vector<int>{1, 2}));
  lock.release();
  co_await lk_settle();
  EXPECT_EQ(result, (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(t1.done() && t2.done() && t3.done());
  EXPECT_TRUE(lock.locked());
  lock.release();
}

// A release hands the lock to the oldest waiter: a task asking meanwhile queues behind it.
aio::Task<void> lk_lock_handoff_is_fair() {
  aio::Lock lock;
  std::vector<int> result;
  co_await lock.acquire();
  auto t1 = aio::create_task(lk_acquire_then_append(&lock, &result, 1));
  co_await lk_settle();
  lock.release();
  EXPECT_FALSE(lock.locked());  // as Python, until t1 runs; but the lock is t1's already
  auto t2 = aio::create_task(lk_acquire_then_append(&lock, &result, 2));
  co_await lk_settle();
  EXPECT_EQ(result, (std::vector<int>{1}));
  lock.release();
  co_await lk_settle();
  EXPECT_EQ(result, (std::vector<int>{1, 2}));
  lock.release();
  EXPECT_FALSE(lock.locked());
}

// test_acquire_cancel
aio::Task<void> lk_lock_cancel_waiter() {
  aio::Lock lock;
  co_await lock.acquire();
  auto t = aio::create_task(lock.acquire());
  co_await lk_settle();
  t.cancel();
  const bool cancelled = co_await lk_throws<aio::CancelledError>(t.share());
  EXPECT_TRUE(cancelled);
  EXPECT_TRUE(t.cancelled());
  lock.release();
  EXPECT_FALSE(lock.locked());  // the cancelled waiter left no trace
}

aio::Task<void> lk_lockit(aio::Lock* lock, aio::Event* blocker) {
  co_await lock->acquire();
  if (blocker != nullptr) {
    bool failed = false;
    try {
      co_await blocker->wait();
    } catch (...) {
      failed = true;
    }
    lock->release();
    if (failed) throw aio::CancelledError();
  } else {
    lock->release();
  }
}

// test_cancel_race: A holds, B and C wait; B is cancelled as A releases: C gets the lock.
aio::Task<void> lk_lock_cancel_race() {
  aio::Lock lock;
  aio::Event fa;
  auto ta = aio::create_task(lk_lockit(&lock, &fa));
  co_await lk_settle();
  EXPECT_TRUE(lock.locked());
  auto tb = aio::create_task(lk_lockit(&lock, nullptr));
  co_await lk_settle();
  auto tc = aio::create_task(lk_lockit(&lock, nullptr));
  co_await lk_settle();
  fa.set();
  tb.cancel();
  co_await lk_settle();
  EXPECT_FALSE(lock.locked());
  EXPECT_TRUE(ta.done());
  EXPECT_TRUE(tb.cancelled());
  EXPECT_TRUE(tc.done());
  EXPECT_FALSE(tc.cancelled());
}

// test_cancel_release_race (bpo-32734): cancel the first waiter and release in one callback: the
// second waiter gets the lock, the third keeps waiting.
aio::Task<void> lk_lock_cancel_release_race() {
  aio::Lock lock;
  co_await lock.acquire();
  auto t1 = aio::create_task(lock.acquire());
  auto t2 = aio::create_task(lock.acquire());
  auto t3 = aio::create_task(lock.acquire());
  co_await lk_settle();
  aio::TaskRef<bool> r1 = t1;
  aio::Lock* l = &lock;
  aio::get_running_loop().call_soon([r1, l]() mutable {
    r1.cancel();
    l->release();
  });
  co_await lk_settle();
  EXPECT_TRUE(t1.cancelled());
  EXPECT_TRUE(t2.done() && !t2.cancelled());
  EXPECT_FALSE(t3.done());
  EXPECT_TRUE(lock.locked());
  lock.release();  // for t2
  co_await lk_settle();
  EXPECT_TRUE(t3.done());
  lock.release();  // for t3
  EXPECT_FALSE(lock.locked());
}

// A waiter woken (the lock handed to it) and then cancelled still gets the lock: the grant is
// not lost and the lock is not left held by nobody; the next waiter gets it in turn.
aio::Task<void> lk_lock_woken_then_cancelled() {
  aio::Lock lock;
  std::vector<int> result;
  co_await lock.acquire();
  auto tb = aio::create_task(lk_acquire_then_append(&lock, &result, 1));
  auto tc = aio::create_task(lk_acquire_then_append(&lock, &result, 2));
  co_await lk_settle();
  lock.release();  // handed to tb
  tb.cancel();     // too late to take it back
  co_await lk_settle();
  EXPECT_EQ(result, (std::vector<int>{1}));
  EXPECT_TRUE(lock.locked());
  lock.release();  // tb's lock: to tc
  co_await lk_settle();
  EXPECT_EQ(result, (std::vector<int>{1, 2}));
  EXPECT_TRUE(tc.done());
  lock.release();
  EXPECT_FALSE(lock.locked());
}

// test_finished_waiter_cancelled: a cancelled waiter does not keep the next one from the lock.
aio::Task<void> lk_lock_finished_waiter_cancelled() {
  aio::Lock lock;
  co_await lock.acquire();
  auto tb = aio::create_task(lock.acquire());
  co_await lk_settle();
  auto tc = aio::create_task(lock.acquire());
  co_await lk_settle();
  tb.cancel();
  lock.release();
  co_await lk_settle();
  EXPECT_TRUE(tb.cancelled());
  EXPECT_TRUE(tc.done());
  EXPECT_TRUE(lock.locked());
  lock.release();
}

aio::Task<void> lk_hold_and_count(aio::Lock* lock, int* inside, int* max_inside) {
  for (int i = 0; i < 5; ++i) {
    auto held = co_await lock->hold();
    ++*inside;
    *max_inside = std::max(*max_inside, *inside);
    co_await aio::sleep(0s);
    --*inside;
  }
}

aio::Task<void> lk_lock_hold() {
  aio::Lock lock;
  {
    auto held = co_await lock.hold();
    EXPECT_TRUE(held.owns());
    EXPECT_TRUE(lock.locked());
    aio::Held<aio::Lock> moved = std::move(held);
    EXPECT_FALSE(held.owns());
    EXPECT_TRUE(lock.locked());
    moved.release();
    EXPECT_FALSE(lock.locked());
  }
  EXPECT_FALSE(lock.locked());
  {
    auto held = co_await lock.hold();
    EXPECT_TRUE(lock.locked());
  }
  EXPECT_FALSE(lock.locked());
  int inside = 0, max_inside = 0;
  co_await aio::gather(lk_hold_and_count(&lock, &inside, &max_inside),
                       lk_hold_and_count(&lock, &inside, &max_inside),
                       lk_hold_and_count(&lock, &inside, &max_inside));
  EXPECT_EQ(max_inside, 1);
  EXPECT_FALSE(lock.locked());
}

// A timeout around acquire() leaves no waiter behind.
aio::Task<void> lk_lock_timeout() {
  aio::Lock lock;
  co_await lock.acquire();
  bool timed_out = false;
  try {
    co_await aio::wait_for(lock.acquire(), 5ms);
  } catch (const concur::TimeoutError&) {
    timed_out = true;
  }
  EXPECT_TRUE(timed_out);
  timed_out = false;
  try {
    auto guard = co_await aio::timeout(5ms);
    co_await lock.acquire();
  } catch (const concur::TimeoutError&) {
    timed_out = true;
  }
  EXPECT_TRUE(timed_out);
  lock.release();
  EXPECT_FALSE(lock.locked());
}

}  // namespace

TEST(AioLock, AcquireReleaseLocked) { lk_run(lk_lock_basics()); }
TEST(AioLock, WaitersAcquireInFifoOrder) { lk_run(lk_lock_fifo()); }
TEST(AioLock, ReleaseHandsTheLockToTheOldestWaiter) { lk_run(lk_lock_handoff_is_fair()); }
TEST(AioLock, CancelledWaiterLeaves) { lk_run(lk_lock_cancel_waiter()); }
TEST(AioLock, CancelRace) { lk_run(lk_lock_cancel_race()); }
TEST(AioLock, CancelReleaseRace) { lk_run(lk_lock_cancel_release_race()); }
TEST(AioLock, WokenThenCancelledWaiterKeepsTheLockAndDoesNotDeadlock) {
  lk_run(lk_lock_woken_then_cancelled());
}
TEST(AioLock, FinishedWaiterCancelled) { lk_run(lk_lock_finished_waiter_cancelled()); }
TEST(AioLock, HoldIsAScopedGuard) { lk_run(lk_lock_hold()); }
TEST(AioLock, TimedOutAcquireLeavesNoWaiter) { lk_run(lk_lock_timeout()); }

// ---- Event -----------------------------------------------------------------------------------------

namespace {

aio::Task<void> lk_wait_then_append(aio::Event* ev, std::vector<int>* out, int tag) {
  const bool ok = co_await ev->wait();
  EXPECT_TRUE(ok);
  out->push_back(tag);
}

// test_wait: a waiter that had not started yet (t3) runs first.
aio::Task<void> lk_event_wait() {
  aio::Event ev;
  EXPECT_FALSE(ev.is_set());
  std::vector<int> result;
  auto t1 = aio::create_task(lk_wait_then_append(&ev, &result, 1));
  auto t2 = aio::create_task(lk_wait_then_append(&ev, &result, 2));
  co_await lk_settle();
  EXPECT_EQ(result, std::vector<int>{});
  auto t3 = aio::create_task(lk_wait_then_append(&ev, &result, 3));
  ev.set();
  co_await lk_settle();
  EXPECT_EQ(result, (std::vector<int>{3, 1, 2}));
  EXPECT_TRUE(t1.done() && t2.done() && t3.done());
  const bool again = co_await ev.wait();  // set: at once
  EXPECT_TRUE(again);
}

aio::Task<void> lk_event_cancel_and_clear() {
  aio::Event ev;
  auto w = aio::create_task(ev.wait());
  co_await lk_settle();
  w.cancel();
  const bool cancelled = co_await lk_throws<aio::CancelledError>(w.share());
  EXPECT_TRUE(cancelled);
  ev.set();
  EXPECT_TRUE(ev.is_set());
  ev.clear();
  EXPECT_FALSE(ev.is_set());
  // test_clear_with_waiters: set then clear at once still releases the waiter.
  std::vector<int> result;
  auto t = aio::create_task(lk_wait_then_append(&ev, &result, 1));
  co_await lk_settle();
  ev.set();
  ev.clear();
  EXPECT_FALSE(ev.is_set());
  ev.set();
  ev.set();
  co_await lk_settle();
  EXPECT_EQ(result, (std::vector<int>{1}));
  EXPECT_TRUE(t.done());
  // wait_for on a never-set event times out; the event keeps no waiter.
  ev.clear();
  const bool timed_out = co_await lk_throws<concur::TimeoutError>(aio::wait_for(ev.wait(), 5ms));
  EXPECT_TRUE(timed_out);
}

}  // namespace

TEST(AioEvent, SetWakesEveryWaiter) { lk_run(lk_event_wait()); }
TEST(AioEvent, CancelClearAndSetClearWithWaiters) { lk_run(lk_event_cancel_and_clear()); }

// ---- Condition -------------------------------------------------------------------------------------

namespace {

// Acquires, waits, appends; keeps the lock (test_wait).
aio::Task<void> lk_cond_wait_append(aio::Condition* cond, std::vector<int>* out, int tag) {
  co_await cond->acquire();
  const bool ok = co_await cond->wait();
  EXPECT_TRUE(ok);
  out->push_back(tag);
}

aio::Task<void> lk_condition_wait() {
  aio::Condition cond;
  std::vector<int> result;
  auto t1 = aio::create_task(lk_cond_wait_append(&cond, &result, 1));
  auto t2 = aio::create_task(lk_cond_wait_append(&cond, &result, 2));
  auto t3 = aio::create_task(lk_cond_wait_append(&cond, &result, 3));
  co_await lk_settle();
  EXPECT_EQ(result, std::vector<int>{});
  EXPECT_FALSE(cond.locked());

  const bool ok = co_await cond.acquire();
  EXPECT_TRUE(ok);
  cond.notify();
  co_await lk_settle();
  EXPECT_EQ(result, std::vector<int>{});
  EXPECT_TRUE(cond.locked());

  cond.release();
  co_await lk_settle();
  EXPECT_EQ(result, (std::vector<int>{1}));
  EXPECT_TRUE(cond.locked());

  cond.notify(2);
  co_await lk_settle();
  EXPECT_EQ(result, (std::vector<int>{1}));
  EXPECT_TRUE(cond.locked());

  cond.release();
  co_await lk_settle();
  EXPECT_EQ(result, (std::vector<int>{1, 2}));
  EXPECT_TRUE(cond.locked());

  cond.release();
  co_await lk_settle();
  EXPECT_EQ(result, (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(cond.locked());
  EXPECT_TRUE(t1.done() && t2.done() && t3.done());
  cond.release();
}

aio::Task<void> lk_cond_wait_holding(aio::Condition* cond) {
  co_await cond->acquire();
  co_await cond->wait();
}

// test_wait_cancel: the lock is re-acquired before the CancelledError leaves wait().
aio::Task<void> lk_condition_wait_cancel() {
  aio::Condition cond;
  auto w = aio::create_task(lk_cond_wait_holding(&cond));
  co_await lk_settle();
  EXPECT_FALSE(cond.locked());
  w.cancel();
  co_await lk_settle();
  EXPECT_TRUE(w.cancelled());
  EXPECT_TRUE(cond.locked());  // re-acquired by the cancelled waiter, never released
  cond.release();
  // wait() without the lock.
  const bool unacquired = co_await lk_throws<concur::RuntimeError>(cond.wait());
  EXPECT_TRUE(unacquired);
  bool threw = false;
  try {
    cond.notify();
  } catch (const concur::RuntimeError&) {
    threw = true;
  }
  EXPECT_TRUE(threw);
  threw = false;
  try {
    cond.notify_all();
  } catch (const concur::RuntimeError&) {
    threw = true;
  }
  EXPECT_TRUE(threw);
}

aio::Task<void> lk_cond_wait_for_flag(aio::Condition* cond, const bool* flag,
                                      std::vector<int>* out) {
  co_await cond->acquire();
  const bool r = co_await cond->wait_for([flag] { return *flag; });
  EXPECT_TRUE(r);
  out->push_back(1);
  cond->release();
}

aio::Task<void> lk_condition_wait_for() {
  aio::Condition cond;
  bool presult = false;
  std::vector<int> result;
  auto t = aio::create_task(lk_cond_wait_for_flag(&cond, &presult, &result));
  co_await lk_settle();
  EXPECT_EQ(result, std::vector<int>{});
  co_await cond.acquire();
  cond.notify();
  cond.release();
  co_await lk_settle();
  EXPECT_EQ(result, std::vector<int>{});
  presult = true;
  co_await cond.acquire();
  cond.notify();
  cond.release();
  co_await lk_settle();
  EXPECT_EQ(result, (std::vector<int>{1}));
  EXPECT_TRUE(t.done());
  // test_wait_for_unacquired: a predicate true at once needs no lock; otherwise RuntimeError.
  const int v = co_await cond.wait_for([] { return 7; });
  EXPECT_EQ(v, 7);
  const bool unacquired = co_await lk_throws<concur::RuntimeError>(cond.wait_for([] { return false; }));
  EXPECT_TRUE(unacquired);
}

// Acquires, waits, appends, releases (test_notify).
aio::Task<void> lk_cond_wait_append_release(aio::Condition* cond, std::vector<int>* out, int tag) {
  co_await cond->acquire();
  const bool ok = co_await cond->wait();
  EXPECT_TRUE(ok);
  out->push_back(tag);
  cond->release();
}

aio::Task<void> lk_condition_notify_counts() {
  aio::Condition cond;
  std::vector<int> result;
  auto t1 = aio::create_task(lk_cond_wait_append_release(&cond, &result, 1));
  auto t2 = aio::create_task(lk_cond_wait_append_release(&cond, &result, 2));
  auto t3 = aio::create_task(lk_cond_wait_append_release(&cond, &result, 3));
  co_await lk_settle();
  EXPECT_EQ(result, std::vector<int>{});
  co_await cond.acquire();
  cond.notify(1);
  cond.release();
  co_await lk_settle();
  EXPECT_EQ(result, (std::vector<int>{1}));
  co_await cond.acquire();
  cond.notify(1);
  cond.notify(2048);
  cond.release();
  co_await lk_settle();
  EXPECT_EQ(result, (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(t1.done() && t2.done() && t3.done());
  // notify_all
  result.clear();
  auto u1 = aio::create_task(lk_cond_wait_append_release(&cond, &result, 1));
  auto u2 = aio::create_task(lk_cond_wait_append_release(&cond, &result, 2));
  co_await lk_settle();
  co_await cond.acquire();
  cond.notify_all();
  cond.release();
  co_await lk_settle();
  EXPECT_EQ(result, (std::vector<int>{1, 2}));
  EXPECT_FALSE(cond.locked());
  // notify with nobody waiting: nothing happens.
  co_await cond.acquire();
  cond.notify();
  cond.release();
}

// A Condition over a Lock of the caller's: one lock, seen through both.
aio::Task<void> lk_condition_shared_lock() {
  aio::Lock lock;
  aio::Condition cond(lock);
  co_await lock.acquire();
  EXPECT_TRUE(cond.locked());
  cond.release();
  EXPECT_FALSE(lock.locked());
  {
    auto held = co_await cond.hold();
    EXPECT_TRUE(lock.locked());
  }
  EXPECT_FALSE(lock.locked());
}

aio::Task<void> lk_cond_consumer(aio::Condition* cond, int* state, std::vector<int>* log, int tag) {
  auto held = co_await cond->hold();
  for (;;) {
    co_await cond->wait_for([state] { return *state != 0; });
    if (*state < 0) co_return;
    --*state;
    log->push_back(tag);
    cond->notify_all();  // tell the producer
  }
}

// test_cancelled_wakeup: a consumer notified and cancelled in the same step does not lose the
// notification: it consumes the item (here it was already woken, so it is not thrown at), and
// its cancellation arrives at its next suspension.
aio::Task<void> lk_condition_cancelled_wakeup() {
  aio::Condition cond;
  int state = 0;
  std::vector<int> log;
  auto c0 = aio::create_task(lk_cond_consumer(&cond, &state, &log, 0));
  auto c1 = aio::create_task(lk_cond_consumer(&cond, &state, &log, 1));
  co_await lk_settle();
  {
    auto held = co_await cond.hold();
    ++state;
    cond.notify(1);
    c0.cancel();
    const bool consumed = co_await cond.wait_for([&state] { return state == 0; });
    EXPECT_TRUE(consumed);
    EXPECT_EQ(state, 0);
  }
  co_await lk_settle();
  EXPECT_TRUE(c0.cancelled());  // at its next wait()
  EXPECT_EQ(log, (std::vector<int>{0}));
  {
    auto held = co_await cond.hold();
    state = -1;
    cond.notify_all();
  }
  co_await c1;
  EXPECT_FALSE(cond.locked());
}

// test_cancelled_wakeup, the other order: cancelled before the notification: the notification
// goes to the other consumer.
aio::Task<void> lk_condition_cancel_then_notify() {
  aio::Condition cond;
  int state = 0;
  std::vector<int> log;
  auto c0 = aio::create_task(lk_cond_consumer(&cond, &state, &log, 0));
  auto c1 = aio::create_task(lk_cond_consumer(&cond, &state, &log, 1));
  co_await lk_settle();
  {
    auto held = co_await cond.hold();
    c0.cancel();  // c0 leaves the waiters now; it still needs the lock to finish
    ++state;
    cond.notify(1);
    const bool consumed = co_await cond.wait_for([&state] { return state == 0; });
    EXPECT_TRUE(consumed);
  }
  EXPECT_EQ(log, (std::vector<int>{1}));
  co_await lk_settle();
  EXPECT_TRUE(c0.cancelled());
  {
    auto held = co_await cond.hold();
    state = -1;
    cond.notify_all();
  }
  co_await c1;
  EXPECT_FALSE(cond.locked());
}

aio::Task<void> lk_cond_wait_expect_cancel(aio::Condition* cond, bool* flag, bool* saw_cancel) {
  auto held = co_await cond->hold();
  try {
    co_await cond->wait_for([flag] { return *flag; });
  } catch (const aio::CancelledError&) {
    *saw_cancel = true;
    EXPECT_TRUE(cond->locked());  // re-acquired before the error left wait()
    throw;
  }
}

// test_cancelled_error_re_aquire: cancelled while re-acquiring the lock after a notify: the lock
// is still re-acquired, then CancelledError propagates; the notification is passed on.
aio::Task<void> lk_condition_cancelled_while_reacquiring() {
  aio::Condition cond;
  bool flag = false, saw_cancel = false;
  std::vector<int> log;
  auto t = aio::create_task(lk_cond_wait_expect_cancel(&cond, &flag, &saw_cancel));
  co_await lk_settle();
  {
    auto held = co_await cond.hold();
    flag = true;
    cond.notify();
    co_await lk_settle();  // t is woken and waits for the lock we hold
    EXPECT_FALSE(t.done());
    t.cancel();
    co_await lk_settle();
    EXPECT_FALSE(t.done());  // it cannot leave without the lock
  }
  co_await lk_settle();
  EXPECT_TRUE(saw_cancel);
  EXPECT_TRUE(t.cancelled());
  EXPECT_FALSE(cond.locked());
}

}  // namespace

TEST(AioCondition, WaitNotifyAndReacquire) { lk_run(lk_condition_wait()); }
TEST(AioCondition, CancelledWaitReacquiresTheLock) { lk_run(lk_condition_wait_cancel()); }
TEST(AioCondition, WaitFor) { lk_run(lk_condition_wait_for()); }
TEST(AioCondition, NotifyWakesAtMostN) { lk_run(lk_condition_notify_counts()); }
TEST(AioCondition, OverACallersLock) { lk_run(lk_condition_shared_lock()); }
TEST(AioCondition, NotifiedThenCancelledLosesNoWakeup) { lk_run(lk_condition_cancelled_wakeup()); }
TEST(AioCondition, CancelledThenNotifiedLetsAnotherWake) {
  lk_run(lk_condition_cancel_then_notify());
}
TEST(AioCondition, CancelledWhileReacquiring) {
  lk_run(lk_condition_cancelled_while_reacquiring());
}

// ---- Semaphore ------------------------------------------------------------------------------------

namespace {

aio::Task<void> lk_sem_acquire_append(aio::Semaphore* sem, std::vector<int>* out, int tag) {
  const bool ok = co_await sem->acquire();
  EXPECT_TRUE(ok);
  out->push_back(tag);
}

// test_acquire
aio::Task<void> lk_semaphore_acquire() {
  aio::Semaphore sem(3);
  std::vector<int> result;
  bool ok = co_await sem.acquire();
  EXPECT_TRUE(ok);
  ok = co_await sem.acquire();
  EXPECT_TRUE(ok);
  EXPECT_FALSE(sem.locked());
  auto t1 = aio::create_task(lk_sem_acquire_append(&sem, &result, 1));
  auto t2 = aio::create_task(lk_sem_acquire_append(&sem, &result, 2));
  auto t3 = aio::create_task(lk_sem_acquire_append(&sem, &result, 3));
  co_await lk_settle();
  EXPECT_EQ(result, (std::vector<int>{1}));
  EXPECT_TRUE(sem.locked());
  auto t4 = aio::create_task(lk_sem_acquire_append(&sem, &result, 4));
  sem.release();
  sem.release();
  co_await lk_settle();
  EXPECT_EQ(result, (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(sem.locked());
  EXPECT_FALSE(t4.done());
  sem.release();
  co_await lk_settle();
  EXPECT_EQ(result, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_TRUE(t1.done() && t2.done() && t3.done() && t4.done());
}

aio::Task<void> lk_sem_tagged(aio::Semaphore* sem, std::vector<std::string>* out, std::string tag) {
  co_await sem->acquire();
  out->push_back(tag + "_1");
  co_await aio::sleep(0s);
  co_await aio::sleep(0s);
  out->push_back(tag + "_2");
  sem->release();
}

// test_acquire_fifo_order
aio::Task<void> lk_semaphore_fifo() {
  aio::Semaphore sem(1);
  std::vector<std::string> result;
  co_await aio::gather(lk_sem_tagged(&sem, &result, "a"), lk_sem_tagged(&sem, &result, "b"),
                       lk_sem_tagged(&sem, &result, "c"));
  EXPECT_EQ(result, (std::vector<std::string>{"a_1", "a_2", "b_1", "b_2", "c_1", "c_2"}));
}

aio::Task<void> lk_sem_fifo2_c1(aio::Semaphore* sem, std::vector<int>* out) {
  co_await sem->acquire();
  out->push_back(1);
}
aio::Task<void> lk_sem_fifo2_c2(aio::Semaphore* sem, std::vector<int>* out) {
  co_await sem->acquire();
  out->push_back(2);
  sem->release();
  co_await sem->acquire();  // queues behind c3, woken but not yet run
  out->push_back(4);
}
aio::Task<void> lk_sem_fifo2_c3(aio::Semaphore* sem, std::vector<int>* out) {
  co_await sem->acquire();
  out->push_back(3);
}

// test_acquire_fifo_order_2: a task woken with a permit comes before a new acquire().
aio::Task<void> lk_semaphore_fifo_2() {
  aio::Semaphore sem(1);
  std::vector<int> result;
  auto t1 = aio::create_task(lk_sem_fifo2_c1(&sem, &result));
  auto t2 = aio::create_task(lk_sem_fifo2_c2(&sem, &result));
  auto t3 = aio::create_task(lk_sem_fifo2_c3(&sem, &result));
  co_await aio::sleep(0s);
  sem.release();
  sem.release();
  co_await aio::gather(t1, t2, t3);
  EXPECT_EQ(result, (std::vector<int>{1, 2, 3, 4}));
}

// test_acquire_fifo_order_3: a cancelled waiter is skipped.
aio::Task<void> lk_semaphore_fifo_3() {
  aio::Semaphore sem(0);
  std::vector<int> result;
  auto t1 = aio::create_task(lk_sem_acquire_append(&sem, &result, 1));
  auto t2 = aio::create_task(lk_sem_acquire_append(&sem, &result, 2));
  auto t3 = aio::create_task(lk_sem_acquire_append(&sem, &result, 3));
  co_await aio::sleep(0s);
  t1.cancel();
  sem.release();
  sem.release();
  co_await aio::gather(aio::return_exceptions, t1, t2, t3);
  EXPECT_EQ(result, (std::vector<int>{2, 3}));
}

// test_acquire_hang: a waiter cancelled before the release does not take the permit.
aio::Task<void> lk_semaphore_cancel_waiter() {
  aio::Semaphore sem(0);
  EXPECT_TRUE(sem.locked());
  auto t1 = aio::create_task(sem.acquire());
  auto t2 = aio::create_task(sem.acquire());
  co_await lk_settle();
  t1.cancel();
  sem.release();
  co_await lk_settle();
  EXPECT_TRUE(t1.cancelled());
  EXPECT_TRUE(t2.done() && !t2.cancelled());
  EXPECT_TRUE(sem.locked());
  sem.release();
  EXPECT_FALSE(sem.locked());
}

aio::Task<void> lk_sem_c1(aio::Semaphore* sem, aio::TaskRef<void>* other) {
  auto held = co_await sem->hold();
  co_await aio::sleep(0s);
  other->cancel();
}
aio::Task<void> lk_sem_c2(aio::Semaphore* sem, bool* entered) {
  auto held = co_await sem->hold();
  *entered = true;
}

// test_acquire_no_hang: a waiter cancelled once the permit was handed to it still returns it
// (here: it completes normally and its guard releases it); the permit is never lost.
aio::Task<void> lk_semaphore_no_hang() {
  aio::Semaphore sem(1);
  bool entered = false;
  aio::TaskRef<void> r2;
  auto t1 = aio::create_task(lk_sem_c1(&sem, &r2));
  auto t2 = aio::create_task(lk_sem_c2(&sem, &entered));
  r2 = t2;
  auto results = co_await aio::gather(aio::return_exceptions, t1, t2);
  EXPECT_EQ(std::get<0>(results).index(), 0u);
  EXPECT_EQ(std::get<1>(results).index(), 1u);  // t2 was cancelled while it waited
  EXPECT_FALSE(entered);
  const bool ok = co_await aio::wait_for(sem.acquire(), 10s);  // the permit is back
  EXPECT_TRUE(ok);
}

// Woken then cancelled: keeps the permit (not lost, not doubled).
aio::Task<void> lk_semaphore_woken_then_cancelled() {
  aio::Semaphore sem(0);
  auto t1 = aio::create_task(sem.acquire());
  auto t2 = aio::create_task(sem.acquire());
  co_await lk_settle();
  sem.release();  // to t1
  t1.cancel();    // too late
  co_await lk_settle();
  EXPECT_TRUE(t1.done());
  EXPECT_FALSE(t2.done());
  EXPECT_TRUE(sem.locked());
  sem.release();  // t1's permit back: to t2
  co_await lk_settle();
  EXPECT_TRUE(t2.done());
  EXPECT_TRUE(sem.locked());
}

aio::Task<void> lk_semaphore_bounded() {
  aio::BoundedSemaphore sem(2);
  co_await sem.acquire();
  sem.release();
  bool threw = false;
  try {
    sem.release();
  } catch (const concur::ValueError& e) {
    threw = std::string(e.what()) == "BoundedSemaphore released too many times";
  }
  EXPECT_TRUE(threw);
  {
    auto a = co_await sem.hold();
    auto b = co_await sem.hold();
    EXPECT_TRUE(sem.locked());
  }
  EXPECT_FALSE(sem.locked());
  threw = false;
  try {
    sem.release();
  } catch (const concur::ValueError&) {
    threw = true;
  }
  EXPECT_TRUE(threw);
  // Plain Semaphore: release without acquire just adds permits.
  aio::Semaphore s(0);
  s.release();
  s.release();
  co_await s.acquire();
  co_await s.acquire();
  EXPECT_TRUE(s.locked());
}

}  // namespace

TEST(AioSemaphore, InitialValue) {
  EXPECT_THROW(aio::Semaphore(-1), concur::ValueError);
  EXPECT_THROW(aio::BoundedSemaphore(-1), concur::ValueError);
  aio::Semaphore zero(0);
  EXPECT_TRUE(zero.locked());
  aio::Semaphore one;
  EXPECT_FALSE(one.locked());
}
TEST(AioSemaphore, Acquire) { lk_run(lk_semaphore_acquire()); }
TEST(AioSemaphore, FifoOrder) { lk_run(lk_semaphore_fifo()); }
TEST(AioSemaphore, FifoOrderWokenBeforeNewcomers) { lk_run(lk_semaphore_fifo_2()); }
TEST(AioSemaphore, FifoOrderSkipsCancelled) { lk_run(lk_semaphore_fifo_3()); }
TEST(AioSemaphore, CancelledWaiterTakesNoPermit) { lk_run(lk_semaphore_cancel_waiter()); }
TEST(AioSemaphore, NoHang) { lk_run(lk_semaphore_no_hang()); }
TEST(AioSemaphore, WokenThenCancelledKeepsThePermit) {
  lk_run(lk_semaphore_woken_then_cancelled());
}
TEST(AioSemaphore, Bounded) { lk_run(lk_semaphore_bounded()); }

// ---- Barrier --------------------------------------------------------------------------------------

static_assert(std::is_same_v<aio::BrokenBarrierError, concur::threading::BrokenBarrierError>);

namespace {

aio::Task<void> lk_barrier_party(aio::Barrier* b, std::vector<std::size_t>* indices) {
  const std::size_t i = co_await b->wait();
  indices->push_back(i);
}

aio::Task<void> lk_barrier_basic() {
  aio::Barrier b(3);
  EXPECT_EQ(b.parties(), 3u);
  EXPECT_EQ(b.n_waiting(), 0u);
  EXPECT_FALSE(b.broken());
  std::vector<std::size_t> indices;
  auto t1 = aio::create_task(lk_barrier_party(&b, &indices));
  auto t2 = aio::create_task(lk_barrier_party(&b, &indices));
  co_await lk_settle();
  EXPECT_EQ(b.n_waiting(), 2u);
  EXPECT_TRUE(indices.empty());
  const std::size_t mine = co_await b.wait();
  indices.push_back(mine);
  co_await lk_settle();
  std::sort(indices.begin(), indices.end());
  EXPECT_EQ(indices, (std::vector<std::size_t>{0, 1, 2}));
  EXPECT_EQ(b.n_waiting(), 0u);
  EXPECT_FALSE(b.broken());
  EXPECT_TRUE(t1.done() && t2.done());
}

aio::Task<void> lk_barrier_rounds_party(aio::Barrier* b, int rounds,
                                        std::vector<std::vector<std::size_t>>* per_round) {
  for (int r = 0; r < rounds; ++r) {
    const std::size_t i = co_await b->wait();
    (*per_round)[r].push_back(i);
    if (r % 2 == 1) co_await aio::sleep(0s);
  }
}

// Several rounds, parties arriving while the previous round still drains.
aio::Task<void> lk_barrier_rounds() {
  constexpr int kRounds = 6;
  aio::Barrier b(4);
  std::vector<std::vector<std::size_t>> per_round(kRounds);
  std::vector<aio::Task<void>> parties;
  for (int i = 0; i < 4; ++i) parties.push_back(lk_barrier_rounds_party(&b, kRounds, &per_round));
  co_await aio::gather(std::move(parties));
  for (auto& r : per_round) {
    std::sort(r.begin(), r.end());
    EXPECT_EQ(r, (std::vector<std::size_t>{0, 1, 2, 3}));
  }
  EXPECT_EQ(b.n_waiting(), 0u);
}

aio::Task<void> lk_barrier_party_expect_broken(aio::Barrier* b, int* broken) {
  try {
    co_await b->wait();
  } catch (const aio::BrokenBarrierError&) {
    ++*broken;
  }
}

aio::Task<void> lk_barrier_abort_and_reset() {
  aio::Barrier b(3);
  int broken = 0;
  auto t1 = aio::create_task(lk_barrier_party_expect_broken(&b, &broken));
  auto t2 = aio::create_task(lk_barrier_party_expect_broken(&b, &broken));
  co_await lk_settle();
  EXPECT_EQ(b.n_waiting(), 2u);
  co_await b.abort();
  co_await lk_settle();
  EXPECT_EQ(broken, 2);
  EXPECT_TRUE(b.broken());
  EXPECT_EQ(b.n_waiting(), 0u);
  const bool later = co_await lk_throws<aio::BrokenBarrierError>(b.wait());
  EXPECT_TRUE(later);
  b.reset();
  EXPECT_FALSE(b.broken());
  // Reset while two wait: both get BrokenBarrierError, the barrier is usable afterwards.
  auto t3 = aio::create_task(lk_barrier_party_expect_broken(&b, &broken));
  auto t4 = aio::create_task(lk_barrier_party_expect_broken(&b, &broken));
  co_await lk_settle();
  EXPECT_EQ(b.n_waiting(), 2u);
  co_await b.reset();
  co_await lk_settle();
  EXPECT_EQ(broken, 4);
  EXPECT_FALSE(b.broken());
  EXPECT_EQ(b.n_waiting(), 0u);
  std::vector<std::size_t> indices;
  auto t5 = aio::create_task(lk_barrier_party(&b, &indices));
  auto t6 = aio::create_task(lk_barrier_party(&b, &indices));
  co_await lk_settle();
  const std::size_t mine = co_await b.wait();
  indices.push_back(mine);
  co_await lk_settle();
  EXPECT_EQ(indices.size(), 3u);
  EXPECT_TRUE(t1.done() && t2.done() && t3.done() && t4.done() && t5.done() && t6.done());
}

// A cancelled party leaves the round without breaking the barrier.
aio::Task<void> lk_barrier_cancel_party() {
  aio::Barrier b(2);
  std::vector<std::size_t> indices;
  auto t1 = aio::create_task(lk_barrier_party(&b, &indices));
  co_await lk_settle();
  EXPECT_EQ(b.n_waiting(), 1u);
  t1.cancel();
  co_await lk_settle();
  EXPECT_TRUE(t1.cancelled());
  EXPECT_EQ(b.n_waiting(), 0u);
  EXPECT_FALSE(b.broken());
  auto t2 = aio::create_task(lk_barrier_party(&b, &indices));
  const std::size_t mine = co_await aio::wait_for(b.wait(), 10s);
  indices.push_back(mine);
  co_await t2;
  std::sort(indices.begin(), indices.end());
  EXPECT_EQ(indices, (std::vector<std::size_t>{0, 1}));
}

}  // namespace

TEST(AioBarrier, PartiesMustBePositive) {
  EXPECT_THROW(aio::Barrier(0), concur::ValueError);
}
TEST(AioBarrier, ARoundGivesEachPartyAnIndex) { lk_run(lk_barrier_basic()); }
TEST(AioBarrier, ManyRounds) { lk_run(lk_barrier_rounds()); }
TEST(AioBarrier, AbortAndReset) { lk_run(lk_barrier_abort_and_reset()); }
TEST(AioBarrier, CancelledPartyLeavesTheRound) { lk_run(lk_barrier_cancel_party()); }

// ---- outside a task ----------------------------------------------------------------------------

namespace {

// A coroutine that is not an aio task (no loop runs it): what it awaits runs inline, and a
// primitive that would have to suspend throws RuntimeError.
struct LkForeignCoroutine {
  struct promise_type {
    LkForeignCoroutine get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

LkForeignCoroutine lk_outside_a_task(aio::Lock* lock, aio::Event* ev, aio::Queue<int>* q,
                                     int* outcomes) {
  const bool first = co_await lock->acquire();  // free: no suspension needed
  if (first) ++*outcomes;
  try {
    co_await lock->acquire();
  } catch (const concur::RuntimeError&) {
    ++*outcomes;
  }
  try {
    co_await ev->wait();
  } catch (const concur::RuntimeError&) {
    ++*outcomes;
  }
  try {
    co_await q->get();
  } catch (const concur::RuntimeError&) {
    ++*outcomes;
  }
}

}  // namespace

TEST(AioLocksOutsideATask, AwaitingWhatMustSuspendThrowsRuntimeError) {
  aio::Lock lock;
  aio::Event ev;
  aio::Queue<int> q;
  int outcomes = 0;
  lk_outside_a_task(&lock, &ev, &q, &outcomes);
  EXPECT_EQ(outcomes, 4);
  EXPECT_TRUE(lock.locked());
}
