// Every call form written in API.md §3, exactly as written there, compiled and run on every kind
// of queue, plus the §1 timeout rules (any duration, zero or negative: do not wait) and the order
// each kind hands items back in. Blocking, shutdown, task_done/join, move-only items, polling and
// stress live in the other *_test.cpp files of this folder.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
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

using dsec = std::chrono::duration<double>;

// A call that must not wait: generous, since this is no speed assertion, but far below the
// long_wait() the call was given (or would block forever with).
void expect_did_not_wait(Clock::duration elapsed) { EXPECT_LT(elapsed, long_wait() / 4); }

// --- errors -----------------------------------------------------------------------------------

static_assert(std::is_base_of_v<concur::Error, cq::Empty>);
static_assert(std::is_base_of_v<concur::Error, cq::Full>);
static_assert(std::is_base_of_v<concur::Error, cq::ShutDown>);
static_assert(std::is_base_of_v<std::runtime_error, cq::Empty>);

TEST(QueueErrors, DeriveFromConcurErrorWithAMessage) {
  cq::Queue<int> q(1);
  q.put(1);
  try {
    q.put_nowait(2);
    ADD_FAILURE() << "put_nowait on a full queue did not throw";
  } catch (const concur::Error& e) {
    EXPECT_NE(dynamic_cast<const cq::Full*>(&e), nullptr);
    EXPECT_NE(std::string(e.what()), "");
  }
  EXPECT_EQ(q.get(), 1);
  try {
    q.get_nowait();
    ADD_FAILURE() << "get_nowait on an empty queue did not throw";
  } catch (const concur::Error& e) {
    EXPECT_NE(dynamic_cast<const cq::Empty*>(&e), nullptr);
    EXPECT_NE(std::string(e.what()), "");
  }
  q.shutdown();
  try {
    q.put(3);
    ADD_FAILURE() << "put after shutdown did not throw";
  } catch (const concur::Error& e) {
    EXPECT_NE(dynamic_cast<const cq::ShutDown*>(&e), nullptr);
    EXPECT_NE(std::string(e.what()), "");
  }
  cq::Queue<int> r;
  r.put(1);
  r.task_done();
  try {
    r.task_done();
    ADD_FAILURE() << "task_done once too often did not throw";
  } catch (const concur::ValueError& e) {
    EXPECT_NE(std::string(e.what()), "");
  }
  // The three are different errors: one is not caught as another.
  cq::SimpleQueue<int> s;
  EXPECT_THROW(
      {
        try {
          s.get_nowait();
        } catch (const cq::Full&) {
          ADD_FAILURE() << "Empty caught as Full";
        } catch (const cq::ShutDown&) {
          ADD_FAILURE() << "Empty caught as ShutDown";
        }
      },
      cq::Empty);
}

// --- the forms, for the kinds with the whole Queue interface --------------------------------------

template <class Tag>
class QueueForms : public ::testing::Test {};
TYPED_TEST_SUITE(QueueForms, FullKinds, KindName);

TYPED_TEST(QueueForms, ReturnTypes) {
  using Q = typename TypeParam::template queue<int>;
  Q q;
  static_assert(std::is_same_v<decltype(q.get()), int>);
  static_assert(std::is_same_v<decltype(q.get(false)), int>);
  static_assert(std::is_same_v<decltype(q.get_nowait()), int>);
  static_assert(std::is_same_v<decltype(q.get(true, 50ms)), int>);
  static_assert(std::is_same_v<decltype(q.get(50ms)), int>);
  static_assert(std::is_same_v<decltype(q.try_get()), std::optional<int>>);
  static_assert(std::is_same_v<decltype(q.try_get(50ms)), std::optional<int>>);
  static_assert(std::is_same_v<decltype(q.try_put(1)), bool>);
  static_assert(std::is_same_v<decltype(q.try_put(1, 50ms)), bool>);
  static_assert(std::is_same_v<decltype(q.maxsize()), long>);
  static_assert(std::is_same_v<decltype(q.qsize()), std::size_t>);
  static_assert(std::is_same_v<decltype(q.empty()), bool>);
  static_assert(std::is_same_v<decltype(q.full()), bool>);
  // const observers
  const Q& cq = q;
  EXPECT_EQ(cq.qsize(), 0u);
  EXPECT_TRUE(cq.empty());
  EXPECT_FALSE(cq.full());
  EXPECT_EQ(cq.maxsize(), 0);
}

