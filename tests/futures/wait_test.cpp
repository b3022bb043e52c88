// cf::as_completed and cf::wait (API.md §4). as_completed yields each distinct future once
// (duplicates once), those already done first, then each as it finishes (a cancel counts);
// its timeout counts from the call and throws concur::TimeoutError when not all finish in time.
// wait splits the futures into done / not_done when FIRST_COMPLETED, FIRST_EXCEPTION or
// ALL_COMPLETED holds, or when its timeout passes. Scenarios follow CPython's
// test_as_completed.py and test_wait.py; futures are told apart by their outcome.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <list>
#include <ranges>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "futures_support.hpp"

namespace {

// "pending", "cancelled", "error:<what>" or "value:<n>".
std::string describe(const cf::Future<int>& f) {
  if (!f.done()) return "pending";
  if (f.cancelled()) return "cancelled";
  if (std::exception_ptr e = f.exception()) return "error:" + what_of(e);
  return "value:" + std::to_string(f.result());
}
std::multiset<std::string> describe(const std::vector<cf::Future<int>>& fs) {
  std::multiset<std::string> out;
  for (const auto& f : fs) out.insert(describe(f));
  return out;
}

// Futures in each finished state, as CPython's util.py makes them (SUCCESSFUL_FUTURE = 42,
// EXCEPTION_FUTURE = OSError, CANCELLED_AND_NOTIFIED_FUTURE), from a pool of their own.
cf::Future<int> make_cancelled(cf::ThreadPoolExecutor& pool) {
  th::Event started;
  Gate gate;
  cf::Future<int> blocker = occupy(pool, started, gate);
  cf::Future<int> f = pool.submit([] { return -1; });
  EXPECT_TRUE(f.cancel());
  gate.open();
  blocker.result(long_wait());
  return f;
}

struct DoneFutures {
  DoneFutures() {
    successful.result(long_wait());
    failed.exception(long_wait());
  }
  cf::ThreadPoolExecutor pool{1};
  cf::Future<int> successful = pool.submit([] { return 42; });
  cf::Future<int> failed = pool.submit([]() -> int { throw std::runtime_error("os error"); });
  cf::Future<int> cancelled = make_cancelled(pool);
};

// --- as_completed -----------------------------------------------------------------------------------

TEST(AsCompleted, YieldsEveryFutureOnce) {
  // test_as_completed.test_no_timeout
  DoneFutures old;
  cf::ThreadPoolExecutor pool(2);
  cf::Future<int> f1 = pool.submit([](int a, int b) { return a * b; }, 2, 21);
  cf::Future<int> f2 = pool.submit([](int a, int b) { return a * b; }, 7, 7);
  std::vector<cf::Future<int>> futs{old.cancelled, old.failed, old.successful, f1, f2};
  std::vector<cf::Future<int>> completed;
  for (cf::Future<int> g : cf::as_completed(futs)) {
    EXPECT_TRUE(g.done());
    completed.push_back(g);
  }
  EXPECT_EQ(describe(completed), (std::multiset<std::string>{"cancelled", "error:os error", "value:42",
                                                             "value:42", "value:49"}));
}

TEST(AsCompleted, CollectsIntoAVector) {
  DoneFutures old;
  std::vector<cf::Future<int>> futs{old.cancelled, old.successful};
  auto completed = cf::as_completed(futs);
  static_assert(std::ranges::common_range<decltype(completed)>);
  std::vector<cf::Future<int>> v(completed.begin(), completed.end());
  EXPECT_EQ(describe(v), (std::multiset<std::string>{"cancelled", "value:42"}));
}

TEST(AsCompleted, AlreadyDoneFuturesComeFirst) {
  DoneFutures old;
  BusyPool busy(7);
  auto& [gate, started, pool, running] = busy;
  std::vector<cf::Future<int>> futs{running, old.successful, old.failed};
  std::vector<std::string> order;
  for (cf::Future<int> g : cf::as_completed(futs, long_wait())) {
    order.push_back(describe(g));
    if (order.size() == 2) {
      EXPECT_FALSE(running.done());
      gate.open();  // the last one can finish only now
    }
  }
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(std::multiset<std::string>(order.begin(), order.begin() + 2),
            (std::multiset<std::string>{"value:42", "error:os error"}));
  EXPECT_EQ(order[2], "value:7");
}

TEST(AsCompleted, YieldsInTheOrderTheyFinish) {
  cf::ThreadPoolExecutor pool(3);
  Gate gates[3];
  std::vector<cf::Future<int>> futs;
  for (int i = 0; i < 3; ++i)
    futs.push_back(pool.submit([&gates, i] {
      gates[i].wait();
      return i;
    }));
  const int release_order[3] = {2, 0, 1};
  gates[release_order[0]].open();
  std::vector<int> order;
  for (cf::Future<int> g : cf::as_completed(futs)) {
    order.push_back(g.result());
    if (order.size() < 3) gates[release_order[order.size()]].open();
  }
  EXPECT_EQ(order, (std::vector<int>{2, 0, 1}));
}

TEST(AsCompleted, DuplicatesAreYieldedOnce) {
  // test_duplicate_futures (issue 20367)
  cf::ThreadPoolExecutor pool(1);
  Gate gate;
  cf::Future<int> f = pool.submit([&] {
    gate.wait();
    return 3;
  });
  std::vector<cf::Future<int>> three(3, f);
  std::vector<cf::Future<int>> completed;
  {
    auto range = cf::as_completed(three, long_wait());
    gate.open();
    for (cf::Future<int> g : range) completed.push_back(g);
  }
  ASSERT_EQ(completed.size(), 1u);
  EXPECT_EQ(completed[0].result(), 3);

  DoneFutures old;
  std::vector<cf::Future<int>> mixed{old.successful, f, old.successful, f, old.cancelled, old.cancelled};
  completed.clear();
  for (cf::Future<int> g : cf::as_completed(mixed)) completed.push_back(g);
  EXPECT_EQ(describe(completed), (std::multiset<std::string>{"value:42", "value:3", "cancelled"}));
}

TEST(AsCompleted, TimeoutAfterYieldingWhatFinished) {
  // test_future_times_out and test_correct_timeout_exception_msg
  DoneFutures old;
  for (const auto timeout : {0ms, 100ms}) {
    SCOPED_TRACE(timeout.count());
    BusyPool busy;
    auto& [gate, started, pool, late] = busy;
    std::vector<cf::Future<int>> futs{old.cancelled, old.failed, old.successful, late};
    std::multiset<std::string> completed;
    std::string message;
    const auto t = time_of([&] {
      try {
        for (cf::Future<int> g : cf::as_completed(futs, timeout)) completed.insert(describe(g));
        ADD_FAILURE() << "as_completed did not time out";
      } catch (const concur::TimeoutError& e) {
        message = e.what();
      }
    });
    EXPECT_EQ(completed, (std::multiset<std::string>{"cancelled", "error:os error", "value:42"}));
    EXPECT_NE(message.find("1 (of 4)"), std::string::npos) << message;
    expect_timed_out_after(t, timeout);
    EXPECT_FALSE(late.done());
    busy.release();
  }
}

TEST(AsCompleted, TimeoutCountsFromTheCall) {
  BusyPool busy;
  auto& [gate, started, pool, late] = busy;
  cf::Future<int> early = pool.submit([] { return 1; });  // queued behind `late`
  ASSERT_TRUE(early.cancel());
  const auto timeout = 500ms;
  std::vector<cf::Future<int>> futs{late, early};
  auto range = cf::as_completed(futs, timeout);
  std::this_thread::sleep_for(timeout + 20ms);  // a slow consumer: the time is up
  int yielded = 0;
  bool timed_out = false;
  const auto t = time_of([&] {
    try {
      for (cf::Future<int> g : range) {
        EXPECT_TRUE(g.cancelled());
        yielded++;
      }
    } catch (const concur::TimeoutError&) {
      timed_out = true;
    }
  });
  EXPECT_EQ(yielded, 1) << "what was done in time is still yielded";
  EXPECT_TRUE(timed_out);
  EXPECT_LT(t, timeout) << "the iteration started a new timeout";
  busy.release();
}

TEST(AsCompleted, ACancelCountsAsCompletion) {
  BusyPool busy(5);
  auto& [gate, started, pool, running] = busy;
  cf::Future<int> pending = pool.submit([] { return 6; });
  std::vector<cf::Future<int>> futs{running, pending};
  std::jthread canceller([&] {
    give_time_to_misbehave();  // usually while as_completed waits; either order must work
    EXPECT_TRUE(pending.cancel());
  });
  std::vector<std::string> order;
  for (cf::Future<int> g : cf::as_completed(futs, long_wait())) {
    order.push_back(describe(g));
    if (order.size() == 1) gate.open();
  }
  EXPECT_EQ(order, (std::vector<std::string>{"cancelled", "value:5"}));
}

TEST(AsCompleted, EmptyInputAndOtherRanges) {
  std::vector<cf::Future<int>> none;
  int n = 0;
  for (cf::Future<int> g : cf::as_completed(none)) {
    (void)g;
    n++;
  }
  for (cf::Future<int> g : cf::as_completed(none, 0ms)) {
    (void)g;
    n++;
  }
  EXPECT_EQ(n, 0);

  cf::ThreadPoolExecutor pool(2);
  std::list<cf::Future<std::string>> strings{pool.submit([] { return std::string("x"); }),
                                             pool.submit([] { return std::string("y"); })};
  std::multiset<std::string> got;
  for (cf::Future<std::string> g : cf::as_completed(strings, std::chrono::duration<double>(10.0)))
    got.insert(g.result());
  EXPECT_EQ(got, (std::multiset<std::string>{"x", "y"}));

  std::vector<cf::Future<void>> voids{pool.submit([] {}), pool.submit([] { throw std::logic_error("v"); })};
  int ok = 0, failed = 0;
  for (cf::Future<void> g : cf::as_completed(voids)) (g.exception() ? failed : ok)++;
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(failed, 1);
}

// --- wait ---------------------------------------------------------------------------------------------

static_assert(std::is_same_v<decltype(cf::wait(std::declval<std::vector<cf::Future<int>>&>()).done),
                             std::vector<cf::Future<int>>>);
static_assert(std::is_same_v<decltype(cf::wait(std::declval<std::vector<cf::Future<int>>&>()).not_done),
                             std::vector<cf::Future<int>>>);

TEST(Wait, DuplicatesCountOnce) {
  // test_wait.test_20369
  cf::ThreadPoolExecutor pool(1);
  cf::Future<int> f = pool.submit([](int a, int b) { return a * b; }, 1, 2);
  std::vector<cf::Future<int>> futs{f, f};
  auto [done, not_done] = cf::wait(futs, long_wait(), cf::ALL_COMPLETED);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].result(), 2);
  EXPECT_TRUE(not_done.empty());
}

