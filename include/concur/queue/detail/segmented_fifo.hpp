// concur/queue/detail/segmented_fifo.hpp — the unbounded lock-free MPMC FIFO under Queue<T>() and
// SimpleQueue<T>.
//
// Items live in a linked list of blocks of kBlockCap slots. Producers claim a slot by advancing
// the tail index with one CAS, then construct the item in place and mark the slot written;
// consumers claim a slot by advancing the head index, wait for its item (a producer that has
// claimed a slot finishes writing it within a few instructions), move it out and mark it read.
// The design follows the well-known segmented queue of crossbeam (Rust), re-derived here:
//
//  - An index is position << kShift. Positions run kLap per block, the last one (offset
//    kBlockCap) being a phantom: while the tail sits there, the producer that claimed the
//    block's last slot is installing the next block, and other producers wait for it. That
//    keeps the (index, block) pair consistent without a double-width CAS: a thread that read
//    an index and then a block pointer can only win its CAS if neither has moved since.
//  - The head's low bit (kHasNext) caches "the tail is in a later block", so a consumer far
//    behind the producers never touches the producers' cache line to ask whether it is empty.
//  - The tail's low bit (kClosed) closes the queue (shutdown): a claim and the close are
//    read-modify-writes of the same word, so every push either lands before the close or fails,
//    and a consumer that finds the queue empty learns in the same load whether it is closed.
//  - A block is freed by the consumer that finishes with it last: each consumer counts its
//    slot in the block's `consumed` counter after moving the item out, and the one that brings
//    it to kBlockCap frees it. The counter sits on its own cache line, so consumers never write
//    to the slots' lines, which producers are filling (crossbeam marks each slot read instead;
//    with one producer and one consumer close behind it, those writes bounce the line between
//    them). One freed block is kept as a spare, so a steady stream of items does not cycle
//    through malloc/free; the spare is reset when reused.
//
// Thread-safety: every member except the destructor may be called concurrently from any
// threads. push fails only once the queue is closed (it may throw std::bad_alloc when a new
// block cannot be allocated, before anything is claimed). T must be nothrow-move-constructible (checked): a slot, once claimed,
// must be filled and emptied without a chance to throw.
// Progress: lock-free except for two short waits on another thread's progress (a block switch,
// a claimed slot not yet written), spent spinning then yielding, never sleeping on a lock.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "concur/detail/futex.hpp"
#include "concur/queue/detail/core.hpp"

namespace concur::queue::detail {

// kPositions: positions per block (kPositions - 1 items); a queue's default, or fewer where many
// mostly empty FIFOs live at once (an actor's mailbox, tuning.hpp).
template <class T, std::size_t kPositions = concur::detail::tuning::kFifoBlockPositions>
class SegmentedFifo {
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "SegmentedFifo needs a nothrow move constructor");
  static_assert(kPositions >= 2, "a block holds at least one item besides its end marker");

 public:
  // A push becomes visible to consumers through a seq_cst read-modify-write (its claim), and
  // consumers decide "empty" with a seq_cst load of what it modified (see basic_queue.hpp).
  static constexpr bool kSeqCstClaims = true;

  // Unbounded: a bound, where a queue has one, is kept by FifoCore.
  SegmentedFifo() {
    Block* b = new Block;
    head_.block.store(b, std::memory_order_relaxed);
    tail_.block.store(b, std::memory_order_relaxed);
  }
  SegmentedFifo(const SegmentedFifo&) = delete;
  SegmentedFifo& operator=(const SegmentedFifo&) = delete;

  // Not concurrent with anything: destroys the items left and frees the blocks.
  ~SegmentedFifo() {
    std::uint64_t head = head_.index.load(std::memory_order_relaxed) & ~kHasNext;
    const std::uint64_t tail = tail_.index.load(std::memory_order_relaxed) & ~kClosed;
    Block* block = head_.block.load(std::memory_order_relaxed);
    while (head != tail) {
      const std::size_t offset = (head >> kShift) % kLap;
      if (offset < kBlockCap) {
        block->slots[offset].item()->~T();
      } else {
        Block* next = block->next.load(std::memory_order_relaxed);
        delete block;
        block = next;
      }
      head += std::uint64_t{1} << kShift;
    }
    delete block;
    delete spare_.load(std::memory_order_relaxed);
  }

