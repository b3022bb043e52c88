// concur/queue/priority_queue.hpp — PriorityQueue<T, Compare>: Python's queue.PriorityQueue,
// the smallest item (by Compare, std::less by default) is got first; items that compare equal
// come out in no particular order, as with Python's heapq. To order by a priority and keep
// insertion order among equals, put (priority, sequence, payload) tuples, as Python code does.
// Same protocol and contract as Queue (basic_queue.hpp); the heap is kept under concur's futex
// mutex (locked_core.hpp). A Compare that throws fails that put() or get() only: the heap is
// left exactly as it was (basic_queue.hpp, "Exceptions").
// Happens-before (basic_queue.hpp): the put() of an item happens before the get() that returns
// it returns; task_done() before the join() that counted it returns. Under the lock, shutdown()
// happens before any ShutDown thrown for it, by a get() or by a put().
#pragma once

#include <functional>

#include "concur/queue/basic_queue.hpp"
#include "concur/queue/detail/locked_core.hpp"

namespace concur::queue {

template <class T, class Compare = std::less<T>>
class PriorityQueue
    : public detail::BasicQueue<T, detail::LockedCore<T, detail::HeapBuffer<T, Compare>>> {
  using Base = detail::BasicQueue<T, detail::LockedCore<T, detail::HeapBuffer<T, Compare>>>;

 public:
  // maxsize <= 0: unbounded.
  explicit PriorityQueue(long maxsize = 0) : Base(maxsize, Base::capacity_of(maxsize)) {}
};

}  // namespace concur::queue
