// aio queues: Queue, PriorityQueue, LifoQueue (the parts of CPython 3.13's
// Lib/test/test_asyncio/test_queues.py that apply: order, maxsize, blocking, cancellation races,
// task_done/join, shutdown), move-only items, and a conservation stress test.
#include <concur/asyncio.hpp>

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "test_support.hpp"

namespace aio = concur::asyncio;
using namespace std::chrono_literals;

namespace {

aio::Task<void> qu_settle() {
  for (int i = 0; i < 8; ++i) co_await aio::sleep(0s);
}

template <class E, class T>
aio::Task<bool> qu_throws(aio::Task<T> t) {
  try {
    co_await std::move(t);
  } catch (const E&) {
    co_return true;
  }
  co_return false;
}

template <class T>
T qu_run(aio::Task<T> main) {
  return aio::run(aio::wait_for(std::move(main), 30s));
}

template <class F>
bool qu_sync_throws(F f) {
  try {
    f();
  } catch (const concur::Error&) {
    return true;
  }
  return false;
}

}  // namespace

TEST(AioQueue, StateAndNowaitForms) {
  aio::Queue<int> q(2);
  EXPECT_EQ(q.maxsize(), 2);
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.full());
  q.put_nowait(1);
  q.put_nowait(2);
  EXPECT_EQ(q.qsize(), 2u);
  EXPECT_TRUE(q.full());
  EXPECT_THROW(q.put_nowait(3), aio::QueueFull);
  EXPECT_EQ(q.get_nowait(), 1);
  EXPECT_EQ(q.get_nowait(), 2);
  EXPECT_THROW(q.get_nowait(), aio::QueueEmpty);
  aio::Queue<int> unbounded(-1);  // maxsize <= 0: never full
  for (int i = 0; i < 100; ++i) unbounded.put_nowait(i);
  EXPECT_FALSE(unbounded.full());
  EXPECT_EQ(unbounded.maxsize(), -1);
}

