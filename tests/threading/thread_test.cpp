// threading.Thread: construction, start/join, names, daemon flag, idents, cooperative stop,
// subclassing, destructor rules and moves (API.md §2; CPython's Lib/threading.py semantics where
// API.md is silent).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "concur/threading.hpp"
#include "test_support.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;
using namespace concur_test;  // long_wait, scaled, eventually, time_of, ...

namespace {

}  // namespace

// --- target and arguments ----------------------------------------------------------------------

TEST(Thread, TargetAndArgumentsAreStoredByValue) {
  std::string s = "hello";
  int n = 7;
  std::vector<int> v{1, 2, 3};
  std::string got_s;
  int got_n = 0;
  std::vector<int> got_v;
  th::Thread t(
      [&](std::string a, int b, std::vector<int> c) {
        got_s = std::move(a);
        got_n = b;
        got_v = std::move(c);
      },
      s, n, v);
  // Changing the originals after construction does not reach the thread: it has copies.
  s = "changed";
  n = -1;
  v.clear();
  t.start();
  ASSERT_TRUE(t.join(long_wait()));
  EXPECT_EQ(got_s, "hello");
  EXPECT_EQ(got_n, 7);
  EXPECT_EQ(got_v, (std::vector<int>{1, 2, 3}));
}

TEST(Thread, LvalueArgumentsAreCopiedNotMoved) {
  std::string s(100, 'x');  // long enough that a move would visibly empty it
  std::size_t got = 0;
  th::Thread t([&](const std::string& a) { got = a.size(); }, s);
  EXPECT_EQ(s.size(), 100u);
  t.start();
  ASSERT_TRUE(t.join(long_wait()));
  EXPECT_EQ(got, 100u);
  EXPECT_EQ(s.size(), 100u);
}

TEST(Thread, StdRefPassesAReferenceLikeStdThread) {
  int target = 0;
  th::Thread t([](int& x) { x = 42; }, std::ref(target));
  t.start();
  ASSERT_TRUE(t.join(long_wait()));
  EXPECT_EQ(target, 42);
}

TEST(Thread, MoveOnlyArgumentsAndTargetsWork) {
  auto p = std::make_unique<int>(41);
  int got = 0;
  th::Thread t([&got](std::unique_ptr<int> q) { got = *q + 1; }, std::move(p));
  EXPECT_EQ(p, nullptr);
  t.start();
  ASSERT_TRUE(t.join(long_wait()));
  EXPECT_EQ(got, 42);

  // A move-only callable.
  auto owned = std::make_unique<int>(5);
  int got2 = 0;
  th::Thread t2([&got2, o = std::move(owned)] { got2 = *o; });
  t2.start();
  ASSERT_TRUE(t2.join(long_wait()));
  EXPECT_EQ(got2, 5);
}

TEST(Thread, TargetAndBoundArgumentsAreReleasedBeforeJoinReturns) {
  // CPython's Thread.run() drops its target and args when done; here the bound copies die in
  // the thread, before join() returns.
  auto shared = std::make_shared<int>(1);
  th::Thread t([](std::shared_ptr<int> p) { EXPECT_EQ(*p, 1); }, shared);
  EXPECT_EQ(shared.use_count(), 2);
  t.start();
  ASSERT_TRUE(t.join(long_wait()));
  EXPECT_EQ(shared.use_count(), 1);

  // A never-started Thread releases them when it is destroyed.
  {
    th::Thread never([](std::shared_ptr<int>) {}, shared);
    EXPECT_EQ(shared.use_count(), 2);
  }
  EXPECT_EQ(shared.use_count(), 1);
}

namespace {
struct Accumulator {
  std::atomic<int> total{0};
  void add(int n) { total += n; }
  void add_twice(int a, int b) { total += a + b; }
  int value() const { return total.load(); }
};
}  // namespace

TEST(Thread, MemberFunctionPointerTargets) {
  Accumulator acc;
  th::Thread t1(&Accumulator::add, &acc, 5);
  th::Thread t2(&Accumulator::add_twice, &acc, 10, 20);
  th::Thread t3(&Accumulator::add, std::ref(acc), 100);
  t1.start();
  t2.start();
  t3.start();
  ASSERT_TRUE(t1.join(long_wait()));
  ASSERT_TRUE(t2.join(long_wait()));
  ASSERT_TRUE(t3.join(long_wait()));
  EXPECT_EQ(acc.value(), 135);
}

