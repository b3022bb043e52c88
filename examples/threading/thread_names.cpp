// Port of seed 002, §2 "Python 创建线程（2 种方式）详解": the two ways to create a thread —
// handing Thread a target plus arguments, and subclassing Thread to override run() — while the
// main thread ("MainThread") runs its own loop, so the output of the two threads interleaves.
#include <concur/threading.hpp>

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "print.hpp"

namespace th = concur::threading;

// def action(*add): Python collects the positional arguments into a tuple; in C++ the thread is
// simply given that tuple (a vector) as its one argument.
void action(const std::vector<std::string>& add) {
  for (const auto& arc : add) print(th::current_thread().name() + " " + arc);
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
    for (const auto& arc : add_) print(th::current_thread().name() + " " + arc);
  }

 private:
  std::vector<std::string> add_;
};

int main() {
  const std::vector<std::string> my_tuple = {"http://c.biancheng.net/python/",
                                             "http://c.biancheng.net/shell/",
                                             "http://c.biancheng.net/java/"};

  print("--- 调用 Thread 类的构造器创建线程: Thread(target=action, args=my_tuple)");
  th::Thread thread(action, my_tuple);  // the vector is copied into the thread, like args=
  thread.start();
  for (int i = 0; i < 5; ++i) print(th::current_thread().name());
  thread.join();  // Python waits for the thread at exit; we wait here, before the next part

  // In one program the next thread is Thread-2 (the seed ran each part as its own script).
  print("--- 继承 Thread 类创建线程类: my_Thread(my_tuple)");
  my_Thread mythread(my_tuple);
  mythread.start();
  for (int i = 0; i < 5; ++i) print(th::current_thread().name());
  mythread.join();
}
