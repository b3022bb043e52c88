// concur/futures/detail/future_state.hpp — the shared state behind a Future: status, outcome,
// waiters, callbacks. Independent of where the work runs: an executor (a thread pool today, a
// process pool or a cluster later) only calls set_running_or_notify_cancel() and then
// set_value()/set_exception(), exactly as CPython's executors drive a Future.
//
// Status word: PENDING -> RUNNING -> FINISHED, or PENDING -> CANCELLED (also PENDING ->
// FINISHED for a future completed by hand). One flag bit rides along:
//   kWatched  waiters, callbacks or listeners were attached: completion must take the lock,
//             signal the waiters and run the callbacks
// so a completion nobody watches is one CAS, and a wait that finds the future done is one load.
//
// Waiting goes through the one waiting seam (detail/wait_node.hpp): a short spin, then a
// WaitNode linked under the state's lock and signaled by the completion — a thread's node
// parks it, a coroutine's (add_waiter) schedules it. A thread running tasks of an executor (a
// pool worker) does not sleep while
// that executor has queued tasks: it runs them meanwhile (help-while-waiting, see HelpSource),
// so a task that waits on another task of its own saturated pool cannot deadlock it.
//
// Happens-before: everything the completer did before set_value()/set_exception()/cancel() is
// visible to a thread whose wait_done() (result(), exception()) returned, and to callbacks.
//
// Thread-safety: all members may be called concurrently. The value is written once, before
// the release that publishes FINISHED, and only read after an acquire that sees it.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "concur/deadline.hpp"
#include "concur/detail/mutex.hpp"
#include "concur/detail/unique_function.hpp"
#include "concur/detail/wait_node.hpp"
#include "concur/futures/detail/call_form.hpp"
#include "concur/detail/wait_site.hpp"

namespace concur::futures::detail {

using concur::Deadline;

// How a thread blocked in result() or exception() appears in thread dumps (wait_site.hpp).
inline constexpr concur::detail::WaitKind kFutureWait{"future", "Future", false, false};

enum class Status : std::uint32_t { kPending = 0, kRunning = 1, kCancelled = 2, kFinished = 3 };

class StateBase;

// Something waiting for several futures at once (wait(), as_completed()): told, under the
// future's lock, when one of them is done. on_done must not block or touch that future's lock.
class Listener {
 public:
  virtual void on_done(StateBase& state) noexcept = 0;

 protected:
  ~Listener() = default;
};

// The executor behind a pool worker's thread, set for that thread by the executor
// (HelpScope). wait_done() asks it to run queued tasks while the worker waits; a task the
// worker runs tells it, just before the task's future completes, that the worker is about to be
// free again (so that whoever the completion wakes and submits next finds it idle).
class HelpSource {
 public:
  virtual bool run_one_queued() = 0;  // false when nothing is queued
  virtual void task_finishing() noexcept = 0;

 protected:
  ~HelpSource() = default;
};

class StateBase {
 public:
  StateBase(const StateBase&) = delete;
  StateBase& operator=(const StateBase&) = delete;

  // ---- ownership (intrusive: a Future, a queued task and a waiter each hold one reference)
  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    // acq_rel: every owner's use of the state happens before its destruction.
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy();
  }

  // ---- status
  Status status() const noexcept {
    return static_cast<Status>(word_.load(std::memory_order_acquire) & kStatusMask);
  }
  bool done() const noexcept { return status() >= Status::kCancelled; }
  bool running() const noexcept { return status() == Status::kRunning; }
  bool cancelled() const noexcept { return status() == Status::kCancelled; }
  // Finished with an exception (false while not finished).
  bool failed() const noexcept { return status() == Status::kFinished && error_ != nullptr; }

  // Python's Future.cancel(): true if now cancelled (also if it already was); false once it
  // runs or has finished.
  bool cancel() noexcept;

  // For executors, as Python's: false if the future was cancelled (do not run it), true if it
  // is now RUNNING. Throws InvalidStateError if it was not pending.
  bool set_running_or_notify_cancel();

  // Finishes the future with an exception. Throws InvalidStateError if already done.
  void set_exception(std::exception_ptr error);
  // For executors: the same, unless the future is already done (returns false then: cancelled,
  // or completed by hand meanwhile). Never throws.
  bool try_set_exception(std::exception_ptr error) noexcept;

  // For executors that run the call elsewhere (another process): fills `form` with the call in
  // a form that can leave this process and returns true, or returns false if it has none
  // (call_form.hpp). A future made by hand has none.
  virtual bool call_form(CallForm& form) noexcept {
    (void)form;
    return false;
  }

  // Blocks until done or the deadline; returns done(). See the header comment for helping.
  bool wait_done(const Deadline& deadline);

  // The outcome, for a done future: throws CancelledError if cancelled; returns the stored
  // exception (nullptr if it finished with a value).
  std::exception_ptr error_after_done() const;

  // Runs `callback` at once (in this thread) if done, otherwise in the thread that completes
  // the future. An exception from a callback is reported on stderr and ignored.
  void add_callback(concur::detail::UniqueFunction<void()> callback);

  // A waiter that cannot block (an action WaitNode: a coroutine): linked unless the future is
  // done (returns false then); signaled when it completes. remove_waiter() returns true if it
  // was still linked (no signal will come), false if it was signaled.
  bool add_waiter(concur::detail::WaitNode& node);
  bool remove_waiter(concur::detail::WaitNode& node) noexcept;

