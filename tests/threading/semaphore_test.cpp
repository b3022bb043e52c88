// th::Semaphore and th::BoundedSemaphore: Python's threading.Semaphore / BoundedSemaphore
// (API.md §2, include/concur/threading/semaphore.hpp). Scenarios ported from CPython's
// Lib/test/lock_tests.py (BaseSemaphoreTests, SemaphoreTests, BoundedSemaphoreTests).
//
// Blocked acquirers are observed through n_waiting(): a thread counted there is queued, and one
// started only after n_waiting() reached k is queued behind those k.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <limits>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "concur/errors.hpp"
#include "concur/threading.hpp"
#include "test_support.hpp"

namespace {

namespace th = concur::threading;
using namespace std::chrono_literals;
using namespace concur_test;  // long_wait, scaled, eventually, time_of, ...

TEST(Semaphore, ConstructorRejectsNegativeValues) {
  // lock_tests.BaseSemaphoreTests.test_constructor
  EXPECT_THROW(th::Semaphore(-1), concur::ValueError);
  EXPECT_THROW(th::Semaphore{std::numeric_limits<std::ptrdiff_t>::min()}, concur::ValueError);
  EXPECT_THROW(th::BoundedSemaphore(-1), concur::ValueError);
  EXPECT_THROW(th::BoundedSemaphore(-100), concur::ValueError);
  try {
    th::Semaphore s(-1);
    ADD_FAILURE();
  } catch (const concur::ValueError& e) {
    EXPECT_NE(std::string(e.what()), "");
  }
  EXPECT_NO_THROW(th::Semaphore(0));
  EXPECT_NO_THROW(th::BoundedSemaphore(0));
}

TEST(Semaphore, InitialValue) {
  th::Semaphore def;
  EXPECT_EQ(def.value(), 1);  // the default is 1
  th::Semaphore s(3);
  EXPECT_EQ(s.value(), 3);
  EXPECT_EQ(s.n_waiting(), 0u);
  EXPECT_TRUE(s.acquire(false));
  EXPECT_TRUE(s.acquire(false));
  EXPECT_TRUE(s.acquire(false));
  EXPECT_EQ(s.value(), 0);
  EXPECT_FALSE(s.acquire(false));
  EXPECT_EQ(s.value(), 0);
  th::Semaphore zero(0);
  EXPECT_EQ(zero.value(), 0);
  EXPECT_FALSE(zero.acquire(false));
}

TEST(Semaphore, Acquire) {
  // lock_tests.BaseSemaphoreTests.test_acquire
  th::Semaphore s1(1);
  s1.acquire();
  s1.release();
  th::Semaphore s2(2);
  EXPECT_TRUE(s2.acquire());
  EXPECT_TRUE(s2.acquire());
  EXPECT_EQ(s2.value(), 0);
  s2.release();
  s2.release();
  EXPECT_EQ(s2.value(), 2);
}

TEST(Semaphore, TryAcquire) {
  // lock_tests.BaseSemaphoreTests.test_try_acquire
  th::Semaphore s(2);
  EXPECT_TRUE(s.acquire(false));
  EXPECT_TRUE(s.acquire(false));
  EXPECT_FALSE(s.acquire(false));
  s.release();
  EXPECT_TRUE(s.acquire(false));
}

TEST(Semaphore, TryAcquireContended) {
  // lock_tests.BaseSemaphoreTests.test_try_acquire_contended: 3 units for 10 tries.
  th::Semaphore s(4);
  s.acquire();
  std::atomic<int> successes{0}, failures{0};
  concur_test::run_parallel(5, [&](int) {
    for (int i = 0; i < 2; ++i) (s.acquire(false) ? successes : failures).fetch_add(1);
  });
  EXPECT_EQ(successes.load(), 3);
  EXPECT_EQ(failures.load(), 7);
  EXPECT_EQ(s.value(), 0);
}

TEST(Semaphore, AcquireBlocksUntilRelease) {
  // lock_tests.BaseSemaphoreTests.test_default_value
  th::Semaphore s;
  s.acquire();
  std::atomic<int> result{-1};
  std::jthread t([&] {
    result = s.acquire(long_wait()) ? 1 : 0;
    if (result == 1) s.release();
  });
  ASSERT_TRUE(eventually([&] { return s.n_waiting() == 1; }));
  give_time_to_misbehave();
  EXPECT_EQ(result.load(), -1);
  s.release();
  t.join();
  EXPECT_EQ(result.load(), 1);
  EXPECT_EQ(s.value(), 1);
  EXPECT_EQ(s.n_waiting(), 0u);
}

TEST(Semaphore, AcquireContended) {
  // lock_tests.BaseSemaphoreTests.test_acquire_contended, sequenced with n_waiting() instead
  // of sleeps: 10 threads each acquire twice from a Semaphore(7) of which 1 unit is taken.
  th::Semaphore s(7);
  s.acquire();
  constexpr int N = 10;
  std::mutex m;
  std::vector<int> results;  // the phase in which each acquire succeeded
  int phase = 0;
  std::atomic<int> finished{0};
  auto count = [&] {
    std::lock_guard g(m);
    return results.size();
  };
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < N; ++i)
      threads.emplace_back([&] {
        for (int k = 0; k < 2; ++k) {
          if (!s.acquire(long_wait())) return;
          std::lock_guard g(m);
          results.push_back(phase);
        }
        finished.fetch_add(1);
      });
    // 6 acquires succeed; then every unfinished thread is blocked in one acquire.
    ASSERT_TRUE(eventually([&] {
      return count() == 6 && s.n_waiting() + finished.load() == static_cast<std::size_t>(N);
    }));
    {
      std::lock_guard g(m);
      phase = 1;
    }
    for (int i = 0; i < 7; ++i) s.release();
    // 7 more succeed, and no more.
    ASSERT_TRUE(eventually([&] { return count() == 13; }));
    give_time_to_misbehave();
    EXPECT_EQ(count(), 13u);
    EXPECT_EQ(s.value(), 0);
    {
      std::lock_guard g(m);
      phase = 2;
    }
    for (int i = 0; i < 6; ++i) s.release();
    ASSERT_TRUE(eventually([&] { return count() == 19; }));
    EXPECT_FALSE(s.acquire(false));  // still locked
    EXPECT_TRUE(eventually([&] { return s.n_waiting() == 1; }));
    s.release();  // let the last one finish
  }
  std::vector<int> expected(6, 0);
  expected.insert(expected.end(), 7, 1);
  expected.insert(expected.end(), 6, 2);
  expected.push_back(2);
  std::sort(results.begin(), results.end());
  EXPECT_EQ(results, expected);
  EXPECT_EQ(s.value(), 0);
  EXPECT_EQ(s.n_waiting(), 0u);
}

