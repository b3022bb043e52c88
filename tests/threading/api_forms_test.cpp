// Every call form written in API.md §2 (and the §1 rules they rely on), exactly as written there,
// compiled and run. Behaviour is checked where the comment next to a form states it; the deeper
// tests live in the other *_test.cpp files.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <type_traits>
#include <vector>

#include "concur/threading.hpp"
#include "test_support.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;
using namespace concur_test;  // long_wait, scaled, eventually, time_of, ...

// --- §1 errors ---------------------------------------------------------------------------------

static_assert(std::is_base_of_v<std::runtime_error, concur::Error>);
static_assert(std::is_base_of_v<concur::Error, concur::RuntimeError>);
static_assert(std::is_base_of_v<concur::Error, concur::ValueError>);
static_assert(std::is_base_of_v<concur::Error, concur::TimeoutError>);
static_assert(std::is_base_of_v<concur::Error, th::BrokenBarrierError>);

// --- §2 Thread ------------------------------------------------------------------------------------

namespace {
std::atomic<int> g_fn_sum{0};
void fn(int a, const std::string& b) { g_fn_sum += a + static_cast<int>(b.size()); }

struct Countdown : th::Thread {
  void run() override { /* ... */ }
};
}  // namespace

TEST(ApiForms, ThreadTargetAndArguments) {
  g_fn_sum = 0;
  int a = 1;
  std::string b = "two";
  th::Thread t(fn, a, b);  // target + arguments, stored by value like std::thread
  t.start();
  EXPECT_THROW(t.start(), concur::RuntimeError);  // RuntimeError on a second start()
  t.join();
  bool finished = t.join(100ms);  // false if still running after the timeout
  EXPECT_TRUE(finished);
  EXPECT_FALSE(t.is_alive());
  EXPECT_EQ(g_fn_sum.load(), 4);
}

TEST(ApiForms, ThreadWithOptions) {
  g_fn_sum = 0;
  int a = 2;
  std::string b = "x";
  th::Thread t(th::ThreadOptions{.name = "worker-1", .daemon = true}, fn, a, b);
  EXPECT_EQ(t.name(), "worker-1");
  EXPECT_TRUE(t.daemon());
  t.start();
  EXPECT_TRUE(t.join(long_wait()));
  EXPECT_EQ(g_fn_sum.load(), 3);
}

TEST(ApiForms, ThreadJoinErrors) {
  th::Thread t(fn, 1, std::string("y"));
  EXPECT_THROW(t.join(), concur::RuntimeError);  // RuntimeError if never started
  th::Thread* self = &t;
  bool self_join = false;
  th::Thread u([&] {
    try {
      self->join();  // ... or if t is the current thread
    } catch (const concur::RuntimeError&) {
      self_join = true;
    }
  });
  self = &u;
  u.start();
  EXPECT_TRUE(u.join(long_wait()));
  EXPECT_TRUE(self_join);
}

TEST(ApiForms, ThreadJoinTimeoutWhileRunning) {
  th::Event go;
  th::Thread t([&] { go.wait(long_wait()); });
  t.start();
  bool finished = t.join(100ms);  // false if still running after the timeout
  EXPECT_FALSE(finished);
  EXPECT_TRUE(t.is_alive());
  go.set();
  EXPECT_TRUE(t.join(long_wait()));
}

