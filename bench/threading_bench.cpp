// threading_bench — concur::threading against the primitives a C++ (or Python) user would
// otherwise pick, all measured in this one process (Python through a co-process), so that the
// ratios compare like with like on a noisy 2-vCPU machine (see shared/PERFORMANCE.md). The
// harness (calibration, interleaved rounds, median of per-round ratios, the Python co-process,
// printing, the options below) is bench/common/harness.hpp, shared by every *_bench binary.
// Threads are created and joined inside each sample, outside the timed section where possible.
//
//   threading_bench [--rounds N] [--sample-ms MS] [--only a,b,...] [--python SCRIPT]
//                   [--python-exe EXE] [--no-python] [--verbose]
// workloads: pingpong, pingpong-loaded (beside a CPU-bound process), idle-wait, lock-contended,
//            lock-uncontended, lock-diagnostics, thread-start, prodcons
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <time.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <semaphore>
#include <string>
#include <thread>

#include "common/harness.hpp"
#include "concur/deadlock.hpp"
#include "concur/detail/mutex.hpp"
#include "concur/threading.hpp"

#ifdef CONCUR_BENCH_HAVE_TBB
#include <oneapi/tbb/mutex.h>
#include <oneapi/tbb/spin_mutex.h>
#endif
#ifdef CONCUR_BENCH_HAVE_BOOST
#include <boost/thread/condition_variable.hpp>
#include <boost/thread/mutex.hpp>
#endif

namespace th = concur::threading;
using namespace concur_bench;  // the harness: Workload, two_thread, k_threads, check, ...

namespace {

// Raw futex, no spinning and no waiter tracking: the baseline PERFORMANCE.md calls "raw futex".
long sys_futex(std::atomic<std::uint32_t>* w, int op, std::uint32_t val) {
  return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(w), op | FUTEX_PRIVATE_FLAG, val,
                 nullptr, nullptr, 0);
}
void futex_await(std::atomic<std::uint32_t>& w, std::uint32_t want) {
  for (std::uint32_t v; (v = w.load(std::memory_order_acquire)) != want;) sys_futex(&w, FUTEX_WAIT, v);
}

// ------------------------------------------------------------------------------------------------
// 1. Two-thread wake ping-pong: round trips per second (each round trip is two wake-ups).
// ------------------------------------------------------------------------------------------------
// The variants, shared by the quiet and the loaded workload.
double pp_event(std::int64_t& n) {
  th::Event ping, pong;
  return two_thread(
      n, [&](std::int64_t) { ping.set(); pong.wait(); pong.clear(); },
      [&](std::int64_t) { ping.wait(); ping.clear(); pong.set(); });
}
// A ping-pong through two semaphores of any kind with release()/acquire().
template <class Sem>
double pp_semaphores(std::int64_t& n) {
  Sem ping(0), pong(0);
  return two_thread(
      n, [&](std::int64_t) { ping.release(); pong.acquire(); },
      [&](std::int64_t) { ping.acquire(); pong.release(); });
}
double pp_semaphore(std::int64_t& n) { return pp_semaphores<th::Semaphore>(n); }
double pp_condition(std::int64_t& n) {
  th::Lock lock;
  th::Condition c_ping(lock), c_pong(lock);
  int turn = 0;  // 1: the partner's turn
  return two_thread(
      n,
      [&](std::int64_t) {
        lock.acquire();
        turn = 1;
        c_ping.notify();
        while (turn != 0) c_pong.wait();
        lock.release();
      },
      [&](std::int64_t) {
        lock.acquire();
        while (turn != 1) c_ping.wait();
        turn = 0;
        c_pong.notify();
        lock.release();
      });
}
// libstdc++ 12: 12 pauses, then 4 sched_yield()s, then a futex sleep (atomic_wait.h).
double pp_binary_semaphore(std::int64_t& n) { return pp_semaphores<std::binary_semaphore>(n); }
// Idiomatic C++: notify after unlocking, the fastest way to use a condition_variable.
double pp_condition_variable(std::int64_t& n) {
  std::mutex m;
  std::condition_variable c_ping, c_pong;
  int turn = 0;
  return two_thread(
      n,
      [&](std::int64_t) {
        { std::lock_guard g(m); turn = 1; }
        c_ping.notify_one();
        std::unique_lock l(m);
        c_pong.wait(l, [&] { return turn == 0; });
      },
      [&](std::int64_t) {
        { std::unique_lock l(m); c_ping.wait(l, [&] { return turn == 1; }); turn = 0; }
        c_pong.notify_one();
      });
}
double pp_raw_futex(std::int64_t& n) {
  std::atomic<std::uint32_t> ping{0}, pong{0};
  return two_thread(
      n,
      [&](std::int64_t i) {
        const auto k = static_cast<std::uint32_t>(i + 1);
        ping.store(k, std::memory_order_release);
        sys_futex(&ping, FUTEX_WAKE, 1);
        futex_await(pong, k);
      },
      [&](std::int64_t i) {
        const auto k = static_cast<std::uint32_t>(i + 1);
        futex_await(ping, k);
        pong.store(k, std::memory_order_release);
        sys_futex(&pong, FUTEX_WAKE, 1);
      });
}

