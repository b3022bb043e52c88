// concur/threading/semaphore.hpp — threading.Semaphore and threading.BoundedSemaphore.
//
//   th::Semaphore s(0);            // initial value; ValueError if negative
//   s.acquire();                   // take one unit, blocking while the value is 0
//   bool ok = s.acquire(false);  ok = s.acquire(true, 10ms);  ok = s.acquire(10ms);
//   s.release();  s.release(3);    // add units; each wakes one waiter, oldest first
//   th::BoundedSemaphore b(2);     // release() beyond the initial value: ValueError
//   th::Semaphore named(1, "pool-slots");   // an optional name, used in reports
//
// Contract
// - release(n) hands units directly to the n longest-waiting threads; a thread arriving while
//   none wait takes a free unit without blocking. (As in CPython, a newcomer may take a unit
//   released an instant before a sleeper is served; a sleeper is never skipped for another.)
// - Thread-safety: every member may be called concurrently from any thread.
// - Happens-before: everything a thread did before release() happens before what a thread does
//   after an acquire() that takes a unit released by it returns true (the value only changes by
//   read-modify-writes, so a successful acquire() follows every release() before it; a sleeper
//   served directly gets the same through its wake-up). A failed acquire orders nothing;
//   value() and n_waiting() are relaxed snapshots and order nothing.
// - Blocks: acquire() while the value is 0 (bounded by the timeout, if any).
// - Throws: ValueError for a negative initial value, release(n) with n < 1, acquire(false, t),
//   and a BoundedSemaphore released above its initial value.
// - Diagnostics: with lock tracking on (deadlock.hpp), an acquire counts as taking a lock (its
//   order is checked and it is listed as held) until this thread, or another, releases a unit.
// - Undefined: destroying a Semaphore while threads wait on it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "concur/deadline.hpp"
#include "concur/detail/lock_name.hpp"
#include "concur/detail/lock_tracking.hpp"
#include "concur/detail/mutex.hpp"
#include "concur/detail/acquire_forms.hpp"
#include "concur/detail/wait_node.hpp"
#include "concur/errors.hpp"

namespace concur::threading {

class Semaphore : public detail::AcquireForms<Semaphore> {
 public:
  explicit Semaphore(std::ptrdiff_t value = 1);
  Semaphore(std::ptrdiff_t value, std::string_view name);
  ~Semaphore() { detail::forget_lock_if_graphed(this); }
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  // acquire() in all its forms, and lock()/unlock()/try_lock() so that std::lock_guard works as
  // Python's `with sema:` — see AcquireForms.
  bool acquire_until(const Deadline& deadline) {
    if (detail::lock_tracking_on()) [[unlikely]] return acquire_tracked(deadline);
    return try_take() || acquire_slow(deadline);
  }

  void release(std::ptrdiff_t n = 1);

  // The number of free units right now (a snapshot).
  [[nodiscard]] std::ptrdiff_t value() const noexcept {
    return static_cast<std::ptrdiff_t>(value_.load(std::memory_order_relaxed));
  }

  // How many threads are asleep in acquire() right now (a snapshot; monitoring and tests).
  [[nodiscard]] std::size_t n_waiting() const noexcept {
    return static_cast<std::size_t>(sleepers_.load(std::memory_order_relaxed));
  }

  [[nodiscard]] std::string_view name() const noexcept { return name_.view(); }

 protected:
  // BoundedSemaphore's limit; kUnbounded for a plain Semaphore.
  static constexpr std::ptrdiff_t kUnbounded = -1;
  Semaphore(std::ptrdiff_t value, std::ptrdiff_t bound, std::string_view name = {});

 private:
  // Lock-free fast path: take a unit if one is free.
  bool try_take() noexcept {
    std::int64_t v = value_.load(std::memory_order_relaxed);
    while (v > 0) {
      // acquire: pairs with the release in release(), so the taker sees what the releaser wrote.
      if (value_.compare_exchange_weak(v, v - 1, std::memory_order_acquire,
                                       std::memory_order_relaxed))
        return true;
    }
    return false;
  }
  bool acquire_slow(const Deadline& deadline);
  bool acquire_tracked(const Deadline& deadline);

  std::atomic<std::int64_t> value_;
  std::atomic<std::int64_t> sleepers_{0};  // queued waiters; changed under mutex_
  const std::int64_t bound_;
  detail::LeafMutex mutex_;                 // protects waiters_
  detail::WaitList waiters_;
  detail::LockName name_;
};

class BoundedSemaphore : public Semaphore {
 public:
  explicit BoundedSemaphore(std::ptrdiff_t value = 1) : Semaphore(value, value) {}
  BoundedSemaphore(std::ptrdiff_t value, std::string_view name) : Semaphore(value, value, name) {}
};

}  // namespace concur::threading
