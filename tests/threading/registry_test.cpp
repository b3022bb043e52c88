// The thread registry and the module functions: current_thread(), main_thread(), enumerate(),
// active_count(), get_ident(), get_native_id(), sleep(), ThreadRef, and foreign ("Dummy-N")
// threads (API.md §2; CPython's threading module where API.md is silent).
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "concur/threading.hpp"
#include "test_support.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;
using namespace concur_test;  // long_wait, scaled, eventually, time_of, ...

namespace {

bool contains(const std::vector<th::ThreadRef>& all, const th::ThreadRef& r) {
  return std::find(all.begin(), all.end(), r) != all.end();
}

long dummy_number(const std::string& name) {
  const std::string prefix = "Dummy-";
  if (name.rfind(prefix, 0) != 0 || name.size() == prefix.size()) return -1;
  for (std::size_t i = prefix.size(); i < name.size(); ++i)
    if (name[i] < '0' || name[i] > '9') return -1;
  return std::stol(name.substr(prefix.size()));
}

std::uint64_t gettid_now() { return static_cast<std::uint64_t>(::syscall(SYS_gettid)); }

}  // namespace

static_assert(std::is_copy_constructible_v<th::ThreadRef>);
static_assert(std::is_copy_assignable_v<th::ThreadRef>);

// --- the main thread -------------------------------------------------------------------------------

TEST(Registry, MainThreadIsCurrentOnMain) {
  const th::ThreadRef me = th::current_thread();
  EXPECT_EQ(me.name(), "MainThread");
  EXPECT_TRUE(me == th::main_thread());
  EXPECT_TRUE(me.is_alive());
  EXPECT_FALSE(me.daemon());
  ASSERT_TRUE(me.ident().has_value());
  ASSERT_TRUE(me.native_id().has_value());
  EXPECT_EQ(*me.ident(), th::get_ident());
  EXPECT_EQ(*me.native_id(), th::get_native_id());
  EXPECT_EQ(*me.native_id(), static_cast<std::uint64_t>(::getpid()));
  EXPECT_EQ(th::get_native_id(), gettid_now());
}

TEST(Registry, MainThreadCanBeRenamed) {
  th::ThreadRef me = th::current_thread();
  me.set_name("主线程");
  EXPECT_EQ(th::main_thread().name(), "主线程");
  EXPECT_EQ(th::current_thread().name(), "主线程");
  me.set_name("MainThread");
  EXPECT_EQ(th::main_thread().name(), "MainThread");
}

TEST(Registry, MainThreadSeenFromAnotherThread) {
  std::optional<th::ThreadRef> main_inside, current_inside;
  th::Thread t([&] {
    main_inside = th::main_thread();
    current_inside = th::current_thread();
  });
  t.start();
  ASSERT_TRUE(t.join(long_wait()));
  ASSERT_TRUE(main_inside && current_inside);
  EXPECT_TRUE(*main_inside == th::current_thread());
  EXPECT_EQ(main_inside->name(), "MainThread");
  EXPECT_FALSE(*current_inside == *main_inside);
}

// --- concur threads -------------------------------------------------------------------------------

TEST(Registry, CurrentThreadInsideAConcurThread) {
  std::string inside_name;
  std::optional<th::ThreadRef> inside;
  bool alive_inside = false, daemon_inside = true;
  th::Thread t([&] {
    inside = th::current_thread();
    inside_name = inside->name();
    alive_inside = inside->is_alive();
    daemon_inside = inside->daemon();
  });
  t.start();
  ASSERT_TRUE(t.join(long_wait()));
  EXPECT_EQ(inside_name, t.name());
  ASSERT_TRUE(inside.has_value());
  EXPECT_TRUE(*inside == t.ref());
  EXPECT_TRUE(alive_inside);
  EXPECT_FALSE(daemon_inside);
}