// The plain wake-up hand-off must win: Event and Semaphore at least as fast as a
// std::binary_semaphore pair, on a quiet machine and beside a CPU-bound process.
constexpr double kHandoffGoal = 1.0;

Workload make_pingpong() {
  Workload w{"pingpong", "ping-pong", "round trips/s between two threads, each one two wake-ups",
             2000};
  w.add("concur Event", pp_event);
  w.add("concur Semaphore", pp_semaphore);
  w.add("concur Condition", pp_condition);
  w.add("std::binary_semaphore", pp_binary_semaphore);
  w.add("std::condition_variable", pp_condition_variable);
#ifdef CONCUR_BENCH_HAVE_BOOST
  w.add("boost::condition_variable", [](std::int64_t& n) {
    boost::mutex m;
    boost::condition_variable c_ping, c_pong;
    int turn = 0;
    return two_thread(
        n,
        [&](std::int64_t) {
          { boost::lock_guard<boost::mutex> g(m); turn = 1; }
          c_ping.notify_one();
          boost::unique_lock<boost::mutex> l(m);
          while (turn != 0) c_pong.wait(l);
        },
        [&](std::int64_t) {
          { boost::unique_lock<boost::mutex> l(m); while (turn != 1) c_ping.wait(l); turn = 0; }
          c_pong.notify_one();
        });
  });
#endif
  // No std::atomic::wait peer: with libstdc++ 12 (Debian 12's g++) a ping-pong on
  // atomic::wait/notify_one hangs now and then — both threads asleep in __atomic_wait_address_v,
  // seen here in a `make bench` run — a lost wake-up in that implementation, not a usable peer.
  w.add("raw futex", pp_raw_futex);
  w.add_python("Python Event", "pingpong_event");

  w.compare("concur Event", "std::binary_semaphore", kHandoffGoal);
  w.compare("concur Event", "raw futex");
  w.compare("concur Event", "Python Event");
  w.compare("concur Semaphore", "std::binary_semaphore", kHandoffGoal);
  w.compare("concur Condition", "std::condition_variable");
  w.compare("concur Condition", "boost::condition_variable");
  return w;
}

// The same hand-off beside one CPU-bound process: three runnable threads on two CPUs, so the
// partner is now and then preempted, and a waiter that spins while it cannot answer only
// delays it.
Workload make_pingpong_loaded() {
  Workload w{"pingpong-loaded", "ping-pong loaded",
             "round trips/s between two threads, each one two wake-ups", 2000};
  w.beside_cpu_hog = true;
  w.add("concur Event", pp_event);
  w.add("concur Semaphore", pp_semaphore);
  w.add("concur Condition", pp_condition);
  w.add("std::binary_semaphore", pp_binary_semaphore);
  w.add("std::condition_variable", pp_condition_variable);
  w.add("raw futex", pp_raw_futex);
  w.compare("concur Event", "std::binary_semaphore", kHandoffGoal);
  w.compare("concur Semaphore", "std::binary_semaphore", kHandoffGoal);
  w.compare("concur Event", "raw futex");
  w.compare("concur Condition", "std::condition_variable");
  return w;
}

// ------------------------------------------------------------------------------------------------
// 1b. A wait nobody answers must not burn a core: the waiter's own CPU time
// (CLOCK_THREAD_CPUTIME_ID) over a 200 ms timed wait that no one ends, as a share of the wall
// time, after a ping-pong has grown the thread's spin budget to its largest (the worst case);
// goal: at most kIdleCpuGoalPercent. Then, for information, 200 timed waits of 1 ms in a row
// (the budget shrinks after each unanswered spin), next to the same waits made directly with
// futex(FUTEX_WAIT) and no spin: most of that CPU time is the system calls and timers of the
// sleep itself, the difference is what the spins cost.
// ------------------------------------------------------------------------------------------------
constexpr double kIdleCpuGoalPercent = 2.0;

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// In a fresh thread: `train` (a ping-pong with a partner thread), then `waits` calls of
// `wait_once` (each a timed wait nobody answers); returns {CPU %, wall seconds}.
template <class Train, class WaitOnce>
std::pair<double, double> idle_cpu(Train train, WaitOnce wait_once, int waits) {
  double cpu = 0, wall = 0;
  std::thread t([&] {
    train();
    const double c0 = thread_cpu_seconds();
    const auto t0 = Clock::now();
    for (int i = 0; i < waits; ++i) wait_once();
    wall = seconds_since(t0);
    cpu = thread_cpu_seconds() - c0;
  });
  t.join();
  return {100 * cpu / wall, wall};
}