TEST(Wait, FirstCompleted) {
  // test_first_completed
  cf::ThreadPoolExecutor pool(2);
  Gate gate;
  cf::Future<int> f1 = pool.submit([](int a, int b) { return a * b; }, 21, 2);
  cf::Future<int> f2 = pool.submit([&] {
    gate.wait();
    return 2;
  });
  std::vector<cf::Future<int>> futs{f1, f2};
  auto [done, not_done] = cf::wait(futs, long_wait(), cf::FIRST_COMPLETED);
  EXPECT_EQ(describe(done), std::multiset<std::string>{"value:42"});
  EXPECT_EQ(describe(not_done), std::multiset<std::string>{"pending"});
  gate.open();
  ASSERT_EQ(not_done.size(), 1u);
  EXPECT_EQ(not_done[0].result(long_wait()), 2) << "not_done holds f2 itself";
}

TEST(Wait, FirstCompletedWithSomeAlreadyCompleted) {
  // test_first_completed_some_already_completed: returns at once.
  DoneFutures old;
  BusyPool busy(1);
  auto& [gate, started, pool, f1] = busy;
  std::vector<cf::Future<int>> futs{old.cancelled, old.successful, f1};
  auto [done, not_done] = cf::wait(futs, long_wait(), cf::FIRST_COMPLETED);
  EXPECT_EQ(describe(done), (std::multiset<std::string>{"cancelled", "value:42"}));
  EXPECT_EQ(describe(not_done), std::multiset<std::string>{"pending"});
  busy.release();
}

