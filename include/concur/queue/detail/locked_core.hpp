// concur/queue/detail/locked_core.hpp — queue cores kept under a lock: LIFO, priority, and the FIFO
// behind PollableQueue.
//
// A stack's top and a heap's root are single points every operation must touch, so a lock-free
// version would buy little; these cores keep a plain container under concur's futex mutex
// (detail::Mutex: one CAS to lock, one exchange to unlock, a short spin when contended). The
// blocking layer on top is the same as for the lock-free FIFOs (basic_queue.hpp).
//
// Containers (the Buffer parameter) provide push(T&&), T take() (remove the next item),
// size(). The core also counts successful pushes (pushed(), for task accounting). An Observer is told, under the lock, when the core turns non-empty and empty again:
// PollableQueue keeps its eventfd readable exactly while items are queued.
//
// Thread-safety: every member may be called concurrently. If T's move throws during push, the
// container's own guarantee applies (std::deque, std::vector: the item stays with the caller).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "concur/detail/mutex.hpp"
#include "concur/queue/detail/core.hpp"

namespace concur::queue::detail {

template <class T>
class FifoBuffer {
 public:
  void push(T&& x) { items_.push_back(std::move(x)); }
  T take() {
    T x(std::move(items_.front()));
    items_.pop_front();
    return x;
  }
  std::size_t size() const noexcept { return items_.size(); }

 private:
  std::deque<T> items_;
};

template <class T>
class LifoBuffer {
 public:
  void push(T&& x) { items_.push_back(std::move(x)); }
  T take() {
    T x(std::move(items_.back()));
    items_.pop_back();
    return x;
  }
  std::size_t size() const noexcept { return items_.size(); }

 private:
  std::vector<T> items_;
};

// A binary heap with the smallest item (by Compare) on top, as Python's heapq.
template <class T, class Compare>
class HeapBuffer {
 public:
  void push(T&& x) {
    items_.push_back(std::move(x));
    std::push_heap(items_.begin(), items_.end(), Greater{compare_});
  }
  T take() {
    std::pop_heap(items_.begin(), items_.end(), Greater{compare_});
    T x(std::move(items_.back()));
    items_.pop_back();
    return x;
  }
  std::size_t size() const noexcept { return items_.size(); }

 private:
  // std heaps keep the largest on top; reversing the comparison keeps the smallest there.
  struct Greater {
    Compare& less;
    bool operator()(const T& a, const T& b) const { return less(b, a); }
  };
  std::vector<T> items_;
  Compare compare_;
};

struct NoObserver {
  void became_nonempty() noexcept {}
  void became_empty() noexcept {}
};

template <class T, class Buffer, class Observer = NoObserver>
class LockedCore {
 public:
  // Changes are published by unlocking, not by a seq_cst read-modify-write: notifications
  // after them need EventCount's fence (basic_queue.hpp).
  static constexpr bool kSeqCstClaims = false;

  // capacity 0: unbounded.
  explicit LockedCore(std::size_t capacity = 0) : capacity_(capacity) {}  // 0: unbounded

  // Moves `x` in (kDone), or leaves it untouched: kFull, kClosed.
  PushResult try_push(T& x) {
    concur::detail::MutexGuard guard(mutex_);
    if (closed_) return PushResult::kClosed;
    const std::size_t n = buffer_.size();
    if (capacity_ != 0 && n >= capacity_) return PushResult::kFull;
    buffer_.push(std::move(x));
    pushed_.store(pushed_.load(std::memory_order_relaxed) + 1, std::memory_order_seq_cst);
    if (n == 0) observer_.became_nonempty();
    return PushResult::kDone;
  }

  std::optional<T> try_pop(bool& closed) {
    concur::detail::MutexGuard guard(mutex_);
    const std::size_t n = buffer_.size();
    if (n == 0) {
      closed = closed_;
      return std::nullopt;
    }
    std::optional<T> out(buffer_.take());
    if (n == 1) observer_.became_empty();
    return out;
  }

  std::size_t size() const noexcept {
    concur::detail::MutexGuard guard(mutex_);
    return buffer_.size();
  }

  void close() noexcept {
    concur::detail::MutexGuard guard(mutex_);
    closed_ = true;
  }
  bool closed() const noexcept {
    concur::detail::MutexGuard guard(mutex_);
    return closed_;
  }

  // How many pushes have succeeded so far (monotonic; read without the lock).
  std::uint64_t pushed() const noexcept { return pushed_.load(std::memory_order_seq_cst); }

  Observer& observer() noexcept { return observer_; }
  const Observer& observer() const noexcept { return observer_; }

 private:
  const std::size_t capacity_;
  mutable concur::detail::Mutex mutex_;
  Buffer buffer_;
  Observer observer_;
  std::atomic<std::uint64_t> pushed_{0};  // written under mutex_
  bool closed_ = false;
};

}  // namespace concur::queue::detail
