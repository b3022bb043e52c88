// An argument of the wrong type.
// expect: fn cannot be called with these arguments
#include <string>
#include <concur/futures.hpp>
int length(const std::string& s) { return static_cast<int>(s.size()); }
int f(concur::futures::ThreadPoolExecutor& pool) {
#ifdef CONCUR_CONTROL
  return pool.submit(length, std::string("abc")).result();
#else
  return pool.submit(length, 42).result();  // <- refused here
#endif
}