TEST(ApiForms, ThreadAccessors) {
  th::Thread t(fn, 1, std::string());
  (void)t.is_alive();
  (void)t.name();  t.set_name("x");  // default names "Thread-1", "Thread-2", ... ; main thread "MainThread"
  EXPECT_EQ(t.name(), "x");
  (void)t.daemon(); t.set_daemon(true);  // RuntimeError once started
  EXPECT_TRUE(t.daemon());
  EXPECT_EQ(t.ident(), std::nullopt);  // std::optional<std::uint64_t>: nullopt before start
  EXPECT_EQ(t.native_id(), std::nullopt);
  t.start();
  EXPECT_THROW(t.set_daemon(true), concur::RuntimeError);
  std::optional<std::uint64_t> ident = t.ident();
  std::optional<std::uint64_t> native = t.native_id();  // the OS thread id (gettid)
  EXPECT_TRUE(ident.has_value());
  EXPECT_TRUE(native.has_value());
  EXPECT_TRUE(t.join(long_wait()));

  th::Thread d1(fn, 1, std::string());
  th::Thread d2(fn, 1, std::string());
  EXPECT_EQ(d1.name().rfind("Thread-", 0), 0u);
  EXPECT_EQ(d2.name().rfind("Thread-", 0), 0u);
  EXPECT_EQ(th::main_thread().name(), "MainThread");
}

TEST(ApiForms, CooperativeStop) {
  th::Thread c([](std::stop_token st, int n) { while (!st.stop_requested() && n-- > 0) th::sleep(10ms); }, 10);
  c.start(); c.request_stop(); c.join();   // also: c.stop_requested()
  EXPECT_TRUE(c.stop_requested());
  EXPECT_FALSE(c.is_alive());
}

TEST(ApiForms, Subclassing) {
  Countdown cd; cd.start(); cd.join();
  EXPECT_FALSE(cd.is_alive());
}

TEST(ApiForms, ThreadIsMovableNotCopyable) {
  static_assert(std::is_move_constructible_v<th::Thread>);
  static_assert(std::is_move_assignable_v<th::Thread>);
  static_assert(!std::is_copy_constructible_v<th::Thread>);
  static_assert(!std::is_copy_assignable_v<th::Thread>);
  th::Thread a(fn, 1, std::string("z"));
  th::Thread b(std::move(a));
  b.start();
  EXPECT_TRUE(b.join(long_wait()));
}

TEST(ApiForms, ExceptHook) {
  std::mutex m;
  std::string name, what;
  bool had_exception = false;
  th::set_excepthook(std::function<void(const th::ExceptHookArgs&)>([&](const th::ExceptHookArgs& args) {
    std::lock_guard g(m);
    name = args.thread_name;
    std::exception_ptr e = args.exception;
    had_exception = e != nullptr;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      what = x.what();
    }
  }));
  th::Thread t(th::ThreadOptions{.name = "thrower"}, [] { throw std::runtime_error("oops"); });
  t.start();
  EXPECT_TRUE(t.join(long_wait()));
  {
    std::lock_guard g(m);
    EXPECT_TRUE(had_exception);
    EXPECT_EQ(name, "thrower");
    EXPECT_EQ(what, "oops");
  }
  th::set_excepthook(nullptr);

  testing::internal::CaptureStderr();
  th::Thread u(th::ThreadOptions{.name = "thrower-2"}, [] { throw std::runtime_error("oops 2"); });
  u.start();
  const bool joined = u.join(long_wait());
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(joined);
  EXPECT_NE(err.find("Exception in thread thrower-2:"), std::string::npos) << err;
  EXPECT_NE(err.find("oops 2"), std::string::npos) << err;
}

// --- §2 ThreadRef and module functions ----------------------------------------------------------------

TEST(ApiForms, ThreadRefAndModuleFunctions) {
  th::ThreadRef me = th::current_thread();    // a handle: copyable, valid after the thread ends
  (void)me.name(); me.set_name("主线程"); (void)me.ident(); (void)me.native_id(); (void)me.daemon(); (void)me.is_alive();
  EXPECT_EQ(th::current_thread().name(), "主线程");
  EXPECT_TRUE(me.is_alive());
  EXPECT_FALSE(me.daemon());
  (void)th::main_thread();                           // ThreadRef of the thread that ran main()
  EXPECT_TRUE(th::main_thread() == me);
  std::vector<th::ThreadRef> all = th::enumerate();   // every live thread, main and foreign ones included
  std::size_t n = th::active_count();
  EXPECT_EQ(n, all.size());
  (void)th::get_ident();  (void)th::get_native_id();
  EXPECT_EQ(me.ident(), th::get_ident());
  EXPECT_EQ(me.native_id(), th::get_native_id());
  const auto t0 = std::chrono::steady_clock::now();
  th::sleep(100ms);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 100ms);
  me.set_name("MainThread");
}

