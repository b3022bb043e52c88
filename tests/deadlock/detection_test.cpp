// Tests for deadlock detection (include/concur/deadlock/detection.hpp): find_deadlocks() on real
// deadlocks (rings of 1, 2, 3 and 5 threads over Locks, RLocks and joins) and on threads that are
// blocked without being deadlocked; what a Cycle says; the watchdog (one report per persisting
// cycle, no report for non-deadlocks, start/stop, the interval) and Reaction::raise breaking a
// cycle so that every thread finishes.
//
// Deadlocked threads are always freed before a test ends: Ring::finish() has the watchdog break
// the cycle (Reaction::raise) at once. The watchdog leaves cycles through timed waits to their
// timeouts, so the deadlocks it must break wait untimed: such a wait is bounded by the watchdog
// of the test harness (a library that fails to break it fails the test, it does not hang CI).
// Threads meet in a deadlock at a std::latch, never by sleeping.
#include <concur/deadlock.hpp>
#include <concur/queue.hpp>
#include <concur/threading.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "deadlock_test_support.hpp"
#include "test_support.hpp"

namespace dl = concur::deadlock;
namespace th = concur::threading;
namespace cq = concur::queue;
using namespace concur_test;
using namespace deadlock_test;
using namespace std::chrono_literals;

namespace {

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return "[" + s + "]";
}

std::string describe_all(const std::vector<dl::Cycle>& cycles) {
  std::string s;
  for (const auto& c : cycles) s += "cycle:\n" + c.describe();
  return s.empty() ? "<no cycle>" : s;
}

// Frees the deadlocked threads: a fresh watchdog (a running one reports each cycle only once)
// with Reaction::raise makes one thread of every cycle throw from its lock acquire.
void break_deadlocks_with_watchdog() {
  dl::stop_watchdog();
  dl::set_reaction(dl::Reaction::raise);
  dl::start_watchdog(scaled(5ms));
}

// Polls find_deadlocks() until it returns a cycle (a thread asleep inside acquire() cannot be
// signalled: polling is the only way), or long_wait() passes.
std::vector<dl::Cycle> wait_for_deadlocks() {
  std::vector<dl::Cycle> cycles;
  eventually([&] {
    cycles = dl::find_deadlocks();
    return !cycles.empty();
  });
  return cycles;
}

using AnyLock = std::variant<th::Lock*, th::RLock*>;
void take(AnyLock l) {
  std::visit([](auto* p) { p->acquire(); }, l);
}
bool take_within(AnyLock l, std::chrono::milliseconds timeout) {
  return std::visit([timeout](auto* p) { return p->acquire(true, timeout); }, l);
}
void give(AnyLock l) {
  std::visit([](auto* p) { p->release(); }, l);
}

// A ring of threads: thread i takes locks[i], waits at a latch until every thread holds its
// first lock, then asks for locks[(i + 1) % n] — a deadlock of n threads (for n == 1 and a
// Lock, a thread waiting for a Lock it holds). The second acquire is untimed, or timed with
// timeouts[i] when given and positive; a RuntimeError from it (a deadlock victim) is caught and
// recorded, and the first lock is released in any case.
class Ring {
 public:
  struct Outcome {
    bool got_second = false;
    bool timed_out = false;
    bool victim = false;
    std::string what;
  };

  Ring(std::vector<AnyLock> locks, std::vector<std::string> names,
       std::vector<std::chrono::milliseconds> timeouts = {})
      : locks_(std::move(locks)), names_(std::move(names)), timeouts_(std::move(timeouts)),
        gate_(static_cast<std::ptrdiff_t>(locks_.size())), outcomes_(locks_.size()) {
    timeouts_.resize(locks_.size(), std::chrono::milliseconds(0));
    for (std::size_t i = 0; i < locks_.size(); ++i)
      threads_.push_back(std::make_unique<th::Thread>(th::ThreadOptions{.name = names_[i]},
                                                      [this, i] { body(i); }));
    for (auto& t : threads_) t->start();
  }
  ~Ring() {
    if (!joined_) finish();
  }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // Breaks the deadlock (if there still is one) and joins every thread.
  bool finish() {
    if (joined_) return true;
    break_deadlocks_with_watchdog();
    return join_all();
  }
  // Joins every thread without breaking anything (for rings whose waits end by themselves).
  bool join_all() {
    bool all = true;
    for (auto& t : threads_) all = t->join(long_wait()) && all;
    joined_ = all;
    return all;
  }

  std::size_t size() const { return threads_.size(); }
  const th::Thread& thread(std::size_t i) const { return *threads_[i]; }
  const std::string& name(std::size_t i) const { return names_[i]; }
  // After finish():
  const Outcome& outcome(std::size_t i) const { return outcomes_[i]; }
  int victims() const {
    return static_cast<int>(std::count_if(outcomes_.begin(), outcomes_.end(),
                                          [](const Outcome& o) { return o.victim; }));
  }
  int completed() const {
    return static_cast<int>(std::count_if(outcomes_.begin(), outcomes_.end(),
                                          [](const Outcome& o) { return o.got_second; }));
  }
  int timed_out() const {
    return static_cast<int>(std::count_if(outcomes_.begin(), outcomes_.end(),
                                          [](const Outcome& o) { return o.timed_out; }));
  }
  std::string victim_message() const {
    for (const auto& o : outcomes_)
      if (o.victim) return o.what;
    return "<no victim>";
  }

