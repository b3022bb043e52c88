// Future::add_done_callback (API.md §4): each callback runs exactly once — at once in the
// caller's thread if the future is already done, otherwise in the thread that finishes it (the
// worker that ran the call, or the thread that cancelled it) — in the order added; an exception
// from a callback is reported (stderr) and ignored, and the other callbacks still run. Scenarios
// follow CPython's test_future.py (test_done_callback_*).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "futures_support.hpp"

namespace {

TEST(DoneCallback, RunsInTheWorkerThatFinishesTheFuture) {
  cf::ThreadPoolExecutor pool(1);
  th::Event started;
  Gate gate;
  std::atomic<std::uint64_t> task_thread{0};
  cf::Future<int> f = pool.submit([&] {
    task_thread = th::get_ident();
    started.set();
    gate.wait();
    return 7;
  });
  ASSERT_TRUE(started.wait(long_wait()));

  std::atomic<int> calls{0}, seen_result{0};
  std::atomic<std::uint64_t> callback_thread{0};
  th::Event called;
  f.add_done_callback([&](cf::Future<int> g) {
    callback_thread = th::get_ident();
    if (g.done() && !g.cancelled()) seen_result = g.result();
    calls++;
    called.set();
  });
  give_time_to_misbehave();
  EXPECT_EQ(calls.load(), 0) << "a callback of a running future waits for it to finish";

  gate.open();
  ASSERT_TRUE(called.wait(long_wait()));
  EXPECT_EQ(f.result(long_wait()), 7);
  pool.shutdown();  // every callback has run once the workers are gone
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(seen_result.load(), 7);
  EXPECT_EQ(callback_thread.load(), task_thread.load());
  EXPECT_NE(callback_thread.load(), th::get_ident());
}

TEST(DoneCallback, AddedWhilePendingRunsWhenItFinishes) {
  BusyPool busy;
  auto& [gate, started, pool, blocker] = busy;
  std::atomic<std::uint64_t> task_thread{0};
  cf::Future<int> f = pool.submit([&] {
    task_thread = th::get_ident();
    return 3;
  });
  ASSERT_TRUE(started.wait(long_wait()));
  std::atomic<int> calls{0};
  std::atomic<std::uint64_t> callback_thread{0};
  th::Event called;
  f.add_done_callback([&](cf::Future<int> g) {
    callback_thread = th::get_ident();
    if (g.result() == 3) calls++;
    called.set();
  });
  EXPECT_EQ(calls.load(), 0);
  gate.open();
  ASSERT_TRUE(called.wait(long_wait()));
  pool.shutdown();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(callback_thread.load(), task_thread.load());
}

TEST(DoneCallback, OnADoneFutureRunsAtOnceInTheCallersThread) {
  // test_done_callback_already_successful / _already_failed / _already_cancelled
  cf::ThreadPoolExecutor pool(1);
  cf::Future<int> ok = pool.submit([] { return 5; });
  cf::Future<int> bad = pool.submit([]() -> int { throw std::runtime_error("test"); });
  ok.result(long_wait());
  bad.exception(long_wait());

  const std::uint64_t me = th::get_ident();
  int result = 0;
  std::uint64_t where = 0;
  ok.add_done_callback([&](cf::Future<int> g) {
    result = g.result();
    where = th::get_ident();
  });
  EXPECT_EQ(result, 5) << "ran before add_done_callback returned";
  EXPECT_EQ(where, me);

  std::string error;
  bad.add_done_callback([&](cf::Future<int> g) {
    error = what_of(g.exception());
    where = 0;
  });
  EXPECT_EQ(error, "test");
  EXPECT_EQ(where, 0u);

  th::Event started;
  Gate gate;
  cf::Future<int> blocker = occupy(pool, started, gate);
  cf::Future<int> pending = pool.submit([] { return 1; });
  ASSERT_TRUE(pending.cancel());
  bool was_cancelled = false;
  pending.add_done_callback([&](cf::Future<int> g) {
    was_cancelled = g.cancelled();
    where = th::get_ident();
  });
  EXPECT_TRUE(was_cancelled);
  EXPECT_EQ(where, me);
  gate.open();
  blocker.result(long_wait());
}

TEST(DoneCallback, CancelRunsTheCallbacksInTheCancellingThread) {
  // test_done_callback_with_cancel
  BusyPool busy;
  auto& [gate, started, pool, blocker] = busy;
  cf::Future<int> f = pool.submit([] { return 1; });
  ASSERT_TRUE(started.wait(long_wait()));
  std::atomic<int> calls{0};
  std::atomic<bool> was_cancelled{false};
  std::atomic<std::uint64_t> where{0};
  for (int i = 0; i < 2; ++i)
    f.add_done_callback([&](cf::Future<int> g) {
      was_cancelled = g.cancelled();
      where = th::get_ident();
      calls++;
    });

  std::atomic<std::uint64_t> canceller{0};
  std::jthread t([&] {
    canceller = th::get_ident();
    EXPECT_TRUE(f.cancel());
    EXPECT_EQ(calls.load(), 2) << "cancel() runs the callbacks before it returns";
    EXPECT_TRUE(f.cancel());
  });
  t.join();
  EXPECT_EQ(calls.load(), 2) << "a second cancel() must not run them again";
  EXPECT_TRUE(was_cancelled.load());
  EXPECT_EQ(where.load(), canceller.load());

  busy.release();
  pool.shutdown();
  EXPECT_EQ(calls.load(), 2);
}

TEST(DoneCallback, SeesTheExceptionOfAFailedCall) {
  // test_done_callback_with_exception
  cf::ThreadPoolExecutor pool(1);
  Gate gate;
  cf::Future<int> f = pool.submit([&]() -> int {
    gate.wait();
    throw std::invalid_argument("test");
  });
  Log<std::string> seen;
  th::Event called;
  f.add_done_callback([&](cf::Future<int> g) {
    seen.push(what_of(g.exception()));
    try {
      g.result();
      seen.push("no throw");
    } catch (const std::invalid_argument&) {
      seen.push("rethrown");
    }
    called.set();
  });
  gate.open();
  ASSERT_TRUE(called.wait(long_wait()));
  EXPECT_EQ(seen.items(), (std::vector<std::string>{"test", "rethrown"}));
}

TEST(DoneCallback, RunInTheOrderAddedEachExactlyOnce) {
  BusyPool busy;
  auto& [gate, started, pool, f] = busy;
  ASSERT_TRUE(started.wait(long_wait()));
  Log<int> order;
  th::Event last;
  for (int i = 0; i < 5; ++i)
    f.add_done_callback([&, i](cf::Future<int>) {
      order.push(i);
      if (i == 4) last.set();
    });
  gate.open();
  ASSERT_TRUE(last.wait(long_wait()));
  // Later uses of the future do not run them again; a later callback runs once, at once.
  f.result();
  EXPECT_FALSE(f.cancel());
  f.add_done_callback([&](cf::Future<int>) { order.push(5); });
  pool.shutdown();
  EXPECT_EQ(order.items(), (std::vector<int>{0, 1, 2, 3, 4, 5}));
}

TEST(DoneCallback, ThrowingCallbackIsReportedAndIgnored) {
  // test_done_callback_raises / test_done_callback_raises_already_succeeded: the exception is
  // reported on stderr; the other callbacks still run and nothing propagates to the caller.
  BusyPool busy(5);
  auto& [gate, started, pool, f] = busy;
  ASSERT_TRUE(started.wait(long_wait()));
  std::atomic<int> raising_called{0}, fn_called{0};
  th::Event after;

  testing::internal::CaptureStderr();
  f.add_done_callback([&](cf::Future<int>) {
    raising_called++;
    throw std::runtime_error("doh! in the worker");
  });
  f.add_done_callback([&](cf::Future<int>) { fn_called++; });
  f.add_done_callback([&](cf::Future<int>) -> void { throw 17; });  // not a std::exception
  f.add_done_callback([&](cf::Future<int>) { after.set(); });
  gate.open();
  const bool ran = after.wait(long_wait());
  // Already done: in this thread, at once; add_done_callback must not throw.
  EXPECT_NO_THROW(f.add_done_callback([&](cf::Future<int>) {
    raising_called++;
    throw std::logic_error("doh! at once");
  }));
  EXPECT_NO_THROW(f.add_done_callback([&](cf::Future<int>) { fn_called++; }));
  const std::string err = testing::internal::GetCapturedStderr();

  ASSERT_TRUE(ran);
  EXPECT_EQ(raising_called.load(), 2);
  EXPECT_EQ(fn_called.load(), 2);
  EXPECT_NE(err.find("doh! in the worker"), std::string::npos) << err;
  EXPECT_NE(err.find("doh! at once"), std::string::npos) << err;
  EXPECT_EQ(f.result(), 5) << "a throwing callback does not change the outcome";

  // The worker that ran the throwing callbacks is still fine.
  EXPECT_EQ(pool.submit([] { return 6; }).result(long_wait()), 6);
}

TEST(DoneCallback, ThrowingCallbackOnCancelIsReportedAndIgnored) {
  BusyPool busy;
  auto& [gate, started, pool, blocker] = busy;
  cf::Future<int> f = pool.submit([] { return 1; });
  std::atomic<int> fn_called{0};
  f.add_done_callback([&](cf::Future<int>) { throw std::runtime_error("doh! on cancel"); });
  f.add_done_callback([&](cf::Future<int> g) {
    if (g.cancelled()) fn_called++;
  });
  testing::internal::CaptureStderr();
  bool cancelled = false;
  EXPECT_NO_THROW(cancelled = f.cancel());
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(cancelled);
  EXPECT_EQ(fn_called.load(), 1);
  EXPECT_NE(err.find("doh! on cancel"), std::string::npos) << err;
  busy.release();
}

TEST(DoneCallback, MayUseTheFutureAndThePool) {
  // A callback can ask its future anything, add another callback (which runs at once: the
  // future is done) and submit more work: nothing may deadlock.
  cf::ThreadPoolExecutor pool(2);
  Gate gate;
  cf::Future<int> f = pool.submit([&] {
    gate.wait();
    return 4;
  });
  Log<std::string> log;
  th::Event finished;
  cf::Future<int> follow_up = f;  // replaced by the callback's submission (guarded by `finished`)
  f.add_done_callback([&](cf::Future<int> g) {
    log.push("result " + std::to_string(g.result()));
    log.push(g.exception() == nullptr ? "no exception" : "exception");
    log.push(g.cancel() ? "cancelled" : "not cancelled");
    g.add_done_callback([&](cf::Future<int> h) { log.push("nested " + std::to_string(h.result(0ms))); });
    log.push("after nested");
    follow_up = pool.submit([](int x) { return x * 10; }, g.result());
    finished.set();
  });
  gate.open();
  ASSERT_TRUE(finished.wait(long_wait()));
  EXPECT_EQ(log.items(), (std::vector<std::string>{"result 4", "no exception", "not cancelled",
                                                   "nested 4", "after nested"}));
  EXPECT_EQ(follow_up.result(long_wait()), 40);
}

TEST(DoneCallback, AcceptsACallbackTakingAConstReference) {
  cf::ThreadPoolExecutor pool(1);
  cf::Future<int> f = pool.submit([] { return 8; });
  f.result(long_wait());
  int seen = 0;
  f.add_done_callback([&](const cf::Future<int>& g) { seen = g.result(); });
  EXPECT_EQ(seen, 8);
}

TEST(DoneCallback, CallbackHandleSharesTheFuturesState) {
  BusyPool busy;
  auto& [gate, started, pool, blocker] = busy;
  cf::Future<int> f = pool.submit([] { return 1; });
  std::vector<cf::Future<int>> kept;
  f.add_done_callback([&](cf::Future<int> g) { kept.push_back(g); });
  ASSERT_TRUE(f.cancel());  // callbacks run in this thread, so `kept` needs no lock
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_TRUE(kept[0].cancelled());
  EXPECT_THROW(kept[0].result(), cf::CancelledError);
  busy.release();
}

}  // namespace