TYPED_TEST(QueueForms, MaxsizeZeroOrNegativeIsUnbounded) {
  using Q = typename TypeParam::template queue<int>;
  for (long maxsize : {0L, -1L, -100L}) {
    Q q(maxsize);
    EXPECT_EQ(q.maxsize(), maxsize);  // kept as given, as in Python
    for (int i = 0; i < 1000; ++i) q.put_nowait(i);
    EXPECT_EQ(q.qsize(), 1000u);
    EXPECT_FALSE(q.full());
    EXPECT_FALSE(q.empty());
    EXPECT_TRUE(q.try_put(1000));
    q.put(1001, false);
    q.put(1002, 0ms);
    EXPECT_EQ(q.qsize(), 1003u);
  }
  Q def;
  EXPECT_EQ(def.maxsize(), 0);
}

TYPED_TEST(QueueForms, SizesOfABoundedQueue) {
  using Q = typename TypeParam::template queue<int>;
  Q q(2);
  EXPECT_EQ(q.maxsize(), 2);
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.full());
  EXPECT_EQ(q.qsize(), 0u);
  q.put(1);
  EXPECT_FALSE(q.empty());
  EXPECT_FALSE(q.full());
  EXPECT_EQ(q.qsize(), 1u);
  q.put(2);
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.qsize(), 2u);
  EXPECT_THROW(q.put_nowait(3), cq::Full);
  EXPECT_EQ(q.qsize(), 2u) << "a rejected put must not add its item";
  (void)q.get();
  EXPECT_FALSE(q.full());
  EXPECT_EQ(q.qsize(), 1u);
  (void)q.get();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.qsize(), 0u);
  Q one(1);
  one.put(7);
  EXPECT_TRUE(one.full());
}

TYPED_TEST(QueueForms, PutForms) {
  using Q = typename TypeParam::template queue<int>;
  Q q(7);
  q.put(1);
  q.put(2, false);
  q.put_nowait(3);
  q.put(4, true, 50ms);
  q.put(5, 50ms);
  EXPECT_TRUE(q.try_put(6));
  EXPECT_TRUE(q.try_put(7, 50ms));
  EXPECT_TRUE(q.full());
  EXPECT_THROW(q.put(8, false), cq::Full);
  EXPECT_THROW(q.put_nowait(8), cq::Full);
  EXPECT_THROW(q.put(8, true, 10ms), cq::Full);
  EXPECT_THROW(q.put(8, 10ms), cq::Full);
  EXPECT_FALSE(q.try_put(8));
  EXPECT_FALSE(q.try_put(8, 10ms));
  EXPECT_EQ(q.qsize(), 7u) << "no rejected put may add its item";
  std::vector<int> got;
  while (!q.empty()) got.push_back(q.get_nowait());
  EXPECT_EQ(got, expected_order(TypeParam::order, {1, 2, 3, 4, 5, 6, 7}));
}

TYPED_TEST(QueueForms, PutLvaluesCopies) {
  using Q = typename TypeParam::template queue<std::string>;
  Q q;
  std::string a = "alpha", b = "beta", c = "gamma", d = "delta", e = "eps", f = "phi", g = "chi";
  const std::string k = "kappa";
  q.put(a);
  q.put(b, false);
  q.put_nowait(c);
  q.put(d, true, 50ms);
  q.put(e, 50ms);
  EXPECT_TRUE(q.try_put(f));
  EXPECT_TRUE(q.try_put(g, 50ms));
  q.put(k);
  // An lvalue is copied: every source is intact.
  EXPECT_EQ(a + b + c + d + e + f + g + k, "alphabetagammadeltaepsphichikappa");
  EXPECT_EQ(q.qsize(), 8u);
  std::multiset<std::string> got;
  while (auto s = q.try_get()) got.insert(*s);
  EXPECT_EQ(got, (std::multiset<std::string>{a, b, c, d, e, f, g, k}));
  // Rvalues and temporaries.
  q.put(std::string("tmp"));
  q.put(std::move(a));
  EXPECT_EQ(q.qsize(), 2u);
}

