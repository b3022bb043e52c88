// Port of seed 002, §24 "Python GIL 全局解释器锁详解": the CPU-bound Countdown(n), run once on one
// thread and then split in halves over two threads. Under CPython's GIL the two-thread version is
// no faster (the seed measures it slower); C++ threads run truly in parallel, so with two cores
// it takes about half the time. The speed-up is printed, not checked: machines vary.
#include <concur/threading.hpp>

#include <chrono>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

#include "print.hpp"

namespace th = concur::threading;

// while n > 0: n -= 1. `volatile` makes the compiler keep every decrement (it would otherwise
// replace the loop by n = 0); each is a load and a store, about as much work as one bytecode.
void Countdown(std::uint64_t n) {
  volatile std::uint64_t v = n;
  while (v > 0) v = v - 1;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int main() {
  // The seed counts down from 100000; that takes C++ well under a millisecond, too short to
  // time, so we count from 1.6 billion (about 0.4 s on one core of a recent x86-64).
  constexpr std::uint64_t n = 1'600'000'000;

  auto start = std::chrono::steady_clock::now();
  Countdown(n);
  const double one = seconds_since(start);
  print("Time used:", one, "s  (1 thread, n =", std::to_string(n) + ")");

  start = std::chrono::steady_clock::now();
  th::Thread t1(Countdown, n / 2);
  th::Thread t2(Countdown, n / 2);
  t1.start();
  t2.start();
  t1.join();
  t2.join();
  const double two = seconds_since(start);
  print("Time used:", two, "s  (2 threads, n / 2 each)");

  std::ostringstream speedup;
  speedup << std::fixed << std::setprecision(1) << one / two;
  print("speed-up with 2 threads: " + speedup.str() + "x  (this machine has " +
        std::to_string(std::thread::hardware_concurrency()) + " hardware threads)");
}