Workload make_idle_wait() {
  Workload w{"idle-wait", "unanswered wait",
             "the waiting thread's CPU time / wall time while nobody answers its wait", 0};
  w.report = [title = w.title] {
    using namespace std::chrono_literals;
    auto train_event = [] {  // grows this thread's spin budget: spins that get their answer
      std::int64_t n = 20000;
      pp_event(n);
    };
    auto train_semaphore = [] {
      std::int64_t n = 20000;
      pp_semaphore(n);
    };
    th::Event event;
    th::Semaphore sem(0);
    th::Lock lock;
    th::Condition cond(lock);
    struct Line {
      const char* name;
      std::function<std::pair<double, double>()> measure;
      bool goal = true;
    };
    std::atomic<std::uint32_t> never{0};
    const timespec one_ms{0, 1000000};
    const Line lines[] = {
        {"concur Event, 1 x 200 ms",
         [&] { return idle_cpu(train_event, [&] { check(!event.wait(200ms), "Event set"); }, 1); }},
        {"concur Semaphore, 1 x 200 ms",
         [&] {
           return idle_cpu(train_semaphore, [&] { check(!sem.acquire(200ms), "unit"); }, 1);
         }},
        {"concur Condition, 1 x 200 ms",
         [&] {
           return idle_cpu(train_event, [&] {
             lock.acquire();
             cond.wait(200ms);
             lock.release();
           }, 1);
         }},
        {"concur Event, 200 x 1 ms",
         [&] { return idle_cpu(train_event, [&] { check(!event.wait(1ms), "Event set"); }, 200); },
         false},
        {"raw futex, 200 x 1 ms",
         [&] {
           return idle_cpu([] {}, [&] {
             syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&never),
                     FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0, &one_ms, nullptr, 0);
           }, 200);
         },
         false},
    };
    for (const Line& line : lines) {
      running = title + ": " + line.name;
      try {
        std::vector<double> pct;
        double wall = 0;
        for (int r = 0; r < 3; ++r) {
          const auto [p, s] = line.measure();
          pct.push_back(p);
          wall = s;
        }
        const double worst = *std::max_element(pct.begin(), pct.end());
        std::printf("%-17s %-30s %6.3f%% of a CPU (worst of 3; median %.3f%%; %.0f ms)",
                    title.c_str(), line.name, worst, median(pct), wall * 1e3);
        if (line.goal)
          std::printf(" goal <= %.0f%%: %s", kIdleCpuGoalPercent,
                      worst <= kIdleCpuGoalPercent ? "met" : "MISSED");
        std::printf("\n");
      } catch (const std::exception& e) {
        std::printf("%-17s %s: left out (%s)\n", title.c_str(), line.name, e.what());
      }
      std::fflush(stdout);
    }
  };
  return w;
}

// ------------------------------------------------------------------------------------------------
// 2. Contended lock: 2 threads x n/2 increments of one counter under the lock.
// ------------------------------------------------------------------------------------------------
template <class M>
double contended(std::int64_t& n) {
  M m;
  std::int64_t counter = 0;
  const std::int64_t per = std::max<std::int64_t>(1, n / 2);
  n = 2 * per;
  const double t = k_threads(2, per, [&](std::int64_t k) {
    for (std::int64_t i = 0; i < k; ++i) {
      m.lock();
      ++counter;
      m.unlock();
    }
  });
  check(counter == 2 * per, "contended counter");
  return t;
}