 private:
  void body(std::size_t i) {
    const AnyLock first = locks_[i];
    const AnyLock second = locks_[(i + 1) % locks_.size()];
    Outcome& out = outcomes_[i];
    take(first);
    gate_.arrive_and_wait();
    try {
      if (timeouts_[i] <= std::chrono::milliseconds(0)) {
        std::visit([](auto* p) { p->lock(); }, second);
        out.got_second = true;
        give(second);
      } else if (take_within(second, timeouts_[i])) {
        out.got_second = true;
        give(second);
      } else {
        out.timed_out = true;
      }
    } catch (const concur::RuntimeError& e) {
      out.victim = true;
      out.what = e.what();
    }
    give(first);
  }

  std::vector<AnyLock> locks_;
  std::vector<std::string> names_;
  std::vector<std::chrono::milliseconds> timeouts_;
  std::latch gate_;
  std::vector<Outcome> outcomes_;
  std::vector<std::unique_ptr<th::Thread>> threads_;
  bool joined_ = false;
};

const dl::BlockedThread* member(const dl::Cycle& c, const std::string& name) {
  for (const auto& t : c)
    if (t.name == name) return &t;
  return nullptr;
}

// The cycle of a ring: every thread, what it waits for (labels[i + 1]), who holds that, what it
// holds (labels[i]), and the cycle's own order (each member waits for the next one).
void expect_ring_cycle(const dl::Cycle& c, const Ring& ring, const std::vector<std::string>& labels) {
  const std::size_t n = ring.size();
  ASSERT_EQ(c.size(), n) << c.describe();
  ASSERT_EQ(c.threads.size(), n);
  for (std::size_t k = 0; k < n; ++k)
    EXPECT_EQ(c[k].held_by, c[(k + 1) % n].name) << "member " << k << "\n" << c.describe();
  for (std::size_t i = 0; i < n; ++i) {
    const dl::BlockedThread* m = member(c, ring.name(i));
    ASSERT_NE(m, nullptr) << ring.name(i) << " not in\n" << c.describe();
    EXPECT_TRUE(m->thread == ring.thread(i).ref()) << ring.name(i);
    EXPECT_EQ(m->waits_for, labels[(i + 1) % n]) << c.describe();
    EXPECT_EQ(m->held_by, ring.name((i + 1) % n)) << c.describe();
    EXPECT_TRUE(has(m->holds, labels[i])) << ring.name(i) << " holds " << joined(m->holds);
    // The report line, as describe() writes it (nothing else is known to be held: tracking is
    // off, and each lock is known as held because its waiter names the owner).
    const std::string line = "  thread \"" + ring.name(i) + "\" waits for " + labels[(i + 1) % n] +
                             ", held by \"" + ring.name((i + 1) % n) + "\"; holds " + labels[i] +
                             "\n";
    EXPECT_TRUE(contains(c.describe(), line)) << line << "in\n" << c.describe();
  }
  std::ostringstream os;
  os << c;
  EXPECT_EQ(os.str(), c.describe());
}

// Threads blocked in every kind of wait that has no owner, and lock waits that lead to such
// threads (or to a thread that is running): no cycle anywhere, though everyone waits. The waits
// are untimed (so that the watchdog looks at them; release() ends them all).
class NotDeadlocked {
 public:
  NotDeadlocked() {
    auto spawn = [this](const std::string& name, std::function<void()> f) {
      threads_.push_back(std::make_unique<th::Thread>(th::ThreadOptions{.name = name}, std::move(f)));
      threads_.back()->start();
      return threads_.back().get();
    };
    // Holders: each holds a lock and waits for something no thread owns (or spins).
    spawn("nd-cond", [this] {
      std::lock_guard ga(a_);
      std::lock_guard gc(cv_);
      holding_[0].set();
      while (!notified_) cv_.wait();
    });
    spawn("nd-sem", [this] {
      std::lock_guard gb(b_);
      holding_[1].set();
      sem_.acquire();
    });
    event_waiter_ = spawn("nd-event", [this] {
      std::lock_guard gc(c_);
      holding_[2].set();
      ev_.wait();
    });
    spawn("nd-spinner", [this] {
      std::lock_guard gd(d_);
      holding_[3].set();
      while (!stop_spinning_.load()) {  // RUNNING, never asleep in a concur wait
        if (b_.acquire(false)) b_.release();  // wants b (held by nd-sem), but only tries
        std::this_thread::yield();
      }
    });
    for (auto& h : holding_) EXPECT_TRUE(h.wait(long_wait()));
    // Waiters for the holders' locks, and the other owner-less waits.
    spawn("nd-wait-a", [this] { std::lock_guard g(a_); });
    spawn("nd-wait-b", [this] { std::lock_guard g(b_); });
    spawn("nd-wait-d", [this] { std::lock_guard g(d_); });
    spawn("nd-queue", [this] { q_.get(); });
    spawn("nd-barrier", [this] {
      try {
        barrier_.wait();
      } catch (const th::BrokenBarrierError&) {
      }
    });
    spawn("nd-joiner", [this] { event_waiter_->join(); });

    const std::vector<std::pair<std::string, std::string>> expected = {
        {"nd-cond", "condition"}, {"nd-sem", "semaphore"},   {"nd-event", "event"},
        {"nd-wait-a", "lock"},    {"nd-wait-b", "lock"},     {"nd-wait-d", "lock"},
        {"nd-queue", "queue"},    {"nd-barrier", "barrier"}, {"nd-joiner", "join"}};
    for (const auto& [name, kind_binding] : expected) {
      const std::string& kind = kind_binding;  // captured below (clang 14 captures no bindings)
      const th::Thread* t = find(name);
      th::ThreadStatus st;
      const bool blocked = eventually([&] {
        st = t->state();
        return st == th::ThreadState::BLOCKED && st.wait_kind == kind;
      });
      EXPECT_TRUE(blocked) << name << ": " << st << " (expected a " << kind << " wait)";
    }
    EXPECT_EQ(find("nd-spinner")->state().state, th::ThreadState::RUNNING);
  }
  ~NotDeadlocked() { release(); }

