// concur/detail/futex.hpp — the one waiting mechanism under every blocking call in concur.
//
// A thread that must wait does it in two phases:
//   1. spin: re-check the condition with a pause instruction in between, for at most a few
//      microseconds of clock time (spin_until below). When the thread that will satisfy it is
//      running on another core, the answer usually arrives within a microsecond, far sooner than
//      a sleep/wake round trip through the kernel (a system call on each side plus a
//      reschedule). See PERFORMANCE.md.
//   2. sleep: futex(FUTEX_WAIT_BITSET) on a 32-bit word, with an absolute CLOCK_MONOTONIC
//      deadline (the clock behind std::chrono::steady_clock), until another thread changes the
//      word and calls futex_wake().
// The futex only puts the thread to sleep; the information itself always travels through the
// atomic word with acquire/release ordering, so a spurious or stale wake-up is harmless: every
// caller re-checks its word in a loop. Nothing here allocates or throws.
//
// Primitives built on this: detail::Mutex (Lock, RLock), detail::WaitNode (Condition, Semaphore,
// and the per-waiter parking of later modules), Event, the thread start/finish handshakes.
#pragma once

#include <atomic>
#include <cstdint>

#include "concur/deadline.hpp"
#include "concur/detail/tuning.hpp"

namespace concur::detail {

// One pause of the spin phase (x86 `pause`, ARM `yield`): lets the sibling hyper-thread run and
// keeps the spinning core from flooding the memory system with speculative loads.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  asm volatile("yield" ::: "memory");
#else
  std::atomic_signal_fence(std::memory_order_seq_cst);
#endif
}

// ---- The spin phase: the policy and every constant of it -----------------------------------
// A spin is bounded in time, not in pauses, with a per-thread adaptive budget; the numbers and
// why they are what they are: detail/tuning.hpp.

// No sched_yield() in any wait that can sleep: the blocking calls of every module (Lock,
// Condition, Semaphore, Event, queue get/put, futures, thread start/join) spin as above and then
// sleep on a futex. On Linux (EEVDF) a yield when other programs keep the CPUs busy hands the
// CPU to one of them and pushes the yielder's deadline back a slice, so even its later futex
// wake-ups stop preempting them: measured on these machines, a two-thread handoff fell from
// ~30K to ~240 per second under three CPU-bound processes (std::binary_semaphore, which yields,
// falls the same way), while a plain futex sleep kept its pace.
// The one wait that yields is queue/detail/core.hpp's ShortWait, in the lock-free queue cores
// (segmented_fifo.hpp, bounded_ring.hpp): a thread that finds a slot claimed but not yet
// written, or a block being switched, waits for another thread a few instructions from done.
// There is no futex word to sleep on there (that thread signals nothing when it finishes), and
// it can only be late because it was preempted, possibly on our CPU; so after ~60 pauses
// ShortWait calls yield_cpu() on every further round until the slot is ready.
void yield_cpu() noexcept;

// A thread's spin budget (thread-local: each thread adapts to its own partners and load).
struct SpinBudget {
  std::int64_t ns = tuning::kSpinInitialNs;
  int spins_at_floor = 0;  // counts towards the next probe
};
inline thread_local SpinBudget tls_spin_budget;
// Set by a thread that must not spin at all: the unit tests that script a waiter's calls to
// ready() (tests/detail/). Read only after the first ready() has failed.
inline thread_local bool tls_never_spin = false;

// More than one CPU available to us (src/detail/futex.cpp).
bool spinning_can_help() noexcept;
std::int64_t spin_clock_ns() noexcept;  // CLOCK_MONOTONIC (steady_clock), in nanoseconds

// Spin until `ready()` is true or the thread's budget of time is spent; returns ready()'s last
// value. An answer found by the first call to ready() spins not at all and leaves the budget.
template <class Ready>
inline bool spin_until(Ready&& ready) noexcept(noexcept(ready())) {
  if (ready()) return true;
  if (!spinning_can_help() || tls_never_spin) return false;
  SpinBudget& b = tls_spin_budget;
  std::int64_t budget = b.ns;
  bool probe = false;
  if (budget <= tuning::kSpinFloorNs && ++b.spins_at_floor >= tuning::kSpinProbeEvery) {
    b.spins_at_floor = 0;
    budget = tuning::kSpinMaxNs;
    probe = true;
  }
  const std::int64_t start = spin_clock_ns();
  for (;;) {
    for (int i = 0; i < tuning::kSpinPausesPerClockRead; ++i) {
      cpu_relax();
      if (ready()) {
        b.ns = budget < tuning::kSpinMaxNs / 2 ? budget * 2 : tuning::kSpinMaxNs;
        return true;
      }
    }
    if (spin_clock_ns() - start >= budget) break;
  }
  b.ns = probe || budget / 2 < tuning::kSpinFloorNs ? tuning::kSpinFloorNs : budget / 2;
  return false;
}

// The spin of a lock's waiter (detail::Mutex, multiprocessing's robust lock), unlike
// spin_until's: it looks at the lock word with exponential backoff between looks (1, 2, 4 ...
// `longest_step` pauses: tuning::kMutexLongestBackoff, kSharedLockLongestBackoff) and only while
// `sleeping(word)` is false (nobody sleeps on the lock: once someone does, the holder will wake a
// sleeper anyway, so spinning only steals the line from the holder). Each look that finds
// `is_free(word)` calls `take()`; returns true as soon as take() does, false when a sleeper
// appeared or the steps ran out. No spin on a single-CPU machine.
template <class Word, class Sleeping, class IsFree, class Take>
inline bool spin_for_lock(const std::atomic<Word>& word, int longest_step, Sleeping&& sleeping,
                          IsFree&& is_free, Take&& take) noexcept {
  if (!spinning_can_help()) longest_step = 0;
  Word v = word.load(std::memory_order_relaxed);
  for (int step = 1; !sleeping(v) && step <= longest_step; step *= 2) {
    for (int i = 0; i < step; ++i) cpu_relax();
    v = word.load(std::memory_order_relaxed);
    if (is_free(v) && take()) return true;
  }
  return false;
}

// Sleep while `word == expected`, until woken or until `deadline`. Returns false only when the
// deadline has passed; true means "woken or spurious": the caller re-checks its word either way.
bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                const Deadline& deadline) noexcept;

// Wake up to `count` threads sleeping in futex_wait() on `word`.
void futex_wake(std::atomic<std::uint32_t>& word, int count) noexcept;
inline void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept {
  futex_wake(word, 0x7fffffff);
}

// The same two calls on a word that other processes share (memory mapped MAP_SHARED, as
// multiprocessing's locks in concur/multiprocessing/): without FUTEX_PRIVATE_FLAG, so that the
// kernel keys the wait on the memory object and offset rather than on this process's address
// space, and a wake-up from another process (or the kernel's robust-futex wake-up when an owner
// dies) reaches the sleeper. Slower than the private calls only in the kernel's lookup.
bool futex_wait_shared(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                       const Deadline& deadline) noexcept;
void futex_wake_shared(std::atomic<std::uint32_t>& word, int count) noexcept;
inline void futex_wake_all_shared(std::atomic<std::uint32_t>& word) noexcept {
  futex_wake_shared(word, 0x7fffffff);
}

}  // namespace concur::detail