TEST(Semaphore, TimedAcquire) {
  // lock_tests.BaseSemaphoreTests.test_acquire_timeout
  th::Semaphore s(2);
  EXPECT_THROW(s.acquire(false, 1s), concur::ValueError);
  EXPECT_EQ(s.value(), 2) << "a rejected acquire must not take a unit";
  EXPECT_TRUE(s.acquire(5ms));
  EXPECT_TRUE(s.acquire(true, 5ms));
  EXPECT_FALSE(s.acquire(5ms));
  s.release();
  EXPECT_TRUE(s.acquire(5ms));
  bool ok = true;
  expect_timed_out_after_50ms(time_of([&] { ok = s.acquire(50ms); }));
  EXPECT_FALSE(ok);
  expect_timed_out_after_50ms(time_of([&] { ok = s.acquire(true, 50ms); }));
  EXPECT_FALSE(ok);
  expect_timed_out_after_50ms(time_of([&] { ok = s.acquire(std::chrono::duration<double>(0.05)); }));
  EXPECT_FALSE(ok);
  EXPECT_EQ(s.n_waiting(), 0u) << "a timed-out waiter must leave the queue";
  EXPECT_EQ(s.value(), 0);
  // The value is intact after the timeouts.
  s.release();
  EXPECT_TRUE(s.acquire(false));
}

TEST(Semaphore, NonBlockingWithTimeoutIsValueError) {
  th::Semaphore s(1);
  EXPECT_THROW(s.acquire(false, 10ms), concur::ValueError);
  EXPECT_THROW(s.acquire(false, 0ms), concur::ValueError);
  EXPECT_EQ(s.value(), 1);
  th::Semaphore empty(0);
  EXPECT_THROW(empty.acquire(false, 10ms), concur::ValueError);
}

TEST(Semaphore, ZeroNegativeAndNaNTimeoutsDoNotBlock) {
  th::Semaphore s(1);
  EXPECT_TRUE(s.acquire(0ms));
  EXPECT_FALSE(s.acquire(0ms));
  EXPECT_FALSE(s.acquire(true, -1s));
  EXPECT_FALSE(s.acquire(std::chrono::duration<double>(-0.25)));
  EXPECT_FALSE(s.acquire(std::chrono::duration<double>(std::nan(""))));
  EXPECT_FALSE(s.acquire(std::chrono::hours::min()));
  EXPECT_EQ(s.n_waiting(), 0u);
  s.release();
  EXPECT_TRUE(s.acquire(-1s));
  s.release();
  EXPECT_TRUE(s.acquire(std::chrono::duration<double>(std::nan(""))));
  EXPECT_EQ(s.value(), 0);
}

