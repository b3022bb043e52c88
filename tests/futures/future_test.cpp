// cf::Future (API.md §4): states PENDING -> RUNNING -> FINISHED or CANCELLED, cancel(),
// result() / exception() with and without a timeout, Future<void>, and Future as a copyable
// handle. Scenarios follow CPython's Lib/test/test_concurrent_futures/test_future.py, with
// futures made by a ThreadPoolExecutor (the contract has no public way to make one by hand):
// a pool of one worker held at a Gate gives a RUNNING future and PENDING ones behind it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "futures_support.hpp"

namespace {

static_assert(std::is_base_of_v<concur::Error, cf::CancelledError>);
static_assert(std::is_base_of_v<concur::Error, cf::InvalidStateError>);
static_assert(std::is_base_of_v<concur::Error, cf::BrokenExecutor>);
static_assert(std::is_copy_constructible_v<cf::Future<int>>);
static_assert(std::is_copy_assignable_v<cf::Future<int>>);
static_assert(std::is_copy_constructible_v<cf::Future<void>>);

TEST(FutureState, PendingThenRunningThenFinished) {
  BusyPool busy(7);
  auto& [gate, started, pool, running] = busy;
  cf::Future<int> pending = pool.submit([] { return 8; });
  ASSERT_TRUE(started.wait(long_wait()));

  // RUNNING: its callable has started (CPython sets RUNNING before calling it).
  EXPECT_TRUE(running.running());
  EXPECT_FALSE(running.done());
  EXPECT_FALSE(running.cancelled());
  // PENDING: queued behind it on the only worker.
  EXPECT_FALSE(pending.running());
  EXPECT_FALSE(pending.done());
  EXPECT_FALSE(pending.cancelled());
  give_time_to_misbehave();
  EXPECT_FALSE(pending.running());
  EXPECT_FALSE(pending.done());

  EXPECT_EQ(busy.release(), 7);
  EXPECT_TRUE(running.done());
  EXPECT_FALSE(running.running());
  EXPECT_FALSE(running.cancelled());
  EXPECT_EQ(pending.result(long_wait()), 8);
  EXPECT_TRUE(pending.done());
  EXPECT_FALSE(pending.running());
  EXPECT_FALSE(pending.cancelled());
}

TEST(FutureState, FinishedWithAnException) {
  cf::ThreadPoolExecutor pool(1);
  cf::Future<int> f = pool.submit([]() -> int { throw std::runtime_error("boom"); });
  EXPECT_NE(f.exception(long_wait()), nullptr);
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.running());
  EXPECT_FALSE(f.cancelled());
}

TEST(FutureCancel, PendingFutureIsCancelledAndNeverRuns) {
  BusyPool busy;
  auto& [gate, started, pool, blocker] = busy;
  std::atomic<bool> ran{false};
  cf::Future<int> f = pool.submit([&] {
    ran = true;
    return 1;
  });
  ASSERT_TRUE(started.wait(long_wait()));

  EXPECT_TRUE(f.cancel());
  EXPECT_TRUE(f.cancelled());
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.running());
  EXPECT_TRUE(f.cancel()) << "cancel() of a cancelled future returns true again (as CPython)";
  EXPECT_TRUE(f.cancelled());

  EXPECT_EQ(busy.release(), 0);
  // The worker moves past the cancelled task: a later one runs.
  EXPECT_EQ(pool.submit([] { return 2; }).result(long_wait()), 2);
  pool.shutdown();
  EXPECT_FALSE(ran.load()) << "a cancelled callable must never run";
  EXPECT_TRUE(f.cancelled());
}

TEST(FutureCancel, RunningFutureCannotBeCancelled) {
  BusyPool busy(5);
  auto& [gate, started, pool, f] = busy;
  ASSERT_TRUE(started.wait(long_wait()));
  EXPECT_FALSE(f.cancel());
  EXPECT_FALSE(f.cancelled());
  EXPECT_TRUE(f.running());
  EXPECT_FALSE(f.done());
  EXPECT_EQ(busy.release(), 5) << "a failed cancel() leaves the call alone";
  EXPECT_FALSE(f.cancelled());
}

