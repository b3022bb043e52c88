// Tests for lock-order checking (include/concur/deadlock/lock_order.hpp) and the reaction to its
// reports (include/concur/deadlock/report.hpp): no false reports when every thread follows one
// order; a report for every inverted order (cycles of 2 and 3 locks, self-deadlock), made before
// the acquisition blocks, once per pair; what is and is not checked (RLock re-entry, try-acquire,
// Condition::wait, a Semaphore released by another thread, destroyed locks); the switches
// (enable, reset, the CONCUR_LOCK_ORDER environment variable) and the reactions.
//
// Threads that make the orders run one after the other and are joined: nothing ever deadlocks,
// yet an inversion is a potential deadlock and must be reported.
#include <concur/deadlock.hpp>
#include <concur/threading.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "deadlock_test_support.hpp"
#include "test_support.hpp"

namespace dl = concur::deadlock;
namespace th = concur::threading;
using namespace concur_test;
using namespace deadlock_test;

namespace {

// Runs f on a concur thread named `name` and joins it. An exception escaping f fails the test.
void run_named(const std::string& name, std::function<void()> f) {
  std::string escaped;
  th::Thread t(th::ThreadOptions{.name = name}, [&] {
    try {
      f();
    } catch (const std::exception& e) {
      escaped = e.what();
    } catch (...) {
      escaped = "<non-std exception>";
    }
  });
  t.start();
  ASSERT_TRUE(t.join(long_wait())) << name << " did not finish";
  EXPECT_EQ(escaped, "") << "exception escaped from thread " << name;
}

// Takes `outer`, then `inner` while holding it (records outer -> inner), then releases both.
template <class L1, class L2>
void take_nested(L1& outer, L2& inner) {
  std::lock_guard g1(outer);
  std::lock_guard g2(inner);
}

template <class L1, class L2, class L3>
void take_nested(L1& a, L2& b, L3& c) {
  std::lock_guard g1(a);
  std::lock_guard g2(b);
  std::lock_guard g3(c);
}

// Every test starts and ends with checking off, an empty graph and the print reaction, so that
// the tests also pass when the whole executable runs in one process.
using LockOrder = DiagnosticsTest;  // settings back to their defaults around each test

// Two locks of any kinds: one thread records x -> y, another y -> x; exactly one new report,
// naming both locks (by their labels), both threads and both orders.
template <class X, class Y>
void expect_two_lock_cycle_reported(Reports& reports, X& x, Y& y, const std::string& label_x,
                                    const std::string& label_y, const std::string& tag) {
  const std::size_t before = reports.count();
  run_named("xy-" + tag, [&] { take_nested(x, y); });
  EXPECT_EQ(reports.count(), before) << tag << ": the first order alone is no inversion";
  run_named("yx-" + tag, [&] { take_nested(y, x); });
  const auto all = reports.all();
  ASSERT_EQ(all.size(), before + 1) << tag;
  const dl::Report& r = all.back();
  EXPECT_EQ(r.kind, dl::ReportKind::lock_order) << tag;
  EXPECT_TRUE(starts_with(r.message, "Lock order inversion (potential deadlock):")) << r.message;
  EXPECT_TRUE(contains(r.message, label_x)) << r.message;
  EXPECT_TRUE(contains(r.message, label_y)) << r.message;
  EXPECT_TRUE(contains(r.message, "\"xy-" + tag + "\"")) << r.message;
  EXPECT_TRUE(contains(r.message, "\"yx-" + tag + "\"")) << r.message;
  EXPECT_TRUE(contains(r.message, "order " + label_x + " -> " + label_y)) << r.message;
  EXPECT_TRUE(contains(r.message, "order " + label_y + " -> " + label_x)) << r.message;
  EXPECT_TRUE(has(r.threads, "xy-" + tag)) << tag;
  EXPECT_TRUE(has(r.threads, "yx-" + tag)) << tag;
  EXPECT_TRUE(has(r.locks, label_x)) << tag;
  EXPECT_TRUE(has(r.locks, label_y)) << tag;
}

}  // namespace

// --- CONCUR_LOCK_ORDER ------------------------------------------------------------------------
// ctest also runs this test with CONCUR_LOCK_ORDER=1, =raise and =0 in the environment
// (tests/deadlock/CMakeLists.txt); without it, it checks the defaults. It comes first, so that it
// also holds when the whole executable runs in one process (the fixture's tests change the
// switches).

