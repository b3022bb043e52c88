// Port of seed 002, §6 "Python sleep()函数用法：线程睡眠": a thread that sleeps before each line
// (time.sleep(0.1), here 20 ms) is blocked meanwhile, so MainThread's five lines come first.
#include <concur/threading.hpp>

#include <chrono>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "print.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;

void action(const std::vector<std::string>& add) {
  for (const auto& arc : add) {
    th::sleep(20ms);  // 暂停后再执行: the thread leaves the CPU to MainThread meanwhile
    print(th::current_thread().name() + " " + arc);
  }
}

int main() {
  const std::vector<std::string> my_tuple = {"http://c.biancheng.net/python/",
                                             "http://c.biancheng.net/shell/",
                                             "http://c.biancheng.net/java/"};
  th::Thread thread(action, my_tuple);
  thread.start();
  for (int i = 0; i < 5; ++i) print(th::current_thread().name());
  thread.join();  // what Python does implicitly at exit for a non-daemon thread
}
