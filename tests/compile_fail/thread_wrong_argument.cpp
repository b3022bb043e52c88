// A target called with arguments it does not take.
// expect: the target cannot be called with these arguments
#include <concur/threading.hpp>
void work(int n, int m) { (void)n; (void)m; }
void f() {
#ifdef CONCUR_CONTROL
  concur::threading::Thread t(work, 1, 2);
#else
  concur::threading::Thread t(work, 1);  // <- refused here
#endif
  t.start();
  t.join();
}
