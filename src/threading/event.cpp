#include "concur/threading/event.hpp"

#include "concur/detail/wait_site.hpp"

namespace concur::threading {

void Event::set() noexcept {
  std::uint32_t w = word_.load(std::memory_order_relaxed);
  std::uint32_t next;
  do {
    if (w & kSet) return;  // already set: nobody can be waiting for this set()
    next = ((w & ~(kSet | kSleepers)) + kGeneration) | kSet;
    // release: a waiter that sees the flag also sees what the setter wrote before set().
  } while (!word_.compare_exchange_weak(w, next, std::memory_order_release,
                                        std::memory_order_relaxed));
  if (w & kSleepers) detail::futex_wake_all(word_);
}

bool Event::wait_slow(const Deadline& deadline) noexcept {
  if (deadline.is_immediate()) return is_set();
  std::uint32_t w = word_.load(std::memory_order_acquire);
  const std::uint32_t generation = w & ~(kSet | kSleepers);
  auto woken = [&](std::uint32_t v) { return (v & kSet) || (v & ~(kSet | kSleepers)) != generation; };
  if (detail::spin_until([&] { return woken(word_.load(std::memory_order_acquire)); }))
    return true;
  const detail::WaitSite site{detail::WaitKind::event, this, {}, nullptr, nullptr};
  const detail::BlockedScope blocked(&site);
  for (;;) {
    w = word_.load(std::memory_order_acquire);
    if (woken(w)) return true;
    if (!(w & kSleepers) &&
        !word_.compare_exchange_weak(w, w | kSleepers, std::memory_order_acquire,
                                     std::memory_order_acquire))
      continue;
    if (!detail::futex_wait(word_, w | kSleepers, deadline))
      return woken(word_.load(std::memory_order_acquire));
  }
}

}  // namespace concur::threading
