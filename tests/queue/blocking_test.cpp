// Blocking behaviour of every queue kind: timed gets and puts report Empty/Full after about their
// timeout (never before); a blocked get wakes on a put, a blocked put wakes when a get makes room;
// one put wakes one getter (not all of them) and one get wakes one putter; a waiter that timed out
// neither keeps an item nor absorbs a later wake-up.
//
// A thread is "blocked" once it has announced that it is calling into the queue and
// give_time_to_misbehave() has passed without it returning; the assertions hold whether or not it
// had really gone to sleep by then (a late thread finds the item at once), so no test depends on
// the timing of the machine.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "concur/errors.hpp"
#include "concur/queue.hpp"
#include "queue_kinds.hpp"
#include "test_support.hpp"

namespace {

using dsec = std::chrono::duration<double>;

// Items handed out to threads, collected under a mutex.
struct Collected {
  std::mutex m;
  std::vector<int> items;
  void add(int v) {
    std::lock_guard g(m);
    items.push_back(v);
  }
  std::vector<int> sorted() {
    std::lock_guard g(m);
    auto v = items;
    std::sort(v.begin(), v.end());
    return v;
  }
};

// --- get side: every kind --------------------------------------------------------------------------

template <class Tag>
class BlockingGet : public ::testing::Test {};
TYPED_TEST_SUITE(BlockingGet, AllKinds, KindName);

TYPED_TEST(BlockingGet, TimedGetsReportEmptyAfterTheTimeout) {
  typename TypeParam::template queue<int> q;
  bool empty = false;
  expect_timed_out_after_50ms(time_of([&] {
    try {
      (void)q.get(50ms);
    } catch (const cq::Empty&) {
      empty = true;
    }
  }));
  EXPECT_TRUE(empty);
  empty = false;
  expect_timed_out_after_50ms(time_of([&] {
    try {
      (void)q.get(true, 50ms);
    } catch (const cq::Empty&) {
      empty = true;
    }
  }));
  EXPECT_TRUE(empty);
  std::optional<int> o{-1};
  expect_timed_out_after_50ms(time_of([&] { o = q.try_get(50ms); }));
  EXPECT_EQ(o, std::nullopt);
  empty = false;
  expect_timed_out_after(time_of([&] {
    try {
      (void)q.get(dsec(0.08));
    } catch (const cq::Empty&) {
      empty = true;
    }
  }),
                         80ms);
  EXPECT_TRUE(empty);
  EXPECT_TRUE(q.empty());
}

TYPED_TEST(BlockingGet, BlockedGetWakesOnPut) {
  typename TypeParam::template queue<int> q;
  std::atomic<bool> entered{false}, returned{false};
  int got = -1;
  std::jthread t([&] {
    entered = true;
    got = q.get(long_wait());
    returned = true;
  });
  ASSERT_TRUE(eventually([&] { return entered.load(); }));
  give_time_to_misbehave();
  EXPECT_FALSE(returned.load()) << "get returned from an empty queue";
  q.put(42);
  t.join();
  EXPECT_EQ(got, 42);
  EXPECT_TRUE(q.empty());
}

TYPED_TEST(BlockingGet, UntimedGetWakesOnPut) {
  typename TypeParam::template queue<int> q;
  std::atomic<bool> entered{false};
  std::optional<int> got, got2;
  std::jthread t([&] {
    entered = true;
    got = q.get();
    got2 = q.try_get(long_wait());
  });
  ASSERT_TRUE(eventually([&] { return entered.load(); }));
  give_time_to_misbehave();
  q.put(7);
  q.put(8);
  t.join();
  ASSERT_TRUE(got && got2);
  // Both puts may land before the getter wakes: then a LIFO queue hands out 8 first.
  EXPECT_EQ(std::min(*got, *got2), 7);
  EXPECT_EQ(std::max(*got, *got2), 8);
}

TYPED_TEST(BlockingGet, EachFormWakesOnPut) {
  // get(), get(true, t), get(t), try_get(t) blocked in four threads; four puts release them all.
  typename TypeParam::template queue<int> q;
  Collected got;
  std::atomic<int> entered{0};
  {
    std::vector<std::jthread> threads;
    threads.emplace_back([&] { entered++, got.add(q.get()); });
    threads.emplace_back([&] { entered++, got.add(q.get(true, long_wait())); });
    threads.emplace_back([&] { entered++, got.add(q.get(long_wait())); });
    threads.emplace_back([&] {
      entered++;
      got.add(q.try_get(long_wait()).value_or(-1));
    });
    ASSERT_TRUE(eventually([&] { return entered.load() == 4; }));
    give_time_to_misbehave();
    for (int i = 1; i <= 4; ++i) q.put(i);
  }
  EXPECT_EQ(got.sorted(), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_TRUE(q.empty());
}

TYPED_TEST(BlockingGet, OnePutWakesOneGetterNotAll) {
  typename TypeParam::template queue<int> q;
  Collected got;
  std::atomic<int> entered{0}, returned{0}, timed_out{0};
  {
    std::vector<std::jthread> getters;
    for (int i = 0; i < 3; ++i)
      getters.emplace_back([&] {
        entered++;
        if (auto v = q.try_get(long_wait()))
          got.add(*v);
        else
          timed_out++;
        returned++;
      });
    ASSERT_TRUE(eventually([&] { return entered.load() == 3; }));
    give_time_to_misbehave();
    EXPECT_EQ(returned.load(), 0);
    q.put(1);
    ASSERT_TRUE(eventually([&] { return returned.load() >= 1; }));
    give_time_to_misbehave();
    EXPECT_EQ(returned.load(), 1) << "one put released more than one getter";
    EXPECT_EQ(got.sorted(), (std::vector<int>{1}));
    q.put(2);
    ASSERT_TRUE(eventually([&] { return returned.load() >= 2; }));
    give_time_to_misbehave();
    EXPECT_EQ(returned.load(), 2);
    q.put(3);
  }
  EXPECT_EQ(returned.load(), 3);
  EXPECT_EQ(timed_out.load(), 0);
  EXPECT_EQ(got.sorted(), (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(q.empty());
}

TYPED_TEST(BlockingGet, TimedOutGetterKeepsNothingAndAbsorbsNoWakeUp) {
  typename TypeParam::template queue<int> q;
  // Timed out in another thread, then gone: the next put is for whoever asks next.
  std::jthread([&] { EXPECT_EQ(q.try_get(20ms), std::nullopt); }).join();
  EXPECT_THROW(q.get(5ms), cq::Empty);
  q.put(1);
  EXPECT_EQ(q.qsize(), 1u);
  EXPECT_EQ(q.get_nowait(), 1);
  // A getter blocked after the timed-out ones is the one a put wakes.
  std::atomic<bool> entered{false};
  int got = -1;
  std::jthread t([&] {
    entered = true;
    got = q.get(long_wait());
  });
  ASSERT_TRUE(eventually([&] { return entered.load(); }));
  give_time_to_misbehave();
  q.put(2);
  t.join();
  EXPECT_EQ(got, 2);
}

TYPED_TEST(BlockingGet, TimeoutIsNotCutShortByOtherTraffic) {
  // While one getter waits with a timeout, others put and take items: if it ends with Empty, it
  // has waited its whole timeout; if it got an item, that is fine too.
  typename TypeParam::template queue<int> q;
  const auto timeout = scaled(300ms);
  std::atomic<bool> done{false}, entered{false};
  bool empty = false;
  Clock::duration elapsed{};
  std::jthread waiter([&] {
    entered = true;
    elapsed = time_of([&] {
      try {
        (void)q.get(timeout);
      } catch (const cq::Empty&) {
        empty = true;
      }
    });
    done = true;
  });
  ASSERT_TRUE(eventually([&] { return entered.load(); }));
  while (!done.load()) {
    q.put(1);
    (void)q.try_get();  // may find it taken by the waiter
    std::this_thread::yield();
  }
  waiter.join();
  if (empty) {
    EXPECT_GE(elapsed, timeout - 5ms);
  }
  while (q.try_get()) {
  }
}

// --- put side: the kinds with a maxsize ------------------------------------------------------------

template <class Tag>
class BlockingPut : public ::testing::Test {};
TYPED_TEST_SUITE(BlockingPut, FullKinds, KindName);

TYPED_TEST(BlockingPut, TimedPutsReportFullAfterTheTimeout) {
  typename TypeParam::template queue<int> q(1);
  q.put(0);
  bool full = false;
  expect_timed_out_after_50ms(time_of([&] {
    try {
      q.put(1, 50ms);
    } catch (const cq::Full&) {
      full = true;
    }
  }));
  EXPECT_TRUE(full);
  full = false;
  expect_timed_out_after_50ms(time_of([&] {
    try {
      q.put(1, true, 50ms);
    } catch (const cq::Full&) {
      full = true;
    }
  }));
  EXPECT_TRUE(full);
  bool put = true;
  expect_timed_out_after_50ms(time_of([&] { put = q.try_put(1, 50ms); }));
  EXPECT_FALSE(put);
  full = false;
  expect_timed_out_after(time_of([&] {
    try {
      q.put(1, true, dsec(0.08));
    } catch (const cq::Full&) {
      full = true;
    }
  }),
                         80ms);
  EXPECT_TRUE(full);
  EXPECT_EQ(q.qsize(), 1u);
  EXPECT_EQ(q.get_nowait(), 0);
  EXPECT_TRUE(q.empty()) << "a put that timed out left its item behind";
}

TYPED_TEST(BlockingPut, BlockedPutWakesWhenAGetMakesRoom) {
  typename TypeParam::template queue<int> q(2);
  q.put(1);
  q.put(2);
  std::atomic<bool> entered{false}, returned{false};
  std::jthread t([&] {
    entered = true;
    q.put(3, long_wait());
    returned = true;
  });
  ASSERT_TRUE(eventually([&] { return entered.load(); }));
  give_time_to_misbehave();
  EXPECT_FALSE(returned.load()) << "put returned on a full queue";
  EXPECT_EQ(q.qsize(), 2u);
  std::vector<int> got{q.get()};
  t.join();
  EXPECT_TRUE(q.full());
  got.push_back(q.get_nowait());
  got.push_back(q.get_nowait());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3}));
}

TYPED_TEST(BlockingPut, EveryGetFormMakesRoom) {
  // The room a get makes is seen by a blocked putter whichever get form made it.
  typename TypeParam::template queue<int> q(1);
  q.put(0);
  int next = 1;
  auto round = [&](auto take) {
    std::atomic<bool> entered{false};
    const int v = next++;
    std::jthread t([&] {
      entered = true;
      q.put(v, long_wait());
    });
    ASSERT_TRUE(eventually([&] { return entered.load(); }));
    give_time_to_misbehave();
    take();
    t.join();  // the put succeeded (Full would fail the test: uncaught)
    EXPECT_TRUE(q.full());
  };
  round([&] { (void)q.get(); });
  round([&] { (void)q.get(false); });
  round([&] { (void)q.get_nowait(); });
  round([&] { (void)q.get(true, 10ms); });
  round([&] { (void)q.get(10ms); });
  round([&] { EXPECT_TRUE(q.try_get().has_value()); });
  round([&] { EXPECT_TRUE(q.try_get(10ms).has_value()); });
  EXPECT_EQ(q.qsize(), 1u);
  EXPECT_EQ(q.get_nowait(), next - 1);
}

TYPED_TEST(BlockingPut, EachPutFormWakesWhenRoomIsMade) {
  typename TypeParam::template queue<int> q(1);
  q.put(0);
  std::atomic<int> entered{0};
  std::atomic<int> succeeded{0};
  {
    std::vector<std::jthread> threads;
    threads.emplace_back([&] { entered++, q.put(1), succeeded++; });
    threads.emplace_back([&] { entered++, q.put(2, true, long_wait()), succeeded++; });
    threads.emplace_back([&] { entered++, q.put(3, long_wait()), succeeded++; });
    threads.emplace_back([&] {
      entered++;
      if (q.try_put(4, long_wait())) succeeded++;
    });
    ASSERT_TRUE(eventually([&] { return entered.load() == 4; }));
    give_time_to_misbehave();
    EXPECT_EQ(succeeded.load(), 0);
    std::vector<int> got;
    for (int i = 0; i < 5; ++i) got.push_back(q.get(long_wait()));
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4}));
  }
  EXPECT_EQ(succeeded.load(), 4);
  EXPECT_TRUE(q.empty());
}