// --- options, names, daemon ---------------------------------------------------------------------

TEST(Thread, OptionsSetNameAndDaemon) {
  th::Thread t(th::ThreadOptions{.name = "worker-1", .daemon = true}, [] {});
  EXPECT_EQ(t.name(), "worker-1");
  EXPECT_TRUE(t.daemon());

  th::Thread u(th::ThreadOptions{.name = "only-a-name"}, [] {});
  EXPECT_EQ(u.name(), "only-a-name");
  EXPECT_FALSE(u.daemon());  // inherited from the main thread, which is not a daemon

  th::Thread w(th::ThreadOptions{.daemon = true}, [] {});
  EXPECT_GT(thread_number(w.name()), 0) << w.name();
  EXPECT_TRUE(w.daemon());

  std::string seen;
  th::Thread x(th::ThreadOptions{.name = "seen-inside", .daemon = false},
               [&] { seen = th::current_thread().name(); });
  x.start();
  ASSERT_TRUE(x.join(long_wait()));
  EXPECT_EQ(seen, "seen-inside");
}

TEST(Thread, DefaultNamesAreThreadNIncreasing) {
  th::Thread a([] {});
  th::Thread b([] {});
  th::Thread c;
  const long na = thread_number(a.name()), nb = thread_number(b.name()), nc = thread_number(c.name());
  EXPECT_GT(na, 0) << a.name();
  EXPECT_GT(nb, na) << a.name() << " then " << b.name();
  EXPECT_GT(nc, nb) << b.name() << " then " << c.name();
}

TEST(Thread, SetNameBeforeAndAfterStart) {
  th::Event go;
  std::string inside;
  th::Thread t([&] {
    go.wait(long_wait());
    inside = th::current_thread().name();
  });
  t.set_name("before");
  EXPECT_EQ(t.name(), "before");
  t.start();
  t.set_name("after");
  EXPECT_EQ(t.name(), "after");
  go.set();
  ASSERT_TRUE(t.join(long_wait()));
  EXPECT_EQ(inside, "after");
  t.set_name("finished");  // allowed after the end too, as in CPython
  EXPECT_EQ(t.name(), "finished");
}

TEST(Thread, SetDaemonBeforeStartOnlyThenRuntimeError) {
  th::Event go;
  th::Thread t([&] { go.wait(long_wait()); });
  EXPECT_FALSE(t.daemon());
  t.set_daemon(true);
  EXPECT_TRUE(t.daemon());
  t.set_daemon(false);
  EXPECT_FALSE(t.daemon());
  t.start();
  EXPECT_THROW(t.set_daemon(true), concur::RuntimeError);
  EXPECT_FALSE(t.daemon());
  go.set();
  ASSERT_TRUE(t.join(long_wait()));
  EXPECT_THROW(t.set_daemon(true), concur::RuntimeError);  // still "started"
  EXPECT_FALSE(t.daemon());
}

TEST(Thread, DaemonFlagIsInheritedFromTheCreatingThread) {
  // CPython: Thread.__init__ takes current_thread().daemon when daemon is None.
  std::optional<bool> child_default, child_explicit, grandchild_inside;
  th::Thread d(th::ThreadOptions{.daemon = true}, [&] {
    th::Thread child([&] { grandchild_inside = th::current_thread().daemon(); });
    child_default = child.daemon();
    th::Thread child2(th::ThreadOptions{.daemon = false}, [] {});
    child_explicit = child2.daemon();
    child.start();
    EXPECT_TRUE(child.join(long_wait()));
  });
  d.start();
  ASSERT_TRUE(d.join(long_wait()));
  ASSERT_TRUE(child_default.has_value());
  EXPECT_TRUE(*child_default);
  ASSERT_TRUE(child_explicit.has_value());
  EXPECT_FALSE(*child_explicit);
  ASSERT_TRUE(grandchild_inside.has_value());
  EXPECT_TRUE(*grandchild_inside);

  // From a non-daemon thread: non-daemon.
  std::optional<bool> from_non_daemon;
  th::Thread nd(th::ThreadOptions{.daemon = false}, [&] {
    th::Thread child([] {});
    from_non_daemon = child.daemon();
  });
  nd.start();
  ASSERT_TRUE(nd.join(long_wait()));
  ASSERT_TRUE(from_non_daemon.has_value());
  EXPECT_FALSE(*from_non_daemon);
}

