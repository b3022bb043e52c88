// Shared locks, condition, semaphore, event, barrier (concur/multiprocessing/synchronize.hpp).
#include "concur/multiprocessing/synchronize.hpp"

#include <algorithm>
#include <climits>
#include <string>

#include "concur/detail/futex.hpp"

namespace concur::multiprocessing {

namespace detail {

void throw_owner_died() { throw OwnerDied(); }

void rlock_release(RobustWord& w) {
  if (!held_by_me(w)) throw RuntimeError("cannot release un-acquired lock");
  if (--w.depth == 0) unlock(w);
}

namespace {

// A handle's state from a crossing: the segment, and its state at `offset` in the payload.
template <class State>
Handle<State> load_handle(InputArchive& ar, SharedKind kind, std::string_view what) {
  auto s = load_segment(ar, kind, 0, what);
  if (s->payload_size() != sizeof(State))
    throw ValueError(std::string(what) + " arrived with memory of the wrong size");
  auto* p = static_cast<State*>(s->payload());
  return Handle<State>(std::move(s), p);
}

bool take_token(ConditionState& st) noexcept {
  std::uint32_t t = st.tokens.load(std::memory_order_relaxed);
  while (t > 0)
    if (st.tokens.compare_exchange_weak(t, t - 1, std::memory_order_acquire,
                                        std::memory_order_relaxed))
      return true;
  return false;
}

}  // namespace
}  // namespace detail

// ---- Lock, RLock ----------------------------------------------------------------------------

Lock::Lock() : h_(detail::Handle<detail::RobustWord>::make(detail::SharedKind::lock)) {}

void Lock::throw_unlocked() { throw RuntimeError("release unlocked lock"); }

RLock::RLock() : h_(detail::Handle<detail::RobustWord>::make(detail::SharedKind::rlock)) {}

// ---- Semaphore ------------------------------------------------------------------------------

Semaphore::Semaphore(std::ptrdiff_t value) : Semaphore(value, false) {}

Semaphore::Semaphore(std::ptrdiff_t value, bool bounded) {
  if (value < 0) throw ValueError("semaphore initial value must be >= 0");
  if (value > INT_MAX) throw ValueError("semaphore initial value is too large");
  h_ = detail::Handle<detail::SemaphoreState>::make(detail::SharedKind::semaphore);
  h_.state->value.store(static_cast<std::uint32_t>(value), std::memory_order_relaxed);
  h_.state->bound = bounded ? static_cast<std::uint32_t>(value) : 0xffffffffu;
}

bool Semaphore::acquire_slow(const Deadline& deadline) {
  if (deadline.is_immediate()) return try_take();
  if (concur::detail::spin_until([&] { return try_take(); })) return true;
  auto& st = *h_.state;
  for (;;) {
    st.sleepers.fetch_add(1, std::memory_order_seq_cst);
    if (try_take()) {
      st.sleepers.fetch_sub(1, std::memory_order_relaxed);
      return true;
    }
    const bool in_time = concur::detail::futex_wait_shared(st.value, 0, deadline);
    st.sleepers.fetch_sub(1, std::memory_order_relaxed);
    if (try_take()) return true;
    if (!in_time || deadline.expired()) return false;
  }
}

void Semaphore::release(std::ptrdiff_t n) {
  if (n < 1) throw ValueError("n must be one or more");
  auto& st = *h_.state;
  std::uint32_t v = st.value.load(std::memory_order_relaxed);
  for (;;) {
    if (static_cast<std::uint64_t>(v) + static_cast<std::uint64_t>(n) > st.bound)
      throw ValueError(st.bound == 0xffffffffu ? "semaphore value would overflow"
                                               : "Semaphore released too many times");
    if (st.value.compare_exchange_weak(v, v + static_cast<std::uint32_t>(n),
                                       std::memory_order_seq_cst, std::memory_order_relaxed))
      break;
  }
  if (st.sleepers.load(std::memory_order_seq_cst) != 0)
    concur::detail::futex_wake_shared(st.value, n > INT_MAX ? INT_MAX : static_cast<int>(n));
}

// ---- Event ----------------------------------------------------------------------------------

Event::Event() : h_(detail::Handle<detail::EventState>::make(detail::SharedKind::event)) {}

void Event::set() noexcept {
  auto& st = *h_.state;
  std::uint32_t v = st.word.load(std::memory_order_relaxed);
  do {
    if ((v & 1u) != 0) return;
  } while (!st.word.compare_exchange_weak(v, (v | 1u) + 2u, std::memory_order_seq_cst,
                                          std::memory_order_relaxed));
  if (st.sleepers.load(std::memory_order_seq_cst) != 0)
    concur::detail::futex_wake_all_shared(st.word);
}

bool Event::wait_slow(const Deadline& deadline) noexcept {
  auto& st = *h_.state;
  const std::uint32_t v0 = st.word.load(std::memory_order_acquire);
  // True once set, or once the generation moved (set and cleared again meanwhile).
  auto ended = [&](std::uint32_t v) { return (v & 1u) != 0 || (v >> 1) != (v0 >> 1); };
  if (ended(v0)) return true;
  if (deadline.is_immediate()) return false;
  if (concur::detail::spin_until([&] { return ended(st.word.load(std::memory_order_acquire)); }))
    return true;
  st.sleepers.fetch_add(1, std::memory_order_seq_cst);
  bool result = false;
  for (;;) {
    const std::uint32_t v = st.word.load(std::memory_order_seq_cst);
    if (ended(v)) {
      result = true;
      break;
    }
    if (!concur::detail::futex_wait_shared(st.word, v, deadline)) {
      result = ended(st.word.load(std::memory_order_acquire));
      break;
    }
  }
  st.sleepers.fetch_sub(1, std::memory_order_relaxed);
  return result;
}

// ---- Condition ------------------------------------------------------------------------------

Condition::Condition()
    : h_(detail::Handle<detail::ConditionState>::make(detail::SharedKind::condition)),
      rlock_(h_.segment, &h_.state->own) {}

Condition::Condition(const Lock& lock)
    : h_(detail::Handle<detail::ConditionState>::make(detail::SharedKind::condition)),
      lock_(lock),
      rlock_(nullptr) {}

Condition::Condition(const RLock& lock)
    : h_(detail::Handle<detail::ConditionState>::make(detail::SharedKind::condition)),
      rlock_(lock) {}

bool Condition::is_owned() const noexcept {
  return lock_ ? lock_->locked() : rlock_.is_owned();
}

bool Condition::wait_until(const Deadline& deadline) {
  if (!is_owned()) throw RuntimeError("cannot wait on un-acquired lock");
  auto& st = *h_.state;
  detail::RobustWord& w = lock_ ? *lock_->h_.state : *rlock_.h_.state;
  // A notification is for the waiters present when it was given: a waiter may take one only
  // once seq (advanced by every notify that gives any) has moved since it began to wait, so a
  // thread that waits right after its own notify() cannot take what it gave to another.
  ++st.sleepers;
  const std::uint32_t began = st.seq.load(std::memory_order_relaxed);  // seq changes under the lock
  const std::uint32_t depth = w.depth;
  w.depth = 0;
  if (!detail::unlock(w)) throw RuntimeError("cannot wait on un-acquired lock");
  bool notified = false;
  for (;;) {
    // acquire: pairs with notify's release, so the tokens it gave are seen below.
    const std::uint32_t s = st.seq.load(std::memory_order_acquire);
    if (s != began && detail::take_token(st)) {
      notified = true;
      break;
    }
    if (!concur::detail::futex_wait_shared(st.seq, s, deadline)) break;
  }
  // Take the lock back whatever happens; a dead owner is reported after, with the lock held.
  bool died = false;
  while (detail::lock(w, Deadline::never()) != detail::Taken::yes) died = true;
  w.depth = depth;
  if (!notified) {
    // Timed out. A notify may have counted us meanwhile and left a token for us: take it (we
    // were notified after all); otherwise we are still counted as a sleeper.
    if (st.seq.load(std::memory_order_relaxed) != began && detail::take_token(st)) notified = true;
    else if (st.sleepers > 0) --st.sleepers;
  }
  if (died) detail::throw_owner_died();
  return notified;
}

void Condition::notify(std::ptrdiff_t n) {
  if (n < 0) throw ValueError("notify(n): n must be >= 0");
  if (!is_owned()) throw RuntimeError("cannot notify on un-acquired lock");
  auto& st = *h_.state;
  const std::uint32_t k =
      static_cast<std::uint32_t>(std::min<std::uint64_t>(static_cast<std::uint64_t>(n), st.sleepers));
  if (k == 0) return;
  st.sleepers -= k;
  st.tokens.fetch_add(k, std::memory_order_relaxed);
  st.seq.fetch_add(1, std::memory_order_release);
  concur::detail::futex_wake_shared(st.seq, static_cast<int>(std::min<std::uint32_t>(k, INT_MAX)));
}

void Condition::notify_all() {
  if (!is_owned()) throw RuntimeError("cannot notify on un-acquired lock");
  notify(static_cast<std::ptrdiff_t>(h_.state->sleepers));
}

// ---- Barrier --------------------------------------------------------------------------------

namespace {
constexpr std::int32_t kFilling = 0, kDraining = 1, kResetting = -1, kBroken = -2;
}

Barrier::Barrier(std::ptrdiff_t parties) {
  if (parties < 1) throw ValueError("parties must be > 0");
  if (parties > INT_MAX) throw ValueError("parties is too large");
  h_ = detail::Handle<detail::BarrierState>::make(detail::SharedKind::barrier);
  h_.state->parties = static_cast<std::uint32_t>(parties);
  h_.state->timeout = -1;
}

void Barrier::notify_all() noexcept {
  h_.state->seq.fetch_add(1, std::memory_order_release);
  concur::detail::futex_wake_all_shared(h_.state->seq);
}

void Barrier::lock() {
  auto& st = *h_.state;
  if (detail::lock(st.lock, Deadline::never()) == detail::Taken::yes) return;
  // A process died inside the barrier's critical section: its counts cannot be trusted.
  while (detail::lock(st.lock, Deadline::never()) != detail::Taken::yes) {
  }
  st.state.store(kBroken, std::memory_order_relaxed);
  st.count.store(0, std::memory_order_relaxed);
  notify_all();
  detail::unlock(st.lock);
  throw BrokenBarrierError("the barrier is broken: a process died while it updated it");
}

void Barrier::unlock() noexcept { detail::unlock(h_.state->lock); }

void Barrier::wait_change(const Deadline& deadline) {
  const std::uint32_t s = h_.state->seq.load(std::memory_order_acquire);
  unlock();
  concur::detail::futex_wait_shared(h_.state->seq, s, deadline);
  lock();
}

std::size_t Barrier::wait() {
  const double t = h_.state->timeout;
  return wait_until(t < 0 ? Deadline::never() : Deadline::after(std::chrono::duration<double>(t)));
}

std::size_t Barrier::wait_until(const Deadline& deadline) {
  auto& st = *h_.state;
  auto state = [&] { return st.state.load(std::memory_order_relaxed); };
  auto leave = [&] {
    const std::uint32_t c = st.count.load(std::memory_order_relaxed);
    if (c > 0) st.count.store(c - 1, std::memory_order_relaxed);
    if (c <= 1 && (state() == kResetting || state() == kDraining)) {
      st.state.store(kFilling, std::memory_order_relaxed);
      notify_all();
    }
  };
  lock();
  // Wait for the previous round to drain or reset.
  while (state() == kDraining || state() == kResetting) wait_change(Deadline::never());
  if (state() < 0) {
    unlock();
    throw BrokenBarrierError();
  }
  const std::uint32_t index = st.count.load(std::memory_order_relaxed);
  st.count.store(index + 1, std::memory_order_relaxed);
  if (index + 1 == st.parties) {
    st.state.store(kDraining, std::memory_order_relaxed);
    notify_all();
  } else {
    while (state() == kFilling) {
      if (deadline.expired()) {
        st.state.store(kBroken, std::memory_order_relaxed);  // a timeout breaks it, as Python
        notify_all();
        break;
      }
      wait_change(deadline);
    }
    if (state() < 0) {
      leave();
      unlock();
      throw BrokenBarrierError();
    }
  }
  leave();
  unlock();
  return index;
}

void Barrier::reset() {
  auto& st = *h_.state;
  lock();
  if (st.count.load(std::memory_order_relaxed) > 0) {
    const std::int32_t s = st.state.load(std::memory_order_relaxed);
    if (s == kFilling || s == kBroken) st.state.store(kResetting, std::memory_order_relaxed);
  } else {
    st.state.store(kFilling, std::memory_order_relaxed);
  }
  notify_all();
  unlock();
}

void Barrier::abort() {
  lock();
  h_.state->state.store(kBroken, std::memory_order_relaxed);
  notify_all();
  unlock();
}

// ---- Crossing -------------------------------------------------------------------------------

void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const Lock& l) {
  detail::save_segment(ar, *l.h_.segment, "an mp::Lock");
}
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, Lock& l) {
  l.h_ = detail::load_handle<detail::RobustWord>(ar, detail::SharedKind::lock, "an mp::Lock");
}

