// concur/multiprocessing/queues.hpp — Python's multiprocessing.Queue, JoinableQueue and
// SimpleQueue (API.md §6.2): FIFO queues between processes (and threads).
//
//   mp::Queue<T> q;  mp::Queue<T> q(maxsize);          // maxsize <= 0: unbounded
//   q.put(x);  q.put(x, 1s);  q.put(x, false);  q.put_nowait(x);    // cq::Full when bounded
//   T v = q.get();  q.get(1s);  q.get(false);  q.get_nowait();      // cq::Empty
//   q.qsize();  q.empty();  q.full();  q.close();  q.join_thread();  q.cancel_join_thread();
//   mp::JoinableQueue<T> jq;  jq.task_done();  jq.join();
//   mp::SimpleQueue<T> sq;  sq.put(x);  sq.get();  sq.empty();  sq.close();
//
// What they are. Items are serialized (serialization.hpp: T must be mp::Serializable) and
// travel as frames through a ring of bytes in shared memory (detail/byte_ring.hpp) that every
// process using the queue maps; a cross-process lock on each side keeps frames whole among many
// writers and many readers (as CPython's _rlock and _wlock around its pipe). An item costs a
// copy in and a copy out, and a system call only when the other side sleeps. The item count
// and, for a bounded queue, the free slots (an mp::Semaphore) are shared too, so qsize(),
// full() and a bounded put are exact across processes.
//
// Queue::put never waits for room in the channel: a frame that fits in the ring's free space
// now (while nothing of this process waits before it) is written by put() itself, after
// waiting, if need be, for another writer's copy to end; any other is kept in this process's
// buffer and written, in order, by the queue's feeder thread (CPython's QueueFeederThread),
// started when needed and gone once the buffer is empty.
// **A put is never lost** (CPython's feeder can drop items: bpo-30414, gh-73983): an item is
// serialized by put() itself, so an error surfaces there and not in the feeder, and every
// item still buffered is written out before the process ends: at a normal exit (std::exit,
// return from main), and when an mp::Process child ends, whatever its start method. An item is
// lost only with the process itself: a kill, a crash, or _exit() called directly — and then
// only while buffered, i.e. while the ring (1 MiB) is full.
// cancel_join_thread() lets this process end without writing out its buffer (as Python).
// SimpleQueue has no buffer: its put writes the frame itself and waits while the ring is full.
//
// Semantics (CPython 3.13's Lib/multiprocessing/queues.py):
// - put(x, timeout) waits at most timeout for a free slot of a bounded queue (cq::Full);
//   put(x, false) and put_nowait(x) do not wait. An unbounded queue's put never waits.
// - get(timeout) waits at most timeout for an item (cq::Empty); get(false) and get_nowait()
//   do not wait. Items put by one thread are got in the order they were put; items of
//   different processes interleave.
// - qsize() counts the items put and not yet got, in every process (buffered ones included);
//   empty() is qsize() == 0 and full() is qsize() >= maxsize, both instantly stale.
// - close(): this process puts and gets no more (both throw concur::ValueError, for every copy
//   of the handle in this process); its buffered items are still written out. join_thread()
//   (after close(), else ValueError) waits until they are. Other processes are not affected.
// - JoinableQueue counts unfinished tasks: put adds one, task_done() removes one (ValueError
//   when called more often than put), join() waits until none is left, across processes.
// Handles. Copies of a queue (and the copy a forked child inherits) are the same queue; a queue
// crosses to another process as a Process (or Pool initializer) argument under every start
// method. Sending a queue through a Connection or another queue: ValueError.
// Fork: a forked child starts with an empty buffer (the items buffered in the parent are the
// parent's to write) and no feeder thread.
// Thread-safety: every member may be called from any thread of any process concurrently, except
// that close() must not race with another call on the queue in this process.
// Happens-before: what a thread did before put(x) happens before what the thread whose get()
// returned x does after it (the ring's release/acquire pair orders them).
// Throws: cq::Full, cq::Empty, ValueError as above, and ValueError when an item fails to
// serialize (nothing is queued then) or a frame fails to decode as T (the item is consumed);
// a process that dies holding one of the queue's locks does not block the others (its lock's
// OwnerDied is absorbed), but a frame it was writing or reading may be cut short, and the
// channel is then broken: gets fail with concur::OSError;
// concur::OSError when a system call fails; std::bad_alloc.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

#include "concur/deadline.hpp"
#include "concur/detail/acquire_forms.hpp"
#include "concur/errors.hpp"
#include "concur/multiprocessing/connection.hpp"
#include "concur/multiprocessing/serialization.hpp"
#include "concur/queue/errors.hpp"