TEST(Thread, ThreadCreatedInAForeignThreadDefaultsToDaemon) {
  // A foreign thread is a _DummyThread, which is daemonic; its children inherit that.
  std::optional<bool> daemon;
  std::thread foreign([&] {
    th::Thread child([] {});
    daemon = child.daemon();
  });
  foreign.join();
  ASSERT_TRUE(daemon.has_value());
  EXPECT_TRUE(*daemon);
}

// --- start / join / is_alive ---------------------------------------------------------------------

TEST(Thread, StartTwiceIsRuntimeError) {
  std::atomic<int> runs{0};
  th::Thread t([&] { ++runs; });
  t.start();
  EXPECT_THROW(t.start(), concur::RuntimeError);
  ASSERT_TRUE(t.join(long_wait()));
  EXPECT_THROW(t.start(), concur::RuntimeError);
  EXPECT_EQ(runs.load(), 1);
  try {
    t.start();
    ADD_FAILURE() << "second start() did not throw";
  } catch (const concur::Error& e) {
    EXPECT_STRNE(e.what(), "");
  }
}

TEST(Thread, JoinBeforeStartIsRuntimeError) {
  th::Thread t([] {});
  EXPECT_THROW(t.join(), concur::RuntimeError);
  EXPECT_THROW(t.join(10ms), concur::RuntimeError);
  EXPECT_THROW(t.join(std::chrono::duration<double>(0.01)), concur::RuntimeError);
  // The failed join did not break anything.
  t.start();
  EXPECT_TRUE(t.join(long_wait()));
}

TEST(Thread, JoinOfTheCurrentThreadIsRuntimeError) {
  th::Thread* self = nullptr;
  bool plain = false, timed = false;
  th::Thread t([&] {
    try {
      self->join();
    } catch (const concur::RuntimeError&) {
      plain = true;
    }
    try {
      self->join(10ms);
    } catch (const concur::RuntimeError&) {
      timed = true;
    }
  });
  self = &t;  // written before start(): start() orders it before the thread's reads
  t.start();
  ASSERT_TRUE(t.join(long_wait()));
  EXPECT_TRUE(plain);
  EXPECT_TRUE(timed);
}

TEST(Thread, JoinWithTimeoutFalseWhileRunningThenTrue) {
  th::Event go;
  th::Thread t([&] { go.wait(long_wait()); });
  t.start();
  EXPECT_FALSE(t.join(10ms));
  EXPECT_FALSE(t.join(std::chrono::duration<double>(0.01)));
  EXPECT_FALSE(t.join(0ms));   // zero: do not wait
  EXPECT_FALSE(t.join(-5ms));  // negative: do not wait, never throw
  EXPECT_TRUE(t.is_alive());
  go.set();
  EXPECT_TRUE(t.join(long_wait()));
  EXPECT_FALSE(t.is_alive());
  // Joining again is fine (CPython allows any number of joins).
  EXPECT_TRUE(t.join(0ms));
  t.join();
}