  // Appends `x` (moved from) and returns true, or returns false (x untouched) once closed.
  // Throws std::bad_alloc only before anything changed.
  bool push(T&& x) {
    ShortWait wait;
    std::uint64_t tail = tail_.index.load(std::memory_order_acquire);
    Block* block = tail_.block.load(std::memory_order_acquire);
    Block* next_block = nullptr;
    for (;;) {
      if (tail & kClosed) {
        if (next_block) recycle(next_block);
        return false;
      }
      const std::size_t offset = (tail >> kShift) % kLap;
      if (offset == kBlockCap) {  // another producer is installing the next block
        wait();
        tail = tail_.index.load(std::memory_order_acquire);
        block = tail_.block.load(std::memory_order_acquire);
        continue;
      }
      // About to claim a block's last slot: get the next block first, so that the window in
      // which other producers wait for the switch is as short as possible.
      if (offset + 1 == kBlockCap && next_block == nullptr) next_block = new_block();
      const std::uint64_t new_tail = tail + (std::uint64_t{1} << kShift);
      // seq_cst on success: the claim is what consumers' emptiness check reads (and the first
      // half of basic_queue.hpp's no-lost-wake-up protocol). acquire on
      // failure: the block pointer read next must be at least as new as the index we saw.
      if (tail_.index.compare_exchange_weak(tail, new_tail, std::memory_order_seq_cst,
                                            std::memory_order_acquire)) {
        if (offset + 1 == kBlockCap) {
          // Publish the block before the index that lets producers into it (they read the
          // index, then the block), and link it for the consumers.
          // fetch_add, not store: close() may set kClosed meanwhile, and must stay set.
          tail_.block.store(next_block, std::memory_order_release);
          tail_.index.fetch_add(std::uint64_t{1} << kShift, std::memory_order_release);
          block->next.store(next_block, std::memory_order_release);
          next_block = nullptr;
        }
        Slot& slot = block->slots[offset];
        ::new (static_cast<void*>(slot.storage)) T(std::move(x));
        // release: the item's bytes before the flag the consumer acquires. Only producers
        // write a slot's state (consumers count in the block instead), so a store will do.
        slot.state.store(kWrite, std::memory_order_release);
        break;
      }
      block = tail_.block.load(std::memory_order_acquire);
      wait();
    }
    if (next_block) recycle(next_block);
    return true;
  }

  // The core interface of basic_queue.hpp: an unbounded queue is never full.
  PushResult try_push(T& x) { return push(std::move(x)) ? PushResult::kDone : PushResult::kClosed; }

  // Makes every later push fail. Items already pushed can still be popped.
  void close() noexcept { tail_.index.fetch_or(kClosed, std::memory_order_seq_cst); }
  bool closed() const noexcept {
    return tail_.index.load(std::memory_order_seq_cst) & kClosed;
  }

  // Removes and returns the oldest item, or nullopt if the queue is empty; then `closed` says
  // whether it was also closed (in the same instant: no push can land after that).
  std::optional<T> try_pop(bool& closed) noexcept {
    ShortWait wait;
    std::uint64_t head = head_.index.load(std::memory_order_acquire);
    Block* block = head_.block.load(std::memory_order_acquire);
    for (;;) {
      const std::size_t offset = (head >> kShift) % kLap;
      if (offset == kBlockCap) {  // another consumer is moving the head to the next block
        wait();
        head = head_.index.load(std::memory_order_acquire);
        block = head_.block.load(std::memory_order_acquire);
        continue;
      }
      std::uint64_t new_head = head + (std::uint64_t{1} << kShift);
      if ((new_head & kHasNext) == 0) {
        // Only a slot that a producer has claimed may be claimed. First ask the consumers'
        // own copy of a tail seen earlier (the tail only grows, so whatever lies below it is
        // claimed): a consumer working through a backlog leaves the producers' line alone.
        std::uint64_t tail = head_.seen_tail.load(std::memory_order_relaxed);
        if ((head >> kShift) >= (tail >> kShift)) {
          // seq_cst: this read and the producers' seq_cst claim are the two halves of the
          // queue's no-lost-wake-up protocol (basic_queue.hpp); on x86 it is a plain load.
          tail = tail_.index.load(std::memory_order_seq_cst);
          if ((head >> kShift) == (tail >> kShift)) {
            closed = (tail & kClosed) != 0;
            return std::nullopt;
          }
          head_.seen_tail.store(tail, std::memory_order_relaxed);
        }
        if ((head >> kShift) / kLap != (tail >> kShift) / kLap) new_head |= kHasNext;
      }
      if (head_.index.compare_exchange_weak(head, new_head, std::memory_order_seq_cst,
                                            std::memory_order_acquire)) {
        if (offset + 1 == kBlockCap) {
          // We took the block's last slot: move the head to the next block (its producer
          // linked it before writing the slot, so it is there or about to be).
          Block* next = wait_next(block);
          std::uint64_t next_index = (new_head & ~kHasNext) + (std::uint64_t{1} << kShift);
          if (next->next.load(std::memory_order_relaxed) != nullptr) next_index |= kHasNext;
          head_.block.store(next, std::memory_order_release);
          head_.index.store(next_index, std::memory_order_release);
        }
        Slot& slot = block->slots[offset];
        ShortWait write_wait;
        while ((slot.state.load(std::memory_order_acquire) & kWrite) == 0) write_wait();
        std::optional<T> out(std::move(*slot.item()));
        slot.item()->~T();
        // acq_rel: our use of the slot happens before the last consumer's recycle() of it.
        if (block->consumed.fetch_add(1, std::memory_order_acq_rel) + 1 == kBlockCap)
          recycle(block);
        return out;
      }
      block = head_.block.load(std::memory_order_acquire);
      wait();
    }
  }

