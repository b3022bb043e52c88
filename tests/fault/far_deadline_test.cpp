// Far deadlines in coarse units and huge timeouts, on every timed call (issue 16, defect 3):
// time_point<steady_clock, hours>::max() (and system_clock, seconds) or hours::max() means
// "wait forever", never "already passed" (converting them to nanoseconds overflowed: UBSan's
// signed overflow in <chrono>, then a wait that returned false at once). The far past means "do
// not wait". Each call here is made where it must wait; it must still be waiting a moment later
// and succeed once released. (The UBSan stage of scripts/test.sh runs this file too.)
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <limits>
#include <thread>
#include <vector>

#include "concur/futures.hpp"
#include "concur/queue.hpp"
#include "concur/threading.hpp"
#include "test_support.hpp"

namespace th = concur::threading;
namespace cq = concur::queue;
namespace cf = concur::futures;
using namespace std::chrono_literals;
using namespace concur_test;
using std::chrono::hours;
using std::chrono::seconds;
using Steady = std::chrono::steady_clock;
using Sys = std::chrono::system_clock;

namespace {

// Calls call() on another thread; it must not return before release() (given a moment to
// misbehave), and must return true after it.
template <class Call, class Release>
void expect_waits_until_released(Call call, Release release, const char* what) {
  std::atomic<int> state{0};  // 1: calling, 2: returned
  std::atomic<bool> result{false};
  std::thread t([&] {
    state.store(1);
    result.store(call());
    state.store(2);
  });
  ASSERT_TRUE(eventually([&] { return state.load() >= 1; })) << what;
  give_time_to_misbehave();
  EXPECT_EQ(state.load(), 1) << what << ": returned at once, the far deadline taken as passed";
  release();
  const bool returned = eventually([&] { return state.load() == 2; });
  EXPECT_TRUE(returned) << what << ": still waiting after release";
  if (!returned) std::abort();  // the thread cannot be joined: fail loudly, not hang
  t.join();
  EXPECT_TRUE(result.load()) << what;
}

// The far time points, as the issue names them, and the far past.
constexpr auto kSteadyHours = std::chrono::time_point<Steady, hours>::max();
constexpr auto kSteadySeconds = std::chrono::time_point<Steady, seconds>::max();
constexpr auto kSysHours = std::chrono::time_point<Sys, hours>::max();
constexpr auto kSysSeconds = std::chrono::time_point<Sys, seconds>::max();

// try_lock_until / acquire with far deadlines on anything with the acquire forms, held by this
// thread (release() releases it).
template <class L>
void acquire_forms_wait(L& held, const char* what) {
  auto check = [&](auto call, const char* form) {
    held.acquire();
    expect_waits_until_released(
        [&] {
          const bool ok = call();
          if (ok) held.release();
          return ok;
        },
        [&] { held.release(); }, (std::string(what) + " " + form).c_str());
  };
  check([&] { return held.try_lock_until(kSteadyHours); }, "try_lock_until(steady hours max)");
  check([&] { return held.try_lock_until(kSteadySeconds); }, "try_lock_until(steady seconds max)");
  check([&] { return held.try_lock_until(kSysHours); }, "try_lock_until(system hours max)");
  check([&] { return held.try_lock_until(kSysSeconds); }, "try_lock_until(system seconds max)");
  check([&] { return held.try_lock_until(Steady::time_point::max()); }, "try_lock_until(steady max)");
  check([&] { return held.try_lock_until(Sys::time_point::max()); }, "try_lock_until(system max)");
  check([&] { return held.try_lock_for(hours::max()); }, "try_lock_for(hours max)");
  check([&] { return held.acquire(hours::max()); }, "acquire(hours max)");
  check([&] { return held.acquire(true, seconds::max()); }, "acquire(true, seconds max)");
  check([&] { return held.acquire(std::chrono::duration<double>(1e300)); }, "acquire(1e300 s)");
  check([&] { return held.acquire(std::chrono::nanoseconds::max()); }, "acquire(ns max)");

  // The far past: no wait, no overflow.
  held.acquire();
  std::thread([&] {
    EXPECT_FALSE(held.try_lock_until(std::chrono::time_point<Steady, hours>::min())) << what;
    EXPECT_FALSE(held.try_lock_until(std::chrono::time_point<Sys, hours>::min())) << what;
    EXPECT_FALSE(held.try_lock_until(std::chrono::time_point<Sys, seconds>::min())) << what;
    EXPECT_FALSE(held.acquire(hours::min())) << what;
  }).join();
  held.release();
}

TEST(FarDeadline, Lock) {
  th::Lock l;
  acquire_forms_wait(l, "Lock");
}
TEST(FarDeadline, RLock) {
  th::RLock l;
  acquire_forms_wait(l, "RLock");
}
TEST(FarDeadline, Semaphore) {
  th::Semaphore s(1);
  acquire_forms_wait(s, "Semaphore");
}
TEST(FarDeadline, BoundedSemaphore) {
  th::BoundedSemaphore s(1);
  acquire_forms_wait(s, "BoundedSemaphore");
}
TEST(FarDeadline, ConditionLock) {
  th::Condition c;
  acquire_forms_wait(c, "Condition");
}

TEST(FarDeadline, ConditionWait) {
  th::Condition c;
  std::atomic<bool> flag{false};
  auto notify = [&] {
    std::lock_guard g(c);
    flag.store(true);
    c.notify_all();
  };
  expect_waits_until_released(
      [&] {
        std::lock_guard g(c);
        return c.wait_for([&] { return flag.load(); }, hours::max());
      },
      notify, "Condition.wait_for(pred, hours max)");
  flag.store(false);
  expect_waits_until_released(
      [&] {
        std::lock_guard g(c);
        while (!flag.load())
          if (!c.wait(seconds::max())) return false;
        return true;
      },
      notify, "Condition.wait(seconds max)");
}

TEST(FarDeadline, Event) {
  for (auto wait : {+[](th::Event& e) { return e.wait(hours::max()); },
                    +[](th::Event& e) { return e.wait(seconds::max()); },
                    +[](th::Event& e) { return e.wait(std::chrono::duration<double>(1e300)); }}) {
    th::Event e;
    expect_waits_until_released([&] { return wait(e); }, [&] { e.set(); }, "Event.wait");
  }
}

TEST(FarDeadline, Barrier) {
  th::Barrier b(2);
  expect_waits_until_released([&] { return b.wait(hours::max()) <= 1; },
                              [&] { b.wait(long_wait()); }, "Barrier.wait(hours max)");
  th::Barrier d(2, {}, seconds::max());  // a far default timeout
  expect_waits_until_released([&] { return d.wait() <= 1; }, [&] { d.wait(long_wait()); },
                              "Barrier(2, {}, seconds max).wait()");
}

TEST(FarDeadline, ThreadJoin) {
  th::Event go;
  th::Thread t([&] { go.wait(long_wait()); });
  t.start();
  expect_waits_until_released([&] { return t.join(hours::max()); }, [&] { go.set(); },
                              "Thread.join(hours max)");
  th::Event go2;
  th::Thread u([&] { go2.wait(long_wait()); });
  u.start();
  expect_waits_until_released([&] { return u.join(seconds::max()); }, [&] { go2.set(); },
                              "Thread.join(seconds max)");
}

TEST(FarDeadline, TimerWithFarIntervalWaitsUntilCancelled) {
  std::atomic<bool> ran{false};
  th::Timer t(hours::max(), [&] { ran.store(true); });
  t.start();
  give_time_to_misbehave();
  EXPECT_FALSE(ran.load()) << "a far interval ran at once";
  t.cancel();
  EXPECT_TRUE(t.join(long_wait()));
  EXPECT_FALSE(ran.load());
}

TEST(FarDeadline, QueueGetAndPut) {
  cq::Queue<int> q(1);
  expect_waits_until_released([&] { return q.get(hours::max()) == 7; }, [&] { q.put(7); },
                              "Queue.get(hours max)");
  expect_waits_until_released([&] { return q.get(true, seconds::max()) == 8; },
                              [&] { q.put(8); }, "Queue.get(true, seconds max)");
  expect_waits_until_released([&] { return q.try_get(hours::max()) == 9; }, [&] { q.put(9); },
                              "Queue.try_get(hours max)");
  q.put(1);  // full
  expect_waits_until_released(
      [&] {
        q.put(2, hours::max());
        return true;
      },
      [&] { EXPECT_EQ(q.get(long_wait()), 1); }, "Queue.put(x, hours max)");
  expect_waits_until_released([&] { return q.try_put(3, seconds::max()); },
                              [&] { EXPECT_EQ(q.get(long_wait()), 2); }, "Queue.try_put(x, seconds max)");
  expect_waits_until_released(
      [&] {
        q.put(4, true, hours::max());
        return true;
      },
      [&] { EXPECT_EQ(q.get(long_wait()), 3); }, "Queue.put(x, true, hours max)");

  cq::SimpleQueue<int> s;
  expect_waits_until_released([&] { return s.get(hours::max()) == 1; }, [&] { s.put(1); },
                              "SimpleQueue.get(hours max)");
  cq::PriorityQueue<int> p(1);
  expect_waits_until_released([&] { return p.get(hours::max()) == 1; }, [&] { p.put(1); },
                              "PriorityQueue.get(hours max)");
  cq::LifoQueue<int> l(1);
  expect_waits_until_released([&] { return l.get(seconds::max()) == 1; }, [&] { l.put(1); },
                              "LifoQueue.get(seconds max)");
}

TEST(FarDeadline, FutureResultExceptionWaitAsCompleted) {
  {
    cf::Future<int> f;
    expect_waits_until_released([&] { return f.result(hours::max()) == 5; },
                                [&] { f.set_result(5); }, "Future.result(hours max)");
  }
  {
    cf::Future<int> f;
    expect_waits_until_released([&] { return f.exception(seconds::max()) == nullptr; },
                                [&] { f.set_result(5); }, "Future.exception(seconds max)");
  }
  {
    std::vector<cf::Future<int>> fs(2);
    expect_waits_until_released(
        [&] { return cf::wait(fs, hours::max()).done.size() == 2; },
        [&] {
          fs[0].set_result(1);
          fs[1].set_result(2);
        },
        "wait(futures, hours max)");
  }
  {
    std::vector<cf::Future<int>> fs(2);
    expect_waits_until_released(
        [&] {
          int n = 0;
          for (cf::Future<int> g : cf::as_completed(fs, seconds::max())) n += g.result();
          return n == 3;
        },
        [&] {
          fs[0].set_result(1);
          fs[1].set_result(2);
        },
        "as_completed(futures, seconds max)");
  }
}

TEST(FarDeadline, MapTimeout) {
  cf::ThreadPoolExecutor pool(1);
  th::Event go;
  const std::vector<int> in{1, 2};
  expect_waits_until_released(
      [&] {
        int n = 0;
        for (int v : pool.map([&](int x) { go.wait(long_wait()); return x; }, in, hours::max())) n += v;
        return n == 3;
      },
      [&] { go.set(); }, "map(fn, inputs, hours max)");
}

}  // namespace
