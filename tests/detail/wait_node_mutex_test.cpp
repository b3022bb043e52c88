// Unit tests of the parking primitives (concur/detail/wait_node.hpp: WaitNode, WaitList,
// DeferredWakes) and of the futex mutex (concur/detail/mutex.hpp: Mutex, MutexGuard).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "concur/deadline.hpp"
#include "concur/detail/mutex.hpp"
#include "concur/detail/wait_node.hpp"
#include "detail_sync.hpp"

namespace {

using concur::Deadline;
using concur::detail::DeferredWakes;
using concur::detail::Mutex;
using concur::detail::MutexGuard;
using concur::detail::WaitList;
using concur::detail::WaitNode;
using namespace concur_detail_test;
using namespace std::chrono_literals;

Deadline long_node_deadline() { return Deadline::after(long_wait()); }

// ---------------------------------------------------------------------------------------------
// WaitList
// ---------------------------------------------------------------------------------------------

TEST(WaitList, PopsInPushOrder) {
  WaitList list;
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.pop_front(), nullptr);
  WaitNode a, b, c;
  list.push_back(&a);
  list.push_back(&b);
  list.push_back(&c);
  EXPECT_FALSE(list.empty());
  EXPECT_EQ(list.pop_front(), &a);
  EXPECT_EQ(list.pop_front(), &b);
  EXPECT_EQ(list.pop_front(), &c);
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.pop_front(), nullptr);
}

TEST(WaitList, RemoveMiddleHeadAndTail) {
  WaitList list;
  WaitNode a, b, c, d, e;
  for (WaitNode* n : {&a, &b, &c, &d, &e}) list.push_back(n);
  EXPECT_TRUE(list.remove(&c));   // middle
  EXPECT_FALSE(list.remove(&c));  // no longer linked
  EXPECT_TRUE(list.remove(&a));   // head
  EXPECT_TRUE(list.remove(&e));   // tail
  list.push_back(&c);             // re-linked at the tail: b, d, c
  EXPECT_EQ(list.pop_front(), &b);
  EXPECT_FALSE(list.remove(&b));  // popped: no longer linked
  EXPECT_EQ(list.pop_front(), &d);
  EXPECT_EQ(list.pop_front(), &c);
  EXPECT_TRUE(list.empty());

  WaitNode never_linked;
  EXPECT_FALSE(list.remove(&never_linked));
  EXPECT_TRUE(list.empty());

  WaitNode only;
  list.push_back(&only);
  EXPECT_TRUE(list.remove(&only));
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.pop_front(), nullptr);
  list.push_back(&a);  // still usable after becoming empty by removal
  EXPECT_EQ(list.pop_front(), &a);
}

TEST(WaitList, ManyNodesInterleavedPushPopRemove) {
  // Against a model (std::vector), with a reproducible schedule.
  constexpr int kNodes = 64;
  std::vector<WaitNode> nodes(kNodes);
  std::vector<bool> linked(kNodes, false);
  std::vector<int> model;
  WaitList list;
  Rng rng(7);
  for (int step = 0; step < 20000; ++step) {
    const int i = static_cast<int>(rng.below(kNodes));
    switch (rng.below(3)) {
      case 0:
        if (!linked[i]) {
          list.push_back(&nodes[i]);
          model.push_back(i);
          linked[i] = true;
        }
        break;
      case 1: {
        WaitNode* n = list.pop_front();
        if (model.empty()) {
          ASSERT_EQ(n, nullptr);
        } else {
          ASSERT_EQ(n, &nodes[model.front()]) << "step " << step;
          linked[model.front()] = false;
          model.erase(model.begin());
        }
        break;
      }
      default: {
        ASSERT_EQ(list.remove(&nodes[i]), static_cast<bool>(linked[i])) << "step " << step;
        if (linked[i]) {
          std::erase(model, i);
          linked[i] = false;
        }
      }
    }
    ASSERT_EQ(list.empty(), model.empty());
  }
}

// ---------------------------------------------------------------------------------------------
// WaitNode
// ---------------------------------------------------------------------------------------------

