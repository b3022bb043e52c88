// concur/detail/event_count.hpp — waiting for a condition over lock-free state ("event count").
//
// The queues keep their items in lock-free structures, so there is no lock under which a getter
// could check "empty?" and go to sleep atomically, as a Condition would. An EventCount gives the
// same guarantee without putting a lock on the fast path:
//
//   waiter:  wait_until(ready, deadline)    notifier:  make the change that makes ready() true
//            1. ready()? (then spin a little)           notify_one() / notify_all():
//            2. link a WaitNode, waiters_++                fence; waiters_ == 0? -> done (the
//            3. fence; ready()? -> unlink, done               common case: no lock, no syscall)
//            4. sleep on the node (WaitNode)              lock; pop node(s); signal them
//
// No lost wake-up: steps 2–3 and the notifier's "change; fence; read waiters_" are the two
// halves of Dekker's protocol. With a sequentially consistent fence on each side, either the
// waiter's re-check in step 3 sees the change, or the notifier sees waiters_ != 0 and signals
// a linked node. No thundering herd: notify_one() wakes one waiter, the oldest (FIFO).
//
// A signal is never wasted on a waiter that no longer needs it:
//  - a waiter that finds ready() true in step 3 after it was already popped and signaled passes
//    the signal on to the next waiter;
//  - a waiter that times out re-takes the lock and either unlinks itself (no signal was spent)
//    or finds it was signaled and re-checks ready() before reporting its timeout.
// A signaled waiter whose ready() is false again (another thread took the item first) simply
// waits again: the change it was woken for has been consumed, so nothing is lost.
//
// ready() may have side effects (a queue's ready() pops the item it waits for); it is called
// by the waiting thread only, any number of times, and wait_until() returns true right after
// the call that returned true. If ready() throws, the exception propagates and the waiter is
// unlinked first.
//
// Waiters that cannot block (coroutines) use the same protocol through link_waiter() and
// cancel_waiter() with an action WaitNode (wait_node.hpp); see there.
//
// Happens-before: the notifier's change, made before notify_*(), is visible to a waiter whose
// ready() observes it (ready() reads it with acquire or stronger).
//
// Thread-safety: every member may be called concurrently. Threads wait through the one
// mechanism of futex.hpp (bounded spin, then a futex sleep on a stack WaitNode).
#pragma once

#include <atomic>
#include <cstdint>

#include "concur/deadline.hpp"
#include "concur/detail/futex.hpp"
#include "concur/detail/mutex.hpp"
#include "concur/detail/wait_node.hpp"

namespace concur::detail {

class EventCount {
 public:
  EventCount() = default;
  EventCount(const EventCount&) = delete;
  EventCount& operator=(const EventCount&) = delete;

  // Blocks until ready() returns true (returns true) or the deadline passes (returns false, after
  // a last call to ready()). An immediate deadline calls ready() exactly once.
  // `site`: what the thread is shown blocked on while it sleeps (wait_site.hpp).
  template <class Ready>
  bool wait_until(Ready&& ready, const Deadline& deadline, const WaitSite* site = nullptr) {
    if (ready()) return true;
    if (deadline.is_immediate()) return false;
    if (spin_until(ready)) return true;
    for (;;) {
      WaitNode node;
      link(node);
      // Dekker, waiter side: waiters_ (written in link) before the re-check of the state.
      std::atomic_thread_fence(std::memory_order_seq_cst);
      bool now_ready;
      try {
        now_ready = ready();
      } catch (...) {  // e.g. an item's move constructor: never leave our node linked
        cancel(node);
        throw;
      }
      if (now_ready) {
        cancel(node);
        return true;
      }
      if (node.wait(deadline, WaitNode::kNoSpin, site)) {
        if (ready()) return true;
        if (deadline.expired()) return false;
        continue;  // what we were woken for was taken by another thread: wait again
      }
      // Timed out. If no notifier popped us, nothing was spent; if one did, its signal is ours.
      unlink_after_timeout(node);
      return ready();
    }
  }

  // Wakes the oldest waiter, if any. Call after the change that may make its ready() true.
  void notify_one() noexcept {
    // Dekker, notifier side: the caller's change before the read of waiters_.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    notify_one_after_seq_cst_change();
  }

