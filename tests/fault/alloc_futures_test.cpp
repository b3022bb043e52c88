// Allocation failure at every allocation of ThreadPoolExecutor::submit and map
// (alloc_failure.hpp; issue 16, defect 2): a submit() or map() that throws has submitted
// nothing (its calls never run), and every worker the pool started is joined by
// shutdown(wait=true) (none is left running, orphaned, on a destroyed pool).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "alloc_failure.hpp"
#include "concur/futures.hpp"
#include "concur/threading.hpp"
#include "test_support.hpp"

namespace cf = concur::futures;
namespace th = concur::threading;
using namespace std::chrono_literals;
using namespace concur_test;
using concur_test::fault::expect_allocation_error;
using concur_test::fault::for_every_allocation;

namespace {

// Live threads whose name starts with `prefix` (a pool's workers are "<prefix>_<i>").
int live_workers(const std::string& prefix) {
  int n = 0;
  for (const th::ThreadRef& r : th::enumerate())
    if (r.name().rfind(prefix + "_", 0) == 0) ++n;
  return n;
}

std::string prefix_for(const char* test, long k) { return std::string(test) + "-" + std::to_string(k); }

// The first submit() of a pool starts its first worker.
TEST(AllocFailure, SubmitToFreshPool) {
  long failures = 0;
  for (long k = 1;; ++k) {
    const std::string prefix = prefix_for("fresh", k);
    std::atomic<int> ran{0};
    bool injected = false;
    {
      cf::ThreadPoolExecutor pool(cf::ThreadPoolOptions{.max_workers = 2, .thread_name_prefix = prefix});
      std::exception_ptr error;
      std::optional<cf::Future<int>> f;
      concur_test::fault::arm_allocation_failure(k);
      try {
        f.emplace(pool.submit([&ran] { return ran.fetch_add(1) + 41; }));
      } catch (...) {
        error = std::current_exception();
      }
      injected = concur_test::fault::disarm_allocation_failure();
      expect_allocation_error(k, injected, error);
      if (error) {
        ++failures;
        pool.shutdown(true);
        EXPECT_EQ(ran.load(), 0) << "k=" << k << ": a submit() that threw ran its task";
      } else {
        EXPECT_EQ(f->result(long_wait()), 41) << "k=" << k;
        pool.shutdown(true);
        EXPECT_EQ(ran.load(), 1) << "k=" << k;
      }
      EXPECT_EQ(live_workers(prefix), 0) << "k=" << k << ": a worker outlived shutdown(wait=true)";
    }
    if (!injected) break;
  }
  concur_test::fault::report_points("submit (first, starts a worker)", failures);
  EXPECT_GE(failures, 1);
}

// Later submits: one that starts the second worker while the first is busy, and one that finds
// every worker started (only the queue's put allocates).
TEST(AllocFailure, SubmitToBusyPool) {
  for (int earlier : {1, 2}) {
    long failures = 0;
    for (long k = 1;; ++k) {
      const std::string prefix = prefix_for("busy", k * 10 + earlier);
      std::atomic<int> ran{0};
      th::Event gate;
      bool injected = false;
      {
        cf::ThreadPoolExecutor pool(cf::ThreadPoolOptions{.max_workers = 2, .thread_name_prefix = prefix});
        std::vector<cf::Future<bool>> blockers;
        for (int i = 0; i < earlier; ++i)
          blockers.push_back(pool.submit([&gate] { return gate.wait(long_wait()); }));
        std::exception_ptr error;
        std::optional<cf::Future<void>> f;
        concur_test::fault::arm_allocation_failure(k);
        try {
          f.emplace(pool.submit([&ran] { ran.fetch_add(1); }));
        } catch (...) {
          error = std::current_exception();
        }
        injected = concur_test::fault::disarm_allocation_failure();
        expect_allocation_error(k, injected, error);
        gate.set();
        for (auto& b : blockers) EXPECT_TRUE(b.result(long_wait()));
        if (error) ++failures;
        else f->result(long_wait());
        pool.shutdown(true);
        EXPECT_EQ(ran.load(), error ? 0 : 1) << "k=" << k << " earlier=" << earlier;
        EXPECT_EQ(live_workers(prefix), 0) << "k=" << k;
      }
      if (!injected) break;
    }
    concur_test::fault::report_points(
        earlier == 1 ? "submit (starts the second worker)" : "submit (every worker started)", failures);
    EXPECT_GE(failures, 1) << "earlier=" << earlier;
  }
}

// Many submits to a pool whose only worker is busy: the task queue grows block by block, and
// each submit is tried at every allocation (the task, the queue's new block). Exactly the
// submits that returned run their task, each once.
TEST(AllocFailure, ManySubmitsGrowTheTaskQueue) {
  constexpr int kSubmits = 300;
  th::Event gate;
  std::atomic<int> ran{0};
  std::vector<int> runs_of(kSubmits, 0);
  long failures = 0;
  {
    cf::ThreadPoolExecutor pool(cf::ThreadPoolOptions{.max_workers = 1, .thread_name_prefix = "many"});
    cf::Future<bool> blocker = pool.submit([&gate] { return gate.wait(long_wait()); });
    std::vector<cf::Future<void>> futures;
    futures.reserve(kSubmits);
    for (int i = 0; i < kSubmits; ++i) {
      std::optional<cf::Future<void>> f;
      for_every_allocation(
          [&] { f.emplace(pool.submit([&runs_of, &ran, i] { ++runs_of[i]; ran.fetch_add(1); })); },
          [&](long k, bool injected, std::exception_ptr error) {
            expect_allocation_error(k, injected, error);
            if (error) ++failures;
          });
      ASSERT_TRUE(f.has_value());
      futures.push_back(std::move(*f));
    }
    gate.set();
    EXPECT_TRUE(blocker.result(long_wait()));
    for (auto& f : futures) f.result(long_wait());
    pool.shutdown(true);
    EXPECT_EQ(live_workers("many"), 0);
  }
  concur_test::fault::report_points("300 submits to a busy pool (in all)", failures);
  EXPECT_GE(failures, kSubmits);  // at least the task's own allocation, every time
  EXPECT_EQ(ran.load(), kSubmits);
  for (int i = 0; i < kSubmits; ++i) EXPECT_EQ(runs_of[i], 1) << "submit " << i;
}

// map() submits its calls before it returns: one that throws cancels the calls it submitted
// (none has started: the only worker is busy), so none runs.
TEST(AllocFailure, Map) {
  const std::vector<int> inputs{1, 2, 3, 4};
  long failures = 0;
  for (long k = 1;; ++k) {
    const std::string prefix = prefix_for("map", k);
    std::atomic<int> ran{0};
    th::Event gate;
    bool injected = false;
    {
      cf::ThreadPoolExecutor pool(cf::ThreadPoolOptions{.max_workers = 1, .thread_name_prefix = prefix});
      cf::Future<bool> blocker = pool.submit([&gate] { return gate.wait(long_wait()); });
      auto fn = [&ran](int x) {
        ran.fetch_add(1);
        return x * 2;
      };
      std::exception_ptr error;
      std::vector<int> got;
      concur_test::fault::arm_allocation_failure(k);
      try {
        // Iterated in place: the range is not moved (a move of it may allocate, too).
        auto results = pool.map(fn, inputs);
        injected = concur_test::fault::disarm_allocation_failure();
        gate.set();
        for (int v : results) got.push_back(v);
      } catch (...) {
        error = std::current_exception();
        injected = concur_test::fault::disarm_allocation_failure();
      }
      expect_allocation_error(k, injected, error);
      gate.set();
      EXPECT_TRUE(blocker.result(long_wait()));
      pool.shutdown(true);
      if (error) {
        ++failures;
        EXPECT_EQ(ran.load(), 0) << "k=" << k << ": a map() that threw ran its calls";
      } else {
        EXPECT_EQ(got, (std::vector<int>{2, 4, 6, 8})) << "k=" << k;
        EXPECT_EQ(ran.load(), 4) << "k=" << k;
      }
      EXPECT_EQ(live_workers(prefix), 0) << "k=" << k;
    }
    if (!injected) break;
  }
  concur_test::fault::report_points("map(fn, 4 inputs)", failures);
  EXPECT_GE(failures, 1);
}

}  // namespace
