// concur/queue/detail/core.hpp — what the queue cores share: the outcome of a push, the cache-line
// size they pad to, the short wait for a thread that is a few instructions from done, and the
// wake-up of the other side after a change.
//
// A core (segmented_fifo.hpp, bounded_ring.hpp, fifo_core.hpp, locked_core.hpp) stores items
// and nothing else; basic_queue.hpp adds the waiting and Python's protocol (as does an actor's
// mailbox, actors/detail/mailbox.hpp), waking the other side with notify_one_after below.
// Its interface:
//   PushResult try_push(T& x)               moves x only when it returns kDone
//   std::optional<T> try_pop(bool& closed)  nullopt when empty; then closed says whether the
//                                           core was also closed, as of the same instant
//   void close(), bool closed()             after close() every push returns kClosed
//   std::size_t size(), std::uint64_t pushed()   (pushed: successful pushes so far)
//   static constexpr bool kSeqCstClaims     see basic_queue.hpp
#pragma once

#include <cstddef>

#include "concur/detail/event_count.hpp"
#include "concur/detail/futex.hpp"

namespace concur::queue::detail {

enum class PushResult { kDone, kFull, kClosed };

inline constexpr std::size_t kCacheLine = concur::detail::tuning::kCacheLine;

// Waiting for another thread that is a few instructions away from finishing (a slot write, a
// block switch): pause, and after a while yield, in case it was preempted on our CPU.
class ShortWait {
 public:
  void operator()() noexcept {
    if (step_ < concur::detail::tuning::kShortWaitPauseRounds) {
      for (int i = 0; i < (1 << (step_ / 4)); ++i) concur::detail::cpu_relax();
      ++step_;
    } else {
      concur::detail::yield_cpu();
    }
  }

 private:
  int step_ = 0;
};

// After a successful push or pop on `Core`: wakes one waiter of the other side, if one sleeps.
// A core whose changes are seq_cst claims (kSeqCstClaims) needs no fence of ours (EventCount's
// notify_one_after_seq_cst_change); a locked core publishes by unlocking and needs the fence.
template <class Core>
void notify_one_after(concur::detail::EventCount& waiters) noexcept {
  if constexpr (Core::kSeqCstClaims)
    waiters.notify_one_after_seq_cst_change();
  else
    waiters.notify_one();
}

}  // namespace concur::queue::detail
