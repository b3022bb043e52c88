// concur/asyncio/locks.hpp — Python's asyncio synchronization primitives: Lock, Event,
// Condition, Semaphore, BoundedSemaphore, Barrier (Lib/asyncio/locks.py, 3.13).
//
//   aio::Lock lock;
//   co_await lock.acquire();  ...  lock.release();          // RuntimeError if not locked
//   { auto held = co_await lock.hold(); ... }               // `async with lock:`
//   aio::Event ev;  ev.set();  ev.clear();  ev.is_set();  co_await ev.wait();
//   aio::Condition cond;  (or aio::Condition cond(lock);)
//   { auto held = co_await cond.hold();  co_await cond.wait_for([&] { return ready; }); }
//   cond.notify();  cond.notify(2);  cond.notify_all();     // with the lock held
//   aio::Semaphore sem(3);  co_await sem.acquire();  sem.release();  { auto h = co_await sem.hold(); }
//   aio::BoundedSemaphore bsem(3);                          // ValueError on one release too many
//   aio::Barrier bar(3);  std::size_t i = co_await bar.wait();   bar.reset();  bar.abort();
//
// Contract
// - For the coroutines of one loop: no member may be called from another thread (use
//   loop.call_soon_threadsafe()), and none locks anything. A primitive must outlive every
//   task suspended in it.
// - What suspends: acquire() (Lock, Condition, Semaphore) while the lock is held or no permit
//   is left; Event::wait() until set(); Condition::wait() until notified and then until the lock
//   is re-acquired; Barrier::wait() until the round is full. Each returns an aio::Task, so it can
//   also be given to create_task, wait_for, gather ... (`aio::wait_for(ev.wait(), 1s)`).
//   Awaiting outside a task of a running loop throws RuntimeError.
// - Fairness: every waiter list is FIFO. Lock::release() and Semaphore::release() hand the lock
//   (the permit) straight to the oldest waiter, so a task that calls acquire() meanwhile queues
//   behind it (Python's fairness; a Semaphore also keeps newcomers behind woken waiters that have
//   not run yet, as 3.13). As in Python, Lock::locked() is false from a release() until the
//   waiter it woke runs, and release() in that window throws RuntimeError.
// - Cancellation: a waiter cancelled while it waits leaves its list and its co_await throws
//   CancelledError (TimeoutError inside an expiring aio::timeout()); nothing is taken from the
//   primitive. A waiter that was already woken (the lock, a permit or a notification handed to
//   it) is not thrown at: it completes normally and its task sees the cancellation at its next
//   suspension, so a grant is never lost and no lock can be left held by nobody.
// - Condition::wait() releases the lock, waits, and always re-acquires the lock before it
//   returns or throws (as Python, also when cancelled). A notification it received but could
//   not use because the re-acquisition failed is passed on to another waiter.
// - Barrier: Python 3.11's asyncio.Barrier (filling, draining, resetting, broken states). A
//   cancelled wait() leaves the round (n_waiting() drops) without breaking the barrier.
//   reset() and abort() act at once; they return a ready awaitable so that Python's
//   `await barrier.reset()` reads `co_await bar.reset()` (or just `bar.reset()`).
// - Throws: RuntimeError("Lock is not acquired.") for release() of an unlocked Lock;
//   RuntimeError for Condition::wait()/notify() without the lock; ValueError for a negative
//   Semaphore value and "BoundedSemaphore released too many times"; ValueError for a Barrier
//   of fewer than 1 party; aio::BrokenBarrierError (the very type
//   concur::threading::BrokenBarrierError) from Barrier::wait() on a broken, aborted or reset
//   barrier.
// - Guards: hold() gives an aio::Held<L> that releases on destruction (or on release()).
//   Do not release by hand what a guard holds: the guard would release it again.
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <type_traits>
#include <utility>

#include "concur/asyncio/detail/task_core.hpp"
#include "concur/asyncio/errors.hpp"
#include "concur/asyncio/task.hpp"
#include "concur/errors.hpp"
#include "concur/threading/barrier.hpp"

