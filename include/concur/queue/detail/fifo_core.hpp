// concur/queue/detail/fifo_core.hpp — the core of Queue<T>: a lock-free FIFO, bounded or not.
//
// Queue's maxsize is a run-time value, so the choice is made once, in the constructor:
//   maxsize <= 0                     SegmentedFifo (unbounded, grows a block at a time)
//   2 <= maxsize <= kMaxRingCapacity BoundedRing of exactly maxsize cells (allocated up front)
//   1, or larger                     SegmentedFifo plus a count of reserved places: a ring of
//                                    one cell cannot tell "full" from "free for the next lap",
//                                    and a Queue(10'000'000) should not allocate 10 million
//                                    cells at once
// Each operation pays one well-predicted branch for it.
//
// Thread-safety and item requirements: those of the cores (nothrow-move-constructible T).
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <new>
#include <optional>

#include "concur/queue/detail/bounded_ring.hpp"
#include "concur/queue/detail/segmented_fifo.hpp"

namespace concur::queue::detail {

// kBlockPositions: the SegmentedFifo's block size (segmented_fifo.hpp).
template <class T, std::size_t kBlockPositions = concur::detail::tuning::kFifoBlockPositions>
class FifoCore {
 public:
  // Both cores claim with seq_cst read-modify-writes, and so does the place count.
  static constexpr bool kSeqCstClaims = true;

  static constexpr std::size_t kMaxRingCapacity = concur::detail::tuning::kMaxRingCapacity;

  // capacity 0: unbounded.
  explicit FifoCore(std::size_t capacity) : capacity_(capacity) {
    if (capacity >= 2 && capacity <= kMaxRingCapacity)
      ring_ = std::make_unique<BoundedRing<T>>(capacity);
    else
      list_.emplace();
  }

  // Moves `x` in (kDone), or leaves it untouched: kFull, kClosed.
  PushResult try_push(T& x) {
    if (ring_) return ring_->try_push(x);
    if (capacity_ == 0) return list_->try_push(x);
    if (!reserve()) return list_->closed() ? PushResult::kClosed : PushResult::kFull;
    bool pushed;
    try {
      pushed = list_->push(std::move(x));
    } catch (...) {  // std::bad_alloc for a new block: give the place back
      count_.fetch_sub(1, std::memory_order_seq_cst);
      throw;
    }
    if (pushed) return PushResult::kDone;
    count_.fetch_sub(1, std::memory_order_seq_cst);
    return PushResult::kClosed;
  }

  std::optional<T> try_pop(bool& closed) noexcept {
    if (ring_) return ring_->try_pop(closed);
    std::optional<T> out = list_->try_pop(closed);
    // seq_cst: freeing a place is this core's "claim" for waiting producers (their reserve()
    // reads the count with seq_cst); see basic_queue.hpp.
    if (out && capacity_ != 0) count_.fetch_sub(1, std::memory_order_seq_cst);
    return out;
  }

  std::size_t size() const noexcept { return ring_ ? ring_->size() : list_->size(); }
  std::uint64_t pushed() const noexcept { return ring_ ? ring_->pushed() : list_->pushed(); }

  void close() noexcept {
    if (ring_)
      ring_->close();
    else
      list_->close();
  }
  bool closed() const noexcept { return ring_ ? ring_->closed() : list_->closed(); }

 private:
  // One place for a bounded SegmentedFifo. A CAS loop rather than fetch_add-then-undo: a
  // transient overshoot could make another producer see "full" with a place free and sleep
  // with no notification coming.
  bool reserve() noexcept {
    std::size_t n = count_.load(std::memory_order_seq_cst);
    do {
      if (n >= capacity_) return false;
    } while (!count_.compare_exchange_weak(n, n + 1, std::memory_order_seq_cst,
                                           std::memory_order_seq_cst));
    return true;
  }

  const std::size_t capacity_;
  std::unique_ptr<BoundedRing<T>> ring_;
  // Inline, so that the unbounded queue, the common case, reaches its items without a pointer
  // hop; made only when there is no ring.
  std::optional<SegmentedFifo<T, kBlockPositions>> list_;
  alignas(kCacheLine) std::atomic<std::size_t> count_{0};  // places reserved (large bound only)
};

}  // namespace concur::queue::detail
