// concur/threading/rlock.hpp — threading.RLock: a re-entrant lock owned by one thread.
//
//   th::RLock r;
//   r.acquire(); r.acquire();      // the owner may acquire again: a depth counter goes up
//   r.release(); r.release();      // ... and must release as often; the last release frees it
//   bool ok = r.acquire(false);  ok = r.acquire(true, 50ms);  ok = r.acquire(50ms);
//   { std::scoped_lock g(r); ... }
//
// Contract
// - Owner-bound: only the thread that holds it may release it.
// - Thread-safety: every member may be called concurrently from any thread.
// - Happens-before: everything the owner did before the release() that frees the RLock (the
//   outermost one) happens before what another thread does after its acquire() that takes it
//   returns true. Inner releases publish nothing; a failed acquire orders nothing; locked() is
//   a relaxed snapshot.
// - Blocks: acquire() when another thread holds it (bounded by the timeout, if any).
// - Throws: release() by a thread that does not hold it -> RuntimeError;
//   acquire(false, timeout) -> ValueError.
// - Diagnostics: as Lock (lock.hpp); only the first level of a re-entrant acquisition counts.
// - Undefined: destroying an RLock that is held or waited for.
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

class RLock : public detail::AcquireForms<RLock> {
 public:
  RLock() noexcept = default;
  explicit RLock(std::string_view name) : name_(name) {}
  ~RLock() { detail::forget_lock_if_graphed(this); }
  RLock(const RLock&) = delete;
  RLock& operator=(const RLock&) = delete;

  // acquire() in all its forms, lock(), try_lock(), try_lock_for/until: see AcquireForms.
  bool acquire_until(const Deadline& deadline) {
    const std::uint64_t me = detail::this_thread_key();
    if (owner_.load(std::memory_order_relaxed) == me) {
      ++depth_;
      return true;
    }
    if (detail::lock_tracking_on()) [[unlikely]] return acquire_tracked(deadline);
    return take(deadline, me);
  }

  void release() {
    if (!is_owned()) throw RuntimeError("cannot release un-acquired lock");
    if (--depth_ == 0) {
      if (detail::lock_tracking_on()) [[unlikely]] detail::note_released(this);
      owner_.store(0, std::memory_order_relaxed);
      deferred_.unlock(mutex_);
    }
  }

  // True when the calling thread holds this RLock (Python's private _is_owned()).
  [[nodiscard]] bool is_owned() const noexcept {
    // relaxed is enough: only this thread ever stores its own key, and it sees its own stores.
    return owner_.load(std::memory_order_relaxed) == detail::this_thread_key();
  }
  [[nodiscard]] bool locked() const noexcept { return mutex_.locked(); }
  [[nodiscard]] std::string_view name() const noexcept { return name_.view(); }

 private:
  friend class Condition;

  bool take(const Deadline& deadline, std::uint64_t me) {
    if (!mutex_.try_lock() && !take_slow(deadline)) return false;
    owner_.store(me, std::memory_order_relaxed);
    depth_ = 1;
    return true;
  }
  bool take_slow(const Deadline& deadline);       // src/threading/lock.cpp
  bool acquire_tracked(const Deadline& deadline);  // src/threading/lock.cpp

  // Condition::wait() support: give the lock up entirely, remembering the depth, and take it
  // back whatever happens.
  std::uint32_t release_all() noexcept;
  void reacquire(std::uint32_t depth) noexcept;

  detail::Mutex mutex_;
  detail::DeferredWakes deferred_;       // Condition notifications made under this lock
  std::atomic<std::uint64_t> owner_{0};  // thread key of the holder, 0 when free
  std::uint32_t depth_ = 0;              // touched only by the holder
  detail::LockName name_;
};

}  // namespace concur::threading