  // notify_one() for a change made by a seq_cst read-modify-write that ready() reads with a
  // seq_cst load. In the single total order of seq_cst operations, the change then precedes
  // our seq_cst read of waiters_, and the waiter's fence precedes its re-read of the change, so
  // Dekker holds without a fence of our own (an mfence per item on x86, saved).
  void notify_one_after_seq_cst_change() noexcept {
    if (waiters_.load(std::memory_order_seq_cst) == 0) return;
    DeferredWakes wakes;
    mutex_.lock();
    wake_one_locked(wakes);
    wakes.unlock(mutex_);
  }

  // Wakes every waiter (shutdown, a count reaching zero, an Event set).
  void notify_all() noexcept {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    notify_all_after_seq_cst_change();
  }
  // notify_all() for a change made by a seq_cst read-modify-write (as notify_one's twin).
  void notify_all_after_seq_cst_change() noexcept {
    if (waiters_.load(std::memory_order_seq_cst) == 0) return;
    DeferredWakes wakes;
    mutex_.lock();
    while (wake_one_locked(wakes)) {
    }
    wakes.unlock(mutex_);
  }

  // ---- waiters that cannot block: an action WaitNode (a coroutine) -----------------------------
  // The waiter side of the protocol above, for a waiter that suspends instead of sleeping:
  //   if (ready()) -> done
  //   link_waiter(node);                          // linked, Dekker fence taken
  //   if (ready()) { cancel_waiter(node); -> done }
  //   if (!node.arm()) -> already signaled: node.reset(), start again
  //   suspend; node's action schedules the continuation once a notifier signals it; on
  //   resumption: ready()? done : node.reset(), start again.
  // To give up while suspended (a timeout, a cancellation): cancel_waiter(node) returns true if
  // the node was still linked (its action will never run), false if it was signaled (its
  // action has run; the signal is passed on to the next waiter, as for a thread).
  void link_waiter(WaitNode& node) noexcept {
    link(node);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // Dekker, waiter side
  }
  bool cancel_waiter(WaitNode& node) noexcept { return cancel(node); }

 private:
  void link(WaitNode& node) noexcept {
    LeafMutexGuard guard(mutex_);
    list_.push_back(&node);
    waiters_.store(waiters_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  // The waiter no longer needs a signal. If one was already spent on it, hand it to the next
  // waiter: the notifier meant it for "a waiter", and another one may still be waiting for it.
  bool cancel(WaitNode& node) noexcept {
    DeferredWakes wakes;
    mutex_.lock();
    const bool was_linked = list_.remove(&node);
    if (was_linked)
      waiters_.store(waiters_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    else
      wake_one_locked(wakes);
    wakes.unlock(mutex_);
    return was_linked;
  }

  void unlink_after_timeout(WaitNode& node) noexcept {
    LeafMutexGuard guard(mutex_);
    if (list_.remove(&node))
      waiters_.store(waiters_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    // Otherwise we were popped and marked signaled under this lock: the caller's last ready()
    // consumes what it announced (or finds it taken by another thread).
  }

  // Marks the oldest waiter signaled under the lock, so that a waiter re-taking the lock
  // (cancel, timeout) finds any signal aimed at its node already given; a sleeping thread is
  // woken once the lock is released (DeferredWakes): woken under it, it would run only to
  // block on mutex_ at its next link(), the notifier still inside futex_wake().
  bool wake_one_locked(DeferredWakes& wakes) noexcept {
    WaitNode* n = list_.pop_front();
    if (!n) {
      // No waiter is linked, whatever the count says: after a fork the list has forgotten the
      // nodes of the threads that are gone (wait_node.hpp), and the count follows it here.
      waiters_.store(0, std::memory_order_relaxed);
      return false;
    }
    waiters_.store(waiters_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    wakes.signal_later(n);
    return true;
  }

  // Read without the lock by notifiers (the fast path); written only under mutex_.
  std::atomic<std::uint32_t> waiters_{0};
  LeafMutex mutex_;  // a leaf lock: recovered in a child of fork() if a vanished thread held it
  WaitList list_;
};

}  // namespace concur::detail