TEST(LockOrderEnvironment, IsReadAtStartUp) {
  const char* raw = std::getenv("CONCUR_LOCK_ORDER");
  const std::string value = raw ? raw : "";
  SCOPED_TRACE("CONCUR_LOCK_ORDER=" + (raw ? value : std::string("<unset>")));
  if (value.empty() || value == "0") {
    EXPECT_FALSE(dl::lock_order_checking_enabled());
    EXPECT_EQ(dl::reaction(), dl::Reaction::print);
    return;
  }
  EXPECT_TRUE(dl::lock_order_checking_enabled());
  th::Lock a("env-A"), b("env-B");
  run_named("env-ab", [&] { take_nested(a, b); });
  if (value == "raise") {
    EXPECT_EQ(dl::reaction(), dl::Reaction::raise);
    std::string what;
    run_named("env-ba", [&] {
      std::lock_guard gb(b);
      what = runtime_error_of([&] { a.acquire(true, long_wait()); });
    });
    EXPECT_TRUE(contains(what, "Lock order inversion")) << what;
    EXPECT_FALSE(a.locked());
  } else {
    EXPECT_EQ(dl::reaction(), dl::Reaction::print);
    testing::internal::CaptureStderr();
    run_named("env-ba", [&] { take_nested(b, a); });
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_TRUE(contains(err, "Lock order inversion")) << err;
    EXPECT_TRUE(contains(err, "\"env-A\"")) << err;
  }
}

// --- no false reports -------------------------------------------------------------------------

TEST_F(LockOrder, NoReportsWhenEveryThreadFollowsOneOrder) {
  dl::enable_lock_order_checking(true);
  ASSERT_TRUE(dl::lock_order_checking_enabled());
  auto reports = collect_reports();

  // The one order: l0 -> r1 -> c2 -> s3 -> l4 -> b5 -> c6 (c6 is a Condition over the plain Lock
  // l6). Every thread takes a random subset of them in that order, in every acquire form.
  th::Lock l0("l0");
  th::RLock r1("r1");
  th::Condition c2("c2");
  th::Semaphore s3(2, "s3");
  th::Lock l4("l4");
  th::BoundedSemaphore b5(3, "b5");
  th::Lock l6("l6");
  th::Condition c6(l6);
  constexpr int kLocks = 7;
  // Counters changed only while the matching lock is held (the semaphores admit several
  // threads, so theirs are atomic).
  std::array<long, kLocks> exclusive{};
  std::array<std::atomic<long>, kLocks> shared{};
  std::array<std::atomic<long>, kLocks> expected{};

  struct Ops {
    std::function<bool(int form)> take;  // false: a try-acquire that failed
    std::function<void()> give;
  };
  auto ops_of = [](auto& lk) {
    return Ops{[&lk](int form) -> bool {
                 switch (form) {
                   case 0: lk.lock(); return true;
                   case 1: return lk.acquire(true, long_wait());
                   case 2: return lk.acquire(long_wait());
                   case 3: return lk.try_lock_for(long_wait());
                   case 4: return lk.acquire();
                   default: return lk.acquire(false);  // not checked, but held
                 }
               },
               [&lk] { lk.release(); }};
  };
  const std::array<Ops, kLocks> ops = {ops_of(l0), ops_of(r1), ops_of(c2), ops_of(s3),
                                        ops_of(l4), ops_of(b5), ops_of(c6)};
  const std::array<bool, kLocks> is_semaphore = {false, false, false, true, false, true, false};

  constexpr int kThreads = 6;
  constexpr int kIterations = 1500;
  std::atomic<long> taken_total{0};
  run_together(kThreads, [&](int t) {
    std::mt19937 rng(1234 + t);
    for (int it = 0; it < kIterations; ++it) {
      const unsigned mask = 1 + rng() % ((1u << kLocks) - 1);
      std::vector<int> held;
      for (int k = 0; k < kLocks; ++k) {
        if (!(mask & (1u << k))) continue;
        if (!ops[k].take(static_cast<int>(rng() % 7))) continue;
        held.push_back(k);
        ++taken_total;
        ++expected[k];
        if (is_semaphore[k]) ++shared[k];
        else ++exclusive[k];
        if (k == 1 && rng() % 2) {  // RLock re-entry under later locks
          r1.acquire();
          r1.release();
        }
        if (k == 2 && rng() % 4 == 0) c2.wait(std::chrono::milliseconds(0));  // release + retake
        if (k == 6 && rng() % 4 == 0) c6.wait(std::chrono::milliseconds(0));
      }
      for (auto k = held.rbegin(); k != held.rend(); ++k) ops[*k].give();
    }
  });

  EXPECT_EQ(reports->count(), 0u) << reports->messages();
  long sum = 0;
  for (int k = 0; k < kLocks; ++k) {
    const long got = is_semaphore[k] ? shared[k].load() : exclusive[k];
    EXPECT_EQ(got, expected[k].load()) << "lock " << k;
    sum += got;
  }
  EXPECT_EQ(sum, taken_total.load());
  EXPECT_FALSE(l0.locked());
  EXPECT_FALSE(r1.locked());
  EXPECT_FALSE(l4.locked());
  EXPECT_FALSE(l6.locked());
  EXPECT_EQ(s3.value(), 2);
  EXPECT_EQ(b5.value(), 3);
}

// --- inversions are reported ------------------------------------------------------------------

TEST_F(LockOrder, TwoLockCycleIsReportedThoughNothingDeadlocks) {
  dl::enable_lock_order_checking(true);
  auto reports = collect_reports();
  th::Lock a("account-A"), b("account-B");
  expect_two_lock_cycle_reported(*reports, a, b, "\"account-A\"", "\"account-B\"", "locks");
  // Both threads finished: the run did not deadlock, the report is about a potential one.
  EXPECT_FALSE(a.locked());
  EXPECT_FALSE(b.locked());
}

