// concur/detail/timeout_args.hpp — the (blocking, timeout) argument rules shared by every
// acquire()-style call, so that each primitive states them once, the way Python does:
//   acquire()                -> block forever
//   acquire(false)           -> do not block
//   acquire(true, t) / (t)   -> block at most t (t <= 0: do not block)
//   acquire(false, t)        -> ValueError: a timeout makes no sense for a non-blocking call
#pragma once

#include <chrono>

#include "concur/detail/deadline.hpp"
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

}  // namespace concur::detail
