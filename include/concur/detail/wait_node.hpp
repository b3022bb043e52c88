// concur/detail/wait_node.hpp — parking one thread until another signals it, and FIFO lists of
// parked threads.
//
// A WaitNode lives on the waiting thread's stack for the duration of one wait. The primitive
// that owns the wait (a Condition, a Semaphore, ...) links it into its WaitList under its own
// lock, releases that lock, and calls wait(). A waker pops the node under the same lock and calls
// signal(). Because waiters are served in list order, Condition.notify(n) and
// Semaphore.release(n) wake the oldest waiters first, and a signal is never spent on a thread
// that has already given up: a waiter that times out re-takes the owner's lock and either finds
// itself signaled (it wins after all) or unlinks itself.
//
// Thread-safety: wait() is called only by the node's thread; signal() by any thread holding the
// owner's lock. WaitList is not synchronized: its owner's lock protects it.
#pragma once

#include <atomic>
#include <cstdint>

#include "concur/detail/futex.hpp"

namespace concur::detail {

class WaitNode {
 public:
  WaitNode() = default;
  WaitNode(const WaitNode&) = delete;
  WaitNode& operator=(const WaitNode&) = delete;

  // Blocks until signal() or the deadline. Returns true if signaled. After a false return the
  // caller must re-check signaled() under the owner's lock: a signal may have raced the timeout.
  // A caller that has just spun for its condition itself passes kNoSpin: spin once per wait.
  static constexpr bool kNoSpin = false;
  bool wait(const Deadline& deadline, bool spin = true) noexcept {
    if (deadline.is_immediate()) return signaled();
    if (spin && spin_until([this] { return signaled(); })) return true;
    std::uint32_t s = kWaiting;
    // Announce that we are going to sleep, so that signal() knows a futex_wake is needed.
    // acq_rel: on failure we read kSignaled and must see what the signaler published.
    if (!state_.compare_exchange_strong(s, kSleeping, std::memory_order_acq_rel)) return true;
    for (;;) {
      const bool in_time = futex_wait(state_, kSleeping, deadline);
      if (signaled()) return true;
      if (!in_time) return false;
    }
  }

  // Wakes the node's thread. The exchange publishes (release) everything the signaler wrote
  // before it; the system call is made only when the waiter actually went to sleep.
  void signal() noexcept {
    if (state_.exchange(kSignaled, std::memory_order_release) == kSleeping)
      futex_wake(state_, 1);
  }

  bool signaled() const noexcept { return state_.load(std::memory_order_acquire) == kSignaled; }

 private:
  friend class WaitList;
  static constexpr std::uint32_t kWaiting = 0, kSleeping = 1, kSignaled = 2;
  std::atomic<std::uint32_t> state_{kWaiting};
  WaitNode* prev_ = nullptr;
  WaitNode* next_ = nullptr;
  bool linked_ = false;
};

// Intrusive FIFO of WaitNodes: O(1) push, pop and removal, no allocation.
class WaitList {
 public:
  bool empty() const noexcept { return head_ == nullptr; }

  void push_back(WaitNode* n) noexcept {
    n->prev_ = tail_;
    n->next_ = nullptr;
    if (tail_) tail_->next_ = n; else head_ = n;
    tail_ = n;
    n->linked_ = true;
  }

  WaitNode* pop_front() noexcept {
    WaitNode* n = head_;
    if (n) remove(n);
    return n;
  }

  // Unlinks `n` if it is still linked (a timed-out waiter may already have been popped).
  // Returns whether it was linked.
  bool remove(WaitNode* n) noexcept {
    if (!n->linked_) return false;
    if (n->prev_) n->prev_->next_ = n->next_; else head_ = n->next_;
    if (n->next_) n->next_->prev_ = n->prev_; else tail_ = n->prev_;
    n->prev_ = n->next_ = nullptr;
    n->linked_ = false;
    return true;
  }

 private:
  WaitNode* head_ = nullptr;
  WaitNode* tail_ = nullptr;
};

}  // namespace concur::detail
