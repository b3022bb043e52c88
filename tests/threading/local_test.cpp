// threading::local<T>: per-object, per-thread storage (threading.local). No value is shared
// between threads; a thread's value is destroyed exactly once — when the thread ends, at
// reset()/set(), or when the local is destroyed, whichever comes first.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "concur/threading.hpp"
#include "test_support.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;
using namespace concur_test;  // long_wait, scaled, eventually, time_of, ...

namespace {

// Counts live values: constructions and destructions of engaged (not moved-from) objects.
struct Counters {
  std::atomic<int> made{0};
  std::atomic<int> destroyed{0};
  int live() const { return made.load() - destroyed.load(); }
};

struct Tracked {
  explicit Tracked(Counters* c, int v = 0) : counters(c), value(v) { ++counters->made; }
  Tracked(Tracked&& o) noexcept : counters(o.counters), value(o.value), engaged(o.engaged) {
    o.engaged = false;
  }
  Tracked& operator=(Tracked&&) = delete;
  ~Tracked() {
    if (engaged) ++counters->destroyed;
  }
  Counters* counters;
  int value;
  bool engaged = true;
};

// Default-constructible and tracked through a global (one process per TEST under ctest; each
// test that uses it resets it first).
Counters g_counters;
struct DefaultTracked {
  DefaultTracked() { ++g_counters.made; }
  // (local<T> needs a move-constructible T today, even without a factory: see the report)
  DefaultTracked(DefaultTracked&& o) noexcept : value(o.value), engaged(o.engaged) { o.engaged = false; }
  ~DefaultTracked() {
    if (engaged) ++g_counters.destroyed;
  }
  int value = 0;
  bool engaged = true;
};
void reset_globals() {
  g_counters.made = 0;
  g_counters.destroyed = 0;
}

}  // namespace

TEST(Local, EachThreadSeesItsOwnValue) {
  constexpr int kThreads = 8;
  th::local<int> slot;
  slot.get() = -1;  // the main thread's value
  th::Semaphore ready(0);
  th::Event go;
  std::vector<int> seen(kThreads, -100);
  std::vector<int> had_value_at_start(kThreads, 1);
  std::vector<th::Thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      had_value_at_start[i] = slot.has_value() ? 1 : 0;
      slot.set(i * 10);
      ready.release();
      go.wait(long_wait());  // every thread holds its value at the same time
      seen[i] = slot.get();
    });
  for (auto& t : threads) t.start();
  for (int i = 0; i < kThreads; ++i) ASSERT_TRUE(ready.acquire(long_wait()));
  EXPECT_EQ(slot.get(), -1);
  go.set();
  for (auto& t : threads) ASSERT_TRUE(t.join(long_wait()));
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_EQ(seen[i], i * 10);
    EXPECT_EQ(had_value_at_start[i], 0);
  }
  EXPECT_EQ(*slot, -1);
}

TEST(Local, FirstAccessDefaultConstructs) {
  th::local<std::vector<int>> v;
  EXPECT_FALSE(v.has_value());
  EXPECT_TRUE(v.get().empty());
  EXPECT_TRUE(v.has_value());
  v->push_back(1);
  (*v).push_back(2);
  EXPECT_EQ(v.get(), (std::vector<int>{1, 2}));

  bool other_has = true;
  std::size_t other_size = 99;
  th::Thread t([&] {
    other_has = v.has_value();
    other_size = v->size();
  });
  t.start();
  ASSERT_TRUE(t.join(long_wait()));
  EXPECT_FALSE(other_has);
  EXPECT_EQ(other_size, 0u);
  EXPECT_EQ(v->size(), 2u);
}

TEST(Local, FactoryIsCalledOncePerThreadOnFirstAccess) {
  std::atomic<int> factory_calls{0};
  th::local<int> counter([&] {
    ++factory_calls;
    return 42;
  });
  EXPECT_EQ(factory_calls.load(), 0);  // lazy
  *counter += 1;
  EXPECT_EQ(*counter, 43);
  EXPECT_EQ(factory_calls.load(), 1);

  int in_thread = 0;
  th::Thread t([&] {
    in_thread = counter.get();
    *counter += 5;
    in_thread += 1000 * (counter.get() - 42);  // 5 more, in this thread only
  });
  t.start();
  ASSERT_TRUE(t.join(long_wait()));
  EXPECT_EQ(in_thread, 42 + 5000);
  EXPECT_EQ(factory_calls.load(), 2);
  EXPECT_EQ(*counter, 43);
}

