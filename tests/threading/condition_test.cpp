// th::Condition: Python's threading.Condition (API.md §2 "Condition",
// include/concur/threading/condition.hpp). Scenarios ported from CPython's
// Lib/test/lock_tests.py (ConditionTests), run over all three lock kinds: the Condition's own
// RLock, a th::Lock and a th::RLock.
//
// Sequencing trick used throughout: a waiter records itself under the Condition's lock and then
// calls wait(), which links it into the wait list before it releases the lock. So once the main
// thread holds the lock and sees k records, those k waiters are queued, in record order.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "concur/errors.hpp"
#include "concur/threading.hpp"
#include "notification_race.hpp"
#include "test_support.hpp"

namespace {

namespace th = concur::threading;
using namespace std::chrono_literals;
using namespace concur_test;  // long_wait, scaled, eventually, time_of, ...

// The three ways to build a Condition. held_by_me(): does the calling thread hold the lock (for
// a Lock, which has no owner: is it locked)?
struct OwnRLock {
  static constexpr const char* kName = "own RLock";
  th::Condition cv;
  th::RLock* rlock() { return nullptr; }
  bool held_by_me() {
    // The Condition's own RLock is private; probe it the way Python's _is_owned does for an
    // RLock-like lock: another thread cannot take it while we hold it.
    bool other = false;
    std::thread([&] {
      other = cv.acquire(false);
      if (other) cv.release();
    }).join();
    return !other;
  }
};
struct OverLock {
  static constexpr const char* kName = "Lock";
  th::Lock lock;
  th::Condition cv{lock};
  th::RLock* rlock() { return nullptr; }
  bool held_by_me() { return lock.locked(); }
};
struct OverRLock {
  static constexpr const char* kName = "RLock";
  th::RLock lock;
  th::Condition cv{lock};
  th::RLock* rlock() { return &lock; }
  bool held_by_me() { return lock.is_owned(); }
};

template <class Kind>
class ConditionKinds : public ::testing::Test {
 protected:
  Kind k;
};

struct KindNames {
  template <class T>
  static std::string GetName(int) {
    std::string n = T::kName;
    std::replace(n.begin(), n.end(), ' ', '_');
    return n;
  }
};

using Kinds = ::testing::Types<OwnRLock, OverLock, OverRLock>;
TYPED_TEST_SUITE(ConditionKinds, Kinds, KindNames);

TYPED_TEST(ConditionKinds, UnacquiredWaitAndNotifyThrowRuntimeError) {
  // lock_tests.ConditionTests.test_unacquired_wait / test_unacquired_notify
  auto& cv = this->k.cv;
  EXPECT_THROW(cv.wait(), concur::RuntimeError);
  EXPECT_THROW(cv.wait(10ms), concur::RuntimeError);
  EXPECT_THROW(cv.wait(0ms), concur::RuntimeError);
  EXPECT_THROW(cv.wait_for([] { return false; }), concur::RuntimeError);
  EXPECT_THROW(cv.wait_for([] { return false; }, 10ms), concur::RuntimeError);
  EXPECT_THROW(cv.notify(), concur::RuntimeError);
  EXPECT_THROW(cv.notify(2), concur::RuntimeError);
  EXPECT_THROW(cv.notify_all(), concur::RuntimeError);
  try {
    cv.wait(10ms);
    ADD_FAILURE() << "wait() without the lock did not throw";
  } catch (const concur::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()), "");
  }
  try {
    cv.notify();
    ADD_FAILURE() << "notify() without the lock did not throw";
  } catch (const concur::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()), "");
  }
  // Nothing was left behind: the lock is free and the Condition works.
  EXPECT_TRUE(cv.acquire(false));
  EXPECT_FALSE(cv.wait(0ms));
  cv.notify();
  cv.release();
}

TYPED_TEST(ConditionKinds, WaitForWithZeroTimeoutUnacquiredThrows) {
  // Python: cond.wait_for(lambda: False, 0) without the lock calls wait(0), which raises
  // RuntimeError("cannot wait on un-acquired lock"). API.md: wait* without the lock throws.
  auto& cv = this->k.cv;
  EXPECT_THROW(cv.wait_for([] { return false; }, 0ms), concur::RuntimeError);
  EXPECT_THROW(cv.wait_for([] { return false; }, -1s), concur::RuntimeError);
}

