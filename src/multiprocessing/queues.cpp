// Queue, JoinableQueue and SimpleQueue between processes (concur/multiprocessing/queues.hpp).
#include "concur/multiprocessing/queues.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

#include "concur/detail/at_fork.hpp"
#include "concur/detail/event_count.hpp"
#include "concur/detail/fork_registry.hpp"
#include "concur/detail/mutex.hpp"
#include "concur/multiprocessing/detail/byte_ring.hpp"
#include "concur/multiprocessing/sharedctypes.hpp"
#include "concur/multiprocessing/synchronize.hpp"
#include "concur/threading/thread.hpp"

namespace concur::multiprocessing::detail {

namespace {

using concur::detail::EventCount;
using concur::detail::Mutex;
using concur::detail::MutexGuard;

// Feeders of queues that must be written out before this process ends (not cancelled), and
// the wait for them to finish.
std::atomic<std::int64_t> g_unflushed{0};
EventCount& flushed() {
  static auto* e = new EventCount();  // never destroyed: waited on at exit
  return *e;
}

}  // namespace

class QueueCore : public std::enable_shared_from_this<QueueCore> {
 public:
  QueueCore(std::int64_t max, bool is_joinable, bool is_simple)
      : maxsize(max > 0 ? max : 0), joinable(is_joinable), simple(is_simple) {
    concur::detail::ForkRegistry<QueueCore>::instance().add(this);
  }
  // The shared parts arrive from another process; this process's parts start empty.
  QueueCore() : ring(nullptr) { concur::detail::ForkRegistry<QueueCore>::instance().add(this); }
  ~QueueCore() { concur::detail::ForkRegistry<QueueCore>::instance().remove(this); }

  // --- shared by every process using the queue ---
  std::int64_t maxsize = 0;
  bool joinable = false;
  bool simple = false;
  ByteRing ring;  // the frames, and the item count
  Lock rlock;     // one reader of a frame at a time
  Lock wlock;     // one writer of a frame at a time
  std::optional<Semaphore> slots;              // bounded Queue: free slots
  std::optional<Condition> tasks_cond;         // JoinableQueue: guards `unfinished`
  std::optional<Value<std::int64_t>> unfinished;

  // --- this process's ---
  Mutex mutex;  // a leaf lock: guards the members below; nothing blocks under it
  std::deque<std::vector<std::byte>> buffer;   // frames' payloads waiting for the feeder
  bool feeding = false;       // a feeder thread is running
  bool closed = false;
  bool cancel_join = false;
  EventCount drained;         // buffer empty and feeder gone: join_thread() waits on it

  concur::detail::ForkLink<QueueCore> fork_link_;

  void check_open() const {
    if (closed) throw ValueError("Queue is closed");
  }