TEST_F(LockOrder, TwoLockCyclesOfEveryKindAreReported) {
  dl::enable_lock_order_checking(true);
  auto reports = collect_reports();
  {
    th::RLock x("rl-x"), y("rl-y");
    expect_two_lock_cycle_reported(*reports, x, y, "\"rl-x\"", "\"rl-y\"", "rlocks");
  }
  {
    th::Lock x("lk");
    th::RLock y("rl");
    expect_two_lock_cycle_reported(*reports, x, y, "\"lk\"", "\"rl\"", "lock-rlock");
  }
  {
    th::Condition x("cond");  // names its own RLock
    th::Lock y("plain");
    expect_two_lock_cycle_reported(*reports, x, y, "\"cond\"", "\"plain\"", "condition");
  }
  {
    th::Lock under("under-cv");
    th::Condition x(under);  // a Condition over a Lock is that Lock
    th::RLock y("other");
    expect_two_lock_cycle_reported(*reports, x, y, "\"under-cv\"", "\"other\"", "cond-over-lock");
  }
  {
    th::Semaphore x(1, "slots");
    th::Lock y("guard");
    expect_two_lock_cycle_reported(*reports, x, y, "\"slots\"", "\"guard\"", "semaphore");
  }
  {
    th::BoundedSemaphore x(2, "bounded");
    th::Semaphore y(1, "sem");
    expect_two_lock_cycle_reported(*reports, x, y, "\"bounded\"", "\"sem\"", "bounded");
  }
  EXPECT_EQ(reports->count(), 6u);
}

TEST_F(LockOrder, UnnamedLocksAreNamedByTypeAndAddress) {
  dl::enable_lock_order_checking(true);
  auto reports = collect_reports();
  th::Lock a;
  th::RLock b;
  run_named("ab", [&] { take_nested(a, b); });
  run_named("ba", [&] { take_nested(b, a); });
  ASSERT_EQ(reports->count(), 1u);
  const std::string msg = reports->all()[0].message;
  EXPECT_TRUE(contains(msg, "Lock at 0x")) << msg;
  EXPECT_TRUE(contains(msg, "RLock at 0x")) << msg;
}

TEST_F(LockOrder, ThreeLockCycleIsReported) {
  dl::enable_lock_order_checking(true);
  auto reports = collect_reports();
  th::Lock a("A");
  th::RLock b("B");
  th::Lock c("C");
  run_named("T1", [&] { take_nested(a, b); });  // A -> B
  run_named("T2", [&] { take_nested(b, c); });  // B -> C
  EXPECT_EQ(reports->count(), 0u) << reports->messages();
  run_named("T3", [&] { take_nested(c, a); });  // C -> A closes A -> B -> C -> A
  const auto all = reports->all();
  ASSERT_EQ(all.size(), 1u);
  const dl::Report& r = all[0];
  EXPECT_EQ(r.kind, dl::ReportKind::lock_order);
  EXPECT_TRUE(starts_with(r.message, "Lock order inversion (potential deadlock):")) << r.message;
  for (const char* name : {"\"T1\"", "\"T2\"", "\"T3\"", "\"A\"", "\"B\"", "\"C\""})
    EXPECT_TRUE(contains(r.message, name)) << name << " in\n" << r.message;
  EXPECT_TRUE(contains(r.message, "order \"C\" -> \"A\"")) << r.message;
  EXPECT_TRUE(contains(r.message, "order \"A\" -> \"B\"")) << r.message;
  EXPECT_TRUE(contains(r.message, "order \"B\" -> \"C\"")) << r.message;
  for (const char* t : {"T1", "T2", "T3"}) EXPECT_TRUE(has(r.threads, t)) << t;
  for (const char* l : {"\"A\"", "\"B\"", "\"C\""}) EXPECT_TRUE(has(r.locks, l)) << l;

  // Longer paths are found too: A -> B -> C is known, so D -> A and then C -> D closes
  // A -> B -> C -> D -> A (4 locks).
  th::Lock d("D");
  run_named("T4", [&] { take_nested(d, a); });  // D -> A: no cycle yet
  EXPECT_EQ(reports->count(), 1u) << reports->messages();
  run_named("T5", [&] { take_nested(c, d); });  // C -> D: C -> D -> A -> B -> C
  ASSERT_EQ(reports->count(), 2u);
  const std::string msg = reports->all()[1].message;
  for (const char* name : {"\"T5\"", "\"D\"", "\"C\""})
    EXPECT_TRUE(contains(msg, name)) << name << " in\n" << msg;
}

TEST_F(LockOrder, AnInversionWithinOneThreadIsReportedToo) {
  // One thread taking two locks in both orders deadlocks with a copy of itself.
  dl::enable_lock_order_checking(true);
  auto reports = collect_reports();
  th::Lock a("one"), b("two");
  run_named("fickle", [&] {
    take_nested(a, b);
    take_nested(b, a);
  });
  ASSERT_EQ(reports->count(), 1u);
  const dl::Report r = reports->all()[0];
  EXPECT_TRUE(contains(r.message, "\"fickle\"")) << r.message;
  EXPECT_TRUE(has(r.threads, "fickle"));
}

