// concur::Deadline (include/concur/deadline.hpp): the one place where a user's
// `timeout` becomes an absolute steady_clock deadline, and the (blocking, timeout) rules of
// include/concur/detail/acquire_forms.hpp. API.md §1: any duration (integral or floating-point),
// zero/negative means "do not wait", huge means "forever" without overflow.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <thread>

#include "concur/deadline.hpp"
#include "concur/detail/acquire_forms.hpp"
#include "concur/errors.hpp"
#include "test_support.hpp"

namespace {

using concur::Deadline;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A finite deadline `timeout` after a call made between `before` and `after`.
void expect_finite_after(const Deadline& d, Clock::time_point before, Clock::time_point after,
                         Clock::duration timeout, Clock::duration slack = 1ns) {
  EXPECT_FALSE(d.is_never());
  EXPECT_FALSE(d.is_immediate());
  EXPECT_GE(d.time_point(), before + timeout - slack);
  EXPECT_LE(d.time_point(), after + timeout + slack);
}

TEST(Deadline, NeverAndImmediate) {
  constexpr Deadline never = Deadline::never();
  constexpr Deadline immediate = Deadline::immediate();
  static_assert(never.is_never() && !never.is_immediate());
  static_assert(immediate.is_immediate() && !immediate.is_never());
  EXPECT_FALSE(never.expired());
  EXPECT_TRUE(immediate.expired());
  EXPECT_EQ(never.time_point(), Clock::time_point::max());
  EXPECT_EQ(immediate.time_point(), Clock::time_point::min());
}

TEST(Deadline, AfterIntegralDurations) {
  auto before = Clock::now();
  Deadline d = Deadline::after(50ms);
  auto after = Clock::now();
  expect_finite_after(d, before, after, 50ms);

  before = Clock::now();
  d = Deadline::after(2s);
  after = Clock::now();
  expect_finite_after(d, before, after, 2s);
  EXPECT_FALSE(d.expired());

  before = Clock::now();
  d = Deadline::after(std::chrono::microseconds(1));
  after = Clock::now();
  expect_finite_after(d, before, after, 1us);

  // The smallest positive timeout is still a real (finite) deadline, not "immediate".
  d = Deadline::after(1ns);
  EXPECT_FALSE(d.is_immediate());
  EXPECT_FALSE(d.is_never());

  // Durations of other periods and reps.
  before = Clock::now();
  d = Deadline::after(std::chrono::duration<short, std::milli>(50));
  after = Clock::now();
  expect_finite_after(d, before, after, 50ms);
  before = Clock::now();
  d = Deadline::after(std::chrono::duration<unsigned, std::ratio<1, 100>>(5));  // 5 centiseconds
  after = Clock::now();
  expect_finite_after(d, before, after, 50ms);
  before = Clock::now();
  d = Deadline::after(std::chrono::minutes(1));
  after = Clock::now();
  expect_finite_after(d, before, after, 1min);
}

TEST(Deadline, AfterFloatingPointDurations) {
  auto before = Clock::now();
  Deadline d = Deadline::after(std::chrono::duration<double>(0.05));
  auto after = Clock::now();
  expect_finite_after(d, before, after, 50ms, 2ns);

  before = Clock::now();
  d = Deadline::after(std::chrono::duration<float, std::milli>(50.0f));
  after = Clock::now();
  expect_finite_after(d, before, after, 50ms, 1us);

  before = Clock::now();
  d = Deadline::after(std::chrono::duration<long double>(0.05L));
  after = Clock::now();
  expect_finite_after(d, before, after, 50ms, 2ns);

  before = Clock::now();
  d = Deadline::after(std::chrono::duration<double, std::ratio<60>>(0.5));  // half a minute
  after = Clock::now();
  expect_finite_after(d, before, after, 30s, 2ns);

  // Sub-nanosecond positive timeouts round up to a real deadline rather than to "immediate".
  d = Deadline::after(std::chrono::duration<double>(1e-12));
  EXPECT_FALSE(d.is_immediate());
  EXPECT_FALSE(d.is_never());
  d = Deadline::after(std::chrono::duration<double>(std::numeric_limits<double>::denorm_min()));
  EXPECT_FALSE(d.is_immediate());
}

TEST(Deadline, ZeroAndNegativeAreImmediate) {
  EXPECT_TRUE(Deadline::after(0ms).is_immediate());
  EXPECT_TRUE(Deadline::after(0ns).is_immediate());
  EXPECT_TRUE(Deadline::after(-1ns).is_immediate());
  EXPECT_TRUE(Deadline::after(-1s).is_immediate());
  EXPECT_TRUE(Deadline::after(std::chrono::nanoseconds::min()).is_immediate());
  EXPECT_TRUE(Deadline::after(std::chrono::seconds::min()).is_immediate());
  EXPECT_TRUE(Deadline::after(std::chrono::hours::min()).is_immediate());
  EXPECT_TRUE(Deadline::after(std::chrono::duration<double>(0.0)).is_immediate());
  EXPECT_TRUE(Deadline::after(std::chrono::duration<double>(-0.0)).is_immediate());
  EXPECT_TRUE(Deadline::after(std::chrono::duration<double>(-1e-12)).is_immediate());
  EXPECT_TRUE(Deadline::after(std::chrono::duration<double>(-1e300)).is_immediate());
  EXPECT_TRUE(Deadline::after(std::chrono::duration<double>(-INFINITY)).is_immediate());
  EXPECT_TRUE(Deadline::after(std::chrono::duration<float>(-0.5f)).is_immediate());
  EXPECT_TRUE(Deadline::after(std::chrono::duration<unsigned>(0)).is_immediate());
  EXPECT_TRUE(Deadline::after(0ms).expired());
  EXPECT_TRUE(Deadline::after(-1s).expired());
}

TEST(Deadline, NaNIsImmediate) {
  EXPECT_TRUE(Deadline::after(std::chrono::duration<double>(std::nan(""))).is_immediate());
  EXPECT_TRUE(Deadline::after(std::chrono::duration<double>(-std::nan(""))).is_immediate());
  EXPECT_TRUE(Deadline::after(std::chrono::duration<float>(std::nanf(""))).is_immediate());
  EXPECT_TRUE(
      Deadline::after(std::chrono::duration<double>(std::numeric_limits<double>::signaling_NaN()))
          .is_immediate());
}

TEST(Deadline, HugeDurationsAreNever) {
  EXPECT_TRUE(Deadline::after(std::chrono::nanoseconds::max()).is_never());
  EXPECT_TRUE(Deadline::after(std::chrono::microseconds::max()).is_never());
  EXPECT_TRUE(Deadline::after(std::chrono::milliseconds::max()).is_never());
  EXPECT_TRUE(Deadline::after(std::chrono::seconds::max()).is_never());
  EXPECT_TRUE(Deadline::after(std::chrono::minutes::max()).is_never());
  EXPECT_TRUE(Deadline::after(std::chrono::hours::max()).is_never());
  EXPECT_TRUE(Deadline::after(std::chrono::years(100)).is_never());
  EXPECT_TRUE(Deadline::after(std::chrono::duration<unsigned long long>::max()).is_never());
  EXPECT_TRUE(Deadline::after(std::chrono::duration<double>(1e300)).is_never());
  EXPECT_TRUE(Deadline::after(std::chrono::duration<double>(INFINITY)).is_never());
  EXPECT_TRUE(
      Deadline::after(std::chrono::duration<double>(std::numeric_limits<double>::max())).is_never());
  EXPECT_TRUE(Deadline::after(std::chrono::duration<float>(1e30f)).is_never());
  EXPECT_TRUE(Deadline::after(std::chrono::duration<double, std::ratio<3600>>(1e300)).is_never());
  EXPECT_FALSE(Deadline::after(std::chrono::hours::max()).expired());
}

TEST(Deadline, LargeButFiniteDurationsDoNotOverflow) {
  // Just under the "forever" threshold: a finite deadline in the future, no overflow.
  for (const auto timeout : {std::chrono::seconds(1'000'000), std::chrono::seconds(100'000'000),
                             std::chrono::seconds(999'999'999)}) {
    const auto before = Clock::now();
    const Deadline d = Deadline::after(timeout);
    if (d.is_never()) continue;  // treating it as forever is fine too
    EXPECT_FALSE(d.is_immediate()) << timeout.count();
    EXPECT_GT(d.time_point(), before) << timeout.count();
    EXPECT_FALSE(d.expired());
  }
}

TEST(Deadline, Expires) {
  const Deadline d = Deadline::after(1ms);
  EXPECT_FALSE(d.is_immediate());
  std::this_thread::sleep_until(d.time_point() + 1ms);
  EXPECT_TRUE(d.expired());
  const Deadline far = Deadline::after(concur_test::long_wait());
  EXPECT_FALSE(far.expired());
}

TEST(Deadline, AtSteadyClock) {
  auto now = Clock::now();
  Deadline d = Deadline::at(now + 50ms);
  EXPECT_FALSE(d.is_never());
  EXPECT_FALSE(d.is_immediate());
  EXPECT_GE(d.time_point(), now + 50ms - 1ms);
  EXPECT_LE(d.time_point(), Clock::now() + 50ms);
  EXPECT_TRUE(Deadline::at(Clock::now() - 1s).is_immediate());
  EXPECT_TRUE(Deadline::at(Clock::now() - 1ns).is_immediate());
  EXPECT_TRUE(Deadline::at(Clock::time_point::min()).is_immediate());
  EXPECT_TRUE(Deadline::at(Clock::time_point{}).is_immediate());  // the clock's epoch: past
  EXPECT_TRUE(Deadline::at(Clock::time_point::max()).is_never());
  // A steady time_point with another duration type.
  now = Clock::now();
  d = Deadline::at(std::chrono::time_point<Clock, std::chrono::duration<double>>(now) +
                   std::chrono::duration<double>(0.05));
  EXPECT_FALSE(d.is_immediate());
  EXPECT_FALSE(d.is_never());
  EXPECT_GE(d.time_point(), now + 50ms - 1ms);
  EXPECT_LE(d.time_point(), Clock::now() + 50ms + 1ms);
  d = Deadline::at(std::chrono::time_point_cast<std::chrono::milliseconds>(Clock::now()) + 1h);
  EXPECT_FALSE(d.is_immediate());
  EXPECT_FALSE(d.is_never());
}

TEST(Deadline, AtSystemClock) {
  using Sys = std::chrono::system_clock;
  const auto steady_before = Clock::now();
  const Deadline d = Deadline::at(Sys::now() + 50ms);
  const auto steady_after = Clock::now();
  EXPECT_FALSE(d.is_never());
  EXPECT_FALSE(d.is_immediate());
  // Mapped onto steady_clock once: 50 ms after the call, less at most the time the call took.
  EXPECT_GE(d.time_point(), steady_before + 50ms - (steady_after - steady_before) - 1ms);
  EXPECT_LE(d.time_point(), steady_after + 50ms);
  EXPECT_TRUE(Deadline::at(Sys::now() - 1s).is_immediate());
  EXPECT_TRUE(Deadline::at(Sys::now() - 24h).is_immediate());
  EXPECT_TRUE(Deadline::at(Sys::time_point{}).is_immediate());  // 1970
  EXPECT_TRUE(Deadline::at(Sys::time_point::max()).is_never());
  EXPECT_TRUE(Deadline::at(std::chrono::time_point_cast<std::chrono::seconds>(Sys::now()) + 1h).time_point() >
              Clock::now());
  const auto dbl = std::chrono::time_point<Sys, std::chrono::duration<double>>(Sys::now()) +
                   std::chrono::duration<double>(0.05);
  EXPECT_FALSE(Deadline::at(dbl).is_immediate());
}

TEST(Deadline, AtSystemClockFarPastIsImmediate) {
  // The far past is "do not wait" (API.md §1: remaining-time arithmetic that dips below zero
  // must never block). system_clock::time_point::min() - system_clock::now() overflows the
  // nanosecond count if computed naively, and wraps to a huge positive "remaining" time.
  using Sys = std::chrono::system_clock;
  EXPECT_TRUE(Deadline::at(Sys::time_point::min()).is_immediate());
  EXPECT_TRUE(Deadline::at(Sys::time_point::min() + 24h).is_immediate());
}

TEST(TimeoutArgs, BlockingDeadline) {
  using concur::detail::blocking_deadline;
  EXPECT_TRUE(blocking_deadline(true).is_never());
  EXPECT_TRUE(blocking_deadline(false).is_immediate());
  EXPECT_TRUE(blocking_deadline(true, 0ms).is_immediate());
  EXPECT_TRUE(blocking_deadline(true, -1s).is_immediate());
  EXPECT_TRUE(blocking_deadline(true, std::chrono::hours::max()).is_never());
  EXPECT_FALSE(blocking_deadline(true, 50ms).is_never());
  EXPECT_FALSE(blocking_deadline(true, 50ms).is_immediate());
  EXPECT_THROW(blocking_deadline(false, 50ms), concur::ValueError);
  EXPECT_THROW(blocking_deadline(false, 0ms), concur::ValueError);
  EXPECT_THROW(blocking_deadline(false, std::chrono::duration<double>(1.5)), concur::ValueError);
}

}  // namespace
