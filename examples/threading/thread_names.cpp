// Port of seed 002, §2 "Python 创建线程（2 种方式）详解": the two ways to create a thread —
// handing Thread a target plus arguments, and subclassing Thread to override run() — while the
// main thread ("MainThread") runs its own loop, so the output of the two threads interleaves:
//
//   MainThread
//   Thread-1 http://c.biancheng.net/python/
//   MainThread
//   Thread-1 http://c.biancheng.net/shell/
//   ...
//
// In the seed the interleaving is the scheduler's doing ("它们以快速轮换 CPU 的方式在执行"), and it
// differs from run to run (its own output even shows two prints mixed on one line). Here the
// threads take turns through a Condition (the Turns below), so the tour prints the seed's order
// every time: the main thread prints a line and hands the turn to the child, the child prints a
// line and hands it back; once the child has printed its three lines, the main thread prints its
// remaining ones.
#include <concur/threading.hpp>

#include <mutex>
#include <string>
#include <vector>

#include "print.hpp"

namespace th = concur::threading;

// Turn-taking between the main thread and one child thread, through a Condition.
class Turns {
 public:
  // Main thread: waits for its turn (or for the child to be done), then returns.
  void main_waits() {
    std::lock_guard g(cv_);
    cv_.wait_for([&] { return main_turn_ || child_done_; });
  }
  // Main thread: hands the turn to the child.
  void main_passes() { set(false); }
  // Child: waits for its turn.
  void child_waits() {
    std::lock_guard g(cv_);
    cv_.wait_for([&] { return !main_turn_; });
  }
  // Child: hands the turn back to the main thread.
  void child_passes() { set(true); }
  // Child: has printed all its lines; the main thread no longer waits for it.
  void child_done() {
    std::lock_guard g(cv_);
    child_done_ = true;
    cv_.notify_all();
  }
  // Before the next pair of threads: the main thread begins.
  void reset() {
    std::lock_guard g(cv_);
    main_turn_ = true;
    child_done_ = false;
  }

 private:
  void set(bool main_turn) {
    std::lock_guard g(cv_);
    main_turn_ = main_turn;
    cv_.notify_all();
  }
  th::Condition cv_;
  bool main_turn_ = true;
  bool child_done_ = false;
};
Turns turns;

// def action(*add): Python collects the positional arguments into a tuple; in C++ the thread is
// simply given that tuple (a vector) as its one argument.
void action(const std::vector<std::string>& add) {
  for (const auto& arc : add) {
    turns.child_waits();
    print(th::current_thread().name() + " " + arc);
    turns.child_passes();
  }
  turns.child_done();
}

// class my_Thread(threading.Thread): run() is what the new thread executes.
class my_Thread : public th::Thread {
 public:
  explicit my_Thread(std::vector<std::string> add) : add_(std::move(add)) {}
  // run() reads add_, so the thread must be finished before add_ is destroyed (the base
  // destructor would join too late, after add_ is gone).
  ~my_Thread() override {
    if (is_alive()) join();
  }
  void run() override {
    for (const auto& arc : add_) {
      turns.child_waits();
      print(th::current_thread().name() + " " + arc);
      turns.child_passes();
    }
    turns.child_done();
  }

 private:
  std::vector<std::string> add_;
};

// for i in range(5): print(threading.current_thread().getName())
void main_loop() {
  for (int i = 0; i < 5; ++i) {
    turns.main_waits();
    print(th::current_thread().name());
    turns.main_passes();
  }
}

int main() {
  const std::vector<std::string> my_tuple = {"http://c.biancheng.net/python/",
                                             "http://c.biancheng.net/shell/",
                                             "http://c.biancheng.net/java/"};

  print("--- 调用 Thread 类的构造器创建线程: Thread(target=action, args=my_tuple)");
  th::Thread thread(action, my_tuple);  // the vector is copied into the thread, like args=
  thread.start();
  main_loop();
  thread.join();  // Python waits for the thread at exit; we wait here, before the next part

  // In one program the next thread is Thread-2 (the seed ran each part as its own script).
  print("--- 继承 Thread 类创建线程类: my_Thread(my_tuple)");
  turns.reset();
  my_Thread mythread(my_tuple);
  mythread.start();
  main_loop();
  mythread.join();
}
