// Port of seed 002, §24 "Python GIL 全局解释器锁详解", with processes: the CPU-bound Countdown(n),
// run once in the main process and then split in halves over two child processes. In CPython
// this is the way around the GIL: each process has its own interpreter and its own GIL, so two
// processes do compute in parallel, where the seed's two threads ran no faster than one (0.0040 s
// against 0.0067 s). In C++ there is no GIL to get around (threading_gil_countdown shows two
// threads twice as fast already); processes give the same speed-up, less the cost of starting
// them (a fork copies the parent's page tables), which the program measures too.
//
// The timing is threading_gil_countdown's (examples/common/timing.hpp): a warm-up, then 5
// rounds, each timing the one-process and the two-process version back to back; the best time
// of each counts. The two-process time includes starting and joining both children. The
// speed-up is printed, not checked (machines vary), next to the number of cores: two processes
// can at best be twice as fast, and only on two free cores.
#include <concur/multiprocessing.hpp>

#include <algorithm>
#include <cstdint>
#include <string>

#include "print.hpp"
#include "timing.hpp"

namespace mp = concur::multiprocessing;

// while n > 0: n -= 1. `volatile` makes the compiler keep every decrement (it would otherwise
// replace the loop by n = 0); each is a load and a store, about as much work as one bytecode.
void Countdown(std::uint64_t n) {
  volatile std::uint64_t v = n;
  while (v > 0) v = v - 1;
}

double one_process(std::uint64_t n) {
  return timing::time_it([&] { Countdown(n); });
}

bool children_ok = true;

void Nothing() {}

// Starting and joining two processes that do nothing: what two_processes pays besides the work.
double two_empty_processes() {
  return timing::time_it([] {
    mp::Process p1(Nothing);
    mp::Process p2(Nothing);
    p1.start();
    p2.start();
    p1.join();
    p2.join();
  });
}

double two_processes(std::uint64_t n) {
  return timing::time_it([&] {
    mp::Process p1(Countdown, n / 2);
    mp::Process p2(Countdown, n / 2);
    p1.start();
    p2.start();
    p1.join();
    p2.join();
    children_ok = children_ok && p1.exitcode() == 0 && p2.exitcode() == 0;
  });
}

int main(int argc, char** argv) {
  mp::main_guard(argc, argv);  // if __name__ == '__main__':
  // The seed counts down from 100000; that takes C++ well under a millisecond, too short to
  // time, so we count from 800 million (about 0.2 s on one core of a recent x86-64).
  constexpr std::uint64_t n = 800'000'000;
  constexpr int rounds = 5;

  print(timing::machine_text());
  print("mp::cpu_count() =", mp::cpu_count());

  two_processes(n / 4);  // warm-up: the clock speed ramps up
  double one = 1e9, two = 1e9, start_cost = 1e9;
  for (int round = 0; round < rounds; ++round) {
    one = std::min(one, one_process(n));
    two = std::min(two, two_processes(n));
    start_cost = std::min(start_cost, two_empty_processes());
  }
  print("Time used:", one, "s  (1 process, n = " + std::to_string(n) + "; best of", rounds,
        "runs)");
  print("Time used:", two, "s  (2 processes, n / 2 each; best of", rounds, "runs)");
  print("starting and joining 2 processes that do nothing:", start_cost * 1000,
        "ms  (best of", rounds, "runs: the part of the 2-process time that is not Countdown)");
  print("speed-up with 2 processes: " + timing::speedup_text(one, two, 2) +
        "  (CPython's processes can reach it too: each has its own GIL; its threads cannot)");
  return children_ok ? 0 : 1;
}
