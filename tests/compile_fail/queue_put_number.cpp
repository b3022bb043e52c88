// q.put(item, timeout=0.5) written as put(item, 0.5).
// expect: `block` is a bool, not a timeout
#include <chrono>
#include <string>
#include <concur/queue.hpp>
using namespace std::chrono_literals;
void f(concur::queue::Queue<std::string>& q, const std::string& item) {
#ifdef CONCUR_CONTROL
  q.put(item, 500ms);
#else
  q.put(item, 0.5);  // <- refused here
#endif
}
