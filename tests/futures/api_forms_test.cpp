// Every call form written in API.md §4 (and the §1 rules they rely on), exactly as written there,
// compiled and run. Behaviour is checked where the comment next to a form states it; the deeper
// tests live in the other *_test.cpp files.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "concur/concur.hpp"
#include "futures_support.hpp"  // cf, th, concur_test (long_wait, scaled, time_of, ...)

static_assert(std::is_base_of_v<concur::Error, cf::CancelledError>);
static_assert(std::is_base_of_v<concur::Error, cf::InvalidStateError>);
static_assert(std::is_base_of_v<concur::Error, cf::BrokenExecutor>);

namespace {
int fn(int a, int b = 0) { return a + b; }
int fn1(int a) { return a * 2; }
int fn2(int x, int y) { return x * y; }
}  // namespace

TEST(FuturesApiForms, ThreadPoolConstruction) {
  {
    cf::ThreadPoolExecutor pool;  // max_workers = min(32, cpu_count + 4); threads start lazily
    EXPECT_EQ(pool.submit([] { return th::current_thread().name(); }).result(long_wait()).rfind("ThreadPoolExecutor-", 0),
              0u);  // default prefix "ThreadPoolExecutor-<k>"
  }
  EXPECT_THROW(cf::ThreadPoolExecutor(0), concur::ValueError);  // ThreadPoolExecutor(0): ValueError
  {
    cf::ThreadPoolExecutor pool(2);
    EXPECT_EQ(pool.submit(fn, 1, 2).result(long_wait()), 3);
  }
  std::atomic<int> inits{0};
  {
    cf::ThreadPoolExecutor pool(cf::ThreadPoolOptions{.max_workers = 4, .thread_name_prefix = "dl",
                                                      .initializer = [&] { inits++; /* once per worker */ }});
    EXPECT_EQ(pool.submit([] { return th::current_thread().name(); }).result(long_wait()), "dl_0");  // "<prefix>_<i>"
  }
  EXPECT_EQ(inits.load(), 1);
}

TEST(FuturesApiForms, FutureMembers) {
  cf::ThreadPoolExecutor pool(2);
  int a = 20, b = 22;
  cf::Future<int> f = pool.submit(fn, a, b);  // Future<R> where R = fn's result, void too
  f.result();  f.result(1s);           // rethrows fn's exception; concur::TimeoutError; cf::CancelledError
  EXPECT_EQ(f.result(), 42);
  EXPECT_EQ(f.result(1s), 42);
  f.exception();  f.exception(1s);     // std::exception_ptr, nullptr when fn returned
  EXPECT_EQ(f.exception(), nullptr);
  EXPECT_EQ(f.exception(1s), nullptr);
  (void)f.done(); (void)f.running(); (void)f.cancelled();
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.running());
  EXPECT_FALSE(f.cancelled());
  bool c = f.cancel();                 // true only if it had not started; then it never runs
  EXPECT_FALSE(c);
  std::atomic<int> called{0};
  f.add_done_callback([&](cf::Future<int> g) { called += g.result(); /* ... */ });
  EXPECT_EQ(called.load(), 42);  // runs at once in the caller's thread if f is already done
  cf::Future<int> copy = f;      // Future is a copyable handle
  EXPECT_EQ(copy.result(), 42);

  cf::Future<void> v = pool.submit([] {});  // void too
  v.result();
  v.result(1s);

  cf::Future<int> bad = pool.submit([](int) -> int { throw std::runtime_error("fn failed"); }, 1);
  EXPECT_THROW(bad.result(), std::runtime_error);
  EXPECT_THROW(bad.result(1s), std::runtime_error);
  EXPECT_NE(bad.exception(1s), nullptr);

  th::Event started;
  th::Event gate;
  cf::Future<int> blocker = pool.submit([&] {
    started.set();
    gate.wait(long_wait());
    return 0;
  });
  cf::Future<int> blocker2 = pool.submit([&] {
    started.set();
    gate.wait(long_wait());
    return 0;
  });
  cf::Future<int> pending = pool.submit(fn, 1, 1);
  EXPECT_THROW(pending.result(10ms), concur::TimeoutError);
  EXPECT_TRUE(pending.cancel());
  EXPECT_THROW(pending.result(), cf::CancelledError);
  gate.set();
  blocker.result(long_wait());
  blocker2.result(long_wait());
}

