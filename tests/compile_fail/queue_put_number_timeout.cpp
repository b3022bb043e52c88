// q.put(item, True, 0.5) written with the timeout as a number.
// expect: the timeout is a std::chrono duration, not a number
#include <concur/queue.hpp>
void f(concur::queue::PriorityQueue<int>& q) {
#ifdef CONCUR_CONTROL
  q.put(3, true, std::chrono::duration<double>(0.5));
#else
  q.put(3, true, 0.5);  // <- refused here
#endif
}