TEST(Local, FactoryRunsInTheAccessingThread) {
  th::local<std::string> who([] { return th::current_thread().name(); });
  EXPECT_EQ(who.get(), "MainThread");
  std::string inside;
  th::Thread t(th::ThreadOptions{.name = "factory-thread"}, [&] { inside = who.get(); });
  t.start();
  ASSERT_TRUE(t.join(long_wait()));
  EXPECT_EQ(inside, "factory-thread");
}

TEST(Local, HasValueResetSet) {
  Counters c;
  {
    th::local<Tracked> l([&] { return Tracked(&c, 1); });
    EXPECT_FALSE(l.has_value());
    EXPECT_EQ(l->value, 1);
    EXPECT_TRUE(l.has_value());
    EXPECT_EQ(c.live(), 1);

    l.reset();
    EXPECT_FALSE(l.has_value());
    EXPECT_EQ(c.live(), 0);
    EXPECT_EQ(c.destroyed.load(), 1);
    l.reset();  // no value: nothing happens
    EXPECT_EQ(c.destroyed.load(), 1);

    EXPECT_EQ(l.get().value, 1);  // the factory again
    EXPECT_EQ(c.live(), 1);

    Tracked& r = l.set(Tracked(&c, 7));
    EXPECT_EQ(r.value, 7);
    EXPECT_EQ(&r, &l.get());
    EXPECT_EQ(l->value, 7);
    EXPECT_EQ(c.live(), 1);  // the old value was destroyed by set()

    l.set(Tracked(&c, 8));
    EXPECT_EQ(l->value, 8);
    EXPECT_EQ(c.live(), 1);
  }
  EXPECT_EQ(c.live(), 0);  // the local's destructor destroyed the main thread's value
  EXPECT_EQ(c.made.load(), c.destroyed.load());
}

TEST(Local, SetWithoutPriorValueAndOnNonDefaultConstructibleType) {
  Counters c;
  th::local<Tracked> l;  // no factory, no default constructor
  EXPECT_THROW(l.get(), concur::RuntimeError);
  EXPECT_FALSE(l.has_value());
  l.set(Tracked(&c, 3));
  EXPECT_EQ(l->value, 3);
  l.reset();
  EXPECT_EQ(c.live(), 0);
}

TEST(Local, FactoryThatThrowsStoresNothing) {
  int attempts = 0;
  th::local<int> l([&]() -> int {
    if (++attempts == 1) throw std::runtime_error("first attempt fails");
    return 5;
  });
  EXPECT_THROW(l.get(), std::runtime_error);
  EXPECT_FALSE(l.has_value());
  EXPECT_EQ(l.get(), 5);
  EXPECT_EQ(attempts, 2);
}

TEST(Local, MoveOnlyType) {
  th::local<std::unique_ptr<int>> l;
  EXPECT_EQ(l.get(), nullptr);
  l.set(std::make_unique<int>(5));
  EXPECT_EQ(**l, 5);
  int inside = -1;
  th::Thread t([&] {
    inside = l.get() ? 1 : 0;
    l.set(std::make_unique<int>(9));
    inside += **l;
  });
  t.start();
  ASSERT_TRUE(t.join(long_wait()));
  EXPECT_EQ(inside, 9);
  EXPECT_EQ(**l, 5);
  l.reset();
  EXPECT_FALSE(l.has_value());
}

TEST(Local, ValueIsDestroyedExactlyOnceWhenTheThreadEnds) {
  Counters c;
  th::local<Tracked> l([&] { return Tracked(&c); });
  th::Event touched, go;
  th::Thread t([&] {
    l->value = 1;
    touched.set();
    go.wait(long_wait());
  });
  t.start();
  ASSERT_TRUE(touched.wait(long_wait()));
  EXPECT_EQ(c.live(), 1);
  EXPECT_EQ(c.destroyed.load(), 0);
  go.set();
  ASSERT_TRUE(t.join(long_wait()));
  // Destroyed in the thread, before join() returned.
  EXPECT_EQ(c.destroyed.load(), 1);
  EXPECT_EQ(c.live(), 0);
  EXPECT_FALSE(l.has_value());  // the main thread never had one
}

