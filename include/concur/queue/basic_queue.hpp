// concur/queue/basic_queue.hpp — Python's queue.Queue protocol over any queue core.
//
// Every concur queue is a BasicQueue: the same put/get forms, timeouts, task accounting and
// shutdown, in one place, over a core that only knows how to store items:
//
//   Core                       used by
//   FifoCore (lock-free)       Queue, PollableQueue's sibling Queue
//   SegmentedFifo (lock-free)  SimpleQueue
//   LockedCore<...>            LifoQueue, PriorityQueue, PollableQueue
//
// A core (core.hpp) stores items: try_push (kDone, kFull, kClosed; moves x only on kDone),
// try_pop (nullopt when empty, and whether it was also closed), close(), size() and pushed(),
// the number of successful pushes so far. Unfinished tasks are pushed() minus finished_
// (task_done() calls and discarded items), so a put pays for no counter of its own.
// shutdown() closes the core: a push and the close are ordered by the core itself, so every
// put either lands before the shutdown (and a get still finds its item) or throws ShutDown. This layer adds the waiting: a get that finds the
// queue empty waits on not_empty_, a put that finds it full waits on not_full_, join() waits on
// all_done_ (detail::EventCount: a short spin, then a futex sleep on a FIFO of parked waiters).
// A successful put wakes one getter, a successful get one putter, only when someone sleeps: the
// fast path is the core's own operation plus one load (and a fence for cores under a lock).
//
// No lost wake-up: a waiter links itself, fences, and re-checks the core (EventCount); a
// notifier changes the core and then reads whether anyone waits. The lock-free cores make
// every change that a waiter waits for with a seq_cst read-modify-write (the claim of a slot
// or cell) and judge empty/full with seq_cst loads of it (Core::kSeqCstClaims), which orders
// the two sides without a fence on the put/get fast path.
//
// Semantics are CPython 3.13's Lib/queue.py:
//  - put(x, block=true, timeout) / get(block=true, timeout): block=false or a zero/negative
//    timeout tries once; the timeout is ignored when block is false, as in Python.
//    Full / Empty when the try (or the wait) fails.
//  - Every put counts an unfinished task, task_done() finishes one (ValueError when there is
//    none), join() waits until none is left.
//  - shutdown(): later puts throw ShutDown; gets take what is left, then throw ShutDown; blocked
//    puts and gets wake and throw ShutDown. shutdown(true) also discards the queued items
//    (counting each as done) and wakes join(). Shutting down is final.
//  - try_put / try_get report the same outcomes as false / nullopt and never throw Full, Empty
//    or ShutDown.
// A put that fails (Full, ShutDown, timeout) leaves the caller's item untouched: an rvalue is
// moved from only when the put succeeds.
// Exceptions (strong guarantee): a put that throws (std::bad_alloc, the item's copy or move, a
// PriorityQueue's Compare) leaves the queue as it was; a get that throws leaves the item in the
// queue. For an item whose move cannot throw the cores only move. For one whose move can, every
// queue keeps its items under a lock (locked_core.hpp) and a get builds its result by copying
// the queued item (move_if_noexcept) directly into the caller's object, removing it only once
// that succeeded. Only a move-only item whose move throws can be left moved-from.
//
// Happens-before: everything a thread did before the put() of an item happens before what the
// thread whose get() returns that item does after it returns (the core publishes the item with
// a release and takes it with an acquire, or under its lock). Everything a thread did before
// task_done() (or a shutdown(true) that discards an item) happens before any join() that
// counted it returns. What a thread did before shutdown() happens before a get() or put() that
// observed the shutdown throws ShutDown, and before is_shutdown() returns true. qsize(), empty()
// and full() are momentary snapshots and order nothing: an item they count is made visible only
// by the get() that returns it.
// Thread-safety: every member may be called concurrently from any number of threads, except
// the destructor (no call may be in flight). Items left at destruction are destroyed.
// Conservation: every item put is returned by exactly one get, or discarded by
// shutdown(true), never both, never neither.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

#include "concur/deadline.hpp"
#include "concur/detail/block_flag.hpp"
#include "concur/detail/event_count.hpp"
#include "concur/errors.hpp"
#include "concur/queue/errors.hpp"
#include "concur/queue/detail/core.hpp"

