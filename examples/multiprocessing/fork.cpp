// Port of seed 002, §16 "Python os.fork()方法：创建新进程": mp::fork() makes a second process, a
// copy of this one, and both go on from the fork() call: the parent gets the child's pid, the
// child gets 0, and each prints its own getpid() (and the child its getppid()).
//
// What differs from the seed:
// - The parent waits for its child (os.waitpid in Python, ::waitpid here) before it ends, so
//   that the child's lines are printed before the program exits and its getppid() is still the
//   parent (the seed's parent may exit first: the child then prints the pid of whatever
//   process adopted it). The program fails if the child does.
// - The two processes run at the same time, so their lines can interleave in any order (the
//   seed shows the parent's first, which is the usual case); each line is whole (print.hpp).
// - Both processes return from main and exit normally, as the seed's two do at its end.
#include <concur/multiprocessing.hpp>

#include <sys/types.h>
#include <sys/wait.h>

#include "print.hpp"

namespace mp = concur::multiprocessing;

int main() {
  print("父进程 ID =", mp::getpid());
  // 创建一个子进程，下面代码会被两个进程执行
  pid_t pid = mp::fork();
  print("当前进程 ID =", mp::getpid(), "pid=", pid);
  // 根据 pid 值，分别为子进程和父进程布置任务
  if (pid == 0) {
    print("子进程, ID=", mp::getpid(), "父进程 ID=", mp::getppid());
    return 0;
  }
  print("父进程, ID=", mp::getpid(), "pid=", pid);

  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return 1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