Workload make_lock_contended() {
  Workload w{"lock-contended", "contended lock", "increments/s, 2 threads on one lock", 100000};
  w.add("concur Lock", [](std::int64_t& n) {
    th::Lock m;
    std::int64_t counter = 0;
    const std::int64_t per = std::max<std::int64_t>(1, n / 2);
    n = 2 * per;
    const double t = k_threads(2, per, [&](std::int64_t k) {
      for (std::int64_t i = 0; i < k; ++i) {
        m.acquire();
        ++counter;
        m.release();
      }
    });
    check(counter == 2 * per, "contended counter");
    return t;
  });
  w.add("std::mutex", contended<std::mutex>);
#ifdef CONCUR_BENCH_HAVE_TBB
  w.add("tbb::spin_mutex", contended<tbb::spin_mutex>);
  w.add("tbb::mutex", contended<tbb::mutex>);
#endif
#ifdef CONCUR_BENCH_HAVE_BOOST
  w.add("boost::mutex", contended<boost::mutex>);
#endif
  w.add_python("Python Lock", "lock_contended");
  for (const char* p : {"std::mutex", "tbb::spin_mutex", "tbb::mutex", "boost::mutex", "Python Lock"})
    w.compare("concur Lock", p);
  return w;
}

// ------------------------------------------------------------------------------------------------
// 3. Uncontended acquire + release on one thread.
// ------------------------------------------------------------------------------------------------
template <class M>
double uncontended(std::int64_t n) {
  M m;
  static std::int64_t counter;  // a static: the increment cannot be kept in a register
  counter = 0;
  const auto t0 = Clock::now();
  for (std::int64_t i = 0; i < n; ++i) {
    m.lock();
    ++counter;
    m.unlock();
  }
  const double t = seconds_since(t0);
  check(counter == n, "uncontended counter");
  return t;
}

template <class M>
double uncontended_acquire(std::int64_t n) {  // concur's own spelling: acquire() / release()
  M m;
  static std::int64_t counter;
  counter = 0;
  const auto t0 = Clock::now();
  for (std::int64_t i = 0; i < n; ++i) {
    m.acquire();
    ++counter;
    m.release();
  }
  const double t = seconds_since(t0);
  check(counter == n, "uncontended counter");
  return t;
}

Workload make_lock_uncontended() {
  Workload w{"lock-uncontended", "uncontended lock", "acquire+release pairs/s on one thread",
             1000000};
  w.add("concur Lock", uncontended_acquire<th::Lock>);
  w.add("std::mutex", uncontended<std::mutex>);
  w.add("concur RLock", uncontended_acquire<th::RLock>);
  w.add("std::recursive_mutex", uncontended<std::recursive_mutex>);
  w.add_python("Python Lock", "lock_uncontended");
  w.add_python("Python RLock", "rlock_uncontended");
  w.compare("concur Lock", "std::mutex");
  w.compare("concur RLock", "std::recursive_mutex");
  w.compare("concur Lock", "Python Lock");
  w.compare("concur RLock", "Python RLock");
  return w;
}

// ------------------------------------------------------------------------------------------------
// 4. Thread start + join of an empty target.
// ------------------------------------------------------------------------------------------------
Workload make_thread_start() {
  Workload w{"thread-start", "thread start+join", "threads started and joined/s, empty target",
             200};
  w.add("concur Thread", [](std::int64_t& n) {
    const auto t0 = Clock::now();
    for (std::int64_t i = 0; i < n; ++i) {
      th::Thread t([] {});
      t.start();
      t.join();
      if (over_cap(t0)) n = i + 1;
    }
    return seconds_since(t0);
  });
  w.add("std::thread", [](std::int64_t& n) {
    const auto t0 = Clock::now();
    for (std::int64_t i = 0; i < n; ++i) {
      std::thread t([] {});
      t.join();
      if (over_cap(t0)) n = i + 1;
    }
    return seconds_since(t0);
  });
  w.add_python("Python Thread", "thread_start");
  w.compare("concur Thread", "std::thread");
  w.compare("concur Thread", "Python Thread");
  return w;
}

// ------------------------------------------------------------------------------------------------
// 5. Producer/consumer hand-off through a bounded buffer of 8 items, one lock and two conditions.
// ------------------------------------------------------------------------------------------------
constexpr int kBuf = 8;
struct Ring {
  std::int64_t items[kBuf];
  int head = 0, count = 0;
  void push(std::int64_t x) { items[(head + count++) % kBuf] = x; }
  std::int64_t pop() {
    const std::int64_t x = items[head];
    head = (head + 1) % kBuf;
    --count;
    return x;
  }
};