  // Lets every thread go, and joins them.
  void release() {
    if (released_) return;
    released_ = true;
    {
      std::lock_guard g(cv_);
      notified_ = true;
      cv_.notify_all();
    }
    sem_.release();
    ev_.set();
    q_.put(1);
    stop_spinning_ = true;
    try {
      barrier_.wait(long_wait());
    } catch (const th::BrokenBarrierError&) {
    }
    for (auto& t : threads_) EXPECT_TRUE(t->join(long_wait())) << t->name();
  }

  std::vector<std::string> names() const {
    std::vector<std::string> v;
    for (const auto& t : threads_) v.push_back(t->name());
    return v;
  }

 private:
  const th::Thread* find(const std::string& name) const {
    for (const auto& t : threads_)
      if (t->name() == name) return t.get();
    return nullptr;
  }

  th::Lock a_{"nd-a"}, b_{"nd-b"}, c_{"nd-c"}, d_{"nd-d"};
  th::Condition cv_{"nd-cv"};
  bool notified_ = false;  // under cv_
  th::Semaphore sem_{0, "nd-sem"};
  th::Event ev_;
  th::Event holding_[4];
  std::atomic<bool> stop_spinning_{false};
  cq::Queue<int> q_;
  th::Barrier barrier_{2};
  th::Thread* event_waiter_ = nullptr;
  std::vector<std::unique_ptr<th::Thread>> threads_;
  bool released_ = false;
};

// Every test leaves no watchdog running and the print reaction.
using Detection = DiagnosticsTest;  // settings back to their defaults around each test
using Watchdog = Detection;

}  // namespace

// --- find_deadlocks: real deadlocks -----------------------------------------------------------

TEST_F(Detection, NoDeadlockNoCycle) {
  EXPECT_TRUE(dl::find_deadlocks().empty());
  th::Lock a("held");
  a.acquire();  // held, nobody waits: no cycle
  EXPECT_TRUE(dl::find_deadlocks().empty());
  a.release();
}

TEST_F(Detection, TwoThreadsOnLocks) {
  th::Lock a("lock-A"), b("lock-B");
  Ring ring({&a, &b}, {"T-A", "T-B"});
  const auto cycles = wait_for_deadlocks();
  ASSERT_EQ(cycles.size(), 1u) << describe_all(cycles);
  expect_ring_cycle(cycles[0], ring, {"lock \"lock-A\"", "lock \"lock-B\""});
  // Both threads are BLOCKED on a lock.
  for (std::size_t i = 0; i < 2; ++i) {
    const th::ThreadStatus st = ring.thread(i).state();
    EXPECT_EQ(st.state, th::ThreadState::BLOCKED) << st;
    EXPECT_EQ(st.wait_kind, "lock") << st;
  }
  ASSERT_TRUE(ring.finish());
  EXPECT_EQ(ring.victims(), 1);
  EXPECT_EQ(ring.completed(), 1);
  EXPECT_TRUE(starts_with(ring.victim_message(), "Deadlock detected")) << ring.victim_message();
  EXPECT_FALSE(a.locked());
  EXPECT_FALSE(b.locked());
  EXPECT_TRUE(dl::find_deadlocks().empty());
}

TEST_F(Detection, ThreeThreadsOnLocks) {
  th::Lock l0("L0"), l1("L1"), l2("L2");
  Ring ring({&l0, &l1, &l2}, {"P0", "P1", "P2"});
  const auto cycles = wait_for_deadlocks();
  ASSERT_EQ(cycles.size(), 1u) << describe_all(cycles);
  expect_ring_cycle(cycles[0], ring, {"lock \"L0\"", "lock \"L1\"", "lock \"L2\""});
  ASSERT_TRUE(ring.finish());
  EXPECT_EQ(ring.victims(), 1);
  EXPECT_EQ(ring.completed(), 2);
}

TEST_F(Detection, TwoThreadsOnRLocks) {
  th::RLock a("rlock-A"), b("rlock-B");
  Ring ring({&a, &b}, {"R-A", "R-B"});
  const auto cycles = wait_for_deadlocks();
  ASSERT_EQ(cycles.size(), 1u) << describe_all(cycles);
  expect_ring_cycle(cycles[0], ring, {"rlock \"rlock-A\"", "rlock \"rlock-B\""});
  for (std::size_t i = 0; i < 2; ++i) EXPECT_EQ(ring.thread(i).state().wait_kind, "rlock");
  ASSERT_TRUE(ring.finish());  // the victim waits in an RLock acquire
  EXPECT_EQ(ring.victims(), 1);
  EXPECT_EQ(ring.completed(), 1);
  EXPECT_FALSE(a.locked());
  EXPECT_FALSE(b.locked());
}

TEST_F(Detection, ThreeThreadsOnLocksAndRLocksMixed) {
  th::Lock m0("m0");
  th::RLock m1("m1");
  th::Lock m2("m2");
  Ring ring({&m0, &m1, &m2}, {"mixed-0", "mixed-1", "mixed-2"});
  const auto cycles = wait_for_deadlocks();
  ASSERT_EQ(cycles.size(), 1u) << describe_all(cycles);
  expect_ring_cycle(cycles[0], ring, {"lock \"m0\"", "rlock \"m1\"", "lock \"m2\""});
  ASSERT_TRUE(ring.finish());
  EXPECT_EQ(ring.victims(), 1);
  EXPECT_EQ(ring.completed(), 2);
}

