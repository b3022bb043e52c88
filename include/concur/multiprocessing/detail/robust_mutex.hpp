// concur/multiprocessing/detail/robust_mutex.hpp — the lock word under mp::Lock, mp::RLock, a
// Condition's, a Value's and an Array's lock: a process-shared futex that survives its owner's
// death, on the kernel's robust-futex protocol.
//
// The word (RobustWord::word, in shared memory) holds the owner's TID in its low 30 bits, the
// kernel's FUTEX_WAITERS bit (someone may sleep on it) and FUTEX_OWNER_DIED bit. An owner puts
// the lock's list node (RobustWord::next) on its thread's robust list, the one glibc registered
// with set_robust_list() at thread start, exactly as glibc's robust mutexes do (list_op_pending
// around every change, insertion at the head, O(1) removal through the prev link glibc keeps on
// 64-bit targets). When a thread ends (a normal thread exit, _exit(), SIGKILL, any death) the
// kernel walks that list: for each word whose TID is the dead thread's it clears the TID, sets
// FUTEX_OWNER_DIED and wakes one sleeper (a shared futex wake). The next acquire sees a free
// word with OWNER_DIED: it takes the lock, mends the bookkeeping, releases it and reports
// Taken::owner_died (mp::OwnerDied) — so the lock is left unlocked and usable, and exactly one
// acquirer hears of the death. Note that a *thread* which ends holding the lock triggers this
// too (the kernel cannot tell the difference, and the guarded data is just as half-updated).
//
// The node must sit at the list's futex_offset from the word: glibc's is -32 (the place of
// __lock relative to __list.__next in pthread_mutex_t), and RobustWord is laid out the same
// way. This is checked once per thread at run time (get_robust_list); where it differs, or no
// robust list is registered, the locks still work but a dead owner is not detected
// (robust_supported() says false).
//
// mp::Lock is not owner-bound (Python's semantics): any thread of any process may release it.
// The robust list belongs to the thread that acquired, and nobody else may touch it, so a
// release by another thread frees the word and wakes a waiter but leaves the node on the
// acquirer's list (RobustWord::linked names that thread). The node is taken off when that thread
// next acquires an mp lock the slow way, releases one it linked, or ends (a thread_local sweep
// removes every node of its list whose word it does not hold). While a node is still on another
// live thread's list, a new holder cannot link it and holds the lock *unprotected* (its death is
// not detected) — the price of the non-owner release, and only until that thread sweeps; a node
// left on the list of a thread that is gone (its process was killed) is adopted by the next
// holder, after tgkill() (and, for a process not yet reaped, /proc) confirms the thread is gone.
// Each acquire that finds the node on another thread's list pays that check (a system call or
// two, microseconds): a lock used as a signal (taken by one process, released by another) is
// cheaper as an mp::Semaphore or mp::Event.
//
// Thread-safety: every function may be called concurrently from any thread of any process that
// maps the word. Happens-before: as a mutex — the unlock is a release, a successful lock an
// acquire (also through the kernel's owner-died marking: what the dead owner wrote is visible,
// half-done). Nothing here throws; unlock() of an unlocked word returns false (the callers
// throw RuntimeError).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "concur/deadline.hpp"
#include "concur/detail/futex.hpp"

namespace concur::multiprocessing::detail {

inline constexpr std::uint32_t kFutexWaiters = 0x80000000u;    // FUTEX_WAITERS
inline constexpr std::uint32_t kFutexOwnerDied = 0x40000000u;  // FUTEX_OWNER_DIED
inline constexpr std::uint32_t kFutexTidMask = 0x3fffffffu;    // FUTEX_TID_MASK
inline constexpr std::uint64_t kRobustMagic = 0x4252727563636f63ull;  // tells our nodes from glibc's

// Lives in shared memory, constructed in place by the object's creator. Layout matters: word at
// 0, the list node (`next`) at 32, its prev link at 24 (glibc's pthread_mutex_t layout).
struct RobustWord {
  std::atomic<std::uint32_t> word{0};   // 0: owner TID | FUTEX_WAITERS | FUTEX_OWNER_DIED
  std::uint32_t depth = 0;              // 4: RLock's recursion depth; touched by the holder only
  std::atomic<std::uint64_t> linked{0};  // 8: pid << 32 | tid whose robust list holds the node
  std::uint64_t magic = kRobustMagic;   // 16: tells the list's sweep our nodes from glibc's
  void* prev = nullptr;                 // 24: the list's prev link (glibc's QUEUE_PTR_ADJUST)
  void* next = nullptr;                 // 32: the node the robust list links

