// s.run(0), Python's run(blocking=0) written as a number: it would mean `true` if it compiled.
// expect: `blocking` is a bool.*run\(false\)
#include <concur/sched.hpp>
void f(concur::sched::scheduler& s) {
#ifdef CONCUR_CONTROL
  (void)s.run(false);
#else
  (void)s.run(0);  // <- refused here
#endif
}
