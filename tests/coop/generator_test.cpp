// co::Generator (coop/generator.hpp): Python's generator protocol, after CPython's
// Lib/test/test_generators.py — next() until exhausted (and again), send() (PEP 342, including
// the just-started TypeError), close() (frame destroyed: "finally" runs; unstarted, finished,
// twice), exceptions (reach the caller once, then StopIteration), "generator already
// executing", the input-range concept, nested and recursive generators (the tree walk and the
// sieve of the tests), move-only values, use after move.
#include <concur/coop.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace co = concur::coop;

static_assert(std::ranges::input_range<co::Generator<int>>);
static_assert(std::ranges::input_range<co::Generator<std::string>>);
static_assert(std::ranges::input_range<co::Generator<int, std::string>>);
static_assert(std::input_iterator<co::Generator<int>::iterator>);
static_assert(std::sentinel_for<std::default_sentinel_t, co::Generator<int>::iterator>);
static_assert(std::is_same_v<std::ranges::range_value_t<co::Generator<int>>, int>);
static_assert(!std::is_copy_constructible_v<co::Generator<int>>);
static_assert(!std::is_copy_assignable_v<co::Generator<int>>);
static_assert(std::is_nothrow_move_constructible_v<co::Generator<int>>);
static_assert(std::is_nothrow_move_assignable_v<co::Generator<int>>);
static_assert(!std::is_copy_constructible_v<co::Task>);
static_assert(std::is_nothrow_move_constructible_v<co::Task>);

namespace {

co::Generator<int> numbers(int n) {
  for (int i = 0; i < n; ++i) co_yield i;
}

std::vector<int> collect(co::Generator<int> g) {
  std::vector<int> out;
  for (int x : g) out.push_back(x);
  return out;
}

// Counts live frames through a local of the body (Python: a finally block that runs on close).
struct Alive {
  int* count;
  explicit Alive(int* c) : count(c) { ++*count; }
  Alive(const Alive&) = delete;
  ~Alive() { --*count; }
};

co::Generator<int> counted(int* alive, int n) {
  Alive a(alive);
  for (int i = 0; i < n; ++i) co_yield i;
}

}  // namespace

TEST(CoopGenerator, NextUntilExhaustedAndAfter) {
  co::Generator<int> g = numbers(3);
  std::optional<int> x = g.next();
  EXPECT_EQ(x, 0);
  EXPECT_EQ(g.next(), 1);
  EXPECT_EQ(g.next(), 2);
  EXPECT_EQ(g.next(), std::nullopt);  // StopIteration
  EXPECT_EQ(g.next(), std::nullopt);  // ... every time
}

TEST(CoopGenerator, RangeFor) {
  std::vector<int> seen;
  for (int x : numbers(3)) seen.push_back(x);
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2}));
  EXPECT_TRUE(collect(numbers(0)).empty());
}

TEST(CoopGenerator, RangeAlgorithms) {
  co::Generator<int> g = numbers(10);
  auto it = std::ranges::find(g, 4);
  ASSERT_NE(it, g.end());
  EXPECT_EQ(*it, 4);
  ++it;
  EXPECT_EQ(*it, 5);
  // One pass: a second loop continues where the first stopped (Python: iter(g) is g).
  std::vector<int> rest;
  for (int x : g) rest.push_back(x);
  EXPECT_EQ(rest, (std::vector<int>{6, 7, 8, 9}));
}

namespace {
co::Generator<int> marks(bool* started) {
  *started = true;
  co_yield 1;
}
}  // namespace

TEST(CoopGenerator, LazyStart) {
  bool started = false;
  co::Generator<int> g = marks(&started);
  EXPECT_FALSE(started);  // nothing runs until the first next()
  EXPECT_EQ(g.next(), 1);
  EXPECT_TRUE(started);
}

// ---- send (PEP 342) -----------------------------------------------------------------------
namespace {
co::Generator<int, std::string> echo(std::vector<std::string>* got) {
  for (;;) {
    std::string s = co_yield 42;
    got->push_back(s);
  }
}

// test_generators' coroutine examples: x = yield 1; yield x + ...
co::Generator<std::string, std::string> pairs() {
  std::string a = co_yield "first";
  std::string b = co_yield "got " + a;
  co_yield "got " + b;
}

co::Generator<int, int> accumulate() {
  int total = 0;
  for (;;) {
    int v = co_yield total;
    total += v;
  }
}
}  // namespace

