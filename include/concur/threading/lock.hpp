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
// - Blocks: acquire() without `false`, lock(), try_lock_for/until (bounded by their timeout).
// - Throws: release() of an unlocked Lock -> RuntimeError; acquire(false, timeout) -> ValueError.
//   Nothing else throws.
// - Fairness: none guaranteed (like Python's). Waiters spin briefly, then sleep on a futex.
// - Undefined: destroying a Lock while a thread is blocked on it.
#pragma once

#include <chrono>
#include <string_view>

#include "concur/detail/lock_name.hpp"
#include "concur/detail/mutex.hpp"
#include "concur/detail/wait_node.hpp"
#include "concur/detail/acquire_forms.hpp"
#include "concur/errors.hpp"

namespace concur::threading {

class Lock : public detail::AcquireForms<Lock> {
 public:
  Lock() noexcept = default;
  explicit Lock(std::string_view name) : name_(name) {}
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  // acquire() in all its forms, lock(), try_lock(), try_lock_for/until: see AcquireForms.
  bool acquire_until(const detail::Deadline& deadline) { return mutex_.lock_until(deadline); }

  void release() {
    if (!deferred_.unlock(mutex_)) throw RuntimeError("release unlocked lock");
  }

  bool locked() const noexcept { return mutex_.locked(); }

  // The name given at construction ("" if none), used in lock-order and deadlock reports.
  std::string_view name() const noexcept { return name_.view(); }

 private:
  friend class Condition;
  detail::Mutex mutex_;
  detail::DeferredWakes deferred_;  // Condition notifications made under this lock
  detail::LockName name_;
};

}  // namespace concur::threading