TYPED_TEST(ConditionKinds, WaitNotify) {
  auto& cv = this->k.cv;
  int queued = 0;
  bool woke = false, result = false;
  std::jthread t([&] {
    std::lock_guard g(cv);
    ++queued;
    result = cv.wait(long_wait());
    woke = true;
    EXPECT_TRUE(this->k.held_by_me()) << "wait() returned without the lock";
  });
  ASSERT_TRUE(eventually([&] {
    std::lock_guard g(cv);
    return queued == 1;
  }));
  {
    std::lock_guard g(cv);
    EXPECT_FALSE(woke);
    cv.notify();
    EXPECT_FALSE(woke) << "the waiter ran while the notifier held the lock";
  }
  t.join();
  EXPECT_TRUE(woke);
  EXPECT_TRUE(result);
}

template <class Kind>
void check_notify(Kind& k) {
  // lock_tests.ConditionTests._check_notify, sequenced with records instead of sleeps.
  auto& cv = k.cv;
  constexpr int N = 5;
  int phase = 0, waiting = 0;
  std::vector<std::pair<bool, int>> results1, results2;
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < N; ++i)
      threads.emplace_back([&] {
        std::unique_lock g(cv);
        ++waiting;
        bool r = cv.wait(long_wait());
        results1.emplace_back(r, phase);
        ++waiting;
        r = cv.wait(long_wait());
        results2.emplace_back(r, phase);
      });
    auto locked = [&](auto pred) {
      return eventually([&] {
        std::lock_guard g(cv);
        return pred();
      });
    };
    ASSERT_TRUE(locked([&] { return waiting == N; }));
    {
      std::lock_guard g(cv);
      EXPECT_TRUE(results1.empty());
      cv.notify(3);
      phase = 1;
    }
    ASSERT_TRUE(locked([&] { return results1.size() == 3 && waiting == N + 3; }));
    {
      std::lock_guard g(cv);
      EXPECT_EQ(results1, (std::vector<std::pair<bool, int>>(3, {true, 1})));
      EXPECT_TRUE(results2.empty());
      // Notify 5: the two still in their first wait and the three in their second.
      cv.notify(5);
      phase = 2;
    }
    ASSERT_TRUE(locked([&] { return results1.size() + results2.size() == 8 && waiting == 2 * N; }));
    {
      std::lock_guard g(cv);
      auto expected1 = std::vector<std::pair<bool, int>>(3, {true, 1});
      expected1.insert(expected1.end(), 2, {true, 2});
      EXPECT_EQ(results1, expected1);
      EXPECT_EQ(results2, (std::vector<std::pair<bool, int>>(3, {true, 2})));
      cv.notify_all();
      phase = 3;
    }
  }
  auto expected2 = std::vector<std::pair<bool, int>>(3, {true, 2});
  expected2.insert(expected2.end(), 2, {true, 3});
  EXPECT_EQ(results2, expected2);
}

TYPED_TEST(ConditionKinds, NotifyNAndNotifyAll) {
  // lock_tests.ConditionTests.test_notify: twice, to check the internal state is still sound.
  check_notify(this->k);
  check_notify(this->k);
}

TYPED_TEST(ConditionKinds, WaitTimeoutReturnsFalse) {
  // lock_tests.ConditionTests.test_timeout
  auto& cv = this->k.cv;
  constexpr int N = 5;
  std::vector<std::pair<Clock::duration, bool>> results(N);
  std::vector<bool> held_after(N, false);
  concur_test::run_parallel(N, [&](int i) {
    std::lock_guard g(cv);
    const auto start = Clock::now();
    const bool r = cv.wait(50ms);
    results[i] = {Clock::now() - start, r};
    held_after[i] = this->k.held_by_me();
  });
  for (int i = 0; i < N; ++i) {
    expect_timed_out_after(results[i].first, 50ms);
    EXPECT_FALSE(results[i].second) << "no spurious wake-ups: wait() is true only when notified";
    EXPECT_TRUE(held_after[i]) << "a timed-out wait() must re-acquire the lock";
  }
}

TYPED_TEST(ConditionKinds, WaitTimeoutForms) {
  auto& cv = this->k.cv;
  std::lock_guard g(cv);
  // Zero, negative and NaN: do not wait, report the timeout, keep the lock.
  EXPECT_FALSE(cv.wait(0ms));
  EXPECT_FALSE(cv.wait(-1s));
  EXPECT_FALSE(cv.wait(std::chrono::duration<double>(-0.5)));
  EXPECT_FALSE(cv.wait(std::chrono::duration<double>(std::nan(""))));
  EXPECT_FALSE(cv.wait(std::chrono::nanoseconds::min()));
  EXPECT_TRUE(this->k.held_by_me());
  // Floating point.
  bool r = true;
  expect_timed_out_after(time_of([&] { r = cv.wait(std::chrono::duration<double>(0.05)); }), 50ms);
  EXPECT_FALSE(r);
  EXPECT_TRUE(this->k.held_by_me());
}