TEST(Registry, SetNameThroughARefIsSeenByTheThread) {
  th::Event renamed;
  th::Thread t([&] {
    th::current_thread().set_name("renamed-inside");
    renamed.set();
  });
  t.start();
  ASSERT_TRUE(renamed.wait(long_wait()));
  EXPECT_EQ(t.name(), "renamed-inside");
  ASSERT_TRUE(t.join(long_wait()));

  // And the other way round: Thread::set_name is seen by every ref.
  th::ThreadRef r = t.ref();
  t.set_name("renamed-outside");
  EXPECT_EQ(r.name(), "renamed-outside");
  r.set_name("via-ref");
  EXPECT_EQ(t.name(), "via-ref");
}

TEST(Registry, ThreadRefStaysValidAfterTheThreadEnds) {
  std::optional<th::ThreadRef> ref;
  std::uint64_t ident_inside = 0, native_inside = 0;
  {
    th::Thread t(th::ThreadOptions{.name = "short-lived"}, [&] {
      ref = th::current_thread();
      ident_inside = th::get_ident();
      native_inside = th::get_native_id();
    });
    t.start();
    ASSERT_TRUE(t.join(long_wait()));
  }  // the Thread object is gone too
  ASSERT_TRUE(ref.has_value());
  EXPECT_FALSE(ref->is_alive());
  EXPECT_EQ(ref->name(), "short-lived");
  EXPECT_EQ(ref->ident(), ident_inside);
  EXPECT_EQ(ref->native_id(), native_inside);
  th::ThreadRef copy = *ref;
  EXPECT_TRUE(copy == *ref);
  EXPECT_FALSE(contains(th::enumerate(), copy));
}

// --- enumerate / active_count -----------------------------------------------------------------------

TEST(Registry, EnumerateHasMainAndRunningThreadsOnly) {
  const std::size_t baseline = th::active_count();
  EXPECT_GE(baseline, 1u);
  EXPECT_EQ(baseline, th::enumerate().size());
  EXPECT_TRUE(contains(th::enumerate(), th::main_thread()));

  th::Event go;
  th::Thread a(th::ThreadOptions{.name = "enum-a"}, [&] { go.wait(long_wait()); });
  th::Thread b(th::ThreadOptions{.name = "enum-b"}, [&] { go.wait(long_wait()); });
  th::Thread unstarted([] {});
  a.start();
  b.start();

  auto all = th::enumerate();
  EXPECT_EQ(all.size(), baseline + 2);
  EXPECT_EQ(th::active_count(), all.size());
  EXPECT_TRUE(contains(all, th::main_thread()));
  EXPECT_TRUE(contains(all, a.ref()));
  EXPECT_TRUE(contains(all, b.ref()));
  EXPECT_FALSE(contains(all, unstarted.ref()));
  std::set<std::string> names;
  for (auto& r : all) names.insert(r.name());
  EXPECT_TRUE(names.count("enum-a") && names.count("enum-b") && names.count("MainThread"));
  for (auto& r : all) EXPECT_TRUE(r.is_alive()) << r.name();

  go.set();
  ASSERT_TRUE(a.join(long_wait()));
  ASSERT_TRUE(b.join(long_wait()));
  all = th::enumerate();
  EXPECT_FALSE(contains(all, a.ref()));
  EXPECT_FALSE(contains(all, b.ref()));
  EXPECT_EQ(all.size(), baseline);
  EXPECT_EQ(th::active_count(), baseline);
}

TEST(Registry, EnumerateSeenFromInsideAThreadIncludesIt) {
  bool self_listed = false, main_listed = false;
  std::size_t count_inside = 0, size_inside = 0;
  th::Thread t([&] {
    auto all = th::enumerate();
    self_listed = contains(all, th::current_thread());
    main_listed = contains(all, th::main_thread());
    size_inside = all.size();
    count_inside = th::active_count();
  });
  t.start();
  ASSERT_TRUE(t.join(long_wait()));
  EXPECT_TRUE(self_listed);
  EXPECT_TRUE(main_listed);
  EXPECT_EQ(count_inside, size_inside);
}

