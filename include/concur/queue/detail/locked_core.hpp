// concur/queue/detail/locked_core.hpp — queue cores kept under a lock: LIFO, priority, and the FIFO
// behind PollableQueue.
//
// A stack's top and a heap's root are single points every operation must touch, so a lock-free
// version would buy little; these cores keep a plain container under concur's futex mutex
// (detail::Mutex: one CAS to lock, one exchange to unlock, a short spin when contended). The
// blocking layer on top is the same as for the lock-free FIFOs (basic_queue.hpp).
//
// Containers (the Buffer parameter) provide push(T&&), prepare_take()/commit_take()/
// cancel_take() (name the next item, then remove it or leave it), size(). The core also counts successful pushes (pushed(), for task accounting). An Observer is told, under the lock, when the core turns non-empty and empty again:
// PollableQueue keeps its eventfd readable exactly while items are queued.
//
// Thread-safety: every member may be called concurrently.
// Exception safety (the queues choose this core for any T whose move can throw, queue.hpp,
// simple_queue.hpp): a push that throws (std::bad_alloc, T's move, Compare) leaves the core as
// it was; a get through Taking that throws leaves the item in the core.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstddef>
#include <deque>
#include <exception>
#include <memory>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "concur/detail/mutex.hpp"
#include "concur/queue/detail/core.hpp"

namespace concur::queue::detail {

// The containers. Each gives the strong guarantee: push(x) either adds x or throws and changes
// nothing (std::bad_alloc, T's move, Compare); prepare_take() names the next item without
// removing it (it may throw, e.g. Compare, and then changes nothing); after it, exactly one of
// commit_take() (removes that item; noexcept) or cancel_take() (leaves it; noexcept) follows,
// so that a caller can build its copy of the item first and remove it only once that succeeded.

template <class T>
class FifoBuffer {
 public:
  void push(T&& x) { items_.push_back(std::move(x)); }  // std::deque: strong guarantee
  T& prepare_take() noexcept { return items_.front(); }
  void commit_take() noexcept { items_.pop_front(); }
  void cancel_take() noexcept {}
  std::size_t size() const noexcept { return items_.size(); }

 private:
  std::deque<T> items_;
};

template <class T>
class LifoBuffer {
 public:
  // std::vector: strong guarantee unless T is move-only with a throwing move (then a throw
  // while growing may leave moved-from items: the basic guarantee, as std::vector's own).
  void push(T&& x) { items_.push_back(std::move(x)); }
  T& prepare_take() noexcept { return items_.back(); }
  void commit_take() noexcept { items_.pop_back(); }
  void cancel_take() noexcept {}
  std::size_t size() const noexcept { return items_.size(); }

 private:
  std::vector<T> items_;
};

// A binary heap with the smallest item (by Compare) on top, as Python's heapq.
//
// Exception safety: every comparison is made before anything moves. push() finds the new
// item's place by comparing it, unmoved, with its would-be ancestors, then appends it and
// rotates it up that path with swaps; prepare_take() finds where the last item will settle once
// the root leaves, and commit_take() only swaps. Swaps cannot throw: items whose move can are
// kept behind a std::unique_ptr (one allocation per item, made before the heap changes). So a
// Compare or a move that throws leaves the heap exactly as it was (std::push_heap/pop_heap
// would leave it half-sifted, with the new item in it).
template <class T, class Compare>
class HeapBuffer {
  static constexpr bool kDirect =
      std::is_nothrow_move_constructible_v<T> && std::is_nothrow_move_assignable_v<T>;
  using Slot = std::conditional_t<kDirect, T, std::unique_ptr<T>>;
  static T& item(Slot& s) noexcept {
    if constexpr (kDirect) return s; else return *s;
  }
  static const T& item(const Slot& s) noexcept {
    if constexpr (kDirect) return s; else return *s;
  }
  static constexpr std::size_t kMaxDepth = 64;  // a vector cannot hold 2^64 items

 public:
  void push(T&& x) {
    // Where x goes: up from the new last place while it is smaller than the parent.
    std::size_t path[kMaxDepth];
    std::size_t depth = 0;
    for (std::size_t i = items_.size(); i > 0;) {
      const std::size_t parent = (i - 1) / 2;
      if (!compare_(x, item(items_[parent]))) break;
      path[depth++] = parent;
      i = parent;
    }
    if constexpr (kDirect) {
      items_.push_back(std::move(x));  // T's move cannot throw: only the growth can, first
    } else {
      // Grow first, so that the push_back of the pointer cannot throw once x is moved into it.
      if (items_.size() == items_.capacity())
        items_.reserve(items_.capacity() < 8 ? 8 : 2 * items_.capacity());
      items_.push_back(std::make_unique<T>(std::move(x)));
    }
    std::size_t i = items_.size() - 1;
    for (std::size_t d = 0; d < depth; ++d) {
      std::swap(items_[i], items_[path[d]]);
      i = path[d];
    }
  }

