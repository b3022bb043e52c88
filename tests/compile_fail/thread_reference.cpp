// A target taking a reference, given an argument without std::ref: Thread copies its arguments.
// expect: Thread copies its arguments; pass std::ref\(x\)
#include <functional>
#include <concur/threading.hpp>
void increment(int& x) { ++x; }
void f(int& counter) {
#ifdef CONCUR_CONTROL
  concur::threading::Thread t(increment, std::ref(counter));
#else
  concur::threading::Thread t(increment, counter);  // <- refused here
#endif
  t.start();
  t.join();
}