Workload make_prodcons() {
  Workload w{"prodcons", "cond prod/cons", "items/s, 1 producer -> 1 consumer, buffer of 8",
             20000};
  w.add("concur Condition", [](std::int64_t& n) {
    th::Lock lock;
    th::Condition not_full(lock), not_empty(lock);
    Ring ring;
    std::int64_t sum = 0;
    const double t = two_thread(
        n,
        [&](std::int64_t) {  // consumer
          lock.acquire();
          while (ring.count == 0) not_empty.wait();
          sum += ring.pop();
          not_full.notify();
          lock.release();
        },
        [&](std::int64_t i) {  // producer
          lock.acquire();
          while (ring.count == kBuf) not_full.wait();
          ring.push(i);
          not_empty.notify();
          lock.release();
        });
    check(sum == n * (n - 1) / 2, "items lost");
    return t;
  });
  // Idiomatic C++: notify after unlocking.
  w.add("std::condition_variable", [](std::int64_t& n) {
    std::mutex m;
    std::condition_variable not_full, not_empty;
    Ring ring;
    std::int64_t sum = 0;
    const double t = two_thread(
        n,
        [&](std::int64_t) {
          { std::unique_lock l(m); not_empty.wait(l, [&] { return ring.count > 0; }); sum += ring.pop(); }
          not_full.notify_one();
        },
        [&](std::int64_t i) {
          { std::unique_lock l(m); not_full.wait(l, [&] { return ring.count < kBuf; }); ring.push(i); }
          not_empty.notify_one();
        });
    check(sum == n * (n - 1) / 2, "items lost");
    return t;
  });
#ifdef CONCUR_BENCH_HAVE_BOOST
  w.add("boost::condition_variable", [](std::int64_t& n) {
    boost::mutex m;
    boost::condition_variable not_full, not_empty;
    Ring ring;
    std::int64_t sum = 0;
    const double t = two_thread(
        n,
        [&](std::int64_t) {
          { boost::unique_lock<boost::mutex> l(m); while (ring.count == 0) not_empty.wait(l); sum += ring.pop(); }
          not_full.notify_one();
        },
        [&](std::int64_t i) {
          { boost::unique_lock<boost::mutex> l(m); while (ring.count == kBuf) not_full.wait(l); ring.push(i); }
          not_empty.notify_one();
        });
    check(sum == n * (n - 1) / 2, "items lost");
    return t;
  });
#endif
  w.add_python("Python Condition", "prodcons_condition");
  w.compare("concur Condition", "std::condition_variable");
  w.compare("concur Condition", "boost::condition_variable");
  w.compare("concur Condition", "Python Condition");
  return w;
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// 3b. What lock diagnostics cost on the fast path (deadlock.hpp). With lock-order checking off, a
// concur Lock differs from the bare futex mutex under it (detail::Mutex) by one relaxed load and
// a never-taken branch per acquire and per release, plus the owner store that lets deadlock
// detection name who holds the lock: the goal is to stay within 10% of the bare mutex. With
// checking on (a debugging mode), each acquisition also records the thread's held locks.
// ------------------------------------------------------------------------------------------------
double uncontended_checked(std::int64_t n) {
  concur::deadlock::enable_lock_order_checking(true);
  const double t = uncontended_acquire<th::Lock>(n);
  concur::deadlock::enable_lock_order_checking(false);
  return t;
}

double uncontended_checked_nested(std::int64_t n) {  // inside another lock: the order is checked
  th::Lock outer;
  concur::deadlock::enable_lock_order_checking(true);
  outer.acquire();
  const double t = uncontended_acquire<th::Lock>(n);
  outer.release();
  concur::deadlock::enable_lock_order_checking(false);
  concur::deadlock::reset_lock_order_graph();
  return t;
}

Workload make_lock_diagnostics() {
  Workload w{"lock-diagnostics", "lock diagnostics", "acquire+release pairs/s on one thread",
             1000000};
  w.add("concur Lock (checking off)", uncontended_acquire<th::Lock>);
  w.add("detail::Mutex (no diagnostics)", uncontended<concur::detail::Mutex>);
  w.add("concur Lock (checking on)", uncontended_checked);
  w.add("concur Lock (checking on, nested)", uncontended_checked_nested);
  w.compare("concur Lock (checking off)", "detail::Mutex (no diagnostics)", 0.9);
  w.compare("concur Lock (checking on)", "concur Lock (checking off)");
  w.compare("concur Lock (checking on, nested)", "concur Lock (checking off)");
  return w;
}

int main(int argc, char** argv) {
  return concur_bench::run_main(argc, argv, "threading",
                                {make_pingpong, make_pingpong_loaded, make_idle_wait,
                                 make_lock_contended, make_lock_uncontended,
                                 make_lock_diagnostics, make_thread_start, make_prodcons});
}
