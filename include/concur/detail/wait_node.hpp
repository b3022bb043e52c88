// concur/detail/wait_node.hpp — the one waiting seam: a waiter node whose wake-up is an action,
// and FIFO lists of waiters.
//
// Every structure that makes someone wait (Condition, Semaphore, EventCount and so the queues,
// Event, a Future, a thread join) registers its waiters as WaitNodes. A node is one of two
// kinds, fixed at construction:
//   - a thread waiter (the default): the thread parks on the node's futex word (wait()), after
//     a bounded spin; signal() unparks it. The node lives on the thread's stack for one wait.
//   - an action waiter (WaitNode(action, context)): a waiter that cannot block — a coroutine.
//     After linking the node it calls arm(); false means "already signaled, go on", true means
//     signal() will call action(context) exactly once (a coroutine's action hands its
//     continuation to the event loop it belongs to). The node lives in the coroutine's frame.
//     The action runs in the signaling thread, under the owner's lock: it must only schedule
//     (never resume the coroutine inline, block or take the owner's lock).
// The owner links a node into its WaitList under its own lock; a waker pops it under the same
// lock and signals it. Because waiters are served in list order, Condition.notify(n) and
// Semaphore.release(n) wake the oldest waiters first, and a signal is never spent on a waiter
// that has already given up: a waiter that times out re-takes the owner's lock and either finds
// itself signaled (it wins after all) or unlinks itself.
//
// Happens-before: what the signaler wrote before signal() is visible to the waiter once wait()
// returned true, or once its action's continuation runs.
//
// After fork(): the child has none of the threads whose nodes were linked at the fork, and
// their stacks may be reused by the child's new threads, so such a node must never be touched
// again. Each WaitList keeps the fork generation (at_fork.hpp) its nodes were linked in and, on
// its first use in a later generation, forgets them all without reading them (the forking
// thread itself was not waiting). A coroutine suspended at the fork is not resumed in the child.
//
// Thread-safety: wait()/arm() are called only by the node's owner; signal() by any thread
// holding the owner's lock. WaitList is not synchronized: its owner's lock protects it.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

#include "concur/detail/at_fork.hpp"
#include "concur/detail/futex.hpp"
#include "concur/detail/mutex.hpp"
#include "concur/detail/wait_site.hpp"

namespace concur::detail {

class WaitNode {
 public:
  using Action = void (*)(void* context) noexcept;

  WaitNode() = default;  // a thread waiter
  WaitNode(Action action, void* context) noexcept : action_(action), context_(context) {}
  WaitNode(const WaitNode&) = delete;
  WaitNode& operator=(const WaitNode&) = delete;

