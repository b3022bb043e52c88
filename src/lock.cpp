#include <atomic>

#include "concur/detail/mutex.hpp"

namespace concur::detail {

std::uint64_t new_thread_key() noexcept {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

// Drepper's "mutex2" (Futexes Are Tricky, 2011) with a spin phase in front. A thread that has
// to sleep marks the word kContended, so the unlocker knows a futex_wake is needed; a thread
// woken from sleep re-marks it kContended, because it cannot know whether others still sleep.
bool Mutex::lock_slow(const Deadline& deadline) noexcept {
  if (deadline.is_immediate()) return try_lock();
  // Spin only while nobody sleeps on the lock, and only with pauses: under heavy contention a
  // spinning waiter snatches every release and the two threads alternate at cache-miss speed,
  // while a sleeping one lets the holder run long uncontended batches (what glibc does).
  // (Twice the shared pause budget — 16 measured best — and none on a single-CPU machine.)
  const int pauses = 2 * spin_policy().pauses;
  std::uint32_t prev = state_.load(std::memory_order_relaxed);
  for (int i = 0; prev != kContended && i < pauses; ++i) {
    if (prev == kUnlocked && try_lock()) return true;
    cpu_relax();
    prev = state_.load(std::memory_order_relaxed);
  }
  prev = state_.exchange(kContended, std::memory_order_acquire);
  while (prev != kUnlocked) {
    if (!futex_wait(state_, kContended, deadline)) return false;
    prev = state_.exchange(kContended, std::memory_order_acquire);
  }
  return true;
}

}  // namespace concur::detail