namespace concur::queue::detail {

using concur::Deadline;

// How a thread blocked in a queue's get() or put() appears in thread dumps (wait_site.hpp).
inline constexpr concur::detail::WaitKind kQueueWait{"queue", "Queue", false, false};

inline Deadline block_deadline(bool block) noexcept {
  return block ? Deadline::never() : Deadline::immediate();
}
template <class Rep, class Period>
Deadline block_deadline(bool block, std::chrono::duration<Rep, Period> timeout) noexcept {
  return block ? Deadline::after(timeout) : Deadline::immediate();
}

// kTracksTasks: Queue-like (task_done/join); SimpleQueue has no task accounting.
template <class T, class Core, bool kTracksTasks = true>
class BasicQueue {
  // A T whose move can throw is taken through the core's Taking (locked_core.hpp): its get
  // copies the item while it is still queued, so a throw leaves it there. The queues choose
  // such a core for such a T (queue.hpp, simple_queue.hpp).
  static constexpr bool kStrongGet = !std::is_nothrow_move_constructible_v<T>;
  static_assert(!kStrongGet || requires { typename Core::Taking; },
                "a queue of items whose move can throw needs a core that can take strongly");

 public:
  using value_type = T;

  BasicQueue(const BasicQueue&) = delete;
  BasicQueue& operator=(const BasicQueue&) = delete;

  // ---- put ----------------------------------------------------------------------------------
  void put(const T& x, bool block = true) { put_copy(x, block_deadline(block)); }
  void put(T&& x, bool block = true) { check_put(put_until(x, block_deadline(block))); }
  template <class Rep, class Period>
  void put(const T& x, bool block, std::chrono::duration<Rep, Period> timeout) {
    put_copy(x, block_deadline(block, timeout));
  }
  template <class Rep, class Period>
  void put(T&& x, bool block, std::chrono::duration<Rep, Period> timeout) {
    check_put(put_until(x, block_deadline(block, timeout)));
  }
  template <class Rep, class Period>
  void put(const T& x, std::chrono::duration<Rep, Period> timeout) {
    put_copy(x, Deadline::after(timeout));
  }
  template <class Rep, class Period>
  void put(T&& x, std::chrono::duration<Rep, Period> timeout) {
    check_put(put_until(x, Deadline::after(timeout)));
  }
  // Numbers where the flag or a duration belongs: rejected at compile time (block_flag.hpp).
  template <class U, concur::detail::NumberNotBool N, class... Rest>
  void put(U&&, N, Rest&&...) {
    static_assert(concur::detail::kRejected<N>,
                  "put(item, block): `block` is a bool, not a timeout; for a timeout of 0.5 s write "
                  "put(item, 500ms) or put(item, std::chrono::duration<double>(0.5))");
  }
  template <class U, concur::detail::NumberNotBool N>
  void put(U&&, bool, N) {
    static_assert(concur::detail::kRejected<N>,
                  "put(item, block, timeout): the timeout is a std::chrono duration, not a number; "
                  "write put(item, true, 500ms) or put(item, true, std::chrono::duration<double>(0.5))");
  }
  void put_nowait(const T& x) { put_copy(x, Deadline::immediate()); }
  void put_nowait(T&& x) { check_put(put_until(x, Deadline::immediate())); }

  // Never throws Full or ShutDown: false instead (x is then untouched).
  bool try_put(const T& x) {
    T copy(x);
    return put_until(copy, Deadline::immediate()) == Status::kDone;
  }
  bool try_put(T&& x) { return put_until(x, Deadline::immediate()) == Status::kDone; }
  template <class Rep, class Period>
  bool try_put(const T& x, std::chrono::duration<Rep, Period> timeout) {
    T copy(x);
    return put_until(copy, Deadline::after(timeout)) == Status::kDone;
  }
  template <class Rep, class Period>
  bool try_put(T&& x, std::chrono::duration<Rep, Period> timeout) {
    return put_until(x, Deadline::after(timeout)) == Status::kDone;
  }

  // ---- get ----------------------------------------------------------------------------------
  T get(bool block = true) { return checked_get(block_deadline(block)); }
  template <class Rep, class Period>
  T get(bool block, std::chrono::duration<Rep, Period> timeout) {
    return checked_get(block_deadline(block, timeout));
  }
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) {
    return checked_get(Deadline::after(timeout));
  }
  // Numbers where the flag or a duration belongs: rejected at compile time (block_flag.hpp).
  template <concur::detail::NumberNotBool N, class... Rest>
  T get(N, Rest&&...) {
    static_assert(concur::detail::kRejected<N>,
                  "get(block): `block` is a bool, not a timeout; for a timeout of 0.5 s write "
                  "get(500ms) or get(std::chrono::duration<double>(0.5))");
    return checked_get(Deadline::immediate());
  }
  template <concur::detail::NumberNotBool N>
  T get(bool, N) {
    static_assert(concur::detail::kRejected<N>,
                  "get(block, timeout): the timeout is a std::chrono duration, not a number; write "
                  "get(true, 500ms) or get(true, std::chrono::duration<double>(0.5))");
    return checked_get(Deadline::immediate());
  }
  T get_nowait() { return checked_get(Deadline::immediate()); }