  // Writes out the buffer, oldest first; runs on the feeder thread, with a reference that keeps
  // this core alive until it is done.
  void feed(std::shared_ptr<QueueCore> self);
};

namespace {

struct QueueForkAccess {
  static void prepare() noexcept {
    concur::detail::ForkRegistry<QueueCore>::instance().lock_all(
        [](QueueCore& q) { q.mutex.lock(); });
  }
  static void parent() noexcept {
    concur::detail::ForkRegistry<QueueCore>::instance().unlock_all(
        [](QueueCore& q) { q.mutex.unlock(); });
  }
  // The child has no feeder: the buffered frames are the parent's to write.
  static void child() noexcept {
    concur::detail::ForkRegistry<QueueCore>::instance().unlock_all([](QueueCore& q) {
      q.buffer.clear();
      q.feeding = false;
      q.mutex.unlock();
    });
    g_unflushed.store(0, std::memory_order_relaxed);
  }
};

[[maybe_unused]] const bool fork_handlers_registered = concur::detail::register_at_fork(
    concur::detail::AtForkLayer::multiprocessing,
    {QueueForkAccess::prepare, QueueForkAccess::parent, QueueForkAccess::child});

// Items still buffered are written out before a normal exit (std::exit, return from main).
void flush_at_exit() noexcept { flush_queues_before_exit(); }
[[maybe_unused]] const int exit_flush_registered = std::atexit(flush_at_exit);

// The queue's locks are taken through these: an OwnerDied (a process died holding the lock,
// which is left unlocked) is retried, as the queue can go on (queues.hpp says what it costs).
bool take_until(Lock& lock, const Deadline& deadline) {
  for (;;) {
    try {
      return lock.acquire_until(deadline);
    } catch (const OwnerDied&) {
    }
  }
}
void take(Lock& lock) { (void)take_until(lock, Deadline::never()); }

// A put waits for the write lock only while the ring keeps room for its frame: the holder is
// then copying a frame of its own and soon done. A holder streaming a frame longer than the
// room (waiting for readers, perhaps for this very thread) makes has_room() false, and the put
// hands its frame to the feeder instead: waiting for the lock then could deadlock a process
// that both puts and gets. How often the room is looked at again while the lock stays busy:
constexpr std::chrono::milliseconds kDirectWriteRecheck{1};

bool take_for_direct_write(QueueCore& q, std::size_t size) {
  for (;;) {
    if (take_until(q.wlock, Deadline::after(kDirectWriteRecheck))) return true;
    if (!q.ring.has_room(size)) return false;
  }
}

void release_lock(Lock& lock) noexcept {
  try {
    lock.release();
  } catch (...) {
  }
}

}  // namespace

void flush_queues_before_exit() noexcept {
  try {
    flushed().wait_until([] { return g_unflushed.load(std::memory_order_acquire) <= 0; },
                         Deadline::never());
  } catch (...) {
  }
}

void QueueCore::feed(std::shared_ptr<QueueCore> self) {
  bool counted = false;
  for (;;) {
    std::vector<std::byte> frame;
    {
      MutexGuard g(mutex);
      if (buffer.empty()) {
        feeding = false;
        counted = !cancel_join;
        break;
      }
      frame = std::move(buffer.front());
      buffer.pop_front();
    }
    take(wlock);
    ring.write(frame);  // waits for room as readers take bytes; throws nothing
    release_lock(wlock);
  }
  drained.notify_all();
  if (counted && g_unflushed.fetch_sub(1, std::memory_order_acq_rel) == 1) flushed().notify_all();
  self.reset();  // may destroy this core (its last handle is gone): nothing after this
}

std::shared_ptr<QueueCore> make_queue_core(std::int64_t maxsize, bool joinable, bool simple) {
  auto core = std::make_shared<QueueCore>(maxsize, joinable, simple);
  if (!simple && core->maxsize > 0)
    core->slots.emplace(
        static_cast<int>(std::min<std::int64_t>(core->maxsize, std::numeric_limits<int>::max())));
  if (joinable) {
    core->tasks_cond.emplace();
    core->unfinished.emplace(0);
  }
  return core;
}

ByteBuffer& queue_item_buffer() noexcept {
  thread_local ByteBuffer buffer;
  return buffer;
}

void queue_put(QueueCore& q, ByteBuffer& frame, const Deadline& deadline) {
  q.check_open();
  if (q.simple) {
    take(q.wlock);
    try {
      q.ring.write(frame.view());
    } catch (...) {
      release_lock(q.wlock);
      trim_buffer(frame);
      throw;
    }
    release_lock(q.wlock);
    trim_buffer(frame);
    return;
  }
  if (q.slots && !q.slots->acquire_until(deadline)) throw queue::Full();
  // The item counts from here: a getter may take it as soon as it is written.
  q.ring.count_added(1);
  if (q.joinable) {
    std::lock_guard g(*q.tasks_cond);
    q.unfinished->value() += 1;
  }
  bool start_feeder = false;
  try {
    bool written = false;
    // Written now when the ring has room for it and nothing of this process waits before it
    // (buffered, or popped by the feeder and not yet written). The write lock is then held
    // only for a copy by other writers (a streaming writer is seen in has_room()).
    if (q.ring.has_room(frame.size()) && take_for_direct_write(q, frame.size())) {
      try {
        MutexGuard g(q.mutex);
        if (q.buffer.empty() && !q.feeding) written = q.ring.try_write(frame.view());
      } catch (...) {
        release_lock(q.wlock);
        throw;
      }
      release_lock(q.wlock);
    }
    if (!written) {
      MutexGuard g(q.mutex);
      q.buffer.emplace_back(frame.data(), frame.data() + frame.size());
      if (!q.feeding) {
        q.feeding = true;
        start_feeder = true;
        if (!q.cancel_join) g_unflushed.fetch_add(1, std::memory_order_acq_rel);
      }
    }
  } catch (...) {
    q.ring.count_added(-1);
    if (q.slots) q.slots->release();
    if (q.joinable) {
      std::lock_guard g(*q.tasks_cond);
      q.unfinished->value() -= 1;
    }
    trim_buffer(frame);
    throw;
  }
  trim_buffer(frame);
  if (start_feeder) {
    auto self = q.shared_from_this();
    try {
      threading::Thread feeder(
          threading::ThreadOptions{.name = "QueueFeederThread", .daemon = true},
          [self] { self->feed(self); });
      feeder.start();
    } catch (...) {
      // No thread to be had: this put writes the buffer out itself (blocking while the ring
      // is full) rather than leave it unwritten.
      self->feed(self);
    }
  }
}

void queue_get(QueueCore& q, ByteBuffer& out, const Deadline& deadline) {
  q.check_open();
  if (!take_until(q.rlock, deadline)) throw queue::Empty();
  try {
    if (!q.ring.read(out, kDefaultMaxMessageSize, deadline)) throw queue::Empty();
  } catch (...) {
    release_lock(q.rlock);
    throw;
  }
  release_lock(q.rlock);
  if (q.simple) return;
  q.ring.count_taken();
  if (q.slots) q.slots->release();
}

std::int64_t queue_qsize(const QueueCore& q) {
  if (q.simple) throw ValueError("SimpleQueue has no qsize()");
  return std::max<std::int64_t>(0, q.ring.count());
}

std::int64_t queue_maxsize(const QueueCore& q) noexcept { return q.maxsize; }

bool queue_empty(const QueueCore& q) {
  if (q.simple) return q.ring.empty();
  return queue_qsize(q) == 0;
}

void queue_close(QueueCore& q) noexcept {
  MutexGuard g(q.mutex);
  q.closed = true;
}

void queue_join_thread(QueueCore& q) {
  {
    MutexGuard g(q.mutex);
    if (!q.closed) throw ValueError("Queue.join_thread() before close()");
  }
  q.drained.wait_until(
      [&] {
        MutexGuard g(q.mutex);
        return !q.feeding;
      },
      Deadline::never());
}

void queue_cancel_join_thread(QueueCore& q) noexcept {
  MutexGuard g(q.mutex);
  if (q.cancel_join) return;
  q.cancel_join = true;
  if (q.feeding && g_unflushed.fetch_sub(1, std::memory_order_acq_rel) == 1)
    flushed().notify_all();
}

void queue_task_done(QueueCore& q) {
  if (!q.joinable) throw ValueError("task_done() on a queue that is not a JoinableQueue");
  std::lock_guard g(*q.tasks_cond);
  std::int64_t& left = q.unfinished->value();
  if (left <= 0) throw ValueError("task_done() called too many times");
  if (--left == 0) q.tasks_cond->notify_all();
}

void queue_join(QueueCore& q) {
  if (!q.joinable) throw ValueError("join() on a queue that is not a JoinableQueue");
  std::lock_guard g(*q.tasks_cond);
  while (q.unfinished->value() != 0) q.tasks_cond->wait();
}

void queue_save(OutputArchive& ar, const std::shared_ptr<QueueCore>& core) {
  if (ar.fds() == nullptr)
    throw ValueError("a queue crosses to another process only as a Process or Pool argument; "
                     "it cannot be sent as a value");
  const QueueCore& q = *core;
  ar(q.maxsize, q.joinable, q.simple, q.rlock, q.wlock, q.slots, q.tasks_cond, q.unfinished);
  q.ring.save(ar);
}

std::shared_ptr<QueueCore> queue_load(InputArchive& ar) {
  auto core = std::make_shared<QueueCore>();
  QueueCore& q = *core;
  ar(q.maxsize, q.joinable, q.simple, q.rlock, q.wlock, q.slots, q.tasks_cond, q.unfinished);
  q.ring.load(ar);
  if (q.maxsize < 0 || (q.maxsize > 0 && !q.simple && !q.slots) ||
      (q.joinable && (!q.tasks_cond || !q.unfinished)))
    ar.fail("a queue's parts do not fit together");
  return core;
}

}  // namespace concur::multiprocessing::detail
