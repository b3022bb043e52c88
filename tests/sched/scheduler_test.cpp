// concur's additions to Python's sched: errors, exceptions from actions, re-entrant actions,
// event handles, saturated times, thread safety, waking a sleeping run(), thread dumps.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

#include <concur/errors.hpp>
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

TEST(Scheduler, CancelRefusesWhatIsNotQueued) {
  sc::scheduler s, other;
  int ran = 0;
  sc::Event done = s.enter(-1s, 1, [&] { ++ran; });
  s.run();
  EXPECT_EQ(ran, 1);
  EXPECT_THROW(s.cancel(done), concur::ValueError);  // already ran

  sc::Event ev = s.enter(1h, 1, [] {});
  s.cancel(ev);
  EXPECT_THROW(s.cancel(ev), concur::ValueError);  // already cancelled
  EXPECT_TRUE(s.empty());

  sc::Event theirs = other.enter(1h, 1, [] {});
  EXPECT_THROW(s.cancel(theirs), concur::ValueError);  // not s's
  EXPECT_FALSE(other.empty());
  other.cancel(theirs);

  EXPECT_THROW(s.cancel(sc::Event{}), concur::ValueError);  // empty handle
  try {
    s.cancel(done);
  } catch (const concur::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("already ran"), std::string::npos) << e.what();
  }
}

TEST(Scheduler, ExceptionLeavesRunWithTheRestQueued) {
  JumpClock clk;
  auto s = clk.make();
  std::vector<int> l;
  (void)s.enter(1s, 1, [&] { l.push_back(1); });
  (void)s.enter(2s, 1, [] { throw std::runtime_error("boom"); });
  (void)s.enter(3s, 1, [&] { l.push_back(3); });
  (void)s.enter(4s, 1, [&] { l.push_back(4); });
  EXPECT_THROW(s.run(), std::runtime_error);
  EXPECT_EQ(l, (std::vector<int>{1}));
  EXPECT_EQ(s.queue().size(), 2u);
  s.run();
  EXPECT_EQ(l, (std::vector<int>{1, 3, 4}));
  EXPECT_TRUE(s.empty());
}

TEST(Scheduler, ActionsEnterAndCancelOnTheirOwnScheduler) {
  JumpClock clk;
  auto s = clk.make();
  std::vector<std::string> l;
  sc::Event later = s.enter(10s, 1, [&] { l.push_back("later"); });
  (void)s.enter(1s, 1, [&] {
    l.push_back("first");
    s.cancel(later);
    (void)s.enter(1s, 1, [&] { l.push_back("entered by first"); });
    (void)s.enter(0s, 2, [&] { l.push_back("now, priority 2"); });
    EXPECT_FALSE(s.empty());
  });
  s.run();
  EXPECT_EQ(l, (std::vector<std::string>{"first", "now, priority 2", "entered by first"}));
  EXPECT_EQ(clk.time(), Clock::time_point{} + 2s);
}

TEST(Scheduler, OrderIsTimeThenPriorityThenEntry) {
  JumpClock clk;
  auto s = clk.make();
  std::vector<int> l;
  auto fun = [&l](int x) { l.push_back(x); };
  const auto t = clk.time();
  (void)s.enterabs(t + 2s, 0, fun, 6);
  (void)s.enterabs(t + 1s, 5, fun, 4);
  (void)s.enterabs(t + 1s, 1, fun, 1);
  (void)s.enterabs(t + 1s, 5, fun, 5);
  (void)s.enterabs(t + 1s, 1, fun, 2);
  (void)s.enterabs(t + 1s, 3, fun, 3);
  (void)s.enterabs(t + 0s, 9, fun, 0);
  std::vector<int> expected{0, 1, 2, 3, 4, 5, 6};
  std::vector<int> queued;
  for (const sc::Event& e : s.queue()) queued.push_back(e.priority());
  EXPECT_EQ(queued, (std::vector<int>{9, 1, 1, 3, 5, 5, 0}));
  s.run();
  EXPECT_EQ(l, expected);
}

TEST(Scheduler, RunFalseRunsWhatIsDueAndSaysWhatIsLeft) {
  JumpClock clk;
  auto s = clk.make();
  std::vector<int> l;
  auto fun = [&l](int x) { l.push_back(x); };
  EXPECT_EQ(s.run(false), std::nullopt);
  (void)s.enter(0s, 1, fun, 0);
  (void)s.enter(-5s, 1, fun, -5);
  (void)s.enter(3s, 1, fun, 3);
  EXPECT_EQ(s.run(false), std::optional<Clock::duration>(3s));
  EXPECT_EQ(l, (std::vector<int>{-5, 0}));
  clk.sleep(3s);
  EXPECT_EQ(s.run(false), std::nullopt);
  EXPECT_EQ(l, (std::vector<int>{-5, 0, 3}));
}

