// concur/asyncio/queues.hpp — Python's asyncio queues: Queue, PriorityQueue, LifoQueue
// (Lib/asyncio/queues.py, 3.13, with shutdown()).
//
//   aio::Queue<int> q;  aio::Queue<int> q(10);      // maxsize <= 0: unbounded
//   co_await q.put(1);  q.put_nowait(2);            // put_nowait: aio::QueueFull when full
//   int x = co_await q.get();  q.get_nowait();      // get_nowait: aio::QueueEmpty when empty
//   q.task_done();  co_await q.join();              // ValueError: task_done() too many times
//   q.shutdown();  q.shutdown(true);                // aio::QueueShutDown, see below
//   q.qsize();  q.maxsize();  q.empty();  q.full();
//   aio::PriorityQueue<T, Compare = std::less<T>>   // smallest first
//   aio::LifoQueue<T>                               // last in, first out
//
// Contract
// - For the coroutines of one loop: no member may be called from another thread (for a queue
//   shared with threads use a concur::queue queue and aio::get(), queue_bridge.hpp). A queue
//   must outlive every task suspended in it.
// - What suspends: put() while the queue is full (maxsize > 0), get() while it is empty,
//   join() while some item put has not been matched by task_done(). Each returns an aio::Task,
//   so it also goes to create_task, wait_for, gather ... (`aio::wait_for(q.get(), 1s)`).
//   Awaiting outside a task of a running loop throws RuntimeError.
// - Python's semantics: a put wakes the oldest waiting getter, a get the oldest waiting putter;
//   the woken task takes its turn when it runs, and if another task was first (get_nowait()
//   from a task that never waited), it waits again. Waiter lists are FIFO.
// - Cancellation: a get/put cancelled while it waits throws CancelledError (TimeoutError inside
//   an expiring aio::timeout()) and takes or adds nothing. One that was already woken is not
//   thrown at: it completes (takes its item, makes its put) and its task sees the cancellation
//   at its next suspension, so a wake-up is never wasted and no item is lost.
// - shutdown(immediate = false), 3.13: afterwards put()/put_nowait() throw QueueShutDown; get()
//   and get_nowait() still return what is queued and throw QueueShutDown once it is empty;
//   every waiting getter and putter is woken (and throws QueueShutDown unless an item is
//   there for it). shutdown(true) also discards the queued items, counting each as done for
//   join(), and wakes join() when nothing is left unfinished.
// - Items: T may be move-only. put(x) takes its item by value (an lvalue is copied, an rvalue
//   moved; an item whose put throws QueueShutDown or CancelledError is destroyed, as Python drops
//   it). put_nowait(T&&) moves from its argument only when the put succeeds.
// - Throws: QueueFull, QueueEmpty, QueueShutDown (aio errors.hpp), ValueError; whatever T's
//   copy/move or the PriorityQueue's Compare throws (the queue is then unchanged, except that a
//   get whose move of the item throws loses that item).
#pragma once

#include <algorithm>
#include <cstddef>
#include <deque>
#include <functional>
#include <utility>
#include <vector>

#include "concur/asyncio/detail/task_core.hpp"
#include "concur/asyncio/errors.hpp"
#include "concur/asyncio/locks.hpp"
#include "concur/asyncio/task.hpp"
#include "concur/errors.hpp"

namespace concur::asyncio {
namespace detail {

// How a queue keeps its items: push, pop (the next item), size, clear.
template <class T>
class FifoItems {
 public:
  void push(T&& x) { items_.push_back(std::move(x)); }
  T pop() {
    T x(std::move(items_.front()));
    items_.pop_front();
    return x;
  }
  std::size_t size() const noexcept { return items_.size(); }
  void clear() noexcept { items_.clear(); }

 private:
  std::deque<T> items_;
};

template <class T>
class LifoItems {
 public:
  void push(T&& x) { items_.push_back(std::move(x)); }
  T pop() {
    T x(std::move(items_.back()));
    items_.pop_back();
    return x;
  }
  std::size_t size() const noexcept { return items_.size(); }
  void clear() noexcept { items_.clear(); }

 private:
  std::vector<T> items_;
};

// A binary heap with the smallest item (by Compare) first, as Python's heapq.
template <class T, class Compare>
class HeapItems {
 public:
  explicit HeapItems(Compare less = Compare()) : greater_{std::move(less)} {}
  void push(T&& x) {
    items_.push_back(std::move(x));
    try {
      std::push_heap(items_.begin(), items_.end(), greater_);
    } catch (...) {  // Compare threw: take the item back out, the heap is as before
      items_.pop_back();
      throw;
    }
  }
  T pop() {
    std::pop_heap(items_.begin(), items_.end(), greater_);
    T x(std::move(items_.back()));
    items_.pop_back();
    return x;
  }
  std::size_t size() const noexcept { return items_.size(); }
  void clear() noexcept { items_.clear(); }

