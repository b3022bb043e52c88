// Port of seed 004 ("threading.Thread": 开启 4 个线程，每个线程进行 10 次 +1 操作): three ways
// to share a counter between 4 threads — a global count with a global Lock (method 1), a Thread
// subclass with a class-level count and lock (method 2), and a LockingCounter object (method 3).
// The seed sleeps 1 s after each step; here 2 ms.
#include <concur/threading.hpp>

#include <chrono>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "print.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;

// ----- method 1: Thread(target=func1), a global count guarded by a global Lock -----
int func1_count = 0;
th::Lock func1_lock;  // 线程中使用 Lock 防止数据竞争

void func1(int loop) {
  const std::string thread_name = th::current_thread().name();
  for (int i = 0; i < loop; ++i) {
    int count;
    {
      std::lock_guard with(func1_lock);
      count = ++func1_count;
    }
    // The seed reads func1_count again for print(), outside the lock; in C++ that unlocked read
    // would be a data race, so we print the value read under the lock.
    print(thread_name, count);
    th::sleep(2ms);
  }
}

void func1_main(int num) {
  func1_count = 0;
  std::vector<th::Thread> threads;
  for (int i = 0; i < num; ++i) threads.emplace_back(func1, 10);
  for (auto& t : threads) t.start();  // 启动所有线程
  for (auto& t : threads) t.join();   // 主线程中等待所有子线程退出
}

// ----- method 2: subclass Thread; the count and lock are class-level (static) -----
class Counter : public th::Thread {
 public:
  static inline int my_count = 0;  // 类变量
  static inline th::Lock my_lock;

  explicit Counter(int loop = 10) : loop_(loop) {}
  ~Counter() override {
    if (is_alive()) join();  // run() reads loop_: finish before the members go
  }

  void run() override {
    const std::string thread_name = th::current_thread().name();
    for (int i = 0; i < loop_; ++i) {
      int count;
      {
        std::lock_guard with(Counter::my_lock);
        count = ++Counter::my_count;
      }
      print(thread_name, count);
      th::sleep(2ms);
    }
  }

 private:
  int loop_;
};

void func2_main(int num) {
  // A started subclass instance must not move (its run() uses `this`): hold them by pointer.
  std::vector<std::unique_ptr<Counter>> threads;
  for (int i = 0; i < num; ++i) {
    threads.push_back(std::make_unique<Counter>());  // 默认 loop 为 10
    threads.back()->start();
  }
  for (auto& t : threads) t->join();
}

// ----- method 3: no globals; a LockingCounter object is passed to every thread -----
class LockingCounter {
 public:
  explicit LockingCounter(int init_count) : count_(init_count) {}
  void increase(int offset = 1) {
    std::lock_guard with(lock_);
    count_ += offset;
  }
  // The seed reads counter._count directly; C++ needs the lock for that read too.
  int count() {
    std::lock_guard with(lock_);
    return count_;
  }

 private:
  th::Lock lock_;
  int count_;
};

void worker(int /*index*/, int loop, LockingCounter& counter) {
  const std::string thread_name = th::current_thread().name();
  for (int i = 0; i < loop; ++i) {
    counter.increase(1);
    print(thread_name, counter.count());
    th::sleep(2ms);
  }
}

template <class F>
void func3_main(int num, F func, int loop, LockingCounter& counter) {
  std::vector<th::Thread> threads;
  for (int i = 0; i < num; ++i) {
    threads.emplace_back(func, i, loop, std::ref(counter));  // std::ref: share, don't copy
    threads.back().start();
  }
  for (auto& t : threads) t.join();
}

int main() {
  const int thread_num = 4;
  print("-----method1-----:");
  func1_main(thread_num);
  print("-----method2-----:");
  func2_main(thread_num);
  print("-----method3-----:");
  LockingCounter counter(0);
  func3_main(thread_num, worker, 10, counter);
  print("final counts:", func1_count, Counter::my_count, counter.count());
}
