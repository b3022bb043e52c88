// concur/deadline.hpp — concur::Deadline: a user's `timeout` as an absolute steady_clock time.
//
// Every public `timeout` parameter accepts any std::chrono::duration (integral or floating
// point). Blocking code never works with the duration itself: it converts it once, at the call,
// into a Deadline, and passes that down. This makes "remaining time" arithmetic impossible to get
// wrong (there is none) and gives the three cases every timeout of concur has:
//   - no timeout given           -> Deadline::never()
//   - zero, negative or NaN      -> Deadline::immediate(): try once, never block
//   - anything else              -> now + timeout, saturated (a timeout of a century or of
//                                   duration::max() waits "forever" instead of overflowing).
#pragma once

#include <chrono>
#include <cmath>
#include <limits>

namespace concur {

// A point in time on std::chrono::steady_clock after which a wait gives up, or one of two
// special values: never() and immediate(). Public because every blocking call has a form that
// takes one (`wait_until`, `join_until`, ...). A trivially copyable value; all members are safe
// to call from any thread.
class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  // Waits with this deadline never time out.
  static constexpr Deadline never() noexcept { return Deadline(Clock::time_point::max()); }
  // Waits with this deadline do not block: they succeed at once or report their timeout.
  static constexpr Deadline immediate() noexcept {
    return Deadline(Clock::time_point::min());
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
    return Deadline(Clock::now() + (ns.count() > 0 ? ns : std::chrono::nanoseconds(1)));
  }

  // An absolute time on any clock; other clocks are mapped onto steady_clock once, here. The
  // distance is measured in floating-point seconds first, so that a far time point in coarse
  // units (time_point<Clock, hours>::max()) means "never" instead of overflowing nanoseconds.
  template <class C, class Duration>
  static Deadline at(std::chrono::time_point<C, Duration> when) noexcept {
    const auto now = C::now();
    using Seconds = std::chrono::duration<double>;
    const double ahead = Seconds(when.time_since_epoch()).count() -
                         Seconds(now.time_since_epoch()).count();
    if (!(ahead > 0.0)) return immediate();
    if (ahead > kForeverSeconds) return never();
    return after(when - now);  // both within kForeverSeconds of now: representable
  }

  constexpr bool is_never() const noexcept { return at_ == Clock::time_point::max(); }
  constexpr bool is_immediate() const noexcept { return at_ == Clock::time_point::min(); }
  // True once the deadline has passed (always true for immediate(), never for never()).
  [[nodiscard]] bool expired() const noexcept {
    if (is_never()) return false;
    if (is_immediate()) return true;
    return Clock::now() >= at_;
  }
  constexpr Clock::time_point time_point() const noexcept { return at_; }

 private:
  // Beyond ~31 years a timeout is indistinguishable from "forever" and cannot overflow
  // steady_clock's nanosecond count when added to now().
  static constexpr double kForeverSeconds = 1e9;
  constexpr explicit Deadline(Clock::time_point at) noexcept : at_(at) {}
  Clock::time_point at_;
};

}  // namespace concur
