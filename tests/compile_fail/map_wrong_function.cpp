// A function that cannot take the ranges' elements.
// expect: fn cannot be called with \(a copy of\) one element of each range
#include <string>
#include <vector>
#include <concur/futures.hpp>
int length(const std::string& s) { return static_cast<int>(s.size()); }
void f(concur::futures::ThreadPoolExecutor& pool) {
#ifdef CONCUR_CONTROL
  for (int n : pool.map(length, std::vector<std::string>{"a", "bc"})) (void)n;
#else
  for (int n : pool.map(length, std::vector<int>{1, 2})) (void)n;  // <- refused here
#endif
}
