// Port of seed 002, §8 "什么是死锁，如何避免死锁（4 种方法）": classes A and B, each with its own
// RLock. The main thread (主线程) calls a.foo(b): A's lock, then b.last() takes B's. A second
// thread (副线程) calls b.bar(a): B's lock, then a.last() takes A's. Each holds one lock and waits
// for the other's: "两个线程互相等待对方先释放锁，所以就出现了死锁". Three acts:
//   1. As written. The seed's time.sleep(0.2) made the deadlock likely; here the threads print
//      the seed's lines ①②③④ in the seed's order, each waiting for the one before (Steps), so
//      both hold their own lock before either asks for the other's: the deadlock is certain.
//      Python would hang without a word ("既不会发生任何异常，也不会给出任何提示"). The deadlock
//      watchdog (the seed's 4th way, 死锁检测; Reaction::raise) reports the cycle on stderr,
//      naming both threads and both RLocks, and breaks it: one thread's last() throws
//      RuntimeError, its foo()/bar() unwinds and releases its lock, and the other finishes.
//   2. The 2nd way, 具有相同的加锁顺序: foo() and bar() both take A's and B's locks with
//      dl::acquire(a.lock, b.lock), one global order; last() then re-enters the RLock its thread
//      already holds (this is why the seed uses RLock). The sleep(0.2) stays, harmless now.
//   3. The 3rd way, 使用定时锁: each thread takes its own lock, then waits at most 50 ms for the
//      other's — acquire(true, 50ms). On a timeout it releases its own lock, backs off for a
//      pseudo-random 10-100 ms (fixed seeds, so the tour reads the same every run) and retries.
//      In the first round both threads hold their own lock until both have given up, so that
//      round fails for both, as certain as act 1; the different back-offs then let them through.
// (The 1st way, 避免多次锁定, is not to nest locks at all.) stdout is unit-buffered, so that the
// watchdog's report (stderr) shows up in its place even when both streams go to a pipe.
#include <concur/deadlock.hpp>
#include <concur/threading.hpp>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <mutex>
#include <random>
#include <string>

#include "print.hpp"

namespace dl = concur::deadlock;
namespace th = concur::threading;
using namespace std::chrono_literals;

std::string name() { return th::current_thread().name(); }

// Line k is printed after line k-1, whichever thread prints it: the seed's ① ② ③ ④.
class Steps {
 public:
  void say(int k, const std::string& line) {
    std::lock_guard with(cv_);
    cv_.wait_for([&] { return done_ == k - 1; });
    print(line);
    ++done_;
    cv_.notify_all();
  }
  void reset() {
    std::lock_guard with(cv_);
    done_ = 0;
  }

 private:
  th::Condition cv_;
  int done_ = 0;
};
Steps steps;

th::Barrier both_gave_up(2);  // act 3, first round: neither releases before both timed out

// A pseudo-random back-off of 10-100 ms (minstd_rand is specified exactly: the same on every
// platform).
std::chrono::milliseconds backoff(std::minstd_rand& rng) {
  return std::chrono::milliseconds(10 + rng() % 91);
}

struct B;

struct A {
  th::RLock lock{"A"};
  void foo(B& b);                                // 1. as the seed wrote it
  void foo_one_order(B& b);                      // 2.
  void foo_timed(B& b, std::minstd_rand& rng);  // 3.
  void last();
};

struct B {
  th::RLock lock{"B"};
  void bar(A& a);
  void bar_one_order(A& a);
  void bar_timed(A& a, std::minstd_rand& rng);
  void last();
};

// --- 1. the seed's program ---------------------------------------------------------------------

void A::foo(B& b) {
  std::lock_guard with(lock);  // try: self.lock.acquire() ... finally: self.lock.release()
  steps.say(1, "当前线程名: " + name() + " 进入了 A 实例的 foo()方法");  // ①
  // The seed's time.sleep(0.2): meanwhile 副线程 takes B's lock. Line ③ waits for line ②.
  steps.say(3, "当前线程名: " + name() + " 企图调用 B 实例的 last()方法");  // ③
  try {
    b.last();
  } catch (const concur::RuntimeError& e) {
    // Printed while A's lock is still held, so before the other thread goes on.
    print(name(), "caught RuntimeError:", e.what());
    print(name(), "gives up: foo() unwinds and releases A's lock");
    throw;
  }
}

void A::last() {
  std::lock_guard with(lock);
  print("进入了 A 类的 last()方法内部");
}

void B::bar(A& a) {
  std::lock_guard with(lock);
  steps.say(2, "当前线程名: " + name() + " 进入了 B 实例的 bar()方法");  // ②
  steps.say(4, "当前线程名: " + name() + " 企图调用 A 实例的 last()方法");  // ④
  try {
    a.last();
  } catch (const concur::RuntimeError& e) {
    print(name(), "caught RuntimeError:", e.what());
    print(name(), "gives up: bar() unwinds and releases B's lock");
    throw;
  }
}

void B::last() {
  std::lock_guard with(lock);
  print("进入了 B 类的 last()方法内部");
}

A a;
B b;

void init() {
  th::current_thread().set_name("主线程");
  // 调用 a 对象的 foo() 方法
  a.foo(b);
  print("进入了主线程之后");
}

