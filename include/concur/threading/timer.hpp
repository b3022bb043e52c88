// concur/threading/timer.hpp — threading.Timer: a Thread that calls a function once, after an
// interval, unless cancelled first.
//
//   th::Timer tm(1s, fn, a, b);    // any duration: 1s, 250ms, duration<double>(0.5)
//   tm.start();  tm.cancel();  tm.join();
//
// Contract
// - Everything a Thread is (name "Thread-N", daemon flag, join, destructor rules of a Thread
//   built from a target: a daemon Timer left running is detached, a non-daemon one is joined).
// - cancel() before the interval ends means fn never runs; after that it has no effect.
//   It may be called from any thread, before or after start().
// - An exception from fn goes to the except hook, like any thread's.
// - Happens-before: as a Thread: what a thread did before start() happens before fn runs, and
//   what fn did happens before join() returns. cancel() orders nothing and never waits for fn:
//   when it returns, fn may be running or have run (the interval had ended); join() to see
//   fn's effects.
#pragma once

#include <chrono>
#include <memory>
#include <tuple>
#include <utility>

#include "concur/deadline.hpp"
#include "concur/threading/event.hpp"
#include "concur/threading/thread.hpp"

namespace concur::threading {

class Timer : public Thread {
 public:
  // fn(args...) after `interval` (arguments copied, as for Thread; fn may take the thread's
  // std::stop_token first).
  template <class Rep, class Period, class F, class... Args>
  Timer(std::chrono::duration<Rep, Period> interval, F&& fn, Args&&... args)
      : Timer(std::make_shared<Event>(), std::chrono::duration<double>(interval),
              bind_target(std::forward<F>(fn), std::forward<Args>(args)...)) {
    if constexpr (takes_stop_token<F, Args...>) enable_stop_token();
  }

  // Stop the timer if it is still waiting.
  void cancel() noexcept { finished_->set(); }

 private:
  Timer(std::shared_ptr<Event> finished, std::chrono::duration<double> interval,
        detail::UniqueFunction<void(std::stop_token)> fn)
      : Thread(TargetOnly{},
               [finished, interval, fn = std::move(fn)](std::stop_token token) mutable {
                 if (!finished->wait(interval)) fn(std::move(token));
                 finished->set();
               }),
        finished_(std::move(finished)) {}

  std::shared_ptr<Event> finished_;  // shared with the running body, which may outlive *this
};

}  // namespace concur::threading
