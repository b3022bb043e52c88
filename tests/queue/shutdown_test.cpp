// shutdown() and shutdown(true), Python 3.13 semantics (Lib/queue.py, test_queue.py's shutdown
// tests): after shutdown() every put form throws ShutDown (try_put returns false); gets drain
// what is queued, then throw ShutDown (try_get returns nullopt); blocked getters and putters wake
// with ShutDown. shutdown(true) also discards the queued items, counting them done for join(),
// and wakes every blocked put, get and join.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "concur/errors.hpp"
#include "concur/queue.hpp"
#include "queue_kinds.hpp"
#include "test_support.hpp"

namespace {

template <class Tag>
class Shutdown : public ::testing::Test {};

// A few hundred nanoseconds of busy work per unit, to shift one racer against another.
void spin(int units) {
  volatile int sink = 0;
  for (int k = 0; k < units * 20; ++k) sink = k;
  (void)sink;
}
TYPED_TEST_SUITE(Shutdown, FullKinds, KindName);

// Tallies how calls on a queue that shuts down end: with ShutDown (or a try_ form's refusal), or
// otherwise (a return, another exception).
struct Outcomes {
  std::atomic<int> entered{0}, shut_down{0}, other{0};
  void run(const std::function<void()>& call) {
    entered++;
    try {
      call();
      other++;
    } catch (const cq::ShutDown&) {
      shut_down++;
    } catch (...) {
      other++;
    }
  }
  void run_try(const std::function<bool()>& try_call) {
    entered++;
    try {
      (try_call() ? other : shut_down)++;
    } catch (...) {
      other++;
    }
  }
};

// Starts a thread blocked in each of `calls` (which throw ShutDown once q shuts down) and one in
// `try_call` (false once q shuts down), all on q, then shuts q down: each must wake with the
// shutdown at once, not when its timeout ends.
template <class Q>
void expect_shutdown_wakes(Q& q, const char* who, const std::vector<std::function<void()>>& calls,
                           const std::function<bool()>& try_call) {
  const int n = static_cast<int>(calls.size()) + 1;
  Outcomes out;
  {
    std::vector<std::jthread> threads;
    for (const auto& call : calls) threads.emplace_back([&] { out.run(call); });
    threads.emplace_back([&] { out.run_try(try_call); });
    ASSERT_TRUE(eventually([&] { return out.entered.load() == n; }));
    give_time_to_misbehave();
    EXPECT_EQ(out.shut_down.load() + out.other.load(), 0);
    const auto elapsed = time_of([&] {
      q.shutdown();
      threads.clear();
    });
    EXPECT_LT(elapsed, long_wait() / 2) << "the " << who << " waited for their timeouts";
  }
  EXPECT_EQ(out.shut_down.load(), n);
  EXPECT_EQ(out.other.load(), 0);
}

// Every put form on a shut-down queue: ShutDown (false from try_put), nothing added.
template <class Q>
void expect_puts_refused(Q& q) {
  const auto before = q.qsize();
  EXPECT_THROW(q.put(100), cq::ShutDown);
  EXPECT_THROW(q.put(100, false), cq::ShutDown);
  EXPECT_THROW(q.put_nowait(100), cq::ShutDown);
  EXPECT_THROW(q.put(100, true, 10ms), cq::ShutDown);
  EXPECT_THROW(q.put(100, 10ms), cq::ShutDown);
  EXPECT_THROW(q.put(100, std::chrono::duration<double>(0.01)), cq::ShutDown);
  bool put = true;
  EXPECT_NO_THROW(put = q.try_put(100));
  EXPECT_FALSE(put);
  put = true;
  EXPECT_NO_THROW(put = q.try_put(100, 10ms));
  EXPECT_FALSE(put);
  EXPECT_EQ(q.qsize(), before);
}

// Every get form on a shut-down, empty queue: ShutDown (nullopt from try_get), and no waiting
// for the timeout (ShutDown, not Empty, is what they report).
template <class Q>
void expect_gets_refused(Q& q) {
  ASSERT_TRUE(q.empty());
  EXPECT_THROW((void)q.get(), cq::ShutDown);
  EXPECT_THROW((void)q.get(false), cq::ShutDown);
  EXPECT_THROW((void)q.get_nowait(), cq::ShutDown);
  EXPECT_THROW((void)q.get(true, long_wait()), cq::ShutDown);
  EXPECT_THROW((void)q.get(long_wait()), cq::ShutDown);
  std::optional<int> o{-1};
  EXPECT_NO_THROW(o = q.try_get());
  EXPECT_EQ(o, std::nullopt);
  o = -1;
  const auto elapsed = time_of([&] { EXPECT_NO_THROW(o = q.try_get(long_wait())); });
  EXPECT_EQ(o, std::nullopt);
  EXPECT_LT(elapsed, long_wait() / 4) << "try_get waited on a shut-down, empty queue";
}

TYPED_TEST(Shutdown, PutsThrowShutDown) {
  typename TypeParam::template queue<int> q;
  q.shutdown();
  expect_puts_refused(q);
  EXPECT_TRUE(q.empty());
  // Full and shut down: ShutDown takes precedence over Full, as in Python.
  typename TypeParam::template queue<int> full(1);
  full.put(1);
  full.shutdown();
  expect_puts_refused(full);
  EXPECT_EQ(full.get(), 1);
}

TYPED_TEST(Shutdown, GetsDrainThenThrowShutDown) {
  typename TypeParam::template queue<int> q;
  const std::vector<int> in = {4, 1, 3, 2, 6, 5};
  for (int v : in) q.put(v);
  q.shutdown();
  EXPECT_EQ(q.qsize(), in.size()) << "shutdown() without immediate must keep the items";
  std::vector<int> got;
  got.push_back(q.get());
  got.push_back(q.get(false));
  got.push_back(q.get_nowait());
  got.push_back(q.get(10ms));
  got.push_back(q.try_get().value_or(-1));
  got.push_back(q.try_get(10ms).value_or(-1));
  EXPECT_EQ(got, expected_order(TypeParam::order, in));
  expect_gets_refused(q);
  expect_puts_refused(q);
}

TYPED_TEST(Shutdown, ShutdownTwiceAndThenImmediate) {
  typename TypeParam::template queue<int> q;
  q.put(1);
  q.put(2);
  q.shutdown();
  q.shutdown();
  EXPECT_EQ(q.qsize(), 2u);
  q.shutdown(true);  // immediate after a plain shutdown still discards
  EXPECT_EQ(q.qsize(), 0u);
  EXPECT_TRUE(q.empty());
  q.shutdown(true);
  q.shutdown();
  expect_gets_refused(q);
  expect_puts_refused(q);
  q.join();
}

TYPED_TEST(Shutdown, BlockedGettersWakeWithShutDown) {
  typename TypeParam::template queue<int> q;
  expect_shutdown_wakes(q, "getters",
                        {[&] { (void)q.get(); }, [&] { (void)q.get(long_wait()); },
                         [&] { (void)q.get(true, long_wait()); }},
                        [&] { return q.try_get(long_wait()).has_value(); });  // nullopt: shut down
}

TYPED_TEST(Shutdown, BlockedPuttersWakeWithShutDown) {
  typename TypeParam::template queue<int> q(1);
  q.put(0);
  ASSERT_NO_FATAL_FAILURE(expect_shutdown_wakes(
      q, "putters", {[&] { q.put(1); }, [&] { q.put(2, long_wait()); }, [&] { q.put(3, true, long_wait()); }},
      [&] { return q.try_put(4, long_wait()); }));  // false: shut down
  // The item queued before the shutdown is still there, and only it.
  EXPECT_EQ(q.qsize(), 1u);
  EXPECT_EQ(q.get(), 0);
  expect_gets_refused(q);
}

TYPED_TEST(Shutdown, GetterAfterShutdownStillDrainsPutsMadeBefore) {
  // Getters blocked on an empty queue, a put, then shutdown: the item goes to exactly one of
  // them, the others get ShutDown.
  typename TypeParam::template queue<int> q;
  std::atomic<int> entered{0}, shut_down{0};
  std::mutex m;
  std::vector<int> got;
  {
    std::vector<std::jthread> getters;
    for (int i = 0; i < 3; ++i)
      getters.emplace_back([&] {
        entered++;
        try {
          const int v = q.get(long_wait());
          std::lock_guard g(m);
          got.push_back(v);
        } catch (const cq::ShutDown&) {
          shut_down++;
        }
      });
    ASSERT_TRUE(eventually([&] { return entered.load() == 3; }));
    give_time_to_misbehave();
    q.put(9);
    q.shutdown();
  }
  EXPECT_EQ(got, std::vector<int>{9});
  EXPECT_EQ(shut_down.load(), 2);
}

TYPED_TEST(Shutdown, ImmediateDiscardsAndCountsThemDone) {
  typename TypeParam::template queue<int> q;
  for (int i = 0; i < 5; ++i) q.put(i);
  q.shutdown(true);
  EXPECT_EQ(q.qsize(), 0u);
  EXPECT_TRUE(q.empty());
  expect_gets_refused(q);
  expect_puts_refused(q);
  q.join();  // the discarded items count as done
  EXPECT_THROW(q.task_done(), concur::ValueError) << "discarded items were not counted done";
}

TYPED_TEST(Shutdown, ImmediateOnAFullQueueMakesNoRoomForPuts) {
  typename TypeParam::template queue<int> q(2);
  q.put(1);
  q.put(2);
  q.shutdown(true);
  EXPECT_FALSE(q.full());
  expect_puts_refused(q);
  EXPECT_TRUE(q.empty());
}

TYPED_TEST(Shutdown, ImmediateWakesBlockedJoin) {
  typename TypeParam::template queue<int> q;
  for (int i = 0; i < 3; ++i) q.put(i);
  Joiner joiner(q);
  joiner.expect_blocked();
  q.shutdown();  // not immediate: the items are still unfinished
  joiner.expect_blocked("shutdown() without immediate released join()");
  q.shutdown(true);
  joiner.wait();
  EXPECT_TRUE(joiner.joined());
}

TYPED_TEST(Shutdown, ImmediateJoinStillWaitsForItemsTakenBefore) {
  // Python: shutdown(immediate=True) counts only the discarded items done; an item a consumer
  // took before is done when the consumer says so.
  typename TypeParam::template queue<int> q;
  for (int i = 0; i < 3; ++i) q.put(i);
  (void)q.get();  // taken, not yet done
  Joiner joiner(q);
  q.shutdown(true);
  joiner.expect_blocked("join() returned while a taken item was unfinished");
  q.task_done();
  joiner.wait();
  EXPECT_TRUE(joiner.joined());
  EXPECT_THROW(q.task_done(), concur::ValueError);
}

TYPED_TEST(Shutdown, ImmediateWakesBlockedGettersAndPutters) {
  typename TypeParam::template queue<int> empty, full(1);
  full.put(0);
  Outcomes out;
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < 2; ++i) {
      threads.emplace_back([&] { out.run([&] { (void)empty.get(long_wait()); }); });
      threads.emplace_back([&] { out.run([&] { full.put(1, long_wait()); }); });
    }
    ASSERT_TRUE(eventually([&] { return out.entered.load() == 4; }));
    give_time_to_misbehave();
    empty.shutdown(true);
    full.shutdown(true);
  }
  EXPECT_EQ(out.shut_down.load(), 4);
  EXPECT_EQ(out.other.load(), 0);
  EXPECT_TRUE(full.empty()) << "immediate shutdown kept the item or let a putter in";
  full.join();
  empty.join();
}

