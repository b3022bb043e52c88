#include "concur/detail/futex.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sched.h>

#include <cerrno>
#include <climits>
#include <ctime>
#include <thread>

namespace concur::detail {

const SpinPolicy& spin_policy() noexcept {
  static const SpinPolicy policy{std::thread::hardware_concurrency() > 1 ? 8 : 0, 6};
  return policy;
}

void yield_cpu() noexcept { sched_yield(); }

bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                const Deadline& deadline) noexcept {
  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
  timespec ts{};
  const timespec* timeout = nullptr;
  if (!deadline.is_never()) {
    if (deadline.expired()) return false;
    // steady_clock is CLOCK_MONOTONIC; FUTEX_WAIT_BITSET takes an absolute time on that clock.
    const auto ns = deadline.time_point().time_since_epoch().count();
    ts.tv_sec = static_cast<time_t>(ns / 1000000000);
    ts.tv_nsec = static_cast<long>(ns % 1000000000);
    timeout = &ts;
  }
  const long rc = syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word),
                          FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, expected, timeout, nullptr,
                          FUTEX_BITSET_MATCH_ANY);
  if (rc == -1 && errno == ETIMEDOUT) return false;
  return true;  // woken, value already changed (EAGAIN) or interrupted (EINTR): caller re-checks
}

void futex_wake(std::atomic<std::uint32_t>& word, int count) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE | FUTEX_PRIVATE_FLAG,
          count, nullptr, nullptr, 0);
}

}  // namespace concur::detail
