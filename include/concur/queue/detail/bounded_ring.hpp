// concur/queue/detail/bounded_ring.hpp — the bounded lock-free MPMC FIFO under Queue<T>(maxsize).
//
// Dmitry Vyukov's bounded MPMC queue: an array of `capacity` cells, each with a sequence number
// that says whose turn the cell is. For position p (cell p % capacity):
//   seq == p          the cell is free for the producer of position p
//   seq == p + 1      it holds the item of position p, for the consumer of position p
//   seq == p + cap    the consumer is done; free for the producer of position p + cap
// A producer claims position p with one CAS on the enqueue counter once it sees seq == p, fills
// the cell and publishes seq = p + 1 (release); a consumer mirrors it. Producers and consumers
// touch only their own counter and the cells, so in the common one-producer/one-consumer case
// each side's counter stays in its own cache and only the cells travel, a line of them at a time.
// Any capacity from 2 works (the sequence arithmetic never needs a power of two; a power of two
// saves a division). With one cell, "holds the item of p" (p + 1) and "free for the producer
// of p + capacity" (p + 1) would be the same number.
//
// When the cell it needs is not ready, an operation looks at the other side's counter: if the
// other side has already claimed that cell (a consumer moving the old item out, a producer
// writing the new one), it waits the few instructions that takes; only otherwise is the ring
// full (or empty). So "full" and "empty" are decided by the claims alone, which are seq_cst
// read-modify-writes, read with seq_cst loads: the queue's no-lost-wake-up protocol
// (basic_queue.hpp) needs nothing more, no fence on the fast path.
//
// The enqueue counter holds position << 1 | closed: close() sets the low bit, so a claim (a CAS
// of that word) and the close are ordered, and a consumer that finds the ring empty learns from
// the same load whether it is closed.
//
// Thread-safety: every member except the destructor may be called concurrently from any
// threads. T must be nothrow-move-constructible (checked).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "concur/queue/detail/core.hpp"

namespace concur::queue::detail {

template <class T>
class BoundedRing {
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "BoundedRing needs a nothrow move constructor");

 public:
  static constexpr bool kSeqCstClaims = true;  // see above

  // capacity >= 2 (see above).
  explicit BoundedRing(std::size_t capacity)
      : capacity_(capacity),
        mask_((capacity & (capacity - 1)) == 0 ? capacity - 1 : 0),
        cells_(new Cell[capacity]) {
    for (std::size_t i = 0; i < capacity; ++i) cells_[i].seq.store(i, std::memory_order_relaxed);
  }
  BoundedRing(const BoundedRing&) = delete;
  BoundedRing& operator=(const BoundedRing&) = delete;

  // Not concurrent with anything: destroys the items left.
  ~BoundedRing() {
    const std::uint64_t tail = enqueue_pos_.load(std::memory_order_relaxed) >> 1;
    for (std::uint64_t p = dequeue_pos_.load(std::memory_order_relaxed); p != tail; ++p)
      cell(p).item()->~T();
  }

  // Moves `x` in (kDone), or leaves it untouched: kFull, kClosed.
  PushResult try_push(T& x) noexcept {
    ShortWait wait;
    // acquire on every read of the word: a kClosed answer must see what the thread that closed
    // the ring (shutdown()) did before it (free on x86, where every load acquires).
    std::uint64_t word = enqueue_pos_.load(std::memory_order_acquire);
    for (;;) {
      if (word & 1) return PushResult::kClosed;
      const std::uint64_t pos = word >> 1;
      Cell& c = cell(pos);
      // acquire: pairs with the consumer's release of seq, so its move-out of the previous item
      // is complete before we construct over it.
      const std::uint64_t seq = c.seq.load(std::memory_order_acquire);
      const auto diff = static_cast<std::int64_t>(seq - pos);
      if (diff == 0) {
        // The cell's seq carries the item's synchronization; seq_cst is for the claim's role
        // in the wake-up protocol (and costs nothing extra: a CAS is a locked instruction).
        if (enqueue_pos_.compare_exchange_weak(word, word + 2, std::memory_order_seq_cst,
                                               std::memory_order_acquire)) {
          ::new (static_cast<void*>(c.storage)) T(std::move(x));
          c.seq.store(pos + 1, std::memory_order_release);
          return PushResult::kDone;
        }
      } else if (diff < 0) {
        // The cell still holds the item of position pos - capacity. Full, unless its consumer
        // has claimed it and is moving it out right now.
        if (dequeue_pos_.load(std::memory_order_seq_cst) + capacity_ <= pos) {
          return (enqueue_pos_.load(std::memory_order_seq_cst) & 1) ? PushResult::kClosed
                                                                     : PushResult::kFull;
        }
        wait();
        word = enqueue_pos_.load(std::memory_order_acquire);
      } else {
        word = enqueue_pos_.load(std::memory_order_acquire);  // another producer took pos
      }
    }
  }