  T& prepare_take() {
    // Where the last item settles when it replaces the root: down while a child is smaller.
    depth_ = 0;
    const std::size_t n = items_.size() - 1;  // the heap without the root's old place
    if (n > 0) {
      const T& last = item(items_[n]);
      for (std::size_t i = 0;;) {
        std::size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && compare_(item(items_[c + 1]), item(items_[c]))) ++c;
        if (!compare_(item(items_[c]), last)) break;
        path_[depth_++] = c;
        i = c;
      }
    }
    return item(items_.front());
  }
  void commit_take() noexcept {
    std::swap(items_.front(), items_.back());
    items_.pop_back();
    std::size_t i = 0;
    for (std::size_t d = 0; d < depth_; ++d) {
      std::swap(items_[i], items_[path_[d]]);
      i = path_[d];
    }
  }
  void cancel_take() noexcept {}
  std::size_t size() const noexcept { return items_.size(); }

 private:
  std::vector<Slot> items_;
  Compare compare_;
  std::size_t path_[kMaxDepth];  // prepare_take()'s path, for commit_take() (under the lock)
  std::size_t depth_ = 0;
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

  // For a T whose move cannot throw (nothing is lost between the container and `out`).
  std::optional<T> try_pop(bool& closed) {
    concur::detail::MutexGuard guard(mutex_);
    const std::size_t n = buffer_.size();
    if (n == 0) {
      closed = closed_;
      return std::nullopt;
    }
    std::optional<T> out(std::move(buffer_.prepare_take()));
    buffer_.commit_take();
    if (n == 1) observer_.became_empty();
    return out;
  }

  // A get that leaves the item in the queue if building the caller's copy throws. Holds the
  // core's lock while the caller constructs its result from item(); when the Taking is
  // destroyed, the item leaves the core only if no new exception is in flight (the
  // construction, or the copy of a returned optional, succeeded), and `taken` says so:
  //   Taking t(core, taken);  if (t.has_item()) return T(t.item());
  // item() is an rvalue when T's move cannot throw, otherwise a const T& (copied: a copy that
  // throws leaves the original in place; a move-only T whose move throws may leave it moved
  // from).
  class Taking {
   public:
    Taking(LockedCore& core, bool& taken)
        : core_(core), taken_(taken), exceptions_(std::uncaught_exceptions()) {
      core_.mutex_.lock();
      n_ = core_.buffer_.size();
      if (n_ == 0) return;
      try {
        item_ = &core_.buffer_.prepare_take();  // Compare may throw
      } catch (...) {
        core_.mutex_.unlock();
        throw;
      }
    }
    Taking(const Taking&) = delete;
    Taking& operator=(const Taking&) = delete;
    ~Taking() {
      if (item_) {
        if (std::uncaught_exceptions() == exceptions_) {
          core_.buffer_.commit_take();
          if (n_ == 1) core_.observer_.became_empty();
          taken_ = true;
        } else {
          core_.buffer_.cancel_take();
        }
      }
      core_.mutex_.unlock();
    }
    bool has_item() const noexcept { return item_ != nullptr; }
    bool closed() const noexcept { return core_.closed_; }  // (when empty: the get's ShutDown)
    decltype(auto) item() noexcept { return std::move_if_noexcept(*item_); }

   private:
    LockedCore& core_;
    bool& taken_;
    const int exceptions_;
    std::size_t n_ = 0;
    T* item_ = nullptr;
  };

  // Something to take, or the core is closed (a get would not wait): the waiting predicate of a
  // get that takes through Taking.
  bool has_item_or_closed() const noexcept {
    concur::detail::MutexGuard guard(mutex_);
    return buffer_.size() > 0 || closed_;
  }

  // Destroys the next item (shutdown(true)); false when empty. Nothing is moved.
  bool discard_front() {
    concur::detail::MutexGuard guard(mutex_);
    const std::size_t n = buffer_.size();
    if (n == 0) return false;
    buffer_.prepare_take();  // Compare may throw: then nothing was removed
    buffer_.commit_take();
    if (n == 1) observer_.became_empty();
    return true;
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
