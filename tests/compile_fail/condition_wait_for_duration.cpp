// std::condition_variable's reflex cv.wait_for(100ms): Python's wait_for takes a predicate.
// expect: to wait with only a timeout write cv.wait\(100ms\)
#include <chrono>
#include <concur/threading.hpp>
using namespace std::chrono_literals;
bool f(concur::threading::Condition& cv) {
#ifdef CONCUR_CONTROL
  return cv.wait(100ms);
#else
  return cv.wait_for(100ms);  // <- refused here
#endif
}