TEST_F(LockOrder, PrintReactionWritesTheReportToStderr) {
  dl::enable_lock_order_checking(true);
  ASSERT_EQ(dl::reaction(), dl::Reaction::print);  // the default
  th::Lock a("print-A"), b("print-B");
  run_named("first-order", [&] { take_nested(a, b); });
  testing::internal::CaptureStderr();
  run_named("second-order", [&] { take_nested(b, a); });  // printed, and the acquisition goes on
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(contains(err, "Lock order inversion (potential deadlock):")) << err;
  for (const char* s : {"\"print-A\"", "\"print-B\"", "\"first-order\"", "\"second-order\"",
                        "order \"print-A\" -> \"print-B\"", "order \"print-B\" -> \"print-A\""})
    EXPECT_TRUE(contains(err, s)) << s << " in\n" << err;
}

// --- reported before blocking -----------------------------------------------------------------

TEST_F(LockOrder, RaiseThrowsBeforeBlockingAndTheLockIsNotTaken) {
  dl::enable_lock_order_checking(true);
  dl::set_reaction(dl::Reaction::raise);
  th::Lock a("raise-A"), b("raise-B");
  run_named("orderly", [&] { take_nested(a, b); });  // A -> B

  // 1. A is free: the inverting acquire throws and does not take it.
  std::string what1;
  bool a_locked_after = true, b_locked_inside = false;
  run_named("inverter-1", [&] {
    std::lock_guard gb(b);
    what1 = runtime_error_of([&] { a.acquire(true, long_wait()); });
    a_locked_after = a.locked();
    b_locked_inside = b.locked();
  });
  EXPECT_TRUE(starts_with(what1, "Lock order inversion (potential deadlock):")) << what1;
  EXPECT_TRUE(contains(what1, "\"raise-A\"") && contains(what1, "\"raise-B\"")) << what1;
  EXPECT_TRUE(contains(what1, "\"orderly\"") && contains(what1, "\"inverter-1\"")) << what1;
  EXPECT_FALSE(a_locked_after);
  EXPECT_TRUE(b_locked_inside);  // what it held before stays held
  EXPECT_FALSE(a.locked());
  EXPECT_FALSE(b.locked());

  // 2. A is really held by another thread, which keeps it until the end: if the check came
  // after blocking, the inverter would sleep in acquire() (and time out, not throw).
  th::Event holding, finish;
  th::Thread holder(th::ThreadOptions{.name = "holder"}, [&] {
    a.acquire();
    holding.set();
    finish.wait(long_wait());
    a.release();
  });
  holder.start();
  ASSERT_TRUE(holding.wait(long_wait()));
  std::string what2 = "<not run>";
  std::atomic<bool> inverter_returned{false};
  th::Thread inverter(th::ThreadOptions{.name = "inverter-2"}, [&] {
    std::lock_guard gb(b);
    what2 = runtime_error_of([&] { a.lock(); });  // untimed: it must not block at all
    inverter_returned = true;
  });
  inverter.start();
  const bool inverter_done = inverter.join(long_wait());  // while A is still held
  EXPECT_TRUE(inverter_done);
  EXPECT_TRUE(inverter_returned);
  EXPECT_TRUE(a.locked());  // still the holder's
  finish.set();
  ASSERT_TRUE(holder.join(long_wait()));
  if (!inverter_done) {
    // The inverter blocked in a.lock() and got A when the holder let go: let it end.
    ASSERT_TRUE(inverter.join(long_wait()));
    a.release();
  }
  EXPECT_TRUE(starts_with(what2, "Lock order inversion (potential deadlock):")) << what2;
  EXPECT_FALSE(a.locked());
  EXPECT_FALSE(b.locked());

  // 3. The order was never recorded: taking A then B is still fine (no throw).
  run_named("orderly-again", [&] { take_nested(a, b); });
}

TEST_F(LockOrder, RaiseThrowsForEveryInvertingAcquire) {
  dl::enable_lock_order_checking(true);
  dl::set_reaction(dl::Reaction::raise);
  th::Lock a("A"), b("B");
  run_named("ab", [&] { take_nested(a, b); });
  for (int i = 0; i < 3; ++i) {
    std::string what;
    run_named("ba-" + std::to_string(i), [&] {
      std::lock_guard gb(b);
      what = runtime_error_of([&] { std::lock_guard ga(a); });
    });
    EXPECT_TRUE(contains(what, "Lock order inversion")) << i << ": " << what;
    EXPECT_FALSE(a.locked());
  }
}

// --- once per pair ----------------------------------------------------------------------------