TYPED_TEST(BlockingPut, OneGetWakesOnePutterNotAll) {
  typename TypeParam::template queue<int> q(1);
  q.put(0);
  std::atomic<int> entered{0}, returned{0}, timed_out{0};
  std::vector<int> got;
  {
    std::vector<std::jthread> putters;
    for (int i = 1; i <= 3; ++i)
      putters.emplace_back([&, i] {
        entered++;
        if (!q.try_put(i, long_wait())) timed_out++;
        returned++;
      });
    ASSERT_TRUE(eventually([&] { return entered.load() == 3; }));
    give_time_to_misbehave();
    EXPECT_EQ(returned.load(), 0);
    got.push_back(q.get());
    ASSERT_TRUE(eventually([&] { return returned.load() >= 1; }));
    give_time_to_misbehave();
    EXPECT_EQ(returned.load(), 1) << "one get released more than one putter";
    EXPECT_EQ(q.qsize(), 1u);
    EXPECT_TRUE(q.full());
    got.push_back(q.get());
    ASSERT_TRUE(eventually([&] { return returned.load() >= 2; }));
    give_time_to_misbehave();
    EXPECT_EQ(returned.load(), 2);
    got.push_back(q.get());
    got.push_back(q.get(long_wait()));
  }
  EXPECT_EQ(timed_out.load(), 0);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_TRUE(q.empty());
}

