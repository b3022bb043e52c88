// concur/multiprocessing/synchronize.hpp — Python's multiprocessing.synchronize: locks, a
// condition, a semaphore, an event and a barrier shared between processes.
//
//   namespace mp = concur::multiprocessing;
//   mp::Lock l;  mp::RLock r;  mp::Semaphore s(2);  mp::BoundedSemaphore b(2);
//   mp::Event e;  mp::Condition c;  mp::Condition c2(l);  mp::Barrier bar(3);
//   l.acquire();  bool ok = l.acquire(false);  ok = l.acquire(50ms);  l.release();
//   { std::lock_guard g(l); ... }           // every lock kind is Lockable / TimedLockable
//   mp::Process p(worker, l, e);            // handles cross as Process arguments
//
// The call forms are threading's (API.md §2; threading/*.hpp), with the same semantics, across
// threads *and* processes. Each object lives in its own shared segment
// (detail/shared_memory.hpp), on process-shared futexes: a waiter spins for a bounded few
// microseconds, then sleeps in the kernel; every timed wait is on a concur::Deadline
// (steady_clock; a zero or negative timeout tries once and never blocks).
//
// Handles. Every class here is a copyable handle: a copy refers to the same shared object (a
// moved-from handle too: moving copies). The object lives as long as some handle to it lives in
// some process. A handle crosses to another process as a Process (or Pool initializer)
// argument under every start method: under fork the child inherits the mapping; under spawn and
// forkserver its descriptor travels beside the arguments (detail/fd_table.hpp). Sending one
// through a Connection or mp::serialize throws ValueError (it cannot cross as plain bytes).
// A default-constructed handle makes a new object (as Python's constructors do).
//
// Dead owners (mp::OwnerDied, errors.hpp). A process — or a thread — that ends holding a Lock,
// an RLock, a Condition's lock, or the lock of a Value or an Array does not deadlock the others:
// the first acquire after the death (a waiter already blocked is woken for it) throws
// mp::OwnerDied and leaves the lock *unlocked* and usable, so a std::lock_guard whose
// constructor threw holds nothing; later acquires work normally (between the death and that
// acquire, locked() already says false: the kernel freed the word). Condition::wait*() is the
// exception to "unlocked": its caller holds the lock by contract, so a wait that finds the lock's
// owner died takes the lock back and throws OwnerDied holding it (the caller's guard releases
// it). How it works, and its one limit: detail/robust_mutex.hpp. In short: mp::Lock is not
// owner-bound (any thread of any process may release it, as in Python); a holder is protected
// through the robust list of the thread that *acquired* it, and a lock released by another
// thread is, until that acquiring thread next touches an mp lock or ends, held unprotected by
// its next holders. A Semaphore unit has no owner (any process releases it, a unit may be
// released by a process that never took one), so nothing can tell a unit held by a dead process
// from one that was simply never given back: a Semaphore does not detect deaths (as CPython's
// SemLock) — use a Lock per resource where a death must be survived. A Barrier whose internal
// lock's owner died mid-update breaks (BrokenBarrierError), as a barrier that cannot be trusted.
//
// Thread-safety: every member of every class may be called concurrently from any thread of any
// process holding a handle. Happens-before: as threading's — a release (of a Lock, RLock,
// Semaphore unit, Condition's lock) happens before the acquire that takes what it released
// returns; set() before the wait() it ends; everything each party did before Barrier::wait()
// before every party's return from that round. Snapshots (locked(), value(), n_waiting(),
// broken(), is_set() false) order nothing.
// Throws: as threading's (RuntimeError for releasing an unheld lock or waiting/notifying
// without the lock; ValueError for acquire(false, timeout), a negative Semaphore value, a
// BoundedSemaphore released too often; threading::BrokenBarrierError); mp::OwnerDied as above;
// OSError when the system refuses memory or descriptors for a new object.
// Undefined: using a handle whose process has unmapped the object (it cannot: the handle keeps
// it mapped).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>

#include "concur/deadline.hpp"
#include "concur/detail/acquire_forms.hpp"
#include "concur/errors.hpp"
#include "concur/multiprocessing/detail/robust_mutex.hpp"
#include "concur/multiprocessing/detail/shared_memory.hpp"
#include "concur/multiprocessing/errors.hpp"
#include "concur/multiprocessing/serialization.hpp"
#include "concur/threading/barrier.hpp"  // threading::BrokenBarrierError

