// concur/queue/pollable_queue.hpp — PollableQueue<T>: a Queue<T> whose fileno() can be handed
// to poll(), select() or epoll next to sockets and other PollableQueues.
//
// The descriptor is an eventfd that is readable exactly while the queue holds an item
// (level-triggered): it is set when a put makes the queue non-empty and cleared when a get
// empties it, both under the queue's lock, so poll() never reports POLLIN for an empty queue
// that stays empty, and never misses a non-empty one. Readiness is only a hint when several
// consumers share the queue: after POLLIN, take the item with get_nowait()/try_get(), which
// fails cleanly if another consumer was first. Do not read or write the descriptor yourself;
// it stays open for the queue's lifetime.
//
// Same protocol and contract as Queue (basic_queue.hpp). The constructor throws
// std::system_error if no eventfd can be created.
// Happens-before (basic_queue.hpp): the put() of an item happens before the get() that returns
// it returns; task_done() before the join() that counted it returns. Under the lock, shutdown()
// happens before any ShutDown thrown for it, by a get() or by a put(). Readiness of fileno()
// orders nothing: an item is made visible only by the get() that returns it.
#pragma once

#include "concur/queue/basic_queue.hpp"
#include "concur/queue/detail/locked_core.hpp"

namespace concur::queue {
namespace detail {

// The LockedCore observer behind PollableQueue (src/queue/pollable_queue.cpp).
class EventFdLevel {
 public:
  EventFdLevel();
  ~EventFdLevel();
  EventFdLevel(const EventFdLevel&) = delete;
  EventFdLevel& operator=(const EventFdLevel&) = delete;

  void became_nonempty() noexcept;  // make the descriptor readable
  void became_empty() noexcept;     // make it unreadable
  [[nodiscard]] int fd() const noexcept { return fd_; }

 private:
  int fd_;
};

}  // namespace detail

template <class T>
class PollableQueue
    : public detail::BasicQueue<T, detail::LockedCore<T, detail::FifoBuffer<T>,
                                                      detail::EventFdLevel>> {
  using Base =
      detail::BasicQueue<T, detail::LockedCore<T, detail::FifoBuffer<T>, detail::EventFdLevel>>;

 public:
  // maxsize <= 0: unbounded.
  explicit PollableQueue(long maxsize = 0) : Base(maxsize, Base::capacity_of(maxsize)) {}

  // A descriptor that polls readable (POLLIN / EPOLLIN) while the queue holds an item.
  [[nodiscard]] int fileno() const noexcept { return this->core_.observer().fd(); }
};

}  // namespace concur::queue