TEST(Local, ValueIsDestroyedWhenTheThreadEndsWithAnException) {
  Counters c;
  th::local<Tracked> l([&] { return Tracked(&c); });
  th::set_excepthook([](const th::ExceptHookArgs&) {});
  th::Thread t([&] {
    l->value = 1;
    throw std::runtime_error("ends badly");
  });
  t.start();
  const bool joined = t.join(long_wait());
  th::set_excepthook(nullptr);
  ASSERT_TRUE(joined);
  EXPECT_EQ(c.destroyed.load(), 1);
  EXPECT_EQ(c.live(), 0);
}

TEST(Local, LocalDestroyedFirstDestroysTheRunningThreadsValueOnce) {
  Counters c;
  auto l = std::make_unique<th::local<Tracked>>([&] { return Tracked(&c); });
  th::Event touched, go;
  th::Thread t([&, raw = l.get()] {
    raw->get().value = 3;
    touched.set();
    go.wait(long_wait());
    // The local is gone by now; this thread must end without destroying its value again.
  });
  t.start();
  ASSERT_TRUE(touched.wait(long_wait()));
  l.reset();  // ~local destroys the (idle) thread's value
  EXPECT_EQ(c.destroyed.load(), 1);
  go.set();
  ASSERT_TRUE(t.join(long_wait()));
  EXPECT_EQ(c.destroyed.load(), 1);
  EXPECT_EQ(c.made.load(), 1);
}

TEST(Local, LocalDestroyedAfterTheThreadEndedDoesNotDestroyAgain) {
  Counters c;
  {
    th::local<Tracked> l([&] { return Tracked(&c); });
    th::Thread t([&] { l.get(); });
    t.start();
    ASSERT_TRUE(t.join(long_wait()));
    EXPECT_EQ(c.destroyed.load(), 1);
  }
  EXPECT_EQ(c.destroyed.load(), 1);
  EXPECT_EQ(c.made.load(), 1);
}

TEST(Local, ForeignThreadValuesAreDestroyedAtItsExit) {
  Counters c;
  th::local<Tracked> l([&] { return Tracked(&c); });
  std::thread f([&] {
    l->value = 1;
    EXPECT_TRUE(l.has_value());
  });
  f.join();
  EXPECT_EQ(c.destroyed.load(), 1);
  EXPECT_EQ(c.live(), 0);
}

TEST(Local, ForeignThreadsValuesAndLocalDestroyedFirst) {
  Counters c;
  auto l = std::make_unique<th::local<Tracked>>([&] { return Tracked(&c); });
  th::Event touched, go;
  std::thread f([&, raw = l.get()] {
    raw->get();
    touched.set();
    go.wait(long_wait());
  });
  ASSERT_TRUE(touched.wait(long_wait()));
  l.reset();
  EXPECT_EQ(c.destroyed.load(), 1);
  go.set();
  f.join();
  EXPECT_EQ(c.destroyed.load(), 1);
}

namespace {
// A value whose destructor uses another local (creating a value there during thread exit).
struct TouchesOther {
  th::local<Tracked>* other;
  std::atomic<int>* ran;
  ~TouchesOther() {
    other->get().value = 99;
    ++*ran;
  }
};
}  // namespace

TEST(Local, ValueDestructorThatTouchesAnotherLocal) {
  Counters c;
  std::atomic<int> ran{0};
  th::local<Tracked> other([&] { return Tracked(&c); });
  th::local<TouchesOther> first([&] { return TouchesOther{&other, &ran}; });
  // The factory returns by value: a temporary TouchesOther is destroyed too (touching `other`
  // in the calling thread). Count only what happens in the threads below.
  auto run_in = [&](auto&& spawn_and_join) {
    const int ran_before = ran.load();
    spawn_and_join([&] { first.get(); });
    return ran.load() - ran_before;
  };

  const int made_before = c.made.load(), destroyed_before = c.destroyed.load();
  const int ran_concur = run_in([](auto body) {
    th::Thread t(body);
    t.start();
    EXPECT_TRUE(t.join(long_wait()));
  });
  EXPECT_GE(ran_concur, 1);
  // Every value `other` got in that thread (from the temporary's and the stored value's
  // destructors) has been destroyed by the time join() returned.
  EXPECT_EQ(c.made.load() - made_before, c.destroyed.load() - destroyed_before);

  const int made_before2 = c.made.load(), destroyed_before2 = c.destroyed.load();
  const int ran_foreign = run_in([](auto body) {
    std::thread t(body);
    t.join();
  });
  EXPECT_GE(ran_foreign, 1);
  EXPECT_EQ(c.made.load() - made_before2, c.destroyed.load() - destroyed_before2);
}

