// Port of seed 002, §17 "Python Process 创建进程（2 种方法）详解": two ways to create a process,
// as with threads:
//   1. mp::Process(action, args...): Process(target=action, args=("my_process 进程", *my_tuple));
//   2. a subclass of mp::Process that overrides run(): class My_Process(Process).
// In each, the child process prints its name argument and the three URLs with its own pid, while
// the main process does the same with "主进程" and its pid.
//
// What differs from the seed:
// - The seed's output was made on Windows, where a process is started by "spawn": the child runs
//   the module anew, so it prints 当前进程 ID a second time, with its own pid. Here the default
//   start method is "fork" (as Python's on Linux before 3.14): the child is a copy of the parent
//   made at start() and begins in the target, so 当前进程 ID is printed once. (The spawn version
//   is multiprocessing_start_methods, seed 002 §18.)
// - The two processes run at the same time, so the child's lines and the main process's lines
//   interleave (the seed shows them in two blocks: a spawned child starts slowly).
// - The main process joins its child explicitly (Python does it for it at exit), then prints the
//   child's name, pid and exit code: Process-1 for the first, which gets no name, and
//   "my_process 进程" for My_Process, which sets its name as the seed's self.name = name does.
// - *my_tuple, the URLs as separate arguments, becomes one std::vector<std::string> argument.
#include <concur/multiprocessing.hpp>

#include <string>
#include <utility>
#include <vector>

#include "print.hpp"

namespace mp = concur::multiprocessing;

// 定义一个函数，准备作为新进程的 target 参数
void action(std::string name, std::vector<std::string> add) {
  print(name);
  for (const std::string& arc : add) print(arc + " --当前进程" + std::to_string(mp::getpid()));
}

// 自定义一个进程类 (a subclass runs under "fork" only: its run() is code of this object)
struct My_Process : mp::Process {
  My_Process(std::string name, std::vector<std::string> add) : add_(std::move(add)) {
    set_name(std::move(name));
  }
  void run() override {
    print(name());
    for (const std::string& arc : add_) print(arc + " --当前进程" + std::to_string(mp::getpid()));
  }

 private:
  std::vector<std::string> add_;
};

// 1 if the child failed.
int report(const mp::Process& p) {
  print("子进程", p.name(), "pid =", p.pid().value(), "exitcode =", p.exitcode().value());
  return p.exitcode() == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
  mp::main_guard(argc, argv);  // if __name__ == '__main__':
  int failed = 0;
  print("当前进程 ID:", mp::getpid());

  // 定义为进程方法传入的参数
  const std::vector<std::string> my_tuple{"http://c.biancheng.net/python/",
                                          "http://c.biancheng.net/shell/",
                                          "http://c.biancheng.net/java/"};

  print("--- 1. 通过 Process 类创建进程: Process(action, \"my_process 进程\", my_tuple)");
  {
    // 创建子进程，执行 action() 函数
    mp::Process my_process(action, std::string("my_process 进程"), my_tuple);
    my_process.start();          // 启动子进程
    action("主进程", my_tuple);  // 主进程执行该函数
    my_process.join();
    failed += report(my_process);
  }

  print("--- 2. 通过 Process 继承类创建进程: struct My_Process : mp::Process");
  {
    My_Process my_process("my_process 进程", my_tuple);
    my_process.start();          // 启动子进程
    action("主进程", my_tuple);  // 主进程执行该函数
    my_process.join();
    failed += report(my_process);
  }
  return failed == 0 ? 0 : 1;
}
