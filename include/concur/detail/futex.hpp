// concur/detail/futex.hpp — the one waiting mechanism under every blocking call in concur.
//
// A thread that must wait does it in two phases:
//   1. spin: re-check the condition a short, bounded number of times with a pause instruction
//      in between. When the thread that will satisfy it is running on another core, the answer
//      usually arrives within a microsecond, far sooner than a sleep/wake round trip through the
//      kernel (a system call on each side plus a reschedule). See PERFORMANCE.md.
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

// The spin budget, per thread and adaptive, as glibc's adaptive mutexes: a spin that got its
// answer doubles the thread's budget for the next one (up to kMaxSpin pauses), a spin that had
// to give up halves it (down to kMinSpin). When the partner runs on another core, answers come
// within a few hundred pauses and the spins keep succeeding; when it cannot run until we stop
// (it shares our CPU), spinning only delays it, and the budget soon shrinks to a token spin
// before the futex sleep. No spinning at all when the process may use a single CPU.
//
// No sched_yield(), ever: on Linux (EEVDF) a yield when other programs keep the CPUs busy hands
// the CPU to one of them and pushes the yielder's deadline back a slice, so even its later
// futex wake-ups stop preempting them: measured on these machines, a two-thread handoff fell
// from ~30K to ~240 per second under three CPU-bound processes (std::binary_semaphore, which
// yields, falls the same way), while a plain futex sleep kept its pace.
inline constexpr int kMinSpin = 4;
inline constexpr int kMaxSpin = 64;
inline thread_local int tls_spin_budget = 16;
bool spinning_can_help() noexcept;  // more than one CPU available to us (src/futex.cpp)

// sched_yield(), for the one kind of wait that must let a preempted thread run: a lock-free
// structure waiting for a thread a few instructions from done (queue/segmented_fifo.hpp).
void yield_cpu() noexcept;

// Spin until `ready()` is true or the thread's budget is spent; returns ready()'s last value.
template <class Ready>
inline bool spin_until(Ready&& ready) noexcept(noexcept(ready())) {
  if (ready()) return true;
  if (!spinning_can_help()) return false;
  const int budget = tls_spin_budget;
  for (int i = 0; i < budget; ++i) {
    cpu_relax();
    if (ready()) {
      if (budget < kMaxSpin) tls_spin_budget = budget * 2;
      return true;
    }
  }
  if (budget > kMinSpin) tls_spin_budget = budget / 2;
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

}  // namespace concur::detail
