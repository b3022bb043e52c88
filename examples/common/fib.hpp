// What the ports of seed 001 "简单的并行编程" (seed 000, §12.8) share: the thread version
// (examples/futures/fib.cpp) and the process version (examples/multiprocessing/fib.cpp) run the
// seed's fib() and print its results as the seed's print(list(results)) does.
#pragma once

#include <string>

// def fib(n): return 1 if n < 2 else fib(n - 1) + fib(n - 2). A plain function: a process pool
// can run it too (its argument and result cross between processes).
inline long fib(int n) {
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
