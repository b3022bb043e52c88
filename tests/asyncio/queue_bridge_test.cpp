// aio::get(q) on concur::queue queues fed by threads: suspension without blocking the loop,
// every queue kind, move-only items, shutdown, cancellation and timeouts that lose nothing, and
// a conservation stress test with producer threads, consumer threads and consumer tasks.
// Every thread is joined; every wait is bounded (wait_for / timed gets).
#include <concur/asyncio.hpp>
#include <concur/queue.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace aio = concur::asyncio;
namespace cq = concur::queue;
using namespace std::chrono_literals;

namespace {

aio::Task<void> qb_settle() {
  for (int i = 0; i < 8; ++i) co_await aio::sleep(0s);
}

template <class T>
T qb_run(aio::Task<T> main) {
  return aio::run(aio::wait_for(std::move(main), 60s));
}

template <class Q>
aio::Task<typename Q::value_type> qb_get_bounded(Q* q) {
  co_return co_await aio::wait_for(aio::get(*q), 10s);
}

// A task that keeps running while another waits in aio::get: the loop is not blocked.
aio::Task<void> qb_ticker(std::atomic<int>* ticks, std::atomic<bool>* stop) {
  while (!stop->load()) {
    ticks->fetch_add(1);
    co_await aio::sleep(0s);
  }
}

aio::Task<void> qb_basic() {
  cq::Queue<int> q;
  q.put(1);
  const int first = co_await aio::get(q);  // an item there: at once
  EXPECT_EQ(first, 1);

  std::atomic<int> ticks{0};
  std::atomic<bool> stop{false};
  auto ticker = aio::create_task(qb_ticker(&ticks, &stop));
  auto getter = aio::create_task(qb_get_bounded(&q));
  co_await qb_settle();
  EXPECT_FALSE(getter.done());
  const int before = ticks.load();
  co_await qb_settle();
  EXPECT_GT(ticks.load(), before);  // the loop runs other tasks while the getter waits
  std::thread producer([&q] { q.put(42); });
  producer.join();  // the put does not block; the wake-up reaches the loop from that thread
  const int v = co_await getter;
  EXPECT_EQ(v, 42);
  stop = true;
  co_await ticker;
  EXPECT_TRUE(q.empty());
}

template <class Q>
aio::Task<void> qb_kind(std::vector<int> expected) {
  Q q;
  std::thread producer([&q] {
    q.put(3);
    q.put(1);
    q.put(2);
  });
  producer.join();
  std::vector<int> got;
  for (int i = 0; i < 3; ++i) {
    const int x = co_await qb_get_bounded(&q);
    got.push_back(x);
  }
  EXPECT_EQ(got, expected);
}

aio::Task<void> qb_pollable_and_move_only() {
  cq::PollableQueue<std::unique_ptr<int>> q;
  auto getter = aio::create_task(qb_get_bounded(&q));
  co_await qb_settle();
  std::thread producer([&q] { q.put(std::make_unique<int>(7)); });
  producer.join();
  std::unique_ptr<int> p = co_await std::move(getter);
  EXPECT_EQ(*p, 7);
  cq::Queue<std::unique_ptr<int>> r(1);
  r.put(std::make_unique<int>(8));
  std::unique_ptr<int> s = co_await aio::get(r);
  EXPECT_EQ(*s, 8);
}

// Items queued before shutdown() are still returned; then the queue's ShutDown; a waiting
// getter wakes with it.
aio::Task<void> qb_shutdown() {
  cq::Queue<int> q;
  q.put(1);
  q.shutdown();
  const int a = co_await aio::get(q);
  EXPECT_EQ(a, 1);
  bool threw = false;
  try {
    co_await aio::get(q);
  } catch (const cq::ShutDown&) {
    threw = true;
  }
  EXPECT_TRUE(threw);

  cq::PollableQueue<int> r;
  auto getter = aio::create_task(qb_get_bounded(&r));
  co_await qb_settle();
  std::thread closer([&r] { r.shutdown(); });
  closer.join();
  threw = false;
  try {
    co_await getter;
  } catch (const cq::ShutDown&) {
    threw = true;
  }
  EXPECT_TRUE(threw);
}

// A cancelled or timed-out getter takes nothing: the item put afterwards stays in the queue.
aio::Task<void> qb_cancel_and_timeout() {
  cq::Queue<int> q;
  auto getter = aio::create_task(aio::get(q));
  co_await qb_settle();
  getter.cancel();
  bool cancelled = false;
  try {
    co_await getter;
  } catch (const aio::CancelledError&) {
    cancelled = true;
  }
  EXPECT_TRUE(cancelled);
  bool timed_out = false;
  try {
    co_await aio::wait_for(aio::get(q), 5ms);
  } catch (const concur::TimeoutError&) {
    timed_out = true;
  }
  EXPECT_TRUE(timed_out);
  timed_out = false;
  try {
    auto guard = co_await aio::timeout(5ms);
    co_await aio::get(q);
  } catch (const concur::TimeoutError&) {
    timed_out = true;
  }
  EXPECT_TRUE(timed_out);
  q.put(5);
  co_await qb_settle();
  EXPECT_EQ(q.qsize(), 1u);
  // A thread blocked in get() is not starved by the waiters that left: it gets the next item.
  std::optional<int> by_thread;
  std::thread consumer([&q, &by_thread] { by_thread = q.try_get(10s); });
  consumer.join();
  EXPECT_EQ(by_thread, 5);
}

// The put's wake-up has reached the loop's remote queue (the putting thread has been joined)
// but the loop has not run it yet when the getter is cancelled: too late to detach, so the
// getter resumes normally and takes the item; the wake-up that cancel_waiter passed on to the
// second getter finds nothing and it waits again, for the next item.
aio::Task<void> qb_woken_then_cancelled() {
  cq::Queue<int> q;
  auto g1 = aio::create_task(aio::get(q));
  auto g2 = aio::create_task(qb_get_bounded(&q));
  co_await qb_settle();
  std::thread producer([&q] { q.put(1); });
  producer.join();  // g1 is signaled; the loop (busy running us) has not resumed it yet
  g1.cancel();
  co_await qb_settle();
  EXPECT_TRUE(g1.done());
  EXPECT_FALSE(g1.cancelled());
  EXPECT_EQ(g1.result(), 1);
  EXPECT_FALSE(g2.done());
  std::thread producer2([&q] { q.put(2); });
  producer2.join();
  const int v = co_await g2;
  EXPECT_EQ(v, 2);
  EXPECT_TRUE(q.empty());
}

// ---- conservation ------------------------------------------------------------------------------

struct QbStress {
  static constexpr int kProducers = 3, kPerProducer = 1500;
  static constexpr int kItems = kProducers * kPerProducer;
  cq::Queue<int> q{64};
  std::vector<int> seen_by_tasks = std::vector<int>(kItems, 0);
  int timeouts = 0;
};

aio::Task<void> qb_stress_consumer(QbStress* s) {
  for (;;) {
    const int item = co_await qb_get_bounded(&s->q);
    if (item < 0) co_return;
    ++s->seen_by_tasks[static_cast<std::size_t>(item)];
  }
}

// Gets with a tiny timeout, over and over: cancellations racing the producers' wake-ups.
aio::Task<void> qb_stress_impatient(QbStress* s, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    std::optional<int> item;
    try {
      item = co_await aio::wait_for(aio::get(s->q), 100us);
    } catch (const concur::TimeoutError&) {
      ++s->timeouts;
    }
    if (item) {
      if (*item < 0) {  // a sentinel is not ours: put it back
        s->q.put(*item);
        co_return;
      }
      ++s->seen_by_tasks[static_cast<std::size_t>(*item)];
    }
  }
}

