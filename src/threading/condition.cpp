// Condition: the waiter list is protected by the user's lock itself, as in CPython, so a wait
// costs no lock of its own: link a stack node, release, park, re-acquire.
#include "concur/threading/condition.hpp"

namespace concur::threading {

bool Condition::wait_until(const Deadline& deadline) {
  if (!is_owned()) throw RuntimeError("cannot wait on un-acquired lock");
  detail::WaitNode node;
  waiters_.push_back(&node);
  const detail::WaitSite site{shown_kind_, shown_as_, name(), nullptr, nullptr};
  bool notified;
  if (lock_) {
    lock_->release_for_wait();
    notified = node.wait(deadline, true, &site);
    lock_->reacquire_after_wait();
  } else {
    const std::uint32_t depth = rlock_->release_all();
    notified = node.wait(deadline, true, &site);
    rlock_->reacquire(depth);
  }
  if (!notified) {
    // Timed out — unless a notify() popped us between the timeout and the re-acquire, in which
    // case that notification is ours and must not be lost.
    notified = node.signaled();
    if (!notified) waiters_.remove(&node);
  }
  return notified;
}

void Condition::notify(std::ptrdiff_t n) {
  if (!is_owned()) throw RuntimeError("cannot notify on un-acquired lock");
  if (n < 0) throw ValueError("notify(n) needs n >= 0");
  detail::DeferredWakes& wakes = deferred_wakes();
  while (n-- > 0) {
    detail::WaitNode* node = waiters_.pop_front();
    if (!node) break;
    wakes.signal_later(node);  // woken when the lock is released (wait_node.hpp)
  }
}

void Condition::notify_all() {
  if (!is_owned()) throw RuntimeError("cannot notify on un-acquired lock");
  detail::DeferredWakes& wakes = deferred_wakes();
  while (detail::WaitNode* node = waiters_.pop_front()) wakes.signal_later(node);
}

}  // namespace concur::threading
