// ThreadPoolExecutor::map (API.md §4): results in input order, delivered lazily; an exception of
// a call is rethrown when its result is reached (after the earlier results); the timeout counts
// from the map() call; several ranges are zipped (shortest wins); MapOptions{.timeout,
// .buffersize}: at most buffersize calls submitted ahead of the consumer, so an endless input
// works in bounded memory; destroying the result range early cancels the calls that have not
// started. Scenarios follow CPython's executor.py (test_map*), test_thread_pool.py
// (test_map_submits_without_iteration, test_executor_map_current_future_cancel) and
// test_pool.py (test_map_buffersize*).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <exception>
#include <list>
#include <iterator>
#include <ranges>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "futures_support.hpp"

namespace {

void atomic_max(std::atomic<long>& m, long v) {
  long cur = m.load();
  while (cur < v && !m.compare_exchange_weak(cur, v)) {
  }
}

int square(int x) { return x * x; }

// kept_exception_note: an exception rethrown out of a map iteration is caught after the map
// range (and so the futures) has been destroyed; the worker that ran the call may then hold
// the last reference to the exception and free it. The exception's reference count lives in
// libstdc++, which ThreadSanitizer does not see, so reading what() inside the handler would be
// reported as a race with that free. Keeping an exception_ptr makes this thread the one that
// frees it.

// What iterating the map range make() returns gave before it threw E: the results, and the
// exception (null if none), kept as an exception_ptr (kept_exception_note).
struct Collected {
  std::vector<int> got;
  std::exception_ptr error;
};
template <class E, class MakeRange>
Collected collect_until(MakeRange make) {
  Collected c;
  try {
    for (int r : make()) c.got.push_back(r);
  } catch (const E&) {
    c.error = std::current_exception();
  }
  return c;
}

TEST(Map, ResultsInInputOrder) {
  // executor.test_map; calls finish in roughly reverse order, results come in input order.
  cf::ThreadPoolExecutor pool(4);
  std::vector<int> inputs;
  for (int i = 0; i < 12; ++i) inputs.push_back(i);
  std::vector<int> results;
  for (int r : pool.map(
           [](int x) {
             std::this_thread::sleep_for(std::chrono::milliseconds(12 - x));  // work, not sync
             return x * 3;
           },
           inputs))
    results.push_back(r);
  std::vector<int> expected;
  for (int i = 0; i < 12; ++i) expected.push_back(i * 3);
  EXPECT_EQ(results, expected);
}

TEST(Map, AcceptsManyKindsOfRange) {
  cf::ThreadPoolExecutor pool(3);
  auto collect = [](auto&& range) {
    std::vector<int> out;
    for (int r : range) out.push_back(r);
    return out;
  };
  const std::vector<int> cv{1, 2, 3};
  EXPECT_EQ(collect(pool.map(square, cv)), (std::vector<int>{1, 4, 9}));
  std::list<int> l{4, 5};
  EXPECT_EQ(collect(pool.map(square, l)), (std::vector<int>{16, 25}));
  std::array<int, 2> a{6, 7};
  EXPECT_EQ(collect(pool.map(square, a)), (std::vector<int>{36, 49}));
  EXPECT_EQ(collect(pool.map(square, Ints(0, 4))), (std::vector<int>{0, 1, 4, 9}));
  EXPECT_EQ(collect(pool.map(square, std::vector<int>{8, 9})), (std::vector<int>{64, 81}));
  EXPECT_EQ(collect(pool.map(&square, std::vector<int>{})), std::vector<int>{});

  std::vector<std::string> words{"a", "bb", "ccc"};
  std::vector<std::size_t> lengths;
  for (auto n : pool.map([](const std::string& s) { return s.size(); }, words)) lengths.push_back(n);
  EXPECT_EQ(lengths, (std::vector<std::size_t>{1, 2, 3}));
}

TEST(Map, EmptyInputCallsNothing) {
  cf::ThreadPoolExecutor pool(2);
  std::atomic<int> calls{0};
  int n = 0;
  for (int r : pool.map(
           [&](int x) {
             calls++;
             return x;
           },
           std::vector<int>{})) {
    (void)r;
    n++;
  }
  EXPECT_EQ(n, 0);
  EXPECT_EQ(calls.load(), 0);
}

TEST(Map, SeveralRangesAreZippedAndTheShortestWins) {
  // executor.test_map with two iterables (pow), and zip's shortest-wins rule.
  cf::ThreadPoolExecutor pool(3);
  std::vector<int> xs{1, 2, 3, 4, 5};
  std::vector<int> ys{3, 2, 1};
  std::atomic<int> calls{0};
  std::vector<int> out;
  for (auto r : pool.map(
           [&](int x, int y) {
             calls++;
             return x * 10 + y;
           },
           xs, ys))
    out.push_back(r);
  EXPECT_EQ(out, (std::vector<int>{13, 22, 31}));
  pool.shutdown();
  EXPECT_EQ(calls.load(), 3) << "no call for the longer range's extra elements";

  cf::ThreadPoolExecutor pool2(2);
  std::vector<std::string> names{"a", "b", "c", "d"};
  std::list<int> counts{1, 2, 3};
  std::vector<std::string> joined;
  for (auto s : pool2.map([](const std::string& n, int c, int k) { return n + std::to_string(c * k); }, names,
                          counts, Ints(1)))
    joined.push_back(s);
  EXPECT_EQ(joined, (std::vector<std::string>{"a1", "b4", "c9"})) << "an endless range zips too";
}

TEST(Map, SubmitsEveryCallWithoutIteration) {
  // test_map_submits_without_iteration (issue 11777); test_shutdown_no_wait's results check.
  cf::ThreadPoolExecutor pool(3);
  Log<int> finished;
  auto results = pool.map(
      [&](int n) {
        finished.push(n);
        return -n;
      },
      Ints(0, 10));
  pool.shutdown();  // waits for the calls
  auto f = finished.items();
  std::sort(f.begin(), f.end());
  EXPECT_EQ(f, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  std::vector<int> out;
  for (int r : results) out.push_back(r);
  EXPECT_EQ(out, (std::vector<int>{0, -1, -2, -3, -4, -5, -6, -7, -8, -9}));
}

TEST(Map, AResultNeverIteratedLetsItsCallsRun) {
  // Python: executor.map(fn, range(10)) discarded unstarted still runs every call (its
  // generator's cleanup never ran); so does a map range destroyed before begin().
  cf::ThreadPoolExecutor pool(2);
  Log<int> finished;
  (void)pool.map(
      [&](int n) {
        finished.push(n);
        return n;
      },
      Ints(0, 10));
  pool.shutdown();
  EXPECT_EQ(finished.size(), 10u);
}

TEST(Map, VoidFunctionYieldsMonostate) {
  // Python yields None for each call of a function that returns nothing.
  cf::ThreadPoolExecutor pool(2);
  std::atomic<int> calls{0};
  int n = 0;
  for (std::monostate m : pool.map([&](int) { calls++; }, std::vector<int>{1, 2, 3})) {
    (void)m;
    n++;
  }
  EXPECT_EQ(n, 3);
  EXPECT_EQ(calls.load(), 3);
  std::vector<int> reached;
  bool threw = false;
  try {
    for (auto m : pool.map(
             [&](int x) {
               if (x == 2) throw std::runtime_error("void fails");
             },
             std::vector<int>{1, 2, 3})) {
      (void)m;
      reached.push_back(1);
    }
  } catch (const std::runtime_error&) {
    threw = true;
  }
  EXPECT_TRUE(threw);
  EXPECT_EQ(reached.size(), 1u);
}

TEST(Map, ResultsAreDeliveredLazily) {
  // map() returns at once; the first result arrives while later calls are still held.
  cf::ThreadPoolExecutor pool(2);
  Gate gate;
  std::vector<int> inputs{0, 1, 2, 3};
  std::vector<int> out;
  const auto t = time_of([&] {
    auto results = pool.map(
        [&](int x) {
          if (x > 0) gate.wait();
          return x + 100;
        },
        inputs);
    for (int r : results) {
      out.push_back(r);
      if (r == 100) {
        EXPECT_FALSE(gate.is_open());
        gate.open();  // only now can the others finish
      }
    }
  });
  EXPECT_EQ(out, (std::vector<int>{100, 101, 102, 103}));
  EXPECT_LT(t, long_wait()) << "map() waited for calls that needed its first result to be read";
}

TEST(Map, ExceptionIsRethrownAtItsPosition) {
  // executor.test_map_exception: divmod by zero at the third position.
  cf::ThreadPoolExecutor pool(2);
  std::vector<int> xs{10, 20, 30, 40};
  std::vector<int> ys{2, 5, 0, 4};
  const auto [got, error] = collect_until<std::domain_error>([&] {
    return pool.map(
        [](int a, int b) {
          if (b == 0) throw std::domain_error("division by zero");
          return a / b;
        },
        xs, ys);
  });
  EXPECT_NE(error, nullptr);
  EXPECT_EQ(what_of(error), "division by zero");
  EXPECT_EQ(got, (std::vector<int>{5, 4})) << "the results before the failing call come first";
}

TEST(Map, TimeoutThrowsWhenAResultIsLate) {
  // executor.test_map_timeout: [0, 0, 6] with timeout=5, without the sleeps.
  cf::ThreadPoolExecutor pool(3);
  Gate gate;
  std::vector<int> got;
  bool timed_out = false;
  const auto start = Clock::now();
  try {
    for (int r : pool.map(
             [&](int x) {
               if (x == 2) gate.wait();
               return x;
             },
             std::vector<int>{0, 1, 2}, 200ms))
      got.push_back(r);
  } catch (const concur::TimeoutError&) {
    timed_out = true;
  }
  const auto elapsed = Clock::now() - start;
  gate.open();
  EXPECT_TRUE(timed_out);
  EXPECT_EQ(got, (std::vector<int>{0, 1}));
  expect_timed_out_after(elapsed, 200ms);
}

// The timeout counts from the map() call, not per result: once it has passed, waiting for a
// result that is not there throws at once.
template <class MakeMap>
void check_timeout_counts_from_the_call(MakeMap make_map, std::chrono::milliseconds timeout) {
  cf::ThreadPoolExecutor pool(2);
  Gate gate;
  auto fn = [&](int x) {
    if (x == 1) gate.wait();
    return x;
  };
  const auto start = Clock::now();
  auto results = make_map(pool, fn);
  auto it = results.begin();
  ASSERT_TRUE(it != results.end());
  EXPECT_EQ(*it, 0);
  // The consumer is slow: the whole timeout passes before it asks for the next result.
  std::this_thread::sleep_until(start + timeout + 20ms);
  Clock::duration step{};
  bool timed_out = false;
  const auto t0 = Clock::now();
  try {
    ++it;
    if (it != results.end()) (void)*it;
  } catch (const concur::TimeoutError&) {
    timed_out = true;
  }
  step = Clock::now() - t0;
  gate.open();
  EXPECT_TRUE(timed_out);
  EXPECT_LT(step, timeout) << "the wait for the second result started a new timeout";
}

TEST(Map, TimeoutCountsFromTheMapCall) {
  const auto timeout = 1000ms;
  check_timeout_counts_from_the_call(
      [&](cf::ThreadPoolExecutor& pool, auto& fn) { return pool.map(fn, std::vector<int>{0, 1, 2}, timeout); },
      timeout);
  check_timeout_counts_from_the_call(
      [&](cf::ThreadPoolExecutor& pool, auto& fn) {
        return pool.map(fn, std::vector<int>{0, 1, 2}, cf::MapOptions{.timeout = timeout});
      },
      timeout);
  check_timeout_counts_from_the_call(
      [&](cf::ThreadPoolExecutor& pool, auto& fn) {
        return pool.map(fn, std::vector<int>{0, 1, 2}, cf::MapOptions{.timeout = timeout, .buffersize = 2});
      },
      timeout);
}

TEST(Map, TimeoutFormsAcceptAnyDuration) {
  cf::ThreadPoolExecutor pool(2);
  std::vector<int> in{1, 2, 3};
  auto sum = [](auto&& range) {
    int s = 0;
    for (int r : range) s += r;
    return s;
  };
  EXPECT_EQ(sum(pool.map(square, in, 2s)), 14);
  EXPECT_EQ(sum(pool.map(square, in, std::chrono::duration<double>(2.0))), 14);
  EXPECT_EQ(sum(pool.map(square, in, cf::MapOptions{.timeout = 2s, .buffersize = 64})), 14);
  EXPECT_EQ(sum(pool.map(square, in, cf::MapOptions{.buffersize = 1})), 14);
  EXPECT_EQ(sum(pool.map(square, in, cf::MapOptions{.timeout = 2s})), 14);
  EXPECT_EQ(sum(pool.map(square, in, cf::MapOptions{})), 14);
  EXPECT_EQ(sum(pool.map(square, in, cf::MapOptions{.chunksize = 2})), 14) << "chunksize is ignored";
  EXPECT_EQ(sum(pool.map([](int a, int b) { return a * b; }, in, in, cf::MapOptions{.timeout = 2s})), 14);
  EXPECT_EQ(sum(pool.map([](int a, int b) { return a * b; }, in, in, 2s)), 14);
}

TEST(Map, TimedOutCallAndTheRestAreCancelled) {
  // test_executor_map_current_future_cancel: the pool's only worker is busy; map with timeout 0
  // times out on its first result; that call and the one after it never run.
  BusyPool busy;
  auto& [gate, started, pool, blocker] = busy;
  ASSERT_TRUE(started.wait(long_wait()));
  Log<std::string> log;
  bool timed_out = false;
  try {
    for (auto r : pool.map(
             [&](const std::string& s) {
               log.push(s);
               return s;
             },
             std::vector<std::string>{"second", "third"}, 0ms))
      (void)r;
  } catch (const concur::TimeoutError&) {
    timed_out = true;
  }
  EXPECT_TRUE(timed_out);
  busy.release();
  pool.shutdown();
  EXPECT_TRUE(log.items().empty()) << log.items().size() << " cancelled calls ran";
}

TEST(Map, DestroyingTheRangeEarlyCancelsWhatHasNotStarted) {
  for (const bool buffered : {false, true}) {
    SCOPED_TRACE(buffered ? "with buffersize" : "without buffersize");
    cf::ThreadPoolExecutor pool(1);
    Gate gate;
    th::Event second_started;
    Log<int> started;
    auto fn = [&](int x) {
      started.push(x);
      if (x == 1) {
        second_started.set();
        gate.wait();
      }
      return x;
    };
    Clock::time_point broke;
    {
      auto run = [&](auto&& results) {
        for (int r : results) {
          EXPECT_EQ(r, 0);
          // Call 1 is running (the only worker is in it); 2..9 are queued.
          EXPECT_TRUE(second_started.wait(long_wait()));
          broke = Clock::now();
          break;
        }
      };
      if (buffered)
        run(pool.map(fn, Ints(0, 10), cf::MapOptions{.buffersize = 5}));
      else
        run(pool.map(fn, Ints(0, 10)));
    }  // the range is gone
    const auto destroy = Clock::now() - broke;
    EXPECT_LT(destroy, long_wait()) << "destroying the range waited for the running call";
    gate.open();
    pool.shutdown();
    EXPECT_EQ(started.items(), (std::vector<int>{0, 1}));
  }
}

TEST(Map, BuffersizeBoundsHowFarAheadCallsAreSubmitted) {
  // test_map_buffersize*: with buffersize b, when the consumer has result k in hand, calls up
  // to k + b have been submitted at most and the input has been read no further.
  for (const int b : {1, 3, 8}) {
    SCOPED_TRACE("buffersize " + std::to_string(b));
    cf::ThreadPoolExecutor pool(4);
    std::atomic<long> max_read{-1}, max_started{-1};
    std::atomic<int> calls{0};
    Ints input(0, 60, [&](int i) { atomic_max(max_read, i); });
    auto results = pool.map(
        [&](int x) {
          atomic_max(max_started, x);
          calls++;
          return x * 2;
        },
        input, cf::MapOptions{.buffersize = b});
    give_time_to_misbehave();
    EXPECT_LT(max_read.load(), b) << "more than buffersize elements read before the first result";
    EXPECT_LT(max_started.load(), b);
    long k = 0;
    for (int r : results) {
      EXPECT_EQ(r, 2 * k);
      if (k % 7 == 0) give_time_to_misbehave();  // a slow consumer: the pool must not run ahead
      EXPECT_LE(max_read.load(), k + b) << "at result " << k;
      EXPECT_LE(max_started.load(), k + b) << "at result " << k;
      ++k;
    }
    EXPECT_EQ(k, 60);
    EXPECT_EQ(calls.load(), 60);
  }
}

TEST(Map, BuffersizeMustBePositive) {
  // test_map_buffersize_validation: "buffersize must be None or >= 1".
  cf::ThreadPoolExecutor pool(1);
  std::atomic<int> calls{0};
  auto fn = [&](int x) {
    calls++;
    return x;
  };
  EXPECT_THROW((void)pool.map(fn, std::vector<int>{1, 2}, cf::MapOptions{.buffersize = 0}), concur::ValueError);
  EXPECT_THROW((void)pool.map(fn, std::vector<int>{1, 2}, cf::MapOptions{.buffersize = -1}), concur::ValueError);
  pool.shutdown();
  EXPECT_EQ(calls.load(), 0);
}

TEST(Map, BuffersizeMakesAnEndlessInputWork) {
  // test_map_buffersize_on_infinite_iterable: Ints(0) never ends; only what the
  // consumer takes (plus the buffer) is ever submitted, and stopping early leaves nothing behind.
  std::atomic<long> max_started{-1};
  std::atomic<int> calls{0};
  constexpr int kTake = 300, kBuffer = 4;
  {
    cf::ThreadPoolExecutor pool(2);
    int taken = 0;
    for (long r : pool.map(
             [&](int x) {
               atomic_max(max_started, x);
               calls++;
               return static_cast<long>(x) * 2;
             },
             Ints(0), cf::MapOptions{.buffersize = kBuffer})) {
      EXPECT_EQ(r, 2L * taken);
      if (++taken == kTake) break;
    }
    EXPECT_EQ(taken, kTake);
    pool.shutdown();
  }
  EXPECT_LE(max_started.load(), kTake - 1 + kBuffer);
  EXPECT_LE(calls.load(), kTake + kBuffer);
  EXPECT_GE(calls.load(), kTake);
}

TEST(Map, BuffersizeWithSeveralRangesAndAnException) {
  cf::ThreadPoolExecutor pool(3);
  const auto [got, error] = collect_until<std::runtime_error>([&] {
    return pool.map(
        [](int a, int b) {
          if (a == 5) throw std::runtime_error("five");
          return a + b;
        },
        Ints(0), std::vector<int>{10, 10, 10, 10, 10, 10, 10, 10}, cf::MapOptions{.buffersize = 2});
  });
  EXPECT_NE(error, nullptr);
  EXPECT_EQ(what_of(error), "five");
  EXPECT_EQ(got, (std::vector<int>{10, 11, 12, 13, 14}));

  std::vector<int> all;
  for (int r : pool.map([](int a, int b) { return a * b; }, Ints(1), std::vector<int>{2, 2, 2},
                        cf::MapOptions{.timeout = 5s, .buffersize = 1}))
    all.push_back(r);
  EXPECT_EQ(all, (std::vector<int>{2, 4, 6}));
}

TEST(Map, ManyConsumersMapOnOnePool) {
  cf::ThreadPoolExecutor pool(4);
  std::atomic<int> wrong{0};
  run_parallel(4, [&](int t) {
    for (int round = 0; round < 5; ++round) {
      int k = 0;
      for (int r : pool.map([t](int x) { return x * 10 + t; }, Ints(0, 50),
                            cf::MapOptions{.buffersize = 1 + round * 3})) {
        if (r != k * 10 + t) wrong++;
        ++k;
      }
      if (k != 50) wrong++;
    }
  });
  EXPECT_EQ(wrong.load(), 0);
}

// --- a common range: list(executor.map(...)) ------------------------------------------------------

TEST(MapRange, CollectsIntoAVectorLikePythonsList) {
  cf::ThreadPoolExecutor pool(2);
  auto results = pool.map(square, std::vector<int>{1, 2, 3, 4});
  static_assert(std::ranges::common_range<decltype(results)>);
  std::vector<int> v(results.begin(), results.end());
  EXPECT_EQ(v, (std::vector<int>{1, 4, 9, 16}));
}

TEST(MapRange, CommonRangeIteratorsCompareAtTheEnd) {
  cf::ThreadPoolExecutor pool(2);
  auto empty = pool.map(square, std::vector<int>{});
  EXPECT_TRUE(empty.begin() == empty.end());
  auto one = pool.map(square, std::vector<int>{7});
  auto it = one.begin();
  EXPECT_TRUE(it != one.end());
  EXPECT_EQ(*it, 49);
  ++it;
  EXPECT_TRUE(it == one.end());
  EXPECT_TRUE(it == std::default_sentinel);
}

}  // namespace
