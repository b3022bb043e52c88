// Port of seed 001, "防止死锁的加锁机制": thread_1 takes acquire(x_lock, y_lock) and thread_2
// takes acquire(y_lock, x_lock). Naming the locks in opposite orders would deadlock with plain
// nested `with` blocks; dl::acquire sorts them by one global order (their addresses, as the seed
// sorts by id()), so both threads finish. The seed's threads loop 10 times and print their name;
// then both loop many more times silently to show the contention cannot deadlock. Last, the
// check the seed's acquire() makes: a thread holding a lock through dl::acquire that asks for
// one earlier in the order gets RuntimeError("Lock Order Violation") instead of a possible
// deadlock.
#include <concur/deadlock.hpp>
#include <concur/threading.hpp>

#include <functional>
#include <string>

#include "print.hpp"

namespace dl = concur::deadlock;
namespace th = concur::threading;

th::Lock x_lock("x_lock");
th::Lock y_lock("y_lock");

constexpr int ROUNDS = 10000;  // the silent rounds after the seed's 10
long in_both = 0;              // changed only while both locks are held

void thread_1() {
  for (int i = 0; i < 10; ++i) {
    auto held = dl::acquire(x_lock, y_lock);
    print("Thread-1");
  }
  for (int i = 0; i < ROUNDS; ++i) {
    auto held = dl::acquire(x_lock, y_lock);
    ++in_both;
  }
}

void thread_2() {
  for (int i = 0; i < 10; ++i) {
    auto held = dl::acquire(y_lock, x_lock);
    print("Thread-2");
  }
  for (int i = 0; i < ROUNDS; ++i) {
    auto held = dl::acquire(y_lock, x_lock);
    ++in_both;
  }
}

int main() {
  th::Thread t1(thread_1);
  th::Thread t2(thread_2);
  t1.start();
  t2.start();
  t1.join();
  t2.join();
  print("both threads finished:", in_both, "more rounds holding x_lock and y_lock, no deadlock");

  // Lock Order Violation: hold the lock that comes later in the order, then ask for the other.
  th::Lock& first = std::less<th::Lock*>{}(&x_lock, &y_lock) ? x_lock : y_lock;
  th::Lock& second = &first == &x_lock ? y_lock : x_lock;
  auto outer = dl::acquire(second);
  print("holding", second.name(), "and asking for", first.name(), "in a nested acquire:");
  try {
    auto inner = dl::acquire(first);
    print("acquired (unexpected)");
  } catch (const concur::RuntimeError& e) {
    print("RuntimeError:", e.what());
  }
  print(first.name(), "locked:", first.locked() ? "True" : "False");
}
