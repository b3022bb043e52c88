// threading.Timer: a Thread that calls a function once after an interval, unless cancelled.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "concur/threading.hpp"
#include "test_support.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;
using namespace concur_test;  // long_wait, scaled, eventually, time_of, ...

namespace {
}  // namespace

static_assert(std::is_base_of_v<th::Thread, th::Timer>);

TEST(Timer, RunsOnceWithItsArgumentsAfterTheInterval) {
  std::atomic<int> calls{0};
  int got_n = 0;
  std::string got_s;
  std::chrono::steady_clock::time_point fired{};
  const auto interval = scaled(30ms);
  th::Timer tm(
      interval,
      [&](int n, std::string s) {
        fired = std::chrono::steady_clock::now();
        got_n = n;
        got_s = std::move(s);
        ++calls;
      },
      7, std::string("seven"));
  const auto t0 = std::chrono::steady_clock::now();
  tm.start();
  ASSERT_TRUE(tm.join(long_wait()));
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(got_n, 7);
  EXPECT_EQ(got_s, "seven");
  EXPECT_GE(fired - t0, interval);
  EXPECT_FALSE(tm.is_alive());
}

TEST(Timer, ArgumentsAreCopiesAndMoveOnlyOnesWork) {
  std::string s = "original";
  std::string got;
  th::Timer tm(1ms, [&](std::string x) { got = std::move(x); }, s);
  s = "changed";
  tm.start();
  ASSERT_TRUE(tm.join(long_wait()));
  EXPECT_EQ(got, "original");

  int got2 = 0;
  th::Timer tm2(1ms, [&](std::unique_ptr<int> p) { got2 = *p; }, std::make_unique<int>(11));
  tm2.start();
  ASSERT_TRUE(tm2.join(long_wait()));
  EXPECT_EQ(got2, 11);
}

TEST(Timer, AFunctionTakingAStopTokenGetsTheTimersToken) {
  // As a Thread's target: request_stop() on the Timer reaches the function it runs.
  th::Event running, stopped;
  th::Timer tm(
      1ms,
      [&](std::stop_token token, int n) {
        EXPECT_EQ(n, 5);
        running.set();
        std::stop_callback on_stop(token, [&] { stopped.set(); });
        EXPECT_TRUE(stopped.wait(long_wait()));
      },
      5);
  tm.start();
  ASSERT_TRUE(running.wait(long_wait()));
  EXPECT_TRUE(tm.request_stop());
  ASSERT_TRUE(tm.join(long_wait()));
  EXPECT_TRUE(stopped.is_set());
}

TEST(Timer, CancelBeforeTheIntervalMeansNeverRuns) {
  std::atomic<int> calls{0};
  th::Timer tm(scaled(500ms), [&] { ++calls; });
  tm.start();
  tm.cancel();
  ASSERT_TRUE(tm.join(long_wait()));
  EXPECT_FALSE(tm.is_alive());
  // The thread is over: nothing can call fn any more; give a wrong timer time to fire anyway.
  th::sleep(scaled(600ms));
  EXPECT_EQ(calls.load(), 0);
}

TEST(Timer, CancelWakesTheTimerAtOnce) {
  // An hour-long timer, cancelled: join() returns long before the hour.
  std::atomic<int> calls{0};
  th::Timer tm(std::chrono::hours(1), [&] { ++calls; });
  tm.start();
  EXPECT_FALSE(tm.join(10ms));  // still waiting
  tm.cancel();
  ASSERT_TRUE(tm.join(long_wait()));
  EXPECT_EQ(calls.load(), 0);
}

TEST(Timer, CancelBeforeStart) {
  std::atomic<int> calls{0};
  th::Timer tm(1ms, [&] { ++calls; });
  tm.cancel();
  tm.start();
  ASSERT_TRUE(tm.join(long_wait()));
  EXPECT_EQ(calls.load(), 0);
}

TEST(Timer, CancelFromAnotherThread) {
  std::atomic<int> calls{0};
  th::Timer tm(std::chrono::hours(1), [&] { ++calls; });
  tm.start();
  th::Thread canceller([&] { tm.cancel(); });
  canceller.start();
  ASSERT_TRUE(canceller.join(long_wait()));
  ASSERT_TRUE(tm.join(long_wait()));
  EXPECT_EQ(calls.load(), 0);
}

TEST(Timer, CancelAfterItRanHasNoEffect) {
  std::atomic<int> calls{0};
  th::Timer tm(1ms, [&] { ++calls; });
  tm.start();
  ASSERT_TRUE(tm.join(long_wait()));
  tm.cancel();
  tm.cancel();
  EXPECT_EQ(calls.load(), 1);
}

TEST(Timer, FloatingPointInterval) {
  std::atomic<int> calls{0};
  const std::chrono::duration<double> interval(0.03 * CONCUR_TEST_TIME_SCALE);
  const auto t0 = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point fired{};
  th::Timer tm(interval, [&] {
    fired = std::chrono::steady_clock::now();
    ++calls;
  });
  tm.start();
  ASSERT_TRUE(tm.join(long_wait()));
  EXPECT_EQ(calls.load(), 1);
  EXPECT_GE(std::chrono::duration<double>(fired - t0).count(), interval.count());
}