TEST(CoopGenerator, SendAsInPython) {
  std::vector<std::string> got;
  co::Generator<int, std::string> g = echo(&got);
  EXPECT_EQ(g.next(), 42);  // runs to the first yield
  int y = *g.send("hi");
  EXPECT_EQ(y, 42);
  EXPECT_EQ(*g.send(std::string("there")), 42);
  EXPECT_EQ(got, (std::vector<std::string>{"hi", "there"}));
  EXPECT_EQ(g.next(), 42);  // next() sends the default value: Python's None
  EXPECT_EQ(got.back(), "");
  g.close();
  EXPECT_EQ(g.send("late"), std::nullopt);  // closed: StopIteration
  EXPECT_EQ(g.next(), std::nullopt);
}

TEST(CoopGenerator, SendReturnsTheNextYieldAndNulloptAtTheEnd) {
  auto g = pairs();
  EXPECT_EQ(g.next(), "first");
  EXPECT_EQ(g.send("a"), "got a");
  EXPECT_EQ(g.send("b"), "got b");
  EXPECT_EQ(g.send("c"), std::nullopt);  // the body finished: StopIteration
  EXPECT_EQ(g.send("d"), std::nullopt);
}

TEST(CoopGenerator, SendToAJustStartedGeneratorIsATypeError) {
  auto g = accumulate();
  EXPECT_THROW((void)g.send(1), co::TypeError);
  EXPECT_THROW((void)g.send(1), concur::ValueError);  // co::TypeError is a concur::ValueError
  EXPECT_EQ(g.next(), 0);  // still unstarted: next() starts it
  EXPECT_EQ(g.send(5), 5);
  EXPECT_EQ(g.send(10), 15);
}

namespace {
struct NoDefault {
  explicit NoDefault(int v) : value(v) {}
  int value;
};
co::Generator<int, NoDefault> needs_values() {
  for (;;) {
    NoDefault v = co_yield 0;
    co_yield v.value;
  }
}
}  // namespace

TEST(CoopGenerator, NextWithoutADefaultForTheSentTypeIsATypeError) {
  auto g = needs_values();
  EXPECT_EQ(g.next(), 0);  // starting needs no value
  EXPECT_THROW((void)g.next(), co::TypeError);
  EXPECT_EQ(g.send(NoDefault(7)), 7);  // the refused next() ran nothing
}

// ---- close ----------------------------------------------------------------------------------
TEST(CoopGenerator, CloseDestroysTheFrame) {
  int alive = 0;
  co::Generator<int> g = counted(&alive, 10);
  g.close();  // unstarted: nothing to destroy but the frame
  EXPECT_EQ(alive, 0);
  EXPECT_EQ(g.next(), std::nullopt);

  g = counted(&alive, 10);
  EXPECT_EQ(g.next(), 0);
  EXPECT_EQ(alive, 1);
  g.close();  // "finally" runs
  EXPECT_EQ(alive, 0);
  EXPECT_EQ(g.next(), std::nullopt);
  EXPECT_TRUE(g.begin() == g.end());
  g.close();  // twice: harmless

  g = counted(&alive, 1);
  EXPECT_EQ(g.next(), 0);
  EXPECT_EQ(g.next(), std::nullopt);  // finished
  EXPECT_EQ(alive, 0);
  g.close();  // finished: harmless
}

TEST(CoopGenerator, DestructorAndMoveAssignmentDestroyTheFrame) {
  int alive = 0;
  {
    co::Generator<int> g = counted(&alive, 10);
    EXPECT_EQ(g.next(), 0);
    g = counted(&alive, 10);
    EXPECT_EQ(alive, 0);
    EXPECT_EQ(g.next(), 0);
    EXPECT_EQ(alive, 1);
  }
  EXPECT_EQ(alive, 0);
  {
    int seen = 0;
    for (int x : counted(&alive, 100)) {  // leaving the loop early destroys the frame
      seen += x;
      if (x == 3) break;
    }
    EXPECT_EQ(seen, 6);
  }
  EXPECT_EQ(alive, 0);
}

namespace {
co::Generator<int> self_close(co::Generator<int>* self, bool* refused) {
  try {
    self->close();
  } catch (const concur::ValueError&) {
    *refused = true;
  }
  co_yield 1;
}
co::Generator<int> self_next(co::Generator<int>* self, bool* refused) {
  try {
    (void)self->next();
  } catch (const concur::ValueError& e) {
    *refused = std::string(e.what()) == "generator already executing";
  }
  co_yield 1;
}
co::Generator<int, int> self_send(co::Generator<int, int>* self, bool* refused) {
  (void)(co_yield 0);
  try {
    (void)self->send(1);
  } catch (const concur::ValueError&) {
    *refused = true;
  }
  co_yield 1;
}
}  // namespace

