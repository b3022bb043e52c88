// ThreadPoolExecutor::shutdown (API.md §4): shutdown(true) waits for the queued and running
// calls; shutdown(false) returns at once and the work still finishes; cancel_futures cancels
// every call that has not started (those futures end cancelled, their callbacks run, the calls
// never run); the destructor is shutdown(true); submit() after shutdown throws
// concur::RuntimeError; shutting down twice is fine. Scenarios follow CPython's
// test_shutdown.py (ExecutorShutdownTest, ThreadPoolShutdownTest).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "futures_support.hpp"

namespace {

// Submits n calls that each count themselves in `ran` and return 2.
std::vector<cf::Future<int>> submit_counted(cf::ThreadPoolExecutor& pool, std::atomic<int>& ran, int n) {
  std::vector<cf::Future<int>> futs;
  for (int i = 0; i < n; ++i)
    futs.push_back(pool.submit([&ran] {
      ran++;
      return 2;
    }));
  return futs;
}

TEST(Shutdown, SubmitAfterShutdownThrowsRuntimeError) {
  // test_run_after_shutdown, for each form of shutdown.
  for (int form = 0; form < 4; ++form) {
    SCOPED_TRACE(form);
    cf::ThreadPoolExecutor pool(2);
    EXPECT_EQ(pool.submit([] { return 1; }).result(long_wait()), 1);
    if (form == 0) pool.shutdown();
    if (form == 1) pool.shutdown(false);
    if (form == 2) pool.shutdown(true, true);
    if (form == 3) pool.shutdown(false, true);
    EXPECT_THROW(pool.submit([] { return 2; }), concur::RuntimeError);
    EXPECT_THROW(pool.submit([](int x) { return x; }, 3), concur::RuntimeError);
    EXPECT_THROW((void)pool.map([](int x) { return x; }, std::vector<int>{1, 2}), concur::RuntimeError);
    try {
      pool.submit([] {});
      ADD_FAILURE() << "submit() after shutdown() returned";
    } catch (const concur::RuntimeError& e) {
      EXPECT_NE(std::string(e.what()), "");
    }
  }
}

TEST(Shutdown, SubmitBeforeUseAndShutdownOfAnUnusedPool) {
  cf::ThreadPoolExecutor pool(3);
  pool.shutdown();
  EXPECT_THROW(pool.submit([] { return 1; }), concur::RuntimeError);
  cf::ThreadPoolExecutor other(3);
  other.shutdown(false);
}

TEST(Shutdown, WaitRunsEveryQueuedCall) {
  // test_hang_issue12364: 50 short calls, then shutdown(); every future is done after it.
  cf::ThreadPoolExecutor pool(3);
  std::atomic<int> runs{0};
  std::vector<cf::Future<int>> futs;
  for (int i = 0; i < 50; ++i)
    futs.push_back(pool.submit([&runs, i] {
      std::this_thread::sleep_for(1ms);  // work, not synchronisation
      runs++;
      return i;
    }));
  pool.shutdown();
  EXPECT_EQ(runs.load(), 50);
  for (int i = 0; i < 50; ++i) {
    EXPECT_TRUE(futs[i].done());
    EXPECT_EQ(futs[i].result(0ms), i);
  }
}

TEST(Shutdown, WaitBlocksUntilTheRunningCallEnds) {
  BusyPool busy(4);
  auto& [gate, started, unused_pool, f] = busy;
  cf::ThreadPoolExecutor& pool = busy.pool;  // captured below (clang 14 captures no bindings)
  cf::Future<int> queued = pool.submit([] { return 5; });
  ASSERT_TRUE(started.wait(long_wait()));
  std::atomic<bool> returned{false};
  std::jthread t([&] {
    pool.shutdown(true);
    returned = true;
  });
  give_time_to_misbehave();
  EXPECT_FALSE(returned.load()) << "shutdown(true) returned while a call still ran";
  EXPECT_THROW(pool.submit([] { return 0; }), concur::RuntimeError) << "shutdown is already in effect";
  gate.open();
  t.join();
  EXPECT_TRUE(returned.load());
  EXPECT_TRUE(f.done());
  EXPECT_TRUE(queued.done());
  EXPECT_EQ(f.result(), 4);
  EXPECT_EQ(queued.result(), 5);
}

TEST(Shutdown, NoWaitReturnsAtOnceAndTheWorkStillFinishes) {
  // test_shutdown_no_wait, with held calls: shutdown(false) cannot have waited for them.
  BusyPool busy(1);
  auto& [gate, started, pool, running] = busy;
  cf::Future<int> queued1 = pool.submit([] { return 2; });
  cf::Future<int> queued2 = pool.submit([] { return 3; });
  ASSERT_TRUE(started.wait(long_wait()));
  pool.shutdown(false);
  EXPECT_FALSE(gate.is_open());
  EXPECT_FALSE(running.done());
  EXPECT_FALSE(queued1.done());
  EXPECT_FALSE(queued1.cancelled()) << "shutdown(false) without cancel_futures cancels nothing";
  EXPECT_EQ(busy.release(), 1);
  EXPECT_EQ(queued1.result(long_wait()), 2);
  EXPECT_EQ(queued2.result(long_wait()), 3);
}

TEST(Shutdown, NoWaitWithMapResults) {
  // test_shutdown_no_wait / test_del_shutdown: the results computed before shutdown.
  std::vector<int> in;
  for (int i = -5; i < 5; ++i) in.push_back(i);
  cf::ThreadPoolExecutor pool(5);
  auto res = pool.map([](int x) { return x < 0 ? -x : x; }, in);
  pool.shutdown(false);
  std::vector<int> out;
  for (int r : res) out.push_back(r);
  EXPECT_EQ(out, (std::vector<int>{5, 4, 3, 2, 1, 0, 1, 2, 3, 4}));
}

TEST(Shutdown, NoWaitLetsTheWorkersEnd) {
  cf::ThreadPoolExecutor pool(2);
  th::ThreadRef worker = pool.submit([] { return th::current_thread(); }).result(long_wait());
  EXPECT_TRUE(worker.is_alive());
  pool.shutdown(false);
  EXPECT_TRUE(eventually([&] { return !worker.is_alive(); }));
}

TEST(Shutdown, WaitJoinsTheWorkers) {
  // test_threads_terminate: three workers, all gone after shutdown().
  cf::ThreadPoolExecutor pool(3);
  th::Barrier barrier(3);
  std::vector<cf::Future<th::ThreadRef>> futs;
  for (int i = 0; i < 3; ++i)
    futs.push_back(pool.submit([&] {
      barrier.wait(long_wait());
      return th::current_thread();
    }));
  std::vector<th::ThreadRef> workers;
  for (auto& f : futs) workers.push_back(f.result(long_wait()));
  pool.shutdown();
  for (auto& w : workers) EXPECT_FALSE(w.is_alive()) << w.name();
}

TEST(Shutdown, CancelFuturesWithoutWaiting) {
  // shutdown(false, true): the queued calls are cancelled before it returns, their callbacks
  // run (in this thread), and they never run; the running call finishes normally.
  BusyPool busy(1);
  auto& [gate, started, unused_pool, running] = busy;
  cf::ThreadPoolExecutor& pool = busy.pool;  // captured below (clang 14 captures no bindings)
  std::atomic<int> ran{0};
  std::vector<cf::Future<int>> queued = submit_counted(pool, ran, 5);
  ASSERT_TRUE(started.wait(long_wait()));
  std::atomic<int> callbacks{0};
  std::atomic<std::uint64_t> callback_thread{0};
  for (auto& f : queued)
    f.add_done_callback([&](cf::Future<int> g) {
      if (g.cancelled()) callbacks++;
      callback_thread = th::get_ident();
    });
  pool.shutdown(false, true);
  for (auto& f : queued) {
    EXPECT_TRUE(f.cancelled());
    EXPECT_THROW(f.result(0ms), cf::CancelledError);
  }
  EXPECT_EQ(callbacks.load(), 5);
  EXPECT_EQ(callback_thread.load(), th::get_ident());
  EXPECT_TRUE(running.running()) << "a running call is not cancelled";
  EXPECT_EQ(busy.release(), 1);
  pool.shutdown();  // a second shutdown, now waiting
  EXPECT_EQ(ran.load(), 0);
}

TEST(Shutdown, CancelFuturesAndWait) {
  // shutdown(true, true) from another thread: cancels what is queued, then waits for the
  // running call.
  BusyPool busy(1);
  auto& [gate, started, unused_pool, running] = busy;
  cf::ThreadPoolExecutor& pool = busy.pool;  // captured below (clang 14 captures no bindings)
  std::atomic<int> ran{0};
  std::vector<cf::Future<int>> queued = submit_counted(pool, ran, 5);
  ASSERT_TRUE(started.wait(long_wait()));
  std::atomic<bool> returned{false};
  std::jthread t([&] {
    pool.shutdown(true, true);
    returned = true;
  });
  ASSERT_TRUE(eventually([&] {
    for (auto& f : queued)
      if (!f.cancelled()) return false;
    return true;
  }));
  give_time_to_misbehave();
  EXPECT_FALSE(returned.load()) << "shutdown(true, true) returned while a call still ran";
  gate.open();
  t.join();
  EXPECT_TRUE(returned.load());
  EXPECT_EQ(running.result(0ms), 1);
  EXPECT_EQ(ran.load(), 0);
}

TEST(Shutdown, CancelFuturesWithManyQueued) {
  // test_cancel_futures, made exact: 50 calls on 3 workers, the first 3 held running; then
  // shutdown(true, true) cancels the other 47, and the 3 finish without an exception.
  cf::ThreadPoolExecutor pool(3);
  Gate gate;
  std::atomic<int> started{0}, ran{0};
  std::vector<cf::Future<int>> futs;
  for (int i = 0; i < 50; ++i)
    futs.push_back(pool.submit([&] {
      started++;
      gate.wait();
      ran++;
      return 1;
    }));
  ASSERT_TRUE(eventually([&] { return started.load() == 3; }));
  std::jthread t([&] { pool.shutdown(true, true); });
  auto count_cancelled = [&] {
    int n = 0;
    for (auto& f : futs) n += f.cancelled();
    return n;
  };
  ASSERT_TRUE(eventually([&] { return count_cancelled() == 47; })) << count_cancelled();
  gate.open();
  t.join();
  int cancelled = 0, finished = 0;
  for (auto& f : futs) {
    EXPECT_TRUE(f.done());
    if (f.cancelled()) {
      cancelled++;
    } else {
      finished++;
      EXPECT_EQ(f.exception(0ms), nullptr);
    }
  }
  EXPECT_EQ(cancelled, 47);
  EXPECT_EQ(finished, 3);
  EXPECT_EQ(started.load(), 3) << "a cancelled call ran";
  EXPECT_EQ(ran.load(), 3);
}

TEST(Shutdown, DestructorIsShutdownTrue) {
  // test_context_manager_shutdown / test_del_shutdown: leaving the scope waits for every
  // queued call; nothing is cancelled.
  std::atomic<int> runs{0};
  std::vector<cf::Future<int>> futs;
  {
    cf::ThreadPoolExecutor pool(2);
    for (int i = 0; i < 30; ++i)
      futs.push_back(pool.submit([&runs, i] {
        std::this_thread::sleep_for(1ms);  // work, not synchronisation
        runs++;
        return -i;
      }));
  }
  EXPECT_EQ(runs.load(), 30);
  for (int i = 0; i < 30; ++i) {
    EXPECT_TRUE(futs[i].done());
    EXPECT_FALSE(futs[i].cancelled());
    EXPECT_EQ(futs[i].result(0ms), -i);
  }
  // After shutdown(false) too, the destructor waits.
  runs = 0;
  {
    cf::ThreadPoolExecutor pool(1);
    for (int i = 0; i < 10; ++i) pool.submit([&runs] { runs++; });
    pool.shutdown(false);
  }
  EXPECT_EQ(runs.load(), 10);
}

TEST(Shutdown, TwiceAndInAnyOrderIsFine) {
  cf::ThreadPoolExecutor pool(2);
  auto f = pool.submit([] { return 1; });
  pool.shutdown();
  pool.shutdown();
  pool.shutdown(false);
  pool.shutdown(true, true);
  pool.shutdown(false, true);
  EXPECT_EQ(f.result(0ms), 1);
  cf::ThreadPoolExecutor other(2);
  other.shutdown(false);
  other.shutdown(false, true);
  other.shutdown(true);
}  // and the destructors after them

TEST(Shutdown, AfterACancelledSubmission) {
  // test_hang_gh94440: a future cancelled right before shutdown(true) does not hang it.
  cf::ThreadPoolExecutor pool(1);
  EXPECT_EQ(pool.submit([] { return 0; }).result(long_wait()), 0);
  pool.submit([] { return 1; }).cancel();
  pool.shutdown(true);
}

TEST(Shutdown, FromInsideATask) {
  // shutdown(false) from a task of the pool returns; shutdown(true) there cannot join the
  // calling worker (CPython: "cannot join current thread"): RuntimeError. Either way the pool
  // is shut down for everyone.
  {
    cf::ThreadPoolExecutor pool(1);
    cf::Future<bool> f = pool.submit([&] {
      pool.shutdown(false);
      return true;
    });
    EXPECT_TRUE(f.result(long_wait()));
    EXPECT_THROW(pool.submit([] {}), concur::RuntimeError);
  }
  {
    cf::ThreadPoolExecutor pool(1);
    cf::Future<void> f = pool.submit([&] { pool.shutdown(true); });
    EXPECT_THROW(f.result(long_wait()), concur::RuntimeError);
    EXPECT_THROW(pool.submit([] {}), concur::RuntimeError);
  }
}

}  // namespace
