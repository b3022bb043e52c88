// th::Event: Python's threading.Event (API.md §2, include/concur/threading/event.hpp).
// Scenarios ported from CPython's Lib/test/lock_tests.py (EventTests).
//
// To know that a thread is really blocked inside wait() (needed for "set() wakes the threads
// waiting at that moment" and for the set()+clear() pulse), the tests look at
// /proc/self/task/<tid>/syscall: a waiter asleep in the futex system call on a word in its own
// stack (its wait-queue node, linked to the Event's EventCount) is past every check in wait(). If /proc
// does not show it (another kernel, another implementation), the helper gives up after a while
// and the test proceeds anyway, the waiter having had ample time to start waiting.
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "concur/threading.hpp"
#include "test_support.hpp"

namespace {

namespace th = concur::threading;
using namespace std::chrono_literals;
using namespace concur_test;  // long_wait, scaled, eventually, time_of, ...

// Waits until every thread in `tids` (0 = not started yet) sleeps in wait(); see the header.
void wait_until_asleep(const std::vector<std::atomic<long>>& tids) {
  eventually(
      [&] {
        for (const auto& t : tids)
          if (t.load() == 0 || !asleep_on_own_stack(t.load())) return false;
        return true;
      },
      scaled(std::chrono::milliseconds(2000)));
}

TEST(Event, IsSet) {
  // lock_tests.EventTests.test_is_set
  th::Event e;
  EXPECT_FALSE(e.is_set());
  e.set();
  EXPECT_TRUE(e.is_set());
  e.set();
  EXPECT_TRUE(e.is_set());
  e.clear();
  EXPECT_FALSE(e.is_set());
  e.clear();
  EXPECT_FALSE(e.is_set());
}

TEST(Event, WaitReturnsTrueWhenSet) {
  th::Event e;
  e.set();
  EXPECT_TRUE(e.wait());
  EXPECT_TRUE(e.wait(10ms));
  EXPECT_TRUE(e.wait(0ms));
  EXPECT_TRUE(e.wait(-1s));
  EXPECT_TRUE(e.wait(std::chrono::duration<double>(std::nan(""))));
  EXPECT_TRUE(e.wait(std::chrono::hours::max()));
  EXPECT_TRUE(e.is_set()) << "wait() must not consume the flag";
}

TEST(Event, WaitTimeout) {
  // lock_tests.EventTests.test_timeout
  th::Event e;
  constexpr int N = 5;
  std::vector<int> results1(N, -1), results2(N, -1);
  std::vector<Clock::duration> elapsed(N);
  auto f = [&](int i) {
    results1[i] = e.wait(0ms) ? 1 : 0;
    const auto start = Clock::now();
    results2[i] = e.wait(50ms) ? 1 : 0;
    elapsed[i] = Clock::now() - start;
  };
  concur_test::run_parallel(N, f);
  for (int i = 0; i < N; ++i) {
    EXPECT_EQ(results1[i], 0);
    EXPECT_EQ(results2[i], 0);
    expect_timed_out_after_50ms(elapsed[i]);
  }
  e.set();
  concur_test::run_parallel(N, f);
  for (int i = 0; i < N; ++i) {
    EXPECT_EQ(results1[i], 1);
    EXPECT_EQ(results2[i], 1);
  }
}

TEST(Event, TimeoutForms) {
  th::Event e;
  EXPECT_FALSE(e.wait(0ms));
  EXPECT_FALSE(e.wait(-1s));
  EXPECT_FALSE(e.wait(std::chrono::duration<double>(-0.5)));
  EXPECT_FALSE(e.wait(std::chrono::duration<double>(std::nan(""))));
  EXPECT_FALSE(e.wait(std::chrono::nanoseconds::min()));
  EXPECT_FALSE(e.wait(std::chrono::hours::min()));
  bool r = true;
  expect_timed_out_after_50ms(time_of([&] { r = e.wait(std::chrono::duration<double>(0.05)); }));
  EXPECT_FALSE(r);
  expect_timed_out_after_50ms(time_of([&] { r = e.wait(std::chrono::duration<float, std::milli>(50.0f)); }));
  EXPECT_FALSE(r);
}

TEST(Event, ClearThenWaitTimesOut) {
  th::Event e;
  e.set();
  e.clear();
  EXPECT_FALSE(e.wait(10ms));
  EXPECT_FALSE(e.is_set());
}

// lock_tests.EventTests._check_notify: every waiter is woken by set(), and waits again
// successfully while the flag stays set.
void check_notify(th::Event& e) {
  constexpr int N = 5;
  std::vector<std::atomic<long>> tids(N);
  std::atomic<int> returned{0};
  std::vector<int> results1(N, -1), results2(N, -1);
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < N; ++i)
      threads.emplace_back([&, i] {
        tids[i] = this_tid();
        results1[i] = e.wait(long_wait()) ? 1 : 0;
        returned.fetch_add(1);
        results2[i] = e.wait(long_wait()) ? 1 : 0;
      });
    wait_until_asleep(tids);
    give_time_to_misbehave();
    EXPECT_EQ(returned.load(), 0) << "wait() returned before set()";
    e.set();
  }
  EXPECT_EQ(results1, std::vector<int>(N, 1));
  EXPECT_EQ(results2, std::vector<int>(N, 1));
}