aio::Task<void> qb_stress() {
  constexpr int kTaskConsumers = 3, kThreadConsumers = 2;
  QbStress s;
  std::vector<std::vector<int>> seen_by_threads(kThreadConsumers);
  std::atomic<int> thread_failures{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kThreadConsumers; ++c) {
    threads.emplace_back([&s, &seen_by_threads, &thread_failures, c] {
      for (;;) {
        std::optional<int> item = s.q.try_get(10s);
        if (!item) {
          thread_failures.fetch_add(1);
          return;
        }
        if (*item < 0) return;
        seen_by_threads[c].push_back(*item);
      }
    });
  }
  for (int p = 0; p < QbStress::kProducers; ++p) {
    threads.emplace_back([&s, p] {
      for (int i = 0; i < QbStress::kPerProducer; ++i) s.q.put(p * QbStress::kPerProducer + i);
    });
  }
  std::vector<aio::Task<void>> tasks;
  for (int c = 0; c < kTaskConsumers; ++c) tasks.push_back(aio::create_task(qb_stress_consumer(&s)));
  std::vector<aio::Task<void>> impatient;
  for (int c = 0; c < 2; ++c) impatient.push_back(aio::create_task(qb_stress_impatient(&s, 300)));
  co_await aio::gather(std::move(impatient));
  // The producers finish on their own; wait for them without blocking the loop.
  for (int p = 0; p < QbStress::kProducers; ++p) {
    std::thread& t = threads[static_cast<std::size_t>(kThreadConsumers + p)];
    co_await aio::to_thread([&t] { t.join(); });
  }
  for (int c = 0; c < kTaskConsumers + kThreadConsumers; ++c) s.q.put(-1);
  co_await aio::gather(std::move(tasks));
  for (int c = 0; c < kThreadConsumers; ++c) threads[static_cast<std::size_t>(c)].join();
  EXPECT_EQ(thread_failures.load(), 0);
  std::vector<int> total = s.seen_by_tasks;
  for (auto& v : seen_by_threads)
    for (int item : v) ++total[static_cast<std::size_t>(item)];
  int wrong = 0;
  for (int n : total) wrong += n != 1;
  EXPECT_EQ(wrong, 0);
  EXPECT_TRUE(s.q.empty());
}

}  // namespace

TEST(AioQueueBridge, GetSuspendsWithoutBlockingTheLoop) { qb_run(qb_basic()); }
TEST(AioQueueBridge, EveryQueueKind) {
  qb_run(qb_kind<cq::Queue<int>>({3, 1, 2}));
  qb_run(qb_kind<cq::LifoQueue<int>>({2, 1, 3}));
  qb_run(qb_kind<cq::PriorityQueue<int>>({1, 2, 3}));
  qb_run(qb_kind<cq::PollableQueue<int>>({3, 1, 2}));
  qb_run(qb_kind<cq::SimpleQueue<int>>({3, 1, 2}));
}
TEST(AioQueueBridge, PollableQueueAndMoveOnlyItems) { qb_run(qb_pollable_and_move_only()); }
TEST(AioQueueBridge, ShutDown) { qb_run(qb_shutdown()); }
TEST(AioQueueBridge, CancelledAndTimedOutGettersTakeNothing) { qb_run(qb_cancel_and_timeout()); }
TEST(AioQueueBridge, WokenThenCancelledGetterTakesItsItem) { qb_run(qb_woken_then_cancelled()); }
TEST(AioQueueBridge, ConservationWithThreadsTasksAndTimeouts) { qb_run(qb_stress()); }
