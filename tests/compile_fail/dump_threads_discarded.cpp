// dump_threads() returns the report; as a statement it would silently do nothing.
// flags: -Werror=unused-result
// expect: (ignoring return value|ignoring return value of function declared with .nodiscard.)
#include <iostream>
#include <concur/threading.hpp>
void f() {
#ifdef CONCUR_CONTROL
  std::cout << concur::threading::dump_threads();
#else
  concur::threading::dump_threads();  // <- refused here
#endif
}
