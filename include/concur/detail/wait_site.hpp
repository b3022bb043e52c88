// concur/detail/wait_site.hpp — what a blocked thread waits for, published for thread dumps and
// deadlock detection (API.md §5, threading::dump_threads, deadlock::find_deadlocks).
//
// Every blocking call of concur, at the moment it gives up spinning and goes to sleep, opens a
// BlockedScope on a WaitSite that describes the wait: its kind, the object, the object's name
// and, for a lock or a join, where to read the key of the thread that can end the wait (the
// lock's owner, the joined thread). The scope copies the site into the calling thread's record
// under that record's small lock and clears it when the wait ends, so a reader on another
// thread (a dump, the watchdog) always sees a whole description of a wait still in progress.
//
// Cost: nothing on any fast path; two uncontended lock round trips per sleep, beside a futex
// sleep and wake-up that cost microseconds. Internal locks (detail::Mutex used directly) pass no
// site and are invisible.
//
// Thread-safety: a BlockedScope belongs to the thread that opened it; begin/end must pair on one
// thread (the scope guarantees it). Sites must stay valid for the scope's lifetime.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

namespace concur::detail {

enum class WaitKind : std::uint8_t {
  none, lock, rlock, condition, semaphore, event, barrier, queue, join, sleep, future
};

// The word ("lock", "condition", ...) a dump prints for a kind of wait.
std::string_view wait_kind_name(WaitKind kind) noexcept;  // src/thread.cpp

struct WaitSite {
  WaitKind kind = WaitKind::none;
  const void* object = nullptr;  // the lock, condition, queue ... waited on
  std::string_view name{};       // its name, if it has one (lives as long as the object)
  // For waits that one known thread can end: where that thread's key is kept (a lock's owner,
  // the joined thread's key), else null. Edges of the wait-for graph follow it.
  const std::atomic<std::uint64_t>* owner = nullptr;
  // The futex word the thread sleeps on, so that the watchdog can wake a deadlock victim.
  std::atomic<std::uint32_t>* word = nullptr;
  // The wait has a deadline: a cycle through it ends by itself (the watchdog leaves it alone).
  bool timed = false;
};

// Marks the calling thread as blocked on `site` (null: do nothing) for the scope's lifetime.
class BlockedScope {
 public:
  explicit BlockedScope(const WaitSite* site) noexcept : record_(site ? begin_wait(*site) : nullptr) {}
  ~BlockedScope() {
    if (record_) end_wait(record_);
  }
  BlockedScope(const BlockedScope&) = delete;
  BlockedScope& operator=(const BlockedScope&) = delete;

  // True when the deadlock watchdog chose this wait as the victim that breaks a cycle
  // (deadlock::Reaction::raise): the waiter gives up and its acquire() throws RuntimeError.
  bool interrupted() const noexcept { return record_ && victim_flag(record_); }

 private:
  static void* begin_wait(const WaitSite& site) noexcept;  // src/thread.cpp
  static void end_wait(void* record) noexcept;
  static bool victim_flag(void* record) noexcept;
  void* record_;
};

// After a lock wait returned without the lock: was this thread made a deadlock victim? Clears
// the mark. (src/thread.cpp)
bool take_deadlock_victim_mark() noexcept;

}  // namespace concur::detail
