// concur/threading/detail/wait_kinds.hpp — the kinds of wait of the threading module, as thread
// dumps and deadlock detection show them (detail/wait_site.hpp explains descriptors).
#pragma once

#include "concur/detail/wait_site.hpp"

// In concur::detail, where the threading module's internals live (the lock, condition and
// thread machinery name them as detail::kLockWait ...).
namespace concur::detail {

inline constexpr WaitKind kLockWait{"lock", "Lock", true, true};
inline constexpr WaitKind kRLockWait{"rlock", "RLock", true, true};
inline constexpr WaitKind kConditionWait{"condition", "Condition", false, false};
inline constexpr WaitKind kSemaphoreWait{"semaphore", "Semaphore", false, false};
inline constexpr WaitKind kEventWait{"event", "Event", false, false};
inline constexpr WaitKind kBarrierWait{"barrier", "Barrier", false, false};
inline constexpr WaitKind kJoinWait{"join", "Thread", true, false};
inline constexpr WaitKind kSleepWait{"sleep", "", false, false};

}  // namespace concur::detail
