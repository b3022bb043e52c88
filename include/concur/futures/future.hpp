// concur/futures/future.hpp — Future<R>: Python's concurrent.futures.Future, a copyable handle
// on the eventual outcome of a call.
//
//   cf::Future<int> f = pool.submit(fn, a, b);
//   f.result();  f.result(1s);     // the value; rethrows fn's exception; TimeoutError;
//                                  // CancelledError
//   f.exception(); f.exception(1s) // std::exception_ptr, nullptr when fn returned
//   f.done(); f.running(); f.cancelled(); f.cancel();
//   f.add_done_callback([](cf::Future<int> g) { ... });
//   std::unordered_map<cf::Future<int>, std::string> url_of;  // hashable and ordered by identity
//
// States: PENDING -> RUNNING -> FINISHED, or PENDING -> CANCELLED. cancel() succeeds only while
// pending, and then the call never runs. Copies share one state (as Python references share one
// object); the state lives as long as any copy, or the executor, holds it.
//
// result() returns a reference to the value kept in the shared state (valid while this handle
// lives), like std::shared_future::get(); called on a temporary (pool.submit(f).result()) it
// returns the value itself. Timeouts as everywhere (deadline.hpp): any duration, zero or negative
// means "do not wait".
//
// Callbacks: run exactly once, at once in the calling thread if the future is already done,
// otherwise in the thread that completes it (also on cancel()); an exception thrown by a
// callback is reported on stderr and ignored.
//
// For executor writers, as in Python: a default-constructed Future is a fresh pending future;
// set_running_or_notify_cancel(), set_result() and set_exception() drive it
// (InvalidStateError when it is already done).
//
// Happens-before: everything a thread did before set_result() or set_exception() (for a future
// from submit(), everything the call did), or before the cancel() that cancelled it, happens
// before what a thread does after done() or cancelled() returns true, after result() or
// exception() returns (or throws the outcome), and in every done callback; what a thread did
// before add_done_callback() happens before that callback runs. A TimeoutError, or done() ==
// false, orders nothing.
//
// Thread-safety: every member may be called concurrently on copies of one future, and on the
// same Future object except assignment.
#pragma once

#include <chrono>
#include <compare>
#include <cstddef>
#include <exception>
#include <functional>
#include <type_traits>
#include <utility>

#include "concur/deadline.hpp"
#include "concur/errors.hpp"
#include "concur/futures/errors.hpp"
#include "concur/futures/detail/future_state.hpp"

namespace concur::futures {

template <class R>
class Future {
  using State = detail::State<R>;

 public:
  using value_type = R;

  // A new pending future, for executors written by hand (Python's Future()).
  Future() : state_(new State) {}

  // ---- outcome ------------------------------------------------------------------------------
  decltype(auto) result() const& { return get(Deadline::never()); }
  template <class Rep, class Period>
  decltype(auto) result(std::chrono::duration<Rep, Period> timeout) const& {
    return get(Deadline::after(timeout));
  }
  R result() && { return take(Deadline::never()); }
  template <class Rep, class Period>
  R result(std::chrono::duration<Rep, Period> timeout) && {
    return take(Deadline::after(timeout));
  }

  std::exception_ptr exception() const { return exception_until(Deadline::never()); }
  template <class Rep, class Period>
  std::exception_ptr exception(std::chrono::duration<Rep, Period> timeout) const {
    return exception_until(Deadline::after(timeout));
  }

  // ---- status -------------------------------------------------------------------------------
  [[nodiscard]] bool done() const noexcept { return state_->done(); }
  [[nodiscard]] bool running() const noexcept { return state_->running(); }
  [[nodiscard]] bool cancelled() const noexcept { return state_->cancelled(); }
  bool cancel() noexcept { return state_->cancel(); }

  // fn(Future<R>) — see the header comment.
  template <class Fn>
  void add_done_callback(Fn&& fn) {
    state_->add_callback([self = *this, fn = std::forward<Fn>(fn)]() mutable { fn(self); });
  }

  // ---- for executors ------------------------------------------------------------------------
  bool set_running_or_notify_cancel() { return state_->set_running_or_notify_cancel(); }
  template <class... A>
  void set_result(A&&... value) {
    state().set_value(std::forward<A>(value)...);
  }
  void set_exception(std::exception_ptr error) { state_->set_exception(std::move(error)); }

  // Blocks until done or the timeout; returns done(). (Not in Python's Future; wait() below
  // is the Python spelling for several futures.)
  bool wait_until(const Deadline& deadline) const { return state_->wait_done(deadline); }

  // Identity, as Python's: copies of one future are equal, hash alike and order together, so
  // a Future can key a std::unordered_map (Python's {executor.submit(f, x): x for x in xs}) or a
  // std::map. The order is that of the shared states' addresses: strict, total, meaningless.
  friend bool operator==(const Future& a, const Future& b) noexcept {
    return a.state_ == b.state_;
  }
  friend std::strong_ordering operator<=>(const Future& a, const Future& b) noexcept {
    return std::compare_three_way{}(a.state_ptr(), b.state_ptr());
  }

  // Internal: the shared state (wait(), as_completed(), executors).
  detail::StateBase* state_ptr() const noexcept { return state_.get(); }
  explicit Future(detail::StateRef state) noexcept : state_(std::move(state)) {}

 private:
  State& state() const noexcept { return *static_cast<State*>(state_.get()); }

  // Waits, then rethrows the failure or returns access to the value.
  void wait_for_outcome(const Deadline& deadline) const {
    if (!state_->wait_done(deadline)) throw TimeoutError();
    if (std::exception_ptr e = state_->error_after_done()) std::rethrow_exception(e);
  }
  decltype(auto) get(const Deadline& deadline) const {
    wait_for_outcome(deadline);
    if constexpr (std::is_void_v<R>)
      return;
    else
      return static_cast<const R&>(state().value());
  }
  R take(const Deadline& deadline) const {
    wait_for_outcome(deadline);
    if constexpr (std::is_void_v<R>)
      return;
    else if constexpr (std::is_copy_constructible_v<R>)
      return state().value();
    else
      return std::move(state().value());  // move-only value from a temporary handle
  }
  std::exception_ptr exception_until(const Deadline& deadline) const {
    if (!state_->wait_done(deadline)) throw TimeoutError();
    return state_->error_after_done();
  }

  detail::StateRef state_;
};

}  // namespace concur::futures

// Hashes a Future by identity, consistent with operator==.
template <class R>
struct std::hash<concur::futures::Future<R>> {
  std::size_t operator()(const concur::futures::Future<R>& f) const noexcept {
    return std::hash<const void*>{}(f.state_ptr());
  }
};