void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const RLock& l) {
  detail::save_segment(ar, *l.h_.segment, "an mp::RLock");
  // An RLock may live inside a Value's, an Array's or a Condition's segment.
  const std::uint64_t offset = static_cast<std::uint64_t>(
      reinterpret_cast<const std::byte*>(l.h_.state) -
      static_cast<const std::byte*>(l.h_.segment->payload()));
  ar(offset);
}
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, RLock& l) {
  static constexpr detail::SharedKind kinds[] = {
      detail::SharedKind::rlock, detail::SharedKind::condition, detail::SharedKind::value,
      detail::SharedKind::array};
  auto s = detail::load_segment(ar, kinds, nullptr, "an mp::RLock");
  std::uint64_t offset = 0;
  ar(offset);
  if (offset % alignof(detail::RobustWord) != 0 ||
      s->payload_size() < sizeof(detail::RobustWord) ||
      offset > s->payload_size() - sizeof(detail::RobustWord))
    ar.fail("an mp::RLock arrived with a lock outside its memory");
  auto* w = reinterpret_cast<detail::RobustWord*>(static_cast<std::byte*>(s->payload()) + offset);
  l.h_ = detail::Handle<detail::RobustWord>(std::move(s), w);
}

void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const Semaphore& s) {
  detail::save_segment(ar, *s.h_.segment, "an mp::Semaphore");
}
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, Semaphore& s) {
  s.h_ = detail::load_handle<detail::SemaphoreState>(ar, detail::SharedKind::semaphore,
                                                     "an mp::Semaphore");
}