namespace concur::multiprocessing {

using BrokenBarrierError = threading::BrokenBarrierError;
class Condition;

namespace detail {

[[noreturn]] void throw_owner_died();

inline bool taken_or_throw(Taken t) {
  if (t == Taken::yes) [[likely]] return true;
  if (t == Taken::timed_out) return false;
  throw_owner_died();
}

// RLock semantics on a robust word (RLock, and the locks of Value and Array).
inline bool rlock_acquire(RobustWord& w, const Deadline& deadline) {
  if (held_by_me(w)) {
    ++w.depth;
    return true;
  }
  if (!taken_or_throw(lock(w, deadline))) return false;
  w.depth = 1;
  return true;
}
void rlock_release(RobustWord& w);  // RuntimeError unless the caller holds it

// What every handle holds: its segment and where its state lives in it.
template <class State>
struct Handle {
  std::shared_ptr<Segment> segment;
  State* state = nullptr;

  Handle() = default;
  Handle(std::shared_ptr<Segment> s, State* p) : segment(std::move(s)), state(p) {}
  static Handle make(SharedKind kind, std::size_t size = sizeof(State), std::uint64_t tag = 0) {
    auto s = Segment::create(kind, tag, size);
    auto* p = ::new (s->payload()) State();  // on the kernel's zeroes: the state's initial values
    return Handle(std::move(s), p);
  }
};

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Lock — multiprocessing.Lock: not re-entrant, not owner-bound (see threading/lock.hpp).
// ---------------------------------------------------------------------------------------------
class Lock : public concur::detail::AcquireForms<Lock> {
 public:
  Lock();
  Lock(const Lock&) = default;
  Lock& operator=(const Lock&) = default;

  // acquire() in all its forms, lock(), try_lock(), try_lock_for/until: see AcquireForms.
  // OwnerDied as in the header comment.
  bool acquire_until(const Deadline& deadline) {
    return detail::taken_or_throw(detail::lock(*h_.state, deadline));
  }
  // RuntimeError when it is not locked. Any thread of any process may release it.
  void release() {
    if (!detail::unlock(*h_.state)) [[unlikely]] throw_unlocked();
  }
  [[nodiscard]] bool locked() const noexcept { return detail::is_locked(*h_.state); }

 private:
  [[noreturn]] static void throw_unlocked();
  friend class Condition;
  friend void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const Lock& l);
  friend void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, Lock& l);
  detail::Handle<detail::RobustWord> h_;
};

// ---------------------------------------------------------------------------------------------
// RLock — multiprocessing.RLock: re-entrant, owned by one thread of one process.
// ---------------------------------------------------------------------------------------------
class RLock : public concur::detail::AcquireForms<RLock> {
 public:
  RLock();
  RLock(const RLock&) = default;
  RLock& operator=(const RLock&) = default;

  bool acquire_until(const Deadline& deadline) { return detail::rlock_acquire(*h_.state, deadline); }
  // RuntimeError when the calling thread does not hold it.
  void release() { detail::rlock_release(*h_.state); }
  [[nodiscard]] bool locked() const noexcept { return detail::is_locked(*h_.state); }
  // True when the calling thread holds it (Python's private _is_mine()).
  [[nodiscard]] bool is_owned() const noexcept { return detail::held_by_me(*h_.state); }

 private:
  friend class Condition;
  template <class T>
  friend class Value;
  template <class T>
  friend class Array;
  friend void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const RLock& l);
  friend void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, RLock& l);
  friend void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const Condition& c);
  friend void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, Condition& c);
  // A handle to an RLock that lives inside another object's segment (a Value's, an Array's,
  // a Condition's own).
  RLock(std::shared_ptr<detail::Segment> s, detail::RobustWord* w) : h_(std::move(s), w) {}
  explicit RLock(std::nullptr_t) noexcept {}
  detail::Handle<detail::RobustWord> h_;
};

// ---------------------------------------------------------------------------------------------
// Semaphore, BoundedSemaphore — multiprocessing.Semaphore / BoundedSemaphore.
// ---------------------------------------------------------------------------------------------
namespace detail {
struct SemaphoreState {
  std::atomic<std::uint32_t> value{0};     // free units; the futex word sleepers wait on
  std::atomic<std::uint32_t> sleepers{0};  // threads between "no unit" and their futex wait
  std::uint32_t bound = 0;                 // BoundedSemaphore's limit; 0xffffffff: unbounded
};
}  // namespace detail

