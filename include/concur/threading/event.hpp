// concur/threading/event.hpp — threading.Event: a flag that threads can wait to become true.
//
//   th::Event e;
//   e.wait();                      // block until set() (returns true)
//   bool set = e.wait(10ms);       // false if the timeout passed first
//   e.set();  e.clear();  e.is_set();
//
// Contract
// - set() wakes every thread waiting at that moment, even if clear() follows at once (a waiter
//   that was woken returns true; it does not miss the pulse).
// - Happens-before: what a thread did before set() is visible to a thread whose wait() returned
//   true (or whose is_set() returned true) for that set().
// - Thread-safety: every member may be called concurrently from any thread.
// - Waiting goes through detail::EventCount (the one waiting seam): a bounded spin, then a
//   sleep on a waiter node; set() costs one read-modify-write and one load when nobody sleeps.
// - Blocks: wait() while the flag is false (bounded by the timeout, if any). Nothing throws.
// - Undefined: destroying an Event while threads wait on it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "concur/deadline.hpp"
#include "concur/detail/event_count.hpp"

namespace concur::threading {

class Event {
 public:
  Event() noexcept = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  [[nodiscard]] bool is_set() const noexcept { return word_.load(std::memory_order_acquire) & kSet; }

  void set() noexcept;
  void clear() noexcept { word_.fetch_and(~kSet, std::memory_order_relaxed); }

  bool wait() noexcept { return wait_until(Deadline::never()); }
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) noexcept {
    return wait_until(Deadline::after(timeout));
  }
  bool wait_until(const Deadline& deadline) noexcept {
    return is_set() || wait_slow(deadline);
  }

 private:
  // Word layout: bit 0 the flag, bits 1.. a generation that set() advances, so that a waiter
  // can tell it was woken by a set() even if clear() won the race to the word.
  static constexpr std::uint32_t kSet = 1, kGeneration = 2;
  bool wait_slow(const Deadline& deadline) noexcept;
  std::atomic<std::uint32_t> word_{0};
  detail::EventCount waiters_;
};

}  // namespace concur::threading