TYPED_TEST(Shutdown, TryFormsNeverThrow) {
  typename TypeParam::template queue<int> q(2);
  q.put(1);
  q.shutdown();
  std::optional<int> o;
  bool put = true;
  EXPECT_NO_THROW(put = q.try_put(2));
  EXPECT_FALSE(put);
  EXPECT_NO_THROW(o = q.try_get());
  EXPECT_EQ(o, 1);
  EXPECT_NO_THROW(o = q.try_get());
  EXPECT_EQ(o, std::nullopt);
  EXPECT_NO_THROW(o = q.try_get(10ms));
  EXPECT_EQ(o, std::nullopt);
  EXPECT_NO_THROW(put = q.try_put(3, 10ms));
  EXPECT_FALSE(put);
  q.shutdown(true);
  EXPECT_NO_THROW(o = q.try_get(0ms));
  EXPECT_EQ(o, std::nullopt);
}

TYPED_TEST(Shutdown, ErrorIsAConcurErrorWithAMessage) {
  typename TypeParam::template queue<int> q;
  q.shutdown();
  try {
    q.put(1);
    ADD_FAILURE();
  } catch (const concur::Error& e) {
    EXPECT_NE(dynamic_cast<const cq::ShutDown*>(&e), nullptr);
    EXPECT_NE(std::string(e.what()), "");
  }
  try {
    (void)q.get();
    ADD_FAILURE();
  } catch (const concur::Error& e) {
    EXPECT_NE(dynamic_cast<const cq::ShutDown*>(&e), nullptr);
    EXPECT_NE(std::string(e.what()), "");
  }
}

