// Port of seed 002, §12 "Python 线程池及其原理和使用", the Executor.map() example: pool.map()
// submits action(50), action(100) and action(150) to a pool of 4 threads at once and returns
// straight away (so "-----" comes first); the three tasks run concurrently, their lines
// interleave, and iterating the results hands them back in the order of the inputs — 1225, 4950,
// 11175 — each as soon as it is ready. (With a pool of only 2 threads, the third task would wait
// for a free thread, as the seed explains.)
// As in the port of 线程池的使用, action() sleeps 1 ms per step to stand for real work
// (common/action.hpp).
#include <concur/futures.hpp>

#include <vector>

#include "common/action.hpp"
#include "print.hpp"

namespace cf = concur::futures;

int main() {
  // 创建一个包含 4 条线程的线程池
  cf::ThreadPoolExecutor pool(4);
  // 使用线程执行 map 计算
  // 后面元组有 3 个元素，因此程序启动 3 条线程来执行 action 函数
  auto results = pool.map(action, std::vector{50, 100, 150});
  print("-----");
  for (int r : results) print(r);
}