TYPED_TEST(ConditionKinds, HugeTimeoutWaitsForNotify) {
  auto& cv = this->k.cv;
  int queued = 0;
  std::vector<int> results;
  std::jthread t([&] {
    std::lock_guard g(cv);
    ++queued;
    results.push_back(cv.wait(std::chrono::hours::max()) ? 1 : 0);
    ++queued;
    results.push_back(cv.wait(std::chrono::duration<double>(1e300)) ? 1 : 0);
    ++queued;
    results.push_back(cv.wait_for([&] { return queued > 3; }, std::chrono::seconds::max()) ? 1 : 0);
  });
  for (int k = 1; k <= 3; ++k) {
    ASSERT_TRUE(eventually([&] {
      std::lock_guard g(cv);
      return queued == k;
    }));
    std::lock_guard g(cv);
    EXPECT_EQ(results.size(), static_cast<std::size_t>(k - 1)) << "a huge timeout expired at once";
    if (k == 3) ++queued;
    cv.notify();
  }
  t.join();
  EXPECT_EQ(results, (std::vector<int>{1, 1, 1}));
}

TYPED_TEST(ConditionKinds, WaitForPredicate) {
  // lock_tests.ConditionTests.test_waitfor. The predicate counts its calls: the waiter calls it
  // with the lock held right before each wait, so "calls == k" under the lock means queued.
  auto& cv = this->k.cv;
  int state = 0, calls = 0;
  bool result = false;
  int state_seen = -1;
  std::jthread t([&] {
    std::lock_guard g(cv);
    result = cv.wait_for([&] {
      ++calls;
      return state == 4;
    });
    state_seen = state;
  });
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(eventually([&] {
      std::lock_guard g(cv);
      return calls == i + 1;
    }));
    std::lock_guard g(cv);
    ++state;
    cv.notify();
  }
  t.join();
  EXPECT_TRUE(result);
  EXPECT_EQ(state_seen, 4);
  EXPECT_EQ(calls, 5);
}

TYPED_TEST(ConditionKinds, WaitForTimeoutReturnsPredicatesLastValue) {
  // lock_tests.ConditionTests.test_waitfor_timeout: state reaches 3, never 4.
  auto& cv = this->k.cv;
  int state = 0, calls = 0;
  bool result = true, finished = false;
  Clock::duration elapsed{};
  std::jthread t([&] {
    std::lock_guard g(cv);
    const auto start = Clock::now();
    result = cv.wait_for(
        [&] {
          ++calls;
          return state == 4;
        },
        scaled(150ms));
    elapsed = Clock::now() - start;
    finished = true;
    EXPECT_TRUE(this->k.held_by_me());
  });
  for (int i = 0; i < 3; ++i) {
    // Wait until the waiter is queued again (or has already timed out: a slow machine).
    ASSERT_TRUE(eventually([&] {
      std::lock_guard g(cv);
      return calls >= i + 1 || finished;
    }));
    std::lock_guard g(cv);
    if (finished) break;
    ++state;
    cv.notify();
  }
  t.join();
  EXPECT_FALSE(result);
  expect_timed_out_after(elapsed, scaled(150ms));
}

TYPED_TEST(ConditionKinds, WaitForValueIsPredicatesValue) {
  auto& cv = this->k.cv;
  std::lock_guard g(cv);
  // Already true: returns true at once, whatever the timeout (even zero).
  EXPECT_TRUE(cv.wait_for([] { return true; }));
  EXPECT_TRUE(cv.wait_for([] { return true; }, 0ms));
  EXPECT_TRUE(cv.wait_for([] { return true; }, -1s));
  // Never true, zero timeout: false, without waiting.
  int calls = 0;
  EXPECT_FALSE(cv.wait_for(
      [&] {
        ++calls;
        return false;
      },
      0ms));
  EXPECT_GE(calls, 1);
  // Becomes true only at the timeout's end (a pred that flips after its 2nd call): true.
  calls = 0;
  EXPECT_TRUE(cv.wait_for([&] { return ++calls >= 2; }, 20ms));
  EXPECT_TRUE(this->k.held_by_me());
}

