// Port of seed 001, "简单的并行编程" (In [20] - In [23]), also seed 000, §12.8 "简单的并行编程":
// the CPU-bound fib(30) run on a pool in the seed's three ways — 方法一 pool.map() over
// [30, 30, 30, 30], 方法二 submit() then result(), 方法三 submit() then add_done_callback() —
// and then timed: four calls one after another, against pool.map().
//
// The seeds use ProcessPoolExecutor here (that version is multiprocessing_fib), because
// CPython's GIL lets only one thread run Python code at a time: a thread pool would be no faster
// than a loop for CPU-bound work. C++ has no GIL; a ThreadPoolExecutor runs the calls truly in
// parallel: four calls on two cores take about half the time, on four cores about a quarter. The
// speed-up is printed, not checked (machines vary), next to the number of cores, which bounds it.
// The timing uses fib(38) instead of fib(30): C++ computes fib(30) in about a millisecond (and
// fib(35) in about 10 ms), too short to time against the cost of starting the pool's threads and
// the noise of a shared machine; fib(38) takes about 40 ms. A warm-up comes first, then 5 rounds,
// each timing the loop and the pool back to back; the best time of each counts
// (examples/common/timing.hpp).
// ProcessPoolExecutor() defaults to one process per CPU; the timed pool likewise has one thread
// per core (ThreadPoolExecutor's own default, min(32, cpu_count + 4), is meant for threads that
// wait): more threads than cores buy nothing for CPU-bound work, and on a machine busy with other
// programs the scheduler was seen to crowd three of four threads onto one core.
#include <concur/futures.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "fib.hpp"  // fib() and list(), shared with multiprocessing_fib
#include "print.hpp"
#include "timing.hpp"

namespace cf = concur::futures;

int main() {
  const std::vector<int> inputs = {30, 30, 30, 30};

  print("--- 方法一: pool.map() returns its results lazily, in input order");
  {
    cf::ThreadPoolExecutor pool;
    auto results = pool.map(fib, inputs);
    print(list(results));
  }

  print("--- 方法二: pool.submit() returns a Future; result() blocks until it is done");
  {
    cf::ThreadPoolExecutor pool;
    cf::Future<long> future_result = pool.submit(fib, 30);
    long r = future_result.result();
    print(r);
  }

  print("--- 方法三: add_done_callback() runs when_done() once the Future is done, without blocking");
  {
    auto when_done = [](cf::Future<long> r) { print(r.result()); };
    cf::ThreadPoolExecutor pool;
    cf::Future<long> future_result = pool.submit(fib, 30);
    future_result.add_done_callback(when_done);
  }  // the end of the with block waits for fib(30), and so for the callback

  print("--- CPU-bound work on threads: no GIL, so no ProcessPoolExecutor needed");
  print(timing::machine_text());
  const std::vector<int> timed_inputs = {38, 38, 38, 38};
  const int cores = static_cast<int>(timing::usable_cores());
  std::string sequential_results, pooled_results;
  auto sequential = [&] {
    std::vector<long> results;
    for (int n : timed_inputs) results.push_back(fib(n));  // the seed's 普通做法: map(work, data)
    sequential_results = list(results);
  };
  auto pooled = [&] {
    cf::ThreadPoolExecutor pool(cores);  // with ProcessPoolExecutor() as pool:
    pooled_results = list(pool.map(fib, timed_inputs));
  };

  {  // warm-up: the clock speed ramps up, the first pool threads are made
    cf::ThreadPoolExecutor pool(cores);
    for (long r : pool.map(fib, std::vector<int>{34, 34, 34, 34})) (void)r;
  }
  constexpr int rounds = 5;
  double one = 1e9, many = 1e9;
  for (int round = 0; round < rounds; ++round) {
    one = std::min(one, timing::time_it(sequential));
    many = std::min(many, timing::time_it(pooled));
  }
  print("map(fib, [38] * 4), one call after another:", sequential_results, "in", one, "s");
  print("pool.map(fib, [38] * 4) on a ThreadPoolExecutor(" + std::to_string(cores) + "):",
        pooled_results, "in", many, "s");
  print("(best of", rounds, "runs each)");
  print("speed-up: " + timing::speedup_text(one, many, static_cast<unsigned>(cores)) +
        " (4 calls; at most the number of cores. In CPython a thread pool would give about 1x)");
}
