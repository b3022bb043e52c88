#include <atomic>
#include <string>

#include "concur/detail/mutex.hpp"
#include "concur/threading/detail/wait_kinds.hpp"
#include "concur/threading/lock.hpp"
#include "concur/threading/rlock.hpp"
#include "threading/thread_record.hpp"


// --- Lock and RLock: the paths that are not inline ---------------------------------------------

namespace concur::threading {
namespace {

// A blocking acquire that came back empty: a timeout, or the deadlock watchdog chose this wait
// to break a cycle (deadlock::Reaction::raise).
[[noreturn]] void throw_deadlock_victim(const detail::WaitKind* kind, const void* lock,
                                        std::string_view name) {
  throw RuntimeError("Deadlock detected: this thread was waiting for " +
                     std::string(kind->name) + " " +
                     detail::describe_object(kind, lock, name) +
                     " in a cycle of blocked threads; the deadlock watchdog failed this acquire "
                     "to break the cycle");
}

// The sleeping half of a Lock or RLock acquire: the thread is seen blocked on the lock while it
// sleeps, and the acquire throws if the deadlock watchdog chose this wait as its victim.
bool lock_or_throw(detail::Mutex& mutex, const detail::WaitKind* kind, const void* lock,
                   std::string_view name, const std::atomic<std::uint64_t>* owner,
                   const Deadline& deadline) {
  const detail::WaitSite site{kind, lock, name, owner, mutex.futex_word(), !deadline.is_never()};
  if (mutex.lock_until(deadline, &site)) return true;
  if (!deadline.is_immediate() && detail::take_deadlock_victim_mark())
    throw_deadlock_victim(kind, lock, name);
  return false;
}

// Condition::wait() taking the lock back: seen as blocked on the lock, but never a deadlock
// victim (no futex word in the site), since the caller's scope will release the lock.
void relock_after_wait(detail::Mutex& mutex, const detail::WaitKind* kind, const void* lock,
                       std::string_view name, const std::atomic<std::uint64_t>* owner) noexcept {
  const detail::WaitSite site{kind, lock, name, owner, nullptr};
  while (!mutex.lock_until(Deadline::never(), &site)) {
  }
}

}  // namespace

bool Lock::take_slow(const Deadline& deadline) {
  return lock_or_throw(mutex_, &detail::kLockWait, this, name(), &owner_, deadline);
}

bool Lock::acquire_tracked(const Deadline& deadline) {
  return detail::acquire_tracked({this, &detail::kLockWait, name()}, deadline,
                                 [&] { return take(deadline); });
}

void Lock::release_for_wait() noexcept {
  if (detail::lock_tracking_on()) detail::note_released(this);
  owner_.store(0, std::memory_order_relaxed);
  deferred_.unlock(mutex_);
}

void Lock::reacquire_after_wait() noexcept {
  relock_after_wait(mutex_, &detail::kLockWait, this, name(), &owner_);
  owner_.store(detail::this_thread_key(), std::memory_order_relaxed);
  if (detail::lock_tracking_on()) detail::note_acquired({this, &detail::kLockWait, name()});
}

bool RLock::take_slow(const Deadline& deadline) {
  return lock_or_throw(mutex_, &detail::kRLockWait, this, name(), &owner_, deadline);
}

bool RLock::acquire_tracked(const Deadline& deadline) {
  return detail::acquire_tracked({this, &detail::kRLockWait, name()}, deadline,
                                 [&] { return take(deadline, detail::this_thread_key()); });
}

std::uint32_t RLock::release_all() noexcept {
  const std::uint32_t depth = depth_;
  depth_ = 0;
  if (detail::lock_tracking_on()) detail::note_released(this);
  owner_.store(0, std::memory_order_relaxed);
  deferred_.unlock(mutex_);
  return depth;
}

void RLock::reacquire(std::uint32_t depth) noexcept {
  relock_after_wait(mutex_, &detail::kRLockWait, this, name(), &owner_);
  owner_.store(detail::this_thread_key(), std::memory_order_relaxed);
  depth_ = depth;
  if (detail::lock_tracking_on()) detail::note_acquired({this, &detail::kRLockWait, name()});
}

}  // namespace concur::threading