TEST(FutureCancel, FinishedFutureCannotBeCancelled) {
  cf::ThreadPoolExecutor pool(1);
  cf::Future<int> ok = pool.submit([] { return 3; });
  cf::Future<int> bad = pool.submit([]() -> int { throw std::logic_error("bad"); });
  EXPECT_EQ(ok.result(long_wait()), 3);
  EXPECT_NE(bad.exception(long_wait()), nullptr);
  EXPECT_FALSE(ok.cancel());
  EXPECT_FALSE(bad.cancel());
  EXPECT_FALSE(ok.cancelled());
  EXPECT_FALSE(bad.cancelled());
  EXPECT_EQ(ok.result(), 3);
  EXPECT_THROW(bad.result(), std::logic_error);
}

TEST(FutureCancel, ResultAndExceptionOfCancelledFutureThrowCancelledError) {
  BusyPool busy;
  auto& [gate, started, pool, blocker] = busy;
  cf::Future<int> f = pool.submit([] { return 1; });
  ASSERT_TRUE(f.cancel());
  EXPECT_THROW(f.result(), cf::CancelledError);
  EXPECT_THROW(f.result(long_wait()), cf::CancelledError);
  EXPECT_THROW(f.result(0ms), cf::CancelledError);
  EXPECT_THROW(f.result(-1s), cf::CancelledError);
  EXPECT_THROW(f.exception(), cf::CancelledError);
  EXPECT_THROW(f.exception(long_wait()), cf::CancelledError);
  EXPECT_THROW(f.exception(0ms), cf::CancelledError);
  // It is a concur::Error with a message.
  try {
    f.result();
    ADD_FAILURE() << "result() of a cancelled future returned";
  } catch (const concur::Error& e) {
    EXPECT_NE(std::string(e.what()), "");
  }
  busy.release();
}

TEST(FutureCancel, CancelWakesThreadsWaitingForTheResult) {
  // test_future.test_result_with_cancel, without its sleep: whether the waiters are asleep yet
  // or not when cancel() comes, they must see CancelledError.
  BusyPool busy;
  auto& [gate, started, pool, blocker] = busy;
  cf::Future<int> f = pool.submit([] { return 1; });
  std::atomic<int> cancelled_errors{0}, other{0};
  {
    std::vector<std::jthread> waiters;
    for (int i = 0; i < 3; ++i)
      waiters.emplace_back([&, i] {
        try {
          if (i == 0) f.result(long_wait());
          else if (i == 1) f.result();
          else f.exception(long_wait());
          other++;
        } catch (const cf::CancelledError&) {
          cancelled_errors++;
        } catch (...) {
          other++;
        }
      });
    give_time_to_misbehave();  // usually lets the waiters fall asleep first; either way works
    EXPECT_TRUE(f.cancel());
  }
  EXPECT_EQ(cancelled_errors.load(), 3);
  EXPECT_EQ(other.load(), 0);
  busy.release();
}

TEST(FutureResult, ReturnsTheValue) {
  cf::ThreadPoolExecutor pool(2);
  cf::Future<int> f = pool.submit([](int a, int b) { return a * b; }, 6, 7);
  EXPECT_EQ(f.result(), 42);
  EXPECT_EQ(f.result(), 42) << "result() may be asked again";
  EXPECT_EQ(f.result(1s), 42);
  EXPECT_EQ(f.result(0ms), 42) << "a done future answers a zero timeout";
  EXPECT_EQ(f.result(-5s), 42) << "... and a negative one";
  EXPECT_EQ(f.result(std::chrono::duration<double>(0.5)), 42);

  cf::Future<std::string> s = pool.submit([](std::string a, const std::string& b) { return a + b; },
                                          std::string("con"), std::string("cur"));
  EXPECT_EQ(s.result(long_wait()), "concur");
  EXPECT_EQ(s.result(), "concur");
}

