// Move-only items (std::unique_ptr<int>) through every form of every kind; a put that fails
// (Full, a timeout, ShutDown, try_put returning false) leaves the caller's object intact, since a
// queue moves from its argument only when the put succeeds; and the items a queue still holds
// are destroyed with it, exactly once (checked by a live count here, and by LeakSanitizer in an
// address-sanitized build).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "concur/errors.hpp"
#include "concur/queue.hpp"
#include "queue_kinds.hpp"
#include "test_support.hpp"

namespace {

using Ptr = std::unique_ptr<int>;
using dsec = std::chrono::duration<double>;

Ptr make(int v) { return std::make_unique<int>(v); }

template <class Tag>
class MoveOnly : public ::testing::Test {};
TYPED_TEST_SUITE(MoveOnly, FullKinds, KindName);

TYPED_TEST(MoveOnly, EveryFormMovesItemsInAndOut) {
  typename TypeParam::template queue<Ptr> q(7);
  Ptr a = make(1), b = make(2), c = make(3), d = make(4), e = make(5), f = make(6), g = make(7);
  q.put(std::move(a));
  q.put(std::move(b), false);
  q.put_nowait(std::move(c));
  q.put(std::move(d), true, 50ms);
  q.put(std::move(e), 50ms);
  EXPECT_TRUE(q.try_put(std::move(f)));
  EXPECT_TRUE(q.try_put(std::move(g), 50ms));
  // A successful put took the object.
  EXPECT_EQ(a, nullptr);
  EXPECT_EQ(g, nullptr);
  EXPECT_TRUE(q.full());
  std::vector<int> got;
  Ptr p1 = q.get();
  got.push_back(*p1);
  got.push_back(*q.get(false));
  got.push_back(*q.get_nowait());
  got.push_back(*q.get(true, 50ms));
  got.push_back(*q.get(50ms));
  std::optional<Ptr> o = q.try_get();
  ASSERT_TRUE(o.has_value());
  got.push_back(**o);
  o = q.try_get(50ms);
  ASSERT_TRUE(o.has_value() && *o);
  got.push_back(**o);
  EXPECT_EQ(got, expected_order(TypeParam::order, {1, 2, 3, 4, 5, 6, 7}));
  EXPECT_TRUE(q.empty());
  // Temporaries.
  q.put(make(8));
  q.put_nowait(make(9));
  EXPECT_TRUE(q.try_put(make(10)));
  EXPECT_EQ(q.qsize(), 3u);
}

TYPED_TEST(MoveOnly, FailedPutLeavesTheObjectIntact) {
  typename TypeParam::template queue<Ptr> q(1);
  q.put(make(0));
  Ptr p = make(42);
  int* const raw = p.get();
  auto intact = [&] { return p.get() == raw && *p == 42; };
  EXPECT_THROW(q.put(std::move(p), false), cq::Full);
  EXPECT_TRUE(intact()) << "put(x, false) moved from its argument and failed";
  EXPECT_THROW(q.put_nowait(std::move(p)), cq::Full);
  EXPECT_TRUE(intact()) << "put_nowait moved from its argument and failed";
  EXPECT_THROW(q.put(std::move(p), true, 10ms), cq::Full);
  EXPECT_TRUE(intact()) << "put(x, true, t) moved from its argument and failed";
  EXPECT_THROW(q.put(std::move(p), 10ms), cq::Full);
  EXPECT_TRUE(intact()) << "put(x, t) moved from its argument and failed";
  EXPECT_THROW(q.put(std::move(p), dsec(0.01)), cq::Full);
  EXPECT_TRUE(intact());
  EXPECT_THROW(q.put(std::move(p), -1s), cq::Full);
  EXPECT_TRUE(intact());
  EXPECT_FALSE(q.try_put(std::move(p)));
  EXPECT_TRUE(intact()) << "try_put moved from its argument and returned false";
  EXPECT_FALSE(q.try_put(std::move(p), 10ms));
  EXPECT_TRUE(intact()) << "try_put(x, t) moved from its argument and returned false";
  EXPECT_EQ(q.qsize(), 1u);
  // A put that waited, then succeeded, took it.
  std::atomic<bool> entered{false};
  std::jthread t([&] {
    entered = true;
    q.put(std::move(p), long_wait());
  });
  ASSERT_TRUE(eventually([&] { return entered.load(); }));
  give_time_to_misbehave();
  EXPECT_EQ(*q.get(), 0);
  t.join();
  EXPECT_EQ(p, nullptr);
  Ptr back = q.get_nowait();
  EXPECT_EQ(back.get(), raw) << "the item travelled by move: same object";
}

TYPED_TEST(MoveOnly, PutAfterShutdownLeavesTheObjectIntact) {
  typename TypeParam::template queue<Ptr> q;
  q.shutdown();
  Ptr p = make(7);
  EXPECT_THROW(q.put(std::move(p)), cq::ShutDown);
  ASSERT_NE(p, nullptr);
  EXPECT_THROW(q.put(std::move(p), false), cq::ShutDown);
  ASSERT_NE(p, nullptr);
  EXPECT_THROW(q.put_nowait(std::move(p)), cq::ShutDown);
  ASSERT_NE(p, nullptr);
  EXPECT_THROW(q.put(std::move(p), 10ms), cq::ShutDown);
  ASSERT_NE(p, nullptr);
  EXPECT_THROW(q.put(std::move(p), true, 10ms), cq::ShutDown);
  ASSERT_NE(p, nullptr);
  EXPECT_FALSE(q.try_put(std::move(p)));
  ASSERT_NE(p, nullptr);
  EXPECT_FALSE(q.try_put(std::move(p), 10ms));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 7);
}

