// q.get(timeout=0.5) written as get(0.5): the number would convert to `true`.
// expect: `block` is a bool, not a timeout.*500ms
#include <chrono>
#include <concur/queue.hpp>
using namespace std::chrono_literals;
int f(concur::queue::Queue<int>& q) {
#ifdef CONCUR_CONTROL
  return q.get(500ms);
#else
  return q.get(0.5);  // <- refused here
#endif
}
