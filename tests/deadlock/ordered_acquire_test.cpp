// Tests for dl::acquire (include/concur/deadlock/ordered_acquire.hpp, API.md §5): several locks
// taken in one global order whatever order they are named in, released in reverse, and the
// per-thread "Lock Order Violation" check.
#include <concur/deadlock.hpp>
#include <concur/threading.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <functional>
#include <mutex>
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

// A Lockable that logs "lock <tag>" / "unlock <tag>" (single-threaded use only).
struct LoggingLock {
  LoggingLock() = default;
  LoggingLock(std::vector<std::string>* l, std::string t) : log(l), tag(std::move(t)) {}
  std::vector<std::string>* log = nullptr;
  std::string tag;
  std::mutex m;
  int locks = 0;
  int unlocks = 0;
  void lock() {
    m.lock();
    ++locks;
    log->push_back("lock " + tag);
  }
  void unlock() {
    ++unlocks;
    log->push_back("unlock " + tag);
    m.unlock();
  }
};

// A Lockable whose lock() always throws.
struct ThrowingLock {
  struct Boom : std::runtime_error {
    Boom() : std::runtime_error("boom") {}
  };
  int unlocks = 0;
  void lock() { throw Boom(); }
  void unlock() { ++unlocks; }
};

// Whether another thread can take the std::mutex right now (never try_lock it from its owner).
bool free_from_another_thread(std::mutex& m) {
  bool ok = false;
  std::thread([&] {
    ok = m.try_lock();
    if (ok) m.unlock();
  }).join();
  return ok;
}

// Locks in one array: their addresses, hence the global order, follow their indices.
template <class L, std::size_t N>
void expect_all_unlocked(const std::array<L, N>& locks) {
  for (std::size_t i = 0; i < N; ++i) EXPECT_FALSE(locks[i].locked()) << "lock " << i;
}

}  // namespace

TEST(OrderedAcquire, LocksAreHeldInsideTheScopeAndReleasedAfter) {
  th::Lock a, b, c;
  {
    auto held = dl::acquire(a, b, c);
    EXPECT_TRUE(a.locked());
    EXPECT_TRUE(b.locked());
    EXPECT_TRUE(c.locked());
  }
  EXPECT_FALSE(a.locked());
  EXPECT_FALSE(b.locked());
  EXPECT_FALSE(c.locked());
  {
    auto held = dl::acquire(b);  // a single lock is fine too
    EXPECT_TRUE(b.locked());
    EXPECT_FALSE(a.locked());
  }
  EXPECT_FALSE(b.locked());
}

TEST(OrderedAcquire, ReleaseOrderIsTheReverseOfAcquisition) {
  std::vector<std::string> log;
  std::array<LoggingLock, 3> l;
  const char* tags[] = {"0", "1", "2"};
  for (int i = 0; i < 3; ++i) l[i].log = &log, l[i].tag = tags[i];
  {
    auto held = dl::acquire(l[2], l[0], l[1]);
    log.push_back("body");
  }
  const std::vector<std::string> expected = {"lock 0", "lock 1", "lock 2", "body",
                                             "unlock 2", "unlock 1", "unlock 0"};
  EXPECT_EQ(log, expected);
}

TEST(OrderedAcquire, OrderDoesNotDependOnTheNamingOrder) {
  std::vector<std::string> log;
  LoggingLock x{&log, "x"}, y{&log, "y"}, z{&log, "z"};
  // The expected order: by address.
  std::vector<LoggingLock*> by_address = {&x, &y, &z};
  std::sort(by_address.begin(), by_address.end(), std::less<LoggingLock*>{});
  std::vector<std::string> expected;
  for (auto* l : by_address) expected.push_back("lock " + l->tag);
  for (auto it = by_address.rbegin(); it != by_address.rend(); ++it)
    expected.push_back("unlock " + (*it)->tag);

  const std::vector<std::function<void()>> namings = {
      [&] { auto h = dl::acquire(x, y, z); }, [&] { auto h = dl::acquire(x, z, y); },
      [&] { auto h = dl::acquire(y, x, z); }, [&] { auto h = dl::acquire(y, z, x); },
      [&] { auto h = dl::acquire(z, x, y); }, [&] { auto h = dl::acquire(z, y, x); }};
  for (std::size_t i = 0; i < namings.size(); ++i) {
    log.clear();
    namings[i]();
    EXPECT_EQ(log, expected) << "naming #" << i;
  }
}

