// lock.acquire(timeout=0.05) written as acquire(0.05): the number would convert to `true`.
// expect: `blocking` is a bool, not a timeout.*50ms
#include <chrono>
#include <concur/threading.hpp>
using namespace std::chrono_literals;
bool f(concur::threading::Lock& lock) {
#ifdef CONCUR_CONTROL
  return lock.acquire(true, 50ms);
#else
  return lock.acquire(0.05);  // <- refused here
#endif
}
