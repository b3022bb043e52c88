// ac::AsyncActor<Msg> and ac::Scheduler: coroutine actors sharing worker threads (API.md §8.1).
#include <concur/actors.hpp>
#include <concur/pubsub.hpp>
#include <concur/threading.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "bounded_child.hpp"
#include "test_support.hpp"

namespace ac = concur::actors;
namespace ps = concur::pubsub;
namespace th = concur::threading;
using concur_test::long_wait;
using namespace std::chrono_literals;

namespace {

struct Counter : ac::AsyncActor<long> {
  using AsyncActor::AsyncActor;
  long sum = 0, count = 0;
  bool exited = false;
  ac::Task run() override {
    try {
      for (;;) {
        sum += co_await recv();
        ++count;
      }
    } catch (const ac::ActorExit&) {
      exited = true;
      throw;
    }
  }
};

TEST(AsyncActor, ReceivesEverythingThenEndsAtTheClose) {
  ac::Scheduler sched(2);
  EXPECT_EQ(sched.size(), 2);
  Counter c;
  c.start(sched);
  for (long i = 1; i <= 1000; ++i) c.send(i);
  c.close();
  ASSERT_TRUE(c.join(long_wait()));
  EXPECT_EQ(c.count, 1000);
  EXPECT_EQ(c.sum, 1000 * 1001 / 2);
  EXPECT_TRUE(c.exited);
  EXPECT_FALSE(c.is_alive());
  EXPECT_EQ(sched.actors_alive(), 0u);
}

TEST(AsyncActor, TheDefaultScheduler) {
  Counter c;
  c.send(5);  // before start: kept
  c.start();
  c.send(6);
  c.close();
  ASSERT_TRUE(c.join(long_wait()));
  EXPECT_EQ(c.sum, 11);
  EXPECT_GE(ac::default_scheduler().size(), 1);
}

TEST(AsyncActor, ErrorsOfUse) {
  ac::Scheduler sched(1);
  Counter c;
  EXPECT_THROW(c.join(), concur::RuntimeError);
  c.start(sched);
  EXPECT_THROW(c.start(sched), concur::RuntimeError);
  c.close();
  ASSERT_TRUE(c.join(long_wait()));
  EXPECT_THROW(c.send(1), concur::RuntimeError);
  EXPECT_THROW(ac::Scheduler(-1), concur::ValueError);
}

TEST(AsyncActor, JoinFromItsOwnRunIsRuntimeError) {
  struct SelfJoin : ac::AsyncActor<int> {
    bool refused = false;
    ac::Task run() override {
      (void)co_await recv();
      try {
        join();
      } catch (const concur::RuntimeError&) {
        refused = true;
      }
    }
  } s;
  ac::Scheduler sched(1);
  s.start(sched);
  s.send(1);
  ASSERT_TRUE(s.join(long_wait()));
  EXPECT_TRUE(s.refused);
}

// `threads` senders, each sending `each` distinct numbers, yielding after every `pause_every`-th
// (0: never): every message arrives once.
void async_many_senders(int threads, int each, int pause_every) {
  ac::Scheduler sched(2);
  Counter c;
  c.start(sched);
  concur_test::run_together(threads, [&](int t) {
    for (int i = 1; i <= each; ++i) {
      c.send(static_cast<long>(t) * each + i);
      if (pause_every != 0 && i % pause_every == 0) std::this_thread::yield();
    }
  });
  c.close();
  ASSERT_TRUE(c.join(long_wait()));
  const long n = static_cast<long>(threads) * each;
  EXPECT_EQ(c.count, n);
  EXPECT_EQ(c.sum, n * (n + 1) / 2);
}

TEST(AsyncActor, ManySendersConservation) { async_many_senders(4, 20000, 0); }

// Senders that pause between messages, so that the actor keeps finding its mailbox empty and
// suspending: every message still arrives once (a wake-up that finds its message taken already
// suspends the actor again instead of losing or inventing one).
TEST(AsyncActor, SendersThatKeepWakingAnIdleActorLoseNothing) { async_many_senders(3, 3000, 3); }

// A message whose move can throw (copied in and out under the mailbox's lock): the same order
// and conservation.
struct CopiedOnly {
  long v = 0;
  explicit CopiedOnly(long x) : v(x) {}
  CopiedOnly(const CopiedOnly& o) : v(o.v) {}  // no move: moves copy, and may throw
  CopiedOnly& operator=(const CopiedOnly& o) = default;
};
static_assert(!std::is_nothrow_move_constructible_v<CopiedOnly>);

TEST(AsyncActor, AMessageWhoseMoveMayThrowIsReceivedInOrder) {
  struct Collector : ac::AsyncActor<CopiedOnly> {
    std::vector<long> got;
    ac::Task run() override {
      for (;;) got.push_back((co_await recv()).v);
    }
  } c;
  ac::Scheduler sched(1);
  c.start(sched);
  for (long i = 0; i < 500; ++i) c.send(CopiedOnly(i));
  c.close();
  ASSERT_TRUE(c.join(long_wait()));
  ASSERT_EQ(c.got.size(), 500u);
  for (long i = 0; i < 500; ++i) EXPECT_EQ(c.got[static_cast<std::size_t>(i)], i);
}

struct Player : ac::AsyncActor<int> {
  Player* peer = nullptr;
  int limit = 0;
  int last = -1;
  th::Event* done = nullptr;
  ac::Task run() override {
    for (;;) {
      const int m = co_await recv();
      last = m;
      if (m >= limit) {
        done->set();
        continue;
      }
      peer->send(m + 1);
    }
  }
};

void ping_pong(int workers, int limit) {
  ac::Scheduler sched(workers);
  Player a, b;
  th::Event done;
  a.peer = &b;
  b.peer = &a;
  a.limit = b.limit = limit;
  a.done = b.done = &done;
  a.start(sched);
  b.start(sched);
  a.send(0);
  ASSERT_TRUE(done.wait(long_wait()));
  a.close();
  b.close();
  ASSERT_TRUE(a.join(long_wait()));
  ASSERT_TRUE(b.join(long_wait()));
  EXPECT_EQ(std::max(a.last, b.last), limit);
}

TEST(AsyncActor, PingPongOnOneWorker) { ping_pong(1, 20000); }
TEST(AsyncActor, PingPongOnTwoWorkers) { ping_pong(2, 20000); }

TEST(AsyncActor, AHundredThousandActorsAliveAtOnce) {
  const int n = 100000;
  ac::Scheduler sched(2);
  std::vector<std::unique_ptr<Counter>> actors;
  actors.reserve(n);
  for (int i = 0; i < n; ++i) {
    actors.push_back(std::make_unique<Counter>());
    actors.back()->start(sched);
  }
  EXPECT_EQ(sched.actors_alive(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) actors[i]->send(i);
  for (auto& a : actors) a->close();
  long total = 0, count = 0;
  for (auto& a : actors) {
    ASSERT_TRUE(a->join(long_wait()));
    total += a->sum;
    count += a->count;
  }
  EXPECT_EQ(count, n);
  EXPECT_EQ(total, static_cast<long>(n) * (n - 1) / 2);
  EXPECT_EQ(sched.actors_alive(), 0u);
}

TEST(AsyncActor, AnExceptionFromRunGoesToTheExceptHook) {
  std::mutex m;
  std::vector<std::string> reports;
  th::set_excepthook([&](const th::ExceptHookArgs& args) {
    std::lock_guard<std::mutex> g(m);
    reports.push_back(args.thread_name + ": " + concur_test::what_of(args.exception));
  });
  struct Failing : ac::AsyncActor<int> {
    Failing() : AsyncActor(ac::ActorOptions{.name = "async-failing"}) {}
    ac::Task run() override {
      // (Not `if (co_await recv() == 13)`: g++ 12 miscompiles a co_await in an if condition.)
      const int m = co_await recv();
      if (m == 13) throw concur::ValueError("unlucky");
    }
  } f;
  ac::Scheduler sched(1);
  f.start(sched);
  f.send(13);
  ASSERT_TRUE(f.join(long_wait()));
  th::set_excepthook(nullptr);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0], "async-failing: unlucky");
  EXPECT_THROW(f.send(1), concur::RuntimeError);
}

