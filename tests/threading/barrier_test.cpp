// th::Barrier: Python's threading.Barrier (API.md §2, include/concur/threading/barrier.hpp).
// Scenarios ported from CPython's Lib/test/lock_tests.py (BarrierTests); blocked threads are
// observed through n_waiting() rather than sleeps.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <chrono>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "concur/errors.hpp"
#include "concur/threading.hpp"
#include "test_support.hpp"

namespace {

namespace th = concur::threading;
using namespace std::chrono_literals;
using namespace concur_test;  // long_wait, scaled, eventually, time_of, ...

// What a wait() ended with.
enum class Outcome { passed, broken, other_error, still_running };

template <class F>
Outcome outcome_of(F&& f) {
  try {
    f();
    return Outcome::passed;
  } catch (const th::BrokenBarrierError&) {
    return Outcome::broken;
  } catch (...) {
    return Outcome::other_error;
  }
}

// A thread that waits on `b` once (with a long timeout) and records the outcome.
class Waiter {
 public:
  explicit Waiter(th::Barrier& b)
      : thread_([this, &b] { outcome_ = outcome_of([&] { b.wait(long_wait()); }); }) {}
  Outcome join() {
    thread_.join();
    return outcome_.load();
  }

 private:
  std::atomic<Outcome> outcome_{Outcome::still_running};
  std::jthread thread_;
};

TEST(Barrier, PartiesBelowOneIsValueError) {
  EXPECT_THROW(th::Barrier(0), concur::ValueError);
  EXPECT_THROW(th::Barrier(-1), concur::ValueError);
  EXPECT_THROW(th::Barrier(0, [] {}), concur::ValueError);
  EXPECT_THROW(th::Barrier(0, {}, 1s), concur::ValueError);
  try {
    th::Barrier b(0);
    ADD_FAILURE();
  } catch (const concur::ValueError& e) {
    EXPECT_NE(std::string(e.what()), "");
  }
}

TEST(Barrier, SingleParty) {
  // lock_tests.BarrierTests.test_single_thread
  th::Barrier b(1);
  EXPECT_EQ(b.wait(), 0u);
  EXPECT_EQ(b.wait(), 0u);
  EXPECT_EQ(b.wait(0ms), 0u);  // the last arrival never waits, so no timeout can hit it
  EXPECT_EQ(b.parties(), 1u);
  EXPECT_FALSE(b.broken());
}

TEST(Barrier, PartiesAndNWaiting) {
  th::Barrier b(3);
  EXPECT_EQ(b.parties(), 3u);
  EXPECT_EQ(b.n_waiting(), 0u);
  Waiter w1(b);
  ASSERT_TRUE(eventually([&] { return b.n_waiting() == 1; }));
  Waiter w2(b);
  ASSERT_TRUE(eventually([&] { return b.n_waiting() == 2; }));
  give_time_to_misbehave();
  EXPECT_EQ(b.n_waiting(), 2u) << "a round of 3 released with 2";
  EXPECT_EQ(b.wait(long_wait()), 2u);  // the last arrival gets parties - 1
  EXPECT_EQ(w1.join(), Outcome::passed);
  EXPECT_EQ(w2.join(), Outcome::passed);
  EXPECT_EQ(b.n_waiting(), 0u);
  EXPECT_FALSE(b.broken());
  EXPECT_EQ(b.parties(), 3u);
}

TEST(Barrier, WaitReturnsUniqueIndices) {
  // lock_tests.BarrierTests.test_wait_return
  constexpr int N = 5;
  th::Barrier b(N);
  std::vector<std::size_t> results(N);
  run_parallel(N, [&](int i) { results[i] = b.wait(long_wait()); });
  std::sort(results.begin(), results.end());
  std::vector<std::size_t> expected(N);
  std::iota(expected.begin(), expected.end(), 0u);
  EXPECT_EQ(results, expected);
}

TEST(Barrier, IndicesUniqueEveryRound) {
  constexpr int N = 4, kRounds = 50;
  th::Barrier b(N);
  std::vector<std::vector<std::size_t>> indices(kRounds, std::vector<std::size_t>(N, 99));
  run_parallel(N, [&](int i) {
    for (int r = 0; r < kRounds; ++r) indices[r][i] = b.wait(long_wait());
  });
  std::vector<std::size_t> expected(N);
  std::iota(expected.begin(), expected.end(), 0u);
  for (int r = 0; r < kRounds; ++r) {
    auto round = indices[r];
    std::sort(round.begin(), round.end());
    EXPECT_EQ(round, expected) << "round " << r;
  }
  EXPECT_FALSE(b.broken());
  EXPECT_EQ(b.n_waiting(), 0u);
}

TEST(Barrier, PassedInLockstep) {
  // lock_tests.BarrierTests.test_barrier / test_barrier_10 (multipass)
  constexpr int N = 5, kPasses = 10;
  th::Barrier b(N, {}, scaled(std::chrono::milliseconds(10000)));
  std::atomic<int> phase0{0}, phase1{0};
  std::atomic<bool> ok{true};
  run_parallel(N, [&](int) {
    for (int i = 0; i < kPasses; ++i) {
      phase0.fetch_add(1);
      if (phase1.load() != i * N) ok = false;
      b.wait();
      phase1.fetch_add(1);
      if (phase0.load() != (i + 1) * N) ok = false;
      b.wait();
    }
    if (b.n_waiting() != 0 || b.broken()) ok = false;
  });
  EXPECT_TRUE(ok.load());
  EXPECT_EQ(phase0.load(), N * kPasses);
  EXPECT_EQ(phase1.load(), N * kPasses);
}

TEST(Barrier, ActionRunsOncePerRoundBeforeRelease) {
  // lock_tests.BarrierTests.test_action, over several rounds.
  constexpr int N = 4, kRounds = 20;
  int actions = 0;  // written by the action only; read by the parties after their wait
  std::thread::id action_thread;
  th::Barrier b(N, [&] {
    ++actions;
    action_thread = std::this_thread::get_id();
  });
  std::atomic<bool> ok{true}, last_ran_it{true};
  run_parallel(N, [&](int) {
    for (int r = 0; r < kRounds; ++r) {
      const std::size_t i = b.wait(long_wait());
      if (actions != r + 1) ok = false;  // exactly once per round, before anyone is released
      // CPython: the last thread to arrive (index parties - 1) runs the action.
      if (i == N - 1 && action_thread != std::this_thread::get_id()) last_ran_it = false;
    }
  });
  EXPECT_TRUE(ok.load());
  EXPECT_TRUE(last_ran_it.load());
  EXPECT_EQ(actions, kRounds);
}

TEST(Barrier, ThrowingActionBreaksTheBarrier) {
  constexpr int N = 3;
  std::atomic<bool> throw_now{true};
  th::Barrier b(N, [&] {
    if (throw_now.load()) throw std::logic_error("action failed");
  });
  std::atomic<int> passed{0}, broken{0}, action_error{0}, other{0};
  run_parallel(N, [&](int) {
    try {
      b.wait(long_wait());
      passed.fetch_add(1);
    } catch (const th::BrokenBarrierError&) {
      broken.fetch_add(1);
    } catch (const std::logic_error& e) {
      if (std::string(e.what()) == "action failed") action_error.fetch_add(1);
    } catch (...) {
      other.fetch_add(1);
    }
  });
  EXPECT_EQ(action_error.load(), 1) << "the thread that ran the action gets its exception";
  EXPECT_EQ(broken.load(), N - 1) << "the others get BrokenBarrierError";
  EXPECT_EQ(passed.load(), 0);
  EXPECT_EQ(other.load(), 0);
  EXPECT_TRUE(b.broken());
  EXPECT_EQ(b.n_waiting(), 0u);
  EXPECT_THROW(b.wait(long_wait()), th::BrokenBarrierError);
  // reset() makes it usable again.
  b.reset();
  EXPECT_FALSE(b.broken());
  throw_now = false;
  run_parallel(N, [&](int) {
    if (outcome_of([&] { b.wait(long_wait()); }) == Outcome::passed)
      passed.fetch_add(1);
    else
      other.fetch_add(1);
  });
  EXPECT_EQ(passed.load(), N);
  EXPECT_EQ(other.load(), 0);
}

TEST(Barrier, WaitTimeoutBreaksTheBarrier) {
  th::Barrier b(3);
  Waiter other(b);
  ASSERT_TRUE(eventually([&] { return b.n_waiting() == 1; }));
  const auto start = Clock::now();
  try {
    b.wait(50ms);
    ADD_FAILURE() << "a timed-out wait returned normally";
  } catch (const concur::Error& e) {  // BrokenBarrierError derives from concur::Error
    EXPECT_NE(dynamic_cast<const th::BrokenBarrierError*>(&e), nullptr) << e.what();
    EXPECT_NE(std::string(e.what()), "");
  }
  expect_timed_out_after_50ms(Clock::now() - start);
  EXPECT_EQ(other.join(), Outcome::broken) << "the timeout breaks the barrier for everyone";
  EXPECT_TRUE(b.broken());
  EXPECT_EQ(b.n_waiting(), 0u);
  EXPECT_THROW(b.wait(long_wait()), th::BrokenBarrierError);
  EXPECT_THROW(b.wait(long_wait()), concur::RuntimeError);  // Python: a RuntimeError subclass
}

TEST(Barrier, TimeoutForms) {
  {
    th::Barrier b(2);
    EXPECT_THROW(b.wait(0ms), th::BrokenBarrierError);  // zero: do not wait -> broken at once
    EXPECT_TRUE(b.broken());
  }
  {
    th::Barrier b(2);
    EXPECT_THROW(b.wait(-1s), th::BrokenBarrierError);
  }
  {
    th::Barrier b(2);
    EXPECT_THROW(b.wait(std::chrono::duration<double>(std::nan(""))), th::BrokenBarrierError);
  }
  {
    th::Barrier b(2);
    Outcome o = Outcome::still_running;
    expect_timed_out_after_50ms(time_of([&] {
      o = outcome_of([&] { b.wait(std::chrono::duration<double>(0.05)); });
    }));
    EXPECT_EQ(o, Outcome::broken);
  }
}

TEST(Barrier, DefaultTimeoutFromConstructor) {
  // lock_tests.BarrierTests.test_default_timeout
  {
    th::Barrier b(2, {}, 50ms);
    Outcome o = Outcome::still_running;
    expect_timed_out_after_50ms(time_of([&] { o = outcome_of([&] { b.wait(); }); }));
    EXPECT_EQ(o, Outcome::broken);
    EXPECT_TRUE(b.broken());
  }
  {
    th::Barrier b(2, {}, std::chrono::duration<double>(0.05));
    Outcome o = Outcome::still_running;
    expect_timed_out_after_50ms(time_of([&] { o = outcome_of([&] { b.wait(); }); }));
    EXPECT_EQ(o, Outcome::broken);
  }
  {
    th::Barrier b(2, {}, 0ms);
    EXPECT_THROW(b.wait(), th::BrokenBarrierError);
  }
}

TEST(Barrier, ExplicitTimeoutOverridesDefault) {
  th::Barrier b(2, {}, 10ms);
  Waiter w(b);  // waits with its own long timeout
  ASSERT_TRUE(eventually([&] { return b.n_waiting() == 1 || b.broken(); }));
  give_time_to_misbehave();  // longer than the 10 ms default
  EXPECT_FALSE(b.broken()) << "the default timeout applied to a wait(timeout)";
  EXPECT_EQ(b.wait(long_wait()), 1u);
  EXPECT_EQ(w.join(), Outcome::passed);
}

TEST(Barrier, HugeDefaultTimeoutDoesNotOverflow) {
  // Each default timeout means "practically forever": a waiter must still be waiting when its
  // partner arrives. An overflow shows up as an immediate BrokenBarrierError.
  auto check = [](th::Barrier& b) {
    Waiter w(b);
    std::atomic<Outcome> first{Outcome::still_running};
    std::jthread t([&] { first = outcome_of([&] { b.wait(); }); });
    ASSERT_TRUE(eventually([&] { return b.n_waiting() == 2 || b.broken(); }));
    give_time_to_misbehave();
    EXPECT_FALSE(b.broken()) << "a huge default timeout expired at once";
    b.abort();  // release them (the barrier has 3 parties)
    t.join();
    w.join();
  };
  {
    SCOPED_TRACE("hours::max()");
    th::Barrier b(3, {}, std::chrono::hours::max());
    check(b);
  }
  {
    SCOPED_TRACE("duration<double>(1e300)");
    th::Barrier b(3, {}, std::chrono::duration<double>(1e300));
    check(b);
  }
  {
    SCOPED_TRACE("seconds::max()");
    th::Barrier b(3, {}, std::chrono::seconds::max());
    check(b);
  }
  {
    SCOPED_TRACE("nanoseconds::max()");
    th::Barrier b(3, {}, std::chrono::nanoseconds::max());
    check(b);
  }
}

TEST(Barrier, HugeExplicitTimeout) {
  th::Barrier b(2);
  std::atomic<Outcome> first{Outcome::still_running};
  std::jthread t([&] { first = outcome_of([&] { b.wait(std::chrono::hours::max()); }); });
  ASSERT_TRUE(eventually([&] { return b.n_waiting() == 1 || b.broken(); }));
  EXPECT_FALSE(b.broken());
  EXPECT_NO_THROW(b.wait(std::chrono::duration<double>(1e300)));
  t.join();
  EXPECT_EQ(first.load(), Outcome::passed);
}

TEST(Barrier, AbortBreaksWaiters) {
  th::Barrier b(3);
  Waiter w1(b), w2(b);
  ASSERT_TRUE(eventually([&] { return b.n_waiting() == 2; }));
  EXPECT_FALSE(b.broken());
  b.abort();
  EXPECT_EQ(w1.join(), Outcome::broken);
  EXPECT_EQ(w2.join(), Outcome::broken);
  EXPECT_TRUE(b.broken());
  EXPECT_EQ(b.n_waiting(), 0u);
  EXPECT_THROW(b.wait(long_wait()), th::BrokenBarrierError);  // broken for good...
  b.abort();                                                  // (idempotent)
  EXPECT_TRUE(b.broken());
  b.reset();  // ...until reset()
  EXPECT_FALSE(b.broken());
  Waiter w3(b), w4(b);
  EXPECT_NO_THROW(b.wait(long_wait()));
  EXPECT_EQ(w3.join(), Outcome::passed);
  EXPECT_EQ(w4.join(), Outcome::passed);
}

TEST(Barrier, AbortFromAParty) {
  // lock_tests.BarrierTests.test_abort
  constexpr int N = 5;
  th::Barrier b(N, {}, scaled(std::chrono::milliseconds(10000)));
  std::atomic<int> results1{0}, results2{0}, other{0};
  run_parallel(N, [&](int) {
    try {
      const std::size_t i = b.wait();
      if (i == N / 2) throw std::logic_error("abort");
      b.wait();
      results1.fetch_add(1);
    } catch (const th::BrokenBarrierError&) {
      results2.fetch_add(1);
    } catch (const std::logic_error&) {
      b.abort();
    } catch (...) {
      other.fetch_add(1);
    }
  });
  EXPECT_EQ(results1.load(), 0);
  EXPECT_EQ(results2.load(), N - 1);
  EXPECT_EQ(other.load(), 0);
  EXPECT_TRUE(b.broken());
}

TEST(Barrier, ResetBreaksWaitersAndIsUsableAgain) {
  th::Barrier b(3);
  Waiter w1(b), w2(b);
  ASSERT_TRUE(eventually([&] { return b.n_waiting() == 2; }));
  b.reset();
  EXPECT_EQ(w1.join(), Outcome::broken);
  EXPECT_EQ(w2.join(), Outcome::broken);
  EXPECT_FALSE(b.broken());
  EXPECT_EQ(b.n_waiting(), 0u);
  std::vector<std::size_t> indices(3);
  run_parallel(3, [&](int i) { indices[i] = b.wait(long_wait()); });
  std::sort(indices.begin(), indices.end());
  EXPECT_EQ(indices, (std::vector<std::size_t>{0, 1, 2}));
}

TEST(Barrier, ResetFromAParty) {
  // lock_tests.BarrierTests.test_reset
  constexpr int N = 5;
  th::Barrier b(N, {}, scaled(std::chrono::milliseconds(10000)));
  std::atomic<int> results1{0}, results2{0}, results3{0}, other{0};
  run_parallel(N, [&](int) {
    try {
      const std::size_t i = b.wait();
      if (i == N / 2) {
        // Wait until the other threads are all in the barrier.
        if (!eventually([&] { return b.n_waiting() == N - 1; })) other.fetch_add(1);
        b.reset();
      } else {
        try {
          b.wait();
          results1.fetch_add(1);
        } catch (const th::BrokenBarrierError&) {
          results2.fetch_add(1);
        }
      }
      // Now, pass the barrier again.
      b.wait();
      results3.fetch_add(1);
    } catch (...) {
      other.fetch_add(1);
    }
  });
  EXPECT_EQ(results1.load(), 0);
  EXPECT_EQ(results2.load(), N - 1);
  EXPECT_EQ(results3.load(), N);
  EXPECT_EQ(other.load(), 0);
}

TEST(Barrier, AbortAndReset) {
  // lock_tests.BarrierTests.test_abort_and_reset
  constexpr int N = 5;
  th::Barrier b(N, {}, scaled(std::chrono::milliseconds(10000)));
  th::Barrier b2(N);
  std::atomic<int> results1{0}, results2{0}, results3{0}, other{0};
  run_parallel(N, [&](int) {
    try {
      try {
        const std::size_t i = b.wait();
        if (i == N / 2) throw std::logic_error("abort");
        b.wait();
        results1.fetch_add(1);
      } catch (const th::BrokenBarrierError&) {
        results2.fetch_add(1);
      } catch (const std::logic_error&) {
        b.abort();
      }
      // Synchronize and reset the barrier: first so that everyone has left it when we reset,
      // after so that no one enters it before the reset.
      if (b2.wait(long_wait()) == N / 2) b.reset();
      b2.wait(long_wait());
      b.wait();
      results3.fetch_add(1);
    } catch (...) {
      other.fetch_add(1);
    }
  });
  EXPECT_EQ(results1.load(), 0);
  EXPECT_EQ(results2.load(), N - 1);
  EXPECT_EQ(results3.load(), N);
  EXPECT_EQ(other.load(), 0);
}

TEST(Barrier, ResetWithoutWaiters) {
  th::Barrier b(2);
  b.reset();  // nothing to break
  EXPECT_FALSE(b.broken());
  b.abort();
  b.reset();
  EXPECT_FALSE(b.broken());
  Waiter w(b);
  ASSERT_TRUE(eventually([&] { return b.n_waiting() == 1; }));
  EXPECT_EQ(b.wait(long_wait()), 1u);
  EXPECT_EQ(w.join(), Outcome::passed);
  EXPECT_EQ(b.n_waiting(), 0u);
}

TEST(Barrier, ActionMayQueryTheBarrier) {
  // Python's n_waiting, broken and parties are plain reads, so an action may look at its own
  // barrier (CPython prints "broken False n_waiting 2 parties 2" here). The action runs with the
  // barrier's internal lock held: a query that takes that lock again deadlocks. Bounded: the
  // parties run on detached threads over a leaked barrier, so a hang is reported, not waited out.
  struct Shared {
    std::atomic<int> done{0};
    std::atomic<bool> broken_in_action{true};
    std::atomic<std::size_t> parties_in_action{0}, waiting_in_action{99};
    th::Barrier* barrier = nullptr;
  };
  auto shared = std::make_shared<Shared>();
  shared->barrier = new th::Barrier(2, [s = shared.get()] {
    s->parties_in_action = s->barrier->parties();
    s->broken_in_action = s->barrier->broken();
    s->waiting_in_action = s->barrier->n_waiting();
  });
  for (int i = 0; i < 2; ++i)
    std::thread([shared] {
      try {
        shared->barrier->wait(long_wait());
      } catch (...) {
      }
      shared->done.fetch_add(1);
    }).detach();
  const bool finished = eventually([&] { return shared->done.load() == 2; }, scaled(std::chrono::milliseconds(2000)));
  EXPECT_TRUE(finished) << "an action calling broken()/n_waiting() on its own barrier deadlocked";
  if (!finished) return;  // leak the barrier: the stuck threads still use it
  EXPECT_EQ(shared->parties_in_action.load(), 2u);
  EXPECT_FALSE(shared->broken_in_action.load());
  EXPECT_LE(shared->waiting_in_action.load(), 2u);
  delete shared->barrier;
}

TEST(Barrier, BrokenBarrierErrorHierarchy) {
  static_assert(std::is_base_of_v<concur::Error, th::BrokenBarrierError>);
  static_assert(std::is_base_of_v<concur::RuntimeError, th::BrokenBarrierError>);
  static_assert(std::is_base_of_v<std::runtime_error, th::BrokenBarrierError>);
  th::BrokenBarrierError e;
  EXPECT_NE(std::string(e.what()), "");
}

static_assert(!std::is_copy_constructible_v<th::Barrier>);

}  // namespace
