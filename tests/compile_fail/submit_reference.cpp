// A function taking a reference, submitted without std::ref: submit copies its arguments.
// expect: submit copies its arguments; pass std::ref\(x\)
#include <functional>
#include <concur/futures.hpp>
void increment(int& x) { ++x; }
void f(concur::futures::ThreadPoolExecutor& pool, int& counter) {
#ifdef CONCUR_CONTROL
  pool.submit(increment, std::ref(counter)).result();
#else
  pool.submit(increment, counter).result();  // <- refused here
#endif
}