TEST(Thread, TimedJoinWaitsAtLeastTheTimeout) {
  th::Event go;
  th::Thread t([&] { go.wait(long_wait()); });
  t.start();
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(t.join(50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 50ms);
  go.set();
  EXPECT_TRUE(t.join(long_wait()));
}

TEST(Thread, ManyThreadsMayJoinTheSameThread) {
  th::Event go;
  th::Thread t([&] { go.wait(long_wait()); });
  t.start();
  std::atomic<int> joined{0};
  std::vector<std::thread> joiners;
  for (int i = 0; i < 4; ++i)
    joiners.emplace_back([&] {
      if (t.join(long_wait())) ++joined;
    });
  go.set();
  for (auto& j : joiners) j.join();
  EXPECT_EQ(joined.load(), 4);
  EXPECT_TRUE(t.join(long_wait()));
}

TEST(Thread, IsAliveBeforeDuringAfter) {
  th::Event inside, go;
  bool alive_inside = false;
  th::Thread* self = nullptr;
  th::Thread t([&] {
    alive_inside = self->is_alive();
    inside.set();
    go.wait(long_wait());
  });
  self = &t;
  EXPECT_FALSE(t.is_alive());
  t.start();
  EXPECT_TRUE(t.is_alive());
  ASSERT_TRUE(inside.wait(long_wait()));
  EXPECT_TRUE(t.is_alive());
  go.set();
  ASSERT_TRUE(t.join(long_wait()));
  EXPECT_FALSE(t.is_alive());
  EXPECT_TRUE(alive_inside);
}

TEST(Thread, IdentAndNativeIdNulloptBeforeStartSetWhenStartReturns) {
  th::Event go;
  std::uint64_t inside_ident = 0, inside_native = 0;
  std::optional<std::uint64_t> inside_ref_ident, inside_ref_native;
  th::Thread t([&] {
    go.wait(long_wait());
    inside_ident = th::get_ident();
    inside_native = th::get_native_id();
    inside_ref_ident = th::current_thread().ident();
    inside_ref_native = th::current_thread().native_id();
  });
  EXPECT_EQ(t.ident(), std::nullopt);
  EXPECT_EQ(t.native_id(), std::nullopt);
  t.start();
  // Set as soon as start() returns, whatever the thread has done so far (it is blocked).
  const auto ident = t.ident();
  const auto native = t.native_id();
  ASSERT_TRUE(ident.has_value());
  ASSERT_TRUE(native.has_value());
  EXPECT_NE(*native, th::get_native_id());
  EXPECT_NE(*ident, th::get_ident());
  go.set();
  ASSERT_TRUE(t.join(long_wait()));
  EXPECT_EQ(*ident, inside_ident);
  EXPECT_EQ(*native, inside_native);
  EXPECT_EQ(inside_ref_ident, ident);
  EXPECT_EQ(inside_ref_native, native);
  // They stay readable after the end.
  EXPECT_EQ(t.ident(), ident);
  EXPECT_EQ(t.native_id(), native);
}

// --- cooperative stop -----------------------------------------------------------------------------

TEST(Thread, StopTokenTargetSeesRequestStop) {
  th::Event stop_seen;
  bool requested_inside = false;
  int got = 0;
  th::Thread c(
      [&](std::stop_token st, int n) {
        got = n;
        std::stop_callback cb(st, [&] { stop_seen.set(); });
        stop_seen.wait(long_wait());
        requested_inside = st.stop_requested();
      },
      10);
  EXPECT_FALSE(c.stop_requested());
  c.start();
  EXPECT_FALSE(c.stop_requested());
  EXPECT_TRUE(c.request_stop());
  EXPECT_FALSE(c.request_stop());  // already requested
  EXPECT_TRUE(c.stop_requested());
  ASSERT_TRUE(c.join(long_wait()));
  EXPECT_TRUE(requested_inside);
  EXPECT_EQ(got, 10);
}

TEST(Thread, StopRequestedBeforeStartIsSeenAtOnce) {
  bool requested = false;
  th::Thread c([&](std::stop_token st) { requested = st.stop_requested(); });
  c.request_stop();
  c.start();
  ASSERT_TRUE(c.join(long_wait()));
  EXPECT_TRUE(requested);
}

TEST(Thread, ApiStopTokenLoopEndsEarlyWhenStopped) {
  // The loop of API.md §2: would run 100 x 10 ms without a stop.
  std::atomic<int> left{-1};
  th::Event started;
  th::Thread c(
      [&](std::stop_token st, int n) {
        started.set();
        while (!st.stop_requested() && n-- > 0) th::sleep(10ms);
        left = n;
      },
      100000);
  c.start();
  ASSERT_TRUE(started.wait(long_wait()));
  c.request_stop();
  ASSERT_TRUE(c.join(long_wait()));
  EXPECT_GT(left.load(), 0);
}

TEST(Thread, TargetWithoutStopTokenStillHasAStopState) {
  th::Thread t([] {});
  EXPECT_TRUE(t.request_stop());
  EXPECT_TRUE(t.stop_requested());
  t.start();
  ASSERT_TRUE(t.join(long_wait()));
}

// --- subclassing -----------------------------------------------------------------------------------

namespace {

struct CountdownThread : th::Thread {
  explicit CountdownThread(int n) : n_(n) {}
  ~CountdownThread() override {
    if (ident()) join(long_wait());  // run() uses our members: join before they die
  }
  void run() override {
    name_inside = th::current_thread().name();
    while (n_ > 0) {
      --n_;
      ++steps;
    }
  }
  int n_;
  int steps = 0;
  std::string name_inside;
};

// Built from a target, no run() override: Thread::run() calls the target.
struct Plain : th::Thread {
  using th::Thread::Thread;
};

// Overrides run() and calls the base run() (CPython: super().run()), which runs the target.
struct Wrapping : th::Thread {
  using th::Thread::Thread;
  ~Wrapping() override {
    if (ident()) join(long_wait());
  }
  void run() override {
    before = true;
    th::Thread::run();
    after = true;
  }
  bool before = false, after = false;
};

struct StoppableLoop : th::Thread {
  ~StoppableLoop() override {
    if (ident()) join(long_wait());
  }
  void run() override {
    th::Event stopped;
    std::stop_callback cb(stop_token(), [&] { stopped.set(); });
    started.set();
    stopped.wait(long_wait());
    saw_stop = stop_requested();
  }
  th::Event started;
  bool saw_stop = false;
};

}  // namespace

TEST(Thread, SubclassOverridingRunUsesItsMembers) {
  CountdownThread cd(5);
  EXPECT_GT(thread_number(cd.name()), 0);
  cd.start();
  ASSERT_TRUE(cd.join(long_wait()));
  EXPECT_EQ(cd.steps, 5);
  EXPECT_EQ(cd.n_, 0);
  EXPECT_EQ(cd.name_inside, cd.name());
  EXPECT_FALSE(cd.is_alive());
  EXPECT_THROW(cd.start(), concur::RuntimeError);
}

TEST(Thread, SubclassWithoutRunOverrideRunsItsTarget) {
  std::atomic<bool> ran{false};
  std::string inside;
  Plain p([&](int x) {
    ran = x == 3;
    inside = th::current_thread().name();
  }, 3);
  p.start();
  ASSERT_TRUE(p.join(long_wait()));
  EXPECT_TRUE(ran.load());
  EXPECT_EQ(inside, p.name());
}

TEST(Thread, SubclassRunCallingBaseRunRunsTheTarget) {
  bool target_ran = false;
  Wrapping w(th::ThreadOptions{.name = "wrapping"}, [&] { target_ran = true; });
  w.start();
  ASSERT_TRUE(w.join(long_wait()));
  EXPECT_TRUE(w.before);
  EXPECT_TRUE(target_ran);
  EXPECT_TRUE(w.after);
  EXPECT_EQ(w.name(), "wrapping");
}

TEST(Thread, SubclassRunSeesStopToken) {
  StoppableLoop s;
  s.start();
  ASSERT_TRUE(s.started.wait(long_wait()));
  EXPECT_TRUE(s.request_stop());
  ASSERT_TRUE(s.join(long_wait()));
  EXPECT_TRUE(s.saw_stop);
}

TEST(Thread, DefaultConstructedThreadRunsNothing) {
  th::Thread t;
  t.start();
  EXPECT_TRUE(t.join(long_wait()));
  EXPECT_FALSE(t.is_alive());
}

// --- destructor rules --------------------------------------------------------------------------------

TEST(Thread, DestroyingARunningNonDaemonThreadJoinsIt) {
  th::Event started, go;
  std::atomic<bool> body_done{false};
  std::atomic<bool> destructor_returned{false};
  std::atomic<bool> done_when_destructor_returned{false};
  // The Thread is destroyed in a helper thread, so that the main thread can watch the
  // destructor block. It is built there with an explicit non-daemon flag (a foreign thread's
  // children would otherwise inherit daemon=true).
  std::thread destroyer([&] {
    {
      th::Thread t(th::ThreadOptions{.daemon = false}, [&] {
        started.set();
        go.wait(long_wait());
        body_done = true;
      });
      t.start();
    }
    done_when_destructor_returned = body_done.load();
    destructor_returned = true;
  });
  ASSERT_TRUE(started.wait(long_wait()));
  th::sleep(scaled(50ms));  // time for a wrong destructor to return early
  EXPECT_FALSE(destructor_returned.load());
  go.set();
  destroyer.join();
  EXPECT_TRUE(destructor_returned.load());
  EXPECT_TRUE(done_when_destructor_returned.load());
}

TEST(Thread, DestroyingARunningDaemonTargetThreadLeavesItRunning) {
  // Shared state, so that the thread may outlive this scope safely.
  auto go = std::make_shared<th::Event>();
  auto finished = std::make_shared<th::Event>();
  std::optional<th::ThreadRef> ref;
  {
    th::Thread t(th::ThreadOptions{.daemon = true}, [go, finished] {
      go->wait();  // unbounded on purpose: the test sets it below; the watchdog bounds it
      finished->set();
    });
    t.start();
    ref = t.ref();
  }  // must return while the body is still blocked
  EXPECT_TRUE(ref->is_alive());
  EXPECT_FALSE(finished->is_set());
  go->set();
  EXPECT_TRUE(finished->wait(long_wait()));
  EXPECT_TRUE(eventually([&] { return !ref->is_alive(); }));
}

namespace {
struct DaemonWaiter : th::Thread {
  DaemonWaiter(th::Event* started, th::Event* go, std::atomic<bool>* done)
      : th::Thread(th::ThreadOptions{.daemon = true}), started_(started), go_(go), done_(done) {}
  void run() override {
    // Copy the members first: the object's own destructor may be running below us.
    th::Event* go = go_;
    std::atomic<bool>* done = done_;
    started_->set();
    go->wait(long_wait());
    done->store(true);
  }
  th::Event* started_;
  th::Event* go_;
  std::atomic<bool>* done_;
};
}  // namespace

TEST(Thread, DestroyingARunningDaemonRunOverrideJoinsIt) {
  th::Event started, go;
  std::atomic<bool> done{false};
  std::atomic<bool> destructor_returned{false};
  std::atomic<bool> done_when_destructor_returned{false};
  auto* w = new DaemonWaiter(&started, &go, &done);
  w->start();
  ASSERT_TRUE(started.wait(long_wait()));
  std::thread destroyer([&] {
    delete w;
    done_when_destructor_returned = done.load();
    destructor_returned = true;
  });
  th::sleep(scaled(50ms));  // time for a wrong destructor to return early
  EXPECT_FALSE(destructor_returned.load());
  go.set();
  destroyer.join();
  EXPECT_TRUE(done_when_destructor_returned.load());
}

TEST(Thread, DestroyingAFinishedUnjoinedThreadIsFine) {
  th::Event done;
  {
    th::Thread t([&] { done.set(); });
    t.start();
    ASSERT_TRUE(done.wait(long_wait()));
  }
  {
    th::Thread d(th::ThreadOptions{.daemon = true}, [] {});
    d.start();
    ASSERT_TRUE(d.join(long_wait()));
  }
  { th::Thread never([] {}); }
  SUCCEED();
}

TEST(Thread, ThreadMayDestroyItsOwnThreadObject) {
  // A self-owning thread: its target deletes the Thread object that started it.
  th::Event go, deleted;
  th::Thread* self = new th::Thread(th::ThreadOptions{.name = "self-owned"}, [&] {
    go.wait(long_wait());
    delete self;
    deleted.set();
  });
  const th::ThreadRef ref = self->ref();
  self->start();
  go.set();
  ASSERT_TRUE(deleted.wait(long_wait()));
  EXPECT_TRUE(eventually([&] { return !ref.is_alive(); }));
  EXPECT_EQ(ref.name(), "self-owned");
}

TEST(Thread, LongAndNonAsciiNamesAreKeptWhole) {
  // The OS keeps 15 bytes of a thread's name; name() must not be cut.
  const std::string name = "très-long-nom-de-fil-d'exécution-ü";
  std::string inside;
  th::Thread t(th::ThreadOptions{.name = name}, [&] { inside = th::current_thread().name(); });
  t.start();
  ASSERT_TRUE(t.join(long_wait()));
  EXPECT_EQ(t.name(), name);
  EXPECT_EQ(inside, name);
}

// --- moves ---------------------------------------------------------------------------------------------

static_assert(std::is_nothrow_move_constructible_v<th::Thread>);
static_assert(std::is_move_assignable_v<th::Thread>);
static_assert(!std::is_copy_constructible_v<th::Thread>);
static_assert(!std::is_copy_assignable_v<th::Thread>);

TEST(Thread, MoveConstructBeforeStart) {
  int got = 0;
  th::Thread a([&](int x) { got = x; }, 9);
  const std::string name = a.name();
  th::Thread b(std::move(a));
  EXPECT_EQ(b.name(), name);
  EXPECT_FALSE(a.is_alive());  // NOLINT(bugprone-use-after-move): the moved-from state is checked
  b.start();
  ASSERT_TRUE(b.join(long_wait()));
  EXPECT_EQ(got, 9);
  // The moved-from object cannot run the (moved) target a second time.
  EXPECT_THROW(a.start(), concur::RuntimeError);  // NOLINT(bugprone-use-after-move)
}

TEST(Thread, MoveConstructAfterStart) {
  th::Event go;
  std::atomic<bool> done{false};
  th::Thread a([&] {
    go.wait(long_wait());
    done = true;
  });
  a.start();
  const auto ident = a.ident();
  const std::string name = a.name();
  th::Thread b(std::move(a));
  EXPECT_TRUE(b.is_alive());
  EXPECT_EQ(b.ident(), ident);
  EXPECT_EQ(b.name(), name);
  EXPECT_FALSE(a.is_alive());  // NOLINT(bugprone-use-after-move)
  EXPECT_FALSE(b.join(1ms));
  go.set();
  ASSERT_TRUE(b.join(long_wait()));
  EXPECT_TRUE(done.load());
}

TEST(Thread, MoveAssignBeforeAndAfterStart) {
  th::Event go;
  std::atomic<int> which{0};
  th::Thread a([&] {
    go.wait(long_wait());
    which = 1;
  });
  th::Thread b([&] { which = 2; });  // never started: replaced by a
  a.start();
  const auto ident = a.ident();
  b = std::move(a);
  EXPECT_EQ(b.ident(), ident);
  EXPECT_TRUE(b.is_alive());
  go.set();
  ASSERT_TRUE(b.join(long_wait()));
  EXPECT_EQ(which.load(), 1);

  // Assigning a not-yet-started Thread over a finished (unjoined) one, then starting it.
  th::Event finished;
  th::Thread c([&] { finished.set(); });
  c.start();
  ASSERT_TRUE(finished.wait(long_wait()));
  th::Thread d([&] { which = 4; });
  c = std::move(d);
  EXPECT_EQ(c.ident(), std::nullopt);
  c.start();
  ASSERT_TRUE(c.join(long_wait()));
  EXPECT_EQ(which.load(), 4);
}

TEST(Thread, VectorOfStartedThreadsSurvivesReallocation) {
  constexpr int kThreads = 16;
  th::Event go;
  std::atomic<int> sum{0};
  std::vector<th::Thread> threads;  // no reserve(): emplace_back moves the started ones
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back(
        [&](int k) {
          go.wait(long_wait());
          sum += k;
        },
        i);
    threads.back().start();
  }
  for (auto& t : threads) EXPECT_TRUE(t.is_alive());
  go.set();
  for (auto& t : threads) EXPECT_TRUE(t.join(long_wait()));
  EXPECT_EQ(sum.load(), kThreads * (kThreads - 1) / 2);
}

