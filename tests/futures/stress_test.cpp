// Stress tests for concur::futures, checking conservation: many threads submit, cancel, add
// callbacks, wait and shut down at once; afterwards every future is done, every call that was
// not cancelled ran exactly once with the right result, every cancelled one never ran, every
// callback ran exactly once, and as_completed / wait account for every future exactly once.
// Nothing here asserts on speed; counts shrink by CONCUR_TEST_TIME_SCALE in slow builds.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <latch>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "futures_support.hpp"

namespace {

constexpr int kScale = CONCUR_TEST_TIME_SCALE;

// One slot per call: the future (written once by its submitter, then published), and what
// happened to the call.
struct Slot {
  std::unique_ptr<cf::Future<int>> future;
  std::atomic<bool> published{false};
  std::atomic<int> runs{0};
  std::atomic<int> callbacks{0};
  std::atomic<bool> cancel_succeeded{false};
};

TEST(FuturesStress, SubmitCancelAndCallbacksConcurrently) {
  constexpr int kSubmitters = 4, kCancellers = 3;
  const int per_submitter = 3000 / kScale;
  const int total = kSubmitters * per_submitter;
  std::vector<Slot> slots(total);
  std::atomic<int> submitters_left{kSubmitters};
  {
    cf::ThreadPoolExecutor pool(4);
    run_together(kSubmitters + kCancellers, [&](int t) {
      if (t < kSubmitters) {
        for (int k = 0; k < per_submitter; ++k) {
          const int i = t * per_submitter + k;
          Slot& s = slots[i];
          s.future = std::make_unique<cf::Future<int>>(pool.submit(
              [&s](int x) {
                s.runs++;
                return x * 2;
              },
              i));
          s.published.store(true, std::memory_order_release);
          // Races with the call finishing and with the cancellers.
          s.future->add_done_callback([&s](cf::Future<int>) { s.callbacks++; });
        }
        submitters_left--;
      } else {
        // Each canceller tries a different third of the calls, over and over, until the
        // submitters are done.
        const int c = t - kSubmitters;
        do {
          for (int i = c; i < total; i += kCancellers) {
            if (i % 2 == 0) continue;  // half the calls are never touched
            Slot& s = slots[i];
            if (!s.published.load(std::memory_order_acquire)) continue;
            if (s.future->cancel()) s.cancel_succeeded = true;
          }
        } while (submitters_left.load() > 0);
      }
    });
    pool.shutdown(true);
  }

  int cancelled = 0, finished = 0;
  for (int i = 0; i < total; ++i) {
    Slot& s = slots[i];
    ASSERT_TRUE(s.published.load());
    cf::Future<int>& f = *s.future;
    EXPECT_TRUE(f.done()) << i;
    EXPECT_EQ(s.callbacks.load(), 1) << "callbacks of call " << i;
    if (f.cancelled()) {
      cancelled++;
      EXPECT_EQ(s.runs.load(), 0) << "cancelled call " << i << " ran";
      EXPECT_TRUE(s.cancel_succeeded.load()) << i;
      EXPECT_NE(i % 2, 0) << "call " << i << " was cancelled by nobody";
      EXPECT_THROW(f.result(0ms), cf::CancelledError);
    } else {
      finished++;
      EXPECT_EQ(s.runs.load(), 1) << "call " << i;
      EXPECT_FALSE(s.cancel_succeeded.load()) << "cancel() returned true for call " << i << ", which ran";
      EXPECT_EQ(f.result(0ms), 2 * i);
    }
    if (HasFailure()) break;  // one broken slot is enough to read
  }
  EXPECT_EQ(cancelled + finished, total);
  RecordProperty("cancelled", cancelled);
}

TEST(FuturesStress, ShutdownWithCancelRacesSubmitters) {
  // Submitters keep submitting until submit() throws RuntimeError; meanwhile the pool is shut
  // down with cancel_futures. Every call whose submit() returned ran once or was cancelled;
  // every call whose submit() threw never ran.
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE(round);
    constexpr int kSubmitters = 4;
    const int cap = 20000 / kScale;  // per submitter, in case shutdown never comes
    std::vector<std::vector<std::unique_ptr<std::atomic<int>>>> runs(kSubmitters);
    std::vector<std::vector<cf::Future<int>>> futs(kSubmitters);
    for (auto& r : runs)
      for (int k = 0; k < cap; ++k) r.push_back(std::make_unique<std::atomic<int>>(0));
    std::atomic<int> submitted{0};
    cf::ThreadPoolExecutor pool(3);
    run_together(kSubmitters + 1, [&](int t) {
      if (t == kSubmitters) {
        eventually([&] { return submitted.load() >= 200 * (round + 1); });
        pool.shutdown(round % 2 == 0, true);
        return;
      }
      for (int k = 0; k < cap; ++k) {
        std::atomic<int>& counter = *runs[t][k];
        try {
          futs[t].push_back(pool.submit([&counter] {
            counter++;
            return 1;
          }));
          submitted++;
        } catch (const concur::RuntimeError&) {
          break;
        }
      }
    });
    pool.shutdown(true);
    int ran = 0, cancelled = 0;
    for (int t = 0; t < kSubmitters; ++t) {
      const int accepted = static_cast<int>(futs[t].size());
      for (int k = 0; k < accepted; ++k) {
        cf::Future<int>& f = futs[t][k];
        EXPECT_TRUE(f.done());
        if (f.cancelled()) {
          cancelled++;
          EXPECT_EQ(runs[t][k]->load(), 0);
        } else {
          ran++;
          EXPECT_EQ(runs[t][k]->load(), 1);
          EXPECT_EQ(f.result(0ms), 1);
        }
      }
      for (int k = accepted; k < cap; ++k) EXPECT_EQ(runs[t][k]->load(), 0);
      if (HasFailure()) return;
    }
    EXPECT_EQ(ran + cancelled, submitted.load());
  }
}