namespace concur::multiprocessing {

namespace detail {

// A queue's state in one process: the shared channel and counters, and this process's buffer
// and feeder (src/multiprocessing/queues.cpp). Items are frames of serialized bytes here; the
// typed handles below do the serializing.
class QueueCore;
std::shared_ptr<QueueCore> make_queue_core(std::int64_t maxsize, bool joinable, bool simple);

// Serializes an item into this thread's buffer (after the room for a frame's header), then
// queues that frame; cq::Full when a bounded queue stays full until the deadline.
void queue_put(QueueCore& core, detail::ByteBuffer& frame, const Deadline& deadline);
// One frame into `out` (its bytes replace out's contents); cq::Empty at the deadline.
void queue_get(QueueCore& core, detail::ByteBuffer& out, const Deadline& deadline);
std::int64_t queue_qsize(const QueueCore& core);
std::int64_t queue_maxsize(const QueueCore& core) noexcept;
bool queue_empty(const QueueCore& core);
void queue_close(QueueCore& core) noexcept;
void queue_join_thread(QueueCore& core);
void queue_cancel_join_thread(QueueCore& core) noexcept;
void queue_task_done(QueueCore& core);
void queue_join(QueueCore& core);
void queue_save(OutputArchive& ar, const std::shared_ptr<QueueCore>& core);
std::shared_ptr<QueueCore> queue_load(InputArchive& ar);

// Waits until every queue's buffered items were written out (not those of queues whose
// cancel_join_thread() was called). Runs at normal exit, and must run before an mp::Process
// child ends with _exit().
void flush_queues_before_exit() noexcept;

// This thread's buffer for serializing items (reused from one put to the next).
detail::ByteBuffer& queue_item_buffer() noexcept;

}  // namespace detail

// The typed handle shared by Queue, JoinableQueue and SimpleQueue.
template <class T>
class BasicQueue {
  static_assert(!std::is_reference_v<T> && !std::is_const_v<T>,
                "mp::Queue<T>: T is a plain value type");

 public:
  // --- putting ---
  void put(const T& item) { put_until(item, Deadline::never()); }
  void put(const T& item, bool block) { put_until(item, block_deadline(block)); }
  template <class Rep, class Period>
  void put(const T& item, std::chrono::duration<Rep, Period> timeout) {
    put_until(item, Deadline::after(timeout));
  }
  template <class Rep, class Period>
  void put(const T& item, bool block, std::chrono::duration<Rep, Period> timeout) {
    put_until(item, ::concur::detail::blocking_deadline(block, timeout));
  }
  void put_nowait(const T& item) { put_until(item, Deadline::immediate()); }

  // --- getting ---
  T get() { return get_until(Deadline::never()); }
  T get(bool block) { return get_until(block_deadline(block)); }
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) {
    return get_until(Deadline::after(timeout));
  }
  template <class Rep, class Period>
  T get(bool block, std::chrono::duration<Rep, Period> timeout) {
    return get_until(::concur::detail::blocking_deadline(block, timeout));
  }
  T get_nowait() { return get_until(Deadline::immediate()); }

  // --- state ---
  bool empty() const { return detail::queue_empty(*core_); }
  void close() noexcept { detail::queue_close(*core_); }

  void put_until(const T& item, const Deadline& deadline) {
    detail::ByteBuffer& frame = detail::queue_item_buffer();
    frame.clear();
    serialize_into(frame, item);
    detail::queue_put(*core_, frame, deadline);
  }

  T get_until(const Deadline& deadline) {
    detail::ByteBuffer& frame = detail::recv_buffer();
    detail::queue_get(*core_, frame, deadline);
    T value{};
    try {
      deserialize_into(frame.view(), value);
    } catch (...) {
      detail::trim_buffer(frame);
      throw;
    }
    detail::trim_buffer(frame);
    return value;
  }

  // Crossing to another process as an argument (detail/fd_table.hpp).
  void save(OutputArchive& ar) const { detail::queue_save(ar, core_); }
  void load(InputArchive& ar) { core_ = detail::queue_load(ar); }

 protected:
  explicit BasicQueue(std::shared_ptr<detail::QueueCore> core) noexcept : core_(std::move(core)) {}
  static Deadline block_deadline(bool block) noexcept {
    return block ? Deadline::never() : Deadline::immediate();
  }
  std::shared_ptr<detail::QueueCore> core_;
};

// Python's multiprocessing.Queue.
template <class T>
class Queue : public BasicQueue<T> {
 public:
  Queue() : Queue(0) {}
  explicit Queue(std::int64_t maxsize)
      : BasicQueue<T>(detail::make_queue_core(maxsize, /*joinable=*/false, /*simple=*/false)) {}

  std::int64_t qsize() const { return detail::queue_qsize(*this->core_); }
  bool full() const {
    const std::int64_t max = detail::queue_maxsize(*this->core_);
    return max > 0 && qsize() >= max;
  }
  void join_thread() { detail::queue_join_thread(*this->core_); }
  void cancel_join_thread() noexcept { detail::queue_cancel_join_thread(*this->core_); }

 protected:
  struct JoinableTag {};
  Queue(JoinableTag, std::int64_t maxsize)
      : BasicQueue<T>(detail::make_queue_core(maxsize, /*joinable=*/true, /*simple=*/false)) {}
};

// Python's multiprocessing.JoinableQueue: a Queue that counts unfinished tasks.
template <class T>
class JoinableQueue : public Queue<T> {
 public:
  JoinableQueue() : Queue<T>(typename Queue<T>::JoinableTag{}, 0) {}
  explicit JoinableQueue(std::int64_t maxsize)
      : Queue<T>(typename Queue<T>::JoinableTag{}, maxsize) {}

  // One task got from the queue is finished; ValueError when more were finished than put.
  void task_done() { detail::queue_task_done(*this->core_); }
  // Blocks until every item put (by any process) was got and marked done.
  void join() { detail::queue_join(*this->core_); }
};

// Python's multiprocessing.SimpleQueue: unbounded; put() writes the item itself.
template <class T>
class SimpleQueue : public BasicQueue<T> {
 public:
  SimpleQueue()
      : BasicQueue<T>(detail::make_queue_core(0, /*joinable=*/false, /*simple=*/true)) {}
};

}  // namespace concur::multiprocessing
