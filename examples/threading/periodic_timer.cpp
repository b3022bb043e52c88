// Port of seed 001 (Event 对象最好不要复用 ... 可以通过 Condition 对象来代替) and seed 003 §1.2:
// a PeriodicTimer whose daemon thread flips a flag and notify_all()s a Condition every interval;
// any number of threads wait_for_tick(). countdown(5) and countup(3) both follow the same ticks.
// The seed's interval is 5 s; here 30 ms.
#include <concur/threading.hpp>

#include <chrono>
#include <iostream>
#include <mutex>
#include <sstream>
#include <stop_token>
#include <string>

#include "print.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;

class PeriodicTimer {  // 周期定时器
 public:
  explicit PeriodicTimer(std::chrono::milliseconds interval) : interval_(interval) {}

  // The seed's `while True` daemon runs until the process dies, using the timer object all the
  // while. In C++ the object's lifetime is ours to respect, so the timer stops its thread (and
  // waits for it) when it is destroyed; the thread stays a daemon, as in the seed.
  ~PeriodicTimer() {
    if (thread_.is_alive()) {
      thread_.request_stop();
      thread_.join();
    }
  }

  void start() {
    thread_ = th::Thread(th::ThreadOptions{.daemon = true},
                         [this](std::stop_token st) { run(st); });
    thread_.start();
  }

  // 启动定时器，并每隔一段时间发出通知
  void run(std::stop_token st) {
    while (!st.stop_requested()) {
      th::sleep(interval_);
      std::lock_guard with(cv_);
      flag_ ^= 1;  // 异或，相异为1，相同为0，达到1与0来回切换的效果
      cv_.notify_all();
    }
  }

  // 等待下次通知
  void wait_for_tick() {
    std::lock_guard with(cv_);
    const int last_flag = flag_;
    while (last_flag == flag_) cv_.wait();  // 当 flag 发生切换，则停止阻塞
  }

 private:
  std::chrono::milliseconds interval_;
  int flag_ = 0;        // guarded by cv_'s lock
  th::Condition cv_;    // makes its own RLock, like threading.Condition()
  th::Thread thread_;   // the ticking daemon
};

PeriodicTimer ptimer(30ms);

void countdown(int nticks) {
  while (nticks > 0) {
    ptimer.wait_for_tick();
    print("T-minus", nticks);
    nticks -= 1;
  }
}

void countup(int last) {
  int n = 0;
  while (n < last) {
    ptimer.wait_for_tick();
    print("Counting", n);
    n += 1;
  }
}

int main() {
  ptimer.start();

  th::Thread t1(countdown, 5);
  th::Thread t2(countup, 3);
  t1.start();
  t2.start();
  t1.join();
  t2.join();
}