TEST(FuturesApiForms, Map) {
  cf::ThreadPoolExecutor pool(2);
  std::vector<int> inputs{1, 2, 3};
  std::vector<int> xs{1, 2, 3, 4}, ys{5, 6, 7};
  int sum = 0;
  for (int r : pool.map(fn1, inputs)) { sum += r; }
  EXPECT_EQ(sum, 12);
  for (int r : pool.map(fn1, inputs, 2s)) { sum += r; }
  EXPECT_EQ(sum, 24);
  std::vector<int> zipped;
  for (auto r : pool.map(fn2, xs, ys)) { zipped.push_back(r); }
  EXPECT_EQ(zipped, (std::vector<int>{5, 12, 21}));  // several ranges are zipped, shortest wins
  for (int r : pool.map(fn1, inputs, cf::MapOptions{.timeout = 2s, .buffersize = 64})) { sum += r; }
  EXPECT_EQ(sum, 36);
  for (int r : pool.map(fn1, inputs, cf::MapOptions{.chunksize = 4})) { sum += r; }  // ignored by thread pools
  EXPECT_EQ(sum, 48);
  bool rethrown = false;
  try {
    for (int r : pool.map([](int x) -> int { if (x == 2) throw std::range_error("two"); return x; }, inputs)) {
      (void)r;
    }
  } catch (const std::range_error&) {
    rethrown = true;  // an fn exception is rethrown when its result is reached
  }
  EXPECT_TRUE(rethrown);
}

TEST(FuturesApiForms, AsCompletedAndWait) {
  cf::ThreadPoolExecutor pool(2);
  std::vector<cf::Future<int>> futs;
  for (int i = 0; i < 4; ++i) futs.push_back(pool.submit(fn, i, 0));
  int n = 0;
  for (cf::Future<int> g : cf::as_completed(futs)) { n += g.done(); }
  for (cf::Future<int> g : cf::as_completed(futs, 1s)) { n += g.done(); }
  EXPECT_EQ(n, 8);
  auto [done, not_done] = cf::wait(futs);                    // std::vector<cf::Future<int>> each
  static_assert(std::is_same_v<decltype(done), std::vector<cf::Future<int>>>);
  static_assert(std::is_same_v<decltype(not_done), std::vector<cf::Future<int>>>);
  EXPECT_EQ(done.size(), 4u);
  EXPECT_TRUE(not_done.empty());
  auto [d, nd] = cf::wait(futs, 1s, cf::FIRST_COMPLETED);    // FIRST_EXCEPTION, ALL_COMPLETED
  EXPECT_EQ(d.size(), 4u);
  EXPECT_TRUE(nd.empty());
  auto [d2, nd2] = cf::wait(futs, 1s, cf::FIRST_EXCEPTION);
  auto [d3, nd3] = cf::wait(futs, 1s, cf::ALL_COMPLETED);
  EXPECT_EQ(d2.size() + d3.size(), 8u);
  EXPECT_TRUE(nd2.empty() && nd3.empty());
}

TEST(FuturesApiForms, Shutdown) {
  {
    cf::ThreadPoolExecutor pool(2);
    pool.submit(fn, 1, 2);
    pool.shutdown();  pool.shutdown(false);  pool.shutdown(true, /*cancel_futures=*/true);
    EXPECT_THROW(pool.submit(fn, 1, 2), concur::RuntimeError);  // submit() after shutdown: concur::RuntimeError
  }
  std::atomic<int> ran{0};
  {
    cf::ThreadPoolExecutor pool(2);
    for (int i = 0; i < 5; ++i) pool.submit([&] { ran++; });
  }  // The destructor is shutdown(true).
  EXPECT_EQ(ran.load(), 5);
}