  // Never throws Empty or ShutDown: nullopt instead.
  std::optional<T> try_get() { return try_get_until(Deadline::immediate()); }
  template <class Rep, class Period>
  std::optional<T> try_get(std::chrono::duration<Rep, Period> timeout) {
    return try_get_until(Deadline::after(timeout));
  }

  // For concur's own modules: try_get with a deadline already computed.
  std::optional<T> try_get_until(const Deadline& deadline) {
    if constexpr (kStrongGet) {
      for (;;) {
        bool taken = false;
        if (!wait_item_or_closed(deadline)) return std::nullopt;
        const WakePutterAfter wake{*this, taken};  // destroyed last: once the lock is free
        typename Core::Taking take(core_, taken);
        if (take.has_item()) {
          std::optional<T> out;
          out.emplace(take.item());
          return out;  // if this copy throws, `take` leaves the item in the queue
        }
        if (take.closed()) return std::nullopt;
      }
    } else {
      std::optional<T> out;
      get_until(out, deadline);
      return out;
    }
  }

  // ---- for concur's own modules: a get that cannot block (aio::get, asyncio/queue_bridge.hpp) --
  // The waiters of a get that found the queue empty: a coroutine links an action WaitNode here
  // (event_count.hpp, "waiters that cannot block"); every put notifies one, shutdown() all.
  concur::detail::EventCount& not_empty_waiters() noexcept { return not_empty_; }
  // One try, no waiting: the item, or nullopt when the queue is empty, and then `shut_down`
  // says whether it is also shut down (where get() would throw ShutDown). Wakes a waiting putter
  // as get() does. Never throws Empty or ShutDown (only what the item's copy or move throws,
  // which leaves the item queued, as get()).
  std::optional<T> try_get_or_shut_down(bool& shut_down) {
    shut_down = false;
    if constexpr (kStrongGet) {
      bool taken = false;
      const WakePutterAfter wake{*this, taken};  // destroyed last: once the lock is free
      typename Core::Taking take(core_, taken);
      if (take.has_item()) {
        std::optional<T> out;
        out.emplace(take.item());
        return out;
      }
      shut_down = take.closed();
      return std::nullopt;
    } else {
      std::optional<T> out;
      shut_down = get_until(out, Deadline::immediate()) == Status::kShutDown;
      return out;
    }
  }

  // ---- state --------------------------------------------------------------------------------
  // Approximate under concurrency, as in Python: the answer may be stale when it returns.
  [[nodiscard]] std::size_t qsize() const noexcept { return core_.size(); }
  [[nodiscard]] bool empty() const noexcept { return core_.size() == 0; }
  [[nodiscard]] bool full() const noexcept {
    return maxsize_ > 0 && core_.size() >= static_cast<std::size_t>(maxsize_);
  }
  // As given to the constructor (Python keeps a negative maxsize too); <= 0 means unbounded.
  [[nodiscard]] long maxsize() const noexcept { return maxsize_; }

