// concur/queue/detail/core.hpp — what the queue cores share: the outcome of a push, the cache-line
// size they pad to, and the short wait for a thread that is a few instructions from done.
//
// A core (segmented_fifo.hpp, bounded_ring.hpp, fifo_core.hpp, locked_core.hpp) stores items
// and nothing else; basic_queue.hpp adds the waiting and Python's protocol. Its interface:
//   PushResult try_push(T& x)               moves x only when it returns kDone
//   std::optional<T> try_pop(bool& closed)  nullopt when empty; then closed says whether the
//                                           core was also closed, as of the same instant
//   void close(), bool closed()             after close() every push returns kClosed
//   std::size_t size(), std::uint64_t pushed()   (pushed: successful pushes so far)
//   static constexpr bool kSeqCstClaims     see basic_queue.hpp
#pragma once

#include <cstddef>

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

}  // namespace concur::queue::detail
