// ByteRing (concur/multiprocessing/detail/byte_ring.hpp).
#include "concur/multiprocessing/detail/byte_ring.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "concur/detail/futex.hpp"
#include "concur/errors.hpp"

namespace concur::multiprocessing::detail {

using concur::detail::futex_wait_shared;
using concur::detail::futex_wake_shared;

// The ring's header, at the start of its segment's payload; the bytes follow. One cache line
// per writer of it, so that a put and a get move as few lines between the processes as can be:
//  - each side keeps its own view of the other's position (head_seen, tail_seen) and reads the
//    other's line only when that view says "full" or "empty": with the ring running, a side
//    reads the other's position once per many frames, not once per frame;
//  - the sleep words have lines of their own: a publisher reads *_waiters after every publish,
//    and that line stays in its cache, shared, until the other side really goes to sleep;
//  - the item count is two counters, one per side, each changed by its own side only (one
//    counter changed by both bounced between the processes twice per item).
// Measured, mp_bench's queue row (1P1C ints): see the README's figures.
struct ByteRing::Shared {
  // The writer's (the holder of the queue's write lock).
  alignas(64) std::atomic<std::uint64_t> tail;  // bytes written
  std::atomic<std::uint64_t> head_seen;         // head as the writer last read it (<= head)
  std::atomic<std::int32_t> writer_pid;         // streaming writer, 0 when none
  // The reader's (the holder of the read lock).
  alignas(64) std::atomic<std::uint64_t> head;  // bytes read
  std::atomic<std::uint64_t> tail_seen;         // tail as the reader last read it (<= tail)
  // A reader asleep for data, and a writer asleep for space.
  alignas(64) std::atomic<std::uint32_t> data_seq;  // bumped by the writer for a reader asleep
  std::atomic<std::uint32_t> data_waiters;
  alignas(64) std::atomic<std::uint32_t> space_seq;  // bumped by the reader for a writer asleep
  std::atomic<std::uint32_t> space_waiters;
  // The queue's item count (queues.cpp): puts counted, gets counted.
  alignas(64) std::atomic<std::int64_t> added;
  alignas(64) std::atomic<std::int64_t> taken;

