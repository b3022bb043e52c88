// th::Lock: Python's threading.Lock (API.md §2 "Locks", include/concur/threading/lock.hpp).
// Scenarios ported from CPython's Lib/test/lock_tests.py (BaseLockTests, LockTests) plus the
// C++ side of the contract: Lockable/TimedLockable and every timeout form of API.md §1.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "concur/errors.hpp"
#include "concur/threading.hpp"
#include "test_support.hpp"

namespace {

namespace th = concur::threading;
using namespace std::chrono_literals;
using namespace concur_test;  // long_wait, scaled, eventually, time_of, ...

TEST(Lock, AcquireRelease) {
  th::Lock lock;
  EXPECT_FALSE(lock.locked());
  EXPECT_TRUE(lock.acquire());
  EXPECT_TRUE(lock.locked());
  lock.release();
  EXPECT_FALSE(lock.locked());
  // Again: the state after a release is the initial one.
  EXPECT_TRUE(lock.acquire());
  lock.release();
  EXPECT_FALSE(lock.locked());
}

TEST(Lock, TryAcquire) {
  th::Lock lock;
  EXPECT_TRUE(lock.acquire(false));
  EXPECT_TRUE(lock.locked());
  EXPECT_FALSE(lock.acquire(false));  // held, even by this thread: a Lock is not re-entrant
  EXPECT_TRUE(lock.locked());
  lock.release();
  EXPECT_TRUE(lock.acquire(false));
  lock.release();
}

TEST(Lock, TryAcquireContended) {
  th::Lock lock;
  lock.acquire();
  bool result = true;
  std::thread([&] { result = lock.acquire(false); }).join();
  EXPECT_FALSE(result);
  lock.release();
  std::thread([&] { result = lock.acquire(false); }).join();
  EXPECT_TRUE(result);
  EXPECT_TRUE(lock.locked());
  lock.release();  // released by another thread than the acquirer: allowed
}

TEST(Lock, AcquireContendedWaitsForRelease) {
  // lock_tests.BaseLockTests.test_acquire_contended
  th::Lock lock;
  lock.acquire();
  constexpr int kThreads = 5;
  std::atomic<int> started{0}, finished{0}, succeeded{0};
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < kThreads; ++i)
      threads.emplace_back([&] {
        started.fetch_add(1);
        if (lock.acquire(true, long_wait())) {
          succeeded.fetch_add(1);
          lock.release();
        }
        finished.fetch_add(1);
      });
    ASSERT_TRUE(eventually([&] { return started.load() == kThreads; }));
    give_time_to_misbehave();
    EXPECT_EQ(finished.load(), 0) << "a thread acquired a held Lock";
    lock.release();
  }
  EXPECT_EQ(finished.load(), kThreads);
  EXPECT_EQ(succeeded.load(), kThreads);
  EXPECT_FALSE(lock.locked());
}

TEST(Lock, WithReleasesOnException) {
  // lock_tests.BaseLockTests.test_with: std::lock_guard is the C++ `with`.
  th::Lock lock;
  {
    std::lock_guard g(lock);
    EXPECT_TRUE(lock.locked());
  }
  EXPECT_FALSE(lock.locked());
  EXPECT_THROW(
      {
        std::lock_guard g(lock);
        throw std::logic_error("boom");
      },
      std::logic_error);
  EXPECT_FALSE(lock.locked());
  bool other = false;
  std::thread([&] {
    other = lock.acquire(false);
    if (other) lock.release();
  }).join();
  EXPECT_TRUE(other);
}

TEST(Lock, ReacquireBlocksUntilAnotherThreadReleases) {
  // lock_tests.LockTests.test_reacquire: a Lock is not re-entrant; a second acquire by the
  // same thread waits until someone (anyone) releases it.
  th::Lock lock;
  th::Event first_done;
  std::atomic<int> phase{0};
  std::atomic<bool> second_ok{false};
  std::jthread t([&] {
    lock.acquire();
    phase = 1;
    first_done.set();
    second_ok = lock.acquire(true, long_wait());
    phase = 2;
  });
  ASSERT_TRUE(first_done.wait(long_wait()));
  give_time_to_misbehave();
  EXPECT_EQ(phase.load(), 1) << "a Lock let its holder acquire it twice";
  lock.release();  // released by the main thread, acquired by t
  t.join();
  EXPECT_EQ(phase.load(), 2);
  EXPECT_TRUE(second_ok.load());
  EXPECT_TRUE(lock.locked());
  lock.release();
}

