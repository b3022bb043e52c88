// The per-thread record behind dl::acquire (include/concur/deadlock/ordered_acquire.hpp).
#include <functional>
#include <string>
#include <vector>

#include "concur/deadlock/ordered_acquire.hpp"
#include "threading/thread_record.hpp"

namespace concur::deadlock::detail {
namespace {

// The locks this thread took through dl::acquire, in order; scopes make it a stack.
thread_local std::vector<ErasedLock> tls_held;

// As every report names a lock (thread_record.hpp): "name", or "Lock at 0x...".
std::string describe(const ErasedLock& l) {
  return concur::detail::describe_object(nullptr, l.key, l.name);
}

}  // namespace

void check_order_and_push(const ErasedLock* sorted, std::size_t n) {
  tls_held.reserve(tls_held.size() + n);  // the pushes below cannot throw: all or nothing
  if (!tls_held.empty()) {
    // Python's check: max(id(lock) for lock in acquired) >= id(locks[0]).
    const ErasedLock* highest = &tls_held.front();
    for (const ErasedLock& l : tls_held)
      if (std::less<const void*>{}(highest->key, l.key)) highest = &l;
    if (!std::less<const void*>{}(highest->key, sorted[0].key)) {
      throw RuntimeError("Lock Order Violation: this thread holds lock " + describe(*highest) +
                         " (taken through dl::acquire) and asks for lock " +
                         describe(sorted[0]) + ", which does not come after it in the global order");
    }
  }
  for (std::size_t i = 0; i < n; ++i) tls_held.push_back(sorted[i]);
}

void pop_held(std::size_t n) noexcept {
  tls_held.resize(tls_held.size() >= n ? tls_held.size() - n : 0);
}

}  // namespace concur::deadlock::detail