TEST_F(LockOrder, EachInvertedPairIsHandledOnce) {
  dl::enable_lock_order_checking(true);
  auto reports = collect_reports();
  th::Lock a("A"), b("B"), c("C");
  run_named("ab", [&] { take_nested(a, b); });
  run_named("ba-1", [&] { take_nested(b, a); });
  run_named("ba-2", [&] { take_nested(b, a); });
  run_named("ba-3", [&] {
    take_nested(b, a);
    take_nested(b, a);
  });
  EXPECT_EQ(reports->count(), 1u) << reports->messages();
  // Another pair is another report.
  run_named("ac", [&] { take_nested(a, c); });
  run_named("ca-1", [&] { take_nested(c, a); });
  run_named("ca-2", [&] { take_nested(c, a); });
  EXPECT_EQ(reports->count(), 2u) << reports->messages();
}

TEST_F(LockOrder, EachInvertedPairIsPrintedOnce) {
  dl::enable_lock_order_checking(true);
  th::Lock a("once-A"), b("once-B");
  run_named("ab", [&] { take_nested(a, b); });
  testing::internal::CaptureStderr();
  run_named("ba-1", [&] { take_nested(b, a); });
  run_named("ba-2", [&] { take_nested(b, a); });
  take_nested(b, a);  // the main thread too
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(occurrences(err, "Lock order inversion"), 1u) << err;
}

// --- self-deadlock ----------------------------------------------------------------------------

TEST_F(LockOrder, SelfDeadlockOnAPlainLockIsReported) {
  dl::enable_lock_order_checking(true);
  auto reports = collect_reports();
  th::Lock a("mirror");
  bool second = true;
  run_named("narcissus", [&] {
    a.acquire();
    second = a.acquire(true, std::chrono::milliseconds(50));  // reported, then times out
    a.release();
  });
  EXPECT_FALSE(second);
  auto all = reports->all();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].kind, dl::ReportKind::lock_order);
  EXPECT_TRUE(starts_with(all[0].message, "Lock order inversion (self-deadlock):")) << all[0].message;
  EXPECT_TRUE(contains(all[0].message, "\"mirror\"")) << all[0].message;
  EXPECT_TRUE(contains(all[0].message, "\"narcissus\"")) << all[0].message;
  EXPECT_TRUE(has(all[0].threads, "narcissus"));
  EXPECT_TRUE(has(all[0].locks, "\"mirror\""));

  // A try-acquire of a Lock one holds cannot block: no report.
  run_named("try-self", [&] {
    a.acquire();
    EXPECT_FALSE(a.acquire(false));
    EXPECT_FALSE(a.try_lock());
    a.release();
  });
  EXPECT_EQ(reports->count(), 1u) << reports->messages();

  // Under raise, it throws instead of blocking, and the Lock is still held once.
  dl::set_reaction(dl::Reaction::raise);
  std::string what;
  bool still_locked = false;
  run_named("narcissus-2", [&] {
    a.acquire();
    what = runtime_error_of([&] { a.acquire(true, long_wait()); });
    still_locked = a.locked();
    a.release();
  });
  EXPECT_TRUE(starts_with(what, "Lock order inversion (self-deadlock):")) << what;
  EXPECT_TRUE(still_locked);
  EXPECT_FALSE(a.locked());
}

TEST_F(LockOrder, RLockReentryIsNotReported) {
  dl::enable_lock_order_checking(true);
  auto reports = collect_reports();
  th::RLock r("reentrant");
  th::Lock a("after");
  run_named("reenter", [&] {
    std::lock_guard g1(r);  // r -> after
    std::lock_guard g2(a);
    // Re-entering r while holding `after` is no acquisition: no order after -> r.
    std::lock_guard g3(r);
    EXPECT_TRUE(r.acquire(true, long_wait()));
    EXPECT_TRUE(r.acquire(false));
    r.release();
    r.release();
  });
  EXPECT_EQ(reports->count(), 0u) << reports->messages();
  // A first-level acquisition in that order is an inversion, though.
  run_named("invert", [&] { take_nested(a, r); });
  EXPECT_EQ(reports->count(), 1u) << reports->messages();
}

// --- what is checked --------------------------------------------------------------------------

TEST_F(LockOrder, TryAcquireIsNotCheckedButCountsAsHeld) {
  dl::enable_lock_order_checking(true);
  auto reports = collect_reports();
  th::Lock a("A"), b("B"), c("C");
  run_named("ab", [&] { take_nested(a, b); });  // A -> B
  run_named("b-try-a", [&] {
    std::lock_guard gb(b);
    ASSERT_TRUE(a.acquire(false));  // B then A, but a try cannot block: not checked
    a.release();
    ASSERT_TRUE(a.try_lock());
    a.release();
  });
  EXPECT_EQ(reports->count(), 0u) << reports->messages();

  // A lock taken by a try is held: a blocking acquisition under it records an order.
  run_named("try-c-then-a", [&] {
    ASSERT_TRUE(c.acquire(false));
    std::lock_guard ga(a);  // C -> A
    c.release();
  });
  EXPECT_EQ(reports->count(), 0u) << reports->messages();
  run_named("a-then-c", [&] { take_nested(a, c); });  // A -> C inverts C -> A
  ASSERT_EQ(reports->count(), 1u);
  EXPECT_TRUE(contains(reports->all()[0].message, "\"try-c-then-a\""))
      << reports->all()[0].message;
}

