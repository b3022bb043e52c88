// Queues over items whose copy, move or comparison throws, at every step (issue 16, defect 4):
// a put that throws leaves the queue as it was, a get that throws leaves the item queued, and
// the items come out complete, in order, exactly once (a PriorityQueue's heap stays a heap).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstddef>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "concur/queue.hpp"
#include "test_support.hpp"

namespace cq = concur::queue;
using namespace std::chrono_literals;
using concur_test::long_wait;

namespace {

// The k-th copy, move or comparison of an item on this thread from now throws (0: none).
thread_local long t_countdown = 0;
thread_local bool t_thrown = false;
struct Boom : std::runtime_error {
  Boom() : std::runtime_error("boom") {}
};
void tick() {
  if (t_countdown == 0 || --t_countdown != 0) return;
  t_thrown = true;
  throw Boom();
}

// Throws before it changes anything, so that a source or target of a failed copy or move keeps
// its value (what a well-behaved type's strong guarantee gives).
struct Item {
  int v;
  explicit Item(int x) : v(x) {}
  Item(const Item& o) : v(o.v) { tick(); }
  Item(Item&& o) : v(o.v) { tick(); }  // may throw: the queues keep such items under a lock
  Item& operator=(const Item& o) {
    tick();
    v = o.v;
    return *this;
  }
  Item& operator=(Item&& o) {
    tick();
    v = o.v;
    return *this;
  }
  friend bool operator<(const Item& a, const Item& b) {
    tick();
    return a.v < b.v;
  }
};

// Moves cannot throw, copies can: the lock-free cores.
struct CopyThrows {
  int v;
  explicit CopyThrows(int x) : v(x) {}
  CopyThrows(const CopyThrows& o) : v(o.v) { tick(); }
  CopyThrows(CopyThrows&&) noexcept = default;
  CopyThrows& operator=(const CopyThrows& o) {
    tick();
    v = o.v;
    return *this;
  }
  CopyThrows& operator=(CopyThrows&&) noexcept = default;
  friend bool operator<(const CopyThrows& a, const CopyThrows& b) { return a.v < b.v; }
};

// Runs call() with the k-th item operation failing, k = 1, 2, ... until a run reaches no k-th
// operation. check(threw) after each run, with failures off.
template <class Call, class Check>
long at_every_step(Call call, Check check) {
  for (long k = 1; k < 10000; ++k) {
    t_thrown = false;
    t_countdown = k;
    bool threw = false;
    try {
      call();
    } catch (const Boom&) {
      threw = true;
    }
    t_countdown = 0;
    EXPECT_EQ(threw, t_thrown) << "k=" << k << ": only the injected failure may throw";
    check(k, threw);
    if (!t_thrown) return k;
  }
  ADD_FAILURE() << "never completed";
  return -1;
}

enum class Order { Fifo, Lifo, Smallest };

// Puts n items (through every put form in turn) and gets them all back (through every get form),
// each call tried at every step; then checks that each item came out once, in the queue's order.
template <class Q, class T>
void exercise(Q& q, Order order, int n = 40) {
  long put_steps = 0, get_steps = 0;  // failures injected
  std::vector<int> put;
  for (int i = 0; i < n; ++i) {
    const int v = order == Order::Smallest ? (i * 17) % n : i;  // scrambled for the heap
    const std::size_t before = q.qsize();
    const int form = i % 4;
    put_steps += at_every_step(
        [&] {
          T x(v);
          switch (form) {
            case 0: q.put(std::move(x)); break;
            case 1: q.put(x); break;
            case 2: q.put_nowait(std::move(x)); break;
            default: EXPECT_TRUE(q.try_put(x)); break;
          }
        },
        [&](long k, bool threw) {
          EXPECT_EQ(q.qsize(), threw ? before : before + 1) << "put " << v << " k=" << k;
        }) - 1;
    put.push_back(v);
  }
  std::vector<int> got;
  for (int i = 0; i < n; ++i) {
    const std::size_t before = q.qsize();
    std::optional<int> value;
    const int form = i % 4;
    get_steps += at_every_step(
        [&] {
          switch (form) {
            case 0: value = q.get().v; break;
            case 1: value = q.get_nowait().v; break;
            case 2: {
              std::optional<T> x = q.try_get();
              ASSERT_TRUE(x.has_value());
              value = x->v;
              break;
            }
            default: value = q.get(1s).v; break;
          }
        },
        [&](long k, bool threw) {
          EXPECT_EQ(q.qsize(), threw ? before : before - 1) << "get " << i << " k=" << k;
          if (threw) value.reset();
        }) - 1;
    ASSERT_TRUE(value.has_value());
    got.push_back(*value);
  }
  std::printf("[ fault    ] %d puts: %ld throwing steps, %d gets: %ld throwing steps\n", n,
              put_steps, n, get_steps);
  std::vector<int> want = put;
  if (order == Order::Lifo) std::reverse(want.begin(), want.end());
  if (order == Order::Smallest) std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  EXPECT_EQ(q.qsize(), 0u);
}

TEST(ThrowingItems, Queue) {
  cq::Queue<Item> q;
  exercise<decltype(q), Item>(q, Order::Fifo);
}
TEST(ThrowingItems, BoundedQueue) {
  cq::Queue<Item> q(64);
  exercise<decltype(q), Item>(q, Order::Fifo);
}
TEST(ThrowingItems, LifoQueue) {
  cq::LifoQueue<Item> q;
  exercise<decltype(q), Item>(q, Order::Lifo);
}
TEST(ThrowingItems, PriorityQueue) {
  cq::PriorityQueue<Item> q;
  exercise<decltype(q), Item>(q, Order::Smallest);
}
TEST(ThrowingItems, SimpleQueue) {
  cq::SimpleQueue<Item> q;
  exercise<decltype(q), Item>(q, Order::Fifo);
}
TEST(ThrowingItems, PollableQueue) {
  cq::PollableQueue<Item> q;
  exercise<decltype(q), Item>(q, Order::Fifo);
}
TEST(ThrowingCopies, LockFreeQueues) {
  cq::Queue<CopyThrows> a;
  exercise<decltype(a), CopyThrows>(a, Order::Fifo);
  cq::Queue<CopyThrows> b(8);
  exercise<decltype(b), CopyThrows>(b, Order::Fifo, 8);
  cq::SimpleQueue<CopyThrows> c;
  exercise<decltype(c), CopyThrows>(c, Order::Fifo);
  cq::LifoQueue<CopyThrows> d;
  exercise<decltype(d), CopyThrows>(d, Order::Lifo);
  cq::PriorityQueue<CopyThrows> e;
  exercise<decltype(e), CopyThrows>(e, Order::Smallest);
}

// A Compare that throws: a heap whose put or get failed is still a heap.
struct ThrowingLess {
  bool operator()(int a, int b) const {
    tick();
    return a < b;
  }
};
struct IntItem {
  int v;
  IntItem(int x) : v(x) {}
};
struct ThrowingItemLess {
  bool operator()(const IntItem& a, const IntItem& b) const {
    tick();
    return a.v < b.v;
  }
};
TEST(ThrowingItems, PriorityQueueThrowingCompare) {
  cq::PriorityQueue<IntItem, ThrowingItemLess> q;
  exercise<decltype(q), IntItem>(q, Order::Smallest, 64);
}

// The get path of such items (wait without taking, then copy under the lock and remove) with
// producers and consumers racing, on a bounded queue so that puts wait too: every item comes
// out exactly once (conservation), and ThreadSanitizer sees the hand-offs.
template <class Q>
void conserve_under_contention(Q& q) {
  constexpr int kPerProducer = 2000;
  constexpr int kProducers = 2;
  std::vector<std::vector<int>> got(2);
  concur_test::run_together(kProducers + 2, [&](int id) {
    if (id < kProducers) {
      for (int i = 0; i < kPerProducer; ++i) q.put(Item(id * kPerProducer + i), long_wait());
    } else {
      for (int i = 0; i < kPerProducer; ++i) {
        if (i % 2) {
          got[id - kProducers].push_back(q.get(concur_test::long_wait()).v);
        } else {
          std::optional<Item> x = q.try_get(concur_test::long_wait());
          ASSERT_TRUE(x.has_value());
          got[id - kProducers].push_back(x->v);
        }
      }
    }
  });
  std::vector<int> all = got[0];
  all.insert(all.end(), got[1].begin(), got[1].end());
  std::sort(all.begin(), all.end());
  std::vector<int> want(kProducers * kPerProducer);
  for (int i = 0; i < kProducers * kPerProducer; ++i) want[i] = i;
  EXPECT_EQ(all, want);
}
TEST(ThrowingItems, ConservationUnderContention) {
  cq::Queue<Item> a(4);
  conserve_under_contention(a);
  cq::PriorityQueue<Item> b(4);
  conserve_under_contention(b);
  cq::LifoQueue<Item> c(4);
  conserve_under_contention(c);
}

// shutdown(true) discards items whose move throws without moving them.
TEST(ThrowingItems, ShutdownDiscardsWithoutMoving) {
  cq::Queue<Item> q;
  for (int i = 0; i < 5; ++i) q.put(Item(i));
  t_countdown = 1;  // any move or copy would throw
  q.shutdown(true);
  t_countdown = 0;
  EXPECT_EQ(q.qsize(), 0u);
  EXPECT_THROW(q.get_nowait(), cq::ShutDown);
}

}  // namespace
