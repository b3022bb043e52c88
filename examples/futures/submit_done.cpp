// Port of seed 002, §12 "Python 线程池及其原理和使用", 线程池的使用: submit() hands action() to a
// pool of 2 threads and returns a Future at once. future1.done() is False right after the
// submit (the task has only just started), True once it has finished; result() hands back
// action()'s return value (sum(range(max))). The pool's two workers are named
// "ThreadPoolExecutor-0_0" and "ThreadPoolExecutor-0_1", and their lines interleave.
//
// Differences from the seed:
// - action() sleeps 1 ms per step to stand for real work. Without it C++ runs the 50 steps in a
//   few microseconds and future1 could already be done when the main thread asks (in the seed,
//   Python's slower print() and the GIL give the task that time).
// - The seed sleeps 3 seconds and hopes both tasks are done by then; here cf::wait() waits for
//   exactly that, so future2.done() is True without guessing a duration.
#include <concur/futures.hpp>
#include <concur/threading.hpp>

#include <chrono>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "print.hpp"

namespace cf = concur::futures;
namespace th = concur::threading;
using namespace std::chrono_literals;

const char* py(bool b) { return b ? "True" : "False"; }  // print(True) prints True

// 定义一个准备作为线程任务的函数
int action(int max) {
  int my_sum = 0;
  for (int i = 0; i < max; ++i) {
    print(th::current_thread().name() + " " + std::to_string(i));
    my_sum += i;
    th::sleep(1ms);  // the work of one step
  }
  return my_sum;
}

int main() {
  // 创建一个包含 2 条线程的线程池
  cf::ThreadPoolExecutor pool(2);
  // 向线程池提交一个 task, 50 会作为 action() 函数的参数
  cf::Future<int> future1 = pool.submit(action, 50);
  // 向线程池再提交一个 task, 100 会作为 action() 函数的参数
  cf::Future<int> future2 = pool.submit(action, 100);
  // 判断 future1 代表的任务是否结束
  print(py(future1.done()));
  // the seed: time.sleep(3)
  cf::wait(std::vector{future1, future2});
  // 判断 future2 代表的任务是否结束
  print(py(future2.done()));
  // 查看 future1 代表的任务返回的结果
  print(future1.result());
  // 查看 future2 代表的任务返回的结果
  print(future2.result());
  // 关闭线程池
  pool.shutdown();
}