TYPED_TEST(QueueForms, GetForms) {
  using Q = typename TypeParam::template queue<int>;
  Q q;
  const std::vector<int> in = {10, 40, 20, 70, 30, 60, 50};
  for (int v : in) q.put(v);
  std::vector<int> got;
  int v1 = q.get();
  got.push_back(v1);
  got.push_back(q.get(false));
  got.push_back(q.get_nowait());
  got.push_back(q.get(true, 50ms));
  got.push_back(q.get(50ms));
  std::optional<int> o = q.try_get();
  ASSERT_TRUE(o.has_value());
  got.push_back(*o);
  o = q.try_get(50ms);
  ASSERT_TRUE(o.has_value());
  got.push_back(*o);
  EXPECT_EQ(got, expected_order(TypeParam::order, in));
  EXPECT_TRUE(q.empty());
  // Empty: every form reports it, the non-throwing ones without throwing.
  EXPECT_THROW(q.get(false), cq::Empty);
  EXPECT_THROW(q.get_nowait(), cq::Empty);
  EXPECT_THROW(q.get(true, 10ms), cq::Empty);
  EXPECT_THROW(q.get(10ms), cq::Empty);
  EXPECT_EQ(q.try_get(), std::nullopt);
  EXPECT_EQ(q.try_get(10ms), std::nullopt);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.qsize(), 0u);
}