 private:
  struct Greater {
    Compare less;
    bool operator()(const T& a, const T& b) { return less(b, a); }
  };
  std::vector<T> items_;
  Greater greater_;
};

// The protocol of every aio queue, over how it keeps its items.
template <class T, class Items>
class QueueBase {
 public:
  using value_type = T;

  QueueBase(const QueueBase&) = delete;
  QueueBase& operator=(const QueueBase&) = delete;

  // ---- state ----------------------------------------------------------------------------------
  std::size_t qsize() const noexcept { return items_.size(); }
  long maxsize() const noexcept { return maxsize_; }  // <= 0: unbounded
  bool empty() const noexcept { return items_.size() == 0; }
  bool full() const noexcept {
    return maxsize_ > 0 && items_.size() >= static_cast<std::size_t>(maxsize_);
  }
  bool is_shutdown() const noexcept { return shutdown_; }

  // ---- put ------------------------------------------------------------------------------------
  // Suspends while the queue is full. QueueShutDown after shutdown().
  Task<void> put(T item) {
    for (;;) {
      if (shutdown_) throw QueueShutDown();
      if (!full()) {
        push(std::move(item));
        co_return;
      }
      ListWait w(putters_);
      co_await w;  // woken by a get (or shutdown): look again
    }
  }
  // QueueFull when full, QueueShutDown after shutdown(); x is untouched then.
  void put_nowait(const T& x) {
    check_put();
    T copy(x);
    push(std::move(copy));
  }
  void put_nowait(T&& x) {
    check_put();
    push(std::move(x));
  }

  // ---- get ------------------------------------------------------------------------------------
  // Suspends while the queue is empty. QueueShutDown once it is empty and shut down.
  Task<T> get() {
    for (;;) {
      if (!empty()) co_return take();
      if (shutdown_) throw QueueShutDown();
      ListWait w(getters_);
      co_await w;  // woken by a put (or shutdown): look again
    }
  }
  // QueueEmpty when empty (QueueShutDown when also shut down).
  T get_nowait() {
    if (empty()) {
      if (shutdown_) throw QueueShutDown();
      throw QueueEmpty();
    }
    return take();
  }

  // ---- tasks ----------------------------------------------------------------------------------
  // One item got earlier is processed. ValueError if more than were put.
  void task_done() {
    if (unfinished_ == 0) throw ValueError("task_done() called too many times");
    if (--unfinished_ == 0) joiners_.wake_all();
  }
  // Suspends until every item put has been matched by task_done() (or discarded by
  // shutdown(true)).
  Task<void> join() {
    if (unfinished_ > 0) {
      ListWait w(joiners_);
      co_await w;
    }
  }

  // ---- shutdown -------------------------------------------------------------------------------
  void shutdown(bool immediate = false) noexcept {
    shutdown_ = true;
    if (immediate) {
      const std::size_t n = items_.size();
      items_.clear();
      unfinished_ -= std::min(n, unfinished_);
      if (unfinished_ == 0) joiners_.wake_all();
    }
    getters_.wake_all();  // each looks again: an item, or QueueShutDown
    putters_.wake_all();
  }

 protected:
  explicit QueueBase(long maxsize, Items items = Items())
      : items_(std::move(items)), maxsize_(maxsize) {}
  ~QueueBase() = default;

 private:
  void check_put() const {
    if (shutdown_) throw QueueShutDown();
    if (full()) throw QueueFull();
  }
  void push(T&& x) {
    items_.push(std::move(x));
    ++unfinished_;
    getters_.wake_one();  // Python's _wakeup_next(self._getters)
  }
  T take() {
    T x = items_.pop();
    putters_.wake_one();  // Python's _wakeup_next(self._putters)
    return x;
  }

  Items items_;
  const long maxsize_;
  std::size_t unfinished_ = 0;
  bool shutdown_ = false;
  WaitList getters_;
  WaitList putters_;
  WaitList joiners_;
};

}  // namespace detail

// asyncio.Queue: first in, first out.
template <class T>
class Queue : public detail::QueueBase<T, detail::FifoItems<T>> {
 public:
  explicit Queue(long maxsize = 0) : detail::QueueBase<T, detail::FifoItems<T>>(maxsize) {}
};

// asyncio.PriorityQueue: the smallest item (by Compare) first.
template <class T, class Compare = std::less<T>>
class PriorityQueue : public detail::QueueBase<T, detail::HeapItems<T, Compare>> {
 public:
  explicit PriorityQueue(long maxsize = 0, Compare compare = Compare())
      : detail::QueueBase<T, detail::HeapItems<T, Compare>>(
            maxsize, detail::HeapItems<T, Compare>(std::move(compare))) {}
};

// asyncio.LifoQueue: last in, first out.
template <class T>
class LifoQueue : public detail::QueueBase<T, detail::LifoItems<T>> {
 public:
  explicit LifoQueue(long maxsize = 0) : detail::QueueBase<T, detail::LifoItems<T>>(maxsize) {}
};

}  // namespace concur::asyncio
