// Port of seed 003, §1 "启动与停止线程", its last program: 通过multiprocessing模块在一个单独的进程
// 中执行你的代码 — the CountdownTask of the thread version, run in a separate process with
// Process(target=c.run).
//   1. mp::Process(&CountdownTask::run, &c, 5): the child counts down T-minus 5 ... 1 and exits
//      with exitcode 0.
//   2. What the seed does not say: c.terminate() no longer stops it. A forked child works on its
//      own copy of c (the pointer &c points into the child's copy of the memory), so clearing
//      the parent's _running changes nothing in the child, which goes on counting; the parent
//      stops it with p.terminate() (SIGTERM), and its exitcode is -15 (killed by signal 15).
//   3. A flag that does reach the child: an mp::Event lives in memory shared by both processes
//      (a copy of the handle, the forked child's included, refers to the same event), so
//      SharedCountdownTask's terminate() stops the child's countdown at once (its wait on the
//      event ends) and the child ends normally: exitcode 0.
// (The thread version, where c.terminate() does stop the countdown, is threading_countdown_stop.)
//
// What differs from the seed: the seed writes CountdownTask(5) and target=c.run, but its
// CountdownTask takes no argument and its run(n) needs one; here run gets n = 5 as an argument,
// as in the thread version. The seed sleeps 5 s per tick; here 30 ms. Each line also shows the
// pid of the process that prints it.
#include <concur/multiprocessing.hpp>
#include <concur/threading.hpp>

#include <atomic>
#include <chrono>
#include <string>

#include "print.hpp"

namespace mp = concur::multiprocessing;
namespace th = concur::threading;
using namespace std::chrono_literals;

constexpr auto tick = 30ms;

class CountdownTask {
 public:
  void terminate() { running_ = false; }
  void run(int n) {
    while (running_ && n > 0) {
      print("T-minus", n, "  (进程 " + std::to_string(mp::getpid()) + ")");
      n -= 1;
      th::sleep(tick);
    }
  }

 private:
  std::atomic<bool> running_{true};
};

// 3. The same task with its flag in shared memory. Waiting on the event instead of sleeping also
//    cuts the current tick short.
class SharedCountdownTask {
 public:
  void terminate() { stop_.set(); }
  void run(int n) {
    while (!stop_.is_set() && n > 0) {
      print("T-minus", n, "  (进程 " + std::to_string(mp::getpid()) + ")");
      n -= 1;
      stop_.wait(tick);  // time.sleep(tick), but ends at once on terminate()
    }
  }

 private:
  mp::Event stop_;
};

int main(int argc, char** argv) {
  mp::main_guard(argc, argv);  // if __name__ == '__main__':
  print("主进程", mp::getpid());
  int failed = 0;

  print("--- 1. p = multiprocessing.Process(target=c.run, args=(5,))");
  {
    CountdownTask c;
    mp::Process p(&CountdownTask::run, &c, 5);
    p.start();
    p.join();
    print("exitcode =", p.exitcode().value());
    failed += p.exitcode() != 0;
  }

  print("--- 2. c.terminate() in the main process does not reach the child's copy of c");
  {
    CountdownTask c;
    mp::Process p(&CountdownTask::run, &c, 10);
    p.start();
    th::sleep(2 * tick + tick / 2);  // let it count a little
    c.terminate();                   // the main process's c: the child's _running stays true
    th::sleep(tick);
    print("after c.terminate():", p.is_alive() ? "still running" : "completed");
    failed += !p.is_alive();
    p.terminate();                   // SIGTERM: the way to stop a process from outside
    p.join();
    print("after p.terminate(): exitcode =", p.exitcode().value(), "(killed by SIGTERM)");
    failed += p.exitcode() != -15;
  }

  print("--- 3. a stop flag in shared memory: an mp::Event");
  {
    SharedCountdownTask c;
    mp::Process p(&SharedCountdownTask::run, &c, 10);
    p.start();
    th::sleep(2 * tick + tick / 2);  // let it count a little
    c.terminate();                   // sets the event the child's copy of c shares
    p.join();
    print("after c.terminate(): exitcode =", p.exitcode().value(), "(stopped by itself)");
    failed += p.exitcode() != 0;
  }
  return failed == 0 ? 0 : 1;
}