TEST_F(Detection, UnnamedLocksAreNamedByTypeAndAddress) {
  th::Lock a;
  th::RLock b;
  Ring ring({&a, &b}, {"anon-1", "anon-2"});
  const auto cycles = wait_for_deadlocks();
  ASSERT_EQ(cycles.size(), 1u) << describe_all(cycles);
  const dl::BlockedThread* m1 = member(cycles[0], "anon-1");
  const dl::BlockedThread* m2 = member(cycles[0], "anon-2");
  ASSERT_TRUE(m1 && m2) << cycles[0];
  EXPECT_TRUE(starts_with(m1->waits_for, "rlock RLock at 0x")) << m1->waits_for;
  EXPECT_TRUE(starts_with(m2->waits_for, "lock Lock at 0x")) << m2->waits_for;
  ASSERT_TRUE(ring.finish());
}

TEST_F(Detection, AThreadWaitingForALockItHoldsIsACycleOfOne) {
  th::Lock mirror("mirror");
  Ring ring({&mirror}, {"narcissus"});  // takes mirror, then asks for it again
  const auto cycles = wait_for_deadlocks();
  ASSERT_EQ(cycles.size(), 1u) << describe_all(cycles);
  const dl::Cycle& c = cycles[0];
  ASSERT_EQ(c.size(), 1u) << c;
  EXPECT_EQ(c[0].name, "narcissus");
  EXPECT_EQ(c[0].held_by, "narcissus");
  EXPECT_EQ(c[0].waits_for, "lock \"mirror\"");
  EXPECT_TRUE(has(c[0].holds, "lock \"mirror\"")) << joined(c[0].holds);
  EXPECT_TRUE(c[0].thread == ring.thread(0).ref());
  ASSERT_TRUE(ring.finish());
  EXPECT_EQ(ring.victims(), 1);
  EXPECT_FALSE(mirror.locked());

  // An RLock re-entered by its owner is no wait at all.
  th::RLock again("again");
  Ring reentry({&again}, {"reentrant"});
  ASSERT_TRUE(reentry.finish());
  EXPECT_EQ(reentry.completed(), 1);
  EXPECT_EQ(reentry.victims(), 0);
}

TEST_F(Detection, AJoinCycle) {
  // "joiner" holds L and joins "joinee"; "joinee" waits for L.
  th::Lock l("L");
  th::Event joiner_holds;
  bool joinee_victim = false, joinee_got = false, joined_ok = false;
  th::Thread joinee(th::ThreadOptions{.name = "joinee"}, [&] {
    if (!joiner_holds.wait(long_wait())) return;
    try {
      l.acquire();  // untimed: a deadlock the watchdog must break
      joinee_got = true;
      l.release();
    } catch (const concur::RuntimeError&) {
      joinee_victim = true;
    }
  });
  th::Thread joiner(th::ThreadOptions{.name = "joiner"}, [&] {
    std::lock_guard g(l);
    joiner_holds.set();
    joinee.join();  // untimed
    joined_ok = true;
  });
  joinee.start();
  joiner.start();

  const auto cycles = wait_for_deadlocks();
  ASSERT_EQ(cycles.size(), 1u) << describe_all(cycles);
  const dl::Cycle& c = cycles[0];
  ASSERT_EQ(c.size(), 2u) << c;
  const dl::BlockedThread* jr = member(c, "joiner");
  const dl::BlockedThread* je = member(c, "joinee");
  ASSERT_TRUE(jr && je) << c;
  EXPECT_EQ(jr->waits_for, "join thread \"joinee\"");
  EXPECT_EQ(jr->held_by, "joinee");
  EXPECT_TRUE(has(jr->holds, "lock \"L\"")) << joined(jr->holds);
  EXPECT_EQ(je->waits_for, "lock \"L\"");
  EXPECT_EQ(je->held_by, "joiner");
  EXPECT_TRUE(jr->thread == joiner.ref());
  EXPECT_TRUE(je->thread == joinee.ref());
  EXPECT_EQ(joiner.state().wait_kind, "join");

  // The watchdog breaks it through the lock wait (a join cannot be failed).
  break_deadlocks_with_watchdog();
  ASSERT_TRUE(joiner.join(long_wait()));
  ASSERT_TRUE(joinee.join(long_wait()));
  EXPECT_TRUE(joinee_victim);
  EXPECT_FALSE(joinee_got);
  EXPECT_TRUE(joined_ok);
  EXPECT_FALSE(l.locked());
}

TEST_F(Detection, ForeignThreadsInADeadlockAreFound) {
  // std::threads concur never saw before they blocked: they get "Dummy-N" records then.
  th::Lock a("f-A"), b("f-B");
  std::latch gate(2);
  std::atomic<int> victims{0}, got{0};
  auto body = [&](th::Lock& first, th::Lock& second) {
    first.acquire();
    gate.arrive_and_wait();
    try {
      second.acquire();
      ++got;
      second.release();
    } catch (const concur::RuntimeError&) {
      ++victims;
    }
    first.release();
  };
  std::thread t1(body, std::ref(a), std::ref(b));
  std::thread t2(body, std::ref(b), std::ref(a));
  const auto cycles = wait_for_deadlocks();
  break_deadlocks_with_watchdog();
  t1.join();
  t2.join();
  ASSERT_EQ(cycles.size(), 1u) << describe_all(cycles);
  const dl::Cycle& c = cycles[0];
  ASSERT_EQ(c.size(), 2u) << c;
  for (const auto& m : c) {
    EXPECT_TRUE(starts_with(m.name, "Dummy-")) << m.name;
    EXPECT_TRUE(m.waits_for == "lock \"f-A\"" || m.waits_for == "lock \"f-B\"") << m.waits_for;
    EXPECT_EQ(m.holds.size(), 1u) << joined(m.holds);
  }
  EXPECT_NE(c[0].name, c[1].name);
  EXPECT_NE(c[0].waits_for, c[1].waits_for);
  EXPECT_EQ(victims.load(), 1);
  EXPECT_EQ(got.load(), 1);
}