TEST(AioQueue, OrderOfEachKind) {
  aio::Queue<int> fifo;
  aio::LifoQueue<int> lifo;
  aio::PriorityQueue<int> prio;
  aio::PriorityQueue<int, std::greater<int>> largest_first;
  for (int x : {1, 3, 2}) {
    fifo.put_nowait(x);
    lifo.put_nowait(x);
    prio.put_nowait(x);
    largest_first.put_nowait(x);
  }
  std::vector<int> a, b, c, d;
  for (int i = 0; i < 3; ++i) {
    a.push_back(fifo.get_nowait());
    b.push_back(lifo.get_nowait());
    c.push_back(prio.get_nowait());
    d.push_back(largest_first.get_nowait());
  }
  EXPECT_EQ(a, (std::vector<int>{1, 3, 2}));
  EXPECT_EQ(b, (std::vector<int>{2, 3, 1}));
  EXPECT_EQ(c, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(d, (std::vector<int>{3, 2, 1}));
  aio::PriorityQueue<std::pair<int, std::string>> jobs;
  jobs.put_nowait({2, "b"});
  jobs.put_nowait({1, "a"});
  jobs.put_nowait({3, "c"});
  EXPECT_EQ(jobs.get_nowait().second, "a");
  EXPECT_EQ(jobs.get_nowait().second, "b");
  EXPECT_EQ(jobs.get_nowait().second, "c");
}

namespace {

aio::Task<void> qu_put_all(aio::Queue<int>* q, int n, int* done) {
  for (int i = 0; i < n; ++i) {
    co_await q->put(i);
    ++*done;
  }
}

// test_maxsize: a put suspends while the queue is full.
aio::Task<void> qu_maxsize() {
  aio::Queue<int> q(2);
  int done = 0;
  auto t = aio::create_task(qu_put_all(&q, 3, &done));
  co_await qu_settle();
  EXPECT_EQ(done, 2);
  EXPECT_TRUE(q.full());
  EXPECT_FALSE(t.done());
  const int first = co_await q.get();
  EXPECT_EQ(first, 0);
  co_await qu_settle();
  EXPECT_EQ(done, 3);
  EXPECT_TRUE(t.done());
  EXPECT_EQ(q.get_nowait(), 1);
  EXPECT_EQ(q.get_nowait(), 2);
}

// test_blocking_get_wait / test_put_with_waiting_getters
aio::Task<void> qu_blocking_get() {
  aio::Queue<int> q;
  auto g = aio::create_task(q.get());
  co_await qu_settle();
  EXPECT_FALSE(g.done());
  aio::Queue<int>* qp = &q;
  aio::get_running_loop().call_soon([qp] { qp->put_nowait(7); });
  const int v = co_await g;
  EXPECT_EQ(v, 7);
  auto g2 = aio::create_task(q.get());
  co_await qu_settle();
  co_await q.put(8);
  const int v2 = co_await g2;
  EXPECT_EQ(v2, 8);
  EXPECT_TRUE(q.empty());
}

// test_get_cancelled_race: a cancelled getter leaves; the item goes to the next one.
aio::Task<void> qu_get_cancelled_race() {
  aio::Queue<std::string> q;
  auto t1 = aio::create_task(q.get());
  auto t2 = aio::create_task(q.get());
  co_await qu_settle();
  t1.cancel();
  co_await qu_settle();
  EXPECT_TRUE(t1.cancelled());
  co_await q.put("a");
  co_await qu_settle();
  EXPECT_TRUE(t2.done());
  EXPECT_EQ(t2.result(), "a");
  EXPECT_TRUE(q.empty());
}

// test_put_cancelled_race
aio::Task<void> qu_put_cancelled_race() {
  aio::Queue<std::string> q(1);
  auto put_a = aio::create_task(q.put("a"));
  auto put_b = aio::create_task(q.put("b"));
  auto put_c = aio::create_task(q.put("X"));
  co_await qu_settle();
  EXPECT_TRUE(put_a.done());
  EXPECT_FALSE(put_b.done());
  put_c.cancel();
  co_await qu_settle();
  EXPECT_TRUE(put_c.cancelled());
  EXPECT_EQ(q.get_nowait(), "a");
  co_await qu_settle();
  EXPECT_EQ(q.get_nowait(), "b");
  co_await put_b;
  EXPECT_TRUE(q.empty());
}

// A getter woken for an item and then cancelled still takes it (nothing is lost); the next
// item goes to the next getter.
aio::Task<void> qu_woken_getter_cancelled() {
  aio::Queue<int> q;
  auto g1 = aio::create_task(q.get());
  auto g2 = aio::create_task(q.get());
  co_await qu_settle();
  q.put_nowait(1);  // wakes g1
  g1.cancel();      // too late to take the wake-up back
  co_await qu_settle();
  EXPECT_TRUE(g1.done());
  EXPECT_FALSE(g1.cancelled());
  EXPECT_EQ(g1.result(), 1);
  EXPECT_FALSE(g2.done());
  q.put_nowait(2);
  co_await qu_settle();
  EXPECT_EQ(g2.result(), 2);
}

// A putter woken for a free slot and then cancelled still puts.
aio::Task<void> qu_woken_putter_cancelled() {
  aio::Queue<int> q(1);
  q.put_nowait(1);
  auto p1 = aio::create_task(q.put(10));
  auto p2 = aio::create_task(q.put(20));
  co_await qu_settle();
  EXPECT_EQ(q.get_nowait(), 1);  // wakes p1
  p1.cancel();
  co_await qu_settle();
  EXPECT_TRUE(p1.done());
  EXPECT_FALSE(p1.cancelled());
  EXPECT_EQ(q.get_nowait(), 10);  // wakes p2
  co_await qu_settle();
  EXPECT_EQ(q.get_nowait(), 20);
  EXPECT_TRUE(p2.done());
}

// test_cancelled_puts_not_being_held_in_self_putters /
// test_cancelled_getters_not_being_held_in_self_getters
aio::Task<void> qu_cancelled_waiters_leave() {
  aio::Queue<int> q(1);
  q.put_nowait(1);
  auto put_task = aio::create_task(q.put(2));
  co_await qu_settle();
  put_task.cancel();
  const bool cancelled = co_await qu_throws<aio::CancelledError>(put_task.share());
  EXPECT_TRUE(cancelled);
  EXPECT_EQ(q.get_nowait(), 1);
  q.put_nowait(3);  // the cancelled putter did not put
  EXPECT_EQ(q.qsize(), 1u);
  EXPECT_EQ(q.get_nowait(), 3);

  aio::Queue<int> r(5);
  bool timed_out = false;
  try {
    auto guard = co_await aio::timeout(5ms);
    co_await r.get();
  } catch (const concur::TimeoutError&) {
    timed_out = true;
  }
  EXPECT_TRUE(timed_out);
  const bool wf = co_await qu_throws<concur::TimeoutError>(aio::wait_for(r.get(), 5ms));
  EXPECT_TRUE(wf);
  r.put_nowait(9);
  co_await qu_settle();
  EXPECT_EQ(r.qsize(), 1u);  // no phantom getter took it
  EXPECT_EQ(r.get_nowait(), 9);
}

aio::Task<void> qu_worker(aio::Queue<int>* q, long* accumulator) {
  for (;;) {
    const int item = co_await q->get();
    *accumulator += item;
    co_await aio::sleep(0s);
    q->task_done();
  }
}

// test_task_done / test_join_empty_queue
aio::Task<void> qu_task_done_join() {
  aio::Queue<int> q;
  co_await q.join();  // nothing unfinished: at once
  for (int i = 0; i < 100; ++i) q.put_nowait(i);
  long accumulator = 0;
  std::vector<aio::Task<void>> workers;
  for (int i = 0; i < 3; ++i) workers.push_back(aio::create_task(qu_worker(&q, &accumulator)));
  co_await q.join();
  EXPECT_EQ(accumulator, 4950);
  for (auto& w : workers) w.cancel();
  auto outcomes = co_await aio::gather(aio::return_exceptions, std::move(workers));
  EXPECT_EQ(outcomes.size(), 3u);
  bool threw = false;
  try {
    q.task_done();
  } catch (const concur::ValueError& e) {
    threw = std::string(e.what()) == "task_done() called too many times";
  }
  EXPECT_TRUE(threw);
  // join() waits for the task_done() of an item got.
  q.put_nowait(1);
  auto j = aio::create_task(q.join());
  co_await qu_settle();
  EXPECT_FALSE(j.done());
  (void)q.get_nowait();
  co_await qu_settle();
  EXPECT_FALSE(j.done());
  q.task_done();
  co_await qu_settle();
  EXPECT_TRUE(j.done());
}

aio::Task<void> qu_consume_n(aio::Queue<int>* q, int n, std::vector<int>* got) {
  for (int i = 0; i < n; ++i) {
    const int x = co_await q->get();
    got->push_back(x);
  }
}
aio::Task<void> qu_produce_n(aio::Queue<int>* q, int n) {
  for (int i = 0; i < n; ++i) co_await q->put(i);
}

// test_why_are_getters_waiting / test_why_are_putters_waiting: a bounded queue between a
// producer and consumers, and putters waiting on a full queue, all finish.
aio::Task<void> qu_getters_and_putters_waiting() {
  aio::Queue<int> q(1);
  std::vector<int> got;
  co_await aio::gather(qu_produce_n(&q, 5), qu_consume_n(&q, 5, &got));
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4}));

  aio::Queue<int> r(2);
  co_await r.put(0);
  auto p1 = aio::create_task(r.put(1));
  auto p2 = aio::create_task(r.put(2));
  co_await qu_settle();
  EXPECT_TRUE(p1.done());
  EXPECT_FALSE(p2.done());
  const int a = co_await r.get();
  const int b = co_await r.get();
  co_await p2;
  const int c = co_await r.get();
  EXPECT_EQ(std::vector<int>({a, b, c}), (std::vector<int>{0, 1, 2}));
  EXPECT_TRUE(r.empty());
}

}  // namespace