namespace concur::asyncio {

// asyncio.BrokenBarrierError: one type with threading's, so one catch serves both modules.
using BrokenBarrierError = concur::threading::BrokenBarrierError;

namespace detail {

// co_await: the running task waits in `list` until a primitive wakes it (or it is cancelled:
// then CancelledError).
struct ListWait {
  explicit ListWait(WaitList& l) noexcept : list(l) {}
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) { return entry.suspend_in(list, h); }
  void await_resume() { entry.resume(); }

  WaitList& list;
  WaitEntry entry;
};

// A ready awaitable: `co_await bar.reset()` for Python's `await barrier.reset()`.
struct Done {
  bool await_ready() const noexcept { return true; }
  void await_suspend(std::coroutine_handle<>) const noexcept {}
  void await_resume() const noexcept {}
};

}  // namespace detail

// `async with`: holds a Lock, Condition or Semaphore acquired by hold(); releases it when
// destroyed, or earlier by release(). Movable.
template <class L>
class [[nodiscard]] Held {
 public:
  explicit Held(L& lock) noexcept : lock_(&lock) {}
  Held(Held&& other) noexcept : lock_(std::exchange(other.lock_, nullptr)) {}
  Held& operator=(Held&& other) noexcept {
    if (this != &other) {
      reset();
      lock_ = std::exchange(other.lock_, nullptr);
    }
    return *this;
  }
  ~Held() { reset(); }

  // Releases now (the destructor then does nothing).
  void release() {
    if (L* l = std::exchange(lock_, nullptr)) l->release();
  }
  bool owns() const noexcept { return lock_ != nullptr; }

 private:
  void reset() noexcept {
    if (L* l = std::exchange(lock_, nullptr)) {
      try {
        l->release();
      } catch (...) {  // released by hand meanwhile (see the header comment): nothing to undo
      }
    }
  }
  L* lock_;
};

// ---- Lock ------------------------------------------------------------------------------------

class Lock {
 public:
  Lock() = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  // As Python: false from a release() until the waiter it woke runs (that waiter owns the
  // lock all the same: a newcomer queues behind it).
  bool locked() const noexcept { return locked_; }

  // Suspends until the lock is ours; returns true.
  Task<bool> acquire() {
    if (!locked_ && !handed_ && waiters_.empty()) {
      locked_ = true;
      co_return true;
    }
    detail::ListWait w(waiters_);
    try {
      co_await w;
    } catch (...) {  // cancelled while waiting: never had the lock; if it is free, pass it on
      if (!locked_ && !handed_) hand_on();
      throw;
    }
    handed_ = false;  // release() handed the lock to us
    locked_ = true;
    co_return true;
  }

  // Unlocks, handing the lock to the oldest waiter if there is one. RuntimeError if not locked.
  void release() {
    if (!locked_) throw RuntimeError("Lock is not acquired.");
    locked_ = false;
    hand_on();
  }

  // { auto held = co_await lock.hold(); ... }: acquire(), released when `held` goes.
  Task<Held<Lock>> hold() {
    co_await acquire();
    co_return Held<Lock>(*this);
  }

 private:
  void hand_on() noexcept { handed_ = waiters_.wake_one(); }

  detail::WaitList waiters_;
  bool locked_ = false;
  bool handed_ = false;  // a waiter was woken with the lock and has not run yet
};

// ---- Event -----------------------------------------------------------------------------------

class Event {
 public:
  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  bool is_set() const noexcept { return value_; }
  // Sets the flag and wakes every waiter (each returns true, even if clear() follows at once).
  void set() noexcept {
    if (value_) return;
    value_ = true;
    waiters_.wake_all();
  }
  void clear() noexcept { value_ = false; }

  // Suspends until the flag is set; returns true.
  Task<bool> wait() {
    if (value_) co_return true;
    detail::ListWait w(waiters_);
    co_await w;
    co_return true;
  }