  // How many pushes have claimed their slot so far (monotonic; basic_queue.hpp counts
  // unfinished tasks as pushed() minus finished, so a put needs no counter of its own).
  std::uint64_t pushed() const noexcept {
    return items_before(tail_.index.load(std::memory_order_seq_cst) >> kShift);
  }

  // The number of items; exact when nothing runs concurrently, otherwise a value the queue had
  // at some moment during the call (Python's qsize() is documented as approximate).
  std::size_t size() const noexcept {
    for (;;) {
      const std::uint64_t tail = tail_.index.load(std::memory_order_seq_cst);
      const std::uint64_t head = head_.index.load(std::memory_order_seq_cst);
      if (tail_.index.load(std::memory_order_seq_cst) != tail) continue;
      const std::uint64_t t = items_before(tail >> kShift), h = items_before(head >> kShift);
      return t > h ? static_cast<std::size_t>(t - h) : 0;
    }
  }

 private:
  static constexpr std::size_t kLap = kPositions;
  static constexpr std::size_t kBlockCap = kLap - 1;    // real slots per block
  static constexpr unsigned kShift = 1;                 // index = position << kShift | flags
  static constexpr std::uint64_t kHasNext = 1;          // head only: tail is in a later block
  static constexpr std::uint64_t kClosed = 1;           // tail only: no more pushes
  static constexpr std::uint32_t kWrite = 1;            // slot state: the item is there

  struct Slot {
    alignas(T) unsigned char storage[sizeof(T)];
    std::atomic<std::uint32_t> state{0};
    T* item() noexcept { return std::launder(reinterpret_cast<T*>(storage)); }
  };
  struct Block {
    std::atomic<Block*> next{nullptr};
    Slot slots[kBlockCap];
    alignas(kCacheLine) std::atomic<std::size_t> consumed{0};  // slots emptied by consumers
  };
  struct alignas(kCacheLine) End {
    std::atomic<std::uint64_t> index{0};
    std::atomic<Block*> block{nullptr};
    std::atomic<std::uint64_t> seen_tail{0};  // head only: a tail index some consumer read
  };

  // Items stored before position p: kBlockCap per full lap, then the offset within the lap.
  static std::uint64_t items_before(std::uint64_t p) noexcept {
    const std::uint64_t offset = p % kLap;
    return (p / kLap) * kBlockCap + (offset < kBlockCap ? offset : kBlockCap);
  }

  static Block* wait_next(Block* block) noexcept {
    ShortWait wait;
    for (;;) {
      Block* next = block->next.load(std::memory_order_acquire);
      if (next) return next;
      wait();
    }
  }

  Block* new_block() {
    if (Block* b = spare_.exchange(nullptr, std::memory_order_acquire)) {
      b->next.store(nullptr, std::memory_order_relaxed);
      b->consumed.store(0, std::memory_order_relaxed);
      for (Slot& s : b->slots) s.state.store(0, std::memory_order_relaxed);
      return b;
    }
    return new Block;
  }

  // Keeps one free block for the next new_block(); frees any other.
  void recycle(Block* b) noexcept {
    Block* expected = nullptr;
    if (!spare_.compare_exchange_strong(expected, b, std::memory_order_release,
                                        std::memory_order_relaxed))
      delete b;
  }

  End head_;
  End tail_;
  alignas(kCacheLine) std::atomic<Block*> spare_{nullptr};
};

}  // namespace concur::queue::detail