TYPED_TEST(QueueForms, DoubleDurationTimeouts) {
  using Q = typename TypeParam::template queue<int>;
  Q q(2);
  q.put(1, dsec(0.05));
  q.put(2, true, dsec(0.05));
  EXPECT_FALSE(q.try_put(3, dsec(0.01)));
  bool threw = false;
  expect_timed_out_after_50ms(time_of([&] {
    try {
      q.put(3, dsec(0.05));
    } catch (const cq::Full&) {
      threw = true;
    }
  }));
  EXPECT_TRUE(threw);
  std::vector<int> got;
  got.push_back(q.get(dsec(0.05)));
  got.push_back(q.get(true, dsec(0.05)));
  EXPECT_EQ(got, expected_order(TypeParam::order, {1, 2}));
  EXPECT_EQ(q.try_get(dsec(0.01)), std::nullopt);
  threw = false;
  expect_timed_out_after_50ms(time_of([&] {
    try {
      (void)q.get(true, dsec(0.05));
    } catch (const cq::Empty&) {
      threw = true;
    }
  }));
  EXPECT_TRUE(threw);
  // Other integral units.
  q.put(4, std::chrono::microseconds(50'000));
  EXPECT_EQ(q.get(std::chrono::seconds(1)), 4);
  EXPECT_THROW(q.get(std::chrono::nanoseconds(1000)), cq::Empty);
}

TYPED_TEST(QueueForms, ZeroAndNegativeTimeoutsDoNotWait) {
  using Q = typename TypeParam::template queue<int>;
  Q q(1);
  // Possible at once: they succeed.
  q.put(1, 0ms);
  EXPECT_EQ(q.get(0ms), 1);
  q.put(2, -1s);
  EXPECT_EQ(q.get(-1s), 2);
  q.put(3, true, dsec(-0.5));
  EXPECT_EQ(q.get(true, dsec(-0.5)), 3);
  EXPECT_TRUE(q.try_put(4, 0ms));
  EXPECT_EQ(q.try_get(0ms), 4);
  EXPECT_TRUE(q.try_put(5, std::chrono::hours::min()));
  EXPECT_EQ(q.try_get(std::chrono::hours::min()), 5);
  // Not possible at once: reported at once, never an error other than Full/Empty, never a wait.
  expect_did_not_wait(time_of([&] {
    EXPECT_THROW(q.get(0ms), cq::Empty);
    EXPECT_THROW(q.get(-1s), cq::Empty);
    EXPECT_THROW(q.get(true, dsec(-0.25)), cq::Empty);
    EXPECT_THROW(q.get(std::chrono::hours::min()), cq::Empty);
    EXPECT_EQ(q.try_get(0ms), std::nullopt);
    EXPECT_EQ(q.try_get(-5s), std::nullopt);
    q.put(6);
    EXPECT_THROW(q.put(7, 0ms), cq::Full);
    EXPECT_THROW(q.put(7, -1s), cq::Full);
    EXPECT_THROW(q.put(7, true, dsec(-0.25)), cq::Full);
    EXPECT_THROW(q.put(7, std::chrono::nanoseconds::min()), cq::Full);
    EXPECT_FALSE(q.try_put(7, 0ms));
    EXPECT_FALSE(q.try_put(7, -5s));
  }));
  EXPECT_EQ(q.qsize(), 1u);
  EXPECT_EQ(q.get_nowait(), 6);
}

TYPED_TEST(QueueForms, NonBlockingFormsIgnoreTheTimeout) {
  // Python: put(item, block=False, timeout=...) and get(block=False, timeout=...) ignore the
  // timeout (no error, no wait).
  using Q = typename TypeParam::template queue<int>;
  Q q(1);
  q.put(1, false, long_wait());
  expect_did_not_wait(time_of([&] { EXPECT_THROW(q.put(2, false, long_wait()), cq::Full); }));
  EXPECT_EQ(q.get(false, long_wait()), 1);
  expect_did_not_wait(time_of([&] { EXPECT_THROW(q.get(false, long_wait()), cq::Empty); }));
  EXPECT_TRUE(q.empty());
}

TYPED_TEST(QueueForms, HugeTimeoutsMeanForever) {
  using Q = typename TypeParam::template queue<int>;
  Q q;
  q.put(1, std::chrono::hours::max());
  q.put(2, true, dsec(1e300));
  q.put(3, std::chrono::nanoseconds::max());
  EXPECT_TRUE(q.try_put(4, std::chrono::hours::max()));
  std::vector<int> got;
  got.push_back(q.get(std::chrono::hours::max()));
  got.push_back(q.get(true, dsec(1e300)));
  got.push_back(q.get(std::chrono::nanoseconds::max()));
  got.push_back(q.try_get(std::chrono::hours::max()).value());
  EXPECT_EQ(got, expected_order(TypeParam::order, {1, 2, 3, 4}));
  // A waiter with a huge timeout really waits (it did not overflow into "expired").
  std::atomic<int> result{-1};
  std::atomic<bool> empty_thrown{false};
  std::jthread t([&] {
    try {
      result = q.get(std::chrono::hours::max());
    } catch (const cq::Empty&) {
      empty_thrown = true;
    }
  });
  give_time_to_misbehave();
  EXPECT_FALSE(empty_thrown.load()) << "a huge timeout expired at once";
  q.put(5);
  t.join();
  EXPECT_EQ(result.load(), 5);
}

TYPED_TEST(QueueForms, OrderMatchesTheModel) {
  // A long random single-threaded run of put/get forms against the reference model: the kind's
  // order, and qsize/empty/full after every step.
  using Q = typename TypeParam::template queue<int>;
  for (long maxsize : {0L, 1L, 3L, 16L}) {
    Q q(maxsize);
    Model model(TypeParam::order);
    std::mt19937 rng(static_cast<unsigned>(maxsize) + 12345u);
    int next = 0;
    for (int step = 0; step < 5000; ++step) {
      const bool room = maxsize <= 0 || model.size() < static_cast<std::size_t>(maxsize);
      const unsigned op = rng() % 8;
      if (op < 4) {  // a put form: distinct values in no particular order
        const int v = (next++ * 7919) % 100'003;
        if (room) {
          switch (op) {
            case 0: q.put(v); break;
            case 1: q.put_nowait(v); break;
            case 2: q.put(v, 0ms); break;
            default: ASSERT_TRUE(q.try_put(v)); break;
          }
          model.put(v);
        } else {
          ASSERT_FALSE(q.try_put(v)) << "step " << step;
          ASSERT_THROW(q.put_nowait(v), cq::Full) << "step " << step;
        }
      } else {  // a get form
        if (!model.empty()) {
          const int want = model.get();
          int got = -1;
          switch (op) {
            case 4: got = q.get(); break;
            case 5: got = q.get_nowait(); break;
            case 6: got = q.get(0ms); break;
            default: got = q.try_get().value_or(-1); break;
          }
          ASSERT_EQ(got, want) << "step " << step << " maxsize " << maxsize;
        } else {
          ASSERT_EQ(q.try_get(), std::nullopt) << "step " << step;
          ASSERT_THROW(q.get_nowait(), cq::Empty) << "step " << step;
        }
      }
      ASSERT_EQ(q.qsize(), model.size()) << "step " << step;
      ASSERT_EQ(q.empty(), model.empty()) << "step " << step;
      ASSERT_EQ(q.full(), maxsize > 0 && model.size() == static_cast<std::size_t>(maxsize))
          << "step " << step;
    }
  }
}

// --- order, per kind ----------------------------------------------------------------------------

TEST(QueueOrder, FifoLifoAndSmallestFirst) {
  const std::vector<int> in = {3, 1, 4, 15, 9, 2, 6, 5, 35, 8};
  auto drain = [](auto& q) {
    std::vector<int> out;
    while (auto v = q.try_get()) out.push_back(*v);
    return out;
  };
  cq::Queue<int> fifo;
  cq::LifoQueue<int> lifo;
  cq::PriorityQueue<int> prio;
  cq::PollableQueue<int> pollable;
  cq::SimpleQueue<int> simple;
  for (int v : in) {
    fifo.put(v);
    lifo.put(v);
    prio.put(v);
    pollable.put(v);
    simple.put(v);
  }
  EXPECT_EQ(drain(fifo), in);
  EXPECT_EQ(drain(lifo), (std::vector<int>{8, 35, 5, 6, 2, 9, 15, 4, 1, 3}));
  EXPECT_EQ(drain(prio), (std::vector<int>{1, 2, 3, 4, 5, 6, 8, 9, 15, 35}));
  EXPECT_EQ(drain(pollable), in);
  EXPECT_EQ(drain(simple), in);
}

TEST(QueueOrder, PriorityQueueWithDuplicates) {
  cq::PriorityQueue<int> q;
  for (int v : {5, 1, 5, 3, 1, 5}) q.put(v);
  std::vector<int> out;
  while (!q.empty()) out.push_back(q.get());
  EXPECT_EQ(out, (std::vector<int>{1, 1, 3, 5, 5, 5}));
}

TEST(QueueOrder, PriorityQueueGreaterIsLargestFirst) {
  cq::PriorityQueue<int, std::greater<int>> q(4);
  EXPECT_EQ(q.maxsize(), 4);
  for (int v : {2, 9, 4, 7}) q.put(v);
  EXPECT_TRUE(q.full());
  EXPECT_THROW(q.put_nowait(100), cq::Full);
  EXPECT_EQ(q.get(), 9);
  q.put(8);
  EXPECT_EQ(q.get(), 8);
  EXPECT_EQ(q.get(), 7);
  EXPECT_EQ(q.get(), 4);
  EXPECT_EQ(q.get(), 2);
  EXPECT_THROW(q.get_nowait(), cq::Empty);
}

struct Job {
  int priority;
  std::string name;
};
struct ByPriority {
  bool operator()(const Job& a, const Job& b) const { return a.priority < b.priority; }
};

TEST(QueueOrder, PriorityQueueCustomCompareOnAField) {
  cq::PriorityQueue<Job, ByPriority> q;
  q.put(Job{3, "low"});
  q.put(Job{1, "urgent"});
  q.put({2, "normal"});
  Job j{0, "now"};
  q.put(j);  // lvalue: copied
  EXPECT_EQ(j.name, "now");
  std::vector<std::string> names;
  while (auto job = q.try_get()) names.push_back(job->name);
  EXPECT_EQ(names, (std::vector<std::string>{"now", "urgent", "normal", "low"}));
}

TEST(QueueOrder, PriorityQueueOfPairsLikePythonTuples) {
  // The Python idiom: (priority, data) tuples, smallest first, ties broken by the data.
  cq::PriorityQueue<std::pair<int, std::string>> q;
  q.put({2, "b"});
  q.put({1, "z"});
  q.put({2, "a"});
  q.put({0, "y"});
  std::vector<std::pair<int, std::string>> out;
  while (!q.empty()) out.push_back(q.get());
  EXPECT_EQ(out, (std::vector<std::pair<int, std::string>>{{0, "y"}, {1, "z"}, {2, "a"}, {2, "b"}}));
}

TEST(QueueOrder, LifoAfterInterleavedPutsAndGets) {
  cq::LifoQueue<int> q(3);
  q.put(1);
  q.put(2);
  EXPECT_EQ(q.get(), 2);
  q.put(3);
  q.put(4);
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.get(), 4);
  EXPECT_EQ(q.get(), 3);
  EXPECT_EQ(q.get(), 1);
  EXPECT_TRUE(q.empty());
}

// Items without a default constructor, copy-only and move-only values all work.
struct NoDefault {
  explicit NoDefault(int v) : value(v) {}
  int value;
  friend bool operator<(const NoDefault& a, const NoDefault& b) { return a.value < b.value; }
};

TEST(QueueItems, NoDefaultConstructorNeeded) {
  cq::Queue<NoDefault> q(2);
  q.put(NoDefault(1));
  q.put(NoDefault(2));
  EXPECT_FALSE(q.try_put(NoDefault(3)));
  EXPECT_EQ(q.get().value, 1);
  EXPECT_EQ(q.try_get()->value, 2);
  EXPECT_EQ(q.try_get(), std::nullopt);
  cq::PriorityQueue<NoDefault> p;
  p.put(NoDefault(5));
  p.put(NoDefault(4));
  EXPECT_EQ(p.get().value, 4);
  cq::LifoQueue<NoDefault> l;
  l.put(NoDefault(5));
  l.put(NoDefault(4));
  EXPECT_EQ(l.get().value, 4);
  cq::SimpleQueue<NoDefault> s;
  s.put(NoDefault(6));
  EXPECT_EQ(s.get().value, 6);
  cq::PollableQueue<NoDefault> pq;
  pq.put(NoDefault(7));
  EXPECT_EQ(pq.get_nowait().value, 7);
}

// --- SimpleQueue ---------------------------------------------------------------------------------

TEST(SimpleQueueForms, EveryForm) {
  cq::SimpleQueue<int> q;
  static_assert(std::is_same_v<decltype(q.get()), int>);
  static_assert(std::is_same_v<decltype(q.try_get()), std::optional<int>>);
  static_assert(std::is_same_v<decltype(q.try_get(50ms)), std::optional<int>>);
  static_assert(std::is_same_v<decltype(q.qsize()), std::size_t>);
  static_assert(std::is_same_v<decltype(q.empty()), bool>);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.qsize(), 0u);
  // Python's SimpleQueue.put(item, block=True, timeout=None): unbounded, never blocks; block and
  // timeout are accepted for compatibility.
  q.put(1);
  q.put(2, false);
  q.put(3, true, 50ms);
  q.put(4, false, 50ms);
  q.put_nowait(5);
  int six = 6;
  q.put(six);
  const int seven = 7;
  q.put(seven);
  q.put(8, true, dsec(0.01));
  for (int i = 9; i <= 10; ++i) q.put(i);
  EXPECT_EQ(q.qsize(), 10u);
  EXPECT_FALSE(q.empty());
  std::vector<int> got;
  got.push_back(q.get());
  got.push_back(q.get(false));
  got.push_back(q.get(true, 50ms));
  got.push_back(q.get(50ms));
  got.push_back(q.get_nowait());
  got.push_back(q.try_get().value());
  got.push_back(q.try_get(50ms).value());
  got.push_back(q.get(dsec(0.05)));
  got.push_back(q.get(true, dsec(0.05)));
  got.push_back(q.get(false, 50ms));
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_TRUE(q.empty());
  EXPECT_THROW(q.get(false), cq::Empty);
  EXPECT_THROW(q.get_nowait(), cq::Empty);
  EXPECT_THROW(q.get(10ms), cq::Empty);
  EXPECT_THROW(q.get(true, 10ms), cq::Empty);
  EXPECT_EQ(q.try_get(), std::nullopt);
  EXPECT_EQ(q.try_get(10ms), std::nullopt);
  expect_did_not_wait(time_of([&] {
    EXPECT_THROW(q.get(0ms), cq::Empty);
    EXPECT_THROW(q.get(-1s), cq::Empty);
    EXPECT_THROW(q.get(dsec(-0.5)), cq::Empty);
    EXPECT_THROW(q.get(false, long_wait()), cq::Empty);
    EXPECT_EQ(q.try_get(-1s), std::nullopt);
  }));
  q.put(11, -1s);  // never blocks, whatever the timeout
  q.put(12, 0ms);
  EXPECT_EQ(q.get(std::chrono::hours::max()), 11);
  EXPECT_EQ(q.get(dsec(1e300)), 12);
}

TEST(SimpleQueueForms, ManyItems) {
  cq::SimpleQueue<std::string> q;
  for (int i = 0; i < 10'000; ++i) q.put(std::to_string(i));
  EXPECT_EQ(q.qsize(), 10'000u);
  for (int i = 0; i < 10'000; ++i) ASSERT_EQ(q.get_nowait(), std::to_string(i));
  EXPECT_TRUE(q.empty());
}

}  // namespace