 private:
  detail::WaitList waiters_;
  bool value_ = false;
};

// ---- Condition -------------------------------------------------------------------------------

class Condition {
 public:
  Condition() noexcept : lock_(&own_lock_) {}
  explicit Condition(Lock& lock) noexcept : lock_(&lock) {}
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;

  // The underlying lock's acquire(), release(), locked().
  Task<bool> acquire() { return lock_->acquire(); }
  void release() { lock_->release(); }
  bool locked() const noexcept { return lock_->locked(); }
  Task<Held<Condition>> hold() {
    co_await lock_->acquire();
    co_return Held<Condition>(*this);
  }

  // Releases the lock, suspends until notified, re-acquires the lock (always, even when
  // cancelled), returns true. RuntimeError if the lock is not held.
  Task<bool> wait() {
    if (!locked()) throw RuntimeError("cannot wait on un-acquired lock");
    release();
    std::exception_ptr error;
    bool notified = false;
    {
      detail::ListWait w(waiters_);
      try {
        co_await w;
      } catch (...) {
        error = std::current_exception();
      }
      notified = w.entry.woken();
    }
    for (;;) {  // re-acquire, whatever happens (another cancellation only retries)
      bool acquired = false;
      try {
        co_await lock_->acquire();
        acquired = true;
      } catch (...) {
        if (!error) error = std::current_exception();
      }
      if (acquired) break;
    }
    if (error) {
      // A notification we got but cannot act on goes to another waiter (Python's _notify(1)
      // on the way out; a spurious wake-up is allowed by the protocol).
      if (notified) wake(1);
      std::rethrow_exception(error);
    }
    co_return true;
  }

  // Waits until pred() is true; returns pred()'s last value. The lock must be held whenever
  // pred() is false (a wait() is needed).
  template <class Pred>
  Task<std::decay_t<std::invoke_result_t<Pred&>>> wait_for(Pred pred) {
    auto result = pred();
    while (!result) {
      co_await wait();
      result = pred();
    }
    co_return result;
  }

  // Wakes up to n waiters (the oldest first). RuntimeError if the lock is not held.
  void notify(std::size_t n = 1) {
    if (!locked()) throw RuntimeError("cannot notify on un-acquired lock");
    wake(n);
  }
  void notify_all() {
    if (!locked()) throw RuntimeError("cannot notify on un-acquired lock");
    waiters_.wake_all();
  }

 private:
  void wake(std::size_t n) noexcept {
    for (std::size_t i = 0; i < n && waiters_.wake_one(); ++i) {
    }
  }

  Lock own_lock_;
  Lock* lock_;
  detail::WaitList waiters_;
};

// ---- Semaphore, BoundedSemaphore -------------------------------------------------------------

class Semaphore {
 public:
  explicit Semaphore(long value = 1) : value_(value) {
    if (value < 0) throw ValueError("Semaphore initial value must be >= 0");
  }
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  // True when acquire() would suspend: no permit left, or tasks waiting (or woken and not yet
  // back) ahead of a new caller (Python 3.13's rule: the woken come first).
  bool locked() const noexcept { return value_ == 0 || !waiters_.empty() || handed_ > 0; }

  // Takes a permit, suspending until one is there; returns true.
  Task<bool> acquire() {
    if (!locked()) {
      --value_;
      co_return true;
    }
    detail::ListWait w(waiters_);
    try {
      co_await w;
    } catch (...) {  // cancelled while waiting: we took nothing; pass on what is free
      hand_on();
      throw;
    }
    --handed_;  // the permit handed to us is ours now
    hand_on();  // permits released meanwhile go to the next waiters, in order
    co_return true;
  }

  // Gives a permit back: to the oldest waiter if there is one.
  void release() noexcept {
    ++value_;
    hand_on();
  }

  Task<Held<Semaphore>> hold() {
    co_await acquire();
    co_return Held<Semaphore>(*this);
  }

 protected:
  long value_;