TEST_F(Detection, TheMainThreadCanBeInADeadlock) {
  // The main thread holds A and waits for B; "worker" holds B and waits for A. The main thread
  // cannot look for the cycle itself: the watchdog finds it and (raise) breaks it.
  th::Lock a("main-A"), b("worker-B");
  std::latch both_hold(2);
  bool worker_victim = false, worker_got = false;
  th::Thread worker(th::ThreadOptions{.name = "worker"}, [&] {
    std::lock_guard gb(b);
    both_hold.arrive_and_wait();
    try {
      a.acquire();
      worker_got = true;
      a.release();
    } catch (const concur::RuntimeError&) {
      worker_victim = true;
    }
  });
  a.acquire();
  worker.start();
  both_hold.arrive_and_wait();
  dl::set_reaction(dl::Reaction::raise);
  dl::start_watchdog(scaled(5ms));
  testing::internal::CaptureStderr();
  bool main_victim = false, main_got = false;
  try {
    b.acquire();
    main_got = true;
    b.release();
  } catch (const concur::RuntimeError&) {
    main_victim = true;
  }
  a.release();
  const bool joined_ok = worker.join(long_wait());
  const std::string err = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(joined_ok);
  EXPECT_NE(main_victim, worker_victim);  // exactly one victim
  EXPECT_EQ(main_got, worker_victim);     // the other got its lock
  EXPECT_EQ(worker_got, main_victim);
  EXPECT_TRUE(contains(err, "Deadlock detected: 2 threads")) << err;
  EXPECT_TRUE(contains(err, "\"MainThread\"") && contains(err, "\"worker\"")) << err;
}

TEST_F(Detection, LockOrderCheckingUnderRaisePreventsTheDeadlock) {
  // With lock-order checking and Reaction::raise the second thread to ask for its second lock
  // inverts the first one's order: its acquire throws before blocking, and nothing deadlocks.
  dl::enable_lock_order_checking(true);
  dl::set_reaction(dl::Reaction::raise);
  th::Lock a("p-A"), b("p-B");
  Ring ring({&a, &b}, {"P-1", "P-2"}, {long_wait(), long_wait()});  // timed: bounded anyway
  ASSERT_TRUE(ring.join_all());  // no watchdog: nobody breaks anything
  EXPECT_EQ(ring.victims(), 1);
  EXPECT_EQ(ring.completed(), 1);
  EXPECT_EQ(ring.timed_out(), 0);
  EXPECT_TRUE(starts_with(ring.victim_message(), "Lock order inversion (potential deadlock):"))
      << ring.victim_message();
  EXPECT_TRUE(dl::find_deadlocks().empty());
}

TEST_F(Detection, WithLockTrackingACycleListsEveryLockHeld) {
  // Lock-order checking also keeps each thread's held locks: a cycle then lists locks nobody
  // waits for too. (Its inversion report goes to a handler, so the threads go on to deadlock.)
  dl::enable_lock_order_checking(true);
  auto reports = collect_reports();
  th::Lock extra1("extra-1"), extra2("extra-2"), a("t-A"), b("t-B");
  std::latch gate(2);
  std::atomic<int> victims{0}, got{0};
  auto body = [&](th::Lock& extra, th::Lock& first, th::Lock& second) {
    std::lock_guard ge(extra);
    std::lock_guard gf(first);
    gate.arrive_and_wait();
    try {
      second.acquire();
      ++got;
      second.release();
    } catch (const concur::RuntimeError&) {
      ++victims;
    }
  };
  th::Thread t1(th::ThreadOptions{.name = "X-1"}, [&] { body(extra1, a, b); });
  th::Thread t2(th::ThreadOptions{.name = "X-2"}, [&] { body(extra2, b, a); });
  t1.start();
  t2.start();
  const auto cycles = wait_for_deadlocks();
  break_deadlocks_with_watchdog();
  ASSERT_TRUE(t1.join(long_wait()));
  ASSERT_TRUE(t2.join(long_wait()));
  ASSERT_EQ(cycles.size(), 1u) << describe_all(cycles);
  const dl::BlockedThread* m1 = member(cycles[0], "X-1");
  const dl::BlockedThread* m2 = member(cycles[0], "X-2");
  ASSERT_TRUE(m1 && m2) << cycles[0];
  EXPECT_TRUE(has(m1->holds, "lock \"extra-1\"") && has(m1->holds, "lock \"t-A\"")) << joined(m1->holds);
  EXPECT_TRUE(has(m2->holds, "lock \"extra-2\"") && has(m2->holds, "lock \"t-B\"")) << joined(m2->holds);
  EXPECT_EQ(m1->holds.size(), 2u) << joined(m1->holds);
  EXPECT_EQ(m2->holds.size(), 2u) << joined(m2->holds);
  EXPECT_EQ(reports->count(), 1u) << "the A/B inversion, reported once";
  EXPECT_EQ(victims.load(), 1);
  EXPECT_EQ(got.load(), 1);
}

