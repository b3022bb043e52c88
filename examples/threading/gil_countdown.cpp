// Port of seed 002, §24 "Python GIL 全局解释器锁详解": the CPU-bound Countdown(n), run once on one
// thread and then split in halves over two threads. Under CPython's GIL the two-thread version is
// no faster (the seed measures it slower: 0.0040 s against 0.0067 s); C++ threads run truly in
// parallel, so with two free cores it takes about half the time.
//
// The timing (examples/common/timing.hpp): a warm-up, then 5 rounds, each timing the one-thread
// and the two-thread version back to back; the best time of each counts. The speed-up is printed,
// not checked (machines vary), next to the number of cores: two threads can at best be twice as
// fast, and only on two free cores.
#include <concur/threading.hpp>

#include <algorithm>
#include <cstdint>
#include <string>

#include "print.hpp"
#include "timing.hpp"

namespace th = concur::threading;

// while n > 0: n -= 1. `volatile` makes the compiler keep every decrement (it would otherwise
// replace the loop by n = 0); each is a load and a store, about as much work as one bytecode.
void Countdown(std::uint64_t n) {
  volatile std::uint64_t v = n;
  while (v > 0) v = v - 1;
}

double one_thread(std::uint64_t n) {
  return timing::time_it([&] { Countdown(n); });
}

double two_threads(std::uint64_t n) {
  return timing::time_it([&] {
    th::Thread t1(Countdown, n / 2);
    th::Thread t2(Countdown, n / 2);
    t1.start();
    t2.start();
    t1.join();
    t2.join();
  });
}

int main() {
  // The seed counts down from 100000; that takes C++ well under a millisecond, too short to
  // time, so we count from 800 million (about 0.2 s on one core of a recent x86-64).
  constexpr std::uint64_t n = 800'000'000;
  constexpr int rounds = 5;

  print(timing::machine_text());

  two_threads(n / 4);  // warm-up: the clock speed ramps up, the first threads are made
  double one = 1e9, two = 1e9;
  for (int round = 0; round < rounds; ++round) {
    one = std::min(one, one_thread(n));
    two = std::min(two, two_threads(n));
  }
  print("Time used:", one, "s  (1 thread, n = " + std::to_string(n) + "; best of", rounds, "runs)");
  print("Time used:", two, "s  (2 threads, n / 2 each; best of", rounds, "runs)");
  print("speed-up with 2 threads: " + timing::speedup_text(one, two, 2) +
        "  (under CPython's GIL: about 1x, or slower)");
}