TEST(Wait, FirstException) {
  // test_first_exception: f1 succeeds, then f2 fails; f3 still runs.
  cf::ThreadPoolExecutor pool(3);
  Gate g1, g2;
  cf::Future<int> f1 = pool.submit([](int a, int b) { return a * b; }, 2, 21);
  cf::Future<int> f2 = pool.submit([&]() -> int {
    g1.wait();
    throw std::runtime_error("this is an exception");
  });
  cf::Future<int> f3 = pool.submit([&] {
    g2.wait();
    return 3;
  });
  std::jthread t([&] {
    f1.result(long_wait());
    g1.open();
  });
  std::vector<cf::Future<int>> futs{f1, f2, f3};
  auto [done, not_done] = cf::wait(futs, long_wait(), cf::FIRST_EXCEPTION);
  EXPECT_EQ(describe(done), (std::multiset<std::string>{"value:42", "error:this is an exception"}));
  EXPECT_EQ(describe(not_done), std::multiset<std::string>{"pending"});
  g2.open();
  EXPECT_EQ(f3.result(long_wait()), 3);
}

TEST(Wait, FirstExceptionWithSomeAlreadyComplete) {
  // test_first_exception_some_already_complete
  DoneFutures old;
  cf::ThreadPoolExecutor pool(2);
  Gate gate;
  cf::Future<int> f1 = pool.submit([](int a, int b) { return a / b; }, 21, 1);
  f1.result(long_wait());
  cf::Future<int> bad = pool.submit([](int a, int b) -> int {
    if (b == 0) throw std::domain_error("division by zero");
    return a / b;
  }, 21, 0);
  cf::Future<int> f2 = pool.submit([&] {
    gate.wait();
    return 2;
  });
  std::vector<cf::Future<int>> futs{old.successful, old.cancelled, f1, bad, f2};
  auto [done, not_done] = cf::wait(futs, long_wait(), cf::FIRST_EXCEPTION);
  EXPECT_EQ(describe(done),
            (std::multiset<std::string>{"value:42", "cancelled", "value:21", "error:division by zero"}));
  EXPECT_EQ(describe(not_done), std::multiset<std::string>{"pending"});
  gate.open();
  f2.result(long_wait());
}