TYPED_TEST(Shutdown, ConsumersDrainEverythingPutBeforeShutdown) {
  // Several consumers get until ShutDown while the producer puts N items and then shuts down:
  // every item is got exactly once and every consumer ends with ShutDown.
  typename TypeParam::template queue<int> q(4);
  constexpr int kItems = 3000, kConsumers = 3;
  std::vector<std::atomic<int>> seen(kItems);
  std::atomic<int> ended{0};
  {
    std::vector<std::jthread> consumers;
    for (int c = 0; c < kConsumers; ++c)
      consumers.emplace_back([&] {
        try {
          for (;;) seen[q.get(long_wait())].fetch_add(1);
        } catch (const cq::ShutDown&) {
          ended++;
        } catch (const cq::Empty&) {
          ADD_FAILURE() << "a consumer waited long_wait() for an item";
        }
      });
    for (int i = 0; i < kItems; ++i) q.put(i, long_wait());
    q.shutdown();
  }
  EXPECT_EQ(ended.load(), kConsumers);
  for (int i = 0; i < kItems; ++i) ASSERT_EQ(seen[i].load(), 1) << "item " << i;
}

TYPED_TEST(Shutdown, PutRacingShutdownIsOrderedBeforeIt) {
  // A put that succeeds is ordered before the shutdown (later puts throw ShutDown), so a get made
  // after shutdown() returned must find its item: it may not throw ShutDown ("shut down and
  // empty") while the item still lands afterwards, in a queue every consumer has given up on.
  // Round after round, A puts until ShutDown while B takes a few items, shuts the queue down and
  // drains it until ShutDown; then nothing may be left. The race is narrow, so this runs many
  // short rounds (for up to 2 s; no assertion depends on how many fit).
  using Q = typename TypeParam::template queue<int>;
  constexpr int kMaxRounds = 200'000;
  const auto stop_at = Clock::now() + 2s;
  std::unique_ptr<Q> q;
  int rounds = 0, violations = 0, first_violation = -1;
  bool last_round = false;
  std::atomic<int> b_started{-1};
  std::barrier sync(3);
  std::jthread a([&] {
    for (int r = 0;; ++r) {
      sync.arrive_and_wait();  // round starts
      if (last_round) return;
      while (b_started.load() != r) std::this_thread::yield();  // B is running too
      try {
        for (int i = 0; i < 100'000; ++i) q->put(i);
      } catch (const cq::ShutDown&) {
      }
      sync.arrive_and_wait();  // round ends
    }
  });
  std::jthread b([&] {
    for (int r = 0;; ++r) {
      sync.arrive_and_wait();
      if (last_round) return;
      b_started = r;
      // Let A get going, by a varying amount, sometimes keeping the queue short meanwhile.
      if (r % 2)
        spin(r % 50);
      else
        for (int k = 0; k < r % 64; ++k) (void)q->try_get();
      q->shutdown();
      try {
        for (;;) (void)q->get_nowait();
      } catch (const cq::ShutDown&) {
      } catch (const cq::Empty&) {
        ADD_FAILURE() << "get_nowait() on a shut-down queue threw Empty";
      }
      sync.arrive_and_wait();
    }
  });
  for (;; ++rounds) {
    last_round = rounds == kMaxRounds || Clock::now() > stop_at;
    q = std::make_unique<Q>();
    sync.arrive_and_wait();
    if (last_round) break;
    sync.arrive_and_wait();
    if (!q->empty() && violations++ == 0) first_violation = rounds;
  }
  EXPECT_EQ(violations, 0) << "in " << violations << " of " << rounds << " rounds (first: round "
                           << first_violation << "), a put() succeeded after a get() made after "
                           << "shutdown() had thrown ShutDown; the item was left queued";
}

}  // namespace
