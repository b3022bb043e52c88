// Port of seed 002, §12 "Python 线程池及其原理和使用", 获取执行结果: instead of blocking in
// result(), the main thread registers get_result() with add_done_callback() on both futures and
// goes on at once: its "-----" comes out while the two tasks are still running. Each callback
// runs in the pool thread that finished the task, as soon as it has finished, and prints the
// task's result (1225 for action(50), 4950 for action(100)).
// The seed's `with ThreadPoolExecutor(max_workers=2) as pool:` is a block whose end destroys the
// pool: the destructor is shutdown(wait=True), so main waits there for both tasks (and their
// callbacks) to finish.
// As in the port of 线程池的使用, action() sleeps 1 ms per step to stand for real work
// (common/action.hpp).
#include <concur/futures.hpp>

#include "common/action.hpp"
#include "print.hpp"

namespace cf = concur::futures;

int main() {
  // 创建一个包含 2 条线程的线程池
  {
    cf::ThreadPoolExecutor pool(2);
    auto [future1, future2] = submit_two_actions(pool);  // action(50), action(100)

    auto get_result = [](cf::Future<int> future) { print(future.result()); };

    // 为 future1 添加线程完成的回调函数
    future1.add_done_callback(get_result);
    // 为 future2 添加线程完成的回调函数
    future2.add_done_callback(get_result);
    print("-----");
  }  // end of the with block: ~ThreadPoolExecutor() is shutdown(wait=True)
}
