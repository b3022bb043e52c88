// Port of seed 002, §12 "Python 线程池及其原理和使用", 线程池的使用: submit() hands action() to a
// pool of 2 threads and returns a Future at once. future1.done() is False right after the
// submit (the task has only just started), True once it has finished; result() hands back
// action()'s return value (sum(range(max))). The pool's two workers are named
// "ThreadPoolExecutor-0_0" and "ThreadPoolExecutor-0_1", and their lines interleave.
//
// Differences from the seed:
// - action() sleeps 1 ms per step to stand for real work (common/action.hpp). Without it C++
//   runs the 50 steps in a few microseconds and future1 could already be done when the main
//   thread asks (in the seed, Python's slower print() and the GIL give the task that time).
// - The seed sleeps 3 seconds and hopes both tasks are done by then; here cf::wait() waits for
//   exactly that, so future2.done() is True without guessing a duration.
#include <concur/futures.hpp>

#include <vector>

#include "common/action.hpp"
#include "print.hpp"

namespace cf = concur::futures;

const char* py(bool b) { return b ? "True" : "False"; }  // print(True) prints True

int main() {
  // 创建一个包含 2 条线程的线程池
  cf::ThreadPoolExecutor pool(2);
  auto [future1, future2] = submit_two_actions(pool);  // action(50), action(100)
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
