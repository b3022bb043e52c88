// The waiting seam seen from a waiter that cannot block (detail/wait_node.hpp): a C++20
// coroutine waits on an EventCount (what the queues, Event and thread joins wait on) and on a
// Future's state with an action WaitNode whose action hands the coroutine to a small event loop.
// Nothing here blocks a coroutine's thread: the loop thread only sleeps when no coroutine can run.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <coroutine>
#include <exception>
#include <optional>
#include <thread>
#include <vector>

#include "concur/detail/event_count.hpp"
#include "concur/detail/wait_node.hpp"
#include "concur/futures.hpp"
#include "concur/queue.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using concur::detail::EventCount;
using concur::detail::WaitNode;

// A fire-and-forget coroutine: starts at once, destroys itself at the end.
struct Detached {
  struct promise_type {
    Detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

// The event loop stand-in: coroutines made runnable by a wake action are queued here and
// resumed by the loop's thread.
struct Loop {
  concur::queue::SimpleQueue<std::coroutine_handle<>> runnable;
  void post(std::coroutine_handle<> h) { runnable.put(h); }
  // Resumes coroutines until `finished` holds; false if that took longer than `limit`.
  template <class Finished>
  bool run_until(Finished finished, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!finished()) {
      auto h = runnable.try_get(5ms);
      if (h) h->resume();
      if (std::chrono::steady_clock::now() > end) return false;
    }
    return true;
  }
};

// co_await on an EventCount: resumes true once ready() returned true (ready may consume),
// false when woken for a change another waiter consumed (the caller waits again).
template <class Ready>
struct EventCountWait {
  EventCountWait(EventCount& e, Ready r, Loop& l) : ec(e), ready(std::move(r)), loop(l) {}
  EventCount& ec;
  Ready ready;
  Loop& loop;
  std::coroutine_handle<> handle{};
  WaitNode node{&EventCountWait::wake, this};
  bool result = false;

