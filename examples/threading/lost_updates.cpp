// Port of seed 002, §24 "Python GIL 不能绝对保证线程安全": 100 threads each run foo(), which does
// `n += 1` on a global n; the seed prints n, "大部分时候会打印 100，但有时也会打印 99 或者 98",
// because n += 1 is four bytecodes (LOAD_GLOBAL, LOAD_CONST, INPLACE_ADD, STORE_GLOBAL) and a
// thread can be interrupted between the load and the store: another thread's update made in
// between is then overwritten ("lost").
//
// C++ has no GIL: the threads run truly at the same time on several cores, and an unprotected
// read-modify-write loses updates far more often. One `n += 1` per thread finishes before the
// next thread has even started, so here each thread does it 100000 times, and the threads wait
// at an Event until all 100 are started, so that they really overlap. Between the read and the
// write, add_one() takes about as long as the interpreter's LOAD_CONST and INPLACE_ADD (a few
// dozen nanoseconds), so that a thread preempted in mid-loop has most likely read n and not yet
// written it: then updates are lost even when the threads share one core. Then:
//   1. no lock: n is read, then written back plus one (two separate steps, like the bytecodes);
//   2. with a th::Lock around n += 1 (the seed's §7 fix): nothing is lost;
//   3. std::atomic's fetch_add: the C++ answer, one indivisible read-modify-write, no lock.
// (A plain int changed by several threads at once is a data race, undefined behaviour in C++.
// Step 1 therefore uses a std::atomic<long> read with load() and written with store() — each step
// atomic, the pair not — which loses updates exactly as n += 1 does, without undefined behaviour.)
#include <concur/threading.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "print.hpp"
#include "timing.hpp"

namespace th = concur::threading;

constexpr int kThreads = 100;
constexpr long kTimes = 100'000;  // n += 1 per thread
constexpr long kExpected = kThreads * kTimes;

// LOAD_CONST 1; INPLACE_ADD: v + 1, taking the time of a few dozen simple steps (`volatile`
// keeps each of them).
long add_one(long v) {
  volatile int steps = 0;
  while (steps < 16) steps = steps + 1;
  return v + 1;
}

// threads = [Thread(target=foo) for i in range(100)]; start them all; join them all. The threads
// wait at `go` until all are started, then run together.
void run_threads(const std::function<void()>& foo) {
  th::Event go;
  std::vector<std::unique_ptr<th::Thread>> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.push_back(std::make_unique<th::Thread>([&] {
      go.wait();
      foo();
    }));
  }
  for (auto& t : threads) t->start();
  go.set();
  for (auto& t : threads) t->join();
}

std::string result(long n) {
  if (n == kExpected) return std::to_string(n) + "  (nothing lost)";
  return std::to_string(n) + "  (" + std::to_string(kExpected - n) + " updates lost)";
}

int main() {
  print(kThreads, "threads, each doing n += 1", kTimes, "times: n should end at", kExpected);

  print("--- 1. no lock: n = n + 1 as a separate read and write (LOAD ... STORE)");
  std::atomic<long> n{0};
  run_threads([&] {
    for (long i = 0; i < kTimes; ++i) {
      long v = n.load(std::memory_order_relaxed);  // LOAD_GLOBAL n
      v = add_one(v);                              // LOAD_CONST 1; INPLACE_ADD
      n.store(v, std::memory_order_relaxed);       // STORE_GLOBAL n
    }
  });
  print("print(n):", result(n.load()));
  if (n.load() == kExpected) {
    print("(this time nothing was lost: on", timing::cores_text() + ",",
          "the threads took turns, and none was interrupted between its read and its write —",
          "the seed's \"大部分时候会打印 100\". Run it again, or on more cores.)");
  }

  print("--- 2. with a th::Lock: with lock: n += 1");
  th::Lock lock;
  long locked_n = 0;  // only ever touched under the lock
  run_threads([&] {
    for (long i = 0; i < kTimes; ++i) {
      std::lock_guard g(lock);
      locked_n = add_one(locked_n);
    }
  });
  print("print(n):", result(locked_n));

  print("--- 3. std::atomic<long>: n.fetch_add(1), one indivisible read-modify-write");
  std::atomic<long> atomic_n{0};
  run_threads([&] {
    for (long i = 0; i < kTimes; ++i) atomic_n.fetch_add(1, std::memory_order_relaxed);
  });
  print("print(n):", result(atomic_n.load()));
}