TYPED_TEST(ConditionKinds, WaitForPropagatesPredicateException) {
  auto& cv = this->k.cv;
  std::lock_guard g(cv);
  EXPECT_THROW(cv.wait_for([]() -> bool { throw std::logic_error("pred"); }), std::logic_error);
  EXPECT_TRUE(this->k.held_by_me());
  // Thrown on the second call, after a (timed-out) wait: the lock is held again when it escapes.
  int calls = 0;
  EXPECT_THROW(cv.wait_for(
                   [&]() -> bool {
                     if (++calls == 2) throw std::logic_error("pred");
                     return false;
                   },
                   10ms),
               std::logic_error);
  EXPECT_TRUE(this->k.held_by_me());
}

TYPED_TEST(ConditionKinds, FifoNotifyWakesOldestFirst) {
  auto& cv = this->k.cv;
  constexpr int N = 4;
  std::vector<int> queued, woken;
  std::vector<std::jthread> threads;
  auto locked = [&](auto pred) {
    return eventually([&] {
      std::lock_guard g(cv);
      return pred();
    });
  };
  for (int i = 0; i < N; ++i) {
    threads.emplace_back([&, i] {
      std::lock_guard g(cv);
      queued.push_back(i);
      EXPECT_TRUE(cv.wait(long_wait()));
      woken.push_back(i);
    });
    // Start the next waiter only once this one is queued: the queue order is 0, 1, 2, 3.
    ASSERT_TRUE(locked([&] { return queued.size() == static_cast<std::size_t>(i + 1); }));
  }
  {
    std::lock_guard g(cv);
    cv.notify(1);
  }
  ASSERT_TRUE(locked([&] { return woken.size() == 1; }));
  give_time_to_misbehave();
  {
    std::lock_guard g(cv);
    EXPECT_EQ(woken, std::vector<int>{0});
    cv.notify(2);
  }
  ASSERT_TRUE(locked([&] { return woken.size() == 3; }));
  give_time_to_misbehave();
  {
    std::lock_guard g(cv);
    ASSERT_EQ(woken.size(), 3u);
    EXPECT_EQ(woken[0], 0);
    EXPECT_EQ(std::set<int>(woken.begin() + 1, woken.end()), (std::set<int>{1, 2}));
    cv.notify_all();
  }
  threads.clear();
  EXPECT_EQ(woken.size(), static_cast<std::size_t>(N));
  EXPECT_EQ(woken.back(), 3);
}

TYPED_TEST(ConditionKinds, NotifyZeroAndNegative) {
  auto& cv = this->k.cv;
  {
    std::lock_guard g(cv);
    EXPECT_THROW(cv.notify(-1), concur::ValueError);
    EXPECT_NO_THROW(cv.notify(0));
    EXPECT_NO_THROW(cv.notify());  // nobody waits: a no-op
    EXPECT_NO_THROW(cv.notify(100));
    EXPECT_NO_THROW(cv.notify_all());
  }
  int queued = 0;
  bool woke = false;
  std::jthread t([&] {
    std::lock_guard g(cv);
    ++queued;
    EXPECT_TRUE(cv.wait(long_wait()));
    woke = true;
  });
  ASSERT_TRUE(eventually([&] {
    std::lock_guard g(cv);
    return queued == 1;
  }));
  {
    std::lock_guard g(cv);
    cv.notify(0);
    EXPECT_THROW(cv.notify(-5), concur::ValueError);
  }
  give_time_to_misbehave();
  {
    std::lock_guard g(cv);
    EXPECT_FALSE(woke) << "notify(0) or a rejected notify(-5) woke a waiter";
    cv.notify();
  }
  t.join();
  EXPECT_TRUE(woke);
}

TYPED_TEST(ConditionKinds, NoLostNotificationWhenTimeoutRacesNotify) {
  // The protocol is described in notification_race.hpp.
  const auto r = run_notification_race(this->k.cv, 3, 300 / CONCUR_TEST_TIME_SCALE, false,
                                       {0us, 1us, 20us, 100us, 500us});
  EXPECT_TRUE(r.invariant_ok);
  // How many notifications fit in the time bound depends on the machine; only correctness is
  // asserted.
  this->RecordProperty("sent", r.sent);
  EXPECT_GT(r.sent, 0);
  EXPECT_EQ(r.received, r.sent) << "a notification was lost (or a wait returned true spuriously)";
  EXPECT_EQ(r.queued, 0);
  this->RecordProperty("timeouts", r.timeouts);
}

