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

#include "concur/detail/deadline.hpp"

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

// The spin budget: how many pauses, then how many sched_yield()s, before sleeping (0 pauses on a
// single-CPU machine, where the partner cannot run while we pause). Chosen by measurement on
// 2-vCPU machines, in both of their modes (bench/threading_bench.cpp, `taskset -c 0` for the
// shared-CPU mode): 100 pauses and no yields won ping-pong 2-4x when the partner ran on the
// other core but lost 4-7x to std::binary_semaphore when both shared a CPU; 8 pauses then 6
// yields wins in both modes.
struct SpinPolicy {
  int pauses;
  int yields;
};
const SpinPolicy& spin_policy() noexcept;
void yield_cpu() noexcept;  // sched_yield()

// Spin until `ready()` is true or the budget is spent; returns ready()'s last value.
//  - A few pauses: a partner running on another core often answers within them.
//  - Then a few sched_yield()s: when the partner shares our CPU, pausing cannot help (it cannot
//    run until we stop), but yielding lets it run at once, far cheaper than a futex round trip;
//    when it runs elsewhere, a yield returns at once and we check again.
template <class Ready>
inline bool spin_until(Ready&& ready) noexcept(noexcept(ready())) {
  const SpinPolicy& policy = spin_policy();
  for (int i = 0; i < policy.pauses; ++i) {
    if (ready()) return true;
    cpu_relax();
  }
  for (int i = 0; i < policy.yields; ++i) {
    if (ready()) return true;
    yield_cpu();
  }
  return ready();
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
