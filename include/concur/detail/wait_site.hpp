// concur/detail/wait_site.hpp — what a blocked thread waits for, published for thread dumps and
// deadlock detection (threading::dump_threads, deadlock::find_deadlocks), through a hook.
//
// Every blocking call of concur, at the moment it gives up spinning and goes to sleep, opens a
// BlockedScope on a WaitSite that describes the wait: its kind, the object, the object's name
// and, for a wait that one known thread can end (a lock, a join), where to read that thread's
// key. This layer only describes waits; what is done with a description is the business of
// whoever installed the WaitObserver (threading copies it into the calling thread's record, so
// that a dump or the watchdog on another thread sees a whole description of a wait still in
// progress). With no observer installed a BlockedScope costs one relaxed load.
//
// Kinds of wait are descriptors, not a closed list: each module defines its own WaitKind
// constants next to the waits that use them (threading/detail/wait_kinds.hpp, the queues'
// basic_queue.hpp, the futures' shared state, later a process join, a pipe receive, an actor's
// mailbox), and dumps and detection read only the descriptor's fields. A WaitKind is compared
// by address: define each one once, as an `inline constexpr` variable.
//
// Cost: nothing on any fast path; the observer's calls per sleep, beside a futex sleep and
// wake-up that cost microseconds. Internal locks (detail::Mutex used directly) pass no site and
// are invisible.
//
// Thread-safety: a BlockedScope belongs to the thread that opened it; begin/end pair on one
// thread (the scope guarantees it). Sites and their kinds must stay valid for the scope's
// lifetime. install_wait_observer() may be called at any time from any thread; a scope opened
// before it was installed stays unobserved.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

namespace concur::detail {

// One kind of wait, as dumps and deadlock detection see it.
struct WaitKind {
  std::string_view name;       // the word a dump prints: "lock", "queue", "join" ...
  std::string_view type_name;  // how an unnamed object is shown: "Lock" -> "Lock at 0x..."; ""
                               // for a wait on no object ("sleep")
  bool adds_edge = false;      // a wait-for edge leads to the thread in WaitSite::owner
  bool owned = false;          // the object is held by that thread (a lock): its dump lists it
};

struct WaitSite {
  const WaitKind* kind = nullptr;  // null: not a wait anyone is shown
  const void* object = nullptr;    // the lock, condition, queue ... waited on
  std::string_view name{};         // its name, if it has one (lives as long as the object)
  // For waits that one known thread can end: where that thread's key is kept (a lock's owner,
  // the joined thread's key), else null. Edges of the wait-for graph follow it.
  const std::atomic<std::uint64_t>* owner = nullptr;
  // The futex word the thread sleeps on, so that the watchdog can wake a deadlock victim.
  std::atomic<std::uint32_t>* word = nullptr;
  // The wait has a deadline: a cycle through it ends by itself (the watchdog leaves it alone).
  bool timed = false;
};

// The hook table a higher layer installs to see waits. Every function is called on the waiting
// thread and must not block or throw.
struct WaitObserver {
  // The thread goes to sleep on `site`; returns a token for the calls below (null: unobserved).
  void* (*begin)(const WaitSite& site) noexcept;
  void (*end)(void* token) noexcept;
  // The wait should give up: the deadlock watchdog chose it as the victim that breaks a cycle.
  bool (*interrupted)(void* token) noexcept;
  // After a lock wait returned without the lock: was it a victim? Clears the mark.
  bool (*take_victim_mark)() noexcept;
};

inline std::atomic<const WaitObserver*> g_wait_observer{nullptr};

// A hook the calling thread runs just before it goes to sleep in a concur wait that shows in
// dumps (a BlockedScope with a site): a scheduler's worker thread (actors) uses it to hand work
// it holds privately to the other workers, so that no wait of the code it runs can starve that
// work. Set by the thread for itself; must not block for long or throw.
struct SleepHook {
  void (*fn)(void* context) noexcept = nullptr;
  void* context = nullptr;
};
inline thread_local SleepHook tls_sleep_hook;

// Installs `observer` (static storage; null uninstalls). Release: its tables are complete
// before any waiter can load the pointer (acquire).
inline void install_wait_observer(const WaitObserver* observer) noexcept {
  g_wait_observer.store(observer, std::memory_order_release);
}

// Marks the calling thread as blocked on `site` (null: do nothing) for the scope's lifetime.
class BlockedScope {
 public:
  explicit BlockedScope(const WaitSite* site) noexcept {
    if (!site) return;
    if (tls_sleep_hook.fn) tls_sleep_hook.fn(tls_sleep_hook.context);
    observer_ = g_wait_observer.load(std::memory_order_acquire);
    if (observer_) token_ = observer_->begin(*site);
  }
  ~BlockedScope() {
    if (token_) observer_->end(token_);
  }
  BlockedScope(const BlockedScope&) = delete;
  BlockedScope& operator=(const BlockedScope&) = delete;

  // True when the deadlock watchdog chose this wait as the victim that breaks a cycle
  // (deadlock::Reaction::raise): the waiter gives up and its acquire() throws RuntimeError.
  bool interrupted() const noexcept { return token_ && observer_->interrupted(token_); }

 private:
  const WaitObserver* observer_ = nullptr;
  void* token_ = nullptr;
};

// After a lock wait returned without the lock: was this thread made a deadlock victim? Clears
// the mark. False when nobody observes waits.
inline bool take_deadlock_victim_mark() noexcept {
  const WaitObserver* o = g_wait_observer.load(std::memory_order_acquire);
  return o && o->take_victim_mark();
}

}  // namespace concur::detail
