// concur/detail/lock_tracking.hpp — the switch every concur lock reads on its fast path, and the
// hook table it calls when the switch is on (lock-order checking, held-lock records: the
// deadlock module installs them; this layer knows nothing of it).
//
// Off (the default), a lock pays one relaxed load and one branch that is never taken per
// acquire() and per release(): the word is written only when a user turns a diagnostic on or
// off, so it stays in every core's cache and the branch predictor learns it at once.
// On, every Lock, RLock (first level only), Condition (through its lock) and Semaphore
// acquisition goes through the calls below, which keep the calling thread's held-lock list and,
// with order checking on, the global lock-order graph (src/deadlock/lock_order.cpp).
//
// Thread-safety: all calls may be made from any thread.
#pragma once

#include <atomic>
#include <string_view>

#include "concur/deadline.hpp"
#include "concur/detail/wait_site.hpp"

namespace concur::detail {

// On while lock-order checking is (deadlock::enable_lock_order_checking): each thread's
// held-lock list is kept (dumps show it too) and every blocking acquisition's order is checked.
// Only the layer that installed a LockObserver switches it on.
// Read relaxed: a lock that misses a switch flipped a moment ago is checked from its next
// acquisition on; a held-lock list that misses entries only makes a report name fewer locks.
inline std::atomic<bool> g_lock_tracking{false};
// Set once checking has been on: a lock destroyed from then on is forgotten by the order graph
// and the held-lock lists, so that a new lock at the same address inherits nothing.
inline std::atomic<bool> g_lock_graph_used{false};

inline bool lock_tracking_on() noexcept {
  return g_lock_tracking.load(std::memory_order_relaxed);
}

struct TrackedLock {
  const void* object;
  const WaitKind* kind;   // threading's lock, rlock or semaphore kind (wait_site.hpp)
  std::string_view name;  // "" if unnamed
};

// The hook table the layer that switches tracking on (deadlock) installs before it does. Called
// only while g_lock_tracking is on, on the thread that acquires or releases.
struct LockObserver {
  // Before a blocking (or timed) acquisition: would taking `lock` while holding this thread's
  // held locks close a cycle in the order graph? Reports it if so (and throws RuntimeError
  // when the reaction is raise). Records the new orders otherwise.
  void (*check_order)(const TrackedLock& lock);
  // After an acquisition / before a release: the thread's held-lock list.
  void (*acquired)(const TrackedLock& lock) noexcept;
  bool (*released)(const void* object) noexcept;  // false: no thread had it listed
  // A lock being destroyed: the order graph and the held lists forget it.
  void (*forget)(const void* object) noexcept;
};

inline std::atomic<const LockObserver*> g_lock_observer{nullptr};

// Installs `observer` (static storage) before tracking is switched on. Release: a lock that
// loads the pointer (acquire) sees a complete table.
inline void install_lock_observer(const LockObserver* observer) noexcept {
  g_lock_observer.store(observer, std::memory_order_release);
}

// The calls a lock makes while tracking is on, through the installed observer (out of line:
// they sit in never-taken branches of every acquire and release). src/detail/lock_tracking.cpp
void check_lock_order(const TrackedLock& lock);
void note_acquired(const TrackedLock& lock) noexcept;
bool note_released(const void* object) noexcept;  // false: no thread had it listed
void forget_lock(const void* object) noexcept;

// An acquisition while tracking is on, for every lock kind: check the order (not for a try,
// which cannot block), take the lock with take(), list it as held.
template <class Take>
bool acquire_tracked(const TrackedLock& lock, const Deadline& deadline, Take&& take) {
  if (!deadline.is_immediate()) check_lock_order(lock);  // before blocking
  if (!take()) return false;
  note_acquired(lock);
  return true;
}

inline void forget_lock_if_graphed(const void* object) noexcept {
  if (g_lock_graph_used.load(std::memory_order_relaxed)) [[unlikely]] forget_lock(object);
}

}  // namespace concur::detail
