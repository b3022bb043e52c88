// concur/queue/queue.hpp — Queue<T>: Python's queue.Queue, FIFO, optionally bounded.
//
//   cq::Queue<int> q;          // unbounded
//   cq::Queue<int> q(1024);    // at most 1024 items: put blocks (or throws Full) when full
//
// The full protocol (put/get forms, timeouts, task_done/join, shutdown) and its contract are
// in basic_queue.hpp. Items are kept in a lock-free FIFO (fifo_core.hpp): producers and
// consumers never wait on a lock, only, when the queue is empty or full, for each other.
// For an item type whose move constructor may throw, the FIFO is kept under a lock instead
// (locked_core.hpp; same semantics): a lock-free cell cannot take an item back from a move that
// threw, the locked core copies the item out while it is still queued (basic_queue.hpp,
// "Exceptions").
// Happens-before (basic_queue.hpp): the put() of an item happens before the get() that returns
// it returns; task_done() before the join() that counted it returns; shutdown() before a get()
// or put() throws ShutDown for it.
#pragma once

#include <type_traits>

#include "concur/queue/basic_queue.hpp"
#include "concur/queue/detail/fifo_core.hpp"
#include "concur/queue/detail/locked_core.hpp"

namespace concur::queue {
namespace detail {
template <class T>
using FifoCoreFor = std::conditional_t<std::is_nothrow_move_constructible_v<T>, FifoCore<T>,
                                       LockedCore<T, FifoBuffer<T>>>;
}  // namespace detail

template <class T>
class Queue : public detail::BasicQueue<T, detail::FifoCoreFor<T>> {
  using Base = detail::BasicQueue<T, detail::FifoCoreFor<T>>;

 public:
  // maxsize <= 0: unbounded.
  explicit Queue(long maxsize = 0) : Base(maxsize, Base::capacity_of(maxsize)) {}
};

}  // namespace concur::queue
