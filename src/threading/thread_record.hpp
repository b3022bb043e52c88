// What concur knows about one thread: a Thread it started, the main thread, or a foreign thread
// seen through current_thread() ("Dummy-N"). Shared (shared_ptr) between the Thread object, the
// running thread itself, the registry and every ThreadRef, so any of them may outlive the others.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "concur/deadline.hpp"
#include "concur/detail/mutex.hpp"
#include "concur/detail/event_count.hpp"
#include "concur/detail/unique_function.hpp"
#include "concur/detail/lock_tracking.hpp"
#include "concur/detail/wait_site.hpp"

namespace concur::detail {

struct ThreadRecord {
  enum class Kind { started, main, dummy };
  // Life cycle, also the futex word that start() and join() wait on.
  static constexpr std::uint32_t kNew = 0, kStarting = 1, kRunning = 2, kFinished = 3;

  ThreadRecord(Kind k, std::string n, bool d) : kind(k), name(std::move(n)), daemon(d) {}

  const Kind kind;
  mutable Mutex name_mutex;
  std::string name;  // guarded by name_mutex
  std::atomic<bool> daemon;
  std::atomic<std::uint32_t> phase{kNew};
  EventCount phase_changed;  // join() and native_id() wait here for the phase to move on
  std::atomic<std::uint64_t> ident{0};      // 0 until the thread runs
  std::atomic<std::uint64_t> native_id{0};
  // The stop source exists only once something can use it (a stop_token target, request_stop(),
  // stop_token()): most threads never need one, and it costs an allocation.
  std::stop_token stop_token() {
    MutexGuard g(stop_mutex);
    return stop_source_locked().get_token();
  }
  bool request_stop() {
    MutexGuard g(stop_mutex);
    // Before the source's request: its stop callbacks run inside it, and a target woken by one
    // must already see stop_requested().
    stop_was_requested.store(true, std::memory_order_release);
    return stop_source_locked().request_stop();
  }
  // Polled by a running target on every loop iteration: one load, no lock. (Only request_stop()
  // can request a stop: the source never leaves the record, its tokens cannot request one.)
  bool stop_requested() const noexcept {
    return stop_was_requested.load(std::memory_order_acquire);
  }
  std::atomic<bool> stop_was_requested{false};

  Mutex stop_mutex;  // guards stop
  std::stop_source stop{std::nostopstate};
  std::stop_source& stop_source_locked() {
    if (!stop.stop_possible()) stop = std::stop_source();
    return stop;
  }

  Mutex handle_mutex;  // guards handle: concurrent join()s reap it once
  std::thread handle;
  // What the thread runs: written by start() before the thread is made, moved out by the thread
  // first thing (or taken back by a start() that failed to make it).
  UniqueFunction<void(std::stop_token)> body;

  // --- diagnostics: what the thread waits for and holds (deadlock.hpp, dump_threads) ----------
  // The thread's lock-owner key (mutex.hpp: this_thread_key()), so that a lock's owner field
  // leads back to this record. 0 until the thread runs.
  std::atomic<std::uint64_t> key{0};


  mutable Mutex diag_mutex;    // guards the fields below
  WaitSite waiting{};          // kind null when the thread is not blocked
  std::uint64_t wait_seq = 0;  // counts the thread's blocking waits: tells one wait from the next
  // The locks it holds, in acquisition order, while lock tracking is on (lock_tracking.hpp); a
  // name is the lock's own, valid while the lock lives.
  std::vector<TrackedLock> held;
  // Set by the deadlock watchdog to make this thread's current lock wait give up (victim).
  std::atomic<bool> deadlock_victim{false};

  std::string get_name() const {
    MutexGuard g(name_mutex);
    return name;
  }
  void set_name(std::string n) {
    MutexGuard g(name_mutex);
    name = std::move(n);
  }
  // Alive from start() (Python's start() returns once the thread runs; ours may return a moment
  // earlier, but nothing can tell the difference) until the body has ended.
  bool alive() const noexcept {
    const std::uint32_t p = phase.load(std::memory_order_acquire);
    return p == kStarting || p == kRunning;
  }

  // Phase changes, and waiting for them, through the one waiting seam (event_count.hpp):
  // set_phase() costs a fence and a load when nobody waits.
  void set_phase(std::uint32_t p) noexcept;
  // Waits while phase == from; false if the deadline passed first.
  bool wait_phase_change(std::uint32_t from, const Deadline& deadline) noexcept;
  // Waits until the thread has finished its body; false if the deadline passed first.
  bool wait_finished(const Deadline& deadline) noexcept;
};

// A thread's diagnostics, copied under its diag_mutex so that they can be read at leisure.
struct WaitSnapshot {
  struct Held {
    const void* object;
    const WaitKind* kind;
    std::string name;
  };
  const WaitKind* kind = nullptr;  // null: not blocked
  const void* object = nullptr;
  std::string name;
  std::uint64_t owner_key = 0;  // the thread that can end the wait (lock owner, joined thread)
  std::atomic<std::uint32_t>* word = nullptr;
  bool timed = false;
  std::uint64_t seq = 0;
  std::vector<Held> held;  // as recorded by lock tracking
};
WaitSnapshot snapshot_waits(const ThreadRecord& rec);  // thread_dump.cpp

// How reports name a lock or other waitable: "account-A" (quoted) when it has a name, else its
// type and address ("Lock at 0x55d0c3a4e2c0"; a null kind, any Lockable: "lock at 0x...").
std::string describe_object(const WaitKind* kind, const void* object, std::string_view name);

// Every live thread's wait snapshot at one moment, and what can be said from them together
// (thread_dump.cpp): used by thread dumps, ThreadRef::state() and deadlock detection.
struct ThreadsSnapshot {
  std::vector<std::shared_ptr<ThreadRecord>> records;
  std::vector<WaitSnapshot> snaps;  // snaps[i] is records[i]'s
  std::vector<std::uint64_t> keys;  // keys[i] is records[i]'s key

  ThreadsSnapshot();
  // The index of the thread with this lock-owner key, or npos.
  std::size_t index_of_key(std::uint64_t key) const noexcept;
  std::string name_of_key(std::uint64_t key) const;  // "" if unknown
  // What `snap` waits for, in words: `lock "fork-1" (held by "Phil-2")`; with_owner false
  // leaves the parenthesis out. "" when not waiting.
  std::string waiting_for(const WaitSnapshot& snap, bool with_owner = true) const;
  // The locks the thread `key` is known to hold: those lock tracking listed in `snap`, and
  // those other threads wait for that name it as their owner.
  std::vector<std::string> holds(std::uint64_t key, const WaitSnapshot& snap) const;
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
};

// The calling thread's record (a foreign thread gets its Dummy one); null only if that record
// could not be allocated. (thread.cpp)
ThreadRecord* current_record() noexcept;
// Every live thread's record, main first. (thread.cpp)
std::vector<std::shared_ptr<ThreadRecord>> all_thread_records();

}  // namespace concur::detail