TEST(AioQueue, PutSuspendsWhileFull) { qu_run(qu_maxsize()); }
TEST(AioQueue, GettersAndPuttersWaitingAllFinish) { qu_run(qu_getters_and_putters_waiting()); }
TEST(AioQueue, GetSuspendsWhileEmpty) { qu_run(qu_blocking_get()); }
TEST(AioQueue, GetCancelledRace) { qu_run(qu_get_cancelled_race()); }
TEST(AioQueue, PutCancelledRace) { qu_run(qu_put_cancelled_race()); }
TEST(AioQueue, WokenGetterThenCancelledKeepsItsItem) { qu_run(qu_woken_getter_cancelled()); }
TEST(AioQueue, WokenPutterThenCancelledStillPuts) { qu_run(qu_woken_putter_cancelled()); }
TEST(AioQueue, CancelledAndTimedOutWaitersLeaveNoTrace) { qu_run(qu_cancelled_waiters_leave()); }
TEST(AioQueue, TaskDoneAndJoin) { qu_run(qu_task_done_join()); }

// ---- shutdown ----------------------------------------------------------------------------------

namespace {

aio::Task<void> qu_shutdown_drains() {
  aio::Queue<int> q;
  q.put_nowait(1);
  q.put_nowait(2);
  EXPECT_FALSE(q.is_shutdown());
  q.shutdown();
  EXPECT_TRUE(q.is_shutdown());
  EXPECT_THROW(q.put_nowait(3), aio::QueueShutDown);
  const bool put_throws = co_await qu_throws<aio::QueueShutDown>(q.put(3));
  EXPECT_TRUE(put_throws);
  const int a = co_await q.get();
  EXPECT_EQ(a, 1);
  EXPECT_EQ(q.get_nowait(), 2);
  const bool get_throws = co_await qu_throws<aio::QueueShutDown>(q.get());
  EXPECT_TRUE(get_throws);
  EXPECT_THROW(q.get_nowait(), aio::QueueShutDown);
  q.task_done();
  q.task_done();
  co_await q.join();
}

// Every waiting getter and putter wakes and throws QueueShutDown; what is queued stays.
aio::Task<void> qu_shutdown_wakes_waiters() {
  aio::Queue<int> empty;
  auto g1 = aio::create_task(empty.get());
  auto g2 = aio::create_task(empty.get());
  aio::Queue<int> full(1);
  full.put_nowait(5);
  auto p1 = aio::create_task(full.put(6));
  co_await qu_settle();
  empty.shutdown();
  full.shutdown();
  const bool a = co_await qu_throws<aio::QueueShutDown>(g1.share());
  const bool b = co_await qu_throws<aio::QueueShutDown>(g2.share());
  const bool c = co_await qu_throws<aio::QueueShutDown>(p1.share());
  EXPECT_TRUE(a && b && c);
  EXPECT_EQ(full.qsize(), 1u);
  const int v = co_await full.get();
  EXPECT_EQ(v, 5);
}

// shutdown(true): the queue is emptied, its items count as done, join() and every waiter wake.
aio::Task<void> qu_shutdown_immediate() {
  aio::Queue<int> q(3);
  for (int i = 0; i < 3; ++i) q.put_nowait(i);
  auto putter = aio::create_task(q.put(99));
  auto joiner = aio::create_task(q.join());
  co_await qu_settle();
  EXPECT_FALSE(joiner.done());
  q.shutdown(true);
  EXPECT_EQ(q.qsize(), 0u);
  co_await qu_settle();
  EXPECT_TRUE(joiner.done());
  const bool p = co_await qu_throws<aio::QueueShutDown>(putter.share());
  EXPECT_TRUE(p);
  const bool g = co_await qu_throws<aio::QueueShutDown>(q.get());
  EXPECT_TRUE(g);
  EXPECT_THROW(q.task_done(), concur::ValueError);

  // An item got but not done keeps join() waiting after shutdown(true).
  aio::Queue<int> r;
  for (int i = 0; i < 3; ++i) r.put_nowait(i);
  (void)r.get_nowait();
  r.shutdown(true);
  auto j = aio::create_task(r.join());
  co_await qu_settle();
  EXPECT_FALSE(j.done());
  r.task_done();
  co_await qu_settle();
  EXPECT_TRUE(j.done());
}

}  // namespace

