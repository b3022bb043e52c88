// Port of seed 002, §20 "Python 使用进程池管理进程": a pool of 4 worker processes.
//   1. pool = Pool(processes=4); four apply_async(action, ...) calls; pool.close(); pool.join():
//      each task prints its argument with the pid of the worker that runs it.
//   2. with Pool(processes=4) as pool: adds = pool.map(action, urls): each task returns its line,
//      and the main process prints the lines in input order.
//
// What differs from the seed:
// - Pool tasks are plain functions with serializable arguments and results (a task travels to a
//   long-lived worker process, as a pickled function does in Python). action()'s default argument
//   is passed explicitly, and the seed's kwds={'name': ...} becomes a positional argument (C++ has
//   no keyword arguments).
// - The seed's first program does not import os (its action() would fail there, silently:
//   apply_async() keeps the NameError in a result nobody reads); here it works.
// - action() sleeps 0.5 s instead of 3 s; the program prints how long each part took: about
//   0.5 s, not 4 x 0.5 s, since the four workers ran the tasks at the same time (each in its own
//   process, so four different pids), and says how many different pids it saw.
// - `with Pool(...) as pool:` is a scope: the destructor is Python's __exit__, terminate().
// The pids change from run to run; the order of the first part's lines is the order in which
// the workers got to print (the seed's shows its submission order, as it usually is).
#include <concur/multiprocessing.hpp>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "print.hpp"
#include "timing.hpp"

namespace mp = concur::multiprocessing;
using namespace std::chrono_literals;

constexpr auto kWork = 500ms;  // the seed's time.sleep(3)

auto now() { return std::chrono::steady_clock::now(); }
template <class Duration>
std::string seconds(Duration d) {
  return timing::fixed(std::chrono::duration<double>(d).count(), 1);
}

// def action(name='http://c.biancheng.net'): print(name, ' --当前进程: ', os.getpid()); sleep
// Returns the pid, so the main process can count the workers that ran the tasks.
int action(std::string name) {
  print(name + " --当前进程：" + std::to_string(mp::getpid()));
  std::this_thread::sleep_for(kWork);
  return mp::getpid();
}

// The second program's action(): return (name + ' --当前进程: %d' % os.getpid())
std::string action_line(std::string name) {
  std::this_thread::sleep_for(kWork);
  return name + " --当前进程：" + std::to_string(mp::getpid());
}

int main(int argc, char** argv) {
  mp::main_guard(argc, argv);  // if __name__ == '__main__':

  print("--- pool = Pool(processes=4); 4 x pool.apply_async(action, ...); close(); join()");
  {
    const auto start = now();
    mp::Pool pool(4);  // 创建包含 4 条进程的进程池
    // 将 action 分 4 次提交给进程池
    std::vector<mp::AsyncResult<int>> results;
    results.push_back(pool.apply_async(action, std::string("http://c.biancheng.net")));
    results.push_back(pool.apply_async(action, std::string("http://c.biancheng.net/python/")));
    results.push_back(pool.apply_async(action, std::string("http://c.biancheng.net/java/")));
    results.push_back(pool.apply_async(action, std::string("http://c.biancheng.net/shell/")));
    pool.close();
    pool.join();
    std::set<int> pids;
    for (auto& r : results) pids.insert(r.get());
    print("(4 tasks of " + seconds(kWork) + " s took " + seconds(now() - start) +
          " s, the pool's start included: they ran at the same time, in " +
          std::to_string(pids.size()) + " different worker processes; the main process is " +
          std::to_string(mp::getpid()) + ")");
  }

  print("--- with Pool(processes=4) as pool: adds = pool.map(action, urls)");
  {
    const auto start = now();
    mp::Pool pool(4);  // 创建包含 4 条进程的进程池
    const std::vector<std::string> adds =
        pool.map(action_line, std::vector<std::string>{"http://c.biancheng.net/python/",
                                                       "http://c.biancheng.net/java/",
                                                       "http://c.biancheng.net/shell/"});
    for (const std::string& arc : adds) print(arc);
    print("(3 tasks of " + seconds(kWork) + " s took " + seconds(now() - start) +
          " s, the pool's start included)");
  }  // the end of the with block: terminate()
}