TEST_F(Detection, ACycleThroughTimedWaitsIsFoundToo) {
  // find_deadlocks() returns it, though it will end by itself when a wait times out.
  th::Lock a("timed-A"), b("timed-B");
  Ring ring({&a, &b}, {"TT-1", "TT-2"}, {scaled(1000ms), scaled(1000ms)});
  const auto cycles = wait_for_deadlocks();
  ASSERT_EQ(cycles.size(), 1u) << describe_all(cycles);
  expect_ring_cycle(cycles[0], ring, {"lock \"timed-A\"", "lock \"timed-B\""});
  ASSERT_TRUE(ring.join_all());  // the timeouts end it
  EXPECT_GE(ring.timed_out(), 1);
  EXPECT_EQ(ring.timed_out() + ring.completed(), 2);
  EXPECT_EQ(ring.victims(), 0);
}

// --- find_deadlocks: no false cycles ----------------------------------------------------------

TEST_F(Detection, ThreadsBlockedWithoutACycleAreNoDeadlock) {
  NotDeadlocked nd;  // every thread BLOCKED (one running), in chains that end somewhere
  for (int i = 0; i < 20; ++i) {
    const auto cycles = dl::find_deadlocks();
    EXPECT_TRUE(cycles.empty()) << describe_all(cycles);
  }
  nd.release();
}

TEST_F(Detection, ALockHeldByARunningThreadIsNoCycle) {
  // "spinner" holds a and keeps trying b without ever sleeping; "waiter" holds b and waits for
  // a. Everyone waits for someone, but the spinner is RUNNING: it can still let go.
  th::Lock a("spin-a"), b("spin-b");
  th::Event spinner_holds, waiter_holds;
  std::atomic<bool> stop{false};
  std::atomic<long> tries{0};
  th::Thread spinner(th::ThreadOptions{.name = "spinner"}, [&] {
    std::lock_guard ga(a);
    spinner_holds.set();
    waiter_holds.wait(long_wait());
    while (!stop.load()) {
      if (b.acquire(false)) b.release();
      ++tries;
      std::this_thread::yield();
    }
  });
  bool waiter_got = false;
  th::Thread waiter(th::ThreadOptions{.name = "waiter"}, [&] {
    std::lock_guard gb(b);
    if (!spinner_holds.wait(long_wait())) return;
    waiter_holds.set();
    if (a.acquire(true, long_wait())) {
      waiter_got = true;
      a.release();
    }
  });
  spinner.start();
  waiter.start();
  ASSERT_TRUE(eventually([&] { return tries.load() > 0; }));  // the spinner spins
  th::ThreadStatus st;
  ASSERT_TRUE(eventually([&] {
    st = waiter.state();
    return st == th::ThreadState::BLOCKED;
  })) << st;
  EXPECT_EQ(st.wait_kind, "lock");
  EXPECT_TRUE(contains(st.waiting_for, "(held by \"spinner\")")) << st;
  for (int i = 0; i < 20; ++i) {
    const auto cycles = dl::find_deadlocks();
    EXPECT_TRUE(cycles.empty()) << describe_all(cycles);
  }
  EXPECT_EQ(spinner.state().state, th::ThreadState::RUNNING);
  stop = true;
  ASSERT_TRUE(spinner.join(long_wait()));
  ASSERT_TRUE(waiter.join(long_wait()));
  EXPECT_TRUE(waiter_got);
  EXPECT_GT(tries.load(), 0);
}

TEST_F(Detection, ALockLeftHeldByAFinishedThreadIsNoCycle) {
  th::Lock a("abandoned");
  th::Thread leaver(th::ThreadOptions{.name = "leaver"}, [&] { a.acquire(); });  // never releases
  leaver.start();
  ASSERT_TRUE(leaver.join(long_wait()));
  ASSERT_TRUE(a.locked());
  bool got = false;
  th::Thread waiter(th::ThreadOptions{.name = "waiter"}, [&] {
    if (a.acquire(true, long_wait())) {
      got = true;
      a.release();
    }
  });
  waiter.start();
  ASSERT_TRUE(eventually([&] { return waiter.state() == th::ThreadState::BLOCKED; }));
  EXPECT_TRUE(dl::find_deadlocks().empty());
  a.release();  // a Lock may be released by any thread
  ASSERT_TRUE(waiter.join(long_wait()));
  EXPECT_TRUE(got);
}

// --- the watchdog -----------------------------------------------------------------------------