  std::byte* bytes() noexcept { return reinterpret_cast<std::byte*>(this) + kBytesOffset; }
  static constexpr std::size_t kBytesOffset = 512;
};
static_assert(sizeof(ByteRing::Shared) <= ByteRing::Shared::kBytesOffset);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

namespace {

constexpr std::size_t kMask = kRingBytes - 1;
static_assert((kRingBytes & kMask) == 0, "kRingBytes must be a power of two");
constexpr std::size_t kPayloadBytes = ByteRing::Shared::kBytesOffset + kRingBytes;

// Copies into the ring at byte position `pos` (mod the ring), wrapping around.
void copy_in(ByteRing::Shared& s, std::uint64_t pos, const std::byte* from, std::size_t n) noexcept {
  const std::size_t at = static_cast<std::size_t>(pos) & kMask;
  const std::size_t first = std::min(n, kRingBytes - at);
  std::memcpy(s.bytes() + at, from, first);
  if (first < n) std::memcpy(s.bytes(), from + first, n - first);
}
void copy_out(ByteRing::Shared& s, std::uint64_t pos, std::byte* to, std::size_t n) noexcept {
  const std::size_t at = static_cast<std::size_t>(pos) & kMask;
  const std::size_t first = std::min(n, kRingBytes - at);
  std::memcpy(to, s.bytes() + at, first);
  if (first < n) std::memcpy(to + first, s.bytes(), n - first);
}

// The publishing side: after its release store, wake the other side if it sleeps (Dekker, see
// the header).
void wake_if_waiting(std::atomic<std::uint32_t>& seq, std::atomic<std::uint32_t>& waiters) noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (waiters.load(std::memory_order_relaxed) == 0) return;
  seq.fetch_add(1, std::memory_order_release);
  futex_wake_shared(seq, 1);
}

// The other side's position, read from its line, with our view of it brought up to date (a
// view is only ever set to a position read, so it never runs ahead of it). acquire: for the
// writer, the reader's copies out of the bytes it is about to overwrite are done; for the
// reader, the bytes before the tail are written. A view read by an earlier holder of the same
// side came with that guarantee, passed on by the side's lock.
std::uint64_t read_head(ByteRing::Shared& s) noexcept {
  const std::uint64_t head = s.head.load(std::memory_order_acquire);
  s.head_seen.store(head, std::memory_order_relaxed);
  return head;
}
std::uint64_t read_tail(ByteRing::Shared& s) noexcept {
  const std::uint64_t tail = s.tail.load(std::memory_order_acquire);
  s.tail_seen.store(tail, std::memory_order_relaxed);
  return tail;
}

// ready() for the spin phase: looks after 1, 2, 4 ... calls, up to kRingLongestBackoff calls
// between looks (spin_until calls it once per pause), and answers false in between. Only for the
// spin: the re-check before a sleep must look (Dekker).
template <class Ready>
auto looking_with_backoff(Ready& ready) {
  return [&ready, calls = 0, gap = 1]() mutable {
    if (++calls < gap) return false;
    calls = 0;
    gap = std::min(gap * 2, concur::detail::tuning::kRingLongestBackoff);
    return ready();
  };
}

// The waiting side: until ready() or the deadline (then ready()'s last answer).
template <class Ready>
bool wait_for(std::atomic<std::uint32_t>& seq, std::atomic<std::uint32_t>& waiters, Ready ready,
              const Deadline& deadline) {
  if (ready()) return true;
  if (deadline.is_immediate()) return false;
  if (concur::detail::spin_until(looking_with_backoff(ready))) return true;
  for (;;) {
    waiters.fetch_add(1, std::memory_order_seq_cst);
    const std::uint32_t seen = seq.load(std::memory_order_acquire);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (ready()) {
      waiters.fetch_sub(1, std::memory_order_relaxed);
      return true;
    }
    const bool in_time = futex_wait_shared(seq, seen, deadline);
    waiters.fetch_sub(1, std::memory_order_relaxed);
    if (ready()) return true;
    if (!in_time) return false;
  }
}

// Whether process `pid` has ended: gone, or a zombie its parent has not reaped yet.
bool process_ended(pid_t pid) noexcept {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  std::FILE* f = std::fopen(path, "re");
  if (f == nullptr) return false;
  char line[512];
  const std::size_t n = std::fread(line, 1, sizeof line - 1, f);
  std::fclose(f);
  line[n] = '\0';
  const char* close = std::strrchr(line, ')');  // the name may hold anything but ends there
  return close != nullptr && close[1] == ' ' && (close[2] == 'Z' || close[2] == 'X');
}

[[noreturn]] void throw_broken(const std::string& why) {
  throw OSError(why, {EBADMSG, std::generic_category()});
}

}  // namespace

ByteRing::ByteRing() {
  segment_ = Segment::create(SharedKind::byte_ring, kRingBytes, kPayloadBytes);
  shared_ = static_cast<Shared*>(segment_->payload());  // zero-filled: an empty ring
}

void ByteRing::save(OutputArchive& ar) const { save_segment(ar, *segment_, "a queue's channel"); }

void ByteRing::load(InputArchive& ar) {
  segment_ = load_segment(ar, SharedKind::byte_ring, kRingBytes, "a queue's channel");
  if (segment_->payload_size() != kPayloadBytes) ar.fail("a queue's channel has the wrong size");
  shared_ = static_cast<Shared*>(segment_->payload());
}

bool ByteRing::try_write(std::span<const std::byte> payload) noexcept {
  Shared& s = *shared_;
  const std::uint64_t size = payload.size();
  const std::uint64_t tail = s.tail.load(std::memory_order_relaxed);  // ours
  const std::uint64_t used_as_seen = tail - s.head_seen.load(std::memory_order_relaxed);
  if ((used_as_seen > kRingBytes || sizeof size + size > kRingBytes - used_as_seen) &&
      sizeof size + size > kRingBytes - (tail - read_head(s)))
    return false;
  copy_in(s, tail, reinterpret_cast<const std::byte*>(&size), sizeof size);
  copy_in(s, tail + sizeof size, payload.data(), payload.size());
  // release: the frame's bytes before the tail that makes them the reader's.
  s.tail.store(tail + sizeof size + size, std::memory_order_release);
  wake_if_waiting(s.data_seq, s.data_waiters);
  return true;
}

