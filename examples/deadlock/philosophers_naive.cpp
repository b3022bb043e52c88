// Port of seed 000, §12.5 "防止死锁的加锁机制": the dining philosophers as the seed warns
// they must not be written. Five philosophers, five forks (Locks "fork-0".."fork-4"); each takes
// his left fork, then his right one: "如果每个哲学家都拿起自己左边的筷子，那么他们五个都只能拿着
// 一只筷子坐在那儿，直到饿死". To make that certain rather than likely, all five meet at a
// Barrier once they hold their left fork, and only then reach for the right one: a cycle of five
// threads, each waiting for the fork the next one holds.
//
// Python would sit there forever. Here:
//   1. dl::find_deadlocks() sees the cycle, and th::dump_threads() shows every thread: which fork
//      it holds, which it waits for, and who holds that one.
//   2. The deadlock watchdog (Reaction::raise) reports the cycle on stderr and breaks it: one
//      philosopher's acquire() throws RuntimeError. He puts his fork down and waits until the
//      others have eaten, then eats too (taking his fork back at once could close the cycle
//      again). The others eat one after the other, in the order the cycle unwinds.
// stdout is unit-buffered, so that the watchdog's report (stderr) shows up in its place in the
// output even when both streams go to a pipe. The idents and native ids in the dump change from
// run to run; which philosopher the watchdog picks does not (the first of the cycle).
#include <concur/deadlock.hpp>
#include <concur/threading.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

#include "print.hpp"

namespace dl = concur::deadlock;
namespace th = concur::threading;
using namespace std::chrono_literals;

constexpr int N = 5;

// The forks (represented by locks): philosopher n has fork n on his left, fork n+1 on his right.
std::array<th::Lock, N> forks{th::Lock("fork-0"), th::Lock("fork-1"), th::Lock("fork-2"),
                              th::Lock("fork-3"), th::Lock("fork-4")};

// Where the five meet with their left fork in hand, so that none gets both forks before the
// others have taken their first one.
th::Barrier all_seated(N, [] {
  print("all", N, "philosophers hold their left fork; each reaches for his right one");
});

std::array<int, N> meals{};
std::atomic<int> eaten{0};
th::Event others_have_eaten;  // set by the (N-1)th philosopher to eat

void eat(int n) {
  print(th::current_thread().name(), "eats with", forks[n].name(), "and",
        forks[(n + 1) % N].name());
  ++meals[n];
  if (eaten.fetch_add(1) + 1 == N - 1) others_have_eaten.set();
}

// The philosopher thread.
void philosopher(int n) {
  const std::string me = th::current_thread().name();
  th::Lock& left = forks[n];
  th::Lock& right = forks[(n + 1) % N];

  std::unique_lock left_hand(left);  // the left fork first ...
  all_seated.wait();
  std::unique_lock right_hand(right, std::defer_lock);
  try {
    right_hand.lock();  // ... then the right one: all five wait here, each for the next
  } catch (const concur::RuntimeError& e) {
    // The watchdog chose this acquire to break the cycle: the fork was not taken.
    print(me, "caught RuntimeError:", e.what());
    print(me, "gives up for now and puts", left.name(), "down");
    left_hand.unlock();
    others_have_eaten.wait();
    left_hand.lock();
    right_hand.lock();
  }
  eat(n);
}  // both forks are put down here

int main() {
  std::cout << std::unitbuf;
  dl::set_reaction(dl::Reaction::raise);

  print(N, "philosophers, each takes his left fork, then his right one");
  std::vector<th::Thread> philosophers;
  for (int n = 0; n < N; ++n)
    philosophers.emplace_back(th::ThreadOptions{"Philosopher-" + std::to_string(n)}, philosopher,
                              n);
  for (auto& t : philosophers) t.start();

  // 1. The table is silent. Look for the cycle (for at most 2 s), and show every thread.
  std::vector<dl::Cycle> cycles;
  for (int i = 0; i < 400 && cycles.empty(); ++i) {
    th::sleep(5ms);
    cycles = dl::find_deadlocks();
  }
  if (!cycles.empty()) {
    print("find_deadlocks(): a cycle of", cycles[0].size(), "threads. th::dump_threads():");
    std::cout << th::dump_threads();
  } else {
    print("find_deadlocks() found no cycle within 2 s");
  }

  // 2. The watchdog: reports the cycle once it has seen it twice, and breaks it.
  print("start_watchdog(100ms), Reaction::raise");
  dl::start_watchdog(100ms);
  for (auto& t : philosophers) {
    if (!t.join(5s)) {  // never expected: do not hang the tour
      print("still deadlocked after 5 s; giving up");
      std::_Exit(1);
    }
  }
  dl::stop_watchdog();

  int total = 0;
  for (int n = 0; n < N; ++n) total += meals[n];
  print("meals:", total, "- every philosopher ate once; the watchdog broke the deadlock");
}
