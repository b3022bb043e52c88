// Python's map(fn, iterable, timeout=0.5) written with the timeout as a number.
// expect: each input must be a range
#include <chrono>
#include <vector>
#include <concur/futures.hpp>
int twice(int x) { return 2 * x; }
void f(concur::futures::ThreadPoolExecutor& pool, const std::vector<int>& xs) {
#ifdef CONCUR_CONTROL
  for (int n : pool.map(twice, xs, std::chrono::duration<double>(0.5))) (void)n;
#else
  for (int n : pool.map(twice, xs, 0.5)) (void)n;  // <- refused here
#endif
}
