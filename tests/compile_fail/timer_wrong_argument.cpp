// A Timer's function called with an argument it does not take.
// expect: the target cannot be called with these arguments
#include <chrono>
#include <string>
#include <concur/threading.hpp>
using namespace std::chrono_literals;
void hello(const std::string& who) { (void)who; }
void f() {
#ifdef CONCUR_CONTROL
  concur::threading::Timer t(10ms, hello, std::string("world"));
#else
  concur::threading::Timer t(10ms, hello, 42);  // <- refused here
#endif
  t.start();
  t.join();
}