TEST_F(Watchdog, ReportsAPersistingCycleOnceThroughTheHandler) {
  auto reports = collect_reports();
  th::Lock a("w-A"), b("w-B");
  Ring ring({&a, &b}, {"W-1", "W-2"});
  dl::start_watchdog(scaled(5ms));
  EXPECT_TRUE(dl::watchdog_running());
  ASSERT_TRUE(eventually([&] { return reports->count() >= 1; })) << "no report";
  // Give the watchdog time for many more looks at the same cycle: it must not report it again.
  std::this_thread::sleep_for(scaled(200ms));
  const auto all = reports->all();
  ASSERT_EQ(all.size(), 1u) << reports->messages();
  const dl::Report& r = all[0];
  EXPECT_EQ(r.kind, dl::ReportKind::deadlock);
  EXPECT_TRUE(starts_with(r.message, "Deadlock detected: 2 threads wait for each other in a cycle:\n"))
      << r.message;
  EXPECT_TRUE(contains(r.message,
                       "  thread \"W-1\" waits for lock \"w-B\", held by \"W-2\"; holds lock \"w-A\"\n"))
      << r.message;
  EXPECT_TRUE(contains(r.message,
                       "  thread \"W-2\" waits for lock \"w-A\", held by \"W-1\"; holds lock \"w-B\"\n"))
      << r.message;
  EXPECT_TRUE(has(r.threads, "W-1") && has(r.threads, "W-2")) << joined(r.threads);
  EXPECT_TRUE(has(r.locks, "lock \"w-A\"") && has(r.locks, "lock \"w-B\"")) << joined(r.locks);
  {
    std::lock_guard g(reports->m);
    EXPECT_EQ(reports->delivered_on.at(0), "concur-deadlock-watchdog");
  }
  // A handler does not break the deadlock.
  EXPECT_EQ(dl::find_deadlocks().size(), 1u);
  ASSERT_TRUE(ring.finish());
  EXPECT_EQ(ring.victims(), 1);
}

TEST_F(Watchdog, ReportsASelfDeadlock) {
  auto reports = collect_reports();
  th::Lock mirror("w-mirror");
  Ring ring({&mirror}, {"w-narcissus"});
  dl::start_watchdog(scaled(5ms));
  ASSERT_TRUE(eventually([&] { return reports->count() >= 1; })) << "no report";
  const dl::Report r = reports->all()[0];
  EXPECT_TRUE(starts_with(r.message, "Deadlock detected: 1 thread waits for itself:\n")) << r.message;
  EXPECT_TRUE(contains(r.message, "\"w-narcissus\"")) << r.message;
  EXPECT_TRUE(contains(r.message, "lock \"w-mirror\"")) << r.message;
  ASSERT_TRUE(ring.finish());
  EXPECT_EQ(ring.victims(), 1);
}

TEST_F(Watchdog, DoesNotReportThreadsThatAreNotDeadlocked) {
  auto reports = collect_reports();
  NotDeadlocked nd;
  // A real deadlock beside them: once it is reported, the watchdog has looked at everything
  // (at least twice).
  th::Lock a("real-A"), b("real-B");
  Ring ring({&a, &b}, {"real-1", "real-2"});
  dl::start_watchdog(scaled(5ms));
  ASSERT_TRUE(eventually([&] { return reports->count() >= 1; })) << "no report";
  std::this_thread::sleep_for(scaled(100ms));  // more looks, to report something wrong
  const auto all = reports->all();
  ASSERT_EQ(all.size(), 1u) << reports->messages();
  EXPECT_EQ(all[0].threads.size(), 2u) << joined(all[0].threads);
  EXPECT_TRUE(has(all[0].threads, "real-1") && has(all[0].threads, "real-2"))
      << joined(all[0].threads);
  for (const auto& name : nd.names()) EXPECT_FALSE(contains(all[0].message, name)) << all[0].message;
  ASSERT_TRUE(ring.finish());
  nd.release();
}

TEST_F(Watchdog, StopStopsIt) {
  auto reports = collect_reports();
  EXPECT_FALSE(dl::watchdog_running());
  dl::start_watchdog(scaled(5ms));
  EXPECT_TRUE(dl::watchdog_running());
  std::optional<th::ThreadRef> dog;
  for (const auto& t : th::enumerate())
    if (t.name() == "concur-deadlock-watchdog") dog = t;
  ASSERT_TRUE(dog.has_value()) << "no watchdog thread";
  EXPECT_TRUE(dog->daemon());
  EXPECT_TRUE(dog->is_alive());
  dl::stop_watchdog();
  EXPECT_FALSE(dl::watchdog_running());
  EXPECT_FALSE(dog->is_alive());
  EXPECT_EQ(dog->state().state, th::ThreadState::TERMINATED);
  dl::stop_watchdog();  // again: nothing to do
  EXPECT_FALSE(dl::watchdog_running());

  th::Lock a("s-A"), b("s-B");
  Ring ring({&a, &b}, {"S-1", "S-2"});
  ASSERT_EQ(wait_for_deadlocks().size(), 1u);  // the deadlock is there
  std::this_thread::sleep_for(scaled(100ms));  // time for a watchdog to report it (none runs)
  EXPECT_EQ(reports->count(), 0u) << reports->messages();
  // Started again, it reports it.
  dl::start_watchdog(scaled(5ms));
  EXPECT_TRUE(eventually([&] { return reports->count() == 1; })) << reports->messages();
  ASSERT_TRUE(ring.finish());
}

TEST_F(Watchdog, IntervalMustBePositive) {
  EXPECT_THROW(dl::start_watchdog(0ms), concur::ValueError);
  EXPECT_THROW(dl::start_watchdog(std::chrono::nanoseconds(0)), concur::ValueError);
  EXPECT_THROW(dl::start_watchdog(-1s), concur::ValueError);
  EXPECT_THROW(dl::start_watchdog(std::chrono::duration<double>(-0.5)), concur::ValueError);
  EXPECT_FALSE(dl::watchdog_running());
  // Any positive duration type works.
  dl::start_watchdog(std::chrono::duration<double, std::milli>(2.5));
  EXPECT_TRUE(dl::watchdog_running());
  EXPECT_THROW(dl::start_watchdog(0ms), concur::ValueError);  // while running, too
  EXPECT_TRUE(dl::watchdog_running());
  dl::stop_watchdog();
  EXPECT_FALSE(dl::watchdog_running());
}

