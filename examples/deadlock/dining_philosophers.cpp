// Port of seed 000, §12.5 "防止死锁的加锁机制": the dining philosophers. Five philosophers sit
// around a table with one chopstick (a Lock) between each two; each needs both of his to eat. If
// every one picked up his left chopstick first they could all wait forever; taking both with
// dl::acquire(left, right) takes them in one global order, so no cycle of waits can form. The
// seed's philosophers eat forever; here each eats a fixed number of meals (half of them name
// their chopsticks the other way round, which dl::acquire does not mind) and the program prints
// how many meals each one had.
#include <concur/deadlock.hpp>
#include <concur/threading.hpp>

#include <array>
#include <string>
#include <vector>

#include "print.hpp"

namespace dl = concur::deadlock;
namespace th = concur::threading;

constexpr int NSTICKS = 5;
constexpr int MEALS = 1000;

// The philosopher thread.
void philosopher(th::Lock& left, th::Lock& right, bool left_first, int& meals) {
  for (int i = 0; i < MEALS; ++i) {
    auto held = left_first ? dl::acquire(left, right) : dl::acquire(right, left);
    ++meals;  // eating
  }
}

int main() {
  // The chopsticks (represented by locks).
  std::array<th::Lock, NSTICKS> chopsticks;
  std::array<int, NSTICKS> meals{};

  // Create all of the philosophers.
  std::vector<th::Thread> philosophers;
  for (int n = 0; n < NSTICKS; ++n)
    philosophers.emplace_back(th::ThreadOptions{"Philosopher-" + std::to_string(n + 1)}, philosopher,
                              std::ref(chopsticks[n]), std::ref(chopsticks[(n + 1) % NSTICKS]),
                              n % 2 == 0, std::ref(meals[n]));
  for (auto& t : philosophers) t.start();
  for (auto& t : philosophers) t.join();

  int total = 0;
  for (int n = 0; n < NSTICKS; ++n) {
    print(philosophers[n].name(), "(chopsticks", n, "and", std::to_string((n + 1) % NSTICKS) + ")",
          "ate", meals[n], "meals");
    total += meals[n];
  }
  print("all", NSTICKS, "philosophers finished:", total, "meals, no deadlock");
}
