// concur/detail/deadline.hpp — turning a user's `timeout` into an absolute steady_clock deadline.
//
// Every public `timeout` parameter accepts any std::chrono::duration (integral or floating
// point). Blocking code never works with the duration itself: it converts it once, at the call,
// into a Deadline, and passes that down. This makes "remaining time" arithmetic impossible to get
// wrong (there is none) and gives the three cases API.md §1 asks for:
//   - no timeout given           -> Deadline::never()
//   - zero, negative or NaN      -> Deadline::immediate(): try once, never block
//   - anything else              -> now + timeout, saturated (a timeout of a century or of
//                                   duration::max() waits "forever" instead of overflowing).
#pragma once

#include <chrono>
#include <cmath>
#include <limits>

namespace concur::detail {

using SteadyClock = std::chrono::steady_clock;

class Deadline {
 public:
  // Waits with this deadline never time out.
  static constexpr Deadline never() noexcept { return Deadline(SteadyClock::time_point::max()); }
  // Waits with this deadline do not block: they succeed at once or report their timeout.
  static constexpr Deadline immediate() noexcept {
    return Deadline(SteadyClock::time_point::min());
  }

  // `timeout` from now; see the header comment for the edge cases.
  template <class Rep, class Period>
  static Deadline after(std::chrono::duration<Rep, Period> timeout) noexcept {
    // Compare in floating-point seconds first: it cannot overflow, whatever Rep and Period are.
    const double seconds = std::chrono::duration<double>(timeout).count();
    if (!(seconds > 0.0)) return immediate();  // also catches NaN
    if (seconds > kForeverSeconds) return never();
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(seconds));
    return Deadline(SteadyClock::now() + (ns.count() > 0 ? ns : std::chrono::nanoseconds(1)));
  }

  // An absolute time on any clock; other clocks are mapped onto steady_clock once, here.
  template <class Clock, class Duration>
  static Deadline at(std::chrono::time_point<Clock, Duration> when) noexcept {
    const auto now = Clock::now();
    if (when <= now) return immediate();  // compare first: `when - now` may not be representable
    return after(when - now);
  }

  constexpr bool is_never() const noexcept { return at_ == SteadyClock::time_point::max(); }
  constexpr bool is_immediate() const noexcept { return at_ == SteadyClock::time_point::min(); }
  // True once the deadline has passed (always true for immediate(), never for never()).
  bool expired() const noexcept {
    if (is_never()) return false;
    if (is_immediate()) return true;
    return SteadyClock::now() >= at_;
  }
  constexpr SteadyClock::time_point time_point() const noexcept { return at_; }

 private:
  // Beyond ~31 years a timeout is indistinguishable from "forever" and cannot overflow
  // steady_clock's nanosecond count when added to now().
  static constexpr double kForeverSeconds = 1e9;
  constexpr explicit Deadline(SteadyClock::time_point at) noexcept : at_(at) {}
  SteadyClock::time_point at_;
};

}  // namespace concur::detail
