// aio::EventLoop: callbacks, timers, handles, cross-thread calls, descriptors, running and
// closing (Python's Lib/test/test_asyncio/test_base_events.py and test_events.py, the parts
// that apply).
#include <concur/asyncio.hpp>

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "bounded_child.hpp"
#include "test_support.hpp"

namespace aio = concur::asyncio;
using namespace std::chrono_literals;

TEST(AioLoop, CallSoonRunsInOrderAndStopEndsRunForever) {
  aio::EventLoop loop;
  std::vector<int> order;
  loop.call_soon([&] { order.push_back(1); });
  loop.call_soon([&] { order.push_back(2); });
  loop.call_soon([&] {
    order.push_back(3);
    loop.stop();
  });
  loop.call_soon([&] { order.push_back(4); });  // ready in the same iteration: still runs
  loop.run_forever();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_FALSE(loop.is_running());
}

TEST(AioLoop, TimersRunInDeadlineOrderAndCancelledOnesNever) {
  aio::EventLoop loop;
  std::vector<int> order;
  const auto t0 = loop.time();
  // Deadlines from one instant, so that a slow registration cannot reorder them.
  loop.call_at(t0 + 30ms, [&] {
    order.push_back(3);
    loop.stop();
  });
  loop.call_at(t0 + 10ms, [&] { order.push_back(1); });
  aio::TimerHandle h = loop.call_at(t0 + 20ms, [&] { order.push_back(99); });
  loop.call_at(t0 + 20ms, [&] { order.push_back(2); });
  h.cancel();
  EXPECT_TRUE(h.cancelled());
  loop.run_forever();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_GE(loop.time() - t0, 30ms);
}

TEST(AioLoop, ManyCancelledTimersLeaveNothingBehind) {
  aio::EventLoop loop;
  int ran = 0;
  for (int round = 0; round < 100; ++round) {
    std::vector<aio::TimerHandle> hs;
    for (int i = 0; i < 1000; ++i) hs.push_back(loop.call_later(1h, [&] { ++ran; }));
    for (auto& h : hs) h.cancel();
  }
  loop.call_soon([&] { loop.stop(); });
  loop.run_forever();  // would sleep an hour if a cancelled timer were left in the heap
  EXPECT_EQ(ran, 0);
}

TEST(AioLoop, AnExceptionFromACallbackIsReportedAndTheLoopGoesOn) {
  aio::EventLoop loop;
  bool after = false;
  loop.call_soon([] { throw std::runtime_error("callback failed"); });
  loop.call_soon([&] {
    after = true;
    loop.stop();
  });
  testing::internal::CaptureStderr();
  loop.run_forever();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(after);
  EXPECT_NE(err.find("callback failed"), std::string::npos) << err;
}

TEST(AioLoop, CallSoonThreadsafeFromManyThreadsRunsEveryCallback) {
  aio::EventLoop loop;
  constexpr int kThreads = 4, kEach = 2000;
  int ran = 0;  // loop thread only
  std::atomic<int> started{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      started.fetch_add(1);
      for (int i = 0; i < kEach; ++i)
        loop.call_soon_threadsafe([&] {
          if (++ran == kThreads * kEach) loop.stop();
        });
    });
  }
  aio::TimerHandle guard = loop.call_later(concur_test::long_wait(), [&] { loop.stop(); });
  loop.run_forever();
  guard.cancel();
  for (auto& t : threads) t.join();
  EXPECT_EQ(ran, kThreads * kEach);
}

TEST(AioLoop, CallSoonThreadsafeWakesASleepingLoop) {
  aio::EventLoop loop;
  bool ran = false;
  std::thread t([&] {
    concur_test::give_time_to_misbehave();  // the loop is likely asleep in epoll by now
    loop.call_soon_threadsafe([&] {
      ran = true;
      loop.stop();
    });
  });
  aio::TimerHandle guard = loop.call_later(concur_test::long_wait(), [&] { loop.stop(); });
  loop.run_forever();
  guard.cancel();
  t.join();
  EXPECT_TRUE(ran);
}

TEST(AioLoop, ReadersAndWritersFollowTheDescriptor) {
  aio::EventLoop loop;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::string got;
  loop.add_writer(fds[1], [&] {
    EXPECT_EQ(::write(fds[1], "hi", 2), 2);
    EXPECT_TRUE(loop.remove_writer(fds[1]));
  });
  loop.add_reader(fds[0], [&] {
    char buf[8];
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) got.append(buf, static_cast<std::size_t>(n));
    if (got.size() >= 2) {
      loop.remove_reader(fds[0]);
      loop.stop();
    }
  });
  aio::TimerHandle guard = loop.call_later(concur_test::long_wait(), [&] { loop.stop(); });
  loop.run_forever();
  guard.cancel();
  EXPECT_EQ(got, "hi");
  EXPECT_FALSE(loop.remove_reader(fds[0]));
  ::close(fds[0]);
  ::close(fds[1]);
}

