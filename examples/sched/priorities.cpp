// Port of seed 002, §15 "Python schedule 任务调度及其用法": a thread makes a scheduler and enters
// one action per argument, all for 1 s from now, with priorities 3, 2, 1; at the same time the
// lower priority value runs first, so a second later the arguments print in reverse order.
//
// The seed's three enter(1, ...) calls got the same time because its clock (time.monotonic on
// Windows) ticks every 15.6 ms; steady_clock ticks in nanoseconds, so three enter(1s, ...) calls
// would get three times a few hundred nanoseconds apart, and time goes before priority (Python
// on Linux prints the seed's lines in argument order, too). The port therefore takes "1 s from
// now" once and enters the three actions for that time point with enterabs().
#include <concur/sched.hpp>
#include <concur/threading.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "print.hpp"

namespace sc = concur::sched;
namespace th = concur::threading;
using namespace std::chrono_literals;

void action(const std::string& arg) { print(arg); }

// 定义线程要调用的方法，可接收多个参数
void thread_action(const std::vector<std::string>& add) {
  // 创建任务调度对象
  sc::scheduler sche;
  // 定义优先级
  int i = 3;
  const auto in_one_second = std::chrono::steady_clock::now() + 1s;
  for (const std::string& arc : add) {
    // 指定 1 秒后执行 action 函数
    sche.enterabs(in_one_second, i, action, arc);
    i = i - 1;
  }
  // 执行所有调度的任务
  sche.run();
}

int main() {
  // 定义为线程方法传入的参数
  const std::vector<std::string> my_tuple = {"http://c.biancheng.net/python/",
                                             "http://c.biancheng.net/shell/",
                                             "http://c.biancheng.net/java/"};
  // 创建线程
  th::Thread thread(thread_action, my_tuple);
  // 启动线程
  thread.start();
  thread.join();
}
