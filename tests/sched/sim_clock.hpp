// Simulated clocks for the scheduler tests (scheduler(timefunc, delayfunc)).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include <concur/sched.hpp>

#include "test_support.hpp"

namespace sched_test {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Time that passes only when the scheduler sleeps: delayfunc(d) adds d at once.
struct JumpClock {
  Clock::time_point t{};
  std::mutex m;
  Clock::time_point time() {
    std::lock_guard g(m);
    return t;
  }
  void sleep(Clock::duration d) {
    EXPECT_GE(d, Clock::duration::zero());
    std::lock_guard g(m);
    t += d;
  }
  concur::sched::scheduler make() {
    return concur::sched::scheduler([this] { return time(); }, [this](Clock::duration d) { sleep(d); });
  }
};

// CPython's test_sched.Timer: sleep(d) advances the time by d, but never beyond a limit that
// the test raises with advance(); a sleeper waits for the limit meanwhile. Its waits are bounded
// (a stuck sleeper fails the test instead of hanging it).
class LimitClock {
 public:
  Clock::time_point time() {
    std::lock_guard g(m_);
    return t_;
  }
  void sleep(Clock::duration d) {
    EXPECT_GE(d, Clock::duration::zero());
    std::unique_lock g(m_);
    const Clock::time_point target = t_ + d;
    while (stop_ < target) {
      t_ = stop_;
      if (cv_.wait_for(g, concur_test::long_wait()) == std::cv_status::timeout) {
        ADD_FAILURE() << "LimitClock::sleep: nobody advanced the clock";
        return;
      }
    }
    t_ = target;
  }
  void advance(Clock::duration d) {
    std::lock_guard g(m_);
    stop_ += d;
    cv_.notify_all();
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  Clock::time_point t_{}, stop_{};
};

}  // namespace sched_test
