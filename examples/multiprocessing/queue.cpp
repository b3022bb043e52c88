// Port of seed 002, §21 "Python 进程间通信的 2 种实现方法", Queue 实现进程间通信: a child process
// put()s a URL on an mp::Queue<std::string> and the main process get()s it. Each side prints
// mp::current_process().pid() (multiprocessing.current_process().pid), so the two pids differ.
// (The section's other half, the Pipe, is multiprocessing_pipe.)
//
// What differs from the seed: the Queue is a copyable handle, given to the child as an ordinary
// Process argument (the copy refers to the same queue), and it says what it carries
// (Queue<std::string>) where Python's pickles any object. As in the seed, the main process joins
// the child before it reads: fine for a small item (a put is never lost, even when the child
// exits at once), but a child whose items overflow the queue's channel (1 MiB) keeps the rest in
// its buffer and, as it ends, waits until they are written out, i.e. until someone reads: a
// join() before the get() then waits forever (Python's documentation warns of the same:
// "joining processes that use queues").
#include <concur/multiprocessing.hpp>

#include <string>

#include "print.hpp"

namespace mp = concur::multiprocessing;

void processFun(mp::Queue<std::string> queue, std::string name) {
  print(mp::current_process().pid().value(), "进程放数据：", name);
  queue.put(name);  // 将 name 放入队列
}

int main(int argc, char** argv) {
  mp::main_guard(argc, argv);  // if __name__ == '__main__':
  mp::Queue<std::string> queue;  // 创建进程通信的 Queue
  // 创建子进程
  mp::Process process(processFun, queue, std::string("http://c.biancheng.net/python/"));
  process.start();  // 启动子进程
  process.join();   // 该子进程必须先执行完毕
  print(mp::current_process().pid().value(), "取数据：");
  print(queue.get());
  return process.exitcode() == 0 ? 0 : 1;
}