TEST(Lock, ReleaseByAnotherThread) {
  // lock_tests.LockTests.test_different_thread: not owner-bound.
  th::Lock lock;
  lock.acquire();
  std::thread([&] { EXPECT_NO_THROW(lock.release()); }).join();
  EXPECT_FALSE(lock.locked());
  EXPECT_TRUE(lock.acquire(false));
  lock.release();
}

TEST(Lock, ReleaseUnlockedThrowsRuntimeError) {
  th::Lock lock;
  EXPECT_THROW(lock.release(), concur::RuntimeError);
  lock.acquire();
  lock.release();
  try {
    lock.release();
    ADD_FAILURE() << "release() of an unlocked Lock did not throw";
  } catch (const concur::RuntimeError& e) {
    const std::string what = e.what();
    EXPECT_FALSE(what.empty());
    EXPECT_NE(what.find("lock"), std::string::npos) << "unhelpful message: " << what;
  }
  // The failed release changed nothing.
  EXPECT_FALSE(lock.locked());
  EXPECT_TRUE(lock.acquire(false));
  lock.release();
  // RuntimeError is a concur::Error is a std::runtime_error.
  EXPECT_THROW(lock.release(), concur::Error);
  EXPECT_THROW(lock.release(), std::runtime_error);
  // unlock() (the Lockable spelling) reports the same misuse.
  EXPECT_THROW(lock.unlock(), concur::RuntimeError);
}

TEST(Lock, NonBlockingWithTimeoutIsValueError) {
  th::Lock lock;
  EXPECT_THROW(lock.acquire(false, 50ms), concur::ValueError);
  EXPECT_THROW(lock.acquire(false, 0ms), concur::ValueError);
  EXPECT_THROW(lock.acquire(false, std::chrono::duration<double>(1.0)), concur::ValueError);
  EXPECT_FALSE(lock.locked()) << "a rejected acquire must not take the lock";
  lock.acquire();
  EXPECT_THROW(lock.acquire(false, 50ms), concur::ValueError);
  EXPECT_TRUE(lock.locked());
  lock.release();
  try {
    lock.acquire(false, 1s);
    ADD_FAILURE() << "no ValueError";
  } catch (const concur::ValueError& e) {
    EXPECT_NE(std::string(e.what()), "");
  }
}

TEST(Lock, TimedAcquireTimesOut) {
  // lock_tests.BaseLockTests.test_timeout: a timed acquire of a held lock fails after ~timeout,
  // from the holder's thread and from another one.
  th::Lock lock;
  lock.acquire();
  bool ok = true;
  expect_timed_out_after_50ms(time_of([&] { ok = lock.acquire(true, 50ms); }));
  EXPECT_FALSE(ok);
  expect_timed_out_after_50ms(time_of([&] { ok = lock.acquire(50ms); }));
  EXPECT_FALSE(ok);
  Clock::duration elapsed{};
  std::thread([&] { elapsed = time_of([&] { ok = lock.acquire(true, 50ms); }); }).join();
  EXPECT_FALSE(ok);
  expect_timed_out_after_50ms(elapsed);
  EXPECT_TRUE(lock.locked());
  lock.release();
}

TEST(Lock, TimedAcquireSucceeds) {
  th::Lock lock;
  // Free: succeeds at once (long before its timeout).
  bool ok = false;
  const auto elapsed = time_of([&] { ok = lock.acquire(true, long_wait()); });
  EXPECT_TRUE(ok);
  EXPECT_LT(elapsed, long_wait());
  lock.release();
  EXPECT_TRUE(lock.acquire(50ms));
  lock.release();
  // Held, then released while a timed acquire waits: it succeeds.
  lock.acquire();
  th::Event started;
  std::atomic<int> result{-1};
  std::jthread t([&] {
    started.set();
    result = lock.acquire(long_wait()) ? 1 : 0;
  });
  ASSERT_TRUE(started.wait(long_wait()));
  give_time_to_misbehave();
  EXPECT_EQ(result.load(), -1) << "timed acquire of a held lock returned early";
  lock.release();
  t.join();
  EXPECT_EQ(result.load(), 1);
  EXPECT_TRUE(lock.locked());
  lock.release();
}

