// concur/queue/simple_queue.hpp — SimpleQueue<T>: Python's queue.SimpleQueue, an unbounded
// FIFO without task accounting or shutdown, the lightest queue.
//
//   put(x), put(x, block), put(x, block, timeout)   never block (unbounded); block and
//                                                    timeout are accepted and ignored, as in
//                                                    Python
//   put_nowait(x), try_put(x)                       the same
//   get(), get(block), get(block, timeout), get(timeout), get_nowait()   Empty as for Queue
//   try_get(), try_get(timeout)                     nullopt instead of Empty
//   qsize(), empty()
// Thread-safety, timeouts and conservation: as Queue (basic_queue.hpp). Items are kept in the
// lock-free segmented FIFO (segmented_fifo.hpp), or under a lock for an item type whose move
// constructor may throw (locked_core.hpp: so that a get whose copy throws leaves the item
// queued; basic_queue.hpp, "Exceptions").
// Happens-before: everything a thread did before the put() of an item happens before what the
// thread whose get() returns that item does after it returns. qsize() and empty() are momentary
// snapshots and order nothing.
#pragma once

#include <type_traits>

#include "concur/queue/basic_queue.hpp"
#include "concur/queue/detail/locked_core.hpp"
#include "concur/queue/detail/segmented_fifo.hpp"

namespace concur::queue {
namespace detail {
template <class T>
using SimpleCoreFor = std::conditional_t<std::is_nothrow_move_constructible_v<T>,
                                         SegmentedFifo<T>, LockedCore<T, FifoBuffer<T>>>;
}  // namespace detail

template <class T>
class SimpleQueue : private detail::BasicQueue<T, detail::SimpleCoreFor<T>, false> {
  using Base = detail::BasicQueue<T, detail::SimpleCoreFor<T>, false>;

 public:
  using value_type = T;

  SimpleQueue() : Base(0) {}

  using Base::empty;
  using Base::get;
  using Base::get_nowait;
  using Base::put;
  using Base::put_nowait;
  using Base::qsize;
  using Base::try_get;
  using Base::try_get_until;
  using Base::try_put;
  // For concur's own modules (aio::get, asyncio/queue_bridge.hpp).
  using Base::not_empty_waiters;
  using Base::try_get_or_shut_down;
};

}  // namespace concur::queue
