// Port of seed 001, "简单的并行编程" (In [20] - In [23]), also seed 000, §12.8 "简单的并行编程", as the
// seeds wrote it: with a ProcessPoolExecutor. The CPU-bound fib(30) runs in the pool's worker
// processes the seed's three ways — 方法一 pool.map() over [30, 30, 30, 30], 方法二 submit() then
// result(), 方法三 submit() then add_done_callback() — and then the same kind of work is timed:
// four calls one after another in the main process, against pool.map() on 2 processes.
//
// As the seeds say, only simple functions can go to a process pool: fib() is a plain function,
// and its argument and result cross between processes (pickled in Python, serialized here).
// In CPython a process pool is the way to use several cores for Python code (each process has its
// own interpreter and GIL); C++ has no GIL, so threads do the same (futures_fib, the thread
// version), and processes scale just as well: the speed-up printed below is the lesson.
//
// What differs from the seed:
// - ProcessPoolExecutor() starts one worker per CPU, as Python's; the timed pool has exactly 2
//   (the seeds' machines had several cores; this program says how many it may use: 2 processes
//   can at best be twice as fast as one, and only on 2 free cores).
// - The timing uses fib(38) instead of fib(30): C++ computes fib(30) in a few milliseconds, too
//   short to time against the noise of a shared machine. A warm-up comes first, then 5 rounds,
//   each timing the loop and the pool back to back; the best time of each counts
//   (examples/common/timing.hpp). The pool's time includes starting and shutting down its 2
//   workers (the seed's `with ProcessPoolExecutor() as pool:` block), which is printed too.
// - 方法三: when_done() runs in the main process (in the thread that receives the result), once
//   the worker has sent fib(30) back; the end of the with block (the executor's destructor,
//   shutdown(wait=true)) waits for it.
#include <concur/futures.hpp>
#include <concur/multiprocessing.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "fib.hpp"  // fib() and list(), shared with futures_fib
#include "print.hpp"
#include "timing.hpp"

namespace cf = concur::futures;
namespace mp = concur::multiprocessing;

// def when_done(r): print(r.result())
void when_done(cf::Future<long> r) { print(r.result()); }

int main(int argc, char** argv) {
  mp::main_guard(argc, argv);  // if __name__ == '__main__':
  const std::vector<int> inputs = {30, 30, 30, 30};

  print("--- 方法一: pool.map() returns its results lazily, in input order");
  {
    cf::ProcessPoolExecutor pool;  // 可以传入整型限制进程数，默认是系统可用的CPU核心数
    auto results = pool.map(fib, inputs);
    print(list(results));
  }

  print("--- 方法二: pool.submit() returns a Future; result() blocks until it is done");
  {
    cf::ProcessPoolExecutor pool;
    cf::Future<long> future_result = pool.submit(fib, 30);
    long r = future_result.result();
    print(r);
  }

  print("--- 方法三: add_done_callback() runs when_done() once the Future is done, without blocking");
  {
    cf::ProcessPoolExecutor pool;
    cf::Future<long> future_result = pool.submit(fib, 30);
    future_result.add_done_callback(when_done);
  }  // the end of the with block waits for fib(30), and so for the callback

  print("--- CPU-bound work: one process, then a ProcessPoolExecutor(2)");
  print(timing::machine_text());
  print("mp::cpu_count() =", mp::cpu_count());
  const std::vector<int> timed_inputs = {38, 38, 38, 38};
  std::string sequential_results, pooled_results;
  auto sequential = [&] {
    std::vector<long> results;
    for (int n : timed_inputs) results.push_back(fib(n));  // the seed's 普通做法: map(work, data)
    sequential_results = list(results);
  };
  auto pooled = [&] {
    cf::ProcessPoolExecutor pool(2);  // with ProcessPoolExecutor() as pool:
    pooled_results = list(pool.map(fib, timed_inputs));
  };
  auto empty_pool = [] {  // what `pooled` pays besides the work
    cf::ProcessPoolExecutor pool(2);
    for (long r : pool.map(fib, std::vector<int>{1, 1})) (void)r;
  };

  {  // warm-up: the clock speed ramps up
    cf::ProcessPoolExecutor pool(2);
    for (long r : pool.map(fib, std::vector<int>{34, 34, 34, 34})) (void)r;
  }
  constexpr int rounds = 5;
  double one = 1e9, two = 1e9, start_cost = 1e9;
  for (int round = 0; round < rounds; ++round) {
    one = std::min(one, timing::time_it(sequential));
    two = std::min(two, timing::time_it(pooled));
    start_cost = std::min(start_cost, timing::time_it(empty_pool));
  }
  print("map(fib, [38] * 4), one call after another:", sequential_results, "in", one, "s");
  print("pool.map(fib, [38] * 4) on a ProcessPoolExecutor(2):", pooled_results, "in", two, "s");
  print("(best of", rounds, "runs each; a ProcessPoolExecutor(2) started, given 2 tiny tasks and",
        "shut down takes", timing::fixed(start_cost * 1000, 1), "ms of that)");
  print("speed-up with 2 processes: " + timing::speedup_text(one, two, 2) +
        " (4 calls; at most 2x, on 2 free cores)");
}
