// concur/deadlock/lock_order.hpp — lock-order checking: finding potential deadlocks before they
// happen, like Linux's lockdep and Abseil's Mutex deadlock detection.
//
//   dl::enable_lock_order_checking(true);     // or CONCUR_LOCK_ORDER=1 in the environment
//   th::Lock a("account-A"), b("account-B");
//   // thread 1: { std::scoped_lock g1(a); std::scoped_lock g2(b); }   records a -> b
//   // thread 2: { std::scoped_lock g1(b); std::scoped_lock g2(a); }   b -> a closes a cycle:
//   //           reported before thread 2 blocks, even if this run would not deadlock
//
// While checking is on, every blocking or timed acquisition of a concur Lock, RLock (its first
// level), Condition (through its lock) or Semaphore made while the thread holds other concur
// locks records the orders held -> acquired in one process-wide graph. An acquisition whose new
// order would close a cycle in that graph is reported (report.hpp: the locks, by name when they
// have one; the threads; the conflicting orders) before it blocks, and its order is not recorded;
// each inverted pair is reported once. Taking a plain Lock this thread already holds (a certain
// self-deadlock) is reported too. Try-acquisitions (acquire(false)) cannot block and are only
// recorded as held.
//
// Environment, read at start-up: CONCUR_LOCK_ORDER=1 (or "print") turns checking on;
// CONCUR_LOCK_ORDER=raise also sets Reaction::raise. Read by any program that includes this
// header (or <concur/deadlock.hpp>) or links libconcur as a shared library: the locks reach the
// checker only through the hook table this module installs (detail/lock_tracking.hpp), so a
// statically linked program that never names the deadlock module does not contain it.
//
// Cost: off, one relaxed load and a never-taken branch per acquire and per release (make bench
// shows it against plain Lock figures). On, each acquisition also takes the thread's
// diagnostics lock and, when it holds other locks, the graph's lock: a debugging mode.
//
// Thread-safety: all functions may be called from any thread at any time. Locks that were held
// when checking was switched on are not known to be held until they are acquired again.
#pragma once

namespace concur::deadlock {

void enable_lock_order_checking(bool on = true);
[[nodiscard]] bool lock_order_checking_enabled() noexcept;
// Forget every recorded order and every report already made (the graph starts empty).
void reset_lock_order_graph();

namespace detail {
// Makes every program that includes this header link the checker, so that CONCUR_LOCK_ORDER is
// read at start-up (src/deadlock/lock_order.cpp).
extern const bool lock_order_env_read;
[[gnu::used]] inline const bool* const lock_order_link_anchor = &lock_order_env_read;
}  // namespace detail

}  // namespace concur::deadlock
