// CPython's Lib/test/test_sched.py, ported. Ordering tests run on simulated clocks (sim_clock.hpp)
// instead of time.time, so that they neither sleep nor depend on the machine's speed.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <concur/queue.hpp>
#include <concur/sched.hpp>
#include <concur/threading.hpp>

#include "sim_clock.hpp"
#include "test_support.hpp"

namespace {

namespace sc = concur::sched;
namespace th = concur::threading;
using namespace std::chrono_literals;
using sched_test::Clock;
using sched_test::JumpClock;
using sched_test::LimitClock;

Clock::time_point at(Clock::duration d) { return Clock::time_point{} + d; }

TEST(Sched, Enter) {
  JumpClock clk;
  auto s = clk.make();
  std::vector<int> l;
  auto fun = [&l](int x) { l.push_back(x); };
  for (int x : {500, 400, 300, 200, 100}) (void)s.enter(std::chrono::milliseconds(x), 1, fun, x);
  s.run();
  EXPECT_EQ(l, (std::vector<int>{100, 200, 300, 400, 500}));
  EXPECT_EQ(clk.time(), at(500ms));
}

// The same on the real clock (short delays): run() sleeps on concur's waits until each is due.
TEST(Sched, EnterRealClock) {
  sc::scheduler s;
  std::vector<int> l;
  std::vector<Clock::time_point> ran;
  const auto start = Clock::now();
  for (int x : {50, 40, 30, 20, 10})
    (void)s.enter(std::chrono::milliseconds(x), 1, [&, x] {
      l.push_back(x);
      ran.push_back(Clock::now());
    });
  s.run();
  EXPECT_EQ(l, (std::vector<int>{10, 20, 30, 40, 50}));
  for (std::size_t i = 0; i < ran.size(); ++i)
    EXPECT_GE(ran[i], start + std::chrono::milliseconds(l[i]));  // never early
}

TEST(Sched, Enterabs) {
  JumpClock clk;
  auto s = clk.make();
  std::vector<int> l;
  auto fun = [&l](int x) { l.push_back(x); };
  for (int x : {50, 40, 30, 20, 10}) (void)s.enterabs(at(std::chrono::milliseconds(x)), 1, fun, x);
  s.run();
  EXPECT_EQ(l, (std::vector<int>{10, 20, 30, 40, 50}));
}

TEST(Sched, EnterConcurrent) {
  concur::queue::Queue<int> q;
  auto fun = [&q](int x) { q.put(x); };
  LimitClock timer;
  sc::scheduler s([&] { return timer.time(); }, [&](Clock::duration d) { timer.sleep(d); });
  (void)s.enter(1s, 1, fun, 1);
  (void)s.enter(3s, 1, fun, 3);
  th::Thread t([&] { s.run(); });
  t.start();
  timer.advance(1s);
  EXPECT_EQ(q.get(concur_test::long_wait()), 1);
  EXPECT_TRUE(q.empty());
  for (int x : {4, 5, 2}) (void)s.enter(std::chrono::seconds(x - 1), 1, fun, x);
  timer.advance(2s);
  EXPECT_EQ(q.get(concur_test::long_wait()), 2);
  EXPECT_EQ(q.get(concur_test::long_wait()), 3);
  EXPECT_TRUE(q.empty());
  timer.advance(1s);
  EXPECT_EQ(q.get(concur_test::long_wait()), 4);
  EXPECT_TRUE(q.empty());
  timer.advance(1s);
  EXPECT_EQ(q.get(concur_test::long_wait()), 5);
  EXPECT_TRUE(q.empty());
  timer.advance(1000s);
  ASSERT_TRUE(t.join(concur_test::long_wait()));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(timer.time(), at(5s));
}

TEST(Sched, Priority) {
  JumpClock clk;
  auto s = clk.make();
  std::vector<int> l;
  auto fun = [&l](int x) { l.push_back(x); };
  const std::vector<std::pair<std::vector<int>, std::vector<int>>> cases = {
      {{1, 2, 3, 4, 5}, {1, 2, 3, 4, 5}},
      {{5, 4, 3, 2, 1}, {1, 2, 3, 4, 5}},
      {{2, 5, 3, 1, 4}, {1, 2, 3, 4, 5}},
      {{1, 2, 3, 2, 1}, {1, 1, 2, 2, 3}},
  };
  for (const auto& c : cases) {
    for (int priority : c.first) (void)s.enterabs(at(10ms), priority, fun, priority);
    s.run();
    EXPECT_EQ(l, c.second);
    EXPECT_TRUE(s.empty());
    l.clear();
  }
}

TEST(Sched, Cancel) {
  JumpClock clk;
  auto s = clk.make();
  std::vector<int> l;
  auto fun = [&l](int x) { l.push_back(x); };
  const auto now = clk.time();
  sc::Event event1 = s.enterabs(now + 10ms, 1, fun, 10);
  sc::Event event2 = s.enterabs(now + 20ms, 1, fun, 20);
  sc::Event event3 = s.enterabs(now + 30ms, 1, fun, 30);
  sc::Event event4 = s.enterabs(now + 40ms, 1, fun, 40);
  sc::Event event5 = s.enterabs(now + 50ms, 1, fun, 50);
  s.cancel(event1);
  s.cancel(event5);
  s.run();
  EXPECT_EQ(l, (std::vector<int>{20, 30, 40}));
}

TEST(Sched, CancelConcurrent) {
  concur::queue::Queue<int> q;
  auto fun = [&q](int x) { q.put(x); };
  LimitClock timer;
  sc::scheduler s([&] { return timer.time(); }, [&](Clock::duration d) { timer.sleep(d); });
  const auto now = timer.time();
  sc::Event event1 = s.enterabs(now + 1s, 1, fun, 1);
  sc::Event event2 = s.enterabs(now + 2s, 1, fun, 2);
  sc::Event event4 = s.enterabs(now + 4s, 1, fun, 4);
  sc::Event event5 = s.enterabs(now + 5s, 1, fun, 5);
  sc::Event event3 = s.enterabs(now + 3s, 1, fun, 3);
  th::Thread t([&] { s.run(); });
  t.start();
  timer.advance(1s);
  EXPECT_EQ(q.get(concur_test::long_wait()), 1);
  EXPECT_TRUE(q.empty());
  s.cancel(event2);
  s.cancel(event5);
  timer.advance(1s);
  EXPECT_TRUE(q.empty());
  timer.advance(1s);
  EXPECT_EQ(q.get(concur_test::long_wait()), 3);
  EXPECT_TRUE(q.empty());
  timer.advance(1s);
  EXPECT_EQ(q.get(concur_test::long_wait()), 4);
  EXPECT_TRUE(q.empty());
  timer.advance(1000s);
  ASSERT_TRUE(t.join(concur_test::long_wait()));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(timer.time(), at(4s));
}

// bpo-19270: cancel() removes the very event given, not one equal to it.
TEST(Sched, CancelCorrectEvent) {
  sc::scheduler s;
  std::vector<std::string> events;
  auto append = [&events](const std::string& x) { events.push_back(x); };
  const auto t = Clock::now() - 1s;  // due: run() does not wait
  (void)s.enterabs(t, 1, append, std::string("a"));
  sc::Event b = s.enterabs(t, 1, append, std::string("b"));
  (void)s.enterabs(t, 1, append, std::string("c"));
  s.cancel(b);
  s.run();
  EXPECT_EQ(events, (std::vector<std::string>{"a", "c"}));
}

TEST(Sched, Empty) {
  JumpClock clk;
  auto s = clk.make();
  std::vector<int> l;
  auto fun = [&l](int x) { l.push_back(x); };
  EXPECT_TRUE(s.empty());
  for (int x : {50, 40, 30, 20, 10}) (void)s.enterabs(at(std::chrono::milliseconds(x)), 1, fun, x);
  EXPECT_FALSE(s.empty());
  s.run();
  EXPECT_TRUE(s.empty());
}

TEST(Sched, Queue) {
  JumpClock clk;
  auto s = clk.make();
  auto fun = [] {};
  const auto now = clk.time();
  sc::Event e5 = s.enterabs(now + 50ms, 1, fun);
  sc::Event e1 = s.enterabs(now + 10ms, 1, fun);
  sc::Event e2 = s.enterabs(now + 20ms, 1, fun);
  sc::Event e4 = s.enterabs(now + 40ms, 1, fun);
  sc::Event e3 = s.enterabs(now + 30ms, 1, fun);
  // queue() is the ordered list of upcoming events.
  EXPECT_EQ(s.queue(), (std::vector<sc::Event>{e1, e2, e3, e4, e5}));
}

// Python's argument=() and kwargs={}: C++ has positional arguments, stored by value.
TEST(Sched, ArgsKwargs) {
  JumpClock clk;
  auto s = clk.make();
  std::vector<std::string> seq;
  struct Fun {
    std::vector<std::string>* seq;
    void operator()() const { seq->push_back("()"); }
    void operator()(int a, int b) const { seq->push_back(std::to_string(a) + std::to_string(b)); }
    void operator()(const std::string& a, const std::string& b) const { seq->push_back(a + b); }
    void operator()(int a, int b, int foo) const {
      seq->push_back(std::to_string(a) + std::to_string(b) + " foo=" + std::to_string(foo));
    }
  };
  const auto now = clk.time();
  (void)s.enterabs(now, 1, Fun{&seq});
  (void)s.enterabs(now, 1, Fun{&seq}, 1, 2);
  (void)s.enterabs(now, 1, Fun{&seq}, std::string("a"), std::string("b"));
  (void)s.enterabs(now, 1, Fun{&seq}, 1, 2, 3);
  s.run();
  std::sort(seq.begin(), seq.end());
  std::vector<std::string> expected{"()", "12", "ab", "12 foo=3"};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(seq, expected);
}

TEST(Sched, RunNonBlocking) {
  JumpClock clk;
  auto s = clk.make();
  std::vector<int> l;
  auto fun = [&l](int x) { l.push_back(x); };
  for (int x : {10, 9, 8, 7, 6}) (void)s.enter(std::chrono::seconds(x), 1, fun, x);
  const std::optional<Clock::duration> d = s.run(false);
  EXPECT_TRUE(l.empty());
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(*d, 6s);
  EXPECT_EQ(clk.time(), at(0s));  // did not sleep
}

}  // namespace