TEST(Local, ValueDestructorThatTouchesAnotherLocalCreatedLater) {
  // The other local's value does not exist yet when the thread starts exiting.
  Counters c;
  std::atomic<int> ran{0};
  th::local<Tracked> other([&] { return Tracked(&c); });
  th::local<std::unique_ptr<TouchesOther>> first;
  bool other_before_exit = true;
  th::Thread t([&] {
    first.set(std::unique_ptr<TouchesOther>(new TouchesOther{&other, &ran}));  // no temporary
    other_before_exit = other.has_value();
  });
  t.start();
  ASSERT_TRUE(t.join(long_wait()));
  EXPECT_FALSE(other_before_exit);
  EXPECT_EQ(ran.load(), 1);
  EXPECT_EQ(c.made.load(), 1);  // created by ~TouchesOther during the thread's exit ...
  EXPECT_EQ(c.live(), 0);       // ... and destroyed before join() returned
  EXPECT_FALSE(other.has_value());
}

namespace {
struct LogsCurrentThread {
  std::string* out;
  ~LogsCurrentThread() {
    if (out) *out = th::current_thread().name();
  }
  LogsCurrentThread(std::string* o) : out(o) {}
  LogsCurrentThread(LogsCurrentThread&& x) noexcept : out(x.out) { x.out = nullptr; }
};
}  // namespace

TEST(Local, ForeignThreadValueDestructorMayUseCurrentThread) {
  // A value's destructor runs at the foreign thread's exit; threading calls made from it must
  // still work (here: the thread touched the local before it first asked for current_thread()).
  std::string at_exit;
  std::string seen_name;
  const std::size_t baseline = th::active_count();
  {
    th::local<LogsCurrentThread> l([&] { return LogsCurrentThread(&at_exit); });
    std::thread f([&] {
      l.get();
      seen_name = th::current_thread().name();
    });
    f.join();
    EXPECT_FALSE(seen_name.empty());
    EXPECT_FALSE(at_exit.empty());
  }
  EXPECT_EQ(at_exit, seen_name);
  // No Dummy left behind by the exit.
  EXPECT_EQ(th::active_count(), baseline);
  for (auto& r : th::enumerate()) EXPECT_TRUE(r.is_alive()) << r.name();
}

TEST(Local, ForeignThreadValueDestructorMayBeTheFirstToAskForCurrentThread) {
  // The foreign thread never asked threading about itself before its exit.
  std::string at_exit;
  const std::size_t baseline = th::active_count();
  {
    th::local<LogsCurrentThread> l([&] { return LogsCurrentThread(&at_exit); });
    std::thread f([&] { l.get(); });
    f.join();
  }
  EXPECT_EQ(at_exit.rfind("Dummy-", 0), 0u) << at_exit;
  EXPECT_EQ(th::active_count(), baseline);  // the Dummy made during the exit is gone too
}

TEST(Local, ConcurThreadValueDestructorMayUseCurrentThread) {
  std::string at_exit;
  th::local<LogsCurrentThread> l([&] { return LogsCurrentThread(&at_exit); });
  th::Thread t(th::ThreadOptions{.name = "logger"}, [&] { l.get(); });
  t.start();
  ASSERT_TRUE(t.join(long_wait()));
  EXPECT_EQ(at_exit, "logger");
}

TEST(Local, LocalAsAMemberGivesOneValuePerObjectPerThread) {
  // The seeds' LazyConnection: a per-thread socket held in a member.
  struct Connection {
    th::local<int> sock{[] { return 0; }};
    int use() { return ++*sock; }
  };
  Connection a, b;
  EXPECT_EQ(a.use(), 1);
  EXPECT_EQ(a.use(), 2);
  EXPECT_EQ(b.use(), 1);
  int ta = 0, tb = 0;
  th::Thread t([&] {
    ta = a.use();
    tb = b.use() + b.use();
  });
  t.start();
  ASSERT_TRUE(t.join(long_wait()));
  EXPECT_EQ(ta, 1);
  EXPECT_EQ(tb, 3);
  EXPECT_EQ(a.use(), 3);
}

TEST(Local, DefaultTrackedValuesAcrossThreads) {
  reset_globals();
  {
    th::local<DefaultTracked> l;
    l->value = 1;
    concur_test::run_parallel(4, [&](int i) { l->value = i; });
    EXPECT_EQ(g_counters.made.load(), 5);
    EXPECT_EQ(g_counters.destroyed.load(), 4);
    EXPECT_EQ(l->value, 1);
  }
  EXPECT_EQ(g_counters.destroyed.load(), 5);
}