TYPED_TEST(ConditionKinds, LockGuardAndUniqueLock) {
  auto& cv = this->k.cv;
  {
    std::lock_guard g(cv);
    EXPECT_TRUE(this->k.held_by_me());
    cv.notify();
  }
  EXPECT_TRUE(cv.acquire(false));
  cv.release();
  {
    std::unique_lock ul(cv, std::try_to_lock);
    EXPECT_TRUE(ul.owns_lock());
    EXPECT_FALSE(cv.wait(1ms));
  }
  EXPECT_THROW(
      {
        std::lock_guard g(cv);
        throw std::logic_error("boom");
      },
      std::logic_error);
  EXPECT_TRUE(cv.acquire(false)) << "lock_guard did not release on exception";
  cv.release();
  EXPECT_TRUE(cv.acquire(10ms));
  cv.release();
  EXPECT_TRUE(cv.acquire(true, 10ms));
  cv.release();
  EXPECT_THROW(cv.acquire(false, 10ms), concur::ValueError);
}

TEST(Condition, DefaultConditionIsReentrant) {
  // lock_tests.ConditionTests.test_acquire, first half.
  th::Condition cv;
  cv.acquire();
  cv.acquire();
  cv.release();
  cv.release();
  EXPECT_THROW(cv.release(), concur::RuntimeError);
}

TEST(Condition, OverLockSharesTheLock) {
  // lock_tests.ConditionTests.test_acquire, second half.
  th::Lock lock;
  th::Condition cv(lock);
  cv.acquire();
  EXPECT_FALSE(lock.acquire(false));
  cv.release();
  EXPECT_TRUE(lock.acquire(false));
  EXPECT_FALSE(cv.acquire(false));
  lock.release();
  {
    std::lock_guard g(cv);
    EXPECT_FALSE(lock.acquire(false));
  }
  EXPECT_FALSE(lock.locked());
}

TEST(Condition, OverRLockSharesTheLock) {
  th::RLock r;
  th::Condition cv(r);
  cv.acquire();
  EXPECT_TRUE(r.is_owned());
  EXPECT_TRUE(r.acquire(false));  // same owner: recursion
  r.release();
  cv.acquire();
  r.release();
  cv.release();
  EXPECT_FALSE(r.locked());
}

TEST(Condition, OverLockHeldByAnotherThreadPassesTheCheck) {
  // A Lock has no owner, so "is the lock held?" is all Python (Condition._is_owned tries
  // lock.acquire(False)) and concur can check: notify() on a Condition whose Lock is held by
  // ANOTHER thread does not raise. Documented behaviour, not an endorsement.
  th::Lock lock;
  th::Condition cv(lock);
  th::Event holding, let_go;
  std::jthread holder([&] {
    lock.acquire();
    holding.set();
    let_go.wait(long_wait());
    lock.release();
  });
  ASSERT_TRUE(holding.wait(long_wait()));
  EXPECT_NO_THROW(cv.notify());
  EXPECT_NO_THROW(cv.notify(3));
  EXPECT_NO_THROW(cv.notify_all());
  let_go.set();
  holder.join();
  EXPECT_THROW(cv.notify(), concur::RuntimeError);
}

TEST(Condition, OverRLockHeldByAnotherThreadThrows) {
  // An RLock is owner-bound: holding it in another thread does not count.
  th::RLock r;
  th::Condition cv(r);
  th::Event holding, let_go;
  std::jthread holder([&] {
    r.acquire();
    holding.set();
    let_go.wait(long_wait());
    r.release();
  });
  ASSERT_TRUE(holding.wait(long_wait()));
  EXPECT_THROW(cv.wait(10ms), concur::RuntimeError);
  EXPECT_THROW(cv.notify(), concur::RuntimeError);
  EXPECT_THROW(cv.notify_all(), concur::RuntimeError);
  let_go.set();
  holder.join();
  EXPECT_FALSE(r.locked());
}

TEST(Condition, DefaultConditionHeldByAnotherThreadThrows) {
  th::Condition cv;
  th::Event holding, let_go;
  std::jthread holder([&] {
    cv.acquire();
    holding.set();
    let_go.wait(long_wait());
    cv.release();
  });
  ASSERT_TRUE(holding.wait(long_wait()));
  EXPECT_THROW(cv.wait(10ms), concur::RuntimeError);
  EXPECT_THROW(cv.notify(), concur::RuntimeError);
  EXPECT_THROW(cv.release(), concur::RuntimeError);
  let_go.set();
  holder.join();
}