TEST(Semaphore, HugeTimeouts) {
  th::Semaphore s(3);
  EXPECT_TRUE(s.acquire(std::chrono::hours::max()));
  EXPECT_TRUE(s.acquire(std::chrono::duration<double>(1e300)));
  EXPECT_TRUE(s.acquire(true, std::chrono::nanoseconds::max()));
  EXPECT_EQ(s.value(), 0);
  std::atomic<int> result{-1};
  std::jthread t([&] { result = s.acquire(std::chrono::hours::max()) ? 1 : 0; });
  ASSERT_TRUE(eventually([&] { return s.n_waiting() == 1 || result.load() != -1; }));
  EXPECT_EQ(result.load(), -1) << "a huge timeout expired at once";
  s.release();
  t.join();
  EXPECT_EQ(result.load(), 1);
}

TEST(Semaphore, ReleaseUnboundedIncrements) {
  // lock_tests.SemaphoreTests.test_release_unacquired
  th::Semaphore s(1);
  s.release();
  EXPECT_EQ(s.value(), 2);
  s.acquire();
  s.acquire();
  s.release();
  s.release(3);
  EXPECT_EQ(s.value(), 4);
}

TEST(Semaphore, ReleaseZeroOrNegativeIsValueError) {
  th::Semaphore s(1);
  EXPECT_THROW(s.release(0), concur::ValueError);
  EXPECT_THROW(s.release(-1), concur::ValueError);
  EXPECT_EQ(s.value(), 1);
  th::BoundedSemaphore b(2);
  b.acquire();
  EXPECT_THROW(b.release(0), concur::ValueError);
  EXPECT_EQ(b.value(), 1);
}

TEST(Semaphore, ReleaseNWakesOldestWaitersFirst) {
  th::Semaphore s(0);
  constexpr int N = 5;
  std::mutex m;
  std::vector<int> woken;
  auto woken_copy = [&] {
    std::lock_guard g(m);
    return woken;
  };
  std::vector<std::jthread> threads;
  for (int i = 0; i < N; ++i) {
    threads.emplace_back([&, i] {
      if (s.acquire(long_wait())) {
        std::lock_guard g(m);
        woken.push_back(i);
      }
    });
    // Queue them in a known order: start the next only once this one waits.
    ASSERT_TRUE(eventually([&] { return s.n_waiting() == static_cast<std::size_t>(i + 1); }));
  }
  s.release(2);
  ASSERT_TRUE(eventually([&] { return woken_copy().size() == 2; }));
  give_time_to_misbehave();
  {
    const auto w = woken_copy();
    ASSERT_EQ(w.size(), 2u) << "release(2) woke more than 2";
    EXPECT_EQ(std::set<int>(w.begin(), w.end()), (std::set<int>{0, 1}));
  }
  EXPECT_EQ(s.n_waiting(), 3u);
  EXPECT_EQ(s.value(), 0);
  s.release();
  ASSERT_TRUE(eventually([&] { return woken_copy().size() == 3; }));
  EXPECT_EQ(woken_copy()[2], 2);
  EXPECT_EQ(s.n_waiting(), 2u);
  s.release(3);  // one more unit than waiters: it stays free
  threads.clear();
  const auto w = woken_copy();
  EXPECT_EQ(std::set<int>(w.begin() + 3, w.end()), (std::set<int>{3, 4}));
  EXPECT_EQ(s.value(), 1);
  EXPECT_EQ(s.n_waiting(), 0u);
}

TEST(Semaphore, ReleaseWakesExactlyN) {
  th::Semaphore s(0);
  std::atomic<int> acquired{0};
  std::vector<std::jthread> threads;
  for (int i = 0; i < 3; ++i)
    threads.emplace_back([&] {
      if (s.acquire(long_wait())) acquired.fetch_add(1);
    });
  ASSERT_TRUE(eventually([&] { return s.n_waiting() == 3; }));
  s.release(2);
  ASSERT_TRUE(eventually([&] { return acquired.load() == 2; }));
  give_time_to_misbehave();
  EXPECT_EQ(acquired.load(), 2);
  EXPECT_EQ(s.n_waiting(), 1u);
  EXPECT_EQ(s.value(), 0);
  s.release();
  threads.clear();
  EXPECT_EQ(acquired.load(), 3);
  EXPECT_EQ(s.value(), 0);
}

TEST(Semaphore, LockGuard) {
  // lock_tests.BaseSemaphoreTests.test_with
  th::Semaphore s(2);
  auto with = [&](bool raise) {
    std::lock_guard g(s);
    EXPECT_TRUE(s.acquire(false));
    s.release();
    std::lock_guard g2(s);
    EXPECT_FALSE(s.acquire(false));
    if (raise) throw std::logic_error("boom");
  };
  with(false);
  EXPECT_TRUE(s.acquire(false));
  s.release();
  EXPECT_THROW(with(true), std::logic_error);
  EXPECT_TRUE(s.acquire(false));
  s.release();
  EXPECT_EQ(s.value(), 2);
  {
    std::unique_lock ul(s, std::try_to_lock);
    EXPECT_TRUE(ul.owns_lock());
    EXPECT_EQ(s.value(), 1);
  }
  EXPECT_EQ(s.value(), 2);
}

