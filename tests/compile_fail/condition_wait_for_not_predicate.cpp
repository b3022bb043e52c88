// A predicate that is not callable with no arguments.
// expect: pred must be callable with no arguments
#include <concur/threading.hpp>
bool f(concur::threading::Condition& cv, const bool& ready) {
#ifdef CONCUR_CONTROL
  return cv.wait_for([&] { return ready; });
#else
  return cv.wait_for([&](int) { return ready; });  // <- refused here
#endif
}