namespace {
aio::Task<int> loop_identity(aio::EventLoop* expected) {
  EXPECT_EQ(&aio::get_running_loop(), expected);
  co_await aio::sleep(0s);
  co_return 7;
}
aio::Task<int> plus_one_on_its_own_loop(int x) {
  aio::EventLoop* mine = &aio::get_running_loop();
  co_await aio::sleep(1ms);
  EXPECT_EQ(&aio::get_running_loop(), mine);
  co_return x + 1;
}
aio::Task<void> nested_run_is_refused() {
  EXPECT_THROW(aio::run(loop_identity(nullptr)), concur::RuntimeError);
  co_return;
}
}  // namespace

TEST(AioLoop, RunUntilCompleteAndTheRunningLoop) {
  EXPECT_THROW(aio::get_running_loop(), concur::RuntimeError);
  aio::EventLoop loop;
  EXPECT_EQ(loop.run_until_complete(loop_identity(&loop)), 7);
  EXPECT_EQ(loop.run_until_complete(loop_identity(&loop)), 7);  // reusable until closed
  loop.run_until_complete(nested_run_is_refused());
  loop.close();
  EXPECT_TRUE(loop.is_closed());
  EXPECT_THROW(loop.call_soon([] {}), concur::RuntimeError);
  EXPECT_THROW(loop.run_forever(), concur::RuntimeError);
  loop.close();  // idempotent
}

namespace {
aio::Task<int> stopped_midway() {
  aio::get_running_loop().stop();
  co_await aio::sleep(10ms);
  co_return 1;
}
}  // namespace

TEST(AioLoop, RunUntilCompleteStoppedFirstThrows) {
  aio::EventLoop loop;
  EXPECT_THROW(loop.run_until_complete(stopped_midway()), concur::RuntimeError);
}

TEST(AioLoop, OneLoopPerThreadAndLoopsInSeveralThreads) {
  std::vector<std::thread> threads;
  std::atomic<int> sum{0};
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] { sum += aio::run(plus_one_on_its_own_loop(i)); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(sum.load(), 1 + 2 + 3 + 4);
}

namespace {
aio::Task<void> destroyed_loop_task(bool* cleaned) {
  struct Flag {
    bool* f;
    ~Flag() { *f = true; }
  } flag{cleaned};
  co_await aio::sleep(1h);
}
}  // namespace

TEST(AioLoop, DestroyingALoopCancelsAndFinishesItsPendingTasks) {
  bool cleaned = false;
  {
    aio::EventLoop loop;
    loop.call_soon([&] { loop.stop(); });
    aio::Task<void> t = loop.create_task(destroyed_loop_task(&cleaned));
    loop.run_forever();
    EXPECT_FALSE(t.done());
  }
  EXPECT_TRUE(cleaned);
}

TEST(AioLoop, CallbacksTakeArgumentsAsPythonsCallSoon) {
  aio::EventLoop loop;
  std::vector<int> got;
  auto record = [&got](int a, int b) { got.push_back(a * 10 + b); };
  loop.call_soon(record, 1, 2);
  loop.call_later(1ms, record, 3, 4);
  loop.call_at(loop.time() + 2ms, [&](int x) {
    got.push_back(x);
    loop.stop();
  }, 5);
  aio::TimerHandle guard = loop.call_later(concur_test::long_wait(), [&] { loop.stop(); });
  loop.run_forever();
  guard.cancel();
  EXPECT_EQ(got, (std::vector<int>{12, 34, 5}));
}

// A child forked from inside a running loop (a task that starts a process by fork) has no
// running loop: aio::run makes its own, as in Python 3.12, instead of refusing because the
// parent's loop looked like it was running.
namespace {
aio::Task<int> doubled_later(int x) {
  co_await aio::sleep(1ms);
  co_return 2 * x;
}
aio::Task<int> fork_from_a_task() {
  co_await aio::sleep(0ms);
  co_return concur_test::fork_and_wait([] {
    CHILD_CHECK(aio::EventLoop::running_loop() == nullptr);
    bool refused = false;
    try {
      (void)aio::get_running_loop();
    } catch (const concur::RuntimeError&) {
      refused = true;
    }
    CHILD_CHECK(refused);
    CHILD_CHECK(aio::run(doubled_later(21)) == 42);
    return 0;
  });
}
}  // namespace

TEST(AioLoop, AChildForkedInsideARunningLoopRunsALoopOfItsOwn) {
  EXPECT_EQ(aio::run(fork_from_a_task()), 0);
  // The parent's loop is untouched: another run works as before.
  EXPECT_EQ(aio::run(doubled_later(5)), 10);
}