TEST(ApiForms, ForeignThreadIsDummy) {
  std::string name;
  std::thread f([&] { name = th::current_thread().name(); });
  f.join();
  EXPECT_EQ(name.rfind("Dummy-", 0), 0u) << name;
}

// --- §2 Locks ------------------------------------------------------------------------------------------

TEST(ApiForms, Lock) {
  th::Lock lock;             // NOT owner-bound: any thread may release it (as in Python)
  lock.acquire();  bool ok = lock.acquire(false);  EXPECT_FALSE(ok);
  ok = lock.acquire(true, 50ms);  EXPECT_FALSE(ok);
  ok = lock.acquire(50ms);  EXPECT_FALSE(ok);
  EXPECT_TRUE(lock.locked());
  // Released by another thread.
  th::Thread releaser([&] { lock.release(); });
  releaser.start();
  EXPECT_TRUE(releaser.join(long_wait()));
  EXPECT_FALSE(lock.locked());
  EXPECT_THROW(lock.release(), concur::RuntimeError);  // RuntimeError if not locked
  (void)lock.locked();
  EXPECT_THROW(lock.acquire(false, 50ms), concur::ValueError);  // a timeout on a non-blocking call
  EXPECT_FALSE(lock.locked());
  ok = lock.acquire(std::chrono::duration<double>(0.05));  // floating-point timeouts too (§1)
  EXPECT_TRUE(ok);
  ok = lock.acquire(0ms);  // zero: do not wait
  EXPECT_FALSE(ok);
  ok = lock.acquire(-1s);  // negative: do not wait, never throw
  EXPECT_FALSE(ok);
  lock.release();

  th::Lock named("account-A");  // every lock kind takes an optional name, used in reports (§5)
  named.acquire();
  named.release();
}

TEST(ApiForms, LocksWorkWithStandardGuards) {
  th::Lock lock;
  th::RLock r;
  {
    std::lock_guard g(lock);
    EXPECT_TRUE(lock.locked());
  }
  EXPECT_FALSE(lock.locked());
  {
    std::unique_lock u(lock, std::defer_lock);
    EXPECT_TRUE(u.try_lock_for(50ms));  // TimedLockable
  }
  {
    std::unique_lock u(r, std::defer_lock);
    EXPECT_TRUE(u.try_lock_until(std::chrono::steady_clock::now() + 50ms));
  }
  {
    std::scoped_lock both(lock, r);
    EXPECT_TRUE(lock.locked());
  }
  EXPECT_FALSE(lock.locked());
}

TEST(ApiForms, RLock) {
  th::RLock r;               // re-entrant; owner-bound
  r.acquire(); r.acquire(); r.release(); r.release();   // same forms as Lock
  bool ok = r.acquire(false); EXPECT_TRUE(ok);
  ok = r.acquire(true, 50ms); EXPECT_TRUE(ok);
  ok = r.acquire(50ms); EXPECT_TRUE(ok);
  r.release(); r.release(); r.release();
  EXPECT_THROW(r.release(), concur::RuntimeError);  // RuntimeError when the caller does not hold it

  r.acquire();
  bool other_failed = false;
  th::Thread other([&] {
    try {
      r.release();
    } catch (const concur::RuntimeError&) {
      other_failed = true;
    }
  });
  other.start();
  EXPECT_TRUE(other.join(long_wait()));
  EXPECT_TRUE(other_failed);
  r.release();
  th::RLock named("rlock-name");
}

// --- §2 Condition -------------------------------------------------------------------------------------