void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const Event& e) {
  detail::save_segment(ar, *e.h_.segment, "an mp::Event");
}
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, Event& e) {
  e.h_ = detail::load_handle<detail::EventState>(ar, detail::SharedKind::event, "an mp::Event");
}

void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const Condition& c) {
  detail::save_segment(ar, *c.h_.segment, "an mp::Condition");
  const bool own = !c.lock_ && c.rlock_.h_.segment == c.h_.segment;
  ar(own);
  if (own) return;
  const bool is_rlock = !c.lock_;
  ar(is_rlock);
  if (is_rlock) ar(c.rlock_);
  else ar(*c.lock_);
}
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, Condition& c) {
  Condition got(nullptr);
  got.h_ = detail::load_handle<detail::ConditionState>(ar, detail::SharedKind::condition,
                                                       "an mp::Condition");
  bool own = false;
  ar(own);
  if (own) {
    got.rlock_ = RLock(got.h_.segment, &got.h_.state->own);
  } else {
    bool is_rlock = false;
    ar(is_rlock);
    if (is_rlock) {
      ar(got.rlock_);
    } else {
      Lock lock;
      ar(lock);
      got.lock_ = lock;
    }
  }
  c = got;
}

void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const Barrier& b) {
  if (!b.h_.segment) throw ValueError("an empty mp::Barrier handle cannot cross");
  detail::save_segment(ar, *b.h_.segment, "an mp::Barrier");
}
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, Barrier& b) {
  b.h_ = detail::load_handle<detail::BarrierState>(ar, detail::SharedKind::barrier,
                                                   "an mp::Barrier");
}

}  // namespace concur::multiprocessing