TEST(WaitNode, SignalBeforeWaitReturnsAtOnce) {
  for (bool spin : {true, WaitNode::kNoSpin}) {
    WaitNode n;
    EXPECT_FALSE(n.signaled());
    n.signal();
    EXPECT_TRUE(n.signaled());
    bool r = false;
    const auto elapsed = time_of([&] { r = n.wait(long_node_deadline(), spin); });
    EXPECT_TRUE(r);
    EXPECT_LT(elapsed, long_wait() / 2);  // not "at the deadline"
    EXPECT_TRUE(n.wait(Deadline::immediate()));
    EXPECT_TRUE(n.signaled());
  }
}

TEST(WaitNode, ImmediateDeadlineReportsSignaled) {
  WaitNode n;
  EXPECT_FALSE(n.wait(Deadline::immediate()));
  EXPECT_FALSE(n.signaled());
  n.signal();
  EXPECT_TRUE(n.wait(Deadline::immediate()));
}

TEST(WaitNode, TimedWaitReturnsFalseThenSignaledTellsTheTruth) {
  WaitNode n;
  bool r = true;
  const auto elapsed = time_of([&] { r = n.wait(Deadline::after(50ms)); });
  EXPECT_FALSE(r);
  expect_timed_out_after_50ms(elapsed);
  EXPECT_FALSE(n.signaled());  // the owner's re-check: no signal raced the timeout
  // A signal after the timeout (a waker that popped the node just then) is still seen.
  n.signal();
  EXPECT_TRUE(n.signaled());
  EXPECT_TRUE(n.wait(Deadline::after(50ms)));
}

TEST(WaitNode, SignalWakesASleepingWaiter) {
  WaitNode n;
  std::atomic<long> tid{0};
  bool r = false, signaled_after = false;
  std::thread w([&] {
    tid = this_tid();
    r = n.wait(long_node_deadline());
    signaled_after = n.signaled();
  });
  while (tid.load() == 0) std::this_thread::yield();
  const bool asleep = wait_until_asleep({tid.load()}, {&n.word()});
  if (asleep) {
    // The waiter sleeps: the first half of signal() says a futex_wake is needed.
    EXPECT_TRUE(n.mark_signaled());
    concur::detail::futex_wake(n.word(), 1);
  } else {
    n.signal();
  }
  w.join();
  EXPECT_TRUE(r);
  EXPECT_TRUE(signaled_after);
}

TEST(WaitNode, MarkSignaledOfANodeNobodySleepsOnNeedsNoWake) {
  WaitNode n;
  EXPECT_FALSE(n.mark_signaled());
  EXPECT_TRUE(n.signaled());
  EXPECT_FALSE(n.mark_signaled());  // twice: still no sleeper
  EXPECT_TRUE(n.wait(long_node_deadline()));
}

// ---------------------------------------------------------------------------------------------
// DeferredWakes
// ---------------------------------------------------------------------------------------------

