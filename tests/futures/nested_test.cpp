// Help-while-waiting (API.md §4 says nothing; CPython deadlocks here, concur must not): a call
// running on a pool worker that waits for another call of the same pool (result(), timed or
// not, or exception()) does not block the pool — the waiting worker runs queued calls
// meanwhile. A pool of one worker finishes a call that submits a second call and waits for it;
// chains of calls waiting on calls finish on a pool of two. Every inner wait is bounded, so a
// deadlock shows as a TimeoutError, not a hang.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "futures_support.hpp"

namespace {

TEST(HelpWhileWaiting, OneWorkerWaitsForASecondCallOfItsPool) {
  cf::ThreadPoolExecutor pool(1);
  cf::Future<int> outer = pool.submit([&] {
    cf::Future<int> inner = pool.submit([](int x) { return x * 2; }, 21);
    return inner.result(long_wait()) + 1;
  });
  EXPECT_EQ(outer.result(long_wait()), 43);
}

TEST(HelpWhileWaiting, UntimedResultAndExceptionToo) {
  cf::ThreadPoolExecutor pool(1);
  cf::Future<std::string> outer = pool.submit([&] {
    cf::Future<int> value = pool.submit([] { return 5; });
    cf::Future<int> error = pool.submit([]() -> int { throw std::runtime_error("inner failed"); });
    cf::Future<void> nothing = pool.submit([] {});
    std::string out = std::to_string(value.result());  // no timeout
    out += "/" + what_of(error.exception(long_wait()));
    nothing.result();
    try {
      error.result();
    } catch (const std::runtime_error& e) {
      out += "/rethrown " + std::string(e.what());
    }
    return out;
  });
  EXPECT_EQ(outer.result(long_wait()), "5/inner failed/rethrown inner failed");
}

TEST(HelpWhileWaiting, InnerCallsRunOnTheWaitingWorker) {
  // With one worker, the only thread that can run the inner call is the one waiting for it.
  cf::ThreadPoolExecutor pool(cf::ThreadPoolOptions{.max_workers = 1, .thread_name_prefix = "solo"});
  cf::Future<std::vector<std::string>> outer = pool.submit([&] {
    std::vector<std::string> names{th::current_thread().name()};
    std::vector<cf::Future<std::string>> inner;
    for (int i = 0; i < 5; ++i) inner.push_back(pool.submit([] { return th::current_thread().name(); }));
    for (auto& f : inner) names.push_back(f.result(long_wait()));
    return names;
  });
  const auto names = outer.result(long_wait());
  ASSERT_EQ(names.size(), 6u);
  for (const auto& n : names) EXPECT_EQ(n, "solo_0");
}

int chain(cf::ThreadPoolExecutor& pool, int depth) {
  if (depth == 0) return 0;
  cf::Future<int> next = pool.submit(chain, std::ref(pool), depth - 1);
  return next.result(long_wait()) + 1;
}

TEST(HelpWhileWaiting, ChainsOfWaitingCallsOnTwoWorkers) {
  // task waits on task waits on task ...: deeper than the pool is wide.
  cf::ThreadPoolExecutor pool(2);
  EXPECT_EQ(pool.submit(chain, std::ref(pool), 3).result(long_wait()), 3);
  EXPECT_EQ(pool.submit(chain, std::ref(pool), 10).result(long_wait()), 10);
  // Two chains at once, sharing the two workers.
  cf::Future<int> a = pool.submit(chain, std::ref(pool), 8);
  cf::Future<int> b = pool.submit(chain, std::ref(pool), 8);
  EXPECT_EQ(a.result(long_wait()), 8);
  EXPECT_EQ(b.result(long_wait()), 8);
}

TEST(HelpWhileWaiting, ChainOnOneWorker) {
  cf::ThreadPoolExecutor pool(1);
  EXPECT_EQ(pool.submit(chain, std::ref(pool), 6).result(long_wait()), 6);
}

TEST(HelpWhileWaiting, FanOutAndJoinInsideCalls) {
  // Every call of a pool of two splits its work into calls of the same pool and waits for
  // them: a recursive sum over [lo, hi).
  cf::ThreadPoolExecutor pool(2);
  std::function<long(int, int)> sum = [&](int lo, int hi) -> long {
    if (hi - lo <= 4) {
      long s = 0;
      for (int i = lo; i < hi; ++i) s += i;
      return s;
    }
    const int mid = lo + (hi - lo) / 2;
    cf::Future<long> left = pool.submit(sum, lo, mid);
    cf::Future<long> right = pool.submit(sum, mid, hi);
    return left.result(long_wait()) + right.result(long_wait());
  };
  EXPECT_EQ(pool.submit(sum, 0, 200).result(long_wait()), 199L * 200 / 2);
}

TEST(HelpWhileWaiting, WaitingWorkerDoesNotRunCancelledCalls) {
  cf::ThreadPoolExecutor pool(1);
  std::atomic<int> cancelled_ran{0};
  cf::Future<int> outer = pool.submit([&] {
    cf::Future<int> dropped = pool.submit([&] {
      cancelled_ran++;
      return 1;
    });
    cf::Future<int> kept = pool.submit([] { return 2; });
    const bool c = dropped.cancel();
    return (c ? 10 : 0) + kept.result(long_wait());
  });
  EXPECT_EQ(outer.result(long_wait()), 12);
  pool.shutdown();
  EXPECT_EQ(cancelled_ran.load(), 0);
}

TEST(HelpWhileWaiting, MapInsideACall) {
  cf::ThreadPoolExecutor pool(1);
  cf::Future<int> outer = pool.submit([&] {
    int s = 0;
    for (int r : pool.map([](int x) { return x * x; }, std::vector<int>{1, 2, 3}, long_wait())) s += r;
    return s;
  });
  EXPECT_EQ(outer.result(long_wait()), 14);
}

}  // namespace
