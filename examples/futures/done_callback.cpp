// Port of seed 002, §12 "Python 线程池及其原理和使用", 获取执行结果: instead of blocking in
// result(), the main thread registers get_result() with add_done_callback() on both futures and
// goes on at once: its "-----" comes out while the two tasks are still running. Each callback
// runs in the pool thread that finished the task, as soon as it has finished, and prints the
// task's result (1225 for action(50), 4950 for action(100)).
// The seed's `with ThreadPoolExecutor(max_workers=2) as pool:` is a block whose end destroys the
// pool: the destructor is shutdown(wait=True), so main waits there for both tasks (and their
// callbacks) to finish.
// As in the port of 线程池的使用, action() sleeps 1 ms per step to stand for real work.
#include <concur/futures.hpp>
#include <concur/threading.hpp>

#include <chrono>
#include <iostream>
#include <sstream>
#include <string>

#include "print.hpp"

namespace cf = concur::futures;
namespace th = concur::threading;
using namespace std::chrono_literals;

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
  {
    cf::ThreadPoolExecutor pool(2);
    // 向线程池提交一个 task, 50 会作为 action() 函数的参数
    cf::Future<int> future1 = pool.submit(action, 50);
    // 向线程池再提交一个 task, 100 会作为 action() 函数的参数
    cf::Future<int> future2 = pool.submit(action, 100);

    auto get_result = [](cf::Future<int> future) { print(future.result()); };

    // 为 future1 添加线程完成的回调函数
    future1.add_done_callback(get_result);
    // 为 future2 添加线程完成的回调函数
    future2.add_done_callback(get_result);
    print("-----");
  }  // end of the with block: ~ThreadPoolExecutor() is shutdown(wait=True)
}