// kWaiters threads park on nodes linked under a Mutex, and fall asleep. The waker pops them all
// under the Mutex and defers their wake-ups: the first kInline are held back until unlock(),
// the others are sent at once. Every waiter wakes exactly once; none is lost. Two rounds with
// the same DeferredWakes, which unlock() must leave empty.
TEST(DeferredWakes, BeyondInlineCapacityEveryWaiterWakesOnce) {
  constexpr int kInline = DeferredWakes::kInline;
  constexpr int kWaiters = kInline + 3;
  Mutex m;
  WaitList list;
  DeferredWakes wakes;
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    std::vector<const void*> words(kWaiters);
    std::vector<long> tids(kWaiters);
    std::vector<int> order;  // link order (under m)
    std::vector<std::atomic<int>> returns(kWaiters);
    std::vector<int> result(kWaiters, -1);
    Count linked, returned;
    std::vector<std::thread> threads;
    for (int i = 0; i < kWaiters; ++i)
      threads.emplace_back([&, i] {
        WaitNode node;
        m.lock();
        list.push_back(&node);
        order.push_back(i);
        words[i] = &node.word();
        tids[i] = this_tid();
        m.unlock();
        linked.add();
        result[i] = node.wait(long_node_deadline());
        returns[i].fetch_add(1);
        returned.add();
      });
    ASSERT_TRUE(linked.wait_for(kWaiters));
    const bool all_asleep = wait_until_asleep(tids, words);

    m.lock();
    ASSERT_EQ(static_cast<int>(order.size()), kWaiters);
    int popped = 0;
    while (WaitNode* n = list.pop_front()) {
      wakes.signal_later(n);
      ++popped;
    }
    EXPECT_EQ(popped, kWaiters);
    // Those beyond the inline capacity are woken now, while m is still held.
    EXPECT_TRUE(returned.wait_for(kWaiters - kInline));
    if (all_asleep) {
      give_time_to_misbehave();
      EXPECT_EQ(returned.value(), kWaiters - kInline) << "a deferred wake-up was sent early";
      for (int k = 0; k < kWaiters; ++k)
        EXPECT_EQ(returns[order[k]].load(), k < kInline ? 0 : 1) << "link position " << k;
    }
    EXPECT_TRUE(wakes.unlock(m));
    EXPECT_FALSE(m.locked());
    for (auto& t : threads) t.join();
    for (int i = 0; i < kWaiters; ++i) {
      EXPECT_EQ(result[i], 1) << "waiter " << i;
      EXPECT_EQ(returns[i].load(), 1) << "waiter " << i;
    }
    EXPECT_TRUE(list.empty());
  }
  // Nothing deferred any more: unlock() is Mutex::unlock().
  m.lock();
  EXPECT_TRUE(wakes.unlock(m));
  EXPECT_FALSE(wakes.unlock(m));  // already unlocked
}

TEST(DeferredWakes, WaitersNotYetAsleepNeedNoDeferredWake) {
  // Nodes signaled before their threads wait: nothing to defer, and each wait returns at once.
  Mutex m;
  DeferredWakes wakes;
  std::vector<WaitNode> nodes(DeferredWakes::kInline + 2);
  m.lock();
  for (auto& n : nodes) wakes.signal_later(&n);
  EXPECT_TRUE(wakes.unlock(m));
  for (auto& n : nodes) {
    EXPECT_TRUE(n.signaled());
    EXPECT_TRUE(n.wait(long_node_deadline()));
  }
}

// ---------------------------------------------------------------------------------------------
// Mutex
// ---------------------------------------------------------------------------------------------

TEST(Mutex, TryLockAndUnlockReturnValues) {
  Mutex m;
  EXPECT_FALSE(m.locked());
  EXPECT_FALSE(m.unlock());  // not locked: false, and nothing changes
  EXPECT_FALSE(m.locked());
  EXPECT_TRUE(m.try_lock());
  EXPECT_TRUE(m.locked());
  EXPECT_FALSE(m.try_lock());
  EXPECT_TRUE(m.unlock());
  EXPECT_FALSE(m.unlock());
  EXPECT_TRUE(m.try_lock());
  EXPECT_TRUE(m.unlock());
  EXPECT_TRUE(m.lock_until(Deadline::immediate()));  // free: immediate succeeds
  EXPECT_TRUE(m.unlock());
  {
    MutexGuard g(m);
    EXPECT_TRUE(m.locked());
  }
  EXPECT_FALSE(m.locked());
}

TEST(Mutex, LockUntilWhileHeldByAnotherThread) {
  Mutex m;
  Flag held, release;
  std::thread holder([&] {
    m.lock();
    held.set();
    EXPECT_TRUE(release.wait());
    EXPECT_TRUE(m.unlock());
  });
  ASSERT_TRUE(held.wait());

  EXPECT_FALSE(m.lock_until(Deadline::immediate()));
  EXPECT_FALSE(m.lock_until(Deadline::after(0ms)));
  bool r = true;
  const auto elapsed = time_of([&] { r = m.lock_until(Deadline::after(50ms)); });
  EXPECT_FALSE(r);
  expect_timed_out_after_50ms(elapsed);
  EXPECT_TRUE(m.locked());  // still the holder's
  EXPECT_FALSE(m.try_lock());

  release.set();
  EXPECT_TRUE(m.lock_until(long_node_deadline()));
  holder.join();
  EXPECT_TRUE(m.unlock());
  EXPECT_FALSE(m.locked());
}

