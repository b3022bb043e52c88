// The calls a concur lock makes while lock tracking is on (detail/lock_tracking.hpp): each goes
// to the LockObserver the deadlock module installed.
#include "concur/detail/lock_tracking.hpp"

namespace concur::detail {
namespace {
const LockObserver* observer() noexcept { return g_lock_observer.load(std::memory_order_acquire); }
}  // namespace

void check_lock_order(const TrackedLock& lock) {
  if (const LockObserver* o = observer()) o->check_order(lock);
}
void note_acquired(const TrackedLock& lock) noexcept {
  if (const LockObserver* o = observer()) o->acquired(lock);
}
bool note_released(const void* object) noexcept {
  const LockObserver* o = observer();
  return o && o->released(object);
}
void forget_lock(const void* object) noexcept {
  if (const LockObserver* o = observer()) o->forget(object);
}

}  // namespace concur::detail