  // Blocks until signal() or the deadline. Returns true if signaled. After a false return the
  // caller must re-check signaled() under the owner's lock: a signal may have raced the timeout.
  // A caller that has just spun for its condition itself passes kNoSpin: spin once per wait.
  // `site` says what the thread is shown blocked on while it sleeps (wait_site.hpp).
  static constexpr bool kNoSpin = false;
  bool wait(const Deadline& deadline, bool spin = true, const WaitSite* site = nullptr) noexcept {
    if (deadline.is_immediate()) return signaled();
    // A thread waits on a thread waiter only (an action waiter's owner cannot block).
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

  // For an action waiter, once linked: true if the action will be called when the node is
  // signaled; false if it has been signaled already (the owner goes on at once). acq_rel: on
  // failure we read kSignaled and must see what the signaler published.
  bool arm() noexcept {
    std::uint32_t s = kWaiting;
    return state_.compare_exchange_strong(s, kSleeping, std::memory_order_acq_rel);
  }

  // Wakes the node's owner. The exchange publishes (release) everything the signaler wrote
  // before it, and takes in (acquire) everything an action waiter wrote before arm(): the
  // action resumes the waiter's continuation, here or on another thread, after the signal, and
  // a waiter may arm outside any lock the signaler holds (actors/detail/mailbox.hpp). The
  // wake-up (a system call, or the action) happens only when the waiter actually
  // went to sleep (or armed). Nothing of the node is read after the exchange but its address:
  // a thread waiter may see kSignaled at once (a spurious wake-up) and leave, ending the node's
  // life, before futex_wake() is called on its word (harmless on a dead address, see
  // DeferredWakes); an action waiter cannot go on before its action runs.
  void signal() noexcept {
    const Action action = action_;
    void* const context = context_;
    if (!mark_signaled()) return;
    if (action) action(context);
    else futex_wake(state_, 1);
  }

  // The first half of signal(): returns true if a thread waiter sleeps and needs a futex_wake()
  // on word() (see DeferredWakes; an action waiter is always signaled whole).
  bool mark_signaled() noexcept {
    return state_.exchange(kSignaled, std::memory_order_acq_rel) == kSleeping;
  }
  bool is_action_waiter() const noexcept { return action_ != nullptr; }

  // Makes an unlinked node ready for another wait (an action waiter woken for a change that
  // another waiter consumed waits again with the same node).
  void reset() noexcept { state_.store(kWaiting, std::memory_order_relaxed); }
  std::atomic<std::uint32_t>& word() noexcept { return state_; }

  bool signaled() const noexcept { return state_.load(std::memory_order_acquire) == kSignaled; }

 private:
  friend class WaitList;
  static constexpr std::uint32_t kWaiting = 0, kSleeping = 1, kSignaled = 2;
  std::atomic<std::uint32_t> state_{kWaiting};
  Action action_ = nullptr;  // null: a thread waiter
  void* context_ = nullptr;
  WaitNode* prev_ = nullptr;
  WaitNode* next_ = nullptr;
  std::uint64_t generation_ = 0;  // the fork generation it was linked in
  bool linked_ = false;
};

// Wake-ups held back until a lock is released ("wait morphing"). A Condition notified under
// its lock (Python's rule) marks the waiter signaled at once, but wakes a sleeping one only when
// the lock is released: woken earlier, it would run only to find the lock still held and sleep
// again on it, two more context switches per notification. Only the futex words are kept, and
// they are read before the release: once the lock is free, a waiter that timed out may return
// and its stack node vanish, and a futex_wake on such an address is harmless (at worst the
// spurious wake-up of a wait that re-checks its word). Up to kInline wake-ups are held back;
// beyond that a signal is sent at once, as without deferral, and so is an action waiter's (its
// action only schedules, and its node must not be touched once the lock is released). Protected
// by the lock it serves.
class DeferredWakes {
 public:
  static constexpr int kInline = tuning::kDeferredWakesInline;

  void signal_later(WaitNode* n) noexcept {
    if (count_ == kInline || n->is_action_waiter()) {
      n->signal();
      return;
    }
    if (n->mark_signaled()) words_[count_++] = &n->word();
  }

  // Releases `mutex` (the lock these wake-ups were deferred under), then delivers them.
  // Returns what Mutex::unlock() returns.
  template <class M>  // Mutex or LeafMutex
  bool unlock(M& mutex) noexcept {
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
  bool empty() const noexcept { return head_ == nullptr || generation_ != fork_generation(); }

  void push_back(WaitNode* n) noexcept {
    forget_if_forked();
    n->generation_ = generation_;
    n->prev_ = tail_;
    n->next_ = nullptr;
    if (tail_) tail_->next_ = n; else head_ = n;
    tail_ = n;
    n->linked_ = true;
  }

  WaitNode* pop_front() noexcept {
    forget_if_forked();
    WaitNode* n = head_;
    if (n) remove(n);
    return n;
  }

  // Unlinks `n` if it is still linked (a timed-out waiter may already have been popped).
  // Returns whether it was linked.
  bool remove(WaitNode* n) noexcept {
    forget_if_forked();
    if (!n->linked_ || n->generation_ != generation_) return false;  // not in this list any more
    if (n->prev_) n->prev_->next_ = n->next_; else head_ = n->next_;
    if (n->next_) n->next_->prev_ = n->prev_; else tail_ = n->prev_;
    n->prev_ = n->next_ = nullptr;
    n->linked_ = false;
    return true;
  }

 private:
  // In a child of a fork the nodes linked before it belong to threads that are gone (see the
  // header comment): drop them unread. One relaxed load, on the owner's locked path only.
  void forget_if_forked() noexcept {
    const std::uint64_t now = fork_generation();
    if (generation_ == now) [[likely]] return;
    head_ = tail_ = nullptr;
    generation_ = now;
  }

  WaitNode* head_ = nullptr;
  WaitNode* tail_ = nullptr;
  std::uint64_t generation_ = 0;  // a list made in a child starts empty: forgetting costs nothing
};

}  // namespace concur::detail