TEST(Lock, StateAfterTimeout) {
  // lock_tests.LockTests.test_state_after_timeout (bpo-11618).
  th::Lock lock;
  lock.acquire();
  EXPECT_FALSE(lock.acquire(10ms));
  lock.release();
  EXPECT_FALSE(lock.locked());
  EXPECT_TRUE(lock.acquire(false));
  lock.release();
}

TEST(Lock, ZeroAndNegativeTimeoutsDoNotBlock) {
  th::Lock lock;
  // Free: they succeed.
  EXPECT_TRUE(lock.acquire(0ms));
  lock.release();
  EXPECT_TRUE(lock.acquire(true, 0s));
  lock.release();
  EXPECT_TRUE(lock.acquire(-1s));
  lock.release();
  EXPECT_TRUE(lock.acquire(true, -5ms));
  lock.release();
  EXPECT_TRUE(lock.acquire(std::chrono::duration<double>(-0.5)));
  lock.release();
  EXPECT_TRUE(lock.acquire(std::chrono::duration<double>(std::nan(""))));
  lock.release();
  EXPECT_TRUE(lock.try_lock_for(0ms));
  lock.release();
  EXPECT_TRUE(lock.try_lock_for(-1h));
  lock.release();
  EXPECT_TRUE(lock.try_lock_until(Clock::now() - 1s));
  lock.release();
  // Held: they fail without waiting (a test that blocked here would trip the watchdog).
  lock.acquire();
  EXPECT_FALSE(lock.acquire(0ms));
  EXPECT_FALSE(lock.acquire(true, 0s));
  EXPECT_FALSE(lock.acquire(-1s));
  EXPECT_FALSE(lock.acquire(true, -5ms));
  EXPECT_FALSE(lock.acquire(std::chrono::duration<double>(-0.5)));
  EXPECT_FALSE(lock.acquire(std::chrono::duration<double>(std::nan(""))));
  EXPECT_FALSE(lock.acquire(std::chrono::nanoseconds::min()));
  EXPECT_FALSE(lock.acquire(std::chrono::hours::min()));
  EXPECT_FALSE(lock.acquire(std::chrono::duration<double>(-1e300)));
  EXPECT_FALSE(lock.acquire(std::chrono::duration<double>(-INFINITY)));
  EXPECT_FALSE(lock.try_lock_for(0ms));
  EXPECT_FALSE(lock.try_lock_for(-1h));
  EXPECT_FALSE(lock.try_lock_until(Clock::now()));
  EXPECT_FALSE(lock.try_lock_until(Clock::now() - 1h));
  EXPECT_FALSE(lock.try_lock_until(Clock::time_point::min()));
  EXPECT_FALSE(lock.try_lock_until(std::chrono::system_clock::now() - 1s));
  EXPECT_TRUE(lock.locked());
  lock.release();
}

TEST(Lock, FloatingPointDurations) {
  th::Lock lock;
  EXPECT_TRUE(lock.acquire(std::chrono::duration<double>(0.05)));
  bool ok = true;
  expect_timed_out_after_50ms(time_of([&] { ok = lock.acquire(std::chrono::duration<double>(0.05)); }));
  EXPECT_FALSE(ok);
  expect_timed_out_after_50ms(
      time_of([&] { ok = lock.acquire(true, std::chrono::duration<double, std::milli>(50.0)); }));
  EXPECT_FALSE(ok);
  expect_timed_out_after_50ms(
      time_of([&] { ok = lock.try_lock_for(std::chrono::duration<float>(0.05f)); }));
  EXPECT_FALSE(ok);
  lock.release();
  EXPECT_TRUE(lock.try_lock_for(std::chrono::duration<long double>(0.05L)));
  lock.release();
}