TEST(FutureResult, ExceptionIsNullWhenTheCallReturned) {
  cf::ThreadPoolExecutor pool(1);
  cf::Future<int> f = pool.submit([] { return 1; });
  EXPECT_EQ(f.exception(), nullptr);
  EXPECT_EQ(f.exception(1s), nullptr);
  EXPECT_EQ(f.exception(0ms), nullptr);
  EXPECT_EQ(f.result(), 1);
}

TEST(FutureResult, RethrowsTheCallsException) {
  cf::ThreadPoolExecutor pool(1);
  cf::Future<int> f = pool.submit([]() -> int { throw std::out_of_range("index 9"); });
  try {
    f.result();
    ADD_FAILURE() << "result() returned";
  } catch (const std::out_of_range& e) {
    EXPECT_STREQ(e.what(), "index 9");
  }
  EXPECT_THROW(f.result(), std::out_of_range) << "rethrown again on every call";
  EXPECT_THROW(f.result(long_wait()), std::out_of_range);
  EXPECT_THROW(f.result(0ms), std::out_of_range);

  std::exception_ptr e = f.exception();
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(holds<std::out_of_range>(e));
  EXPECT_EQ(what_of(e), "index 9");
  EXPECT_TRUE(holds<std::out_of_range>(f.exception(1s)));
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.cancelled());
}

TEST(FutureResult, RethrowsAnyExceptionType) {
  cf::ThreadPoolExecutor pool(1);
  cf::Future<int> i = pool.submit([]() -> int { throw 42; });
  try {
    i.result(long_wait());
    ADD_FAILURE() << "result() returned";
  } catch (int v) {
    EXPECT_EQ(v, 42);
  }
  // concur's own errors thrown by the call are passed through as they are.
  cf::Future<int> v = pool.submit([]() -> int { throw concur::ValueError("bad input"); });
  EXPECT_THROW(v.result(long_wait()), concur::ValueError);
  EXPECT_EQ(what_of(v.exception()), "bad input");
  cf::Future<int> c = pool.submit([]() -> int { throw cf::CancelledError(); });
  EXPECT_THROW(c.result(long_wait()), cf::CancelledError);
  EXPECT_FALSE(c.cancelled()) << "a call that throws CancelledError finished; it was not cancelled";
  EXPECT_NE(c.exception(), nullptr);
}

TEST(FutureResult, TimedResultTimesOutWhilePendingOrRunning) {
  BusyPool busy(1);
  auto& [gate, started, pool, running] = busy;
  cf::Future<int> pending = pool.submit([] { return 2; });
  ASSERT_TRUE(started.wait(long_wait()));

  for (cf::Future<int>* f : {&running, &pending}) {
    expect_timed_out_after_50ms(time_of([&] { EXPECT_THROW(f->result(50ms), concur::TimeoutError); }));
    expect_timed_out_after_50ms(
        time_of([&] { EXPECT_THROW(f->exception(50ms), concur::TimeoutError); }));
    expect_timed_out_after_50ms(time_of([&] {
      EXPECT_THROW(f->result(std::chrono::duration<double>(0.05)), concur::TimeoutError);
    }));
    // Zero and negative timeouts do not wait.
    EXPECT_LT(time_of([&] { EXPECT_THROW(f->result(0ms), concur::TimeoutError); }), scaled(5s));
    EXPECT_LT(time_of([&] { EXPECT_THROW(f->result(-1s), concur::TimeoutError); }), scaled(5s));
    EXPECT_THROW(f->exception(0s), concur::TimeoutError);
    EXPECT_THROW(f->result(std::chrono::duration<double>(-0.5)), concur::TimeoutError);
    EXPECT_FALSE(f->done()) << "a timed-out wait leaves the future as it was";
    EXPECT_FALSE(f->cancelled());
  }
  EXPECT_TRUE(running.running());

  try {
    pending.result(1ms);
    ADD_FAILURE();
  } catch (const concur::TimeoutError& e) {
    EXPECT_NE(std::string(e.what()), "");
  }

  EXPECT_EQ(busy.release(), 1);
  EXPECT_EQ(pending.result(long_wait()), 2);
}

