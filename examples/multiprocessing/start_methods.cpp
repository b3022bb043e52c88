// Port of seed 002, §18 "Python 设置进程启动的 3 种方式": the start method decides what a child
// process runs.
//   1. mp::set_start_method("spawn"), then mp::Process(action, ...): the global setting
//      (multiprocessing.set_start_method), made before any other multiprocessing call.
//   2. mp::get_context("spawn"), then ctx.Process(action, ...): a context instead of the global
//      setting (multiprocessing.get_context).
//   3. (the seed leaves it to the reader: 有兴趣的读者可自行尝试...) the two other methods through
//      get_context: "fork" and "forkserver".
//
// A spawned child is this program executed anew. mp::main_guard(argc, argv) is Python's
// `if __name__ == '__main__':`, which the seed says is required: in the child it runs the target
// and exits, so the child never runs what follows it. What comes before it runs in the child
// too, as a module's top-level code does in Python: here the line 当前进程 ID, which is why each
// spawned child prints it with its own pid, as in the seed's output. (Put main_guard first in
// main, as API.md shows, unless that is what you want.) A forked child is a copy of the parent
// made at start(): it does not print 当前进程 ID. The forkserver's server is started like a
// spawned child (Python's runs the main module too), so it prints 当前进程 ID once, with its
// own pid, and the children it forks do not.
//
// What differs from the seed: the main process joins each child before it goes on (the seed's
// program ends after start(); Python joins at exit), so that the parts print in order; and
// *my_tuple, the URLs as separate arguments, is one std::vector<std::string> argument. Under
// spawn and forkserver a target must be a plain function (or a capture-less lambda) and every
// argument serializable: action and its std::string and std::vector<std::string> are.
#include <concur/errors.hpp>
#include <concur/multiprocessing.hpp>

#include <string>
#include <vector>

#include "print.hpp"

namespace mp = concur::multiprocessing;

// 定义一个函数，准备作为新进程的 target 参数
void action(std::string name, std::vector<std::string> add) {
  print(name);
  for (const std::string& arc : add) print(arc + " --当前进程" + std::to_string(mp::getpid()));
}

int main(int argc, char** argv) {
  print("当前进程 ID:", mp::getpid());  // runs in every spawned child too (see above)
  mp::main_guard(argc, argv);            // if __name__ == '__main__':
  int failed = 0;

  // 定义为进程方法传入的参数
  const std::vector<std::string> my_tuple{"http://c.biancheng.net/python/",
                                          "http://c.biancheng.net/shell/",
                                          "http://c.biancheng.net/java/"};

  print("--- 1. set_start_method(\"spawn\")");
  {
    // 设置进程启动方式: before any other multiprocessing call
    mp::set_start_method("spawn");
    print("get_start_method():", mp::get_start_method());
    // 创建子进程，执行 action() 函数
    mp::Process my_process(action, std::string("my_process 进程"), my_tuple);
    my_process.start();  // 启动子进程
    my_process.join();
    failed += my_process.exitcode() != 0;
    try {
      mp::set_start_method("fork");  // a second time without force=true
    } catch (const concur::RuntimeError& e) {
      print("set_start_method(\"fork\") again: RuntimeError:", e.what());
    }
  }

  print("--- 2. get_context(\"spawn\")");
  {
    mp::Context ctx = mp::get_context("spawn");
    // 用 ctx 代替 multiprocessing 模块创建子进程，执行 action() 函数
    mp::Process my_process = ctx.Process(action, std::string("my_process 进程"), my_tuple);
    my_process.start();  // 启动子进程
    my_process.join();
    failed += my_process.exitcode() != 0;
  }

  print("--- 3. get_context(\"fork\") and get_context(\"forkserver\")");
  for (const char* method : {"fork", "forkserver"}) {
    mp::Context ctx = mp::get_context(method);
    mp::Process my_process = ctx.Process(action, std::string("my_process 进程 (") + method + ")",
                                         my_tuple);
    my_process.start();
    my_process.join();
    failed += my_process.exitcode() != 0;
  }
  return failed == 0 ? 0 : 1;
}
