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

#include "concur/detail/deadline.hpp"
#include "concur/detail/mutex.hpp"

namespace concur::detail {

struct ThreadState {
  enum class Kind { started, main, dummy };
  // Life cycle, also the futex word that start() and join() wait on.
  static constexpr std::uint32_t kNew = 0, kStarting = 1, kRunning = 2, kFinished = 3;

  ThreadState(Kind k, std::string n, bool d) : kind(k), name(std::move(n)), daemon(d) {}

  const Kind kind;
  mutable Mutex name_mutex;
  std::string name;  // guarded by name_mutex
  std::atomic<bool> daemon;
  std::atomic<std::uint32_t> phase{kNew};
  std::atomic<std::uint32_t> phase_waiters{0};  // threads asleep on `phase`: wake only if any
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
    return stop_source_locked().request_stop();
  }
  bool stop_requested() {
    MutexGuard g(stop_mutex);
    return stop.stop_requested();
  }

  Mutex stop_mutex;  // guards stop
  std::stop_source stop{std::nostopstate};
  std::stop_source& stop_source_locked() {
    if (!stop.stop_possible()) stop = std::stop_source();
    return stop;
  }

  Mutex handle_mutex;  // guards handle: concurrent join()s reap it once
  std::thread handle;

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

  // Phase changes, and waiting for them. set_phase() makes the system call only when a thread
  // sleeps on the word; the Dekker pair (phase store / waiters load against waiters increment /
  // phase load, all seq_cst) guarantees that either the setter sees the waiter or the waiter
  // sees the new phase.
  void set_phase(std::uint32_t p) noexcept;
  // Waits while phase == from; false if the deadline passed first.
  bool wait_phase_change(std::uint32_t from, const Deadline& deadline) noexcept;
  // Waits until the thread has finished its body; false if the deadline passed first.
  bool wait_finished(const Deadline& deadline) noexcept;
};

}  // namespace concur::detail
