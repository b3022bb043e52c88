// concur/deadlock/ordered_acquire.hpp — dl::acquire: taking several locks in one global order,
// the seeds' `acquire(*locks)` context manager.
//
//   {
//     auto held = dl::acquire(x_lock, y_lock);   // any mix of Lock, RLock and Lockables
//     ...                                        // both held
//   }                                            // released in reverse order
//
// Deadlock by lock ordering needs two threads to take the same locks in different orders.
// dl::acquire sorts the locks it is given by one global order (their addresses, as the seeds
// sort by id()) before taking them, so two threads naming the same locks in any order never
// wait for each other in a cycle. It also remembers, per thread, the locks it holds through
// dl::acquire: asking for a set whose first lock does not come after every lock already held
// that way throws concur::RuntimeError("Lock Order Violation: ...") before anything blocks,
// because such a request could close a cycle with a thread that follows the order.
//
// Happens-before: that of the locks taken, nothing more: everything a thread did before its Held
// is destroyed (which releases them) happens before what another thread does after its next
// acquire of any of those locks (through dl::acquire or directly) returns. The per-thread
// record of held locks is the thread's own and orders nothing between threads.
// Thread-safety: the returned Held is owned by the calling thread and must be destroyed there
// (it is move-only; moving it to another thread is undefined, as it would leave this thread's
// record behind). Nested Helds must be destroyed in reverse order of creation, as scopes do.
// Throws: RuntimeError as above; whatever a lock's lock() throws (earlier locks of the same
// call are then released). Locks named twice in one call: RuntimeError (a plain Lock would
// deadlock on itself).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <functional>
#include <string_view>
#include <type_traits>
#include <utility>

#include "concur/errors.hpp"

namespace concur::deadlock {
namespace detail {

// One lock of a dl::acquire call, type-erased: its address (the global order) and how to
// release it.
struct ErasedLock {
  const void* key = nullptr;
  std::string_view name;          // the lock's name(), if it has one, for error messages
  void* lock = nullptr;
  void (*take)(void*) = nullptr;  // lock(); may throw
  void (*unlock)(void*) noexcept = nullptr;
};

// The locks this thread holds through dl::acquire, in acquisition order (src/deadlock/deadlock.cpp).
void check_order_and_push(const ErasedLock* sorted, std::size_t n);  // throws on a violation
void pop_held(std::size_t n) noexcept;

template <class L>
ErasedLock erase(L& lock) noexcept {
  // A name() that returns a view or a reference outlives the call; one returned by value
  // (a temporary std::string) would not, and is not kept.
  std::string_view name;
  if constexpr (requires { lock.name(); }) {
    using Name = decltype(lock.name());
    if constexpr (std::is_same_v<std::remove_cvref_t<Name>, std::string_view> ||
                  (std::is_lvalue_reference_v<Name> &&
                   std::is_convertible_v<Name, std::string_view>))
      name = lock.name();
  }
  return ErasedLock{static_cast<const void*>(&lock), name, static_cast<void*>(&lock),
                  [](void* p) { static_cast<L*>(p)->lock(); },
                  [](void* p) noexcept { static_cast<L*>(p)->unlock(); }};
}

}  // namespace detail

// The locks taken by one dl::acquire call; releases them in reverse order when destroyed.
template <std::size_t N>
class Held {
 public:
  Held(Held&& other) noexcept : locks_(other.locks_), active_(std::exchange(other.active_, false)) {}
  Held& operator=(Held&&) = delete;
  Held(const Held&) = delete;
  Held& operator=(const Held&) = delete;
  ~Held() {
    if (!active_) return;
    for (std::size_t i = N; i-- > 0;) locks_[i].unlock(locks_[i].lock);
    detail::pop_held(N);
  }

 private:
  template <class... Locks>
  friend Held<sizeof...(Locks)> acquire(Locks&... locks);

  explicit Held(const std::array<detail::ErasedLock, N>& sorted) : locks_(sorted) {}

  std::array<detail::ErasedLock, N> locks_;  // in acquisition order
  bool active_ = true;
};

// Takes every lock, in the global order, and returns them held. See the header comment.
template <class... Locks>
[[nodiscard]] Held<sizeof...(Locks)> acquire(Locks&... locks) {
  static_assert(sizeof...(Locks) > 0, "dl::acquire needs at least one lock");
  constexpr std::size_t n = sizeof...(Locks);
  std::array<detail::ErasedLock, n> sorted{detail::erase(locks)...};
  std::sort(sorted.begin(), sorted.end(), [](const detail::ErasedLock& a, const detail::ErasedLock& b) {
    return std::less<const void*>{}(a.key, b.key);
  });
  for (std::size_t i = 1; i < n; ++i)
    if (sorted[i].key == sorted[i - 1].key)
      throw RuntimeError("dl::acquire: the same lock is named twice");
  detail::check_order_and_push(sorted.data(), n);  // throws before anything blocks

  // Take them in order; if one throws, give back the ones taken and forget the record.
  std::size_t taken = 0;
  try {
    for (; taken < n; ++taken) sorted[taken].take(sorted[taken].lock);
  } catch (...) {
    while (taken-- > 0) sorted[taken].unlock(sorted[taken].lock);
    detail::pop_held(n);
    throw;
  }
  return Held<n>(sorted);
}

}  // namespace concur::deadlock
