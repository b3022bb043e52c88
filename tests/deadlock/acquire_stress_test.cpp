// Stress tests for dl::acquire (include/concur/deadlock/ordered_acquire.hpp) over concur Locks and
// RLocks: many threads take random subsets (2 to 4) of a set of named locks, named in a random
// order, and sometimes a nested set after them; every acquisition increments the counter of each
// lock it holds. Conservation: every lock's counter equals the number of acquisitions that
// included it (a lost increment means two threads held one lock at once), and the total is the
// sum of the subsets' sizes. No run may deadlock: a hang is the test harness watchdog's to
// report. Also with lock-order checking on (no report: dl::acquire follows one order) and under
// the deadlock watchdog (no report: there is no deadlock to find).
#include <concur/deadlock.hpp>
#include <concur/threading.hpp>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "deadlock_test_support.hpp"
#include "test_support.hpp"

namespace dl = concur::deadlock;
namespace th = concur::threading;
using namespace concur_test;
using namespace deadlock_test;
using namespace std::chrono_literals;

namespace {

using AnyLock = std::variant<th::Lock*, th::RLock*>;

const void* address_of(const AnyLock& l) {
  return std::visit([](auto* p) -> const void* { return p; }, l);
}

// Calls body() while holding the locks idx[0..n) taken by one dl::acquire call, naming them in
// the order given. (std::visit over n variants instantiates dl::acquire for every mix of Lock
// and RLock.)
template <class Body>
void with_locks(const std::vector<AnyLock>& locks, const std::vector<int>& idx, Body&& body) {
  switch (idx.size()) {
    case 1:
      std::visit([&](auto*... p) { auto held = dl::acquire(*p...); body(); }, locks[idx[0]]);
      break;
    case 2:
      std::visit([&](auto*... p) { auto held = dl::acquire(*p...); body(); }, locks[idx[0]],
                 locks[idx[1]]);
      break;
    case 3:
      std::visit([&](auto*... p) { auto held = dl::acquire(*p...); body(); }, locks[idx[0]],
                 locks[idx[1]], locks[idx[2]]);
      break;
    case 4:
      std::visit([&](auto*... p) { auto held = dl::acquire(*p...); body(); }, locks[idx[0]],
                 locks[idx[1]], locks[idx[2]], locks[idx[3]]);
      break;
    default:
      FAIL() << "unexpected subset size " << idx.size();
  }
}

// K named locks, half Locks and half RLocks, and the counters they guard.
struct LockSet {
  explicit LockSet(int k) : counters(static_cast<std::size_t>(k), 0) {
    for (int i = 0; i < k; ++i) {
      if (i % 2 == 0) {
        plain.push_back(std::make_unique<th::Lock>("lock-" + std::to_string(i)));
        all.emplace_back(plain.back().get());
      } else {
        reentrant.push_back(std::make_unique<th::RLock>("rlock-" + std::to_string(i)));
        all.emplace_back(reentrant.back().get());
      }
    }
  }
  std::vector<std::unique_ptr<th::Lock>> plain;
  std::vector<std::unique_ptr<th::RLock>> reentrant;
  std::vector<AnyLock> all;
  std::vector<long> counters;  // counters[i] changes only while all[i] is held