TEST(Scheduler, DelayfuncZeroAfterEachAction) {
  std::vector<Clock::duration> delays;
  Clock::time_point t{};
  sc::scheduler s([&] { return t; },
                  [&](Clock::duration d) {
                    delays.push_back(d);
                    t += d;
                  });
  (void)s.enter(2s, 1, [] {});
  (void)s.enter(2s, 1, [] {});
  s.run();
  EXPECT_EQ(delays, (std::vector<Clock::duration>{2s, 0s, 0s}));
}

TEST(Scheduler, EventsAreHandlesComparedByIdentity) {
  sc::scheduler s;
  const auto t = Clock::now() + 1h;
  sc::Event a = s.enterabs(t, 1, [] {});
  sc::Event b = s.enterabs(t, 1, [] {});
  sc::Event a2 = a;
  EXPECT_EQ(a, a2);
  EXPECT_NE(a, b);  // same time, priority and action: still two events
  EXPECT_EQ(a.time(), t);
  EXPECT_EQ(a.priority(), 1);
  std::unordered_set<sc::Event> set{a, a2, b};
  EXPECT_EQ(set.size(), 2u);
  EXPECT_FALSE(sc::Event{});
  EXPECT_TRUE(a);
  s.cancel(a2);  // a copy cancels the event
  EXPECT_THROW(s.cancel(a), concur::ValueError);
  EXPECT_EQ(s.queue(), std::vector<sc::Event>{b});
}

TEST(Scheduler, ArgumentsAreStoredByValueAndReleasedAfterRunOrCancel) {
  sc::scheduler s;
  auto token = std::make_shared<int>(7);
  int seen = 0;
  sc::Event ran = s.enter(-1s, 1, [&seen](const std::shared_ptr<int>& p) { seen = *p; }, token);
  sc::Event cancelled = s.enter(1h, 1, [](const std::shared_ptr<int>&) {}, token);
  EXPECT_EQ(token.use_count(), 3);
  s.cancel(cancelled);
  EXPECT_EQ(token.use_count(), 2);  // the handle no longer holds the arguments
  EXPECT_EQ(s.run(false), std::nullopt);
  EXPECT_EQ(seen, 7);
  EXPECT_EQ(token.use_count(), 1);
  {
    sc::scheduler gone;
    (void)gone.enter(1h, 1, [](const std::shared_ptr<int>&) {}, token);
    EXPECT_EQ(token.use_count(), 2);
  }
  EXPECT_EQ(token.use_count(), 1);  // a destroyed scheduler destroys its queued actions

  int by_ref = 0;
  (void)s.enter(-1s, 1, [](int& r) { r = 42; }, std::ref(by_ref));
  auto moved = std::make_unique<int>(5);
  int got = 0;
  (void)s.enter(-1s, 1, [&got](std::unique_ptr<int>& p) { got = *p; }, std::move(moved));
  s.run();
  EXPECT_EQ(by_ref, 42);
  EXPECT_EQ(got, 5);
}

TEST(Scheduler, FarTimesSaturateInsteadOfOverflowing) {
  sc::scheduler s;
  sc::Event far = s.enter(std::chrono::hours::max(), 1, [] {});
  sc::Event farther = s.enter(std::chrono::duration<double>(1e300), 1, [] {});
  sc::Event past = s.enter(std::chrono::hours::min(), 1, [] {});
  EXPECT_EQ(far.time(), Clock::time_point::max());
  EXPECT_EQ(farther.time(), Clock::time_point::max());
  EXPECT_EQ(past.time(), Clock::time_point::min());
  sc::Event nan = s.enter(std::chrono::duration<double>(std::nan("")), 1, [] {});
  EXPECT_LE(nan.time(), Clock::now());
  sc::Event abs = s.enterabs(std::chrono::time_point<Clock, std::chrono::hours>::max(), 1, [] {});
  EXPECT_EQ(abs.time(), Clock::time_point::max());
  const std::optional<Clock::duration> left = s.run(false);  // runs `past` and `nan`
  ASSERT_TRUE(left.has_value());
  EXPECT_GT(*left, std::chrono::hours(24 * 365 * 100));
  EXPECT_EQ(s.queue().size(), 3u);
  // A run() asleep towards the end of time is woken by the cancellation of its first event.
  th::Thread runner([&] { s.run(); });
  runner.start();
  for (sc::Event e : {far, farther, abs}) s.cancel(e);
  ASSERT_TRUE(runner.join(concur_test::long_wait()));
  EXPECT_TRUE(s.empty());
}

