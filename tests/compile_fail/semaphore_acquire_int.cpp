// An integer where the blocking flag goes (Python accepts acquire(1); concur takes only a bool).
// expect: `blocking` is a bool, not a timeout
#include <concur/threading.hpp>
bool f(concur::threading::Semaphore& sem) {
#ifdef CONCUR_CONTROL
  return sem.acquire(true);
#else
  return sem.acquire(1);  // <- refused here
#endif
}