TEST(ApiForms, Condition) {
  th::Lock lock;
  bool ready = false;
  th::Condition cv;          // makes its own RLock
  th::Condition cv2(lock);   // uses an existing Lock or RLock, which must outlive it
  th::RLock rl;
  th::Condition cv3(rl);

  {
    std::lock_guard g(cv);     // cv.acquire() / cv.release() too
    th::Thread notifier([&] {
      std::lock_guard g2(cv);  // acquirable only once the main thread waits
      ready = true;
      cv.notify();
    });
    notifier.start();
    cv.wait();
    EXPECT_TRUE(ready);
    EXPECT_TRUE(notifier.join(long_wait()));
    bool notified = cv.wait(100ms);
    EXPECT_FALSE(notified);
    bool ok = cv.wait_for([&] { return ready; });
    EXPECT_TRUE(ok);
    auto pred = [&] { return !ready; };
    ok = cv.wait_for(pred, 100ms);  // result is pred()'s last value
    EXPECT_FALSE(ok);
    cv.notify();  cv.notify(3);  cv.notify_all();
  }
  cv.acquire();
  cv.release();

  // wait*/notify* without holding the lock: RuntimeError.
  EXPECT_THROW(cv.notify(), concur::RuntimeError);
  EXPECT_THROW(cv.notify_all(), concur::RuntimeError);
  EXPECT_THROW(cv.wait(10ms), concur::RuntimeError);
  EXPECT_THROW(cv2.wait(), concur::RuntimeError);

  {
    std::lock_guard g(cv2);
    EXPECT_FALSE(cv2.wait(10ms));
    cv2.notify();
  }
  // wait() on an RLock held recursively releases it fully and restores the same depth.
  rl.acquire();
  rl.acquire();
  {
    bool got_it = false;
    th::Thread other([&] {
      got_it = rl.acquire(long_wait());
      cv3.notify();
      rl.release();
    });
    other.start();
    EXPECT_TRUE(cv3.wait(long_wait()));
    EXPECT_TRUE(other.join(long_wait()));
    EXPECT_TRUE(got_it);
  }
  rl.release();
  rl.release();
  EXPECT_THROW(rl.release(), concur::RuntimeError);  // depth 2 was restored, not more
}

// --- §2 Semaphore, BoundedSemaphore, Event, Barrier, Timer ---------------------------------------

TEST(ApiForms, Semaphore) {
  th::Semaphore s(0);        // ValueError if negative
  EXPECT_THROW(th::Semaphore(-1), concur::ValueError);
  s.release();
  s.acquire(); bool ok = s.acquire(false); EXPECT_FALSE(ok);
  ok = s.acquire(true, 10ms); EXPECT_FALSE(ok);
  ok = s.acquire(10ms); EXPECT_FALSE(ok);
  s.release(); s.release(3); // wakes that many waiters, oldest first
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(s.acquire(false));
  EXPECT_FALSE(s.acquire(false));

  th::BoundedSemaphore b(2); // release() above the initial value: ValueError
  EXPECT_THROW(b.release(), concur::ValueError);
  b.acquire();
  b.release();
  EXPECT_THROW(b.release(), concur::ValueError);
}

TEST(ApiForms, Event) {
  th::Event e; e.set(); e.clear(); (void)e.is_set();
  EXPECT_FALSE(e.is_set());
  e.set();
  e.wait(); bool set = e.wait(10ms);
  EXPECT_TRUE(set);
  e.clear();
  set = e.wait(10ms);
  EXPECT_FALSE(set);
}

