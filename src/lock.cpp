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
  if (spin_until([this] {
        return state_.load(std::memory_order_relaxed) == kUnlocked && try_lock();
      }))
    return true;
  std::uint32_t prev = state_.exchange(kContended, std::memory_order_acquire);
  while (prev != kUnlocked) {
    if (!futex_wait(state_, kContended, deadline)) return false;
    prev = state_.exchange(kContended, std::memory_order_acquire);
  }
  return true;
}

}  // namespace concur::detail