TEST_F(Watchdog, StartingAgainChangesTheInterval) {
  // "start_watchdog() again changes the interval": a watchdog started with a long interval and
  // then restarted with a short one reports a deadlock within the short one (generously), not
  // after the long one.
  auto reports = collect_reports();
  dl::start_watchdog(1h);
  // Once its thread sleeps in its first 1 h wait (the same thing as any later wait) ...
  std::optional<th::ThreadRef> dog;
  for (const auto& t : th::enumerate())
    if (t.name() == "concur-deadlock-watchdog") dog = t;
  ASSERT_TRUE(dog.has_value());
  th::ThreadStatus st;
  ASSERT_TRUE(eventually([&] {
    st = dog->state();
    return st == th::ThreadState::BLOCKED;
  })) << st;
  // ... the interval is shortened.
  dl::start_watchdog(scaled(5ms));
  EXPECT_TRUE(dl::watchdog_running());
  th::Lock a("i-A"), b("i-B");
  Ring ring({&a, &b}, {"I-1", "I-2"});
  ASSERT_EQ(wait_for_deadlocks().size(), 1u);
  EXPECT_TRUE(eventually([&] { return reports->count() == 1; }))
      << "the new interval was not used: no report within " << long_wait().count() << " ms";
  ASSERT_TRUE(ring.finish());
}

TEST_F(Watchdog, LeavesCyclesThroughTimedWaitsToTheirTimeouts) {
  // "Cycles through a timed wait are left to their timeouts": no report, no victim, even under
  // raise; one timed wait in a cycle is enough.
  auto reports = collect_reports();
  dl::start_watchdog(scaled(5ms));
  {
    th::Lock a("lt-A"), b("lt-B");
    Ring ring({&a, &b}, {"LT-1", "LT-2"}, {scaled(500ms), scaled(500ms)});
    ASSERT_EQ(wait_for_deadlocks().size(), 1u);  // the cycle is there while they wait
    ASSERT_TRUE(ring.join_all());
    EXPECT_GE(ring.timed_out(), 1);
    EXPECT_EQ(ring.victims(), 0);
  }
  {
    th::Lock a("mt-A"), b("mt-B");
    // MT-1 waits at most 500 ms, MT-2 without a timeout: MT-1's timeout frees MT-2.
    Ring ring({&a, &b}, {"MT-1", "MT-2"}, {scaled(500ms), 0ms});
    ASSERT_EQ(wait_for_deadlocks().size(), 1u);
    ASSERT_TRUE(ring.join_all());
    EXPECT_TRUE(ring.outcome(0).timed_out);
    EXPECT_TRUE(ring.outcome(1).got_second);
    EXPECT_EQ(ring.victims(), 0);
  }
  EXPECT_EQ(reports->count(), 0u) << reports->messages();
  // Under raise too: nothing is broken (the timeout does it).
  dl::set_reaction(dl::Reaction::raise);
  th::Lock a("rt-A"), b("rt-B");
  Ring ring({&a, &b}, {"RT-1", "RT-2"}, {scaled(500ms), 0ms});
  ASSERT_EQ(wait_for_deadlocks().size(), 1u);
  ASSERT_TRUE(ring.join_all());
  EXPECT_EQ(ring.victims(), 0);
  EXPECT_TRUE(ring.outcome(0).timed_out);
}

TEST_F(Watchdog, RaiseBreaksATwoThreadDeadlock) {
  dl::set_reaction(dl::Reaction::raise);
  dl::start_watchdog(scaled(5ms));
  testing::internal::CaptureStderr();
  th::Lock a("x_lock"), b("y_lock");
  Ring ring({&a, &b}, {"thread_1", "thread_2"});  // untimed, as std::lock_guard
  const bool all_joined = ring.finish();
  const std::string err = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(all_joined);
  EXPECT_EQ(ring.victims(), 1);
  EXPECT_EQ(ring.completed(), 1);
  EXPECT_TRUE(starts_with(ring.victim_message(), "Deadlock detected")) << ring.victim_message();
  EXPECT_TRUE(contains(ring.victim_message(), "\"x_lock\"") ||
              contains(ring.victim_message(), "\"y_lock\""))
      << ring.victim_message();
  // Under raise the watchdog also prints the report.
  EXPECT_TRUE(contains(err, "Deadlock detected: 2 threads wait for each other in a cycle:")) << err;
  EXPECT_TRUE(contains(err, "\"thread_1\"") && contains(err, "\"thread_2\"")) << err;
  EXPECT_FALSE(a.locked());
  EXPECT_FALSE(b.locked());
}

TEST_F(Watchdog, RaiseBreaksFivePhilosophers) {
  dl::set_reaction(dl::Reaction::raise);
  dl::start_watchdog(scaled(5ms));
  std::vector<std::unique_ptr<th::Lock>> forks;
  std::vector<AnyLock> locks;
  std::vector<std::string> names;
  for (int i = 0; i < 5; ++i) {
    forks.push_back(std::make_unique<th::Lock>("fork-" + std::to_string(i)));
    locks.push_back(forks.back().get());
    names.push_back("philosopher-" + std::to_string(i));
  }
  testing::internal::CaptureStderr();
  Ring ring(locks, names);
  const bool all_joined = ring.finish();
  const std::string err = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(all_joined);
  EXPECT_EQ(ring.victims(), 1);
  EXPECT_EQ(ring.completed(), 4);  // once the victim let go of its fork, everyone else ate
  EXPECT_TRUE(contains(err, "Deadlock detected: 5 threads wait for each other in a cycle:")) << err;
  for (const auto& f : forks) EXPECT_FALSE(f->locked()) << f->name();
}
