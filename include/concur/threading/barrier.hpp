// concur/threading/barrier.hpp — threading.Barrier: a fixed number of threads meet, then all go.
//
//   th::Barrier bar(3);                        // or Barrier(3, action) / Barrier(3, action, 1s)
//   std::size_t i = bar.wait();                // 0 .. parties-1, unique within a round
//   bar.wait(50ms);                            // this wait's own timeout
//   bar.reset(); bar.abort(); bar.broken(); bar.parties(); bar.n_waiting();
//
// Contract (CPython's Barrier, state for state)
// - The last thread to arrive runs `action` (if any) before anyone is released. If the action
//   throws, the barrier breaks and the exception propagates from that thread's wait().
// - A wait that times out breaks the barrier and throws BrokenBarrierError; so does every wait
//   of a barrier that is broken, aborted, or reset while threads wait in it.
// - reset() returns the barrier to its initial state; threads waiting at that moment get
//   BrokenBarrierError. abort() breaks it for good (until reset()).
// - Thread-safety: every member may be called concurrently.
// - Happens-before (all under the barrier's lock): everything each party did before its wait()
//   happens before the action runs, and the action and all of that happen before what every
//   party does after its wait() of that round returns. A wait() that throws BrokenBarrierError
//   sees what the thread that broke, aborted or reset the barrier did before that. n_waiting()
//   and broken() are relaxed snapshots and order nothing.
// - Throws: ValueError for parties < 1; BrokenBarrierError as above.
// - Undefined: destroying a Barrier while threads wait in it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>

#include "concur/deadline.hpp"
#include "concur/errors.hpp"
#include "concur/threading/condition.hpp"
#include "concur/threading/lock.hpp"

namespace concur::threading {

// Raised by Barrier::wait() when the barrier is or becomes broken.
struct BrokenBarrierError : RuntimeError {
  BrokenBarrierError() : RuntimeError("the barrier is broken") {}
  using RuntimeError::RuntimeError;
};

class Barrier {
 public:
  explicit Barrier(std::ptrdiff_t parties, std::function<void()> action = {});
  template <class Rep, class Period>
  Barrier(std::ptrdiff_t parties, std::function<void()> action,
          std::chrono::duration<Rep, Period> timeout)
      : Barrier(parties, std::move(action)) {
    timeout_ = std::chrono::duration<double>(timeout);  // Deadline::after saturates it later
  }
  Barrier(const Barrier&) = delete;
  Barrier& operator=(const Barrier&) = delete;

  // Wait for the round to fill; returns this thread's arrival index. Without an argument the
  // barrier's default timeout (if one was given at construction) applies.
  std::size_t wait() {
    return wait_until(timeout_ ? Deadline::after(*timeout_) : Deadline::never());
  }
  template <class Rep, class Period>
  std::size_t wait(std::chrono::duration<Rep, Period> timeout) {
    return wait_until(Deadline::after(timeout));
  }
  std::size_t wait_until(const Deadline& deadline);

  void reset();
  void abort();

  // Snapshots, readable without the barrier's lock — also from inside the action, as in Python.
  [[nodiscard]] std::size_t parties() const noexcept { return parties_; }
  [[nodiscard]] std::size_t n_waiting() const noexcept {
    return state_.load(std::memory_order_relaxed) == State::filling
               ? count_.load(std::memory_order_relaxed)
               : 0;
  }
  [[nodiscard]] bool broken() const noexcept { return state_.load(std::memory_order_relaxed) == State::broken; }

 private:
  enum class State { filling, draining, resetting, broken };
  void enter();
  void release_round();
  void await_round(const Deadline& deadline);
  void leave();
  void break_barrier();

  Lock lock_;
  Condition cond_{lock_};
  const std::size_t parties_;
  std::function<void()> action_;
  std::optional<std::chrono::duration<double>> timeout_;  // the default for wait()
  // Written only under lock_; atomic so that n_waiting() and broken() can read them without it.
  std::atomic<State> state_{State::filling};
  std::atomic<std::size_t> count_{0};  // threads inside wait() this round
};

}  // namespace concur::threading