TEST(ApiForms, Barrier) {
  th::Barrier bar(3);                        // th::Barrier bar(3, action, timeout)
  std::atomic<int> actions{0};
  th::Barrier bar2(3, [&] { ++actions; }, 5s);
  (void)bar2;

  std::vector<std::size_t> indices(3, 99);
  std::vector<th::Thread> parties;
  for (int k = 0; k < 2; ++k)
    parties.emplace_back([&, k] { indices[k] = bar.wait(); });
  for (auto& p : parties) p.start();
  std::size_t i = bar.wait();                // 0 .. parties-1, unique per wait round
  indices[2] = i;
  for (auto& p : parties) EXPECT_TRUE(p.join(long_wait()));
  std::vector<std::size_t> sorted = indices;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<std::size_t>{0, 1, 2}));

  EXPECT_THROW(bar.wait(50ms), th::BrokenBarrierError);  // a timed-out wait breaks it
  (void)bar.broken();
  EXPECT_TRUE(bar.broken());
  bar.reset();
  EXPECT_FALSE(bar.broken());
  bar.abort();
  EXPECT_TRUE(bar.broken());
  EXPECT_THROW(bar.wait(), th::BrokenBarrierError);  // a broken barrier throws from wait()
  try {
    bar.wait();
  } catch (const concur::Error& e) {  // derives from concur::Error
    EXPECT_STRNE(e.what(), "");
  }
  bar.reset();
  EXPECT_EQ(bar.parties(), 3u);
  EXPECT_EQ(bar.n_waiting(), 0u);
}

TEST(ApiForms, Timer) {
  std::atomic<int> calls{0};
  auto tfn = [&](int a, std::string b) { calls += a + static_cast<int>(b.size()); };
  int a = 1;
  std::string b = "b";
  th::Timer tm(1s, tfn, a, b); tm.start(); tm.cancel(); tm.join();   // a Thread: runs fn once unless cancelled
  EXPECT_EQ(calls.load(), 0);

  th::Timer tm2(1ms, tfn, a, b);
  tm2.start();
  tm2.join();
  EXPECT_EQ(calls.load(), 2);
  th::Thread& as_thread = tm2;
  EXPECT_FALSE(as_thread.is_alive());
}

// --- §2 local ------------------------------------------------------------------------------------------

namespace {
struct Conn {
  std::vector<int> sent;
  void send(int x) { sent.push_back(x); }
};
}  // namespace

TEST(ApiForms, Local) {
  int x = 5;
  th::local<Conn> conn;                       // each thread sees its own Conn
  th::local<int> counter([] { return 42; });  // factory for a thread's first access
  conn.get();  conn->send(x);  *counter += 1; // first access default-constructs (or calls the factory)
  EXPECT_EQ(conn.get().sent, std::vector<int>{5});
  EXPECT_EQ(*counter, 43);
  (void)conn.has_value();  conn.reset();  conn.set(Conn{{1, 2}});
  EXPECT_EQ(conn->sent, (std::vector<int>{1, 2}));

  bool other_has = true;
  int other_counter = 0;
  th::Thread t([&] {
    other_has = conn.has_value();
    other_counter = *counter;
  });
  t.start();
  EXPECT_TRUE(t.join(long_wait()));
  EXPECT_FALSE(other_has);
  EXPECT_EQ(other_counter, 42);
}

// --- §1 timeouts: any duration, integral or floating -----------------------------------------------------

TEST(ApiForms, TimeoutsAcceptAnyDuration) {
  th::Event e;
  EXPECT_FALSE(e.wait(std::chrono::duration<double>(0.01)));
  EXPECT_FALSE(e.wait(std::chrono::duration<float, std::milli>(5.0f)));
  EXPECT_FALSE(e.wait(std::chrono::microseconds(100)));
  EXPECT_FALSE(e.wait(0ms));
  EXPECT_FALSE(e.wait(-1s));
  EXPECT_FALSE(e.wait(std::chrono::duration<double>(-0.5)));
  th::Semaphore s(0);
  EXPECT_FALSE(s.acquire(std::chrono::duration<double>(0.01)));
  th::Thread t([&] { e.wait(long_wait()); });
  t.start();
  EXPECT_FALSE(t.join(std::chrono::duration<double>(0.01)));
  e.set();
  EXPECT_TRUE(t.join(std::chrono::duration<double>(10.0 * CONCUR_TEST_TIME_SCALE)));
}