TEST(Registry, IdentsAreDistinctAcrossLiveThreadsAndMatchTheirRefs) {
  constexpr int kThreads = 8;
  th::Event go;
  th::Semaphore ready(0);
  std::vector<std::uint64_t> idents(kThreads), natives(kThreads);
  std::vector<std::optional<std::uint64_t>> ref_idents(kThreads), ref_natives(kThreads);
  std::vector<th::Thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      idents[i] = th::get_ident();
      natives[i] = th::get_native_id();
      ref_idents[i] = th::current_thread().ident();
      ref_natives[i] = th::current_thread().native_id();
      ready.release();
      go.wait(long_wait());  // all alive at once: idents may not be reused
    });
  for (auto& t : threads) t.start();
  for (int i = 0; i < kThreads; ++i) ASSERT_TRUE(ready.acquire(long_wait()));
  go.set();
  for (auto& t : threads) ASSERT_TRUE(t.join(long_wait()));

  std::set<std::uint64_t> id_set(idents.begin(), idents.end());
  std::set<std::uint64_t> native_set(natives.begin(), natives.end());
  id_set.insert(th::get_ident());
  native_set.insert(th::get_native_id());
  EXPECT_EQ(id_set.size(), static_cast<std::size_t>(kThreads + 1));
  EXPECT_EQ(native_set.size(), static_cast<std::size_t>(kThreads + 1));
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_EQ(ref_idents[i], idents[i]);
    EXPECT_EQ(ref_natives[i], natives[i]);
    EXPECT_EQ(threads[i].ident(), idents[i]);
    EXPECT_EQ(threads[i].native_id(), natives[i]);
  }
}

TEST(Registry, RegistryStaysConsistentUnderChurn) {
  // Threads start and end in several threads while others enumerate; at the end only what was
  // there before is left.
  const std::size_t baseline = th::active_count();
  std::atomic<bool> stop{false};
  std::atomic<int> started{0};
  std::thread watcher([&] {
    while (!stop.load()) {
      auto all = th::enumerate();
      for (auto& r : all) (void)r.name();
      (void)th::active_count();
    }
  });
  concur_test::run_parallel(4, [&](int) {
    for (int i = 0; i < 25; ++i) {
      th::Thread t(th::ThreadOptions{.daemon = false}, [&] { ++started; });
      t.start();
      EXPECT_TRUE(t.join(long_wait()));
    }
  });
  stop = true;
  watcher.join();
  EXPECT_EQ(started.load(), 100);
  // The watcher and the run_parallel threads were foreign threads; they have all exited.
  EXPECT_EQ(th::active_count(), baseline);
  EXPECT_EQ(th::enumerate().size(), baseline);
}

// --- foreign threads --------------------------------------------------------------------------------

TEST(Registry, ForeignThreadIsADummy) {
  std::string name;
  bool daemon = false, alive = false, listed = false, same_twice = false;
  std::size_t count = 0, size = 0;
  std::optional<std::uint64_t> ident, native;
  std::uint64_t get_ident = 0, get_native = 0;
  std::optional<th::ThreadRef> ref;
  std::thread f([&] {
    th::ThreadRef me = th::current_thread();
    name = me.name();
    daemon = me.daemon();
    alive = me.is_alive();
    ident = me.ident();
    native = me.native_id();
    get_ident = th::get_ident();
    get_native = th::get_native_id();
    same_twice = th::current_thread() == me;
    auto all = th::enumerate();
    listed = contains(all, me);
    size = all.size();
    count = th::active_count();
    ref = me;
  });
  f.join();
  EXPECT_GT(dummy_number(name), 0) << name;
  EXPECT_TRUE(daemon);
  EXPECT_TRUE(alive);
  EXPECT_TRUE(same_twice);
  EXPECT_TRUE(listed);
  EXPECT_EQ(count, size);
  EXPECT_EQ(ident, get_ident);
  EXPECT_EQ(native, get_native);
  EXPECT_NE(get_native, th::get_native_id());

  // Once it has exited, its Dummy is gone from the registry and no longer alive.
  ASSERT_TRUE(ref.has_value());
  EXPECT_FALSE(ref->is_alive());
  EXPECT_FALSE(contains(th::enumerate(), *ref));
  EXPECT_EQ(ref->name(), name);
}

