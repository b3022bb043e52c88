// concur/queue/lifo_queue.hpp — LifoQueue<T>: Python's queue.LifoQueue, the last item put is
// the first got. Same protocol and contract as Queue (basic_queue.hpp); the stack is kept
// under concur's futex mutex (locked_core.hpp).
// Happens-before (basic_queue.hpp): the put() of an item happens before the get() that returns
// it returns; task_done() before the join() that counted it returns. Under the lock, shutdown()
// happens before any ShutDown thrown for it, by a get() or by a put().
#pragma once

#include "concur/queue/basic_queue.hpp"
#include "concur/queue/detail/locked_core.hpp"

namespace concur::queue {

template <class T>
class LifoQueue : public detail::BasicQueue<T, detail::LockedCore<T, detail::LifoBuffer<T>>> {
  using Base = detail::BasicQueue<T, detail::LockedCore<T, detail::LifoBuffer<T>>>;

 public:
  // maxsize <= 0: unbounded.
  explicit LifoQueue(long maxsize = 0) : Base(maxsize, Base::capacity_of(maxsize)) {}
};

}  // namespace concur::queue