class Semaphore : public concur::detail::AcquireForms<Semaphore> {
 public:
  // ValueError for a negative value (or one above 2^31 - 1).
  explicit Semaphore(std::ptrdiff_t value = 1);
  Semaphore(const Semaphore&) = default;
  Semaphore& operator=(const Semaphore&) = default;

  bool acquire_until(const Deadline& deadline) { return try_take() || acquire_slow(deadline); }
  // Adds n units (ValueError for n < 1, or above a BoundedSemaphore's initial value) and wakes
  // up to n sleepers. Any thread of any process may release.
  void release(std::ptrdiff_t n = 1);
  // The number of free units now (Python's get_value()); a snapshot.
  [[nodiscard]] std::ptrdiff_t value() const noexcept {
    return h_.state->value.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::ptrdiff_t get_value() const noexcept { return value(); }

 protected:
  Semaphore(std::ptrdiff_t value, bool bounded);

 private:
  bool try_take() noexcept {
    std::uint32_t v = h_.state->value.load(std::memory_order_relaxed);
    while (v > 0)
      if (h_.state->value.compare_exchange_weak(v, v - 1, std::memory_order_acquire,
                                                std::memory_order_relaxed))
        return true;
    return false;
  }
  bool acquire_slow(const Deadline& deadline);
  friend void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const Semaphore& s);
  friend void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, Semaphore& s);
  detail::Handle<detail::SemaphoreState> h_;
};

class BoundedSemaphore : public Semaphore {
 public:
  explicit BoundedSemaphore(std::ptrdiff_t value = 1) : Semaphore(value, true) {}
};

// ---------------------------------------------------------------------------------------------
// Event — multiprocessing.Event (see threading/event.hpp).
// ---------------------------------------------------------------------------------------------
namespace detail {
struct EventState {
  std::atomic<std::uint32_t> word{0};  // bit 0: set; bits 1..: generation, advanced by set()
  std::atomic<std::uint32_t> sleepers{0};
};
}  // namespace detail

class Event {
 public:
  Event();
  Event(const Event&) = default;
  Event& operator=(const Event&) = default;

  [[nodiscard]] bool is_set() const noexcept {
    return (h_.state->word.load(std::memory_order_acquire) & 1u) != 0;
  }
  // Wakes every waiter of this moment, in every process (each returns true even if clear()
  // follows at once).
  void set() noexcept;
  void clear() noexcept { h_.state->word.fetch_and(~1u, std::memory_order_relaxed); }
  bool wait() noexcept { return wait_until(Deadline::never()); }
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) noexcept {
    return wait_until(Deadline::after(timeout));
  }
  bool wait_until(const Deadline& deadline) noexcept { return is_set() || wait_slow(deadline); }

 private:
  bool wait_slow(const Deadline& deadline) noexcept;
  friend void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const Event& e);
  friend void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, Event& e);
  detail::Handle<detail::EventState> h_;
};

// ---------------------------------------------------------------------------------------------
// Condition — multiprocessing.Condition (see threading/condition.hpp).
// ---------------------------------------------------------------------------------------------
namespace detail {
struct ConditionState {
  RobustWord own;                        // the RLock of a Condition that makes its own
  std::atomic<std::uint32_t> seq{0};     // futex word: advanced by every notify that gives tokens
  std::atomic<std::uint32_t> tokens{0};  // notifications given and not yet taken by a waiter
                                         // present when they were given
  std::uint32_t sleepers = 0;            // waiters not yet notified; under the lock
};
}  // namespace detail

class Condition : public concur::detail::AcquireForms<Condition> {
 public:
  Condition();                     // with its own RLock
  explicit Condition(const Lock& lock);    // shares `lock` (a handle: the Condition keeps it)
  explicit Condition(const RLock& lock);
  Condition(const Condition&) = default;
  Condition& operator=(const Condition&) = default;

  bool acquire_until(const Deadline& deadline) {
    return lock_ ? lock_->acquire_until(deadline) : rlock_.acquire_until(deadline);
  }
  void release() { lock_ ? lock_->release() : rlock_.release(); }

