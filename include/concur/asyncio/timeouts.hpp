// concur/asyncio/timeouts.hpp — aio::timeout(): Python's asyncio.timeout() as a scope guard.
//
//   {
//     auto guard = co_await aio::timeout(1s);     // or aio::timeout_at(loop.time() + 1s)
//     co_await slow();                            // throws concur::TimeoutError after 1 s
//   }
//
// Contract (Python 3.12's, with one C++ difference)
// - When the deadline passes while the task is inside the block, the task is cancelled; the
//   co_await suspended at that moment throws concur::TimeoutError instead of CancelledError
//   (a C++ scope cannot turn an exception into another on its way out, so the conversion
//   happens at that co_await). The task's cancelling() count is back to its value at entry.
// - A cancel() from outside wins over a simultaneous expiry: the co_await then throws
//   CancelledError.
// - Leaving the block (normally or by an exception) disarms the timer; an expiry that found
//   no co_await to interrupt is withdrawn (its cancellation request is taken back).
// - guard.when(), guard.reschedule(time_point), guard.expired(). A zero or negative timeout
//   expires at the first suspension in the block.
// - The guard belongs to its task: do not keep it beyond the block or hand it to another task.
//   RuntimeError outside a task.
#pragma once

#include <chrono>
#include <memory>
#include <optional>

#include "concur/asyncio/detail/task_core.hpp"
#include "concur/asyncio/event_loop.hpp"

namespace concur::asyncio {
namespace detail {

class TimeoutScope final : public TimerNode {
 public:
  enum class State { kActive, kExpiring, kExpired, kExited };

  explicit TimeoutScope(TaskCore& task) noexcept
      : task_(task), outer_(task.timeouts), entry_cancelling_(task.cancelling()) {
    task.timeouts = this;
  }
  ~TimeoutScope();
  TimeoutScope(const TimeoutScope&) = delete;
  TimeoutScope& operator=(const TimeoutScope&) = delete;

  void reschedule(std::optional<Clock::time_point> when);
  std::optional<Clock::time_point> deadline() const noexcept { return deadline_; }
  bool expired() const noexcept { return state_ == State::kExpiring || state_ == State::kExpired; }
  void fire() noexcept override;

  // At a co_await that throws the task's cancellation: every expiring scope of the task takes
  // its request back; true if no other request is left beyond theirs (throw TimeoutError).
  static bool convert_at_cancellation(TaskCore& task) noexcept;

 private:
  TaskCore& task_;
  TimeoutScope* outer_;
  int entry_cancelling_;
  std::optional<Clock::time_point> deadline_;
  State state_ = State::kActive;
};

}  // namespace detail

// The guard of a timeout block (movable; see the header comment).
class Timeout {
 public:
  explicit Timeout(std::unique_ptr<detail::TimeoutScope> scope) noexcept
      : scope_(std::move(scope)) {}
  // The deadline; nullopt when none (timeout_at(std::nullopt)).
  std::optional<std::chrono::steady_clock::time_point> when() const noexcept {
    return scope_->deadline();
  }
  void reschedule(std::optional<std::chrono::steady_clock::time_point> when) {
    scope_->reschedule(when);
  }
  bool expired() const noexcept { return scope_->expired(); }

 private:
  std::unique_ptr<detail::TimeoutScope> scope_;
};

namespace detail {
struct TimeoutAwaitable {
  std::optional<Clock::time_point> when;
  bool await_ready() const noexcept { return true; }
  void await_suspend(std::coroutine_handle<>) const noexcept {}
  Timeout await_resume() const {
    auto scope = std::make_unique<TimeoutScope>(TaskCore::require_running("aio::timeout()"));
    scope->reschedule(when);
    return Timeout(std::move(scope));
  }
};
}  // namespace detail

// co_await aio::timeout(d): a Timeout guard for the enclosing block.
template <class Rep, class Period>
detail::TimeoutAwaitable timeout(std::chrono::duration<Rep, Period> delay) {
  return {detail::deadline_after(delay)};
}
inline detail::TimeoutAwaitable timeout(std::nullopt_t) { return {std::nullopt}; }
inline detail::TimeoutAwaitable timeout_at(std::optional<std::chrono::steady_clock::time_point> when) {
  return {when};
}

}  // namespace concur::asyncio
