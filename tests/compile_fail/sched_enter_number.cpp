// s.enter(1, 1, fn), Python's enter(delay=1, ...): a number where the delay's duration goes.
// expect: the delay is a std::chrono duration, not a number.*enter\(1s
#include <chrono>
#include <concur/sched.hpp>
using namespace std::chrono_literals;
void f(concur::sched::scheduler& s) {
#ifdef CONCUR_CONTROL
  (void)s.enter(1s, 1, [] {});
#else
  (void)s.enter(1, 1, [] {});  // <- refused here
#endif
}