TYPED_TEST(MoveOnly, BlockedPutWokenByShutdownLeavesTheObjectIntact) {
  typename TypeParam::template queue<Ptr> q(1);
  q.put(make(0));
  Ptr p = make(5), r = make(6);
  bool shut_down = false, not_put = false;
  std::atomic<int> entered{0};
  {
    std::jthread t([&] {
      entered++;
      try {
        q.put(std::move(p), long_wait());
      } catch (const cq::ShutDown&) {
        shut_down = true;
      }
    });
    std::jthread u([&] {
      entered++;
      not_put = !q.try_put(std::move(r), long_wait());
    });
    ASSERT_TRUE(eventually([&] { return entered.load() == 2; }));
    give_time_to_misbehave();
    q.shutdown();
  }
  EXPECT_TRUE(shut_down);
  EXPECT_TRUE(not_put);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 5);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(*r, 6);
}

TEST(MoveOnlySimpleQueue, EveryForm) {
  cq::SimpleQueue<Ptr> q;
  Ptr a = make(1);
  q.put(std::move(a));
  EXPECT_EQ(a, nullptr);
  q.put(make(2), false);
  q.put(make(3), true, 50ms);
  q.put_nowait(make(4));
  for (int i = 5; i <= 10; ++i) q.put(make(i));
  std::vector<int> got;
  got.push_back(*q.get());
  got.push_back(*q.get(false));
  got.push_back(*q.get(true, 50ms));
  got.push_back(*q.get(50ms));
  got.push_back(*q.get_nowait());
  got.push_back(**q.try_get());
  got.push_back(**q.try_get(50ms));
  got.push_back(*q.get(dsec(0.05)));
  while (auto p = q.try_get()) got.push_back(**p);
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(q.try_get(), std::nullopt);
}

TEST(MoveOnlyPriorityQueue, ComparatorOnThePointee) {
  cq::PriorityQueue<Ptr, PointeeLess> q;
  for (int v : {5, 3, 9, 1, 7}) q.put(make(v));
  std::vector<int> got;
  while (auto p = q.try_get()) got.push_back(**p);
  EXPECT_EQ(got, (std::vector<int>{1, 3, 5, 7, 9}));
}

TEST(MoveOnlyItems, StringsMoveWithoutCopies) {
  cq::Queue<std::string> q;
  std::string big(1000, 'x');
  const char* data = big.data();
  q.put(std::move(big));
  std::string out = q.get();
  EXPECT_EQ(out.size(), 1000u);
  EXPECT_EQ(out.data(), data) << "a moved string was copied on the way";
}