  // ---- tasks --------------------------------------------------------------------------------
  // Finishes one task. Throws ValueError if no task is unfinished.
  void task_done() {
    static_assert(kTracksTasks, "this queue has no task accounting");
    // pushed() includes the put of any item this thread got (the core's release of the item
    // follows the push's claim), so a legitimate task_done() never sees too few pushes.
    std::uint64_t n = finished_.load(std::memory_order_relaxed);
    do {
      if (n >= core_.pushed()) throw ValueError("task_done() called too many times");
      // acq_rel: join() acquires finished_ and must see the work of every task_done() caller.
    } while (!finished_.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel,
                                              std::memory_order_relaxed));
    if (n + 1 == core_.pushed()) all_done_.notify_all();
  }

  // Blocks until every item put has been matched by task_done() (or discarded by
  // shutdown(true)).
  void join() {
    static_assert(kTracksTasks, "this queue has no task accounting");
    all_done_.wait_until(
        [this] { return finished_.load(std::memory_order_acquire) == core_.pushed(); },
        Deadline::never(), &wait_site());
  }

  // ---- shutdown -----------------------------------------------------------------------------
  void shutdown(bool immediate = false) {
    core_.close();  // from here on every push fails: nothing can land behind the discard
    if (immediate) discard_all();
    not_empty_.notify_all();
    not_full_.notify_all();
  }
  [[nodiscard]] bool is_shutdown() const noexcept { return core_.closed(); }

 protected:
  // maxsize <= 0: unbounded. The core gets the capacity (0 = unbounded) and `core_args`.
  template <class... CoreArgs>
  explicit BasicQueue(long maxsize, CoreArgs&&... core_args)
      : core_(std::forward<CoreArgs>(core_args)...), maxsize_(maxsize) {}
  ~BasicQueue() = default;

  static std::size_t capacity_of(long maxsize) noexcept {
    return maxsize > 0 ? static_cast<std::size_t>(maxsize) : 0;
  }

  Core core_;

 private:
  enum class Status { kDone, kTimeout, kShutDown };

  void put_copy(const T& x, const Deadline& deadline) {
    T copy(x);
    check_put(put_until(copy, deadline));
  }
  static void check_put(Status s) {
    if (s == Status::kTimeout) throw Full();
    if (s == Status::kShutDown) throw ShutDown();
  }
  T checked_get(const Deadline& deadline) {
    if constexpr (kStrongGet) {
      for (;;) {
        bool taken = false;
        if (!wait_item_or_closed(deadline)) throw Empty();
        const WakePutterAfter wake{*this, taken};  // destroyed last: once the lock is free
        typename Core::Taking take(core_, taken);
        // Built in the caller's result object (no move follows); the item leaves the queue when
        // `take` ends, and only if this succeeded.
        if (take.has_item()) return T(take.item());
        if (take.closed()) throw ShutDown();
        // Another get took the item we were woken for: wait again.
      }
    }
    std::optional<T> out;
    const Status s = get_until(out, deadline);
    if (s == Status::kTimeout) throw Empty();
    if (s == Status::kShutDown) throw ShutDown();
    return std::move(*out);
  }

  // Moves x into the queue (kDone), or leaves it untouched (kTimeout, kShutDown).
  Status put_until(T& x, const Deadline& deadline) {
    PushResult r = core_.try_push(x);
    if (r == PushResult::kFull) {
      not_full_.wait_until(
          [&] {
            r = core_.try_push(x);
            return r != PushResult::kFull;
          },
          deadline, &wait_site());
    }
    if (r == PushResult::kClosed) return Status::kShutDown;
    if (r == PushResult::kFull) return Status::kTimeout;
    notify_one_after<Core>(not_empty_);
    return Status::kDone;
  }

  Status get_until(std::optional<T>& out, const Deadline& deadline) {
    bool closed = false;  // set by the core when it is empty and closed: ShutDown
    out = core_.try_pop(closed);
    if (!out) {
      if (!closed) {
        const bool woke = not_empty_.wait_until(
            [&] { return (out = core_.try_pop(closed)).has_value() || closed; }, deadline,
            &wait_site());
        if (!woke) return Status::kTimeout;
      }
      if (!out) return Status::kShutDown;
    }
    if (maxsize_ > 0) notify_one_after<Core>(not_full_);
    return Status::kDone;
  }

  // The get of a T whose move can throw (kStrongGet): waits for an item to take (or the
  // shutdown) without taking it; false when the deadline passed first.
  bool wait_item_or_closed(const Deadline& deadline) {
    return not_empty_.wait_until([this] { return core_.has_item_or_closed(); }, deadline,
                                 &wait_site());
  }
  struct WakePutterAfter {
    BasicQueue& q;
    const bool& taken;
    ~WakePutterAfter() {
      if (taken && q.maxsize_ > 0) notify_one_after<Core>(q.not_full_);
    }
  };

  // What a thread blocked in put/get/join is shown waiting for (thread dumps).
  const concur::detail::WaitSite& wait_site() const noexcept { return site_; }


  // shutdown(true): drop every queued item, each counting as a finished task.
  void discard_all() {
    bool closed = false;
    auto discard_one = [&] {
      if constexpr (kStrongGet)
        return core_.discard_front();  // nothing moved: T's move may throw
      else
        return core_.try_pop(closed).has_value();
    };
    while (discard_one()) {
      if constexpr (kTracksTasks) {  // as Python: only while some task is unfinished
        std::uint64_t n = finished_.load(std::memory_order_relaxed);
        while (n < core_.pushed() &&
               !finished_.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel,
                                                std::memory_order_relaxed)) {
        }
      }
    }
    if constexpr (kTracksTasks) all_done_.notify_all();
    not_full_.notify_all();
  }

  alignas(kCacheLine) concur::detail::EventCount not_empty_;
  alignas(kCacheLine) concur::detail::EventCount not_full_;
  alignas(kCacheLine) std::atomic<std::uint64_t> finished_{0};  // task_done() + discarded
  concur::detail::EventCount all_done_;
  // Read by every get, never written: kept off the waiters' lines.
  alignas(kCacheLine) const long maxsize_;
  const concur::detail::WaitSite site_{&kQueueWait, this, {}, nullptr, nullptr};
};

}  // namespace concur::queue::detail