TYPED_TEST(BlockingPut, TimedOutPutterLeavesNoItemAndAbsorbsNoWakeUp) {
  typename TypeParam::template queue<int> q(1);
  q.put(0);
  std::jthread([&] { EXPECT_FALSE(q.try_put(100, 20ms)); }).join();
  EXPECT_THROW(q.put(101, 5ms), cq::Full);
  EXPECT_EQ(q.qsize(), 1u);
  // A putter blocked after the timed-out ones gets the room the next get makes.
  std::atomic<bool> entered{false}, returned{false};
  std::jthread t([&] {
    entered = true;
    q.put(1, long_wait());
    returned = true;
  });
  ASSERT_TRUE(eventually([&] { return entered.load(); }));
  give_time_to_misbehave();
  EXPECT_EQ(q.get(), 0);
  t.join();
  EXPECT_TRUE(returned.load());
  EXPECT_EQ(q.get_nowait(), 1);
  EXPECT_TRUE(q.empty()) << "a put that timed out left its item behind";
}

TYPED_TEST(BlockingPut, PingPongThroughACapacityOfOne) {
  // Strict alternation through Queue(1): the consumer sees every value, in order, once.
  typename TypeParam::template queue<int> q(1);
  constexpr int kItems = 2000;
  std::vector<int> got;
  got.reserve(kItems);
  {
    std::jthread consumer([&] {
      for (int i = 0; i < kItems; ++i) {
        auto v = q.try_get(long_wait());
        if (!v) return;
        got.push_back(*v);
      }
    });
    for (int i = 0; i < kItems; ++i) ASSERT_TRUE(q.try_put(i, long_wait()));
  }
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kItems));
  for (int i = 0; i < kItems; ++i) ASSERT_EQ(got[i], i);  // one at a time: order is FIFO for all
  EXPECT_TRUE(q.empty());
}

}  // namespace
