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
  std::atomic<std::uint64_t> ident{0};      // 0 until the thread runs
  std::atomic<std::uint64_t> native_id{0};
  std::stop_source stop;

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
  bool alive() const noexcept { return phase.load(std::memory_order_acquire) == kRunning; }
};

}  // namespace concur::detail
