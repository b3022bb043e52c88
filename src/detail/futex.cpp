#include "concur/detail/futex.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sched.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <ctime>
#include <thread>

namespace concur::detail {

namespace {
// spinning_can_help()'s answer once known: -1 not yet, else 0 or 1. Constant-initialised, so no
// function-local static's guard: a fork that copied a thread halfway through initialising such a
// static left the guard "in progress" in the child, whose first wait then blocked on it forever
// (Fork.FromANonMainThread, about 1 run in 300). Two threads may both compute it; they agree.
std::atomic<int> g_spinning_can_help{-1};
}  // namespace

bool spinning_can_help() noexcept {
  int known = g_spinning_can_help.load(std::memory_order_relaxed);
  if (known < 0) [[unlikely]] {
    // The CPUs we may run on (taskset, cgroups' cpusets), not the machine's: pinned to one CPU,
    // a spinning waiter only keeps its partner from running.
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
      known = CPU_COUNT(&set) > 1;
    else
      known = std::thread::hardware_concurrency() > 1;
    g_spinning_can_help.store(known, std::memory_order_relaxed);
  }
  return known != 0;
}

void yield_cpu() noexcept { sched_yield(); }

std::int64_t spin_clock_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

namespace {
bool wait_on(std::atomic<std::uint32_t>& word, std::uint32_t expected, const Deadline& deadline,
             int private_flag) noexcept {
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
                          FUTEX_WAIT_BITSET | private_flag, expected, timeout, nullptr,
                          FUTEX_BITSET_MATCH_ANY);
  if (rc == -1 && errno == ETIMEDOUT) return false;
  return true;  // woken, value already changed (EAGAIN) or interrupted (EINTR): caller re-checks
}
}  // namespace

bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                const Deadline& deadline) noexcept {
  return wait_on(word, expected, deadline, FUTEX_PRIVATE_FLAG);
}

bool futex_wait_shared(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                       const Deadline& deadline) noexcept {
  return wait_on(word, expected, deadline, 0);
}

void futex_wake(std::atomic<std::uint32_t>& word, int count) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE | FUTEX_PRIVATE_FLAG,
          count, nullptr, nullptr, 0);
}

void futex_wake_shared(std::atomic<std::uint32_t>& word, int count) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, count, nullptr, nullptr,
          0);
}

}  // namespace concur::detail