// --- lifetime ----------------------------------------------------------------------------------

template <class Tag>
class ItemLifetime : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(Counted::live.load(), 0); }
  void TearDown() override { EXPECT_EQ(Counted::live.load(), 0) << "items leaked or freed twice"; }
};
TYPED_TEST_SUITE(ItemLifetime, AllKinds, KindName);

TYPED_TEST(ItemLifetime, DestructorFreesItemsLeftInside) {
  {
    typename TypeParam::template queue<Ptr> q;
    for (int i = 0; i < 100; ++i) q.put(make(i));
    (void)q.get();
  }  // 99 unique_ptrs freed here (LeakSanitizer reports them otherwise)
  {
    typename TypeParam::template queue<Counted> q;
    for (int i = 0; i < 100; ++i) q.put(Counted(i));
    EXPECT_EQ(Counted::live.load(), 100);
    {
      Counted c = q.get();
      EXPECT_EQ(Counted::live.load(), 100);
    }
    EXPECT_EQ(Counted::live.load(), 99);
    while (q.qsize() > 10) (void)q.get_nowait();
    EXPECT_EQ(Counted::live.load(), 10) << "a queue keeps copies of items already taken";
  }
  EXPECT_EQ(Counted::live.load(), 0);
  { typename TypeParam::template queue<Counted> empty; }
  EXPECT_EQ(Counted::live.load(), 0);
}

TYPED_TEST(ItemLifetime, ManyItemsThroughAndLeftInside) {
  // Enough items to go through any internal blocks or segments several times.
  typename TypeParam::template queue<Counted> q;
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 3000; ++i) q.put(Counted(i));
    for (int i = 0; i < 2500; ++i) (void)q.get_nowait();
  }
  EXPECT_EQ(q.qsize(), 2500u);
  EXPECT_EQ(Counted::live.load(), 2500);
}

TYPED_TEST(ItemLifetime, FailedGetsCreateNoItems) {
  typename TypeParam::template queue<Counted> q;
  EXPECT_EQ(q.try_get(), std::nullopt);
  EXPECT_THROW((void)q.get_nowait(), cq::Empty);
  EXPECT_EQ(q.try_get(1ms), std::nullopt);
  EXPECT_EQ(Counted::live.load(), 0);
}

template <class Tag>
class BoundedItemLifetime : public ItemLifetime<Tag> {};
TYPED_TEST_SUITE(BoundedItemLifetime, FullKinds, KindName);

TYPED_TEST(BoundedItemLifetime, RejectedPutsStoreNothing) {
  typename TypeParam::template queue<Counted> q(2);
  q.put(Counted(1));
  q.put(Counted(2));
  Counted c(3);
  EXPECT_EQ(Counted::live.load(), 3);
  EXPECT_FALSE(q.try_put(c));
  EXPECT_THROW(q.put_nowait(c), cq::Full);
  EXPECT_THROW(q.put(c, 1ms), cq::Full);
  EXPECT_FALSE(q.try_put(std::move(c), 1ms));
  EXPECT_EQ(Counted::live.load(), 3);
  EXPECT_EQ(q.qsize(), 2u);
}

TYPED_TEST(BoundedItemLifetime, ImmediateShutdownDestroysTheDiscardedItems) {
  {
    typename TypeParam::template queue<Counted> q;
    for (int i = 0; i < 50; ++i) q.put(Counted(i));
    q.shutdown(true);
    EXPECT_EQ(q.qsize(), 0u);
    // Discarded: destroyed by now or with the queue at the latest (checked in TearDown).
  }
  {
    typename TypeParam::template queue<Ptr> q;
    for (int i = 0; i < 50; ++i) q.put(make(i));
    q.shutdown(true);
  }
  {
    typename TypeParam::template queue<Counted> q;
    for (int i = 0; i < 50; ++i) q.put(Counted(i));
    q.shutdown();  // not immediate: the items stay, until taken or the queue is destroyed
    EXPECT_EQ(q.qsize(), 50u);
    EXPECT_EQ(Counted::live.load(), 50);
    (void)q.get();
  }
}

}  // namespace
