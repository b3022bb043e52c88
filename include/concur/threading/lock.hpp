// concur/threading/lock.hpp — threading.Lock: a primitive, non-recursive lock.
//
//   th::Lock lock;                 // or th::Lock named("account-A"): the name appears in reports
//   lock.acquire();                // block until held
//   bool ok = lock.acquire(false); // try once
//   ok = lock.acquire(50ms);       // == lock.acquire(true, 50ms): block at most 50 ms
//   lock.release();
//   { std::lock_guard g(lock); ... }   // Lockable / TimedLockable: the C++ `with`
//
// Contract
// - Not owner-bound: any thread may release() a Lock that another thread acquired (as in
//   Python). A thread that acquires a Lock it already holds blocks (deadlocks itself) — use RLock.
// - Thread-safety: every member may be called concurrently from any thread.
// - Happens-before: everything a thread did before release() happens before what another thread
//   does after its next acquire() of that lock returns true (the unlock is a release, the lock
//   an acquire). A failed acquire (false, timeout) orders nothing; locked() is a relaxed
//   snapshot and orders nothing either.
// - Blocks: acquire() without `false`, lock(), try_lock_for/until (bounded by their timeout).
// - Throws: release() of an unlocked Lock -> RuntimeError; acquire(false, timeout) -> ValueError.
//   Nothing else throws.
// - Fairness: none guaranteed (like Python's). Waiters spin briefly, then sleep on a futex.
// - Diagnostics (deadlock.hpp): the lock remembers which thread took it last, so a thread
//   blocked on it shows whom it waits for in dumps and in deadlock detection; with lock-order
//   checking on, a blocking acquire that inverts a recorded order is reported before it blocks
//   (and throws RuntimeError under Reaction::raise); the deadlock watchdog may make a blocked
//   acquire() throw RuntimeError to break a deadlock (Reaction::raise).
// - Undefined: destroying a Lock while a thread is blocked on it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

#include "concur/detail/lock_name.hpp"
#include "concur/detail/lock_tracking.hpp"
#include "concur/detail/mutex.hpp"
#include "concur/detail/wait_node.hpp"
#include "concur/detail/acquire_forms.hpp"
#include "concur/errors.hpp"

namespace concur::threading {

class Lock : public detail::AcquireForms<Lock> {
 public:
  Lock() noexcept = default;
  explicit Lock(std::string_view name) : name_(name) {}
  ~Lock() { detail::forget_lock_if_graphed(this); }
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  // acquire() in all its forms, lock(), try_lock(), try_lock_for/until: see AcquireForms.
  bool acquire_until(const Deadline& deadline) {
    if (detail::lock_tracking_on()) [[unlikely]] return acquire_tracked(deadline);
    return take(deadline);
  }

  void release() {
    if (detail::lock_tracking_on()) [[unlikely]] detail::note_released(this);
    owner_.store(0, std::memory_order_relaxed);
    if (!deferred_.unlock(mutex_)) throw RuntimeError("release unlocked lock");
  }

  [[nodiscard]] bool locked() const noexcept { return mutex_.locked(); }

  // The name given at construction ("" if none), used in lock-order and deadlock reports.
  [[nodiscard]] std::string_view name() const noexcept { return name_.view(); }

 private:
  friend class Condition;
  bool take(const Deadline& deadline) {
    if (!mutex_.try_lock() && !take_slow(deadline)) return false;
    // relaxed: read only by diagnostics, which tolerate a stale owner (they re-check).
    owner_.store(detail::this_thread_key(), std::memory_order_relaxed);
    return true;
  }
  bool take_slow(const Deadline& deadline);       // src/threading/lock.cpp
  bool acquire_tracked(const Deadline& deadline);  // src/threading/lock.cpp
  // Condition::wait(): give the lock up, and take it back whatever happens.
  void release_for_wait() noexcept;
  void reacquire_after_wait() noexcept;

  detail::Mutex mutex_;
  detail::DeferredWakes deferred_;     // Condition notifications made under this lock
  std::atomic<std::uint64_t> owner_{0};  // key of the thread that took it last; 0 when free
  detail::LockName name_;
};

}  // namespace concur::threading