TEST(FutureResult, WaitersInManyThreadsAllGetTheResult) {
  BusyPool busy(99);
  auto& [gate, started, pool, running] = busy;
  cf::Future<int>& f = running;  // captured below (clang 14 captures no bindings)
  std::atomic<int> got{0};
  {
    std::vector<std::jthread> waiters;
    for (int i = 0; i < 6; ++i)
      waiters.emplace_back([&, i] {
        const int r = (i % 2 == 0) ? f.result(long_wait()) : f.result();
        if (r == 99) got++;
      });
    ASSERT_TRUE(started.wait(long_wait()));
    gate.open();
  }
  EXPECT_EQ(got.load(), 6);
}

TEST(FutureResult, ExceptionWaitsForTheOutcome) {
  // test_future.test_exception_with_success: exception() blocks until the call ends.
  cf::ThreadPoolExecutor pool(1);
  Gate gate;
  cf::Future<int> f = pool.submit([&]() -> int {
    gate.wait();
    throw std::runtime_error("late");
  });
  std::jthread opener([&] {
    give_time_to_misbehave();
    gate.open();
  });
  std::exception_ptr e = f.exception(long_wait());
  EXPECT_EQ(what_of(e), "late");
}

TEST(FutureVoid, ResultExceptionCancelAndCallbacks) {
  cf::ThreadPoolExecutor pool(1);
  std::atomic<int> calls{0};
  cf::Future<void> f = pool.submit([&] { calls++; });
  f.result();
  f.result(1s);
  f.result(0ms);
  EXPECT_EQ(f.exception(), nullptr);
  EXPECT_EQ(f.exception(1s), nullptr);
  EXPECT_TRUE(f.done());
  EXPECT_EQ(calls.load(), 1);

  cf::Future<void> bad = pool.submit([](int code) { throw std::system_error(code, std::generic_category()); }, 5);
  EXPECT_THROW(bad.result(long_wait()), std::system_error);
  EXPECT_TRUE(holds<std::system_error>(bad.exception()));

  th::Event started;
  Gate gate;
  cf::Future<void> blocker = pool.submit([&] {
    started.set();
    gate.wait();
  });
  cf::Future<void> pending = pool.submit([&] { calls++; });
  ASSERT_TRUE(started.wait(long_wait()));
  EXPECT_THROW(pending.result(20ms), concur::TimeoutError);
  std::atomic<int> callbacks{0};
  pending.add_done_callback([&](cf::Future<void> g) {
    if (g.cancelled()) callbacks++;
  });
  EXPECT_TRUE(pending.cancel());
  EXPECT_EQ(callbacks.load(), 1);
  EXPECT_THROW(pending.result(), cf::CancelledError);
  EXPECT_THROW(pending.exception(), cf::CancelledError);
  EXPECT_FALSE(blocker.cancel());
  gate.open();
  blocker.result(long_wait());
  blocker.add_done_callback([&](cf::Future<void> g) {
    if (g.done() && !g.cancelled()) callbacks++;
  });
  EXPECT_EQ(callbacks.load(), 2);
  pool.shutdown();
  EXPECT_EQ(calls.load(), 1) << "the cancelled void call never ran";
}

TEST(FutureHandle, CopiesShareOneState) {
  BusyPool busy(1);
  auto& [gate, started, pool, blocker] = busy;
  cf::Future<int> f = pool.submit([] { return 2; });
  ASSERT_TRUE(started.wait(long_wait()));
  cf::Future<int> copy = f;    // copy construction
  cf::Future<int> other = blocker;
  other = f;                   // copy assignment
  std::vector<cf::Future<int>> many(3, f);
  EXPECT_TRUE(copy.cancel());  // cancelling through one handle cancels them all
  EXPECT_TRUE(f.cancelled());
  EXPECT_TRUE(other.cancelled());
  for (auto& g : many) EXPECT_TRUE(g.cancelled());
  EXPECT_THROW(f.result(), cf::CancelledError);
  EXPECT_TRUE(blocker.running()) << "the handle assigned away from keeps its own state";

  cf::Future<int> b2 = blocker;
  gate.open();
  EXPECT_EQ(b2.result(long_wait()), 1);
  EXPECT_TRUE(blocker.done());
  EXPECT_EQ(blocker.result(), 1);

  // A handle that moved keeps working through its destination.
  cf::Future<int> moved = std::move(b2);
  EXPECT_EQ(moved.result(), 1);
}