TEST(Mutex, SleeperGetsTheLockWhenReleased) {
  Mutex m;
  m.lock();
  std::atomic<long> tid{0};
  bool r = false;
  std::thread sleeper([&] {
    tid = this_tid();
    r = m.lock_until(long_node_deadline());
    if (r) m.unlock();
  });
  while (tid.load() == 0) std::this_thread::yield();
  wait_until_asleep({tid.load()}, {m.futex_word()});  // best effort: the test holds either way
  EXPECT_TRUE(m.unlock());
  sleeper.join();
  EXPECT_TRUE(r);
  EXPECT_FALSE(m.locked());
}

TEST(Mutex, UnlockByAnotherThreadIsAllowed) {
  Mutex m;
  m.lock();
  bool r = false;
  std::thread([&] { r = m.unlock(); }).join();
  EXPECT_TRUE(r);
  EXPECT_FALSE(m.locked());
  EXPECT_TRUE(m.try_lock());

  // ... and it wakes a thread sleeping on the lock.
  std::atomic<long> tid{0};
  bool got = false;
  std::thread sleeper([&] {
    tid = this_tid();
    got = m.lock_until(long_node_deadline());
  });
  while (tid.load() == 0) std::this_thread::yield();
  wait_until_asleep({tid.load()}, {m.futex_word()});
  std::thread([&] { r = m.unlock(); }).join();
  sleeper.join();
  EXPECT_TRUE(r);
  EXPECT_TRUE(got);
  EXPECT_TRUE(m.locked());  // the sleeper's now; it exited without unlocking (allowed)
  EXPECT_TRUE(m.unlock());
}

// Every acquisition form contends on one Mutex; a plain (non-atomic) counter incremented under
// it loses nothing (and ThreadSanitizer sees the lock's acquire/release ordering it).
TEST(Mutex, ContendedCounterIsExact) {
  constexpr int kThreads = 4;
  const int iterations = 50000 / CONCUR_TEST_TIME_SCALE;
  Mutex m;
  long counter = 0;
  run_together(kThreads, [&](int t) {
    for (int i = 0; i < iterations; ++i) {
      switch ((t + i) % 4) {
        case 0:
          m.lock();
          break;
        case 1:
          ASSERT_TRUE(m.lock_until(long_node_deadline()));
          break;
        case 2:
          while (!m.try_lock()) std::this_thread::yield();
          break;
        default: {
          MutexGuard g(m);
          ++counter;
          continue;
        }
      }
      ++counter;
      ASSERT_TRUE(m.unlock());
    }
  });
  EXPECT_EQ(counter, static_cast<long>(kThreads) * iterations);
  EXPECT_FALSE(m.locked());
}

// Timed acquisitions that time out under contention (leaving the word "contended" behind them)
// neither lose an increment nor leave the lock held.
TEST(Mutex, TimedOutWaitersLoseNothing) {
  constexpr int kThreads = 4;
  const int iterations = 5000 / CONCUR_TEST_TIME_SCALE;
  Mutex m;
  long counter = 0;
  std::atomic<long> acquired{0}, timeouts{0};
  run_together(kThreads, [&](int t) {
    Rng rng(t + 1);
    for (int i = 0; i < iterations; ++i) {
      if (m.lock_until(Deadline::after(std::chrono::microseconds(rng.below(100))))) {
        ++counter;
        if (rng.below(8) == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
        acquired.fetch_add(1);
        ASSERT_TRUE(m.unlock());
      } else {
        timeouts.fetch_add(1);
      }
    }
  });
  EXPECT_EQ(counter, acquired.load());
  EXPECT_EQ(acquired.load() + timeouts.load(), static_cast<long>(kThreads) * iterations);
  EXPECT_FALSE(m.locked());
  EXPECT_TRUE(m.lock_until(Deadline::immediate()));
  EXPECT_TRUE(m.unlock());
  RecordProperty("timeouts", static_cast<int>(timeouts.load()));
}

}  // namespace