TEST(OrderedAcquire, MixesLockRLockAndStdMutex) {
  th::Lock lock;
  th::RLock rlock;
  std::mutex mutex;
  {
    auto held = dl::acquire(mutex, rlock, lock);
    EXPECT_TRUE(lock.locked());
    EXPECT_TRUE(rlock.locked());
    EXPECT_FALSE(free_from_another_thread(mutex));
    // Another thread cannot take the concur locks either.
    bool other_got_lock = true, other_got_rlock = true;
    std::thread([&] {
      other_got_lock = lock.acquire(false);
      other_got_rlock = rlock.acquire(false);
    }).join();
    EXPECT_FALSE(other_got_lock);
    EXPECT_FALSE(other_got_rlock);
  }
  EXPECT_FALSE(lock.locked());
  EXPECT_FALSE(rlock.locked());
  EXPECT_TRUE(free_from_another_thread(mutex));
}

TEST(OrderedAcquire, AnRLockAlreadyOwnedOutsideDlAcquireIsTakenAgain) {
  th::RLock rlock;
  th::Lock lock;
  rlock.acquire();  // a plain acquire: not in the dl::acquire record
  {
    auto held = dl::acquire(lock, rlock);
    EXPECT_TRUE(lock.locked());
  }
  EXPECT_TRUE(rlock.locked());  // still held once by the plain acquire
  rlock.release();
  EXPECT_FALSE(rlock.locked());
}

TEST(OrderedAcquire, NestedAcquireInOrderIsAllowed) {
  std::array<th::Lock, 4> l;
  {
    auto outer = dl::acquire(l[0]);
    {
      auto middle = dl::acquire(l[2], l[1]);
      {
        auto inner = dl::acquire(l[3]);
        for (auto& x : l) EXPECT_TRUE(x.locked());
      }
      EXPECT_FALSE(l[3].locked());
      EXPECT_TRUE(l[2].locked());
    }
    EXPECT_FALSE(l[1].locked());
    EXPECT_FALSE(l[2].locked());
    EXPECT_TRUE(l[0].locked());
    // After the nested scopes ended, a later lock can be taken again from the outer scope.
    auto again = dl::acquire(l[1]);
    EXPECT_TRUE(l[1].locked());
  }
  expect_all_unlocked(l);
}

TEST(OrderedAcquire, OutOfOrderNestedAcquireThrowsAndLeavesNothingLocked) {
  std::array<th::Lock, 3> l;
  {
    auto outer = dl::acquire(l[1]);
    const std::string what = runtime_error_of([&] { auto inner = dl::acquire(l[0]); });
    EXPECT_TRUE(contains(what, "Lock Order Violation")) << what;
    EXPECT_FALSE(l[0].locked());
    // A set whose first lock is lower is refused as a whole, even though l[2] is higher.
    const std::string what2 = runtime_error_of([&] { auto inner = dl::acquire(l[2], l[0]); });
    EXPECT_TRUE(contains(what2, "Lock Order Violation")) << what2;
    EXPECT_FALSE(l[0].locked());
    EXPECT_FALSE(l[2].locked());
    // Asking again for the lock already held is not "after" it either.
    const std::string what3 = runtime_error_of([&] { auto inner = dl::acquire(l[1]); });
    EXPECT_TRUE(contains(what3, "Lock Order Violation")) << what3;
    EXPECT_TRUE(l[1].locked());  // the outer scope still holds it
    // The record is intact: a correct nested acquire still works.
    auto inner = dl::acquire(l[2]);
    EXPECT_TRUE(l[2].locked());
  }
  expect_all_unlocked(l);
  // And after everything was released, the thread starts from an empty record.
  {
    auto a = dl::acquire(l[0]);
    auto b = dl::acquire(l[1], l[2]);
    EXPECT_TRUE(l[0].locked() && l[1].locked() && l[2].locked());
  }
  expect_all_unlocked(l);
}