TEST(CoopGenerator, AlreadyExecuting) {
  bool refused = false;
  co::Generator<int> g;
  g = self_close(&g, &refused);
  EXPECT_EQ(g.next(), 1);
  EXPECT_TRUE(refused);

  refused = false;
  g = self_next(&g, &refused);
  EXPECT_EQ(g.next(), 1);
  EXPECT_TRUE(refused);

  refused = false;
  co::Generator<int, int> s;
  s = self_send(&s, &refused);
  EXPECT_EQ(s.next(), 0);
  EXPECT_EQ(s.send(5), 1);
  EXPECT_TRUE(refused);
}

// ---- exceptions -----------------------------------------------------------------------------
namespace {
co::Generator<int> fails_after(int n) {
  for (int i = 0; i < n; ++i) co_yield i;
  throw std::runtime_error("boom");
}
co::Generator<int, int> fails_on_send() {
  int v = co_yield 0;
  if (v < 0) throw std::invalid_argument("negative");
  co_yield v;
}
}  // namespace

TEST(CoopGenerator, ExceptionReachesNextOnceThenStopIteration) {
  co::Generator<int> g = fails_after(2);
  EXPECT_EQ(g.next(), 0);
  EXPECT_EQ(g.next(), 1);
  try {
    (void)g.next();
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "boom");
  }
  EXPECT_EQ(g.next(), std::nullopt);
  EXPECT_EQ(g.next(), std::nullopt);
}

TEST(CoopGenerator, ExceptionOnTheFirstNext) {
  co::Generator<int> g = fails_after(0);
  EXPECT_THROW((void)g.next(), std::runtime_error);
  EXPECT_EQ(g.next(), std::nullopt);
}

TEST(CoopGenerator, ExceptionInARangeForMidIteration) {
  std::vector<int> seen;
  EXPECT_THROW(
      {
        for (int x : fails_after(3)) seen.push_back(x);
      },
      std::runtime_error);
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2}));

  EXPECT_THROW((void)fails_after(0).begin(), std::runtime_error);  // from begin()

  co::Generator<int> g = fails_after(1);
  auto it = g.begin();
  EXPECT_EQ(*it, 0);
  EXPECT_THROW(++it, std::runtime_error);  // from ++
  EXPECT_TRUE(it == g.end());              // finished
}

TEST(CoopGenerator, ExceptionFromSend) {
  auto g = fails_on_send();
  EXPECT_EQ(g.next(), 0);
  EXPECT_THROW((void)g.send(-1), std::invalid_argument);
  EXPECT_EQ(g.send(1), std::nullopt);  // finished
}

// ---- move, values ---------------------------------------------------------------------------
TEST(CoopGenerator, UseAfterMoveIsAnEmptyGenerator) {
  co::Generator<int> a = numbers(3);
  EXPECT_EQ(a.next(), 0);
  co::Generator<int> b = std::move(a);
  EXPECT_EQ(a.next(), std::nullopt);  // NOLINT(bugprone-use-after-move): empty, as closed
  EXPECT_TRUE(a.begin() == a.end());
  a.close();
  EXPECT_EQ(b.next(), 1);  // the frame moved with it
  co::Generator<int> c;
  EXPECT_EQ(c.next(), std::nullopt);
  c = std::move(b);
  EXPECT_EQ(c.next(), 2);
  EXPECT_EQ(c.next(), std::nullopt);
}

TEST(CoopGenerator, IteratorsSurviveMovingTheGenerator) {
  co::Generator<int> a = numbers(3);
  auto it = a.begin();
  co::Generator<int> b = std::move(a);
  EXPECT_EQ(*it, 0);
  ++it;
  EXPECT_EQ(*it, 1);
  EXPECT_EQ(b.next(), 2);
}

namespace {
co::Generator<std::unique_ptr<int>> boxes(int n) {
  for (int i = 0; i < n; ++i) co_yield std::make_unique<int>(i);
  auto last = std::make_unique<int>(100);
  co_yield std::move(last);
}
co::Generator<std::string> words() {
  const std::string hello = "hello";
  co_yield hello;  // an lvalue: copied
  co_yield "world";  // converted
  EXPECT_EQ(hello, "hello");
}
}  // namespace

