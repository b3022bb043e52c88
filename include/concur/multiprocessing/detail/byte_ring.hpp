// concur/multiprocessing/detail/byte_ring.hpp — a queue's channel between processes: a ring of
// bytes in shared memory carrying frames (an 8-byte length, then the bytes), for mp::Queue,
// JoinableQueue and SimpleQueue (queues.hpp).
//
// Why not a pipe (CPython's choice): a pipe costs a system call on each side of every item, and
// usually a sleep and a wake-up; through shared memory an item costs a copy in and a copy out,
// and a system call only when the other side sleeps (1P1C ints: see the README's figures).
//
// Protocol. One writer and one reader at a time: the queue's write lock and read lock (shared
// mp::Locks) make the ring single-producer single-consumer between their holders. `tail` counts
// the bytes ever written and `head` those ever read (64-bit: they never wrap); the writer owns
// tail and the reader owns head, each published with release and read with acquire, so bytes
// copied before a publish are visible to the side that sees it.
//  - A frame that fits in the free space is copied and published at once (try_write): a reader
//    never sees part of it. A longer one is streamed (write): the writer publishes as it copies
//    and waits for room, and the reader, once it has the length, takes the bytes as they come.
//  - Sleeping: a side that finds nothing to do spins for a bounded while (futex.hpp's
//    spin_until), then counts itself in `*_waiters`, reads `*_seq`, re-checks and sleeps on the
//    seq word (a process-shared futex). The other side, after publishing, fences and, only if a
//    waiter is counted, bumps the seq word and wakes it. Dekker on each side (seq_cst fences):
//    either the sleeper's re-check sees the publish or the publisher sees the waiter, so no
//    wake-up is lost, and no system call is made while nobody sleeps.
//  - A writer that dies in the middle of a streamed frame would leave its reader waiting for
//    the rest forever: the streaming writer records its pid, and a reader waiting within a frame
//    checks every kDeadWriterCheck that it still lives (OSError "a writer died within a
//    message" otherwise). The ring is then broken for good (so is a pipe in that case).
// Bad bytes: a length over the limit the reader gives (a corrupted ring) is an OSError.
//
// Thread-safety: try_write/write only by the holder of the write lock, read by the holder of
// the read lock; empty() and the counters from anywhere. Throws: OSError as above; ValueError
// when a crossing does not fit (shared_memory.hpp).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "concur/deadline.hpp"
#include "concur/multiprocessing/detail/byte_buffer.hpp"
#include "concur/multiprocessing/detail/shared_memory.hpp"

namespace concur::multiprocessing::detail {

// Bytes in a queue's ring (of shared memory; its pages are touched as the ring goes round).
inline constexpr std::size_t kRingBytes = std::size_t{1} << 20;
// How often a reader waiting within a streamed frame checks that its writer lives.
inline constexpr std::chrono::milliseconds kDeadWriterCheck{100};

class ByteRing {
 public:
  // A new ring of kRingBytes.
  ByteRing();
  // No ring yet: one arrives through load().
  explicit ByteRing(std::nullptr_t) noexcept {}
  // Crossing (shared_memory.hpp's segments).
  void save(OutputArchive& ar) const;
  void load(InputArchive& ar);

  // Writes the frame of `payload` whole if it fits in the free space now; false otherwise
  // (nothing written). Never blocks.
  bool try_write(std::span<const std::byte> payload) noexcept;
  // Writes the frame of `payload`, waiting for room as the reader takes the bytes (forever, if
  // no process reads: as a full pipe).
  void write(std::span<const std::byte> payload) noexcept;
  // Reads one frame into `out` (replacing its contents); false when no frame began before the
  // deadline. A frame longer than `max_size`: OSError.
  bool read(ByteBuffer& out, std::size_t max_size, const Deadline& deadline);

  bool empty() const noexcept;
  // Whether a frame of `payload` bytes would fit in the free space now, with no streamed frame
  // under way (a hint: the answer may change at once).
  bool has_room(std::size_t payload) const noexcept;
  // The queue's item count, kept here to save a segment: a put adds 1 before it writes (and
  // -1 if it fails), a get counts the item it took; count() is the difference.
  void count_added(std::int64_t n) const noexcept;
  void count_taken() const noexcept;
  std::int64_t count() const noexcept;

  struct Shared;

 private:
  std::shared_ptr<Segment> segment_;
  Shared* shared_ = nullptr;
};

}  // namespace concur::multiprocessing::detail