  std::optional<T> try_pop(bool& closed) noexcept {
    ShortWait wait;
    std::uint64_t pos = dequeue_pos_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& c = cell(pos);
      const std::uint64_t seq = c.seq.load(std::memory_order_acquire);  // the item's bytes
      const auto diff = static_cast<std::int64_t>(seq - (pos + 1));
      if (diff == 0) {
        if (dequeue_pos_.compare_exchange_weak(pos, pos + 1, std::memory_order_seq_cst,
                                               std::memory_order_relaxed)) {
          std::optional<T> out(std::move(*c.item()));
          c.item()->~T();
          c.seq.store(pos + capacity_, std::memory_order_release);
          return out;
        }
      } else if (diff < 0) {
        // Not written for this lap yet. Empty, unless a producer has claimed the cell and is
        // writing it right now.
        const std::uint64_t word = enqueue_pos_.load(std::memory_order_seq_cst);
        if ((word >> 1) <= pos) {
          closed = (word & 1) != 0;
          return std::nullopt;
        }
        wait();
      } else {
        pos = dequeue_pos_.load(std::memory_order_relaxed);
      }
    }
  }

  // Exact when quiescent; otherwise some value within [0, capacity].
  std::size_t size() const noexcept {
    for (;;) {
      const std::uint64_t head = dequeue_pos_.load(std::memory_order_seq_cst);
      const std::uint64_t tail = enqueue_pos_.load(std::memory_order_seq_cst) >> 1;
      if (dequeue_pos_.load(std::memory_order_seq_cst) != head) continue;
      const std::uint64_t n = tail > head ? tail - head : 0;
      return n > capacity_ ? capacity_ : static_cast<std::size_t>(n);
    }
  }

  std::size_t capacity() const noexcept { return capacity_; }

  // How many pushes have claimed their cell so far (monotonic).
  std::uint64_t pushed() const noexcept {
    return enqueue_pos_.load(std::memory_order_seq_cst) >> 1;
  }

  void close() noexcept { enqueue_pos_.fetch_or(1, std::memory_order_seq_cst); }
  bool closed() const noexcept { return enqueue_pos_.load(std::memory_order_seq_cst) & 1; }

 private:
  struct Cell {
    std::atomic<std::uint64_t> seq;
    alignas(T) unsigned char storage[sizeof(T)];
    T* item() noexcept { return std::launder(reinterpret_cast<T*>(storage)); }
  };

  Cell& cell(std::uint64_t pos) const noexcept {
    return cells_[mask_ ? (pos & mask_) : (pos % capacity_)];
  }

  const std::size_t capacity_;
  const std::size_t mask_;  // capacity - 1 for a power of two (> 1), else 0: use %
  const std::unique_ptr<Cell[]> cells_;
  alignas(kCacheLine) std::atomic<std::uint64_t> enqueue_pos_{0};  // position << 1 | closed
  alignas(kCacheLine) std::atomic<std::uint64_t> dequeue_pos_{0};
};

}  // namespace concur::queue::detail