TEST(Timer, ZeroAndNegativeIntervalsRunAtOnce) {
  // CPython: Event.wait(0) / wait(-1) return at once, so the function runs.
  std::atomic<int> calls{0};
  th::Timer zero(0s, [&] { ++calls; });
  th::Timer negative(-1s, [&] { ++calls; });
  zero.start();
  negative.start();
  ASSERT_TRUE(zero.join(long_wait()));
  ASSERT_TRUE(negative.join(long_wait()));
  EXPECT_EQ(calls.load(), 2);
}

TEST(Timer, IsAThread) {
  th::Thread before([] {});
  th::Event go;
  std::string inside;
  th::Timer tm(1ms, [&] {
    inside = th::current_thread().name();
    go.wait(long_wait());
  });
  const long nb = thread_number(before.name()), nt = thread_number(tm.name());
  EXPECT_GT(nb, 0) << before.name();
  EXPECT_GT(nt, nb) << tm.name();
  EXPECT_FALSE(tm.daemon());  // inherited from the main thread
  EXPECT_FALSE(tm.is_alive());
  EXPECT_EQ(tm.ident(), std::nullopt);
  EXPECT_THROW(tm.join(1ms), concur::RuntimeError);

  tm.set_name("my-timer");
  th::Thread& base = tm;
  base.start();
  EXPECT_TRUE(tm.is_alive());
  EXPECT_TRUE(tm.ident().has_value());
  EXPECT_THROW(tm.start(), concur::RuntimeError);
  EXPECT_THROW(tm.set_daemon(true), concur::RuntimeError);
  go.set();
  ASSERT_TRUE(base.join(long_wait()));
  EXPECT_EQ(inside, "my-timer");
  EXPECT_FALSE(tm.is_alive());
}

TEST(Timer, IsListedByEnumerateWhileWaiting) {
  th::Timer tm(std::chrono::hours(1), [] {});
  tm.start();
  bool listed = false;
  for (auto& r : th::enumerate()) listed = listed || r == tm.ref();
  EXPECT_TRUE(listed);
  tm.cancel();
  ASSERT_TRUE(tm.join(long_wait()));
  listed = false;
  for (auto& r : th::enumerate()) listed = listed || r == tm.ref();
  EXPECT_FALSE(listed);
}

TEST(Timer, DaemonFlagCanBeSetBeforeStart) {
  th::Timer tm(1ms, [] {});
  tm.set_daemon(true);
  EXPECT_TRUE(tm.daemon());
  tm.start();
  ASSERT_TRUE(tm.join(long_wait()));
}

TEST(Timer, DestroyingAWaitingDaemonTimerLeavesItRunning) {
  // A Timer is a target-built thread: as a daemon it is detached when destroyed.
  auto calls = std::make_shared<std::atomic<int>>(0);
  auto fired = std::make_shared<th::Event>();
  std::optional<th::ThreadRef> ref;
  {
    th::Timer tm(scaled(100ms), [calls, fired] {
      ++*calls;
      fired->set();
    });
    tm.set_daemon(true);
    tm.start();
    ref = tm.ref();
  }  // returns at once
  EXPECT_TRUE(fired->wait(long_wait()));
  EXPECT_EQ(calls->load(), 1);
  const auto end = std::chrono::steady_clock::now() + long_wait();
  while (ref->is_alive() && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(1ms);
  EXPECT_FALSE(ref->is_alive());
}

TEST(Timer, MovedTimerStillCancels) {
  std::atomic<int> calls{0};
  th::Timer tm(std::chrono::hours(1), [&] { ++calls; });
  tm.start();
  th::Timer moved(std::move(tm));
  moved.cancel();
  ASSERT_TRUE(moved.join(long_wait()));
  EXPECT_EQ(calls.load(), 0);
}

TEST(Timer, ExceptionFromTheFunctionGoesToTheExceptHook) {
  std::mutex m;
  std::string name, what;
  th::set_excepthook([&](const th::ExceptHookArgs& a) {
    std::lock_guard g(m);
    name = a.thread_name;
    try {
      std::rethrow_exception(a.exception);
    } catch (const std::exception& e) {
      what = e.what();
    }
  });
  th::Timer tm(1ms, [] { throw std::runtime_error("timer failed"); });
  tm.set_name("failing-timer");
  tm.start();
  const bool joined = tm.join(long_wait());
  th::set_excepthook(nullptr);
  ASSERT_TRUE(joined);
  std::lock_guard g(m);
  EXPECT_EQ(name, "failing-timer");
  EXPECT_EQ(what, "timer failed");
}

TEST(Timer, ManyTimersEachRunOnce) {
  constexpr int kTimers = 20;
  std::atomic<int> calls[kTimers] = {};
  std::vector<th::Timer> timers;
  for (int i = 0; i < kTimers; ++i)
    timers.emplace_back(std::chrono::milliseconds(i % 5), [&calls](int k) { ++calls[k]; }, i);
  for (auto& t : timers) t.start();
  for (int i = 0; i < kTimers; i += 2) timers[i].cancel();  // some may have fired already
  for (auto& t : timers) ASSERT_TRUE(t.join(long_wait()));
  for (int i = 0; i < kTimers; ++i) {
    if (i % 2 == 1)
      EXPECT_EQ(calls[i].load(), 1) << i;
    else
      EXPECT_LE(calls[i].load(), 1) << i;
  }
}
