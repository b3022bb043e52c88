// th::RLock: Python's threading.RLock (API.md §2 "Locks", include/concur/threading/rlock.hpp).
// Scenarios ported from CPython's Lib/test/lock_tests.py (BaseLockTests, RLockTests).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
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

// Runs fn on another thread and returns its result.
template <class F>
auto on_other_thread(F fn) {
  decltype(fn()) result{};
  std::thread([&] { result = fn(); }).join();
  return result;
}

// A thread that acquires `lock` and holds it until told to let go.
class Holder {
 public:
  explicit Holder(th::RLock& lock, int depth = 1)
      : thread_([this, &lock, depth] {
          for (int i = 0; i < depth; ++i) lock.acquire();
          holding_.set();
          let_go_.wait(long_wait());
          for (int i = 0; i < depth; ++i) lock.release();
        }) {
    EXPECT_TRUE(holding_.wait(long_wait()));
  }
  ~Holder() { release(); }
  void release() {
    let_go_.set();
    if (thread_.joinable()) thread_.join();
  }

 private:
  th::Event holding_, let_go_;
  std::thread thread_;
};

TEST(RLock, AcquireReleaseRecursion) {
  th::RLock r;
  EXPECT_FALSE(r.locked());
  EXPECT_FALSE(r.is_owned());
  constexpr int kDepth = 10;
  for (int i = 0; i < kDepth; ++i) EXPECT_TRUE(r.acquire());
  EXPECT_TRUE(r.locked());
  EXPECT_TRUE(r.is_owned());
  for (int i = 0; i < kDepth - 1; ++i) {
    r.release();
    EXPECT_TRUE(r.locked()) << "released after " << i + 1 << " of " << kDepth << " releases";
    EXPECT_TRUE(r.is_owned());
  }
  r.release();
  EXPECT_FALSE(r.locked());
  EXPECT_FALSE(r.is_owned());
  EXPECT_THROW(r.release(), concur::RuntimeError);
}

TEST(RLock, Reacquire) {
  // lock_tests.RLockTests.test_reacquire
  th::RLock r;
  r.acquire();
  r.acquire();
  r.release();
  r.acquire();
  r.release();
  r.release();
  EXPECT_FALSE(r.locked());
}

TEST(RLock, ReleaseUnacquiredThrows) {
  // lock_tests.RLockTests.test_release_unacquired
  th::RLock r;
  EXPECT_THROW(r.release(), concur::RuntimeError);
  r.acquire();
  r.acquire();
  r.release();
  r.acquire();
  r.release();
  r.release();
  try {
    r.release();
    ADD_FAILURE() << "release() of an unheld RLock did not throw";
  } catch (const concur::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()), "");
  }
  EXPECT_THROW(r.unlock(), concur::RuntimeError);
  EXPECT_THROW(r.release(), concur::Error);
  // Still usable.
  EXPECT_TRUE(r.acquire(false));
  r.release();
}

TEST(RLock, ReleaseByNonOwnerThrows) {
  // lock_tests.RLockTests.test_different_thread: owner-bound.
  th::RLock r;
  {
    Holder holder(r, 2);
    EXPECT_TRUE(r.locked());
    EXPECT_FALSE(r.is_owned());
    try {
      r.release();
      ADD_FAILURE() << "a non-owner released an RLock";
    } catch (const concur::RuntimeError& e) {
      EXPECT_NE(std::string(e.what()), "");
    }
    EXPECT_THROW(r.unlock(), concur::RuntimeError);
    // The failed release did not touch the holder's depth: it still holds it.
    EXPECT_TRUE(r.locked());
    EXPECT_FALSE(r.acquire(false));
  }
  EXPECT_FALSE(r.locked());
  EXPECT_TRUE(r.acquire(false));
  r.release();
}

TEST(RLock, IsOwned) {
  // lock_tests.RLockTests.test__is_owned
  th::RLock r;
  EXPECT_FALSE(r.is_owned());
  r.acquire();
  EXPECT_TRUE(r.is_owned());
  r.acquire();
  EXPECT_TRUE(r.is_owned());
  EXPECT_FALSE(on_other_thread([&] { return r.is_owned(); }));
  r.release();
  EXPECT_TRUE(r.is_owned());
  r.release();
  EXPECT_FALSE(r.is_owned());
}