TEST(Local, ThreadsExitingWhileTheLocalIsDestroyed) {
  // Races each thread's exit against ~local: every value is still destroyed exactly once.
  constexpr int kThreads = 8;
  for (int round = 0; round < 20; ++round) {
    Counters c;
    auto l = std::make_unique<th::local<Tracked>>([&] { return Tracked(&c); });
    th::Semaphore ready(0);
    th::Event go;
    std::vector<th::Thread> threads;
    for (int i = 0; i < kThreads; ++i)
      threads.emplace_back([&, raw = l.get()] {
        raw->get();
        ready.release();
        go.wait(long_wait());
      });
    for (auto& t : threads) t.start();
    for (int i = 0; i < kThreads; ++i) ASSERT_TRUE(ready.acquire(long_wait()));
    go.set();
    l.reset();  // concurrently with the threads' exits
    for (auto& t : threads) ASSERT_TRUE(t.join(long_wait()));
    ASSERT_EQ(c.made.load(), kThreads);
    ASSERT_EQ(c.destroyed.load(), kThreads) << "round " << round;
  }
}

TEST(Local, ManyLocalsManyThreadsConservation) {
  constexpr int kLocals = 16;
  constexpr int kThreads = 8;
  constexpr int kIters = 200;
  Counters c;
  {
    std::vector<std::unique_ptr<th::local<Tracked>>> locals;
    for (int i = 0; i < kLocals; ++i)
      locals.push_back(std::make_unique<th::local<Tracked>>([&c, i] { return Tracked(&c, i); }));
    std::atomic<int> mismatches{0};
    std::vector<th::Thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        unsigned x = 12345u + static_cast<unsigned>(t) * 7919u;
        std::vector<int> mine(kLocals, -1);  // what this thread last stored, -1: factory value
        for (int it = 0; it < kIters; ++it) {
          x = x * 1103515245u + 12345u;
          const int k = static_cast<int>((x >> 8) % kLocals);
          switch ((x >> 16) % 4) {
            case 0:
              locals[k]->reset();
              mine[k] = -1;
              break;
            case 1: {
              const int v = 1000 * (t + 1) + it;
              locals[k]->set(Tracked(&c, v));
              mine[k] = v;
              break;
            }
            default: {
              const int expect = mine[k] == -1 ? k : mine[k];
              if (locals[k]->get().value != expect) ++mismatches;
              mine[k] = expect;
            }
          }
        }
      });
    for (auto& t : threads) t.start();
    // The main thread has values in every local too; they die with the locals.
    for (int i = 0; i < kLocals; ++i) EXPECT_EQ(locals[i]->get().value, i);
    for (auto& t : threads) ASSERT_TRUE(t.join(long_wait()));
    EXPECT_EQ(mismatches.load(), 0);
    EXPECT_EQ(c.live(), kLocals);  // only the main thread's values are left
  }
  EXPECT_EQ(c.live(), 0);
  EXPECT_EQ(c.made.load(), c.destroyed.load());
}

TEST(Local, ManyThreadsManyLocalsDestroyedWhileTheyRun) {
  // Locals destroyed while threads that touched them are still alive (idle), then the threads
  // end: conservation holds.
  constexpr int kLocals = 8;
  constexpr int kThreads = 6;
  Counters c;
  std::vector<std::unique_ptr<th::local<Tracked>>> locals;
  for (int i = 0; i < kLocals; ++i)
    locals.push_back(std::make_unique<th::local<Tracked>>([&c] { return Tracked(&c); }));
  th::Semaphore ready(0);
  th::Event go;
  std::vector<th::Thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (auto& l : locals) l->get();
      ready.release();
      go.wait(long_wait());
    });
  for (auto& t : threads) t.start();
  for (int t = 0; t < kThreads; ++t) ASSERT_TRUE(ready.acquire(long_wait()));
  EXPECT_EQ(c.live(), kLocals * kThreads);
  for (int i = 0; i < kLocals / 2; ++i) locals[i].reset();
  EXPECT_EQ(c.live(), (kLocals / 2) * kThreads);
  go.set();
  for (auto& t : threads) ASSERT_TRUE(t.join(long_wait()));
  EXPECT_EQ(c.live(), 0);
  locals.clear();
  EXPECT_EQ(c.made.load(), kLocals * kThreads);
  EXPECT_EQ(c.destroyed.load(), kLocals * kThreads);
}
