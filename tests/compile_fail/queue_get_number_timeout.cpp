// q.get(True, 0.5) written with the timeout as a number.
// expect: the timeout is a std::chrono duration, not a number
#include <chrono>
#include <concur/queue.hpp>
using namespace std::chrono_literals;
int f(concur::queue::LifoQueue<int>& q) {
#ifdef CONCUR_CONTROL
  return q.get(true, 500ms);
#else
  return q.get(true, 0.5);  // <- refused here
#endif
}