TEST(Condition, WaitOverLockReleasesIt) {
  th::Lock lock;
  th::Condition cv(lock);
  bool other_ran = false;
  lock.acquire();
  std::jthread t([&] {
    // Succeeds only once the main thread's wait() has released the lock.
    if (lock.acquire(long_wait())) {
      other_ran = true;
      cv.notify();
      lock.release();
    }
  });
  EXPECT_TRUE(cv.wait_for([&] { return other_ran; }, long_wait()));
  EXPECT_TRUE(lock.locked());
  lock.release();
  EXPECT_THROW(lock.release(), concur::RuntimeError);
}

// wait() on an RLock held `depth` deep releases it completely (another thread acquires it
// meanwhile) and restores the same depth: `depth` releases succeed afterwards, one more throws.
void check_recursive_wait(th::RLock& r, th::Condition& cv) {
  constexpr int kDepth = 3;
  for (int i = 0; i < kDepth; ++i) r.acquire();
  bool other_ran = false;
  std::jthread t([&] {
    if (r.acquire(long_wait())) {
      other_ran = true;
      cv.notify();
      r.release();
    }
  });
  EXPECT_TRUE(cv.wait_for([&] { return other_ran; }, long_wait()));
  t.join();
  EXPECT_TRUE(other_ran);
  EXPECT_TRUE(r.is_owned());
  for (int i = 0; i < kDepth; ++i) EXPECT_NO_THROW(r.release()) << "release " << i + 1;
  EXPECT_THROW(r.release(), concur::RuntimeError);
  EXPECT_FALSE(r.locked());
}

TEST(Condition, RecursiveRLockWaitReleasesFullyAndRestoresDepth) {
  th::RLock r;
  th::Condition cv(r);
  check_recursive_wait(r, cv);
  check_recursive_wait(r, cv);  // and the state after is sound
}

TEST(Condition, RecursiveOwnRLockWaitReleasesFullyAndRestoresDepth) {
  th::Condition cv;
  constexpr int kDepth = 3;
  for (int i = 0; i < kDepth; ++i) cv.acquire();
  bool other_ran = false;
  std::jthread t([&] {
    if (cv.acquire(long_wait())) {
      other_ran = true;
      cv.notify();
      cv.release();
    }
  });
  EXPECT_TRUE(cv.wait_for([&] { return other_ran; }, long_wait()));
  t.join();
  for (int i = 0; i < kDepth; ++i) EXPECT_NO_THROW(cv.release()) << "release " << i + 1;
  EXPECT_THROW(cv.release(), concur::RuntimeError);
}

TEST(Condition, RecursiveWaitRestoresDepthOnTimeout) {
  th::RLock r;
  th::Condition cv(r);
  r.acquire();
  r.acquire();
  EXPECT_FALSE(cv.wait(10ms));
  EXPECT_TRUE(r.is_owned());
  r.release();
  EXPECT_TRUE(r.is_owned());
  r.release();
  EXPECT_FALSE(r.locked());
  EXPECT_THROW(r.release(), concur::RuntimeError);
}

TEST(Condition, TwoConditionsOverOneLock) {
  // Queue-style: not_empty and not_full share one Lock; a notify on one does not wake the other.
  th::Lock lock;
  th::Condition not_empty(lock), not_full(lock);
  int items = 0, empty_waiters = 0;
  bool got = false;
  std::jthread consumer([&] {
    std::lock_guard g(lock);
    ++empty_waiters;
    got = not_empty.wait_for([&] { return items > 0; }, long_wait());
    if (got) --items;
  });
  ASSERT_TRUE(eventually([&] {
    std::lock_guard g(lock);
    return empty_waiters == 1;
  }));
  {
    std::lock_guard g(lock);
    not_full.notify_all();  // the wrong Condition: nobody wakes
  }
  give_time_to_misbehave();
  {
    std::lock_guard g(lock);
    EXPECT_FALSE(got);
    ++items;
    not_empty.notify();
  }
  consumer.join();
  EXPECT_TRUE(got);
  EXPECT_EQ(items, 0);
}

static_assert(!std::is_copy_constructible_v<th::Condition>);

}  // namespace