TEST(Registry, ForeignThreadsGetIncreasingDummyNumbers) {
  std::string first, second;
  std::thread a([&] { first = th::current_thread().name(); });
  a.join();
  std::thread b([&] { second = th::current_thread().name(); });
  b.join();
  EXPECT_GT(dummy_number(first), 0) << first;
  EXPECT_GT(dummy_number(second), dummy_number(first)) << first << " then " << second;
}

TEST(Registry, RunningForeignThreadIsEnumeratedFromMain) {
  const std::size_t baseline = th::active_count();
  th::Event registered, go;
  std::optional<th::ThreadRef> ref;
  std::thread f([&] {
    ref = th::current_thread();
    registered.set();
    go.wait(long_wait());
  });
  ASSERT_TRUE(registered.wait(long_wait()));
  EXPECT_TRUE(contains(th::enumerate(), *ref));
  EXPECT_EQ(th::active_count(), baseline + 1);
  EXPECT_TRUE(ref->is_alive());
  go.set();
  f.join();
  EXPECT_FALSE(contains(th::enumerate(), *ref));
  EXPECT_EQ(th::active_count(), baseline);
}

TEST(Registry, ForeignThreadThatNeverAsksIsNotListed) {
  const std::size_t baseline = th::active_count();
  th::Event inside, go;
  std::thread f([&] {
    inside.set();
    go.wait(long_wait());
  });
  ASSERT_TRUE(inside.wait(long_wait()));
  EXPECT_EQ(th::active_count(), baseline);  // as in CPython: only threads seen by threading
  go.set();
  f.join();
}

// --- sleep --------------------------------------------------------------------------------------------

TEST(Registry, SleepIntegralDurationSleepsAtLeastThatLong) {
  auto t0 = std::chrono::steady_clock::now();
  th::sleep(30ms);
  auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(elapsed, 30ms);
  EXPECT_LT(elapsed, long_wait());

  t0 = std::chrono::steady_clock::now();
  th::sleep(std::chrono::microseconds(1500));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::microseconds(1500));
}

TEST(Registry, SleepFloatingDurationSleepsAtLeastThatLong) {
  auto t0 = std::chrono::steady_clock::now();
  th::sleep(std::chrono::duration<double>(0.03));
  auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(elapsed, 30ms);
  EXPECT_LT(elapsed, long_wait());

  t0 = std::chrono::steady_clock::now();
  th::sleep(std::chrono::duration<double, std::milli>(12.5));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::microseconds(12500));
}

TEST(Registry, SleepNegativeIsValueError) {
  EXPECT_THROW(th::sleep(-1ms), concur::ValueError);
  EXPECT_THROW(th::sleep(std::chrono::duration<double>(-0.5)), concur::ValueError);
  EXPECT_THROW(th::sleep(std::chrono::seconds::min()), concur::ValueError);
}

TEST(Registry, SleepZeroReturns) {
  const auto t0 = std::chrono::steady_clock::now();
  th::sleep(0ms);
  th::sleep(std::chrono::duration<double>(0.0));
  th::sleep(std::chrono::nanoseconds(0));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, long_wait());
}

TEST(Registry, SleepNaNIsValueError) {
  // CPython: time.sleep(float("nan")) raises ValueError("Invalid value NaN (not a number)").
  EXPECT_THROW(th::sleep(std::chrono::duration<double>(std::numeric_limits<double>::quiet_NaN())),
               concur::ValueError);
}