TEST(CoopGenerator, MoveOnlyAndConvertedValues) {
  auto g = boxes(2);
  std::optional<std::unique_ptr<int>> p = g.next();
  ASSERT_TRUE(p && *p);
  EXPECT_EQ(**p, 0);
  std::vector<int> rest;
  for (std::unique_ptr<int>& q : g) rest.push_back(*std::move(q));
  EXPECT_EQ(rest, (std::vector<int>{1, 100}));

  std::vector<std::string> w;
  for (std::string& s : words()) w.push_back(std::move(s));
  EXPECT_EQ(w, (std::vector<std::string>{"hello", "world"}));
}

// ---- nested and recursive generators (test_generators: tree walk, sieve) --------------------
namespace {
struct Tree {
  int label;
  std::unique_ptr<Tree> left, right;
};

std::unique_ptr<Tree> build(int lo, int hi) {  // a balanced tree of lo..hi-1
  if (lo >= hi) return nullptr;
  const int mid = (lo + hi) / 2;
  auto t = std::make_unique<Tree>();
  t->label = mid;
  t->left = build(lo, mid);
  t->right = build(mid + 1, hi);
  return t;
}

co::Generator<int> inorder(const Tree* t) {
  if (!t) co_return;
  for (int x : inorder(t->left.get())) co_yield x;
  co_yield t->label;
  for (int x : inorder(t->right.get())) co_yield x;
}

co::Generator<int> ints_from(int n) {
  for (;;) co_yield n++;
}
co::Generator<int> exclude_multiples(int n, co::Generator<int> ints) {
  for (int i : ints)
    if (i % n) co_yield i;
}
co::Generator<int> sieve(co::Generator<int> ints) {
  std::optional<int> prime = ints.next();
  if (!prime) co_return;
  co_yield *prime;
  co::Generator<int> not_divisible = exclude_multiples(*prime, std::move(ints));
  for (int p : sieve(std::move(not_divisible))) co_yield p;
}
}  // namespace

TEST(CoopGenerator, RecursiveTreeWalk) {
  auto root = build(0, 100);
  std::vector<int> want(100);
  for (int i = 0; i < 100; ++i) want[i] = i;
  EXPECT_EQ(collect(inorder(root.get())), want);
}

TEST(CoopGenerator, NestedSieve) {
  co::Generator<int> primes = sieve(ints_from(2));
  std::vector<int> first;
  for (int i = 0; i < 20; ++i) first.push_back(*primes.next());
  EXPECT_EQ(first, (std::vector<int>{2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53,
                                     59, 61, 67, 71}));
  primes.close();  // destroys the whole chain of nested frames
}

namespace {
co::Task consume_into(co::Generator<int> g, std::vector<int>* out) {
  while (std::optional<int> x = g.next()) {
    out->push_back(*x);
    co_yield {};
  }
}
}  // namespace

TEST(CoopGenerator, GeneratorsDrivenByScheduledTasks) {
  std::vector<int> out;
  co::TaskScheduler sched;
  sched.new_task(consume_into(numbers(3), &out));
  sched.new_task(consume_into(ints_from(100), &out));  // endless: stopped by the exception below
  sched.new_task(consume_into(fails_after(2), &out));
  EXPECT_THROW(sched.run(), std::runtime_error);
  EXPECT_EQ(out, (std::vector<int>{0, 100, 0, 1, 101, 1, 2, 102}));
  EXPECT_EQ(sched.size(), 2u);  // the failed task is gone; the other two are still queued
  std::vector<int> more;
  out.swap(more);
  // numbers(3) is exhausted at its task's next step, which ends it; ints_from(100) goes on.
  sched.new_task(consume_into(numbers(0), &out));
  co::Task stopper = consume_into(fails_after(0), &out);
  sched.new_task(std::move(stopper));
  EXPECT_THROW(sched.run(), std::runtime_error);
  EXPECT_EQ(out, (std::vector<int>{103}));
  EXPECT_EQ(sched.size(), 1u);  // only the endless one is left
}

// A generator may be handed to another thread (one thread at a time).
TEST(CoopGenerator, HandedOverToAnotherThread) {
  co::Generator<int> g = numbers(5);
  EXPECT_EQ(g.next(), 0);
  std::vector<int> rest;
  std::thread([&] {
    for (int x : g) rest.push_back(x);
  }).join();
  EXPECT_EQ(rest, (std::vector<int>{1, 2, 3, 4}));
}