TEST(Event, SetWakesAllWaiters) {
  // lock_tests.EventTests.test_notify
  th::Event e;
  check_notify(e);
  // Another time, after an explicit clear().
  e.set();
  e.clear();
  check_notify(e);
}

TEST(Event, PulseStillWakesThreadsAlreadyWaiting) {
  // lock_tests.EventTests.test_set_and_clear (bpo-13502): wait() returns true even when the
  // event is cleared before the waiting thread wakes up.
  th::Event e;
  constexpr int N = 5;
  const int rounds = 10;
  for (int round = 0; round < rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::vector<std::atomic<long>> tids(N);
    std::vector<int> results(N, -1);
    {
      std::vector<std::jthread> threads;
      for (int i = 0; i < N; ++i)
        threads.emplace_back([&, i] {
          tids[i] = this_tid();
          results[i] = e.wait(long_wait()) ? 1 : 0;
        });
      wait_until_asleep(tids);
      e.set();
      e.clear();
    }
    EXPECT_EQ(results, std::vector<int>(N, 1));
    EXPECT_FALSE(e.is_set());
  }
}

TEST(Event, PulseWakesTimedWaiters) {
  th::Event e;
  constexpr int N = 3;
  std::vector<std::atomic<long>> tids(N);
  std::vector<int> results(N, -1);
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < N; ++i)
      threads.emplace_back([&, i] {
        tids[i] = this_tid();
        // Different timeout forms, all long.
        if (i == 0) results[i] = e.wait(long_wait()) ? 1 : 0;
        if (i == 1) results[i] = e.wait(std::chrono::hours::max()) ? 1 : 0;
        if (i == 2) results[i] = e.wait(std::chrono::duration<double>(1e300)) ? 1 : 0;
      });
    wait_until_asleep(tids);
    e.set();
    e.clear();
  }
  EXPECT_EQ(results, std::vector<int>(N, 1));
}

TEST(Event, ManyWaiters) {
  th::Event e;
  constexpr int N = 32;
  std::vector<std::atomic<long>> tids(N);
  std::atomic<int> woken{0};
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < N; ++i)
      threads.emplace_back([&, i] {
        tids[i] = this_tid();
        if (e.wait(long_wait())) woken.fetch_add(1);
      });
    wait_until_asleep(tids);
    EXPECT_EQ(woken.load(), 0);
    e.set();
  }
  EXPECT_EQ(woken.load(), N);
}

TEST(Event, HugeTimeoutWaitsForSet) {
  th::Event e;
  std::vector<std::atomic<long>> tids(1);
  std::atomic<int> result{-1};
  std::jthread t([&] {
    tids[0] = this_tid();
    result = e.wait(std::chrono::hours::max()) ? 1 : 0;
  });
  wait_until_asleep(tids);
  give_time_to_misbehave();
  EXPECT_EQ(result.load(), -1) << "a huge timeout expired at once";
  e.set();
  t.join();
  EXPECT_EQ(result.load(), 1);
}

TEST(Event, SetPublishesPriorWrites) {
  // What the setter wrote before set() is visible to a waiter after wait() (checked by TSan).
  th::Event e;
  int payload = 0;
  std::jthread t([&] {
    if (e.wait(long_wait())) {
      EXPECT_EQ(payload, 42);
    }
  });
  payload = 42;
  e.set();
}

TEST(Event, ConcurrentSetClearAndWait) {
  // Setters, clearers and timed waiters all at once: nothing hangs, nothing crashes, and a
  // final set() releases everyone.
  th::Event e;
  std::atomic<bool> stop{false};
  std::atomic<long> waits{0};
  {
    std::vector<std::jthread> waiters, setters;
    for (int i = 0; i < 2; ++i)
      setters.emplace_back([&] {
        while (!stop.load()) {
          e.set();
          e.clear();
        }
      });
    for (int i = 0; i < 3; ++i)
      waiters.emplace_back([&] {
        while (!stop.load()) {
          e.wait(100us);
          waits.fetch_add(1);
        }
        EXPECT_TRUE(e.wait(long_wait()));
      });
    std::this_thread::sleep_for(scaled(std::chrono::milliseconds(100)));  // let them race
    stop = true;
    setters.clear();  // joined: nobody clears any more
    e.set();
  }
  EXPECT_GT(waits.load(), 0);
}

static_assert(!std::is_copy_constructible_v<th::Event>);

}  // namespace