TEST(RLock, TryAcquireContended) {
  th::RLock r;
  r.acquire();
  EXPECT_FALSE(on_other_thread([&] { return r.acquire(false); }));
  EXPECT_FALSE(on_other_thread([&] { return r.try_lock(); }));
  // The owner's non-blocking acquire recurses.
  EXPECT_TRUE(r.acquire(false));
  EXPECT_TRUE(r.try_lock());
  r.release();
  r.release();
  r.release();
  EXPECT_FALSE(r.locked());
}

TEST(RLock, OtherThreadBlockedUntilFullyReleased) {
  th::RLock r;
  constexpr int kDepth = 3;
  for (int i = 0; i < kDepth; ++i) r.acquire();
  th::Event started;
  std::atomic<int> result{-1};
  std::jthread t([&] {
    started.set();
    const bool ok = r.acquire(long_wait());
    result = ok ? 1 : 0;
    if (ok) r.release();
  });
  ASSERT_TRUE(started.wait(long_wait()));
  for (int i = 0; i < kDepth - 1; ++i) {
    r.release();
    give_time_to_misbehave();
    EXPECT_EQ(result.load(), -1) << "acquired while the owner still held depth " << kDepth - 1 - i;
  }
  r.release();
  t.join();
  EXPECT_EQ(result.load(), 1);
  EXPECT_FALSE(r.locked());
}

TEST(RLock, AcquireContended) {
  // lock_tests.BaseLockTests.test_acquire_contended
  th::RLock r;
  r.acquire();
  constexpr int kThreads = 5;
  std::atomic<int> started{0}, finished{0}, succeeded{0};
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < kThreads; ++i)
      threads.emplace_back([&] {
        started.fetch_add(1);
        if (r.acquire(true, long_wait())) {
          r.acquire();  // recursion under contention
          succeeded.fetch_add(1);
          r.release();
          r.release();
        }
        finished.fetch_add(1);
      });
    ASSERT_TRUE(eventually([&] { return started.load() == kThreads; }));
    give_time_to_misbehave();
    EXPECT_EQ(finished.load(), 0);
    r.release();
  }
  EXPECT_EQ(succeeded.load(), kThreads);
  EXPECT_FALSE(r.locked());
}

TEST(RLock, TimedForms) {
  th::RLock r;
  // Free: every form succeeds (and recurses for the owner).
  EXPECT_TRUE(r.acquire(50ms));
  EXPECT_TRUE(r.acquire(true, 50ms));
  EXPECT_TRUE(r.acquire(std::chrono::duration<double>(0.05)));
  EXPECT_TRUE(r.acquire(0ms));     // the owner never waits
  EXPECT_TRUE(r.acquire(-1s));
  EXPECT_TRUE(r.try_lock_for(0ms));
  for (int i = 0; i < 6; ++i) r.release();
  EXPECT_FALSE(r.locked());

  Holder holder(r);
  bool ok = true;
  expect_timed_out_after_50ms(time_of([&] { ok = r.acquire(50ms); }));
  EXPECT_FALSE(ok);
  expect_timed_out_after_50ms(time_of([&] { ok = r.acquire(true, 50ms); }));
  EXPECT_FALSE(ok);
  expect_timed_out_after_50ms(time_of([&] { ok = r.acquire(std::chrono::duration<double>(0.05)); }));
  EXPECT_FALSE(ok);
  expect_timed_out_after_50ms(time_of([&] { ok = r.try_lock_for(50ms); }));
  EXPECT_FALSE(ok);
  expect_timed_out_after_50ms(time_of([&] { ok = r.try_lock_until(Clock::now() + 50ms); }));
  EXPECT_FALSE(ok);
  expect_timed_out_after_50ms(
      time_of([&] { ok = r.try_lock_until(std::chrono::system_clock::now() + 50ms); }));
  EXPECT_FALSE(ok);
  // Zero, negative, NaN: do not wait.
  EXPECT_FALSE(r.acquire(0ms));
  EXPECT_FALSE(r.acquire(true, -1s));
  EXPECT_FALSE(r.acquire(std::chrono::duration<double>(std::nan(""))));
  EXPECT_FALSE(r.acquire(std::chrono::hours::min()));
  EXPECT_FALSE(r.try_lock_until(Clock::now() - 1s));
  EXPECT_FALSE(r.try_lock_until(std::chrono::system_clock::now() - 1s));
  EXPECT_FALSE(r.is_owned());
  holder.release();
  EXPECT_FALSE(r.locked());
}