TEST_F(LockOrder, NothingIsReportedWhileCheckingIsOff) {
  EXPECT_FALSE(dl::lock_order_checking_enabled());  // the default (no CONCUR_LOCK_ORDER)
  auto reports = collect_reports();
  th::Lock a("A"), b("B"), self("self");
  run_named("ab", [&] { take_nested(a, b); });
  run_named("ba", [&] { take_nested(b, a); });
  run_named("self", [&] {
    self.acquire();
    EXPECT_FALSE(self.acquire(true, std::chrono::milliseconds(20)));
    self.release();
  });
  EXPECT_EQ(reports->count(), 0u) << reports->messages();

  // On, then off again: orders made while it is off are not checked.
  th::Lock c("C"), d("D");
  dl::enable_lock_order_checking(true);
  EXPECT_TRUE(dl::lock_order_checking_enabled());
  run_named("cd", [&] { take_nested(c, d); });
  dl::enable_lock_order_checking(false);
  EXPECT_FALSE(dl::lock_order_checking_enabled());
  run_named("dc", [&] { take_nested(d, c); });
  EXPECT_EQ(reports->count(), 0u) << reports->messages();
}

TEST_F(LockOrder, LocksHeldBeforeCheckingStartsAreNotKnownToBeHeld) {
  auto reports = collect_reports();
  th::Lock a("A"), b("B");
  a.acquire();  // checking off: A is not known to be held
  dl::enable_lock_order_checking(true);
  b.acquire();  // no order A -> B recorded
  b.release();
  a.release();
  run_named("ba", [&] { take_nested(b, a); });  // B -> A, the first order known
  EXPECT_EQ(reports->count(), 0u) << reports->messages();
}

TEST_F(LockOrder, ResetForgetsOrdersAndReports) {
  dl::enable_lock_order_checking(true);
  auto reports = collect_reports();
  th::Lock a("A"), b("B");
  run_named("ab", [&] { take_nested(a, b); });
  dl::reset_lock_order_graph();
  run_named("ba", [&] { take_nested(b, a); });  // A -> B forgotten: B -> A is the first order
  EXPECT_EQ(reports->count(), 0u) << reports->messages();
  run_named("ab-2", [&] { take_nested(a, b); });  // now A -> B inverts B -> A
  EXPECT_EQ(reports->count(), 1u) << reports->messages();
  run_named("ab-3", [&] { take_nested(a, b); });  // already reported
  EXPECT_EQ(reports->count(), 1u);

  // The reports made are forgotten too: the same inversion is reported again after a reset.
  dl::reset_lock_order_graph();
  run_named("ba-2", [&] { take_nested(b, a); });
  run_named("ab-4", [&] { take_nested(a, b); });
  EXPECT_EQ(reports->count(), 2u) << reports->messages();
}

TEST_F(LockOrder, ADestroyedLocksOrdersAreForgotten) {
  dl::enable_lock_order_checking(true);
  auto reports = collect_reports();
  th::Lock a("A");
  std::optional<th::Lock> x;
  x.emplace("X1");
  const void* address = &*x;
  run_named("a-x1", [&] { take_nested(a, *x); });  // A -> X1
  x.reset();
  x.emplace("X2");  // a new lock at the same address
  ASSERT_EQ(static_cast<const void*>(&*x), address);
  run_named("x2-a", [&] { take_nested(*x, a); });  // X2 -> A: no inherited A -> X2
  EXPECT_EQ(reports->count(), 0u) << reports->messages();
  // The new lock's own orders count: A -> X2 now inverts X2 -> A, reported under its own name.
  run_named("a-x2", [&] { take_nested(a, *x); });
  ASSERT_EQ(reports->count(), 1u);
  const std::string msg = reports->all()[0].message;
  EXPECT_TRUE(contains(msg, "\"X2\"")) << msg;
  EXPECT_FALSE(contains(msg, "\"X1\"")) << msg;

  // The same for an RLock and a Semaphore destroyed while the graph knows them.
  th::Lock g("G");
  std::optional<th::RLock> r;
  r.emplace("R1");
  run_named("g-r1", [&] { take_nested(g, *r); });
  r.reset();
  r.emplace("R2");
  run_named("r2-g", [&] { take_nested(*r, g); });
  std::optional<th::Semaphore> s;
  s.emplace(1, "S1");
  run_named("g-s1", [&] { take_nested(g, *s); });
  s.reset();
  s.emplace(1, "S2");
  run_named("s2-g", [&] { take_nested(*s, g); });
  EXPECT_EQ(reports->count(), 1u) << reports->messages();
}