// --- ThreadRef from a Thread ---------------------------------------------------------------------------

TEST(Thread, RefMatchesCurrentThreadInsideAndOutlivesTheThread) {
  std::optional<th::ThreadRef> inside;
  th::Thread t(th::ThreadOptions{.name = "ref-me"}, [&] { inside = th::current_thread(); });
  const th::ThreadRef before = t.ref();
  EXPECT_FALSE(before.is_alive());
  t.start();
  ASSERT_TRUE(t.join(long_wait()));
  ASSERT_TRUE(inside.has_value());
  EXPECT_TRUE(*inside == t.ref());
  EXPECT_TRUE(before == *inside);
  EXPECT_FALSE(inside->is_alive());
  EXPECT_EQ(inside->name(), "ref-me");
  EXPECT_EQ(inside->ident(), t.ident());
  EXPECT_EQ(inside->native_id(), t.native_id());
  EXPECT_FALSE(inside->daemon());
}

// --- process exit: non-daemon threads are waited for, daemon ones are not ------------------------------

TEST(ThreadDeathTest, ExitWaitsForNonDaemonThreads) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        // A static, as a program's global Thread would be: exit() skips locals' destructors
        // but runs the wait for non-daemon threads (and later this destructor).
        static th::Thread t(th::ThreadOptions{.daemon = false}, [] {
          th::sleep(100ms);  // time for a wrong exit() to leave without waiting
          std::fputs("non-daemon worker finished\n", stderr);
          std::fflush(stderr);
        });
        t.start();
        std::exit(0);
      },
      testing::ExitedWithCode(0), "non-daemon worker finished");
}

TEST(ThreadDeathTest, ExitDoesNotWaitForDaemonThreads) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        auto* never = new th::Event();  // never set, never freed: the thread may outlive statics
        static th::Thread t(th::ThreadOptions{.daemon = true}, [never] { never->wait(); });
        t.start();
        std::fputs("main exiting\n", stderr);
        std::exit(0);
      },
      testing::ExitedWithCode(0), "main exiting");
}
