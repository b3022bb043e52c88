// mp::Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier
// (concur/multiprocessing/synchronize.hpp, API.md §6.2), after CPython's
// Lib/test/_test_multiprocessing.py (_TestLock, _TestSemaphore, _TestCondition, _TestEvent,
// _TestBarrier): the call forms, timeouts, threads and forked children sharing one object, dead
// owners (OwnerDied), and handles crossing through the FdTable seam.
//
// Every blocking call is bounded (a timeout form, a child bounded by bounded_child.hpp, or the
// test watchdog); children meet the parent through the objects under test or a pipe, never by
// sleeping.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <new>
#include <chrono>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <concur/multiprocessing.hpp>

#include "bounded_child.hpp"
#include "shared_support.hpp"
#include "test_support.hpp"

namespace {

namespace mp = concur::multiprocessing;
using namespace std::chrono_literals;
using concur_test::long_wait;
using concur_test::start_child;
using shared_test::Children;
using shared_test::Reap;

// ---- Lock -----------------------------------------------------------------------------------

TEST(MpLock, CallForms) {
  mp::Lock l;
  EXPECT_FALSE(l.locked());
  EXPECT_TRUE(l.acquire());
  EXPECT_TRUE(l.locked());
  EXPECT_FALSE(l.acquire(false));
  EXPECT_FALSE(l.acquire(0ms));
  EXPECT_FALSE(l.try_lock());
  l.release();
  EXPECT_FALSE(l.locked());
  EXPECT_TRUE(l.acquire(true, 50ms));
  l.release();
  EXPECT_TRUE(l.acquire(std::chrono::duration<double>(0.05)));
  l.release();
  EXPECT_THROW(l.release(), concur::RuntimeError);
  EXPECT_THROW((void)l.acquire(false, 10ms), concur::ValueError);
  { std::lock_guard g(l); EXPECT_TRUE(l.locked()); }
  EXPECT_FALSE(l.locked());
  { std::unique_lock g(l, 50ms); EXPECT_TRUE(g.owns_lock()); }
  EXPECT_TRUE(mp::detail::robust_supported());
}

TEST(MpLock, TimedAcquireOfAHeldLockTimesOut) {
  mp::Lock l;
  l.acquire();
  const auto elapsed = concur_test::time_of([&] { EXPECT_FALSE(l.acquire(50ms)); });
  concur_test::expect_timed_out_after_50ms(elapsed);
  EXPECT_FALSE(l.try_lock_for(-1s));
  l.release();
}

TEST(MpLock, CopiesAreTheSameLock) {
  mp::Lock a;
  mp::Lock b = a;
  mp::Lock c;
  c = a;
  a.acquire();
  EXPECT_TRUE(b.locked());
  EXPECT_TRUE(c.locked());
  mp::Lock moved = std::move(b);
  EXPECT_TRUE(b.locked());  // a moved-from handle still refers to the lock
  moved.release();
  EXPECT_FALSE(a.locked());
}

TEST(MpLock, AnotherThreadMayRelease) {
  // Python's Lock is not owner-bound; the lock stays correct and robust afterwards.
  mp::Lock l;
  l.acquire();
  std::thread([&] { l.release(); }).join();
  EXPECT_FALSE(l.locked());
  EXPECT_TRUE(l.acquire(false));
  std::thread([&] {
    EXPECT_FALSE(l.acquire(false));
    l.release();
    EXPECT_TRUE(l.acquire(false));  // this thread's hold now
    l.release();
  }).join();
  EXPECT_TRUE(l.acquire(false));
  l.release();
}

TEST(MpLock, MutualExclusionAmongThreads) {
  mp::Lock l;
  long counter = 0;
  concur_test::run_together(4, [&](int) {
    for (int i = 0; i < 20000; ++i) {
      std::lock_guard g(l);
      ++counter;
    }
  });
  EXPECT_EQ(counter, 80000);
}

TEST(MpLock, ABlockedThreadIsWokenByRelease) {
  mp::Lock l;
  l.acquire();
  std::atomic<long> tid{0};
  std::atomic<bool> got{false};
  std::thread t([&] {
    tid = concur_test::this_tid();
    got = l.acquire(long_wait());
    l.release();
  });
  ASSERT_TRUE(concur_test::eventually([&] { return tid != 0 && shared_test::asleep_in_futex(tid); }));
  l.release();
  t.join();
  EXPECT_TRUE(got);
}

// ---- OwnerDied ------------------------------------------------------------------------------

TEST(MpLockOwnerDied, ChildExitsHoldingTheLock) {
  mp::Lock l;
  Reap child{start_child([&] {
    l.acquire();
    ::_exit(0);  // dies holding it
    return 0;
  })};
  ASSERT_EQ(child.wait(), 0);
  EXPECT_FALSE(l.locked());  // the kernel freed it (marked FUTEX_OWNER_DIED)
  try {
    l.acquire(long_wait());
    FAIL() << "no OwnerDied";
  } catch (const mp::OwnerDied& e) {
    EXPECT_NE(std::string(e.what()).find("half-updated"), std::string::npos);
  }
  EXPECT_FALSE(l.locked());  // left unlocked
  EXPECT_TRUE(l.acquire(false));  // and usable, once: no second OwnerDied
  l.release();
  EXPECT_TRUE(l.acquire(long_wait()));
  l.release();
}

TEST(MpLockOwnerDied, ChildKilledHoldingTheLock) {
  mp::Lock l;
  mp::Event held, never;
  const pid_t pid = start_child([&] {
    l.acquire();
    held.set();
    never.wait(long_wait());
    return 0;
  });
  Reap child{pid};
  ASSERT_TRUE(held.wait(long_wait()));
  ::kill(pid, SIGKILL);
  EXPECT_EQ(child.wait(), 128 + SIGKILL);
  EXPECT_THROW((void)l.acquire(false), mp::OwnerDied);  // even a non-blocking acquire hears it
  EXPECT_FALSE(l.locked());
  { std::lock_guard g(l); }
  EXPECT_FALSE(l.locked());
}

TEST(MpLockOwnerDied, ABlockedWaiterIsWoken) {
  mp::Lock l;
  mp::Event held, go;
  const pid_t pid = start_child([&] {
    l.acquire();
    held.set();
    CHILD_CHECK(go.wait(long_wait()));
    ::_exit(0);
    return 0;
  });
  Reap child{pid};
  ASSERT_TRUE(held.wait(long_wait()));
  std::atomic<long> tid{0};
  std::atomic<int> outcome{0};  // 1 OwnerDied, 2 acquired, 3 timed out
  std::thread waiter([&] {
    tid = concur_test::this_tid();
    try {
      outcome = l.acquire(long_wait()) ? 2 : 3;
    } catch (const mp::OwnerDied&) {
      outcome = 1;
    }
  });
  ASSERT_TRUE(concur_test::eventually([&] { return tid != 0 && shared_test::asleep_in_futex(tid); }));
  go.set();
  waiter.join();
  EXPECT_EQ(outcome, 1);
  EXPECT_EQ(child.wait(), 0);
  EXPECT_FALSE(l.locked());
  EXPECT_TRUE(l.acquire(false));
  l.release();
}

TEST(MpLockOwnerDied, TwoWaitersOneHearsItTheOtherGetsTheLock) {
  mp::Lock l;
  mp::Event held, go;
  const pid_t pid = start_child([&] {
    l.acquire();
    held.set();
    CHILD_CHECK(go.wait(long_wait()));
    ::_exit(0);
    return 0;
  });
  Reap child{pid};
  ASSERT_TRUE(held.wait(long_wait()));
  std::atomic<int> died{0}, acquired{0};
  std::atomic<long> tids[2] = {0, 0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < 2; ++i)
    waiters.emplace_back([&, i] {
      tids[i] = concur_test::this_tid();
      try {
        if (l.acquire(long_wait())) {
          ++acquired;
          l.release();
        }
      } catch (const mp::OwnerDied&) {
        ++died;
      }
    });
  ASSERT_TRUE(concur_test::eventually([&] {
    return tids[0] != 0 && tids[1] != 0 && shared_test::asleep_in_futex(tids[0]) &&
           shared_test::asleep_in_futex(tids[1]);
  }));
  go.set();
  for (auto& t : waiters) t.join();
  EXPECT_EQ(died, 1);
  EXPECT_EQ(acquired, 1);
  EXPECT_FALSE(l.locked());
}

TEST(MpLockOwnerDied, LockGuardDoesNotLeakIt) {
  mp::Lock l;
  Reap child{start_child([&] {
    l.acquire();
    ::_exit(0);
    return 0;
  })};
  ASSERT_EQ(child.wait(), 0);
  bool heard = false;
  try {
    std::lock_guard g(l);
    FAIL() << "the guard took the lock";
  } catch (const mp::OwnerDied&) {
    heard = true;
  }
  EXPECT_TRUE(heard);
  EXPECT_FALSE(l.locked());
  { std::lock_guard g(l); EXPECT_TRUE(l.locked()); }
  EXPECT_FALSE(l.locked());
}

TEST(MpLockOwnerDied, AThreadThatEndsHoldingItCountsToo) {
  mp::Lock l;
  std::thread([&] { l.acquire(); }).join();
  EXPECT_THROW((void)l.acquire(long_wait()), mp::OwnerDied);
  EXPECT_TRUE(l.acquire(false));
  l.release();
}

TEST(MpLockOwnerDied, AfterANonOwnerReleaseTheNextHolderIsProtected) {
  // Thread A takes it, this thread releases it for A; A's thread ends (its list is swept);
  // a child then takes it and dies: detected.
  mp::Lock m;
  mp::Event a_took, a_may_end;
  std::thread a([&] {
    m.acquire();
    a_took.set();
    a_may_end.wait(long_wait());
  });
  ASSERT_TRUE(a_took.wait(long_wait()));
  m.release();  // not the owner
  a_may_end.set();
  a.join();  // A ends holding nothing: its sweep takes the node off its list
  Reap child{start_child([&] {
    m.acquire();
    ::_exit(0);
    return 0;
  })};
  ASSERT_EQ(child.wait(), 0);
  EXPECT_THROW((void)m.acquire(long_wait()), mp::OwnerDied);
  EXPECT_TRUE(m.acquire(false));
  m.release();
}

TEST(MpLockOwnerDied, SharesTheRobustListWithGlibcsRobustMutexes) {
  // A child holds robust pthread mutexes and mp::Locks interleaved on one robust list, releases
  // some of them out of order (each unlink touches its neighbours, of the other kind), and dies
  // holding the rest: the kernel finds every one of them.
  struct Page {
    pthread_mutex_t m[3];
  };
  void* mem = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  auto* page = ::new (mem) Page();
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  for (auto& m : page->m) pthread_mutex_init(&m, &a);
  pthread_mutexattr_destroy(&a);
  mp::Lock l1, l2, l3;
  Reap child{start_child([&] {
    CHILD_CHECK(pthread_mutex_lock(&page->m[0]) == 0);
    l1.acquire();
    CHILD_CHECK(pthread_mutex_lock(&page->m[1]) == 0);
    l2.acquire();
    CHILD_CHECK(pthread_mutex_lock(&page->m[2]) == 0);
    l3.acquire();
    CHILD_CHECK(pthread_mutex_unlock(&page->m[1]) == 0);  // between l1 and l2 on the list
    l2.release();                                         // between m[0]... and m[2]
    ::_exit(0);  // dies holding m[0], l1, m[2], l3
    return 0;
  })};
  ASSERT_EQ(child.wait(), 0);
  EXPECT_EQ(pthread_mutex_lock(&page->m[0]), EOWNERDEAD);
  EXPECT_EQ(pthread_mutex_lock(&page->m[1]), 0);
  EXPECT_EQ(pthread_mutex_lock(&page->m[2]), EOWNERDEAD);
  for (auto& m : page->m) {
    pthread_mutex_consistent(&m);
    pthread_mutex_unlock(&m);
  }
  EXPECT_THROW((void)l1.acquire(false), mp::OwnerDied);
  EXPECT_TRUE(l2.acquire(false));
  l2.release();
  EXPECT_THROW((void)l3.acquire(false), mp::OwnerDied);
  // This thread's list too: the same dance here, ending with nothing held.
  ASSERT_EQ(pthread_mutex_lock(&page->m[0]), 0);
  l1.acquire();
  ASSERT_EQ(pthread_mutex_lock(&page->m[1]), 0);
  l2.acquire();
  pthread_mutex_unlock(&page->m[0]);
  l2.release();
  l1.release();
  pthread_mutex_unlock(&page->m[1]);
  for (auto& m : page->m) pthread_mutex_destroy(&m);
  ::munmap(mem, 4096);
}

TEST(MpLockOwnerDied, KilledAtAnyMomentNeverDeadlocks) {
  // Children hammer the lock (with a Value's RLock nested in it) and are killed at arbitrary
  // moments, also between the compare-and-swap and the list update: each time the parent gets
  // the lock back, with or without OwnerDied, and the lock works after.
  mp::Lock l;
  mp::Value<long> v(0);
  int died = 0;
  for (int round = 0; round < 20; ++round) {
    mp::Event started;
    const pid_t pid = start_child([&] {
      started.set();
      for (;;) {
        std::lock_guard g(l);
        std::lock_guard h(v);
        v.value() += 1;
      }
      return 0;
    });
    Reap child{pid};
    ASSERT_TRUE(started.wait(long_wait()));
    // Let it run a little (how far is the point: any moment), then kill it.
    for (int spin = 0; spin < (round % 5) * 2000; ++spin) concur::detail::cpu_relax();
    ::kill(pid, SIGKILL);
    EXPECT_EQ(child.wait(), 128 + SIGKILL);
    for (int attempt = 0; attempt < 2; ++attempt) {
      try {
        ASSERT_TRUE(l.acquire(long_wait()));
        break;
      } catch (const mp::OwnerDied&) {
        ++died;
      }
    }
    try {
      ASSERT_TRUE(v.acquire(long_wait()));
    } catch (const mp::OwnerDied&) {
      ASSERT_TRUE(v.acquire(long_wait()));
    }
    v.release();
    l.release();
  }
  EXPECT_FALSE(l.locked());
  std::printf("owner died %d times in 20 kills\n", died);
}

TEST(MpLockOwnerDied, DroppingTheLastHandleWhileItsNodeIsOnALiveThreadsList) {
  // Thread A takes a lock that this thread then releases for it, and every handle goes while
  // A lives: the node is still on A's robust list, so the memory must stay mapped (A's next
  // robust-list operation, here a robust pthread mutex of glibc's, writes next to it).
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_t m;
  pthread_mutex_init(&m, &a);
  pthread_mutexattr_destroy(&a);
  mp::Event took, may_go;
  std::optional<mp::Lock> l{std::in_place};
  std::thread t([&, copy = *l]() mutable {
    copy.acquire();
    copy = mp::Lock();  // A keeps no handle to it
    took.set();
    ASSERT_TRUE(may_go.wait(long_wait()));
    EXPECT_EQ(pthread_mutex_lock(&m), 0);  // links next to the (still mapped) node
    EXPECT_EQ(pthread_mutex_unlock(&m), 0);
    mp::Lock other;
    other.acquire();
    other.release();
  });
  ASSERT_TRUE(took.wait(long_wait()));
  l->release();  // for A
  l.reset();     // the last handle in this process
  may_go.set();
  t.join();
  pthread_mutex_destroy(&m);
}

// ---- RLock ----------------------------------------------------------------------------------

TEST(MpRLock, Reentrant) {
  mp::RLock r;
  EXPECT_TRUE(r.acquire());
  EXPECT_TRUE(r.acquire(false));
  EXPECT_TRUE(r.acquire(10ms));
  EXPECT_TRUE(r.is_owned());
  std::thread([&] {
    EXPECT_FALSE(r.acquire(false));
    EXPECT_FALSE(r.is_owned());
    EXPECT_THROW(r.release(), concur::RuntimeError);
  }).join();
  r.release();
  r.release();
  EXPECT_TRUE(r.locked());
  r.release();
  EXPECT_FALSE(r.locked());
  EXPECT_THROW(r.release(), concur::RuntimeError);
  { std::scoped_lock g(r); std::scoped_lock g2(r); EXPECT_TRUE(r.is_owned()); }
  EXPECT_FALSE(r.locked());
}

TEST(MpRLock, ChildDiesHoldingItDeep) {
  mp::RLock r;
  Reap child{start_child([&] {
    r.acquire();
    r.acquire();
    r.acquire();
    ::_exit(0);
    return 0;
  })};
  ASSERT_EQ(child.wait(), 0);
  EXPECT_THROW((void)r.acquire(long_wait()), mp::OwnerDied);
  EXPECT_FALSE(r.locked());
  ASSERT_TRUE(r.acquire(false));
  r.release();  // depth 1: one release frees it
  EXPECT_FALSE(r.locked());
}

TEST(MpRLock, ChildSeesParentHoldIt) {
  mp::RLock r;
  r.acquire();
  Reap child{start_child([&] {
    CHILD_CHECK(!r.is_owned());  // another process's thread holds it
    CHILD_CHECK(!r.acquire(false));
    return 0;
  })};
  EXPECT_EQ(child.wait(), 0);
  r.release();
}

// ---- Semaphore ------------------------------------------------------------------------------

TEST(MpSemaphore, CallForms) {
  mp::Semaphore s(2);
  EXPECT_EQ(s.value(), 2);
  EXPECT_TRUE(s.acquire());
  EXPECT_TRUE(s.acquire(false));
  EXPECT_FALSE(s.acquire(false));
  EXPECT_EQ(s.get_value(), 0);
  const auto elapsed = concur_test::time_of([&] { EXPECT_FALSE(s.acquire(50ms)); });
  concur_test::expect_timed_out_after_50ms(elapsed);
  s.release();
  EXPECT_EQ(s.value(), 1);
  s.release(3);
  EXPECT_EQ(s.value(), 4);
  EXPECT_THROW(s.release(0), concur::ValueError);
  EXPECT_THROW(mp::Semaphore(-1), concur::ValueError);
  EXPECT_THROW((void)s.acquire(false, 1ms), concur::ValueError);
  { std::lock_guard g(s); EXPECT_EQ(s.value(), 3); }
  EXPECT_EQ(s.value(), 4);
}

TEST(MpSemaphore, Bounded) {
  mp::BoundedSemaphore b(2);
  EXPECT_THROW(b.release(), concur::ValueError);
  b.acquire();
  b.release();
  EXPECT_EQ(b.value(), 2);
  b.acquire();
  b.acquire();
  EXPECT_THROW(b.release(3), concur::ValueError);
  b.release(2);
  EXPECT_EQ(b.value(), 2);
}

TEST(MpSemaphore, UnitsAcrossProcesses) {
  // The child takes 10 units the parent gives one at a time, and gives back 10.
  mp::Semaphore to_child(0), to_parent(0);
  Reap child{start_child([&] {
    for (int i = 0; i < 10; ++i) {
      CHILD_CHECK(to_child.acquire(long_wait()));
      to_parent.release();
    }
    return 0;
  })};
  for (int i = 0; i < 10; ++i) {
    to_child.release();
    ASSERT_TRUE(to_parent.acquire(long_wait()));
  }
  EXPECT_EQ(child.wait(), 0);
  EXPECT_EQ(to_child.value(), 0);
  EXPECT_EQ(to_parent.value(), 0);
}

TEST(MpSemaphore, ThreadsConserveUnits) {
  mp::Semaphore s(3);
  std::atomic<int> inside{0}, most{0};
  concur_test::run_together(6, [&](int) {
    for (int i = 0; i < 2000; ++i) {
      ASSERT_TRUE(s.acquire(long_wait()));
      const int now = ++inside;
      int m = most.load();
      while (now > m && !most.compare_exchange_weak(m, now)) {
      }
      --inside;
      s.release();
    }
  });
  EXPECT_LE(most, 3);
  EXPECT_EQ(s.value(), 3);
}

// ---- Event ----------------------------------------------------------------------------------

TEST(MpEvent, CallForms) {
  mp::Event e;
  EXPECT_FALSE(e.is_set());
  const auto elapsed = concur_test::time_of([&] { EXPECT_FALSE(e.wait(50ms)); });
  concur_test::expect_timed_out_after_50ms(elapsed);
  EXPECT_FALSE(e.wait(0ms));
  e.set();
  EXPECT_TRUE(e.is_set());
  EXPECT_TRUE(e.wait());
  EXPECT_TRUE(e.wait(0ms));
  e.set();
  e.clear();
  EXPECT_FALSE(e.is_set());
}

TEST(MpEvent, AcrossProcesses) {
  mp::Event ping, pong;
  Reap child{start_child([&] {
    for (int i = 0; i < 20; ++i) {
      CHILD_CHECK(ping.wait(long_wait()));
      ping.clear();
      pong.set();
    }
    return 0;
  })};
  for (int i = 0; i < 20; ++i) {
    ping.set();
    ASSERT_TRUE(pong.wait(long_wait()));
    pong.clear();
  }
  EXPECT_EQ(child.wait(), 0);
}

TEST(MpEvent, SetWakesEveryWaiterInTwoProcesses) {
  mp::Event e;
  mp::Semaphore waiting(0);
  Children children;
  for (int i = 0; i < 2; ++i)
    children.add(start_child([&] {
      waiting.release();
      return e.wait(long_wait()) ? 0 : 1;
    }));
  std::atomic<int> woke{0};
  std::thread t([&] {
    waiting.release();
    if (e.wait(long_wait())) ++woke;
  });
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(waiting.acquire(long_wait()));
  e.set();
  t.join();
  EXPECT_EQ(woke, 1);
  for (int status : children.wait_all()) EXPECT_EQ(status, 0);
}

// ---- Condition ------------------------------------------------------------------------------

TEST(MpCondition, CallForms) {
  mp::Condition c;
  EXPECT_THROW(c.wait(10ms), concur::RuntimeError);
  EXPECT_THROW(c.notify(), concur::RuntimeError);
  EXPECT_THROW(c.notify_all(), concur::RuntimeError);
  {
    std::lock_guard g(c);
    const auto elapsed = concur_test::time_of([&] { EXPECT_FALSE(c.wait(50ms)); });
    concur_test::expect_timed_out_after_50ms(elapsed);
    c.notify();  // nobody waits: nothing happens
    c.notify(3);
    c.notify_all();
    EXPECT_THROW(c.notify(-1), concur::ValueError);
    EXPECT_TRUE(c.wait_for([] { return true; }, 0ms));
    EXPECT_FALSE(c.wait_for([] { return false; }, 10ms));
  }
  // An RLock held deep is released fully and restored.
  c.acquire();
  c.acquire();
  EXPECT_FALSE(c.wait(1ms));
  c.release();
  c.release();
  EXPECT_THROW(c.release(), concur::RuntimeError);
}

TEST(MpCondition, OverALock) {
  mp::Lock l;
  mp::Condition c(l);
  c.acquire();
  EXPECT_TRUE(l.locked());
  EXPECT_FALSE(c.wait(5ms));
  EXPECT_TRUE(l.locked());
  c.release();
  EXPECT_FALSE(l.locked());
  mp::RLock r;
  mp::Condition c2(r);
  std::lock_guard g(c2);
  EXPECT_TRUE(r.is_owned());
}

TEST(MpCondition, NotifyCountsAmongThreads) {
  // _TestCondition.test_notify / test_notify_n: notify(n) wakes n waiters, notify_all the rest.
  mp::Condition c;
  mp::Semaphore woken(0);
  int asleep = 0;
  std::vector<std::thread> ts;
  for (int i = 0; i < 6; ++i)
    ts.emplace_back([&] {
      std::lock_guard g(c);
      ++asleep;
      EXPECT_TRUE(c.wait(long_wait()));
      woken.release();
    });
  ASSERT_TRUE(concur_test::eventually([&] {
    std::lock_guard g(c);
    return asleep == 6;
  }));
  {
    std::lock_guard g(c);
    c.notify();
  }
  ASSERT_TRUE(woken.acquire(long_wait()));
  concur_test::give_time_to_misbehave();
  EXPECT_EQ(woken.value(), 0);  // just one
  {
    std::lock_guard g(c);
    c.notify(2);
  }
  ASSERT_TRUE(woken.acquire(long_wait()));
  ASSERT_TRUE(woken.acquire(long_wait()));
  concur_test::give_time_to_misbehave();
  EXPECT_EQ(woken.value(), 0);
  {
    std::lock_guard g(c);
    c.notify_all();
  }
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(woken.acquire(long_wait()));
  for (auto& t : ts) t.join();
}

TEST(MpCondition, ALaterWaiterDoesNotTakeANotificationGivenBeforeIt) {
  // The notifier waits right after its notify(): the notification stays the earlier waiter's.
  mp::Condition c;
  std::atomic<int> waiting{0};
  std::atomic<bool> woke{false};
  std::thread a([&] {
    std::lock_guard g(c);
    ++waiting;
    woke = c.wait(long_wait());
  });
  ASSERT_TRUE(concur_test::eventually([&] {
    std::lock_guard g(c);
    return waiting == 1;
  }));
  {
    std::lock_guard g(c);
    c.notify();
    EXPECT_FALSE(c.wait(50ms));  // nothing was given to this waiter
  }
  a.join();
  EXPECT_TRUE(woke);
}

TEST(MpCondition, NotifyAcrossProcesses) {
  mp::Condition c;
  mp::Value<int> state(0);
  Reap child{start_child([&] {
    std::lock_guard g(c);
    CHILD_CHECK(c.wait_for([&] { return state.value() == 1; }, long_wait()));
    state.value() = 2;
    c.notify_all();
    return 0;
  })};
  {
    std::lock_guard g(c);
    state.value() = 1;
    c.notify();
    ASSERT_TRUE(c.wait_for([&] { return state.value() == 2; }, long_wait()));
  }
  EXPECT_EQ(child.wait(), 0);
}

TEST(MpCondition, WaitersInTwoChildrenAllWoken) {
  mp::Lock l;
  mp::Condition c(l);
  mp::Value<int> go(0);
  mp::Semaphore ready(0);
  Children children;
  for (int i = 0; i < 2; ++i)
    children.add(start_child([&] {
      std::lock_guard g(c);
      ready.release();
      return c.wait_for([&] { return go.value() == 1; }, long_wait()) ? 0 : 1;
    }));
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(ready.acquire(long_wait()));
  {
    std::lock_guard g(c);
    go.value() = 1;
    c.notify_all();
  }
  for (int status : children.wait_all()) EXPECT_EQ(status, 0);
}

TEST(MpCondition, OwnerDiedOnItsLock) {
  mp::Condition c;
  Reap child{start_child([&] {
    c.acquire();
    ::_exit(0);
    return 0;
  })};
  ASSERT_EQ(child.wait(), 0);
  EXPECT_THROW((void)c.acquire(long_wait()), mp::OwnerDied);
  ASSERT_TRUE(c.acquire(false));
  c.release();
}

TEST(MpCondition, AWaiterHearsOfADeadOwnerHoldingTheLock) {
  // The parent waits; a child takes the lock and dies holding it; the parent's wait comes back
  // with the lock held and OwnerDied, and its guard releases it.
  mp::Lock l;
  mp::Condition c(l);
  mp::Event parent_waits;
  Reap child{start_child([&] {
    CHILD_CHECK(parent_waits.wait(long_wait()));
    l.acquire();  // the parent released it inside wait()
    {
      // wake the parent, which then blocks on the lock we hold
      c.notify();
    }
    ::_exit(0);
    return 0;
  })};
  bool heard = false;
  try {
    std::lock_guard g(c);
    parent_waits.set();
    c.wait(long_wait());
  } catch (const mp::OwnerDied&) {
    heard = true;
  }
  EXPECT_TRUE(heard);
  EXPECT_EQ(child.wait(), 0);
  EXPECT_FALSE(l.locked());
}

// ---- Barrier --------------------------------------------------------------------------------

TEST(MpBarrier, ThreeProcesses) {
  mp::Barrier b(3);
  EXPECT_EQ(b.parties(), 3u);
  mp::Array<int> seen(3 * 5);
  Children children;
  for (int k = 1; k <= 2; ++k)
    children.add(start_child([&] {
      for (int round = 0; round < 5; ++round) {
        const std::size_t i = b.wait(long_wait());
        CHILD_CHECK(i < 3);
        seen[round * 3 + i] += 1;
      }
      return 0;
    }));
  for (int round = 0; round < 5; ++round) {
    const std::size_t i = b.wait(long_wait());
    ASSERT_LT(i, 3u);
    seen[round * 3 + i] += 1;
  }
  for (int status : children.wait_all()) EXPECT_EQ(status, 0);
  for (int k = 0; k < 15; ++k) EXPECT_EQ(seen[k], 1) << k;  // each index once per round
  EXPECT_FALSE(b.broken());
  EXPECT_EQ(b.n_waiting(), 0u);
}

TEST(MpBarrier, TimeoutBreaksIt) {
  mp::Barrier b(2);
  const auto elapsed = concur_test::time_of([&] { EXPECT_THROW(b.wait(50ms), mp::BrokenBarrierError); });
  concur_test::expect_timed_out_after_50ms(elapsed);
  EXPECT_TRUE(b.broken());
  EXPECT_THROW(b.wait(10ms), mp::BrokenBarrierError);
  b.reset();
  EXPECT_FALSE(b.broken());
  mp::Barrier d(2, 50ms);  // the default timeout
  EXPECT_THROW(d.wait(), mp::BrokenBarrierError);
  EXPECT_THROW(mp::Barrier(0), concur::ValueError);
}

TEST(MpBarrier, AbortWakesAChildWaiting) {
  mp::Barrier b(2);
  mp::Barrier one(1);
  EXPECT_EQ(one.wait(), 0u);
  Reap child{start_child([&] {
    try {
      b.wait(long_wait());
      return 1;
    } catch (const mp::BrokenBarrierError&) {
      return 0;
    }
  })};
  ASSERT_TRUE(concur_test::eventually([&] { return b.n_waiting() == 1; }));
  b.abort();
  EXPECT_EQ(child.wait(), 0);
  EXPECT_TRUE(b.broken());
  b.reset();
  EXPECT_FALSE(b.broken());
}

TEST(MpBarrier, ResetWhileWaitingBreaksThatRoundOnly) {
  mp::Barrier b(2);
  std::atomic<int> broken{0};
  std::thread t([&] {
    try {
      b.wait(long_wait());
    } catch (const mp::BrokenBarrierError&) {
      ++broken;
    }
  });
  ASSERT_TRUE(concur_test::eventually([&] { return b.n_waiting() == 1; }));
  b.reset();
  t.join();
  EXPECT_EQ(broken, 1);
  EXPECT_FALSE(b.broken());
  std::thread u([&] { b.wait(long_wait()); });
  b.wait(long_wait());
  u.join();
}

// ---- Crossing -------------------------------------------------------------------------------

TEST(MpCrossing, HandlesCrossWithTheirDescriptors) {
  mp::Lock l;
  mp::RLock r;
  mp::Semaphore s(0);
  mp::Event e;
  mp::Condition c;
  mp::Barrier b(2);
  using Args = std::tuple<mp::Lock, mp::RLock, mp::Semaphore, mp::Event, mp::Condition, mp::Barrier>;
  const int socket = shared_test::send_over_socket(Args{l, r, s, e, c, b});
  l.acquire();
  Reap child{start_child([&] {
    auto [l2, r2, s2, e2, c2, b2] = shared_test::receive_from_socket<Args>(socket);
    CHILD_CHECK(l2.locked());  // the parent holds it
    l2.release();              // any process may release a Lock
    CHILD_CHECK(r2.acquire(false));
    r2.release();
    s2.release(2);
    {
      std::lock_guard g(c2);
      c2.notify();
    }
    CHILD_CHECK(b2.wait(long_wait()) < 2);
    e2.set();
    return 0;
  })};
  ::close(socket);
  EXPECT_TRUE(s.acquire(long_wait()));
  EXPECT_TRUE(s.acquire(long_wait()));
  EXPECT_LT(b.wait(long_wait()), 2u);
  EXPECT_TRUE(e.wait(long_wait()));
  EXPECT_EQ(child.wait(), 0);
  EXPECT_FALSE(l.locked());
}

static_assert(mp::Serializable<mp::Lock> && mp::Serializable<mp::RLock> &&
              mp::Serializable<mp::Semaphore> && mp::Serializable<mp::BoundedSemaphore> &&
              mp::Serializable<mp::Event> && mp::Serializable<mp::Condition> &&
              mp::Serializable<mp::Barrier>);

TEST(MpCrossing, BoundedSemaphoreKeepsItsBound) {
  mp::BoundedSemaphore b(1);
  const int socket = shared_test::send_over_socket(b);
  auto got = shared_test::receive_from_socket<mp::BoundedSemaphore>(socket);
  ::close(socket);
  EXPECT_TRUE(got.acquire(false));
  EXPECT_FALSE(b.acquire(false));  // the same semaphore
  got.release();
  EXPECT_THROW(got.release(), concur::ValueError);
  EXPECT_THROW(b.release(), concur::ValueError);
}

TEST(MpCrossing, NotAsAValue) {
  mp::Lock l;
  mp::Event e;
  EXPECT_THROW((void)mp::serialize(l), concur::ValueError);
  EXPECT_THROW((void)mp::serialize(e), concur::ValueError);
  auto [a, b] = mp::Pipe();
  EXPECT_THROW(a.send(l), concur::ValueError);
}

TEST(MpCrossing, AWrongDescriptorIsAValueError) {
  namespace mpd = concur::multiprocessing::detail;
  mp::Lock l;
  mpd::ByteBuffer buffer;
  mpd::FdTable out;
  mp::serialize_into(buffer, l, &out);
  auto expect_refused = [&](int fd) {
    mpd::FdTable in;
    in.adopt_received({fd});
    mp::Lock got;
    EXPECT_THROW(mp::deserialize_into(buffer.view(), got, &in), concur::ValueError);
    EXPECT_FALSE(got.locked());
  };
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  ::close(p[1]);
  expect_refused(p[0]);  // not memory at all
  const int unsealed = ::memfd_create("x", MFD_CLOEXEC);
  ASSERT_EQ(::ftruncate(unsealed, 4096), 0);
  expect_refused(unsealed);  // not sealed
  const int big = ::memfd_create("x", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  ASSERT_EQ(::ftruncate(big, 8192), 0);
  ASSERT_EQ(::fcntl(big, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), 0);
  expect_refused(big);  // wrong size
  const int zeros = ::memfd_create("x", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  ASSERT_EQ(::ftruncate(zeros, 4096), 0);
  ASSERT_EQ(::fcntl(zeros, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), 0);
  expect_refused(zeros);  // right size, no header
  // Another kind of object's segment where a Lock is expected.
  mp::Event e;
  mpd::ByteBuffer eb;
  mpd::FdTable eout;
  mp::serialize_into(eb, e, &eout);
  mpd::FdTable in;
  in.adopt_received({::dup(eout.sending()[0])});
  mp::Lock got;
  EXPECT_THROW(mp::deserialize_into(eb.view(), got, &in), concur::ValueError);
}

}  // namespace
