// Port of seed 001 "多线程加锁": a SharedCounter whose incr()/decr() hold a Lock, and the version
// with one class-level RLock, where decr() calls incr() while already holding the lock — a Lock
// would deadlock there; an RLock lets its owner acquire it again.
#include <concur/threading.hpp>

#include <functional>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "print.hpp"

namespace th = concur::threading;

// The seed defines SharedCounter twice; two namespaces keep both definitions side by side.
namespace with_lock {

// One lock per instance.
class SharedCounter {
 public:
  explicit SharedCounter(int initial_value = 0) : value_(initial_value) {}
  void incr(int delta = 1) {
    std::lock_guard with(value_lock_);
    value_ += delta;
  }
  void decr(int delta = 1) {
    std::lock_guard with(value_lock_);
    value_ -= delta;
  }
  int value() {
    std::lock_guard with(value_lock_);
    return value_;
  }

 private:
  int value_;
  th::Lock value_lock_;
};

}  // namespace with_lock

namespace with_rlock {

// 类级锁，这样无论该类有多少个实例都只用一个锁
class SharedCounter {
 public:
  explicit SharedCounter(int initial_value = 0) : value_(initial_value) {}
  void incr(int delta = 1) {
    std::lock_guard with(lock_);
    value_ += delta;
  }
  void decr(int delta = 1) {
    std::lock_guard with(lock_);  // 多重获取锁: incr() takes it a second time
    incr(-delta);
  }
  int value() {
    std::lock_guard with(lock_);
    return value_;
  }

 private:
  static inline th::RLock lock_;
  int value_;
};

}  // namespace with_rlock

// 4 threads add 1 100000 times each while 2 threads subtract 1 100000 times each.
template <class Counter>
void hammer(Counter& counter, const char* title) {
  constexpr int rounds = 100000;
  std::vector<th::Thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&counter] { for (int k = 0; k < rounds; ++k) counter.incr(); });
  for (int i = 0; i < 2; ++i)
    threads.emplace_back([&counter] { for (int k = 0; k < rounds; ++k) counter.decr(); });
  for (auto& t : threads) t.start();
  for (auto& t : threads) t.join();
  print(std::string(title) + ": 4 threads x " + std::to_string(rounds) + " incr(), 2 threads x " +
        std::to_string(rounds) + " decr() -> value = " + std::to_string(counter.value()) +
        " (expected " + std::to_string(2 * rounds) + ")");
}

int main() {
  with_lock::SharedCounter counter;
  hammer(counter, "SharedCounter (Lock)");

  with_rlock::SharedCounter a, b;  // two instances share the one class-level RLock
  hammer(a, "SharedCounter (class-level RLock) a");
  hammer(b, "SharedCounter (class-level RLock) b");
}
