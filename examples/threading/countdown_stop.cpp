// Port of seed 000 §12.1 "启动与停止线程" and seed 003 §1 "启动与停止线程": a thread cannot be
// killed, only asked to stop. Three forms:
//   1. the seeds' CountdownTask: run() polls a _running flag that terminate() clears;
//   2. the C++ idiom: the target takes a std::stop_token and the thread gets t.request_stop();
//   3. seed 003's CountdownThread(Thread) with a run() override, watched with is_alive().
// The seeds sleep 5 s per tick; here 30 ms.
#include <concur/threading.hpp>

#include <atomic>
#include <chrono>
#include <iostream>
#include <sstream>
#include <stop_token>
#include <string>

#include "print.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;

constexpr auto tick = 30ms;

// 1. The flag is written by the main thread and read by the countdown thread: in C++ it must be
//    an atomic (a plain bool would be a data race, and the loop might never see the change).
class CountdownTask {
 public:
  void terminate() { running_ = false; }
  void run(int n) {
    while (running_ && n > 0) {
      print("T-minus", n);
      n -= 1;
      th::sleep(tick);
    }
  }

 private:
  std::atomic<bool> running_{true};
};

// 2. The same countdown with the thread's own stop token. The stop_callback also cuts the
//    current tick short: the wait on `wake` ends as soon as a stop is requested.
void countdown(std::stop_token st, int n) {
  th::Event wake;
  std::stop_callback on_stop(st, [&] { wake.set(); });
  while (!st.stop_requested() && n > 0) {
    print("T-minus", n);
    n -= 1;
    wake.wait(tick);  // time.sleep(tick), but interruptible
  }
}

// 3. 通过继承来实现线程. (The seed sets self.n = 0 by mistake, so it would print nothing; the
//    intent is self.n = n.)
class CountdownThread : public th::Thread {
 public:
  explicit CountdownThread(int n) : n_(n) {}
  ~CountdownThread() override {
    if (is_alive()) join();  // run() uses n_: finish before the members go
  }
  void run() override {
    while (n_ > 0) {
      print("T-minus", n_);
      n_ -= 1;
      th::sleep(tick);
    }
  }

 private:
  int n_;  // touched only by run() once started
};

int main() {
  print("--- 1. CountdownTask.terminate()");
  {
    CountdownTask c;
    // Thread(target=c.run, args=(10,)): the member function and the object it runs on.
    th::Thread t(&CountdownTask::run, &c, 10);
    t.start();
    th::sleep(2 * tick + tick / 2);  // let it count a little (the seed terminates at once)
    c.terminate();                   // 主动终止线程: it stops at its next check
    t.join();                        // 等待线程终止
    print("stopped");
  }

  print("--- 2. std::stop_token + t.request_stop()");
  {
    th::Thread t(countdown, 10);
    t.start();
    th::sleep(2 * tick + tick / 2);
    t.request_stop();
    t.join();
    print("stopped");
  }

  print("--- 3. class CountdownThread(Thread)");
  {
    CountdownThread c(5);
    c.start();
    if (c.is_alive())
      print("still running");
    else
      print("completed");
    c.join();
    if (c.is_alive())
      print("still running");
    else
      print("completed");
  }
}