  void* node() noexcept { return &next; }
};
inline constexpr long kRobustFutexOffset = -32;

// The calling thread's robust-list state.
struct RobustHead {  // the kernel's struct robust_list_head
  void* list;
  long futex_offset;
  void* list_op_pending;
};
struct ThreadRobust {
  std::uint32_t tid = 0;    // 0: not yet set up in this thread (or in a forked child)
  std::uint64_t self = 0;   // pid << 32 | tid, the value of RobustWord::linked for us
  RobustHead* head = nullptr;  // null: no usable robust list (not protected)
};
inline thread_local ThreadRobust tls_robust;
ThreadRobust& init_thread_robust() noexcept;  // src/multiprocessing/robust_mutex.cpp
inline ThreadRobust& thread_robust() noexcept {
  ThreadRobust& t = tls_robust;
  if (t.tid == 0) [[unlikely]] return init_thread_robust();
  return t;
}

// Whether dead owners are detected in this thread (see the header comment).
bool robust_supported() noexcept;

enum class Taken { yes, timed_out, owner_died };

// The robust list as glibc keeps it on 64-bit targets: circular, doubly linked through the
// `next` slots (a node pointer is the address of its `next`; its prev link is the word before);
// the head's own prev slot is glibc's robust_prev, just before the head.
inline void** prev_slot(void* node) noexcept {
  return reinterpret_cast<void**>((reinterpret_cast<std::uintptr_t>(node) & ~std::uintptr_t{1}) -
                                  sizeof(void*));
}
inline void** next_slot(void* node) noexcept {
  return reinterpret_cast<void**>(reinterpret_cast<std::uintptr_t>(node) & ~std::uintptr_t{1});
}
inline void enqueue(RobustWord& m, RobustHead* head) noexcept {
  void* first = head->list;
  m.next = first;
  m.prev = head;  // the head's node pointer is its `list` slot, i.e. the head itself
  *prev_slot(first) = m.node();
  std::atomic_signal_fence(std::memory_order_seq_cst);
  head->list = m.node();
}
inline void dequeue(RobustWord& m) noexcept {
  void* next = m.next;
  void* prev = m.prev;
  *prev_slot(next) = prev;
  *next_slot(prev) = next;
}

// After a successful take: put the node on our list unless it is there already. The node is
// on another thread's list only after a release by a non-owner (see the header comment).
void link_slow(RobustWord& m, ThreadRobust& t, std::uint64_t linked) noexcept;
inline void link_taken(RobustWord& m, ThreadRobust& t) noexcept {
  // acquire: pairs with the release store of 0 by the thread that took the node off its list.
  const std::uint64_t l = m.linked.load(std::memory_order_acquire);
  if (l == t.self) return;
  if (l != 0) [[unlikely]] return link_slow(m, t, l);
  m.linked.store(t.self, std::memory_order_relaxed);
  enqueue(m, t.head);
}

Taken lock_slow(RobustWord& m, const Deadline& deadline) noexcept;

// Takes the lock for the calling thread, waiting until `deadline`.
inline Taken lock(RobustWord& m, const Deadline& deadline) noexcept {
  ThreadRobust& t = thread_robust();
  if (t.head != nullptr) {
    // As glibc: the kernel also looks at list_op_pending, so a death between the CAS and the
    // linking still marks the word.
    t.head->list_op_pending = m.node();
    std::atomic_signal_fence(std::memory_order_seq_cst);
  }
  std::uint32_t expected = 0;
  if (m.word.compare_exchange_strong(expected, t.tid, std::memory_order_acquire,
                                     std::memory_order_relaxed)) [[likely]] {
    if (t.head != nullptr) {
      link_taken(m, t);
      std::atomic_signal_fence(std::memory_order_seq_cst);
      t.head->list_op_pending = nullptr;
    }
    return Taken::yes;
  }
  return lock_slow(m, deadline);
}

// Releases the lock, whoever holds it (a non-owner release: see the header comment). Returns
// false, changing nothing, when it is not locked.
bool unlock_slow(RobustWord& m) noexcept;
bool unlock_unlocked(RobustWord& m, std::uint32_t was) noexcept;
inline bool unlock(RobustWord& m) noexcept {
  ThreadRobust& t = thread_robust();
  if (t.head == nullptr || m.linked.load(std::memory_order_relaxed) != t.self) [[unlikely]]
    return unlock_slow(m);
  // The node is on our list: off it first (with list_op_pending covering a death in between),
  // then free the word.
  t.head->list_op_pending = m.node();
  std::atomic_signal_fence(std::memory_order_seq_cst);
  dequeue(m);
  m.linked.store(0, std::memory_order_release);
  const std::uint32_t v = m.word.exchange(0, std::memory_order_release);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t.head->list_op_pending = nullptr;
  if ((v & kFutexTidMask) == 0) [[unlikely]] return unlock_unlocked(m, v);
  if ((v & kFutexWaiters) != 0) [[unlikely]] concur::detail::futex_wake_shared(m.word, 1);
  return true;
}

// For a segment about to be unmapped: false when the node is still on a robust list of this
// process (the mapping must then stay, or list operations would touch freed memory).
bool may_unmap(RobustWord& m) noexcept;

// The calling thread's TID (as the word holds it).
inline std::uint32_t current_tid() noexcept { return thread_robust().tid; }
inline bool held_by_me(const RobustWord& m) noexcept {
  return (m.word.load(std::memory_order_relaxed) & kFutexTidMask) == current_tid();
}
inline bool is_locked(const RobustWord& m) noexcept {
  return (m.word.load(std::memory_order_relaxed) & kFutexTidMask) != 0;
}

}  // namespace concur::multiprocessing::detail
