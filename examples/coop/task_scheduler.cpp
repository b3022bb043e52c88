// Port of seed 001, 使用生成器代替线程 (generators instead of threads): countdown(10), countdown(5)
// and countup(15) as co::Tasks on a co::TaskScheduler, which runs them round robin — one step
// each, up to the task's next `co_yield {}` (the seed's bare `yield`) — until all have finished.
// It prints the seed's interleaving exactly, line for line (32 lines).
//
// The seed's TaskScheduler is a deque of generators: run() pops one, calls next() on it and
// appends it again unless it raised StopIteration. co::TaskScheduler is that class; the tasks
// are C++20 coroutines, so a switch is a coroutine resume, no thread and no stack of its own.
#include <concur/coop.hpp>

#include "print.hpp"

namespace co = concur::coop;

co::Task countdown(int n) {
  while (n > 0) {
    print("T-minus", n);
    co_yield {};
    n -= 1;
  }
  print("Blastoff!");
}

co::Task countup(int n) {
  int x = 0;
  while (x < n) {
    print("Counting up", x);
    co_yield {};
    x += 1;
  }
}

int main() {
  co::TaskScheduler sched;
  sched.new_task(countdown(10));
  sched.new_task(countdown(5));
  sched.new_task(countup(15));
  sched.run();
}