TEST(AioQueueShutdown, GetsDrainThenThrow) { qu_run(qu_shutdown_drains()); }
TEST(AioQueueShutdown, WakesEveryWaiter) { qu_run(qu_shutdown_wakes_waiters()); }
TEST(AioQueueShutdown, ImmediateDiscardsAndReleasesJoin) { qu_run(qu_shutdown_immediate()); }

// ---- move-only items ---------------------------------------------------------------------------

namespace {

aio::Task<void> qu_move_only() {
  aio::Queue<std::unique_ptr<int>> q(1);
  co_await q.put(std::make_unique<int>(1));
  auto p = std::make_unique<int>(2);
  EXPECT_THROW(q.put_nowait(std::move(p)), aio::QueueFull);
  EXPECT_NE(p, nullptr);  // a failed put_nowait leaves its argument alone
  auto putter = aio::create_task(q.put(std::move(p)));
  co_await qu_settle();
  std::unique_ptr<int> a = co_await q.get();
  EXPECT_EQ(*a, 1);
  co_await putter;
  std::unique_ptr<int> b = q.get_nowait();
  EXPECT_EQ(*b, 2);

  aio::LifoQueue<std::unique_ptr<int>> lifo;
  lifo.put_nowait(std::make_unique<int>(1));
  co_await lifo.put(std::make_unique<int>(2));
  auto top = co_await lifo.get();
  EXPECT_EQ(*top, 2);

  struct ByValue {
    bool operator()(const std::unique_ptr<int>& x, const std::unique_ptr<int>& y) const {
      return *x < *y;
    }
  };
  aio::PriorityQueue<std::unique_ptr<int>, ByValue> prio;
  for (int v : {5, 1, 3}) co_await prio.put(std::make_unique<int>(v));
  std::vector<int> out;
  for (int i = 0; i < 3; ++i) {
    auto x = co_await prio.get();
    out.push_back(*x);
  }
  EXPECT_EQ(out, (std::vector<int>{1, 3, 5}));
  prio.put_nowait(std::make_unique<int>(4));
  prio.shutdown(true);  // discarded items are destroyed (ASan checks for leaks)
}

}  // namespace

