#include "concur/threading/event.hpp"
#include "concur/threading/detail/wait_kinds.hpp"


namespace concur::threading {

void Event::set() noexcept {
  std::uint32_t w = word_.load(std::memory_order_relaxed);
  do {
    if (w & kSet) return;  // already set: nobody can be waiting for this set()
    // seq_cst: the change notify_all_after_seq_cst_change() needs (event_count.hpp); it also
    // releases what the setter wrote before set() to a waiter that sees the flag.
  } while (!word_.compare_exchange_weak(w, (w + kGeneration) | kSet, std::memory_order_seq_cst,
                                        std::memory_order_relaxed));
  waiters_.notify_all_after_seq_cst_change();
}

bool Event::wait_slow(const Deadline& deadline) noexcept {
  const std::uint32_t generation = word_.load(std::memory_order_acquire) & ~kSet;
  const detail::WaitSite site{&detail::kEventWait, this, {}, nullptr, nullptr};
  return waiters_.wait_until(
      [&] {
        const std::uint32_t w = word_.load(std::memory_order_acquire);
        return (w & kSet) || (w & ~kSet) != generation;
      },
      deadline, &site);
}

}  // namespace concur::threading
