// detail::Mutex's sleeping half and the thread keys lock owners are recorded by.
#include "concur/detail/mutex.hpp"

#include <atomic>

namespace concur::detail {

namespace {

// Serialises the recovery of LeafMutexes in a child. Taken last before a fork (the detail
// layer's prepare runs last) and released after it on both sides, so that a grandchild never
// inherits it held by a thread that was recovering.
Mutex g_recovery;

[[maybe_unused]] const bool fork_handlers_registered = register_at_fork(
    AtForkLayer::detail, {[]() noexcept { g_recovery.lock(); },
                          []() noexcept { g_recovery.unlock(); },
                          []() noexcept { g_recovery.unlock(); }});

}  // namespace

void LeafMutex::recover_after_fork() noexcept {
  MutexGuard guard(g_recovery);
  const std::uint32_t now = current_generation();
  if (generation_.load(std::memory_order_relaxed) == now) return;  // another thread did it
  // Every thread that could have held mutex_ is gone (see the header), and every thread of this
  // process that wants it is either here, behind g_recovery, or waiting for the generation
  // below: nobody holds it or sleeps on it. Re-create it unlocked.
  reinit_in_child(mutex_);
  generation_.store(now, std::memory_order_release);
}

std::uint64_t new_thread_key() noexcept {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

// Drepper's "mutex2" (Futexes Are Tricky, 2011) with a spin phase in front. A thread that has
// to sleep marks the word kContended, so the unlocker knows a futex_wake is needed; a thread
// woken from sleep re-marks it kContended, because it cannot know whether others still sleep.
bool Mutex::lock_slow(const Deadline& deadline, const WaitSite* site) noexcept {
  if (deadline.is_immediate()) return try_lock();
  // Spin only while nobody sleeps on the lock, with pauses only, and with exponential backoff
  // between looks (spin_for_lock: 1, 2, 4 ... 32 pauses): a waiter that looks at every pause
  // snatches each release and the threads alternate at cache-miss speed; one that looks ever
  // less often lets the holder run uncontended batches. Measured on 2 vCPUs, 2 threads
  // hammering one lock: 44-54 M/s against 26-45 for a look-every-pause spin, 23-38 for
  // tbb::mutex and 27-47 for std::mutex, interleaved in one process.
  if (spin_for_lock(
          state_, tuning::kMutexLongestBackoff, [](std::uint32_t v) { return v == kContended; },
          [](std::uint32_t v) { return v == kUnlocked; }, [this] { return try_lock(); }))
    return true;
  std::uint32_t prev = state_.exchange(kContended, std::memory_order_acquire);
  if (prev == kUnlocked) return true;
  const BlockedScope blocked(site);  // from here on, a dump shows this thread blocked on `site`
  do {
    if (!futex_wait(state_, kContended, deadline) || blocked.interrupted()) return false;
    prev = state_.exchange(kContended, std::memory_order_acquire);
  } while (prev != kUnlocked);
  return true;
}

}  // namespace concur::detail