TEST(Wait, FirstExceptionWithOneAlreadyFailed) {
  // test_first_exception_one_already_failed: returns at once.
  DoneFutures old;
  BusyPool busy;
  auto& [gate, started, pool, f1] = busy;
  std::vector<cf::Future<int>> futs{old.failed, f1};
  auto [done, not_done] = cf::wait(futs, long_wait(), cf::FIRST_EXCEPTION);
  EXPECT_EQ(describe(done), std::multiset<std::string>{"error:os error"});
  EXPECT_EQ(describe(not_done), std::multiset<std::string>{"pending"});
  busy.release();
}

TEST(Wait, FirstExceptionWithoutAnExceptionWaitsForAll) {
  cf::ThreadPoolExecutor pool(2);
  Gate gate;
  cf::Future<int> f1 = pool.submit([] { return 1; });
  cf::Future<int> f2 = pool.submit([&] {
    gate.wait();
    return 2;
  });
  std::jthread opener([&] {
    f1.result(long_wait());
    give_time_to_misbehave();  // usually while wait() is asleep; either order must work
    gate.open();
  });
  std::vector<cf::Future<int>> futs{f1, f2};
  auto [done, not_done] = cf::wait(futs, long_wait(), cf::FIRST_EXCEPTION);
  EXPECT_EQ(describe(done), (std::multiset<std::string>{"value:1", "value:2"}));
  EXPECT_TRUE(not_done.empty());
}

TEST(Wait, AllCompleted) {
  // test_all_completed
  DoneFutures old;
  cf::ThreadPoolExecutor pool(2);
  cf::Future<int> f1 = pool.submit([](int a, int b) -> int {
    if (b == 0) throw std::domain_error("division by zero");
    return a / b;
  }, 2, 0);
  cf::Future<int> f2 = pool.submit([](int a, int b) { return a * b; }, 2, 21);
  std::vector<cf::Future<int>> futs{old.successful, old.cancelled, old.failed, f1, f2};
  auto [done, not_done] = cf::wait(futs, long_wait(), cf::ALL_COMPLETED);
  EXPECT_EQ(describe(done), (std::multiset<std::string>{"value:42", "cancelled", "error:os error",
                                                        "error:division by zero", "value:42"}));
  EXPECT_TRUE(not_done.empty());

  // The untimed forms.
  auto [d2, nd2] = cf::wait(futs);
  EXPECT_EQ(d2.size(), 5u);
  EXPECT_TRUE(nd2.empty());
  auto [d3, nd3] = cf::wait(futs, long_wait());
  EXPECT_EQ(d3.size(), 5u);
  EXPECT_TRUE(nd3.empty());
}