  void expect_all_free() const {
    for (const auto& l : plain) EXPECT_FALSE(l->locked()) << l->name();
    for (const auto& l : reentrant) EXPECT_FALSE(l->locked()) << l->name();
  }
};

// Runs `threads` threads x `iterations` random acquisitions over `set`; checks conservation.
void run_stress(LockSet& set, int threads, int iterations) {
  const int k = static_cast<int>(set.all.size());
  // took[t][i]: how many of thread t's acquisitions included lock i (thread-local, summed after).
  std::vector<std::vector<long>> took(static_cast<std::size_t>(threads),
                                      std::vector<long>(static_cast<std::size_t>(k), 0));
  std::vector<long> increments(static_cast<std::size_t>(threads), 0);
  std::vector<long> nested(static_cast<std::size_t>(threads), 0);

  run_together(threads, [&](int t) {
    std::mt19937 rng(static_cast<unsigned>(7919 * (t + 1)));
    std::vector<int> order(static_cast<std::size_t>(k));
    std::iota(order.begin(), order.end(), 0);
    auto& mine = took[static_cast<std::size_t>(t)];
    auto count = [&](int i) {
      ++set.counters[static_cast<std::size_t>(i)];
      ++mine[static_cast<std::size_t>(i)];
      ++increments[static_cast<std::size_t>(t)];
    };
    for (int it = 0; it < iterations; ++it) {
      std::shuffle(order.begin(), order.end(), rng);  // a random subset, in a random order
      const int n = 2 + static_cast<int>(rng() % 3);
      const std::vector<int> subset(order.begin(), order.begin() + n);
      with_locks(set.all, subset, [&] {
        for (int i : subset) count(i);
        // Sometimes re-enter an RLock of the set (plainly): it is ours already.
        if (rng() % 4 == 0) {
          for (int i : subset)
            if (auto* r = std::get_if<th::RLock*>(&set.all[static_cast<std::size_t>(i)])) {
              (*r)->acquire();
              ++set.counters[static_cast<std::size_t>(i)];
              ++mine[static_cast<std::size_t>(i)];
              ++increments[static_cast<std::size_t>(t)];
              (*r)->release();
              break;
            }
        }
        // Sometimes a nested dl::acquire of one lock after every lock held (allowed).
        if (rng() % 4 == 0) {
          const void* highest = nullptr;
          for (int i : subset) {
            const void* a = address_of(set.all[static_cast<std::size_t>(i)]);
            if (!highest || std::less<const void*>{}(highest, a)) highest = a;
          }
          std::vector<int> later;
          for (int i = 0; i < k; ++i)
            if (std::less<const void*>{}(highest, address_of(set.all[static_cast<std::size_t>(i)])))
              later.push_back(i);
          if (!later.empty()) {
            const int extra = later[rng() % later.size()];
            with_locks(set.all, {extra}, [&] { count(extra); });
            ++nested[static_cast<std::size_t>(t)];
          }
        }
      });
    }
  });

  long total_took = 0, total_increments = 0, total_nested = 0;
  for (int i = 0; i < k; ++i) {
    long expected = 0;
    for (int t = 0; t < threads; ++t) expected += took[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)];
    EXPECT_EQ(set.counters[static_cast<std::size_t>(i)], expected) << "lock " << i;
    total_took += expected;
  }
  for (int t = 0; t < threads; ++t) {
    total_increments += increments[static_cast<std::size_t>(t)];
    total_nested += nested[static_cast<std::size_t>(t)];
  }
  EXPECT_EQ(std::accumulate(set.counters.begin(), set.counters.end(), 0L), total_increments);
  EXPECT_EQ(total_took, total_increments);
  // At least 2 per acquisition, at most 4 + a re-entry + a nested one.
  EXPECT_GE(total_increments, 2L * threads * iterations);
  EXPECT_LE(total_increments, 6L * threads * iterations);
  EXPECT_GT(total_nested, 0);
  set.expect_all_free();
}

using AcquireStress = DiagnosticsTest;  // settings back to their defaults around each test

}  // namespace

TEST_F(AcquireStress, RandomSubsetsOfLocksAndRLocks) {
  LockSet set(8);
  run_stress(set, 6, 20000);
}

TEST_F(AcquireStress, FewLocksManyThreads) {
  // Four locks, 2 to 4 of them at a time: nearly every acquisition contends with every other.
  LockSet set(4);
  run_stress(set, 8, 10000);
}

TEST_F(AcquireStress, WithLockOrderCheckingNothingIsReported) {
  dl::enable_lock_order_checking(true);
  auto reports = collect_reports();
  LockSet set(8);
  run_stress(set, 6, 10000);
  EXPECT_EQ(reports->count(), 0u) << reports->messages();
}

TEST_F(AcquireStress, UnderTheDeadlockWatchdogNothingIsReported) {
  // The watchdog looks all the time (and the main thread too) while threads block on each
  // other's locks in every way dl::acquire allows: never a cycle.
  auto reports = collect_reports();
  dl::start_watchdog(1ms);
  LockSet set(6);
  std::atomic<bool> done{false};
  std::atomic<long> looks{0}, found{0};
  std::thread looker([&] {
    while (!done.load()) {
      if (!dl::find_deadlocks().empty()) ++found;
      ++looks;
    }
  });
  run_stress(set, 6, 10000);
  done = true;
  looker.join();
  dl::stop_watchdog();
  EXPECT_EQ(found.load(), 0);
  EXPECT_GT(looks.load(), 0);
  EXPECT_EQ(reports->count(), 0u) << reports->messages();
}
