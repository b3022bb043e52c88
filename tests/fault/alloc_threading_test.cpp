// Allocation failure at every allocation of threading's calls that allocate (alloc_failure.hpp):
// Thread::start (issue 16, defect 1), Timer::start, Barrier construction. A start() that throws
// has started nothing: the Thread is not alive, not listed, keeps its target and starts again;
// and a process whose start() failed still exits (its at-exit join waits for no phantom).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <new>
#include <memory>
#include <string>
#include <vector>

#include "alloc_failure.hpp"
#include "bounded_child.hpp"
#include "concur/threading.hpp"
#include "test_support.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;
using namespace concur_test;
using concur_test::fault::for_every_allocation;

namespace {

bool listed(const th::Thread& t) {
  for (const th::ThreadRef& r : th::enumerate())
    if (r.name() == t.name()) return true;
  return false;
}

// The state a start() that threw must leave: as if start() had never been called.
void expect_never_started(th::Thread& t, long k) {
  EXPECT_FALSE(t.is_alive()) << "k=" << k;
  EXPECT_FALSE(t.ident().has_value()) << "k=" << k;
  EXPECT_FALSE(listed(t)) << "k=" << k;
  EXPECT_THROW(t.join(), concur::RuntimeError) << "k=" << k;  // "before it is started"
}

struct Counting : th::Thread {
  explicit Counting(std::atomic<int>& runs) : runs_(runs) {}
  void run() override { runs_.fetch_add(1); }
  std::atomic<int>& runs_;
};

// Tries t.start() at each of its allocations; a start that threw must have started nothing, and
// the next start() (without injection) runs the thread once.
template <class MakeThread>
void start_at_every_allocation(MakeThread make, bool daemon, const char* what) {
  long failures = 0;
  long k_total = 0;
  // Not for_every_allocation: the Thread is made without injection, only start() is tried.
  for (long k = 1;; ++k) {
    std::atomic<int> ran{0};
    auto t = make(ran);
    t->set_daemon(daemon);
    std::exception_ptr error;
    concur_test::fault::arm_allocation_failure(k);
    try {
      t->start();
    } catch (...) {
      error = std::current_exception();
    }
    const bool injected = concur_test::fault::disarm_allocation_failure();
    k_total = k;
    if (error) {
      ++failures;
      EXPECT_TRUE(injected) << "k=" << k;
      try {
        std::rethrow_exception(error);
      } catch (const std::bad_alloc&) {
      } catch (const concur::RuntimeError& e) {  // std::thread's own allocation, as system_error
        EXPECT_NE(std::string(e.what()).find("can't start new thread"), std::string::npos);
      } catch (...) {
        ADD_FAILURE() << "k=" << k << ": start() threw something else";
      }
      expect_never_started(*t, k);
      EXPECT_EQ(ran.load(), 0) << "k=" << k;
      // Startable again, and it runs its target (which start() gave back).
      t->start();
      EXPECT_TRUE(t->join(long_wait())) << "k=" << k;
      EXPECT_EQ(ran.load(), 1) << "k=" << k;
    } else {
      EXPECT_TRUE(t->join(long_wait())) << "k=" << k;
      EXPECT_EQ(ran.load(), 1) << "k=" << k;
    }
    if (!injected) break;
  }
  concur_test::fault::report_points(what, failures);
  EXPECT_GE(failures, 1) << "start() was never failed";
  EXPECT_GE(k_total, 2);
}

TEST(AllocFailure, ThreadStartFromTarget) {
  for (bool daemon : {false, true})
    start_at_every_allocation(
        [](std::atomic<int>& ran) {
          return std::make_unique<th::Thread>([&ran] { ran.fetch_add(1); });
        },
        daemon, daemon ? "Thread::start (target, daemon)" : "Thread::start (target)");
}

TEST(AllocFailure, ThreadStartWithStopTokenAndArguments) {
  start_at_every_allocation(
      [](std::atomic<int>& ran) {
        return std::make_unique<th::Thread>(
            [&ran](std::stop_token, std::string s) { ran.fetch_add(s.size() == 1 ? 1 : 100); },
            std::string("x"));
      },
      false, "Thread::start (stop_token target + std::string argument)");
}

TEST(AllocFailure, ThreadStartOfRunOverride) {
  start_at_every_allocation([](std::atomic<int>& ran) { return std::make_unique<Counting>(ran); },
                            false, "Thread::start (run() override)");
}

TEST(AllocFailure, TimerStart) {
  start_at_every_allocation(
      [](std::atomic<int>& ran) {
        return std::make_unique<th::Timer>(0ms, [&ran] { ran.fetch_add(1); });
      },
      false, "Timer::start");
}

// Many threads alive at once, so that the registry's list grows (its push_back allocates) while
// starts are failed at every allocation: a start that failed is never listed, and the others
// are, each once.
TEST(AllocFailure, ThreadStartWhileTheRegistryGrows) {
  constexpr int kThreads = 40;
  th::Event release;
  std::atomic<int> ran{0};
  std::vector<std::unique_ptr<th::Thread>> threads;
  long failures = 0;
  for (int i = 0; i < kThreads; ++i) {
    auto t = std::make_unique<th::Thread>([&] {
      release.wait(long_wait());
      ran.fetch_add(1);
    });
    for (long k = 1;; ++k) {
      concur_test::fault::arm_allocation_failure(k);
      bool threw = false;
      try {
        t->start();
      } catch (...) {
        threw = true;
      }
      const bool injected = concur_test::fault::disarm_allocation_failure();
      EXPECT_EQ(threw, injected) << "thread " << i << " k=" << k;
      if (threw) {
        ++failures;
        expect_never_started(*t, k);
      }
      if (!threw) break;
    }
    threads.push_back(std::move(t));
  }
  for (auto& t : threads) EXPECT_TRUE(listed(*t) && t->is_alive());
  release.set();
  for (auto& t : threads) EXPECT_TRUE(t->join(long_wait()));
  EXPECT_EQ(ran.load(), kThreads);
  concur_test::fault::report_points("Thread::start x40 while the registry grows (in all)", failures);
  EXPECT_GT(failures, kThreads) << "the registry's growth was never failed";
}

// A cancelled Timer whose start failed never runs fn, whatever happens next.
TEST(AllocFailure, CancelledTimerWhoseStartFailedNeverRuns) {
  std::atomic<int> ran{0};
  const long runs = for_every_allocation(
      [&] {
        th::Timer t(0ms, [&ran] { ran.fetch_add(1); });
        t.cancel();
        t.start();
        t.join(long_wait());
      },
      [&](long k, bool, std::exception_ptr) { EXPECT_EQ(ran.load(), 0) << "k=" << k; });
  concur_test::fault::report_points("Timer(0ms, fn) + cancel + start + join", runs - 1);
  EXPECT_GE(runs, 2);
}

// Barrier construction (its only allocation is the action's, when the action is too big for
// std::function's own buffer, as here): a constructor that throws leaks nothing (ASan), one that
// returns gives a working barrier.
TEST(AllocFailure, BarrierConstruction) {
  std::atomic<int> actions{0};
  const std::string tag(100, 'x');  // makes the action's captures too big to be stored inline
  const long runs = for_every_allocation(
      [&] {
        th::Barrier b(1, [&actions, tag] { actions.fetch_add(tag.size() == 100 ? 1 : 100); });
        EXPECT_EQ(b.wait(long_wait()), 0u);
      },
      [&](long k, bool injected, std::exception_ptr error) {
        if (error) {
          EXPECT_TRUE(injected) << "k=" << k;
          EXPECT_EQ(actions.exchange(0), 0) << "k=" << k;
        } else {
          EXPECT_EQ(actions.exchange(0), 1) << "k=" << k;
        }
      });
  concur_test::fault::report_points("Barrier(1, action) + wait", runs - 1);
  EXPECT_GE(runs, 2);
}

// The hang: a non-daemon thread whose start() failed must not be waited for at exit.
// The child tries every failure point and then exits normally; it must end in time.
TEST(AllocFailure, ProcessExitsAfterFailedStarts) {
  if (!kChildMayStartThreads) GTEST_SKIP() << "a TSan child may start no thread (bounded_child.hpp)";
  const int status = fork_and_wait([] {
    long failures = 0;
    for (long k = 1;; ++k) {
      // Leaked on purpose when start() failed: exit must not wait for it either way.
      auto* t = new th::Thread([] {});
      concur_test::fault::arm_allocation_failure(k);
      bool threw = false;
      try {
        t->start();
      } catch (...) {
        threw = true;
      }
      const bool injected = concur_test::fault::disarm_allocation_failure();
      if (threw) {
        ++failures;
        CHILD_CHECK(!t->is_alive());
      } else {
        t->join();
        delete t;
      }
      if (!injected) break;
    }
    CHILD_CHECK(failures >= 1);
    return 0;
  });
  EXPECT_EQ(status, 0) << (status == kTimedOut ? "the child never exited" : "the child failed");
}

}  // namespace