TEST(AioQueue, MoveOnlyItems) { qu_run(qu_move_only()); }

// ---- conservation --------------------------------------------------------------------------------

namespace {

struct QuStress {
  aio::Queue<int> q{4};
  std::vector<int> seen;  // per item: how many times it was got
  int consumed = 0;
};

aio::Task<void> qu_stress_producer(QuStress* s, int first, int count) {
  for (int i = 0; i < count; ++i) {
    co_await s->q.put(first + i);
    if (i % 7 == 0) co_await aio::sleep(0s);
  }
}

aio::Task<void> qu_stress_consumer(QuStress* s) {
  for (;;) {
    const int item = co_await s->q.get();
    if (item < 0) co_return;  // a sentinel
    ++s->seen[static_cast<std::size_t>(item)];
    ++s->consumed;
    s->q.task_done();
    if (item % 5 == 0) co_await aio::sleep(0s);
  }
}

// A consumer that the main task cancels at random moments: what it got, it recorded.
aio::Task<void> qu_stress_flaky_consumer(QuStress* s) {
  for (;;) {
    const int item = co_await s->q.get();
    if (item < 0) co_return;
    ++s->seen[static_cast<std::size_t>(item)];
    ++s->consumed;
    s->q.task_done();
  }
}

aio::Task<void> qu_stress() {
  constexpr int kProducers = 8, kPerProducer = 400, kConsumers = 5;
  constexpr int kItems = kProducers * kPerProducer;
  QuStress s;
  s.seen.assign(kItems, 0);
  std::vector<aio::Task<void>> producers, consumers;
  for (int p = 0; p < kProducers; ++p)
    producers.push_back(aio::create_task(qu_stress_producer(&s, p * kPerProducer, kPerProducer)));
  for (int c = 0; c < kConsumers; ++c)
    consumers.push_back(aio::create_task(qu_stress_consumer(&s)));
  // Flaky consumers, cancelled while waiting, while woken, or while holding an item.
  for (int round = 0; round < 40; ++round) {
    auto flaky = aio::create_task(qu_stress_flaky_consumer(&s));
    for (int k = 0; k < round % 4; ++k) co_await aio::sleep(0s);
    flaky.cancel();
    co_await aio::gather(aio::return_exceptions, std::move(flaky));
  }
  co_await aio::gather(std::move(producers));
  co_await s.q.join();  // every item got has been counted
  for (int c = 0; c < kConsumers; ++c) co_await s.q.put(-1);
  co_await aio::gather(std::move(consumers));
  EXPECT_EQ(s.consumed, kItems);
  int wrong = 0;
  for (int n : s.seen) wrong += n != 1;
  EXPECT_EQ(wrong, 0);
  EXPECT_TRUE(s.q.empty());
}

}  // namespace

TEST(AioQueue, ConservationUnderManyProducersConsumersAndCancellations) { qu_run(qu_stress()); }