TEST(OrderedAcquire, RLockReenteredOutOfOrderIsAViolationToo) {
  th::RLock r;
  auto outer = dl::acquire(r);
  const std::string what = runtime_error_of([&] { auto inner = dl::acquire(r); });
  EXPECT_TRUE(contains(what, "Lock Order Violation")) << what;
  EXPECT_TRUE(r.locked());
}

TEST(OrderedAcquire, ViolationIsReportedBeforeBlocking) {
  std::array<th::Lock, 2> l;
  std::atomic<bool> done{false};
  // Another thread holds l[0] (plainly) until the main thread is finished.
  th::Event holding, finish;
  std::thread holder([&] {
    l[0].acquire();
    holding.set();
    finish.wait(long_wait());
    l[0].release();
  });
  ASSERT_TRUE(holding.wait(long_wait()));
  {
    auto outer = dl::acquire(l[1]);
    // If the check came after blocking, this would wait for l[0] until the watchdog fires.
    const std::string what = runtime_error_of([&] { auto inner = dl::acquire(l[0]); });
    EXPECT_TRUE(contains(what, "Lock Order Violation")) << what;
    done = true;
  }
  finish.set();
  holder.join();
  EXPECT_TRUE(done);
  expect_all_unlocked(l);
}

TEST(OrderedAcquire, NamedLocksAppearInTheMessage) {
  th::Lock a("account-A"), b("account-B");
  th::Lock& low = std::less<th::Lock*>{}(&a, &b) ? a : b;
  th::Lock& high = &low == &a ? b : a;
  auto outer = dl::acquire(high);
  const std::string what = runtime_error_of([&] { auto inner = dl::acquire(low); });
  EXPECT_TRUE(contains(what, "Lock Order Violation")) << what;
  EXPECT_TRUE(contains(what, "account-A")) << what;
  EXPECT_TRUE(contains(what, "account-B")) << what;
  EXPECT_FALSE(low.locked());
}

TEST(OrderedAcquire, ALockNamedTwiceThrows) {
  th::Lock a, b;
  const std::string what = runtime_error_of([&] { auto h = dl::acquire(a, a); });
  EXPECT_NE(what, "<no throw>");
  EXPECT_NE(what, "<other>");
  const std::string what2 = runtime_error_of([&] { auto h = dl::acquire(a, b, a); });
  EXPECT_NE(what2, "<no throw>");
  EXPECT_NE(what2, "<other>");
  EXPECT_FALSE(a.locked());
  EXPECT_FALSE(b.locked());
  // The record is clean: both orders of nesting from scratch work.
  {
    th::Lock& low = std::less<th::Lock*>{}(&a, &b) ? a : b;
    th::Lock& high = &low == &a ? b : a;
    auto h1 = dl::acquire(low);
    auto h2 = dl::acquire(high);
    EXPECT_TRUE(a.locked() && b.locked());
  }
  EXPECT_FALSE(a.locked());
  EXPECT_FALSE(b.locked());
}

TEST(OrderedAcquire, ALockWhoseLockThrowsReleasesTheEarlierOnes) {
  // Members of one struct: the order is a, t, c.
  struct Set {
    th::Lock a;
    ThrowingLock t;
    th::Lock c;
  } s;
  EXPECT_THROW({ auto h = dl::acquire(s.c, s.t, s.a); }, ThrowingLock::Boom);
  EXPECT_FALSE(s.a.locked());
  EXPECT_FALSE(s.c.locked());
  EXPECT_EQ(s.t.unlocks, 0);  // the lock that failed is not unlocked
  // Throwing as the first lock of the set.
  EXPECT_THROW({ auto h = dl::acquire(s.t, s.c); }, ThrowingLock::Boom);
  EXPECT_FALSE(s.c.locked());
  // The record is clean: starting from the lowest lock works, and nesting after it too.
  {
    auto h1 = dl::acquire(s.a);
    auto h2 = dl::acquire(s.c);
    EXPECT_TRUE(s.a.locked() && s.c.locked());
  }
  // Also when the throw happens inside a nested acquire.
  {
    auto outer = dl::acquire(s.a);
    EXPECT_THROW({ auto h = dl::acquire(s.t, s.c); }, ThrowingLock::Boom);
    EXPECT_TRUE(s.a.locked());
    EXPECT_FALSE(s.c.locked());
    auto inner = dl::acquire(s.c);  // the outer record is still just s.a
    EXPECT_TRUE(s.c.locked());
  }
  EXPECT_FALSE(s.a.locked());
  EXPECT_FALSE(s.c.locked());
}

