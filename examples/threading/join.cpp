// Port of seed 002, §4 "Python Thread join()用法详解": thread.join() makes the caller wait until
// the thread has finished, so Thread-1's three lines all come before MainThread's five.
#include <concur/threading.hpp>

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "print.hpp"

namespace th = concur::threading;

void action(const std::vector<std::string>& add) {
  for (const auto& arc : add) print(th::current_thread().name() + " " + arc);
}

int main() {
  const std::vector<std::string> my_tuple = {"http://c.biancheng.net/python/",
                                             "http://c.biancheng.net/shell/",
                                             "http://c.biancheng.net/java/"};
  th::Thread thread(action, my_tuple);
  thread.start();
  // 指定 thread 线程优先执行完毕: without this line the two threads' output interleaves.
  thread.join();
  for (int i = 0; i < 5; ++i) print(th::current_thread().name());
}