void action() {
  th::current_thread().set_name("副线程");
  // 调用 b 对象的 bar() 方法
  try {
    b.bar(a);
  } catch (const concur::RuntimeError&) {
    return;  // reported in bar()
  }
  print("进入了副线程之后");
}

// --- 2. one lock order -------------------------------------------------------------------------

// Only to fix the order of the printed lines: 主线程 takes the locks first (main_in_foo), and
// 副线程, which gets them when 主线程 lets go, prints its first line after 主线程's last (Steps).
th::Event main_in_foo;

void A::foo_one_order(B& b) {
  auto held = dl::acquire(lock, b.lock);  // A's and B's locks, in one global order
  print("当前线程名: " + name() + " 进入了 A 实例的 foo()方法");
  main_in_foo.set();
  th::sleep(200ms);  // the seed's pause: 副线程 now waits in dl::acquire, it holds nothing
  print("当前线程名: " + name() + " 企图调用 B 实例的 last()方法");
  b.last();  // this thread holds B's RLock already: last() re-enters it
}

void B::bar_one_order(A& a) {
  auto held = dl::acquire(lock, a.lock);  // named the other way round: the same order results
  steps.say(2, "当前线程名: " + name() + " 进入了 B 实例的 bar()方法");
  th::sleep(200ms);
  print("当前线程名: " + name() + " 企图调用 A 实例的 last()方法");
  a.last();
}

void init_one_order() {
  a.foo_one_order(b);
  steps.say(1, "进入了主线程之后");
}

void action_one_order() {
  th::current_thread().set_name("副线程");
  main_in_foo.wait();
  b.bar_one_order(a);
  print("进入了副线程之后");
}

// --- 3. timed locks with back-off ---------------------------------------------------------------

void A::foo_timed(B& b, std::minstd_rand& rng) {
  for (int attempt = 1;; ++attempt) {
    // The first round prints in the seed's order (Steps), later rounds as they come.
    auto say = [&](int k, const std::string& line) {
      attempt == 1 ? steps.say(k, line) : print(line);
    };
    std::unique_lock with(lock);
    say(1, "当前线程名: " + name() + " 进入了 A 实例的 foo()方法");
    say(3, "当前线程名: " + name() + " 企图调用 B 实例的 last()方法");
    if (b.lock.acquire(true, 50ms)) {  // at most 50 ms
      std::lock_guard held(b.lock, std::adopt_lock);
      b.last();
      if (attempt > 1) print(name(), "got A and B on attempt", attempt);
      return;
    }
    const auto pause = backoff(rng);
    say(5, name() + ": no B within 50 ms; releases A, backs off " + std::to_string(pause.count()) +
               " ms and retries");
    if (attempt == 1) both_gave_up.wait();
    with.unlock();
    th::sleep(pause);
  }
}

void B::bar_timed(A& a, std::minstd_rand& rng) {
  for (int attempt = 1;; ++attempt) {
    auto say = [&](int k, const std::string& line) {
      attempt == 1 ? steps.say(k, line) : print(line);
    };
    std::unique_lock with(lock);
    say(2, "当前线程名: " + name() + " 进入了 B 实例的 bar()方法");
    say(4, "当前线程名: " + name() + " 企图调用 A 实例的 last()方法");
    if (a.lock.acquire(true, 50ms)) {
      std::lock_guard held(a.lock, std::adopt_lock);
      a.last();
      if (attempt > 1) print(name(), "got B and A on attempt", attempt);
      return;
    }
    const auto pause = backoff(rng);
    say(6, name() + ": no A within 50 ms; releases B, backs off " + std::to_string(pause.count()) +
               " ms and retries");
    if (attempt == 1) both_gave_up.wait();
    with.unlock();
    th::sleep(pause);
  }
}

void init_timed() {
  std::minstd_rand rng(1);
  a.foo_timed(b, rng);
  print("进入了主线程之后");
}

void action_timed() {
  th::current_thread().set_name("副线程");
  std::minstd_rand rng(4);
  b.bar_timed(a, rng);
  print("进入了副线程之后");
}

int main() {
  std::cout << std::unitbuf;

  print("--- 1. 死锁: 主线程 a.foo(b) locks A then B, 副线程 b.bar(a) locks B then A");
  print("    (deadlock watchdog every 50 ms, Reaction::raise)");
  dl::set_reaction(dl::Reaction::raise);
  dl::start_watchdog(50ms);
  {
    // 以 action 为 target 启动新线程
    th::Thread t(action);
    t.start();
    // 调用 init() 函数
    try {
      init();
    } catch (const concur::RuntimeError&) {
      // reported in foo()
    }
    t.join();
  }
  // Stopped before act 3: a cycle of timed waits is a cycle too while it lasts, and the
  // watchdog would break it instead of letting the timeouts do their work.
  dl::stop_watchdog();

  print("--- 2. 具有相同的加锁顺序: foo() and bar() take both locks with dl::acquire(a.lock, b.lock)");
  steps.reset();
  {
    th::Thread t(action_one_order);
    t.start();
    init_one_order();
    t.join();
  }

  print("--- 3. 使用定时锁: acquire(true, 50ms) for the second lock;",
        "on a timeout release, back off, retry");
  steps.reset();
  {
    th::Thread t(action_timed);
    t.start();
    init_timed();
    t.join();
  }
  print("all three acts finished");
}
