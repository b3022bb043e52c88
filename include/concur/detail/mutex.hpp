// concur/detail/mutex.hpp — the futex mutex under threading::Lock, threading::RLock and every
// internal lock of concur.
//
// State word: 0 unlocked, 1 locked, 2 locked and a thread may be sleeping on it. The uncontended
// path is one CAS to lock and one exchange to unlock; the system call to wake a sleeper is made
// only when the word says one may exist (state 2). Not owner-bound: any thread may unlock, which
// is what Python's Lock allows; owner checks live in RLock.
//
// Thread-safety: all members are safe to call concurrently. unlock() of an unlocked Mutex
// returns false and changes nothing.
#pragma once

#include <atomic>
#include <cstdint>

#include "concur/deadline.hpp"
#include "concur/detail/at_fork.hpp"
#include "concur/detail/futex.hpp"
#include "concur/detail/wait_site.hpp"

namespace concur::detail {

class Mutex {
 public:
  Mutex() noexcept = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  bool try_lock() noexcept {
    std::uint32_t expected = kUnlocked;
    // acquire: the critical section must see what the previous holder wrote before unlock().
    return state_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  void lock() noexcept {
    if (!try_lock()) lock_slow(Deadline::never(), nullptr);
  }

  // Returns false if the deadline passed before the lock could be taken. A user-facing lock
  // passes the `site` that describes it (wait_site.hpp): a thread that has to sleep is then
  // seen as blocked on it, and the call also returns false if the deadlock watchdog makes this
  // wait its victim (the caller checks take_deadlock_victim_mark()).
  bool lock_until(const Deadline& deadline, const WaitSite* site = nullptr) noexcept {
    return try_lock() || lock_slow(deadline, site);
  }

  // Returns false (and does nothing) if the mutex was not locked.
  bool unlock() noexcept {
    // release: publishes the critical section to the next holder.
    const std::uint32_t prev = state_.exchange(kUnlocked, std::memory_order_release);
    if (prev == kContended) futex_wake(state_, 1);
    return prev != kUnlocked;
  }

  bool locked() const noexcept { return state_.load(std::memory_order_relaxed) != kUnlocked; }

  // The word sleepers wait on, for a WaitSite.
  std::atomic<std::uint32_t>* futex_word() noexcept { return &state_; }

 private:
  static constexpr std::uint32_t kUnlocked = 0, kLocked = 1, kContended = 2;
  bool lock_slow(const Deadline& deadline, const WaitSite* site) noexcept;  // src/detail/mutex.cpp
  std::atomic<std::uint32_t> state_{kUnlocked};
};

// A Mutex for a leaf critical section: a short one that runs no user code and never forks, in
// an object that may be used on both sides of a fork() (a wait queue's lock:
// EventCount, Semaphore). No fork handler can reach every such object, and a thread that held
// one at the fork does not exist in the child, so it would stay locked forever. Since the
// forking thread cannot hold it (the section never forks), a LeafMutex that is locked in a
// later fork generation than it was last used in is held by nobody: its first lock() in the
// child finds the generation changed and re-initialises it, once, under a process-wide lock
// (src/detail/mutex.cpp). Cost: one more load and compare per lock(); none per unlock().
// Only for data that a critical section cut short at any point leaves usable in the child: a
// WaitList forgets its nodes in a new fork generation without reading them, and the counts
// beside one are re-derived from it (EventCount, Semaphore). A vector being grown under the
// lock would not be (a Future's callbacks: StateBase keeps a plain Mutex).
//
// Thread-safety: as Mutex. Only lock() and unlock(): no timed form (leaf sections are short).
class LeafMutex {
 public:
  LeafMutex() noexcept = default;
  LeafMutex(const LeafMutex&) = delete;
  LeafMutex& operator=(const LeafMutex&) = delete;

  void lock() noexcept {
    // acquire: pairs with the release in recover_after_fork(), so a thread that sees the new
    // generation sees the re-initialised word.
    if (generation_.load(std::memory_order_acquire) != current_generation()) [[unlikely]]
      recover_after_fork();
    mutex_.lock();
  }
  bool unlock() noexcept { return mutex_.unlock(); }
  bool locked() const noexcept { return mutex_.locked(); }

 private:
  static std::uint32_t current_generation() noexcept {
    // Fork generations count the forks a process descends from: 32 bits never wrap.
    return static_cast<std::uint32_t>(fork_generation());
  }
  void recover_after_fork() noexcept;  // src/detail/mutex.cpp

  std::atomic<std::uint32_t> generation_{current_generation()};
  Mutex mutex_;
};

// RAII holder for the internal Mutex and LeafMutex (std::lock_guard would do, but this one is
// noexcept-clean and keeps internal code independent of <mutex>).
template <class M>
class BasicMutexGuard {
 public:
  explicit BasicMutexGuard(M& m) noexcept : m_(m) { m_.lock(); }
  ~BasicMutexGuard() { m_.unlock(); }
  BasicMutexGuard(const BasicMutexGuard&) = delete;
  BasicMutexGuard& operator=(const BasicMutexGuard&) = delete;

 private:
  M& m_;
};
using MutexGuard = BasicMutexGuard<Mutex>;
using LeafMutexGuard = BasicMutexGuard<LeafMutex>;

// A small, never-zero identifier of the calling thread, cheap enough for RLock's owner check
// (one thread-local load after the first call). Keys are never reused within a process.
std::uint64_t new_thread_key() noexcept;  // src/detail/mutex.cpp
inline thread_local std::uint64_t tls_thread_key = 0;
inline std::uint64_t this_thread_key() noexcept {
  std::uint64_t k = tls_thread_key;
  if (k == 0) k = tls_thread_key = new_thread_key();
  return k;
}

}  // namespace concur::detail
