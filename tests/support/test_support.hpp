// Helpers shared by the tests.
//
// Rules every test follows (DEVELOPERS.md): every blocking call is bounded — use a timeout form,
// or rely on the watchdog in watchdog_main.cpp; no test asserts on speed; timing assertions use
// generous bounds (scaled by CONCUR_TEST_TIME_SCALE under sanitizers); stress tests check
// conservation (every item exactly once); no sleep is used to make threads meet — a sleep may
// only give a thread time to do something wrong (then the assertion checks it did not).
#pragma once

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <fstream>
#include <functional>
#include <latch>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#ifndef CONCUR_TEST_TIME_SCALE
#define CONCUR_TEST_TIME_SCALE 1
#endif

namespace concur_test {

using namespace std::chrono_literals;

// How long one test may run before the watchdog fails it.
inline std::chrono::seconds watchdog_limit() { return std::chrono::seconds(60 * CONCUR_TEST_TIME_SCALE); }

// A bound for "this must happen soon" waits: generous, so it never fails on a slow machine.
inline std::chrono::milliseconds long_wait() { return std::chrono::milliseconds(10000 * CONCUR_TEST_TIME_SCALE); }

// Scale a duration for slow (sanitizer) builds.
template <class D>
D scaled(D d) { return d * CONCUR_TEST_TIME_SCALE; }

// Runs fn(i) on n std::threads at once and joins them all.
inline void run_parallel(int n, const std::function<void(int)>& fn) {
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (int i = 0; i < n; ++i) threads.emplace_back(fn, i);
  for (auto& t : threads) t.join();
}

// Runs fn(i) on n threads that start together (a std::latch gate, independent of the code under
// test), so that they contend from the first operation, and joins them.
inline void run_together(int n, const std::function<void(int)>& fn) {
  std::latch gate(n);
  run_parallel(n, [&](int i) {
    gate.arrive_and_wait();
    fn(i);
  });
}

// Two threads take locks a and b together with std::scoped_lock (std::lock, which needs a
// correct try_lock()), one naming them (a, b) and running `extra` under them, the other naming
// them (b, a), `iterations` times each. Returns how many times the locks were held: 2 x
// iterations unless an increment was lost (a hang is the watchdog's to report).
template <class L, class Extra>
long scoped_lock_in_opposite_orders(L& a, L& b, int iterations, Extra extra) {
  long counter = 0;
  run_parallel(2, [&](int t) {
    for (int i = 0; i < iterations; ++i) {
      if (t == 0) {
        std::scoped_lock g(a, b);
        extra();
        ++counter;
      } else {
        std::scoped_lock g(b, a);
        ++counter;
      }
    }
  });
  return counter;
}

using Clock = std::chrono::steady_clock;

// Polls pred (1 ms apart) until it holds or `limit` passes; returns pred's last value. Only for
// states nothing can signal (a thread asleep inside a call, a detached thread's very end); never
// used to make threads meet.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = long_wait()) {
  const auto end = Clock::now() + limit;
  while (!pred()) {
    if (Clock::now() >= end) return pred();
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// The bound of a loop that works towards a total: stalled(done) is true once long_wait() has
// passed with `done` (a count that only grows: items moved, rounds run) unchanged. A loaded
// machine only slows such a loop down, and a run-time bound on the whole loop failed it there
// (a 3-producer ring test took 15 s to move its items while two compilers ran); only a loop
// that stops making progress (an item lost, a wake-up missed) gives up. Safe from any thread.
class StallWatch {
 public:
  explicit StallWatch(std::chrono::milliseconds limit = long_wait())
      : limit_(limit), since_(Clock::now().time_since_epoch().count()) {}

  bool stalled(std::uint64_t done) noexcept {
    const Clock::rep now = Clock::now().time_since_epoch().count();
    std::uint64_t seen = seen_.load();
    if (done > seen) {  // progress since the last look: the limit starts again
      if (seen_.compare_exchange_strong(seen, done)) since_.store(now);
      return false;
    }
    return Clock::duration(now - since_.load()) > limit_;
  }

 private:
  const std::chrono::milliseconds limit_;
  std::atomic<std::uint64_t> seen_{0};
  std::atomic<Clock::rep> since_;
};

// Waits until count() (a count that only grows) reaches `target`; gives up, false, only once it
// has stood still for long_wait() (watch.stalled).
template <class Count>
bool eventually_reaches(Count count, std::uint64_t target, StallWatch& watch) {
  for (;;) {
    const auto n = static_cast<std::uint64_t>(count());
    if (n >= target) return true;
    if (watch.stalled(n)) return false;
    std::this_thread::sleep_for(1ms);
  }
}

// How long f() took.
template <class F>
Clock::duration time_of(F&& f) {
  const auto start = Clock::now();
  f();
  return Clock::now() - start;
}

// A timed wait that timed out must have waited about its timeout: at least that long (less the
// clock's granularity) and well under "forever" (generous: this is no speed assertion).
inline void expect_timed_out_after(Clock::duration elapsed, std::chrono::milliseconds timeout) {
  EXPECT_GE(elapsed, timeout - 5ms);
  EXPECT_LT(elapsed, scaled(std::chrono::milliseconds(5000)) + timeout);
}
inline void expect_timed_out_after_50ms(Clock::duration elapsed) {
  expect_timed_out_after(elapsed, 50ms);
}

// A short sleep that only gives another thread time to do something wrong (the caller then
// asserts that it did not).
inline void give_time_to_misbehave() { std::this_thread::sleep_for(20ms); }

// The number N of a default thread name "Thread-N" (-1 when the name does not have that form).
inline long thread_number(const std::string& name) {
  const std::string prefix = "Thread-";
  if (name.rfind(prefix, 0) != 0 || name.size() == prefix.size()) return -1;
  for (std::size_t i = prefix.size(); i < name.size(); ++i)
    if (name[i] < '0' || name[i] > '9') return -1;
  return std::stol(name.substr(prefix.size()));
}

// The what() of the exception in `e` ("<non-std exception>" for others, "<null>" for none).
inline std::string what_of(const std::exception_ptr& e) {
  if (!e) return "<null>";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "<non-std exception>";
  }
}

// The calling thread's kernel thread id.
inline long this_tid() { return static_cast<long>(::syscall(SYS_gettid)); }

// Where thread `tid` of this process is blocked in the futex system call: the futex word's
// address and the thread's stack pointer, from /proc/self/task/<tid>/syscall ("nr arg0 .. arg5
// sp pc"). False if the thread is not in futex() or /proc does not say.
inline bool futex_wait_of(long tid, std::uintptr_t& word, std::uintptr_t& sp) {
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/syscall");
  long nr = -1;
  std::string field[7];
  if (!(f >> nr) || nr != SYS_futex) return false;
  for (auto& x : field)
    if (!(f >> x)) return false;
  try {
    word = std::stoull(field[0], nullptr, 16);
    sp = std::stoull(field[6], nullptr, 16);
    return true;
  } catch (...) {
    return false;
  }
}

// Is thread `tid` of this process asleep in futex(addr, ...)?
inline bool asleep_on(long tid, const void* addr) {
  std::uintptr_t word = 0, sp = 0;
  return futex_wait_of(tid, word, sp) && word == reinterpret_cast<std::uintptr_t>(addr);
}

// Is thread `tid` asleep in futex() on a word in its own stack, a little above where the system
// call was made? That is where a waiter whose wait-queue node lives in its frame sleeps
// (EventCount: Event, Condition, ...); a lock inside the runtime or a sanitizer is elsewhere.
inline bool asleep_on_own_stack(long tid) {
  constexpr std::uintptr_t kFrames = 1 << 20;  // generous: sanitizer frames are large
  std::uintptr_t word = 0, sp = 0;
  return futex_wait_of(tid, word, sp) && word >= sp && word - sp < kFrames;
}

}  // namespace concur_test