  // Wait until notified (true) or the timeout passes (false), with the lock released meanwhile
  // (an RLock entirely) and re-taken, to the same depth, before returning. A notify(n) wakes n
  // of the waiters present at that moment (no FIFO order among them; a waiter that arrives
  // later never takes their notification); no spurious wake-ups: true only when notified.
  void wait() { wait_until(Deadline::never()); }
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) {
    return wait_until(Deadline::after(timeout));
  }
  template <class Predicate>
  bool wait_for(Predicate pred) {
    return wait_for_until(pred, Deadline::never());
  }
  template <class Predicate, class Rep, class Period>
  bool wait_for(Predicate pred, std::chrono::duration<Rep, Period> timeout) {
    return wait_for_until(pred, Deadline::after(timeout));
  }
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period>) {
    static_assert(concur::detail::kRejected<Rep, Period>,
                  "Condition::wait_for(pred[, timeout]) is Python's wait_for: it takes a predicate "
                  "first; to wait with only a timeout write cv.wait(100ms)");
    return false;
  }
  // Wake up to n waiters (ValueError for n < 0); all of them. The lock must be held.
  void notify(std::ptrdiff_t n = 1);
  void notify_all();

  bool wait_until(const Deadline& deadline);
  template <class Predicate>
  bool wait_for_until(Predicate& pred, const Deadline& deadline) {
    bool result = pred();
    for (bool first = true; !result; first = false) {
      if (!first && deadline.expired()) break;
      wait_until(deadline);
      result = pred();
    }
    return result;
  }

 private:
  bool is_owned() const noexcept;
  friend void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const Condition& c);
  friend void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, Condition& c);
  explicit Condition(std::nullptr_t) noexcept : rlock_(nullptr) {}
  detail::Handle<detail::ConditionState> h_;
  std::optional<Lock> lock_;  // set when built on a Lock; otherwise rlock_ is the lock
  RLock rlock_;
};

// ---------------------------------------------------------------------------------------------
// Barrier — multiprocessing.Barrier (see threading/barrier.hpp; no action: a callable cannot
// run in whichever process happens to arrive last).
// ---------------------------------------------------------------------------------------------
namespace detail {
struct BarrierState {
  RobustWord lock;
  std::atomic<std::uint32_t> seq{0};    // futex word: advanced by every state change
  std::atomic<std::int32_t> state{0};   // 0 filling, 1 draining, -1 resetting, -2 broken
  std::atomic<std::uint32_t> count{0};  // parties inside wait() this round; under `lock`
  std::uint32_t parties = 0;
  double timeout = -1;                  // the default timeout of wait(), in seconds; < 0: none
};
}  // namespace detail

class Barrier {
 public:
  // ValueError for parties < 1.
  explicit Barrier(std::ptrdiff_t parties);
  template <class Rep, class Period>
  Barrier(std::ptrdiff_t parties, std::chrono::duration<Rep, Period> timeout) : Barrier(parties) {
    const double s = std::chrono::duration<double>(timeout).count();
    h_.state->timeout = s > 0 ? s : 0;
  }
  // An empty handle, for deserialization only (assign a Barrier to it before use).
  Barrier() noexcept = default;
  Barrier(const Barrier&) = default;
  Barrier& operator=(const Barrier&) = default;

  std::size_t wait();
  template <class Rep, class Period>
  std::size_t wait(std::chrono::duration<Rep, Period> timeout) {
    return wait_until(Deadline::after(timeout));
  }
  std::size_t wait_until(const Deadline& deadline);
  void reset();
  void abort();

  [[nodiscard]] std::size_t parties() const noexcept { return h_.state->parties; }
  [[nodiscard]] std::size_t n_waiting() const noexcept {
    return h_.state->state.load(std::memory_order_relaxed) == 0
               ? h_.state->count.load(std::memory_order_relaxed)
               : 0;
  }
  [[nodiscard]] bool broken() const noexcept {
    return h_.state->state.load(std::memory_order_relaxed) == -2;
  }

 private:
  void lock();
  void unlock() noexcept;
  void notify_all() noexcept;
  void wait_change(const Deadline& deadline);  // the Condition wait, under the lock
  friend void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const Barrier& b);
  friend void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, Barrier& b);
  detail::Handle<detail::BarrierState> h_;
};

// Crossing (see the header comment).
void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const Lock& l);
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, Lock& l);
void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const RLock& l);
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, RLock& l);
void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const Semaphore& s);
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, Semaphore& s);
void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const Event& e);
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, Event& e);
void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const Condition& c);
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, Condition& c);
void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const Barrier& b);
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, Barrier& b);

}  // namespace concur::multiprocessing
