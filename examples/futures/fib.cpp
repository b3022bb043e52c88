// Port of seed 001, "简单的并行编程" (In [20] - In [23]), also seed 000, §12.8 "简单的并行编程":
// the CPU-bound fib(30) run on a pool in the seed's three ways — 方法一 pool.map() over
// [30, 30, 30, 30], 方法二 submit() then result(), 方法三 submit() then add_done_callback() —
// and then timed: four calls one after another, against pool.map() (best of 3 runs each).
//
// The seeds use ProcessPoolExecutor here, because CPython's GIL lets only one thread run Python
// code at a time: a thread pool would be no faster than a loop for CPU-bound work. C++ has no
// GIL; a ThreadPoolExecutor runs the calls truly in parallel (about 2x with two cores, up to 4x
// with four). The speed-up is printed, not checked: machines vary.
// The timing uses fib(35) instead of fib(30): C++ computes fib(30) in about a millisecond, too
// short to compare with the cost of starting the pool's threads; fib(35) is about 11x the work.
// ProcessPoolExecutor() defaults to one process per CPU; the thread pool's default
// (min(32, cpu_count + 4) threads) has room for all four calls.
#include <concur/futures.hpp>

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "print.hpp"

namespace cf = concur::futures;

long fib(int n) {
  if (n < 2) return 1;
  return fib(n - 1) + fib(n - 2);
}

// print(list(results)): [1346269, 1346269, 1346269, 1346269]
template <class Range>
std::string list(Range&& results) {
  std::string s = "[";
  const char* sep = "";
  for (long r : results) {
    s += sep + std::to_string(r);
    sep = ", ";
  }
  return s + "]";
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

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
  const std::vector<int> timed_inputs = {35, 35, 35, 35};
  // Each version runs 3 times and the fastest run counts, so that a busy machine disturbs the
  // comparison less.
  double one = 1e9, pooled = 1e9;
  std::string sequential_results, pooled_results;
  for (int round = 0; round < 3; ++round) {
    auto start = std::chrono::steady_clock::now();
    std::vector<long> results;
    for (int n : timed_inputs) results.push_back(fib(n));  // the seed's 普通做法: map(work, data)
    one = std::min(one, seconds_since(start));
    sequential_results = list(results);

    start = std::chrono::steady_clock::now();
    {
      cf::ThreadPoolExecutor pool;
      pooled_results = list(pool.map(fib, timed_inputs));
    }
    pooled = std::min(pooled, seconds_since(start));
  }
  print("map(fib, [35] * 4), one call after another:", sequential_results, "in", one, "s");
  print("pool.map(fib, [35] * 4) on a ThreadPoolExecutor:", pooled_results, "in", pooled, "s");

  std::ostringstream speedup;
  speedup << std::fixed << std::setprecision(1) << one / pooled;
  print("speed-up: " + speedup.str() + "x (this machine has " +
        std::to_string(std::thread::hardware_concurrency()) +
        " hardware threads; in CPython a thread pool would give about 1x here)");
}