TEST(Lock, HugeTimeoutsDoNotOverflow) {
  // Each of these means "wait (practically) forever"; on a free lock they succeed at once.
  th::Lock lock;
  EXPECT_TRUE(lock.acquire(std::chrono::hours::max()));
  lock.release();
  EXPECT_TRUE(lock.acquire(true, std::chrono::hours::max()));
  lock.release();
  EXPECT_TRUE(lock.acquire(std::chrono::nanoseconds::max()));
  lock.release();
  EXPECT_TRUE(lock.acquire(std::chrono::seconds::max()));
  lock.release();
  EXPECT_TRUE(lock.acquire(std::chrono::milliseconds::max()));
  lock.release();
  EXPECT_TRUE(lock.acquire(std::chrono::duration<double>(1e300)));
  lock.release();
  EXPECT_TRUE(lock.acquire(std::chrono::duration<double>(INFINITY)));
  lock.release();
  EXPECT_TRUE(lock.acquire(std::chrono::duration<double, std::ratio<3600>>(1e300)));
  lock.release();
  EXPECT_TRUE(lock.acquire(std::chrono::duration<unsigned long long>::max()));
  lock.release();
  EXPECT_TRUE(lock.try_lock_for(std::chrono::hours::max()));
  lock.release();
  EXPECT_TRUE(lock.try_lock_until(Clock::time_point::max()));
  lock.release();
  EXPECT_TRUE(lock.try_lock_until(std::chrono::system_clock::time_point::max()));
  lock.release();
}

TEST(Lock, HugeTimeoutOnHeldLockWaitsForRelease) {
  // An overflowing timeout computation would show up as an acquire that fails at once (a
  // deadline in the past) instead of waiting for the release.
  th::Lock lock;
  const std::vector<std::function<bool()>> forms = {
      [&] { return lock.acquire(std::chrono::hours::max()); },
      [&] { return lock.acquire(true, std::chrono::nanoseconds::max()); },
      [&] { return lock.acquire(std::chrono::duration<double>(1e300)); },
      [&] { return lock.try_lock_for(std::chrono::seconds::max()); },
      [&] { return lock.try_lock_until(Clock::time_point::max()); },
      [&] { return lock.try_lock_until(std::chrono::system_clock::time_point::max()); },
  };
  for (std::size_t i = 0; i < forms.size(); ++i) {
    SCOPED_TRACE("form " + std::to_string(i));
    lock.acquire();
    th::Event started;
    std::atomic<int> result{-1};
    std::jthread t([&] {
      started.set();
      result = forms[i]() ? 1 : 0;
    });
    ASSERT_TRUE(started.wait(long_wait()));
    give_time_to_misbehave();
    EXPECT_EQ(result.load(), -1) << "returned before the lock was released";
    lock.release();
    t.join();
    EXPECT_EQ(result.load(), 1);
    if (lock.locked()) lock.release();
  }
}

TEST(Lock, NamedLock) {
  th::Lock unnamed;
  EXPECT_EQ(unnamed.name(), "");
  th::Lock named("account-A");
  EXPECT_EQ(named.name(), "account-A");
  const std::string dynamic = std::string("acct-") + std::to_string(42);
  th::Lock from_string(dynamic);
  EXPECT_EQ(from_string.name(), "acct-42");
  // A named lock is an ordinary lock.
  EXPECT_TRUE(named.acquire(false));
  EXPECT_FALSE(named.acquire(false));
  named.release();
  EXPECT_FALSE(named.locked());
}

TEST(Lock, LockGuardAndUniqueLock) {
  th::Lock lock;
  {
    std::lock_guard<th::Lock> g(lock);
    EXPECT_TRUE(lock.locked());
  }
  EXPECT_FALSE(lock.locked());
  {
    std::unique_lock ul(lock);
    EXPECT_TRUE(ul.owns_lock());
    ul.unlock();
    EXPECT_FALSE(lock.locked());
    EXPECT_TRUE(ul.try_lock());
    EXPECT_TRUE(lock.locked());
  }
  EXPECT_FALSE(lock.locked());
  {
    std::unique_lock ul(lock, std::defer_lock);
    EXPECT_FALSE(ul.owns_lock());
    EXPECT_TRUE(ul.try_lock_for(50ms));
    bool other_owns = true;
    std::thread([&] {
      std::unique_lock other(lock, std::try_to_lock);
      other_owns = other.owns_lock();
    }).join();
    EXPECT_FALSE(other_owns);
  }
  {
    std::unique_lock ul(lock, std::try_to_lock);
    EXPECT_TRUE(ul.owns_lock());
    std::unique_lock ul2(lock, std::defer_lock);
    EXPECT_FALSE(ul2.try_lock_until(Clock::now() + 10ms));
  }
  {
    std::unique_lock ul(lock, 50ms);  // try_lock_for
    EXPECT_TRUE(ul.owns_lock());
  }
  {
    std::unique_lock ul(lock, std::chrono::system_clock::now() + 50ms);  // try_lock_until
    EXPECT_TRUE(ul.owns_lock());
  }
  EXPECT_FALSE(lock.locked());
}