 private:
  // Hands free permits to the oldest waiters (Python's _wake_up_next, in release() and at the
  // end of acquire()). A woken waiter holds its permit from here on: it is never thrown at.
  void hand_on() noexcept {
    while (value_ > 0 && waiters_.wake_one()) {
      --value_;
      ++handed_;
    }
  }

  detail::WaitList waiters_;
  long handed_ = 0;  // waiters woken with a permit that have not resumed yet
};

class BoundedSemaphore : public Semaphore {
 public:
  explicit BoundedSemaphore(long value = 1) : Semaphore(value), bound_(value) {}

  // ValueError when every permit is already back.
  void release() {
    if (value_ >= bound_) throw ValueError("BoundedSemaphore released too many times");
    Semaphore::release();
  }

  Task<Held<BoundedSemaphore>> hold() {
    co_await acquire();
    co_return Held<BoundedSemaphore>(*this);
  }

 private:
  long bound_;
};

// ---- Barrier ---------------------------------------------------------------------------------

class Barrier {
 public:
  explicit Barrier(std::ptrdiff_t parties) : parties_(static_cast<std::size_t>(parties)) {
    if (parties < 1) throw ValueError("parties must be > 0");
  }
  Barrier(const Barrier&) = delete;
  Barrier& operator=(const Barrier&) = delete;

  // Suspends until `parties` tasks wait; returns this task's arrival index (0 .. parties-1).
  // BrokenBarrierError if the barrier is broken, or is aborted or reset while we wait.
  Task<std::size_t> wait() {
    // A round still draining (or being reset): wait until it has emptied (Python's _block).
    while (state_ == State::kDraining || state_ == State::kResetting) {
      detail::ListWait w(blocked_);
      co_await w;
    }
    if (state_ == State::kBroken) throw BrokenBarrierError("Barrier aborted");
    const std::size_t index = count_++;
    std::exception_ptr error;
    try {
      if (index + 1 == parties_) {
        state_ = State::kDraining;  // the last party releases the round
        arrived_.wake_all();
      } else {
        while (state_ == State::kFilling) {
          detail::ListWait w(arrived_);
          co_await w;
        }
        if (state_ == State::kBroken || state_ == State::kResetting)
          throw BrokenBarrierError("Abort or reset of barrier");
      }
    } catch (...) {
      error = std::current_exception();
    }
    --count_;
    leave();
    if (error) std::rethrow_exception(error);
    co_return index;
  }

  // Back to the empty filling state; tasks waiting now get BrokenBarrierError.
  detail::Done reset() noexcept {
    if (count_ > 0) state_ = State::kResetting;  // the last one out makes it filling again
    else state_ = State::kFilling;
    arrived_.wake_all();
    blocked_.wake_all();
    return {};
  }
  // Breaks the barrier: every wait() now and later throws BrokenBarrierError (until reset()).
  detail::Done abort() noexcept {
    state_ = State::kBroken;
    arrived_.wake_all();
    blocked_.wake_all();
    return {};
  }

  std::size_t parties() const noexcept { return parties_; }
  // How many tasks wait in the round being filled (0 while it drains or resets).
  std::size_t n_waiting() const noexcept { return state_ == State::kFilling ? count_ : 0; }
  bool broken() const noexcept { return state_ == State::kBroken; }

 private:
  enum class State { kFilling, kDraining, kResetting, kBroken };

  // A task left wait(): the last one out of a draining or resetting round opens the next one.
  void leave() noexcept {
    if (count_ != 0) return;
    if (state_ == State::kDraining || state_ == State::kResetting) state_ = State::kFilling;
    blocked_.wake_all();
  }

  const std::size_t parties_;
  std::size_t count_ = 0;  // tasks inside wait() past the block
  State state_ = State::kFilling;
  detail::WaitList arrived_;  // waiting for the round to fill
  detail::WaitList blocked_;  // waiting for the previous round to drain
};

}  // namespace concur::asyncio
