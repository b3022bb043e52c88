// Semaphore: the value is an atomic counter that acquirers decrement lock-free while it is
// positive. Sleepers queue FIFO under a small internal mutex, and release() hands units to them
// directly. The hand-off relies on a Dekker-style pair of sequentially consistent operations:
//   releaser: value += n;          then reads sleepers
//   sleeper:  sleepers += 1;       then reads value (and only then queues and sleeps)
// In any total order one of the two sees the other's write, so either the releaser finds the
// sleeper and serves it, or the sleeper finds the unit and never sleeps: no lost wake-up.
#include "concur/threading/semaphore.hpp"
#include "concur/threading/detail/wait_kinds.hpp"

#include <limits>
#include <string>

namespace concur::threading {

Semaphore::Semaphore(std::ptrdiff_t value) : Semaphore(value, kUnbounded) {}
Semaphore::Semaphore(std::ptrdiff_t value, std::string_view name)
    : Semaphore(value, kUnbounded, name) {}

Semaphore::Semaphore(std::ptrdiff_t value, std::ptrdiff_t bound, std::string_view name)
    : value_(value), bound_(bound) {
  if (value < 0) throw ValueError("semaphore initial value must be >= 0");
  if (!name.empty()) name_ = detail::LockName(name);
}

bool Semaphore::acquire_tracked(const Deadline& deadline) {
  return detail::acquire_tracked({this, &detail::kSemaphoreWait, name()}, deadline,
                                 [&] { return try_take() || acquire_slow(deadline); });
}

bool Semaphore::acquire_slow(const Deadline& deadline) {
  if (deadline.is_immediate()) return try_take();
  // Spin once, here, for a free unit: catching a release before queueing spares both sides the
  // hand-off through mutex_. Having spun, the node's wait below sleeps at once.
  if (detail::spin_until([this] { return value_.load(std::memory_order_relaxed) > 0; }) &&
      try_take())
    return true;

  detail::WaitNode node;
  {
    detail::LeafMutexGuard g(mutex_);
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    if (value_.load(std::memory_order_seq_cst) > 0 && try_take()) {
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      return true;
    }
    waiters_.push_back(&node);
  }
  const detail::WaitSite site{&detail::kSemaphoreWait, this, name(), nullptr, nullptr};
  if (node.wait(deadline, detail::WaitNode::kNoSpin, &site)) return true;  // a releaser served us

  detail::LeafMutexGuard g(mutex_);
  if (node.signaled()) return true;  // served between our timeout and this lock
  waiters_.remove(&node);
  sleepers_.fetch_sub(1, std::memory_order_relaxed);
  return false;
}

void Semaphore::release(std::ptrdiff_t n) {
  if (n < 1) throw ValueError("release(n) needs n >= 1");
  if (detail::lock_tracking_on()) [[unlikely]] {
    for (std::ptrdiff_t i = 0; i < n && detail::note_released(this); ++i) {
    }
  }
  const std::int64_t limit = bound_ >= 0 ? bound_ : std::numeric_limits<std::int64_t>::max();
  std::int64_t v = value_.load(std::memory_order_relaxed);
  do {
    if (n > limit - v)  // written so that it cannot overflow
      throw ValueError(bound_ >= 0 ? "Semaphore released too many times"
                                   : "Semaphore value would overflow");
  } while (!value_.compare_exchange_weak(v, v + n, std::memory_order_seq_cst,
                                         std::memory_order_relaxed));
  if (sleepers_.load(std::memory_order_seq_cst) == 0) return;

  // Serve the oldest sleepers with the units that are still free (a newcomer may have taken
  // some through the fast path meanwhile; then fewer sleepers are served, never more). They
  // are woken once mutex_ is free (wait_node.hpp's DeferredWakes): woken under it, a waiter
  // that timed out meanwhile would run only to sleep again on mutex_.
  detail::DeferredWakes wakes;
  mutex_.lock();
  while (!waiters_.empty() && try_take()) {
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
    wakes.signal_later(waiters_.pop_front());
  }
  // No sleeper is queued, whatever the count says: in a child of fork() the list has forgotten
  // the nodes of the threads that are gone (wait_node.hpp), and the count follows it here.
  if (waiters_.empty()) sleepers_.store(0, std::memory_order_relaxed);
  wakes.unlock(mutex_);
}

}  // namespace concur::threading