TEST(BoundedSemaphore, ReleaseAboveInitialValueIsValueError) {
  // lock_tests.BoundedSemaphoreTests.test_release_unacquired
  th::BoundedSemaphore b;
  EXPECT_THROW(b.release(), concur::ValueError);
  b.acquire();
  b.release();
  EXPECT_THROW(b.release(), concur::ValueError);
  EXPECT_EQ(b.value(), 1);
}

TEST(BoundedSemaphore, OverReleaseAfterAcquiresAndReleases) {
  th::BoundedSemaphore b(3);
  EXPECT_EQ(b.value(), 3);
  try {
    b.release();
    ADD_FAILURE() << "over-release did not throw";
  } catch (const concur::ValueError& e) {
    EXPECT_NE(std::string(e.what()), "");
  }
  EXPECT_EQ(b.value(), 3) << "a rejected release must not change the value";
  b.acquire();
  b.acquire();
  EXPECT_EQ(b.value(), 1);
  EXPECT_THROW(b.release(3), concur::ValueError);  // 1 + 3 > 3
  EXPECT_EQ(b.value(), 1);
  b.release(2);
  EXPECT_EQ(b.value(), 3);
  EXPECT_THROW(b.release(), concur::ValueError);
  for (int round = 0; round < 3; ++round) {
    b.acquire();
    b.release();
  }
  EXPECT_THROW(b.release(), concur::ValueError);
  EXPECT_EQ(b.value(), 3);
  // A BoundedSemaphore is a Semaphore.
  th::Semaphore& base = b;
  EXPECT_THROW(base.release(), concur::ValueError);
}

TEST(BoundedSemaphore, ZeroInitialValue) {
  // Python: BoundedSemaphore(0).release() raises ValueError("Semaphore released too many
  // times"): the bound is the initial value, 0.
  th::BoundedSemaphore b(0);
  EXPECT_EQ(b.value(), 0);
  EXPECT_FALSE(b.acquire(false));
  EXPECT_THROW(b.release(), concur::ValueError);
  EXPECT_EQ(b.value(), 0);
}

TEST(BoundedSemaphore, HugeReleaseIsValueErrorNotOverflow) {
  // value + n above the bound must be rejected even when value + n does not fit the integer
  // type (Python's integers cannot overflow; here the check must not either).
  constexpr auto kMax = std::numeric_limits<std::ptrdiff_t>::max();
  th::BoundedSemaphore full(1);
  EXPECT_THROW(full.release(kMax), concur::ValueError);
  EXPECT_EQ(full.value(), 1);
  th::BoundedSemaphore empty(1);
  empty.acquire();
  EXPECT_THROW(empty.release(kMax), concur::ValueError);
  EXPECT_EQ(empty.value(), 0);
  EXPECT_TRUE(full.acquire(false));
}

TEST(BoundedSemaphore, ReleaseToWaitersWithinBound) {
  th::BoundedSemaphore b(2);
  b.acquire();
  b.acquire();
  std::atomic<int> acquired{0};
  std::vector<std::jthread> threads;
  for (int i = 0; i < 2; ++i)
    threads.emplace_back([&] {
      if (b.acquire(long_wait())) acquired.fetch_add(1);
    });
  ASSERT_TRUE(eventually([&] { return b.n_waiting() == 2; }));
  b.release(2);  // handed to the two waiters
  threads.clear();
  EXPECT_EQ(acquired.load(), 2);
  EXPECT_EQ(b.value(), 0);
  b.release(2);
  EXPECT_EQ(b.value(), 2);
  EXPECT_THROW(b.release(), concur::ValueError);
}

TEST(Semaphore, ValueSnapshot) {
  th::Semaphore s(5);
  for (int i = 5; i > 0; --i) {
    EXPECT_EQ(s.value(), i);
    s.acquire();
  }
  EXPECT_EQ(s.value(), 0);
  s.release(10);
  EXPECT_EQ(s.value(), 10);
  // From other threads, after they finish.
  concur_test::run_parallel(4, [&](int) {
    s.acquire();
    s.acquire();
  });
  EXPECT_EQ(s.value(), 2);
}

static_assert(!std::is_copy_constructible_v<th::Semaphore>);
static_assert(std::is_base_of_v<th::Semaphore, th::BoundedSemaphore>);

}  // namespace