namespace {
template <class L1, class L2>
auto take_both(L1& a, L2& b) {
  auto held = dl::acquire(a, b);
  return held;  // moved (or elided) out
}
}  // namespace

TEST(OrderedAcquire, HeldIsMovableAndReleasesOnce) {
  std::vector<std::string> log;
  LoggingLock x{&log, "x"}, y{&log, "y"};
  {
    auto held = take_both(y, x);
    EXPECT_EQ(x.locks, 1);
    EXPECT_EQ(y.locks, 1);
    EXPECT_EQ(x.unlocks, 0);
    {
      auto moved(std::move(held));
      EXPECT_EQ(x.unlocks, 0);
      EXPECT_EQ(y.unlocks, 0);
    }
    EXPECT_EQ(x.unlocks, 1);
    EXPECT_EQ(y.unlocks, 1);
  }  // the moved-from Held releases nothing
  EXPECT_EQ(x.unlocks, 1);
  EXPECT_EQ(y.unlocks, 1);
  // The record was popped once: a fresh acquire in any order works, and nesting is checked.
  {
    auto again = dl::acquire(x, y);
    EXPECT_EQ(x.locks, 2);
  }
  EXPECT_EQ(x.unlocks, 2);
  EXPECT_EQ(y.unlocks, 2);
}

TEST(OrderedAcquire, TheRecordIsPerThread) {
  std::array<th::Lock, 2> l;
  auto outer = dl::acquire(l[1]);
  // Another thread holds nothing through dl::acquire, so taking l[0] is no violation there.
  std::string what = "<not run>";
  std::thread([&] {
    what = runtime_error_of([&] {
      auto h = dl::acquire(l[0]);
      EXPECT_TRUE(l[0].locked());
    });
  }).join();
  EXPECT_EQ(what, "<no throw>");
  EXPECT_FALSE(l[0].locked());
}

TEST(OrderedAcquireStress, DiningPhilosophersFinish) {
  constexpr int n = 5;
  constexpr int meals = 2000;
  std::array<th::Lock, n> chopsticks;
  std::array<long, n> uses{};    // uses[k] changes only while chopstick k is held
  std::array<int, n> eaten{};
  run_together(n, [&](int i) {
    th::Lock& left = chopsticks[i];
    th::Lock& right = chopsticks[(i + 1) % n];
    for (int m = 0; m < meals; ++m) {
      // Half the philosophers name their chopsticks the other way round.
      auto held = i % 2 == 0 ? dl::acquire(left, right) : dl::acquire(right, left);
      ++uses[i];
      ++uses[(i + 1) % n];
      ++eaten[i];
    }
  });
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(eaten[i], meals) << "philosopher " << i;
    EXPECT_EQ(uses[i], 2L * meals) << "chopstick " << i;
  }
  expect_all_unlocked(chopsticks);
}

TEST(OrderedAcquireStress, OppositeNamingOrdersDoNotDeadlock) {
  constexpr int rounds = 10000;
  th::Lock x_lock;
  std::mutex y_lock;
  long x_balance = 1000, y_balance = 1000;  // changed only while both locks are held
  long transfers = 0;
  run_together(2, [&](int i) {
    for (int k = 0; k < rounds; ++k) {
      if (i == 0) {
        auto held = dl::acquire(x_lock, y_lock);
        --x_balance, ++y_balance, ++transfers;
      } else {
        auto held = dl::acquire(y_lock, x_lock);
        ++x_balance, --y_balance, ++transfers;
      }
    }
  });
  EXPECT_EQ(transfers, 2L * rounds);
  EXPECT_EQ(x_balance, 1000);
  EXPECT_EQ(y_balance, 1000);
  EXPECT_FALSE(x_lock.locked());
  EXPECT_TRUE(free_from_another_thread(y_lock));
}
