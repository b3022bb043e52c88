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
#include <utility>

#include "concur/detail/futex.hpp"
#include "concur/detail/mutex.hpp"
#include "concur/detail/wait_site.hpp"

namespace concur::detail {

class WaitNode {
 public:
  WaitNode() = default;
  WaitNode(const WaitNode&) = delete;
  WaitNode& operator=(const WaitNode&) = delete;

  // Blocks until signal() or the deadline. Returns true if signaled. After a false return the
  // caller must re-check signaled() under the owner's lock: a signal may have raced the timeout.
  // A caller that has just spun for its condition itself passes kNoSpin: spin once per wait.
  // `site` says what the thread is shown blocked on while it sleeps (wait_site.hpp).
  static constexpr bool kNoSpin = false;
  bool wait(const Deadline& deadline, bool spin = true, const WaitSite* site = nullptr) noexcept {
    if (deadline.is_immediate()) return signaled();
    if (spin && spin_until([this] { return signaled(); })) return true;
    std::uint32_t s = kWaiting;
    // Announce that we are going to sleep, so that signal() knows a futex_wake is needed.
    // acq_rel: on failure we read kSignaled and must see what the signaler published.
    if (!state_.compare_exchange_strong(s, kSleeping, std::memory_order_acq_rel)) return true;
    const BlockedScope blocked(site);
    for (;;) {
      const bool in_time = futex_wait(state_, kSleeping, deadline);
      if (signaled()) return true;
      if (!in_time) return false;
    }
  }

  // Wakes the node's thread. The exchange publishes (release) everything the signaler wrote
  // before it; the system call is made only when the waiter actually went to sleep.
  void signal() noexcept {
    if (mark_signaled()) futex_wake(state_, 1);
  }

  // The first half of signal(): returns true if the waiter sleeps and needs futex_wake() on
  // word() (see DeferredWakes).
  bool mark_signaled() noexcept {
    return state_.exchange(kSignaled, std::memory_order_release) == kSleeping;
  }
  std::atomic<std::uint32_t>& word() noexcept { return state_; }

  bool signaled() const noexcept { return state_.load(std::memory_order_acquire) == kSignaled; }

 private:
  friend class WaitList;
  static constexpr std::uint32_t kWaiting = 0, kSleeping = 1, kSignaled = 2;
  std::atomic<std::uint32_t> state_{kWaiting};
  WaitNode* prev_ = nullptr;
  WaitNode* next_ = nullptr;
  bool linked_ = false;
};

// Wake-ups held back until a lock is released ("wait morphing"). A Condition notified under
// its lock (Python's rule) marks the waiter signaled at once, but wakes a sleeping one only when
// the lock is released: woken earlier, it would run only to find the lock still held and sleep
// again on it, two more context switches per notification. Only the futex words are kept, and
// they are read before the release: once the lock is free, a waiter that timed out may return
// and its stack node vanish, and a futex_wake on such an address is harmless (at worst the
// spurious wake-up of a wait that re-checks its word). Up to kInline wake-ups are held back;
// beyond that a signal is sent at once, as without deferral. Protected by the lock it serves.
class DeferredWakes {
 public:
  static constexpr int kInline = 4;

  void signal_later(WaitNode* n) noexcept {
    if (count_ == kInline) {
      n->signal();
      return;
    }
    if (n->mark_signaled()) words_[count_++] = &n->word();
  }

  // Releases `mutex` (the lock these wake-ups were deferred under), then delivers them.
  // Returns what Mutex::unlock() returns.
  bool unlock(Mutex& mutex) noexcept {
    if (count_ == 0) return mutex.unlock();  // the common case: no notification under the lock
    const DeferredWakes held = std::exchange(*this, DeferredWakes{});  // read while locked
    const bool was_locked = mutex.unlock();
    for (int i = 0; i < held.count_; ++i) futex_wake(*held.words_[i], 1);
    return was_locked;
  }

 private:
  std::atomic<std::uint32_t>* words_[kInline];
  int count_ = 0;
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
