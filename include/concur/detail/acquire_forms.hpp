// concur/detail/acquire_forms.hpp — Python's acquire() call forms and the standard Lockable
// interface, written once for every lock-like primitive (Lock, RLock, Condition, Semaphore).
//
// A primitive derives from AcquireForms<Self> and provides two members:
//   bool acquire_until(const Deadline&);   // take it, waiting at most until the deadline
//   void release();
// and gets:
//   acquire()                -> block until taken (returns true)
//   acquire(false)           -> try once
//   acquire(true, t) / (t)   -> block at most t (t <= 0: try once)
//   acquire(false, t)        -> ValueError: a timeout makes no sense for a non-blocking call
//   acquire(0.05), acquire(true, 0.05) -> do not compile: `blocking` is a bool and a timeout
//                               a std::chrono duration (block_flag.hpp)
//   lock() / unlock() / try_lock() / try_lock_for(t) / try_lock_until(tp)
// so that std::lock_guard, std::unique_lock and std::scoped_lock work: the C++ `with`.
#pragma once

#include <chrono>

#include "concur/deadline.hpp"
#include "concur/detail/block_flag.hpp"
#include "concur/errors.hpp"

namespace concur::detail {

inline Deadline blocking_deadline(bool blocking) noexcept {
  return blocking ? Deadline::never() : Deadline::immediate();
}

template <class Rep, class Period>
Deadline blocking_deadline(bool blocking, std::chrono::duration<Rep, Period> timeout) {
  if (!blocking) throw ValueError("can't specify a timeout for a non-blocking call");
  return Deadline::after(timeout);
}

template <class Self>
class AcquireForms {
 public:
  bool acquire(bool blocking = true) { return self().acquire_until(blocking_deadline(blocking)); }
  template <class Rep, class Period>
  bool acquire(bool blocking, std::chrono::duration<Rep, Period> timeout) {
    return self().acquire_until(blocking_deadline(blocking, timeout));
  }
  template <class Rep, class Period>
  bool acquire(std::chrono::duration<Rep, Period> timeout) {
    return self().acquire_until(Deadline::after(timeout));
  }
  // Numbers where a flag or a duration belongs: rejected at compile time (block_flag.hpp).
  template <NumberNotBool N, class... Rest>
  bool acquire(N, Rest&&...) {
    static_assert(kRejected<N>,
                  "acquire(blocking): `blocking` is a bool, not a timeout; for a timeout of 0.05 s "
                  "write acquire(50ms) or acquire(std::chrono::duration<double>(0.05))");
    return false;
  }
  template <NumberNotBool N>
  bool acquire(bool, N) {
    static_assert(kRejected<N>,
                  "acquire(blocking, timeout): the timeout is a std::chrono duration, not a number; "
                  "write acquire(true, 50ms) or acquire(true, std::chrono::duration<double>(0.05))");
    return false;
  }

  void lock() { self().acquire_until(Deadline::never()); }
  void unlock() { self().release(); }
  bool try_lock() { return self().acquire_until(Deadline::immediate()); }
  template <class Rep, class Period>
  bool try_lock_for(std::chrono::duration<Rep, Period> timeout) {
    return self().acquire_until(Deadline::after(timeout));
  }
  template <class Clock, class Duration>
  bool try_lock_until(std::chrono::time_point<Clock, Duration> when) {
    return self().acquire_until(Deadline::at(when));
  }

 private:
  Self& self() noexcept { return static_cast<Self&>(*this); }
};

}  // namespace concur::detail