void ByteRing::write(std::span<const std::byte> payload) noexcept {
  if (try_write(payload)) return;
  Shared& s = *shared_;
  s.writer_pid.store(static_cast<std::int32_t>(::getpid()), std::memory_order_relaxed);
  const std::uint64_t size = payload.size();
  std::byte header[sizeof size];
  std::memcpy(header, &size, sizeof size);
  auto stream = [&](const std::byte* from, std::size_t n) {
    while (n > 0) {
      const std::uint64_t tail = s.tail.load(std::memory_order_relaxed);
      std::uint64_t free = 0;
      wait_for(
          s.space_seq, s.space_waiters,
          [&] {
            free = kRingBytes - (tail - read_head(s));
            return free > 0;
          },
          Deadline::never());
      const std::size_t chunk = static_cast<std::size_t>(std::min<std::uint64_t>(free, n));
      copy_in(s, tail, from, chunk);
      s.tail.store(tail + chunk, std::memory_order_release);
      wake_if_waiting(s.data_seq, s.data_waiters);
      from += chunk;
      n -= chunk;
    }
  };
  stream(header, sizeof header);
  stream(payload.data(), payload.size());
  s.writer_pid.store(0, std::memory_order_relaxed);
}

bool ByteRing::read(ByteBuffer& out, std::size_t max_size, const Deadline& deadline) {
  Shared& s = *shared_;
  std::uint64_t head = s.head.load(std::memory_order_relaxed);  // ours
  std::uint64_t avail = 0;
  // Whether `want` bytes wait, looking at the writer's line only when our view says no.
  auto available = [&](std::uint64_t want) {
    return [&, want] {
      avail = s.tail_seen.load(std::memory_order_relaxed) - head;
      if (avail < want) avail = read_tail(s) - head;
      return avail >= want;
    };
  };
  std::uint64_t size = 0;
  if (!wait_for(s.data_seq, s.data_waiters, available(sizeof size), deadline)) return false;
  copy_out(s, head, reinterpret_cast<std::byte*>(&size), sizeof size);
  if (size > max_size)
    throw_broken("a queue's channel holds a frame of " + std::to_string(size) +
                 " bytes, over the limit of " + std::to_string(max_size) + " (corrupted)");
  out.clear();
  out.extend(static_cast<std::size_t>(size));
  head += sizeof size;
  std::size_t done = 0;
  while (done < size) {
    std::uint64_t have = available(1)() ? avail : 0;
    if (have == 0) {
      // Within a streamed frame: its writer is copying the rest, or died doing so.
      s.head.store(head, std::memory_order_release);
      wake_if_waiting(s.space_seq, s.space_waiters);
      for (;;) {
        if (wait_for(s.data_seq, s.data_waiters, available(1),
                     Deadline::after(kDeadWriterCheck)))
          break;
        const pid_t writer = s.writer_pid.load(std::memory_order_relaxed);
        if (writer != 0 && process_ended(writer))
          throw_broken("a writer died within a message on a queue's channel");
      }
      have = avail;
    }
    const std::size_t chunk = static_cast<std::size_t>(std::min<std::uint64_t>(have, size - done));
    copy_out(s, head, out.data() + done, chunk);
    head += chunk;
    done += chunk;
  }
  // release: our copies out are done before the writer may reuse the bytes.
  s.head.store(head, std::memory_order_release);
  wake_if_waiting(s.space_seq, s.space_waiters);
  return true;
}

bool ByteRing::empty() const noexcept {
  return shared_->tail.load(std::memory_order_acquire) ==
         shared_->head.load(std::memory_order_acquire);
}

bool ByteRing::has_room(std::size_t payload) const noexcept {
  const Shared& s = *shared_;
  if (s.writer_pid.load(std::memory_order_relaxed) != 0) return false;
  const std::uint64_t tail = s.tail.load(std::memory_order_acquire);
  auto fits = [&](std::uint64_t head) {
    const std::uint64_t used = tail - std::min(head, tail);
    return sizeof(std::uint64_t) + payload <= kRingBytes - std::min<std::uint64_t>(used, kRingBytes);
  };
  // The writers' view of head first (on the line we just read); the reader's line only if
  // that view says no.
  return fits(s.head_seen.load(std::memory_order_relaxed)) ||
         fits(s.head.load(std::memory_order_acquire));
}

void ByteRing::count_added(std::int64_t n) const noexcept {
  shared_->added.fetch_add(n, std::memory_order_relaxed);
}

void ByteRing::count_taken() const noexcept {
  shared_->taken.fetch_add(1, std::memory_order_relaxed);
}

std::int64_t ByteRing::count() const noexcept {
  // taken first: an item is added before it can be taken, so this is never below the truth
  // at the moment `taken` was read (queues.cpp clamps the transient negatives of failed puts).
  const std::int64_t taken = shared_->taken.load(std::memory_order_relaxed);
  return shared_->added.load(std::memory_order_relaxed) - taken;
}

}  // namespace concur::multiprocessing::detail