TEST(AsyncActor, ABoundedMailboxBlocksTheSenderWhileFull) {
  struct Slow : ac::AsyncActor<int> {
    Slow() : AsyncActor(ac::ActorOptions{.mailbox_size = 4}) {}
    std::vector<int> got;
    ac::Task run() override {
      for (;;) got.push_back(co_await recv());
    }
  } s;
  for (int i = 0; i < 4; ++i) s.send(i);
  std::atomic<bool> fifth_sent{false};
  std::thread sender([&] {
    s.send(4);
    fifth_sent = true;
  });
  concur_test::give_time_to_misbehave();
  EXPECT_FALSE(fifth_sent.load());
  ac::Scheduler sched(1);
  s.start(sched);
  sender.join();
  for (int i = 5; i < 1000; ++i) s.send(i);  // many more through a mailbox of 4
  s.close();
  ASSERT_TRUE(s.join(long_wait()));
  ASSERT_EQ(s.got.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(s.got[i], i);
}

TEST(AsyncActor, ActorsSendToBoundedActorsOnTheSameScheduler) {
  // Producers on the scheduler fill a bounded consumer on the same scheduler: a full send blocks
  // a worker, and the consumer must still get a worker to run on.
  struct Sink : ac::AsyncActor<int> {
    Sink() : AsyncActor(ac::ActorOptions{.mailbox_size = 2}) {}
    long sum = 0;
    ac::Task run() override {
      for (;;) sum += co_await recv();
    }
  } sink;
  struct Source : ac::AsyncActor<int> {
    Sink* sink = nullptr;
    ac::Task run() override {
      for (;;) {
        const int n = co_await recv();
        for (int i = 1; i <= n; ++i) sink->send(i);
      }
    }
  } source;
  source.sink = &sink;
  ac::Scheduler sched(2);
  sink.start(sched);
  source.start(sched);
  source.send(500);
  source.close();
  ASSERT_TRUE(source.join(long_wait()));
  sink.close();
  ASSERT_TRUE(sink.join(long_wait()));
  EXPECT_EQ(sink.sum, 500 * 501 / 2);
}

TEST(AsyncActor, AnActorThatBlocksItsWorkerDoesNotStrandTheActorItWoke) {
  // A wakes B (B would run next on A's worker), then blocks its worker on an Event that only B
  // sets: B must run on the other worker.
  struct B : ac::AsyncActor<int> {
    th::Event* ev = nullptr;
    ac::Task run() override {
      for (;;) {
        (void)co_await recv();
        ev->set();
      }
    }
  } b;
  struct A : ac::AsyncActor<int> {
    B* b = nullptr;
    th::Event* ev = nullptr;
    bool saw_it = false;
    ac::Task run() override {
      for (;;) {
        (void)co_await recv();
        b->send(1);
        saw_it = ev->wait(long_wait());
      }
    }
  } a;
  th::Event ev;
  a.b = &b;
  a.ev = b.ev = &ev;
  ac::Scheduler sched(2);
  b.start(sched);
  a.start(sched);
  a.send(1);
  a.close();
  ASSERT_TRUE(a.join(long_wait()));
  EXPECT_TRUE(a.saw_it);
  b.close();
  ASSERT_TRUE(b.join(long_wait()));
}

TEST(AsyncActor, ABusyActorYieldsItsWorkerToTheOthers) {
  // One worker: A has many messages waiting, B one. B must run before A has drained them all.
  // A holds the worker after its first message until B has been started, so that B is ready
  // while A still has almost all of them (else a main thread preempted between the two starts
  // let A drain them all first: 1 failure in a CI run).
  struct Busy : ac::AsyncActor<int> {
    std::atomic<long> count{0};
    th::Event* b_started = nullptr;
    ac::Task run() override {
      for (;;) {
        (void)co_await recv();
        if (count.fetch_add(1, std::memory_order_relaxed) == 0) (void)b_started->wait(long_wait());
      }
    }
  } a;
  struct Observer : ac::AsyncActor<int> {
    Busy* a = nullptr;
    long seen = -1;
    ac::Task run() override {
      (void)co_await recv();
      seen = a->count.load();
    }
  } b;
  b.a = &a;
  th::Event b_started;
  a.b_started = &b_started;
  const long n = 100000;
  for (long i = 0; i < n; ++i) a.send(1);
  b.send(1);
  ac::Scheduler sched(1);
  a.start(sched);
  b.start(sched);
  b_started.set();
  ASSERT_TRUE(b.join(long_wait()));
  a.close();
  ASSERT_TRUE(a.join(long_wait()));
  EXPECT_EQ(a.count.load(), n);
  EXPECT_LT(b.seen, n);
}

// A step of run() as a Task of its own.
struct Nested : ac::AsyncActor<int> {
  std::vector<int> sums;
  bool caught = false;
  ac::Task sum_of_next(int k, int* out) {
    int s = 0;
    for (int i = 0; i < k; ++i) s += co_await recv();
    *out = s;
  }
  ac::Task failing() {
    (void)co_await recv();
    throw concur::ValueError("inner");
  }
  ac::Task run() override {
    for (;;) {
      const int k = co_await recv();
      if (k == 0) {
        try {
          co_await failing();
        } catch (const concur::ValueError&) {
          caught = true;
        }
        continue;
      }
      int s = 0;
      co_await sum_of_next(k, &s);
      sums.push_back(s);
    }
  }
};

TEST(AsyncActor, RunAwaitsTasksThatReceive) {
  Nested a;
  for (int m : {2, 10, 20, 3, 1, 1, 1, 0, 99}) a.send(m);
  a.close();
  ac::Scheduler sched(2);
  a.start(sched);
  ASSERT_TRUE(a.join(long_wait()));
  EXPECT_EQ(a.sums, (std::vector<int>{30, 3}));
  EXPECT_TRUE(a.caught);
}

TEST(AsyncActor, TheSchedulerDestructorClosesAndJoinsItsActors) {
  Counter a, b;
  {
    ac::Scheduler sched(2);
    a.start(sched);
    b.start(sched);
    a.send(1);
    b.send(2);
  }  // closes a and b and waits for their run()s
  EXPECT_TRUE(a.exited);
  EXPECT_TRUE(b.exited);
  EXPECT_EQ(a.sum + b.sum, 3);
  EXPECT_TRUE(a.join(0ms));
}

TEST(AsyncActor, DestroyingARunningActorClosesAndJoinsIt) {
  ac::Scheduler sched(2);
  std::atomic<bool> exited{false};
  th::Event running;
  struct Watched : ac::AsyncActor<int> {
    std::atomic<bool>& exited;
    th::Event& running;
    Watched(std::atomic<bool>& e, th::Event& r) : exited(e), running(r) {}
    ac::Task run() override {
      // Only locals once the destructors may have begun: this subclass is destroyed before the
      // base closes and joins the actor.
      std::atomic<bool>* const exited_flag = &exited;
      running.set();
      try {
        for (;;) (void)co_await recv();
      } catch (const ac::ActorExit&) {
        *exited_flag = true;
        throw;
      }
    }
  };
  {
    Watched w(exited, running);
    w.start(sched);
    w.send(1);
    ASSERT_TRUE(running.wait(long_wait()));  // run() has begun, before the destructors do
  }
  EXPECT_TRUE(exited.load());
  EXPECT_EQ(sched.actors_alive(), 0u);
}

TEST(AsyncActor, IsASubscriber) {
  ac::Scheduler sched(1);
  Counter c;
  c.start(sched);
  ps::Exchange<long> exc;
  exc.attach(c);
  exc.send(40);
  exc.send(2);
  c.close();
  ASSERT_TRUE(c.join(long_wait()));
  EXPECT_EQ(c.sum, 42);
}

TEST(AsyncActor, ASchedulerWorksInAForkedChild) {
  ac::Scheduler sched(2);
  Counter c;
  c.start(sched);
  c.send(1);
  if (!concur_test::kChildMayStartThreads) GTEST_SKIP() << "TSan cannot follow new threads in a child";
  const int status = concur_test::fork_and_wait([&] {
    // The workers are gone; the scheduler starts new ones when an actor is made ready. (c may
    // have been in the middle of a step at the fork: such an actor never resumes in a child.)
    Counter d;
    d.start(sched);
    d.send(5);
    d.send(6);
    d.close();
    CHILD_CHECK(d.join(long_wait()));
    CHILD_CHECK(d.sum == 11);
    return 0;
  });
  EXPECT_EQ(status, 0);
  c.send(10);
  c.close();
  ASSERT_TRUE(c.join(long_wait()));
  EXPECT_EQ(c.sum, 11);
}

}  // namespace