TEST(FutureHandle, OutlivesItsPool) {
  cf::Future<int> f = [] {
    cf::ThreadPoolExecutor pool(2);
    return pool.submit([] { return 11; });
  }();  // the destructor waits for the call (shutdown(true))
  EXPECT_TRUE(f.done());
  EXPECT_EQ(f.result(), 11);
  EXPECT_FALSE(f.cancel());
  std::atomic<int> seen{0};
  f.add_done_callback([&](cf::Future<int> g) { seen = g.result(); });
  EXPECT_EQ(seen.load(), 11);
}

TEST(FutureHandle, HandlesDroppedBeforeTheCallEndsAreHarmless) {
  // Dropping every handle of a pending or running future must neither cancel it nor break the
  // pool: the call still runs, exactly once.
  std::atomic<int> runs{0};
  {
    cf::ThreadPoolExecutor pool(2);
    for (int i = 0; i < 50; ++i) (void)pool.submit([&] { runs++; });
    pool.submit([&] { runs++; });
  }
  EXPECT_EQ(runs.load(), 51);
}

// --- identity: a Future as a key ----------------------------------------------------------------

TEST(FutureIdentity, KeysAnUnorderedMapAsPythonsFutureToUrlDict) {
  // future_to_url = {executor.submit(load, url): url for url in urls}
  cf::ThreadPoolExecutor pool(2);
  const std::vector<std::string> urls{"a.example", "bb.example", "ccc.example"};
  std::unordered_map<cf::Future<std::size_t>, std::string> future_to_url;
  for (const std::string& url : urls)
    future_to_url.emplace(pool.submit([](const std::string& u) { return u.size(); }, url), url);
  ASSERT_EQ(future_to_url.size(), urls.size());
  std::size_t seen = 0;
  for (cf::Future<std::size_t> f : cf::as_completed(future_to_url)) {  // the map's keys
    const std::string& url = future_to_url.at(f);  // a copy finds its entry
    EXPECT_EQ(f.result(concur_test::long_wait()), url.size());
    ++seen;
  }
  EXPECT_EQ(seen, urls.size());
  auto [done, not_done] = cf::wait(future_to_url, long_wait());
  EXPECT_EQ(done.size(), urls.size());
  EXPECT_TRUE(not_done.empty());
}

TEST(FutureIdentity, CopiesAreEqualHashAlikeAndOrderTogether) {
  cf::ThreadPoolExecutor pool(1);
  cf::Future<int> a = pool.submit([] { return 1; });
  cf::Future<int> b = pool.submit([] { return 1; });
  const cf::Future<int> a2 = a;
  EXPECT_TRUE(a == a2);
  EXPECT_FALSE(a == b);  // same outcome, different futures
  EXPECT_EQ(std::hash<cf::Future<int>>{}(a), std::hash<cf::Future<int>>{}(a2));
  EXPECT_TRUE((a <=> a2) == 0);
  EXPECT_TRUE((a < b) != (b < a));  // strict and total
  std::map<cf::Future<int>, int> ordered{{a, 1}, {b, 2}};
  ordered[a2] = 3;  // the same key as a
  EXPECT_EQ(ordered.size(), 2u);
  EXPECT_EQ(ordered.at(a), 3);
  cf::Future<void> v = pool.submit([] {});
  EXPECT_EQ(std::hash<cf::Future<void>>{}(v), std::hash<cf::Future<void>>{}(cf::Future<void>(v)));
  (void)a.result(concur_test::long_wait());
  (void)b.result(concur_test::long_wait());
  v.result(concur_test::long_wait());
}

}  // namespace