TEST(Wait, TimeoutReturnsTheSplitWithoutThrowing) {
  // test_wait.test_timeout
  DoneFutures old;
  BusyPool busy(9);
  auto& [gate, started, pool, future] = busy;
  std::vector<cf::Future<int>> futs{old.cancelled, old.failed, old.successful, future};
  {
    decltype(cf::wait(futs)) r;
    const auto t = time_of([&] { r = cf::wait(futs, 50ms, cf::ALL_COMPLETED); });
    expect_timed_out_after_50ms(t);
    EXPECT_EQ(describe(r.done), (std::multiset<std::string>{"cancelled", "error:os error", "value:42"}));
    EXPECT_EQ(describe(r.not_done), std::multiset<std::string>{"pending"});
  }
  {
    // FIRST_EXCEPTION without a failed future waits like ALL_COMPLETED.
    std::vector<cf::Future<int>> no_failure{old.cancelled, old.successful, future};
    decltype(cf::wait(futs)) r;
    const auto t = time_of([&] { r = cf::wait(no_failure, 50ms, cf::FIRST_EXCEPTION); });
    expect_timed_out_after_50ms(t);
    EXPECT_EQ(describe(r.done), (std::multiset<std::string>{"cancelled", "value:42"}));
    EXPECT_EQ(describe(r.not_done), std::multiset<std::string>{"pending"});
  }
  std::vector<cf::Future<int>> only_pending{future};
  for (const auto when : {cf::ALL_COMPLETED, cf::FIRST_COMPLETED, cf::FIRST_EXCEPTION}) {
    auto [done, not_done] = cf::wait(only_pending, std::chrono::duration<double>(0.05), when);
    EXPECT_TRUE(done.empty());
    EXPECT_EQ(not_done.size(), 1u);
    // Zero and negative timeouts do not wait.
    auto [d0, nd0] = cf::wait(only_pending, 0ms, when);
    EXPECT_TRUE(d0.empty());
    EXPECT_EQ(nd0.size(), 1u);
    auto [dn, ndn] = cf::wait(futs, -1s, when);
    EXPECT_EQ(dn.size(), 3u);
    EXPECT_EQ(ndn.size(), 1u);
  }
  EXPECT_EQ(busy.release(), 9);
}

TEST(Wait, EmptyInput) {
  std::vector<cf::Future<int>> none;
  auto [done, not_done] = cf::wait(none);
  EXPECT_TRUE(done.empty());
  EXPECT_TRUE(not_done.empty());
  auto [d, nd] = cf::wait(none, 1s, cf::FIRST_COMPLETED);
  EXPECT_TRUE(d.empty());
  EXPECT_TRUE(nd.empty());
}

TEST(Wait, ManyFuturesFinishingTogether) {
  // ThreadPoolWaitTests.test_pending_calls_race (issue 14406)
  cf::ThreadPoolExecutor pool(4);
  Gate gate;
  std::vector<cf::Future<int>> futs;
  for (int i = 0; i < 100; ++i)
    futs.push_back(pool.submit([&gate, i] {
      gate.wait();
      return i;
    }));
  gate.open();
  auto [done, not_done] = cf::wait(futs, long_wait(), cf::ALL_COMPLETED);
  EXPECT_EQ(done.size(), 100u);
  EXPECT_TRUE(not_done.empty());
  std::set<int> values;
  for (auto& f : done) values.insert(f.result());
  EXPECT_EQ(values.size(), 100u);
}

TEST(Wait, CancelWhileWaitingCountsAsCompletion) {
  BusyPool busy;
  auto& [gate, started, pool, running] = busy;
  cf::Future<int> pending = pool.submit([] { return 1; });
  std::jthread canceller([&] {
    give_time_to_misbehave();  // usually while wait() is asleep; either order must work
    EXPECT_TRUE(pending.cancel());
  });
  std::vector<cf::Future<int>> futs{running, pending};
  auto [done, not_done] = cf::wait(futs, long_wait(), cf::FIRST_COMPLETED);
  EXPECT_EQ(describe(done), std::multiset<std::string>{"cancelled"});
  EXPECT_EQ(not_done.size(), 1u);
  busy.release();
}

}  // namespace