// With the default clock, an earlier event entered from another thread wakes a sleeping run()
// at once; the sleeper shows in a thread dump as waiting on the scheduler.
TEST(Scheduler, EarlierEventWakesSleepingRun) {
  sc::scheduler s;
  sc::Event hour = s.enter(1h, 1, [] { ADD_FAILURE() << "the hour passed"; });
  std::atomic<bool> woke{false};
  th::Thread runner({.name = "sched-runner"}, [&] { s.run(); });
  runner.start();
  ASSERT_TRUE(concur_test::eventually([] {
    const std::string dump = th::dump_threads();
    const auto at = dump.find("\"sched-runner\"");
    return at != std::string::npos &&
           dump.find("waiting for sched scheduler at 0x", at) != std::string::npos;
  })) << th::dump_threads();
  (void)s.enter(0s, 1, [&] {
    woke = true;
    s.cancel(hour);
  });
  ASSERT_TRUE(runner.join(concur_test::long_wait()));
  EXPECT_TRUE(woke);
  EXPECT_TRUE(s.empty());
}

TEST(Scheduler, CancellingTheFirstEventWakesRunForTheNext) {
  sc::scheduler s;
  std::atomic<int> ran{0};
  sc::Event hour = s.enter(1h, 1, [] { ADD_FAILURE() << "cancelled event ran"; });
  th::Thread runner([&] { s.run(); });
  runner.start();
  (void)s.enter(2h, 1, [] { ADD_FAILURE() << "two hours passed"; });
  sc::Event soon = s.enter(20ms, 1, [&] { ++ran; });
  s.cancel(hour);
  // run() now sleeps towards `soon` (20 ms), runs it, then sleeps towards the 2 h event.
  ASSERT_TRUE(concur_test::eventually([&] { return ran.load() == 1; }));
  const std::vector<sc::Event> left = s.queue();
  ASSERT_EQ(left.size(), 1u);
  s.cancel(left[0]);
  ASSERT_TRUE(runner.join(concur_test::long_wait()));
  EXPECT_THROW(s.cancel(soon), concur::ValueError);
}

// Conservation: events entered (and some cancelled) from several threads while two threads are
// in run(): every event that was not cancelled runs exactly once, no cancelled one runs.
TEST(Scheduler, StressEveryEventRunsExactlyOnce) {
  constexpr int kProducers = 4, kPerProducer = 2000;
  sc::scheduler s;
  std::vector<std::atomic<int>> runs(kProducers * kPerProducer);
  std::vector<std::atomic<bool>> cancelled(kProducers * kPerProducer);
  // Keeps run() from returning while producers still work.
  sc::Event keeper = s.enter(1h, 0, [] { ADD_FAILURE() << "keeper ran"; });
  th::Thread r1([&] { s.run(); }), r2([&] { s.run(); });
  r1.start();
  r2.start();
  concur_test::run_together(kProducers, [&](int p) {
    std::minstd_rand rng(static_cast<unsigned>(p) + 1);
    for (int i = 0; i < kPerProducer; ++i) {
      const int id = p * kPerProducer + i;
      const auto delay = std::chrono::microseconds(rng() % 2000) - 200us;
      sc::Event e = s.enter(delay, static_cast<int>(rng() % 3), [&runs, id] { ++runs[id]; });
      if (rng() % 8 == 0) {
        try {
          s.cancel(e);
          cancelled[id] = true;
        } catch (const concur::ValueError&) {  // it ran first
        }
      }
    }
  });
  s.cancel(keeper);
  ASSERT_TRUE(r1.join(concur_test::long_wait()));
  ASSERT_TRUE(r2.join(concur_test::long_wait()));
  EXPECT_TRUE(s.empty());
  int ran_total = 0, cancelled_total = 0;
  for (int id = 0; id < kProducers * kPerProducer; ++id) {
    if (cancelled[id]) {
      ++cancelled_total;
      EXPECT_EQ(runs[id].load(), 0) << id;
    } else {
      ++ran_total;
      EXPECT_EQ(runs[id].load(), 1) << id;
    }
  }
  EXPECT_EQ(ran_total + cancelled_total, kProducers * kPerProducer);
}

// Many cancelled events are swept out of the queue; what remains still runs in order.
TEST(Scheduler, ManyCancellationsKeepTheOrder) {
  JumpClock clk;
  auto s = clk.make();
  std::vector<int> l;
  std::vector<sc::Event> events;
  for (int i = 999; i >= 0; --i)  // reversed: they go to the heap
    events.push_back(s.enter(std::chrono::milliseconds(i), 1, [&l, i] { l.push_back(i); }));
  for (int i = 0; i < 1000; ++i)  // in order: they go to the sorted run
    events.push_back(s.enter(std::chrono::milliseconds(1000 + i), 1, [&l, i] { l.push_back(1000 + i); }));
  std::vector<int> expected;
  for (sc::Event& e : events) {
    const int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        e.time() - Clock::time_point{}).count());
    if (ms % 10 != 0) s.cancel(e);
    else expected.push_back(ms);
  }
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(s.queue().size(), expected.size());
  s.run();
  EXPECT_EQ(l, expected);
}

}  // namespace
