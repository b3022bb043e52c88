// The task of seed 002's thread-pool examples (§12 "Python 线程池及其原理和使用"), shared by the ports
// of 线程池的使用 (submit_done.cpp), 获取执行结果 (done_callback.cpp) and Executor.map() (map.cpp):
// action(max) prints "<thread name> <i>" for each i in range(max) and returns sum(range(max)).
// Unlike the seed, each step sleeps 1 ms to stand for real work: without it C++ runs the steps in
// a few microseconds, and the tasks would not overlap as the seed's do (in the seed, Python's
// slower print() and the GIL give them that time).
#pragma once

#include <concur/futures.hpp>
#include <concur/threading.hpp>

#include <chrono>
#include <string>

#include "print.hpp"

// 定义一个准备作为线程任务的函数
inline int action(int max) {
  int my_sum = 0;
  for (int i = 0; i < max; ++i) {
    print(concur::threading::current_thread().name() + " " + std::to_string(i));
    my_sum += i;
    concur::threading::sleep(std::chrono::milliseconds(1));  // the work of one step
  }
  return my_sum;
}

// The start of 线程池的使用 and 获取执行结果: two tasks on a pool, action(50) and action(100).
struct TwoActions {
  concur::futures::Future<int> future1, future2;
};
inline TwoActions submit_two_actions(concur::futures::ThreadPoolExecutor& pool) {
  // 向线程池提交一个 task, 50 会作为 action() 函数的参数
  concur::futures::Future<int> future1 = pool.submit(action, 50);
  // 向线程池再提交一个 task, 100 会作为 action() 函数的参数
  concur::futures::Future<int> future2 = pool.submit(action, 100);
  return {future1, future2};
}
