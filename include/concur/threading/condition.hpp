// concur/threading/condition.hpp — threading.Condition: wait for a state change under a lock.
//
//   th::Condition cv;              // makes its own RLock
//   th::Condition cv2(lock);       // over an existing Lock or RLock (which must outlive it)
//   { std::lock_guard g(cv);       // or cv.acquire() / cv.release()
//     while (!ready) cv.wait();    // or: cv.wait_for([&] { return ready; });
//   }
//   { std::lock_guard g(cv); ready = true; cv.notify(); }   // notify(n), notify_all()
//
// Contract
// - wait*() and notify*() must be called with the lock held (for an RLock: held by the caller;
//   for a Lock: held by someone, which is what Python checks), otherwise RuntimeError.
// - wait() releases the lock — an RLock entirely, however deep the caller holds it — sleeps, and
//   re-acquires it to the same depth before returning, also on timeout.
// - Waiters are woken in FIFO order: notify(n) wakes the n that have waited longest. There are no
//   spurious wake-ups: wait() returns true only when notified, false only on timeout.
// - wait_for(pred[, timeout]) returns pred()'s last value (Python's Condition.wait_for).
// - Happens-before: as its lock (lock.hpp, rlock.hpp) — wait() returns, also on timeout, with
//   the lock re-acquired, so everything a thread did before releasing the lock happens before
//   what the waiter does after wait() returns. In particular what a thread did before notify()
//   happens before the wait() it wakes returns (the waiter's node is signaled with a release).
// - Thread-safety: all members may be called concurrently (with the lock rules above).
// - Throws: RuntimeError as above; ValueError for notify(n) with n < 0; whatever pred throws.
// - Undefined: destroying a Condition while threads wait on it.
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>

#include "concur/deadline.hpp"
#include "concur/detail/acquire_forms.hpp"
#include "concur/detail/block_flag.hpp"
#include "concur/detail/wait_node.hpp"
#include "concur/detail/wait_site.hpp"
#include "concur/errors.hpp"
#include "concur/threading/detail/wait_kinds.hpp"
#include "concur/threading/lock.hpp"
#include "concur/threading/rlock.hpp"

namespace concur::threading {

class Condition : public detail::AcquireForms<Condition> {
 public:
  Condition() : rlock_(&own_.emplace()) {}
  explicit Condition(std::string_view name) : rlock_(&own_.emplace(name)) {}  // names its RLock
  explicit Condition(Lock& lock) noexcept : lock_(&lock) {}
  explicit Condition(RLock& lock) noexcept : rlock_(&lock) {}
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;

  // The underlying lock's acquire (all forms, see AcquireForms), release and Lockable calls.
  bool acquire_until(const Deadline& deadline) {
    return lock_ ? lock_->acquire_until(deadline) : rlock_->acquire_until(deadline);
  }
  void release() { lock_ ? lock_->release() : rlock_->release(); }

  // Wait until notified. wait(timeout): false if the timeout passed first.
  void wait() { wait_until(Deadline::never()); }
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) {
    return wait_until(Deadline::after(timeout));
  }

  // Wait until pred() is true; returns pred()'s last value (false only after a timeout).
  template <class Predicate>
  bool wait_for(Predicate pred) {
    check_predicate<Predicate>();
    if constexpr (kIsPredicate<Predicate>) return wait_for_until(pred, Deadline::never());
    else return false;
  }
  template <class Predicate, class Rep, class Period>
  bool wait_for(Predicate pred, std::chrono::duration<Rep, Period> timeout) {
    check_predicate<Predicate>();
    if constexpr (kIsPredicate<Predicate>) return wait_for_until(pred, Deadline::after(timeout));
    else return false;
  }
  // cv.wait_for(100ms), the std::condition_variable reflex: rejected at compile time.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period>) {
    static_assert(concur::detail::kRejected<Rep, Period>,
                  "Condition::wait_for(pred[, timeout]) is Python's wait_for: it takes a predicate "
                  "first; to wait with only a timeout write cv.wait(100ms), or "
                  "cv.wait_for([&] { return ready; }, 100ms) to wait for a condition");
    return false;
  }

  void notify(std::ptrdiff_t n = 1);
  void notify_all();

  // The underlying lock's name, used in reports.
  [[nodiscard]] std::string_view name() const noexcept { return lock_ ? lock_->name() : rlock_->name(); }

  // Building blocks for other primitives: wait on an absolute deadline.
  bool wait_until(const Deadline& deadline);
  template <class Predicate>
  bool wait_for_until(Predicate& pred, const Deadline& deadline) {
    bool result = pred();
    // As CPython: a false predicate always leads to one wait(), even with a timeout already
    // spent, so calling without the lock is reported whatever the timeout.
    for (bool first = true; !result; first = false) {
      if (!first && deadline.expired()) break;
      wait_until(deadline);
      result = pred();
    }
    return result;
  }

 private:
  template <class Predicate>
  static constexpr bool kIsPredicate = std::predicate<Predicate&>;
  template <class Predicate>
  static constexpr void check_predicate() {
    static_assert(kIsPredicate<Predicate>,
                  "Condition::wait_for(pred[, timeout]): pred must be callable with no arguments "
                  "and return something testable as bool, e.g. [&] { return ready; }");
  }

  friend class Barrier;  // shows its waits as "barrier" waits (shown_as_)
  bool is_owned() const noexcept { return lock_ ? lock_->locked() : rlock_->is_owned(); }

  // Where notify() holds back its wake-ups until the lock is released (wait_node.hpp).
  detail::DeferredWakes& deferred_wakes() noexcept {
    return lock_ ? lock_->deferred_ : rlock_->deferred_;
  }

  std::optional<RLock> own_;  // made only by a Condition that owns its lock
  Lock* lock_ = nullptr;      // exactly one of lock_ / rlock_ is set
  RLock* rlock_ = nullptr;
  detail::WaitList waiters_;  // protected by the underlying lock
  // What a thread blocked in wait() is shown waiting for (dumps): this condition, or the
  // primitive built on it.
  const detail::WaitKind* shown_kind_ = &detail::kConditionWait;
  const void* shown_as_ = this;
};

}  // namespace concur::threading