TEST_F(LockOrder, ConditionWaitDoesNotCauseFalseReports) {
  // The order: outer -> cv -> stats (and outer -> plain -> stats for a Condition over a Lock).
  // Consumers hold `outer` and wait on the condition, which releases and re-takes its lock;
  // each consumer loops, so a held-lock entry left behind by a wait (cv listed as held after
  // the scope released it) would make its next `outer` an inversion of outer -> cv.
  dl::enable_lock_order_checking(true);
  auto reports = collect_reports();
  th::Lock outer("outer"), stats("stats"), plain("plain");
  th::Condition cv("cv");
  th::Condition cv2(plain);
  constexpr int kItems = 300;
  int items = 0, items2 = 0;  // under cv / cv2
  long produced = 0, consumed = 0;  // under stats
  th::ThreadStatus status_in_wait_scope;

  auto consumer = [&](th::Condition& c, int& count, bool record_status) {
    for (int i = 0; i < kItems; ++i) {
      std::lock_guard go(outer);
      std::lock_guard gc(c);
      while (count == 0) ASSERT_TRUE(c.wait(long_wait()));
      --count;
      std::lock_guard gs(stats);
      ++consumed;
      if (record_status && i == kItems / 2) status_in_wait_scope = th::current_thread().state();
    }
  };
  auto producer = [&](th::Condition& c, int& count) {
    for (int i = 0; i < kItems; ++i) {
      std::lock_guard gc(c);
      ++count;
      {
        std::lock_guard gs(stats);
        ++produced;
      }
      c.notify();
    }
  };
  th::Thread c1(th::ThreadOptions{.name = "consumer-cv"}, [&] { consumer(cv, items, true); });
  th::Thread c2(th::ThreadOptions{.name = "consumer-cv2"}, [&] { consumer(cv2, items2, false); });
  th::Thread p1(th::ThreadOptions{.name = "producer-cv"}, [&] { producer(cv, items); });
  th::Thread p2(th::ThreadOptions{.name = "producer-cv2"}, [&] { producer(cv2, items2); });
  for (auto* t : {&c1, &c2, &p1, &p2}) t->start();
  for (auto* t : {&c1, &c2, &p1, &p2}) ASSERT_TRUE(t->join(long_wait())) << t->name();

  EXPECT_EQ(reports->count(), 0u) << reports->messages();
  EXPECT_EQ(produced, 2L * kItems);
  EXPECT_EQ(consumed, 2L * kItems);
  // After its waits, the consumer is known to hold exactly outer, cv and stats.
  EXPECT_TRUE(has(status_in_wait_scope.holds, "lock \"outer\"")) << status_in_wait_scope;
  EXPECT_TRUE(has(status_in_wait_scope.holds, "rlock \"cv\"")) << status_in_wait_scope;
  EXPECT_TRUE(has(status_in_wait_scope.holds, "lock \"stats\"")) << status_in_wait_scope;
  EXPECT_EQ(status_in_wait_scope.holds.size(), 3u) << status_in_wait_scope;

  // The orders were recorded (the checks were on): an inversion of one is reported.
  run_named("stats-then-outer", [&] { take_nested(stats, outer); });
  EXPECT_EQ(reports->count(), 1u) << reports->messages();
}

TEST_F(LockOrder, ASemaphoreReleasedByAnotherThreadIsNoLongerHeld) {
  dl::enable_lock_order_checking(true);
  auto reports = collect_reports();
  th::Semaphore sem(1, "sem");
  th::Lock x("X");
  th::Event taken, released;
  std::vector<std::string> holds_before, holds_after;
  th::Thread taker(th::ThreadOptions{.name = "taker"}, [&] {
    sem.acquire();
    holds_before = th::current_thread().state().holds;
    taken.set();
    ASSERT_TRUE(released.wait(long_wait()));
    holds_after = th::current_thread().state().holds;
    std::lock_guard gx(x);  // a stale "sem" entry would record sem -> X here
  });
  taker.start();
  ASSERT_TRUE(taken.wait(long_wait()));
  run_named("releaser", [&] { sem.release(); });
  released.set();
  ASSERT_TRUE(taker.join(long_wait()));
  EXPECT_TRUE(has(holds_before, "semaphore \"sem\""));
  EXPECT_FALSE(has(holds_after, "semaphore \"sem\""));

  run_named("x-then-sem", [&] { take_nested(x, sem); });  // X -> sem: the only order
  EXPECT_EQ(reports->count(), 0u) << reports->messages();

  // Producer/consumer with two semaphores: units released by the other side, many times.
  th::Semaphore empty_slots(4, "empty"), full_slots(0, "full");
  th::Lock buffer("buffer");
  long in_buffer = 0, moved = 0;
  constexpr int kItems = 2000;
  run_parallel(2, [&](int side) {
    for (int i = 0; i < kItems; ++i) {
      if (side == 0) {
        ASSERT_TRUE(empty_slots.acquire(long_wait()));
        {
          std::lock_guard g(buffer);
          ++in_buffer;
        }
        full_slots.release();
      } else {
        ASSERT_TRUE(full_slots.acquire(long_wait()));
        {
          std::lock_guard g(buffer);
          --in_buffer;
          ++moved;
        }
        empty_slots.release();
      }
    }
  });
  EXPECT_EQ(in_buffer, 0);
  EXPECT_EQ(moved, kItems);
  run_named("buffer-then-x", [&] { take_nested(buffer, x); });
  EXPECT_EQ(reports->count(), 0u) << reports->messages();
}