TEST(FuturesStress, CallbacksAddedFromManyThreadsRunOnceEach) {
  const int n = 400 / kScale;
  constexpr int kAdders = 4, kPerAdder = 5;
  cf::ThreadPoolExecutor pool(4);
  std::vector<cf::Future<int>> futs;
  std::vector<std::unique_ptr<std::atomic<int>>> counts;
  for (int i = 0; i < n; ++i) {
    futs.push_back(pool.submit([](int x) { return x; }, i));
    counts.push_back(std::make_unique<std::atomic<int>>(0));
  }
  std::atomic<int> wrong{0};
  run_together(kAdders, [&](int) {
    for (int i = 0; i < n; ++i)
      for (int k = 0; k < kPerAdder; ++k)
        futs[i].add_done_callback([&, i](cf::Future<int> g) {
          if (!g.done() || g.result(0ms) != i) wrong++;
          (*counts[i])++;
        });
  });
  pool.shutdown(true);  // every callback added before has run once the calls are done
  EXPECT_EQ(wrong.load(), 0);
  for (int i = 0; i < n; ++i) ASSERT_EQ(counts[i]->load(), kAdders * kPerAdder) << i;
}

TEST(FuturesStress, AsCompletedAndWaitAccountForEveryFuture) {
  const int n = 2000 / kScale;
  for (int round = 0; round < 3; ++round) {
    cf::ThreadPoolExecutor pool(4);
    std::vector<cf::Future<int>> futs;
    for (int i = 0; i < n; ++i)
      futs.push_back(pool.submit([](int x) {
        if (x % 7 == 0) throw std::runtime_error("seven");
        return x;
      }, i));
    // Cancel some while the others complete and while as_completed runs.
    std::jthread canceller([&] {
      for (int i = n - 1; i >= 0; i -= 3) futs[i].cancel();
    });
    std::set<int> values;
    int yielded = 0, failed = 0, cancelled = 0;
    for (cf::Future<int> g : cf::as_completed(futs, long_wait())) {
      yielded++;
      ASSERT_TRUE(g.done());
      if (g.cancelled()) {
        cancelled++;
      } else if (g.exception()) {
        failed++;
      } else {
        EXPECT_TRUE(values.insert(g.result()).second) << "yielded twice: " << g.result();
      }
    }
    canceller.join();
    EXPECT_EQ(yielded, n);
    EXPECT_EQ(static_cast<int>(values.size()) + failed + cancelled, n);
    auto [done, not_done] = cf::wait(futs, long_wait());
    EXPECT_EQ(static_cast<int>(done.size()), n);
    EXPECT_TRUE(not_done.empty());
  }
}

TEST(FuturesStress, ManyWaitersOnManyFutures) {
  // Threads wait (timed and untimed, result and exception) on futures as they complete.
  const int n = 1000 / kScale;
  cf::ThreadPoolExecutor pool(3);
  std::vector<cf::Future<int>> futs;
  for (int i = 0; i < n; ++i) futs.push_back(pool.submit([](int x) { return x + 1; }, i));
  std::atomic<long> sum{0};
  run_together(4, [&](int t) {
    long s = 0;
    for (int i = 0; i < n; ++i) {
      switch ((i + t) % 3) {
        case 0: s += futs[i].result(long_wait()); break;
        case 1: s += futs[i].result(); break;
        default:
          if (futs[i].exception(long_wait()) == nullptr) s += futs[i].result(0ms);
      }
    }
    sum += s;
  });
  EXPECT_EQ(sum.load(), 4L * n * (n + 1) / 2);
}

TEST(FuturesStress, NestedWaitsFromManyCalls) {
  // Help-while-waiting under load: calls of a pool of two each wait for calls they submit.
  cf::ThreadPoolExecutor pool(2);
  const int outer = 200 / kScale;
  std::vector<cf::Future<int>> futs;
  for (int i = 0; i < outer; ++i)
    futs.push_back(pool.submit([&pool, i] {
      std::vector<cf::Future<int>> inner;
      for (int k = 0; k < 4; ++k) inner.push_back(pool.submit([](int a, int b) { return a + b; }, i, k));
      int s = 0;
      for (auto& f : inner) s += f.result(long_wait());
      return s;
    }));
  for (int i = 0; i < outer; ++i) EXPECT_EQ(futs[i].result(long_wait()), 4 * i + 6);
}

}  // namespace
