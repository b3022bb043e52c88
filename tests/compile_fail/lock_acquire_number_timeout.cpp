// lock.acquire(True, 0.05) written with the timeout as a number.
// expect: the timeout is a std::chrono duration, not a number
#include <chrono>
#include <concur/threading.hpp>
bool f(concur::threading::RLock& lock) {
#ifdef CONCUR_CONTROL
  return lock.acquire(true, std::chrono::duration<double>(0.05));
#else
  return lock.acquire(true, 0.05);  // <- refused here
#endif
}
