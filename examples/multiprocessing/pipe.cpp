// Port of seed 002, §21 "Python 进程间通信的 2 种实现方法", Pipe 实现进程间通信: mp::Pipe() makes
// two connected ends; a child process send()s a URL on conn1 and the main process recv()s it on
// conn2. Each side prints mp::current_process().pid() (multiprocessing.current_process().pid),
// so the two pids differ. (The section's other half, the Queue, is multiprocessing_queue.)
//
// What differs from the seed: a Connection is a copyable handle, given to the child as an
// ordinary Process argument (the copy refers to the same end), and recv says what it expects
// (recv<std::string>()) where Python's unpickles any object. As in the seed, the main process
// joins the child before it reads: fine for one small message, which the pipe's buffer holds,
// but a child sending more than the socket's buffer holds (net.core.wmem_default, often 208 KiB)
// blocks in send() until someone reads, and a join() before the recv() then waits forever.
#include <concur/multiprocessing.hpp>

#include <string>

#include "print.hpp"

namespace mp = concur::multiprocessing;

void processFun(mp::Connection conn, std::string name) {
  print(mp::current_process().pid().value(), "进程发送数据: ", name);
  conn.send(name);
}

int main(int argc, char** argv) {
  mp::main_guard(argc, argv);        // if __name__ == '__main__':
  auto [conn1, conn2] = mp::Pipe();  // 创建管道
  // 创建子进程
  mp::Process process(processFun, conn1, std::string("http://c.biancheng.net/python/"));
  process.start();  // 启动子进程
  process.join();

  print(mp::current_process().pid().value(), "接收数据: ");
  print(conn2.recv<std::string>());
  return process.exitcode() == 0 ? 0 : 1;
}