TEST_F(LockOrder, ADestroyedSemaphoreIsNoLongerHeld) {
  // A unit taken from a Semaphore and never given back is legal, and so is destroying that
  // Semaphore afterwards. The thread must not go on "holding" it: a new lock built at the same
  // address is not a lock this thread already holds.
  dl::enable_lock_order_checking(true);
  auto reports = collect_reports();
  alignas(std::max_align_t) unsigned char storage[std::max(sizeof(th::Semaphore), sizeof(th::Lock))];
  std::vector<std::string> holds_while_alive, holds_after;
  bool got_new_lock = false;
  run_named("sem-user", [&] {
    auto* sem = new (storage) th::Semaphore(1);  // unnamed: its label is its address
    ASSERT_TRUE(sem->acquire(long_wait()));
    holds_while_alive = th::current_thread().state().holds;
    sem->~Semaphore();  // destroyed with its unit still out
    holds_after = th::current_thread().state().holds;
    auto* lock = new (storage) th::Lock("newcomer");  // the same address
    got_new_lock = lock->acquire(true, std::chrono::milliseconds(50));
    if (got_new_lock) lock->release();
    lock->~Lock();
  });
  EXPECT_EQ(holds_while_alive.size(), 1u);
  EXPECT_TRUE(holds_after.empty()) << "still listed as held: " << holds_after.front();
  EXPECT_TRUE(got_new_lock);
  EXPECT_EQ(reports->count(), 0u) << reports->messages();
}

// --- the reaction -----------------------------------------------------------------------------

TEST_F(LockOrder, AnExceptionFromTheHandlerPropagatesFromAcquire) {
  struct HandlerError : std::runtime_error {
    HandlerError() : std::runtime_error("from the handler") {}
  };
  dl::enable_lock_order_checking(true);
  std::atomic<int> calls{0};
  dl::set_reaction([&calls](const dl::Report&) {
    ++calls;
    throw HandlerError();
  });
  EXPECT_EQ(dl::reaction(), dl::Reaction::call_handler);
  th::Lock a("A"), b("B");
  run_named("ab", [&] { take_nested(a, b); });
  bool threw = false, a_locked = true;
  run_named("ba", [&] {
    std::lock_guard gb(b);
    try {
      a.acquire(true, long_wait());
    } catch (const HandlerError&) {
      threw = true;
    }
    a_locked = a.locked();
  });
  EXPECT_TRUE(threw);
  EXPECT_FALSE(a_locked);  // not taken
  EXPECT_FALSE(a.locked());
  EXPECT_FALSE(b.locked());
  EXPECT_EQ(calls.load(), 1);
  // Through std::lock_guard as well, for another pair.
  th::Lock c("C");
  run_named("ac", [&] { take_nested(a, c); });
  bool threw2 = false;
  run_named("ca", [&] {
    std::lock_guard gc(c);
    try {
      std::lock_guard ga(a);
    } catch (const HandlerError&) {
      threw2 = true;
    }
  });
  EXPECT_TRUE(threw2);
  EXPECT_FALSE(a.locked());
  EXPECT_EQ(calls.load(), 2);
}

// A handler that throws fails that acquisition only: the pair is not counted as reported, so the
// next inverting acquisition of the same pair is reported (and fails) again.
TEST_F(LockOrder, AfterAThrowingHandlerTheSamePairIsReportedAgain) {
  dl::enable_lock_order_checking(true);
  std::atomic<int> calls{0};
  dl::set_reaction([&calls](const dl::Report&) {
    ++calls;
    throw std::runtime_error("from the handler");
  });
  th::Lock a("A"), b("B");
  run_named("ab", [&] { take_nested(a, b); });
  int threw = 0;
  run_named("ba", [&] {
    for (int i = 0; i < 2; ++i) {
      std::lock_guard gb(b);
      try {
        std::lock_guard ga(a);
      } catch (const std::runtime_error&) {
        ++threw;
      }
    }
  });
  EXPECT_EQ(threw, 2);
  EXPECT_EQ(calls.load(), 2);
  EXPECT_FALSE(a.locked());
  EXPECT_FALSE(b.locked());
}

TEST_F(LockOrder, CallHandlerWithoutAHandlerIsValueError) {
  EXPECT_EQ(dl::reaction(), dl::Reaction::print);
  EXPECT_THROW(dl::set_reaction(dl::Reaction::call_handler), concur::ValueError);
  EXPECT_EQ(dl::reaction(), dl::Reaction::print);  // unchanged
  dl::set_reaction(dl::Reaction::raise);
  EXPECT_EQ(dl::reaction(), dl::Reaction::raise);
  EXPECT_THROW(dl::set_reaction(dl::Reaction::call_handler), concur::ValueError);
  EXPECT_EQ(dl::reaction(), dl::Reaction::raise);
  dl::set_reaction([](const dl::Report&) {});
  EXPECT_EQ(dl::reaction(), dl::Reaction::call_handler);
  dl::set_reaction(std::function<void(const dl::Report&)>{});  // a null handler: back to print
  EXPECT_EQ(dl::reaction(), dl::Reaction::print);
  dl::set_reaction(dl::Reaction::print);
  EXPECT_EQ(dl::reaction(), dl::Reaction::print);
}