TEST(RLock, NonBlockingWithTimeoutIsValueError) {
  th::RLock r;
  EXPECT_THROW(r.acquire(false, 10ms), concur::ValueError);
  EXPECT_FALSE(r.locked());
  r.acquire();
  // Even for the owner, whose acquire would succeed: the arguments are wrong.
  EXPECT_THROW(r.acquire(false, 10ms), concur::ValueError);
  r.release();
  EXPECT_FALSE(r.locked()) << "the rejected acquire must not have raised the depth";
}

TEST(RLock, StateAfterTimeout) {
  th::RLock r;
  {
    Holder holder(r);
    EXPECT_FALSE(r.acquire(10ms));
    EXPECT_FALSE(r.is_owned());
  }
  EXPECT_FALSE(r.locked());
  EXPECT_TRUE(r.acquire(false));
  EXPECT_TRUE(r.is_owned());
  r.release();
  EXPECT_THROW(r.release(), concur::RuntimeError);
}

TEST(RLock, HugeTimeouts) {
  th::RLock r;
  EXPECT_TRUE(r.acquire(std::chrono::hours::max()));
  EXPECT_TRUE(r.acquire(std::chrono::duration<double>(1e300)));
  EXPECT_TRUE(r.acquire(true, std::chrono::nanoseconds::max()));
  EXPECT_TRUE(r.try_lock_until(std::chrono::system_clock::time_point::max()));
  for (int i = 0; i < 4; ++i) r.release();
  EXPECT_FALSE(r.locked());
  // Held elsewhere: a huge timeout waits for the release instead of failing at once.
  r.acquire();
  th::Event started;
  std::atomic<int> result{-1};
  std::jthread t([&] {
    started.set();
    const bool ok = r.acquire(std::chrono::hours::max());
    result = ok ? 1 : 0;
    if (ok) r.release();
  });
  ASSERT_TRUE(started.wait(long_wait()));
  give_time_to_misbehave();
  EXPECT_EQ(result.load(), -1);
  r.release();
  t.join();
  EXPECT_EQ(result.load(), 1);
}

TEST(RLock, Lockable) {
  th::RLock r;
  {
    std::lock_guard g1(r);
    std::lock_guard g2(r);  // re-entrant
    EXPECT_TRUE(r.is_owned());
    EXPECT_FALSE(on_other_thread([&] { return r.try_lock(); }));
  }
  EXPECT_FALSE(r.locked());
  EXPECT_THROW(
      {
        std::lock_guard g(r);
        throw std::logic_error("boom");
      },
      std::logic_error);
  EXPECT_FALSE(r.locked());
  {
    std::unique_lock ul(r, std::try_to_lock);
    EXPECT_TRUE(ul.owns_lock());
    std::unique_lock ul2(r, 10ms);
    EXPECT_TRUE(ul2.owns_lock());
    std::unique_lock ul3(r, Clock::now() + 10ms);
    EXPECT_TRUE(ul3.owns_lock());
    std::unique_lock ul4(r, std::chrono::system_clock::now() + 10ms);
    EXPECT_TRUE(ul4.owns_lock());
  }
  EXPECT_FALSE(r.locked());
  {
    th::Lock plain;
    std::scoped_lock g(r, plain);
    EXPECT_TRUE(r.is_owned());
    EXPECT_TRUE(plain.locked());
  }
  EXPECT_FALSE(r.locked());
}

TEST(RLock, ScopedLockOppositeOrdersNoDeadlock) {
  th::RLock a, b;
  const int iterations = 3000 / CONCUR_TEST_TIME_SCALE;
  const long counter =
      scoped_lock_in_opposite_orders(a, b, iterations, [&] { std::lock_guard again(a); });
  EXPECT_EQ(counter, 2L * iterations);
  EXPECT_FALSE(a.locked());
  EXPECT_FALSE(b.locked());
}

TEST(RLock, Named) {
  th::RLock unnamed;
  EXPECT_EQ(unnamed.name(), "");
  th::RLock named("registry");
  EXPECT_EQ(named.name(), "registry");
  named.acquire();
  named.acquire();
  named.release();
  named.release();
  EXPECT_FALSE(named.locked());
}

TEST(RLock, ManyForeignThreads) {
  th::RLock r;
  std::atomic<int> acquired{0};
  concur_test::run_parallel(15, [&](int) {
    if (r.acquire(long_wait())) {
      r.acquire();
      acquired.fetch_add(1);
      r.release();
      r.release();
    }
  });
  EXPECT_EQ(acquired.load(), 15);
  EXPECT_FALSE(r.locked());
}

static_assert(!std::is_copy_constructible_v<th::RLock>);

}  // namespace
