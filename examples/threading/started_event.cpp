// Port of seed 001 "信号控制线程启动" (also seed 003 §1.2 "判断线程是否已经启动"): the main thread
// waits on an Event until the countdown thread signals that it has started. The seed sleeps 3 s
// per tick; here 30 ms.
#include <concur/threading.hpp>

#include <chrono>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>

#include "print.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;

void countdown(int n, th::Event& started_evt) {
  print("countdown starting");
  started_evt.set();
  while (n > 0) {
    th::sleep(30ms);
    print("T-minus", n);
    n -= 1;
  }
}

int main() {
  th::Event started_evt;

  print("Launching countdown");
  // An Event cannot be copied: std::ref hands the thread a reference (Python passes the object).
  th::Thread t(countdown, 5, std::ref(started_evt));
  t.start();

  // 这里会等待 Event 对象被执行 set
  started_evt.wait();
  print("countdown is running");
  t.join();
}