  // Registers a listener unless the future is already done (returns false then).
  bool add_listener(Listener* listener);
  // Unregisters; after it returns, the listener is not being called for this future.
  void remove_listener(Listener* listener) noexcept;

  // The task of an executor-made state: set_running_or_notify_cancel(), call, set the outcome.
  virtual void run() noexcept {}

  // Called by a task between its call and the completion of its future (see HelpSource).
  static void task_finishing() noexcept {
    if (tls_help_ && !tls_helping_) tls_help_->task_finishing();
  }

 protected:
  StateBase() = default;
  virtual ~StateBase() = default;
  virtual void destroy() noexcept { delete this; }

  // Moves to FINISHED (from PENDING or RUNNING) after the derived class stored its value.
  // Returns false (and changes nothing) if the future was already done.
  bool begin_finish() noexcept;  // claim: only the claimer may store the outcome
  void end_finish() noexcept;    // publish FINISHED, wake, run callbacks
  void abandon_finish() noexcept;  // storing the outcome threw: the future stays as it was

 private:
  static constexpr std::uint32_t kStatusMask = 3;
  static constexpr std::uint32_t kFinishing = 4;  // claimed by a completer, outcome being stored
  static constexpr std::uint32_t kWatched = 8;

  void complete(std::uint32_t old_word) noexcept;  // wake and notify after reaching a done state
  bool watch_locked() noexcept;
  static void run_callback(concur::detail::UniqueFunction<void()>& callback) noexcept;

  std::atomic<std::uint32_t> word_{static_cast<std::uint32_t>(Status::kPending)};
  std::atomic<std::uint32_t> refs_{1};
  std::exception_ptr error_;
  concur::detail::Mutex mutex_;  // guards waiters_, callbacks_ and listeners_
  concur::detail::WaitList waiters_;
  std::vector<concur::detail::UniqueFunction<void()>> callbacks_;
  std::vector<Listener*> listeners_;

  friend class HelpScope;
  static thread_local HelpSource* tls_help_;
  static thread_local bool tls_helping_;  // running a queued task inside wait_done()

 public:
  // Marks the current thread as a worker of `source` for its lifetime (RAII).
  class HelpScope;
};

class StateBase::HelpScope {
 public:
  explicit HelpScope(HelpSource* source) noexcept : saved_(tls_help_) { tls_help_ = source; }
  ~HelpScope() { tls_help_ = saved_; }
  HelpScope(const HelpScope&) = delete;
  HelpScope& operator=(const HelpScope&) = delete;

 private:
  HelpSource* saved_;
};

// A state that holds a value of type R (or nothing, for void).
template <class R>
class State : public StateBase {
 public:
  State() noexcept {}
  ~State() override {
    if (has_value_) value_.~R();
  }

  // Finishes the future with a value. Throws InvalidStateError if already done.
  // If storing the value throws (R's constructor), the future stays pending and the
  // exception propagates.
  template <class... A>
  void set_value(A&&... args) {
    if (!begin_finish()) throw_already_done();
    store_or_abandon(std::forward<A>(args)...);
    end_finish();
  }
  // For executors: the task's result; false if the future was already done (cancelled).
  // Throws what storing the value throws, leaving the future pending (the task then fails it
  // with that exception).
  template <class... A>
  bool try_set_value(A&&... args) {
    if (!begin_finish()) return false;
    store_or_abandon(std::forward<A>(args)...);
    end_finish();
    return true;
  }

  // Only after done() with no error.
  R& value() noexcept { return value_; }

 private:
  template <class... A>
  void store_or_abandon(A&&... args) {
    try {
      ::new (static_cast<void*>(&value_)) R(std::forward<A>(args)...);
    } catch (...) {
      abandon_finish();
      throw;
    }
    has_value_ = true;
  }
  [[noreturn]] static void throw_already_done();

  union {
    R value_;
  };
  bool has_value_ = false;
};

template <>
class State<void> : public StateBase {
 public:
  void set_value() {
    if (!begin_finish()) throw_already_done();
    end_finish();
  }
  bool try_set_value() {
    if (!begin_finish()) return false;
    end_finish();
    return true;
  }

 private:
  [[noreturn]] static void throw_already_done();
};

[[noreturn]] void throw_invalid_state(const char* what);

template <class R>
void State<R>::throw_already_done() {
  throw_invalid_state("set_result() on a future that is already done");
}
inline void State<void>::throw_already_done() {
  throw_invalid_state("set_result() on a future that is already done");
}

// An owning pointer to a state (one reference).
class StateRef {
 public:
  StateRef() noexcept = default;
  // Adopts one reference already counted for us.
  explicit StateRef(StateBase* s) noexcept : s_(s) {}
  StateRef(const StateRef& o) noexcept : s_(o.s_) {
    if (s_) s_->add_ref();
  }
  StateRef(StateRef&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  StateRef& operator=(StateRef o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~StateRef() {
    if (s_) s_->release();
  }
  StateBase* get() const noexcept { return s_; }
  StateBase* operator->() const noexcept { return s_; }
  explicit operator bool() const noexcept { return s_ != nullptr; }
  friend bool operator==(const StateRef& a, const StateRef& b) noexcept { return a.s_ == b.s_; }

 private:
  StateBase* s_ = nullptr;
};

}  // namespace concur::futures::detail