TEST(Lock, TryLockForAndUntil) {
  th::Lock lock;
  EXPECT_TRUE(lock.try_lock());
  EXPECT_FALSE(lock.try_lock());
  bool ok = true;
  expect_timed_out_after_50ms(time_of([&] { ok = lock.try_lock_for(50ms); }));
  EXPECT_FALSE(ok);
  expect_timed_out_after_50ms(time_of([&] { ok = lock.try_lock_until(Clock::now() + 50ms); }));
  EXPECT_FALSE(ok);
  expect_timed_out_after_50ms(
      time_of([&] { ok = lock.try_lock_until(std::chrono::system_clock::now() + 50ms); }));
  EXPECT_FALSE(ok);
  // A time_point with a floating-point duration.
  expect_timed_out_after_50ms(time_of([&] {
    ok = lock.try_lock_until(Clock::now() + std::chrono::duration<double>(0.05));
  }));
  EXPECT_FALSE(ok);
  lock.unlock();
  EXPECT_TRUE(lock.try_lock_for(50ms));
  lock.unlock();
  EXPECT_TRUE(lock.try_lock_until(Clock::now() + 50ms));
  lock.unlock();
  EXPECT_TRUE(lock.try_lock_until(std::chrono::system_clock::now() + 50ms));
  lock.unlock();
  EXPECT_FALSE(lock.locked());
}

TEST(Lock, TryLockUntilWakesOnRelease) {
  th::Lock lock;
  lock.lock();
  th::Event started;
  std::atomic<int> steady_result{-1}, system_result{-1};
  std::jthread a([&] {
    started.set();
    steady_result = lock.try_lock_until(Clock::now() + long_wait()) ? 1 : 0;
    if (steady_result == 1) lock.unlock();
  });
  std::jthread b([&] {
    started.wait();
    system_result =
        lock.try_lock_until(std::chrono::system_clock::now() + long_wait()) ? 1 : 0;
    if (system_result == 1) lock.unlock();
  });
  ASSERT_TRUE(started.wait(long_wait()));
  give_time_to_misbehave();
  EXPECT_EQ(steady_result.load(), -1);
  lock.unlock();
  a.join();
  b.join();
  EXPECT_EQ(steady_result.load(), 1);
  EXPECT_EQ(system_result.load(), 1);
  EXPECT_FALSE(lock.locked());
}

TEST(Lock, ScopedLockTwoLocksIsDeadlockFree) {
  // std::scoped_lock (std::lock) needs try_lock(): two threads taking the same two locks in
  // opposite orders never deadlock and never lose an increment.
  th::Lock a("A"), b("B");
  const int iterations = 5000 / CONCUR_TEST_TIME_SCALE;
  const long counter = scoped_lock_in_opposite_orders(a, b, iterations, [] {});
  EXPECT_EQ(counter, 2L * iterations);
  EXPECT_FALSE(a.locked());
  EXPECT_FALSE(b.locked());
  // std::lock with a Lock held elsewhere waits rather than failing.
  a.acquire();
  th::Event started;
  std::atomic<bool> done{false};
  std::jthread t([&] {
    started.set();
    std::scoped_lock g(b, a);
    done = true;
  });
  ASSERT_TRUE(started.wait(long_wait()));
  give_time_to_misbehave();
  EXPECT_FALSE(done.load());
  a.release();
  t.join();
  EXPECT_TRUE(done.load());
  EXPECT_FALSE(a.locked());
  EXPECT_FALSE(b.locked());
}

TEST(Lock, ManyForeignThreads) {
  // lock_tests.BaseLockTests.test_thread_leak, C++ flavour: a Lock is usable from threads concur
  // did not start.
  th::Lock lock;
  std::atomic<int> acquired{0};
  concur_test::run_parallel(15, [&](int) {
    if (lock.acquire(long_wait())) {
      acquired.fetch_add(1);
      lock.release();
    }
  });
  EXPECT_EQ(acquired.load(), 15);
  EXPECT_FALSE(lock.locked());
}

static_assert(!std::is_copy_constructible_v<th::Lock>);
static_assert(!std::is_copy_assignable_v<th::Lock>);

}  // namespace