  static void wake(void* self) noexcept {
    auto* w = static_cast<EventCountWait*>(self);
    w->loop.post(w->handle);  // only schedules: the action runs under the EventCount's lock
  }
  bool await_ready() { return result = ready(); }
  bool await_suspend(std::coroutine_handle<> h) {
    handle = h;
    ec.link_waiter(node);
    if (ready()) {  // the Dekker re-check after linking
      ec.cancel_waiter(node);
      result = true;
      return false;
    }
    if (node.arm()) return true;  // suspended: the notifier's signal posts us
    result = ready();             // signaled between linking and arming
    return false;
  }
  bool await_resume() {
    if (!result && node.signaled()) result = ready();
    return result;
  }
};
template <class Ready>
EventCountWait<Ready> wait_on(EventCount& ec, Ready ready, Loop& loop) {
  return EventCountWait<Ready>(ec, std::move(ready), loop);
}

// A coroutine that takes `rounds` tokens, one co_await each.
template <class Take>
Detached take_tokens(EventCount& ec, Loop& loop, Take take, int rounds, std::atomic<int>& consumed,
                     std::atomic<int>& finished) {
  for (int r = 0; r < rounds; ++r) {
    while (!co_await wait_on(ec, take, loop)) {
    }
    consumed.fetch_add(1);
  }
  finished.fetch_add(1);
}

TEST(AsyncWaiter, CoroutineWaitsOnEventCountWithoutBlockingItsThread) {
  EventCount ec;
  std::atomic<int> tokens{0};
  Loop loop;
  constexpr int kWaiters = 50, kRounds = 20;
  std::atomic<int> consumed{0}, finished{0};
  auto take = [&] {
    int t = tokens.load(std::memory_order_acquire);
    while (t > 0)
      if (tokens.compare_exchange_weak(t, t - 1, std::memory_order_acq_rel)) return true;
    return false;
  };
  // Fifty coroutines on one loop thread, each taking kRounds tokens.
  std::thread loop_thread([&] {
    for (int i = 0; i < kWaiters; ++i) take_tokens(ec, loop, take, kRounds, consumed, finished);
    EXPECT_TRUE(loop.run_until([&] { return finished.load() == kWaiters; },
                               concur_test::scaled(20000ms)));
  });
  // Two producer threads hand out the tokens one by one.
  std::vector<std::thread> producers;
  for (int p = 0; p < 2; ++p)
    producers.emplace_back([&] {
      for (int i = 0; i < kWaiters * kRounds / 2; ++i) {
        tokens.fetch_add(1, std::memory_order_release);
        ec.notify_one();
      }
    });
  for (auto& t : producers) t.join();
  loop_thread.join();
  EXPECT_EQ(consumed.load(), kWaiters * kRounds);  // conservation: every token taken once
  EXPECT_EQ(tokens.load(), 0);
}

TEST(AsyncWaiter, CancelledWaiterPassesItsSignalOn) {
  EventCount ec;
  int woken[3] = {0, 0, 0};
  auto bump = +[](void* c) noexcept { ++*static_cast<int*>(c); };
  WaitNode a(bump, &woken[0]), b(bump, &woken[1]), c(bump, &woken[2]);

  // Linked and armed, then cancelled before any signal: no action runs.
  ec.link_waiter(a);
  ASSERT_TRUE(a.arm());
  EXPECT_TRUE(ec.cancel_waiter(a));
  ec.notify_one();  // nobody waits
  EXPECT_EQ(woken[0], 0);

  // b then c wait; a signal for b is passed on to c when b gives up (its action ran once).
  ec.link_waiter(b);
  ASSERT_TRUE(b.arm());
  ec.link_waiter(c);
  ASSERT_TRUE(c.arm());
  ec.notify_one();
  EXPECT_EQ(woken[1], 1);
  EXPECT_EQ(woken[2], 0);
  EXPECT_FALSE(ec.cancel_waiter(b));  // was signaled: hands the signal to c
  EXPECT_EQ(woken[2], 1);
  EXPECT_FALSE(ec.cancel_waiter(c));  // already popped by the hand-off (nobody left to wake)
  EXPECT_EQ(woken[1], 1);             // every action ran exactly once
  EXPECT_EQ(woken[2], 1);
}

TEST(AsyncWaiter, SignaledBeforeArmGoesOnAtOnce) {
  EventCount ec;
  int woken = 0;
  WaitNode n(+[](void* c) noexcept { ++*static_cast<int*>(c); }, &woken);
  ec.link_waiter(n);
  ec.notify_one();             // signaled while not yet armed: no action
  EXPECT_FALSE(n.arm());       // the owner goes on without suspending
  EXPECT_EQ(woken, 0);
  EXPECT_TRUE(n.signaled());
}

// co_await on a Future's shared state (what an asyncio wrapper of a concurrent Future will do).
struct FutureWait {
  FutureWait(concur::futures::detail::StateBase& s, Loop& l) : state(s), loop(l) {}
  concur::futures::detail::StateBase& state;
  Loop& loop;
  std::coroutine_handle<> handle{};
  WaitNode node{&FutureWait::wake, this};
  static void wake(void* self) noexcept {
    auto* w = static_cast<FutureWait*>(self);
    w->loop.post(w->handle);
  }
  bool await_ready() const noexcept { return state.done(); }
  bool await_suspend(std::coroutine_handle<> h) {
    handle = h;
    if (!state.add_waiter(node)) return false;  // done meanwhile
    return node.arm();                          // false: signaled already
  }
  void await_resume() const noexcept {}
};

Detached await_result(Loop& loop, std::atomic<int>& got, concur::futures::Future<int> f) {
  co_await FutureWait{*f.state_ptr(), loop};
  got = f.result();
}

TEST(AsyncWaiter, CoroutineAwaitsAFuture) {
  concur::futures::ThreadPoolExecutor pool(2);
  Loop loop;
  concur::threading::Event go;
  auto fut = pool.submit([&] {
    go.wait(concur_test::scaled(10000ms));
    return 42;
  });
  std::atomic<int> got{0};
  await_result(loop, got, fut);
  EXPECT_EQ(got.load(), 0);  // suspended, not blocked
  go.set();
  EXPECT_TRUE(loop.run_until([&] { return got.load() != 0; }, concur_test::scaled(10000ms)));
  EXPECT_EQ(got.load(), 42);
}

}  // namespace
