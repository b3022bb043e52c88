// concur/threading/thread.hpp — threading.Thread, the thread registry and the module functions.
//
//   th::Thread t(fn, a, b);                               // target + arguments, copied like std::thread
//   th::Thread t(th::ThreadOptions{.name = "w", .daemon = true}, fn, a, b);
//   t.start();  t.join();  bool done = t.join(100ms);
//   th::Thread c([](std::stop_token st, int n) { ... }, 10);   // cooperative stop:
//   c.start(); c.request_stop(); c.join();                      // the target gets a stop_token
//   struct Countdown : th::Thread { void run() override; };     // or subclass and override run()
//
// Contract
// - start() runs the thread at most once (RuntimeError on a second call) and returns once the
//   new thread is running: ident() and native_id() are set from then on. A start() that throws
//   (RuntimeError "can't start new thread" when the OS refuses one, std::bad_alloc) has started
//   nothing: the Thread is not alive, not listed by enumerate(), keeps its target and may be
//   started again (strong guarantee).
// - join() waits for the end of the thread: RuntimeError if it was never started or is the
//   calling thread. join(timeout) returns false if it is still running after the timeout.
// - The target and its arguments are stored by value (decay-copied, moved into the thread;
//   move-only arguments work). A target whose first parameter is std::stop_token receives the
//   thread's stop token; request_stop() asks it to stop — C++ cannot kill a thread either.
// - A subclass overrides run(); a Thread built from a target runs the target. If the target or
//   run() throws, only that thread ends: the exception goes to the except hook (see
//   set_excepthook), whose default prints "Exception in thread <name>:" and, as Python's last
//   traceback line, the exception's type and what() ("std::runtime_error: boom") to stderr.
// - Destroying a Thread whose thread still runs: a non-daemon thread is joined (a program waits
//   for its non-daemon threads, as Python's does, also at exit()); a daemon thread built from a
//   target is left running on its own; a daemon run() override is joined. Because the base
//   destructor runs after the subclass's, a subclass whose run() uses its own members must be
//   joined before it is destroyed (call join() in its destructor).
// - Thread is movable, not copyable; moving a started subclass instance is undefined (its run()
//   keeps using the old address). Moving a target-built Thread is always fine.
// - Happens-before: everything a thread did before start() happens before the target (or run())
//   begins. Everything the thread did (its body, the except hook, the destruction of its
//   threading.local values) happens before join() returns (join(timeout): returns true), and
//   before is_alive() (also a ThreadRef's) returns false once started; only join() also covers
//   the C++ thread_local destructors that run at the very end of the thread. A request_stop()
//   that returns true happens before stop_requested() or the thread's stop_token reports it.
// - Thread-safety: name/daemon/ident/is_alive/join/request_stop may be called from any thread.
//   start(), assignment and destruction must not race with other calls on the same object.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "concur/deadline.hpp"
#include "concur/detail/unique_function.hpp"
#include "concur/errors.hpp"

namespace concur::detail {
struct ThreadRecord;  // src/threading/thread_record.hpp
}

namespace concur::threading {

// A thread's life-cycle state, as the seeds draw it.
enum class ThreadState {
  NEW,         // created, not started
  RUNNING,     // started and not blocked in a concur wait (it may be runnable or on a CPU)
  BLOCKED,     // asleep in a concur wait: a lock, condition, semaphore, event, barrier, queue,
               // join, sleep or future (a spin before sleeping still counts as RUNNING)
  TERMINATED,  // its body has ended
};
[[nodiscard]] std::string_view to_string(ThreadState state) noexcept;
std::ostream& operator<<(std::ostream& os, ThreadState state);

// What ThreadRef::state() reports: the state, and for a blocked thread what it waits for.
// Compares equal to its ThreadState (`ref.state() == th::ThreadState::BLOCKED`).
struct ThreadStatus {
  ThreadState state = ThreadState::NEW;
  std::string wait_kind;     // BLOCKED: "lock", "rlock", "condition", "semaphore", "event",
                             // "barrier", "queue", "join", "sleep" or "future"; else empty
  std::string waiting_for;   // BLOCKED: e.g. `lock "fork-1" (held by "Philosopher-2")`
  std::vector<std::string> holds;  // locks it is known to hold, e.g. `lock "fork-0"` (see
                                   // dump_threads for what "known" means)
  operator ThreadState() const noexcept { return state; }
  friend bool operator==(const ThreadStatus& s, ThreadState st) noexcept { return s.state == st; }
  friend bool operator==(const ThreadStatus& s, std::string_view name) noexcept {
    return to_string(s.state) == name;  // `ref.state() == "BLOCKED"`
  }
};
std::ostream& operator<<(std::ostream& os, const ThreadStatus& status);

struct ThreadOptions {
  std::string name{};                // empty: "Thread-N"
  std::optional<bool> daemon{};      // unset: inherit the creating thread's daemon flag
};

// A copyable handle on a thread, from current_thread(), main_thread(), enumerate() or
// Thread::ref(). It stays valid after the thread ends (is_alive() then returns false).
class ThreadRef {
 public:
  [[nodiscard]] std::string name() const;
  void set_name(std::string name);
  [[nodiscard]] std::optional<std::uint64_t> ident() const;      // pthread_self() of the thread
  [[nodiscard]] std::optional<std::uint64_t> native_id() const;  // the kernel's thread id (gettid())
  [[nodiscard]] bool daemon() const;
  [[nodiscard]] bool is_alive() const;
  // NEW, RUNNING, BLOCKED (and on what) or TERMINATED; a snapshot.
  [[nodiscard]] ThreadStatus state() const;

  friend bool operator==(const ThreadRef& a, const ThreadRef& b) noexcept { return a.st_ == b.st_; }

  explicit ThreadRef(std::shared_ptr<detail::ThreadRecord> st) noexcept : st_(std::move(st)) {}

 private:
  std::shared_ptr<detail::ThreadRecord> st_;
};

class Thread {
 protected:
  // Tag for Thread-derived classes of concur itself (Timer) whose body is a target: they are
  // never run through run(), so they may be moved and (as daemons) detached like a plain Thread.
  struct TargetOnly {};

 public:
  // A thread with no target: for subclasses that override run() (run() does nothing otherwise).
  Thread();
  explicit Thread(ThreadOptions options);

  // A thread that runs fn(args...) — or fn(stop_token, args...) if fn takes a stop_token first.
  template <class F, class... Args>
    requires(!std::is_base_of_v<Thread, std::remove_cvref_t<F>> &&
             !std::is_same_v<std::remove_cvref_t<F>, ThreadOptions> &&
             !std::is_same_v<std::remove_cvref_t<F>, TargetOnly>)
  explicit Thread(F&& fn, Args&&... args) : Thread(ThreadOptions{}) {
    target_ = bind_target(std::forward<F>(fn), std::forward<Args>(args)...);
    if constexpr (takes_stop_token<F, Args...>) enable_stop_token();
  }
  template <class F, class... Args>
  Thread(ThreadOptions options, F&& fn, Args&&... args) : Thread(std::move(options)) {
    target_ = bind_target(std::forward<F>(fn), std::forward<Args>(args)...);
    if constexpr (takes_stop_token<F, Args...>) enable_stop_token();
  }

  Thread(Thread&& other) noexcept;
  Thread& operator=(Thread&& other) noexcept;
  Thread(const Thread&) = delete;
  Thread& operator=(const Thread&) = delete;
  virtual ~Thread();

  void start();
  void join() { join_until(Deadline::never()); }
  template <class Rep, class Period>
  bool join(std::chrono::duration<Rep, Period> timeout) {
    return join_until(Deadline::after(timeout));
  }
  bool join_until(const Deadline& deadline);

  [[nodiscard]] bool is_alive() const;
  [[nodiscard]] std::string name() const;
  void set_name(std::string name);
  [[nodiscard]] bool daemon() const;
  void set_daemon(bool daemonic);  // RuntimeError once started
  [[nodiscard]] std::optional<std::uint64_t> ident() const;
  [[nodiscard]] std::optional<std::uint64_t> native_id() const;
  [[nodiscard]] ThreadStatus state() const;  // == ref().state()

  // Cooperative stop: the token handed to a stop_token target, also available to run().
  bool request_stop() noexcept;
  [[nodiscard]] bool stop_requested() const noexcept;
  [[nodiscard]] std::stop_token stop_token() const noexcept;

  [[nodiscard]] ThreadRef ref() const;

  // What the thread runs. The default runs the target given at construction, if any.
  virtual void run();

 protected:
  Thread(TargetOnly, detail::UniqueFunction<void(std::stop_token)> body);

  // For Thread and its subclasses with a target (Timer): the target and its arguments bound
  // into one call, checked at compile time (one message at the caller's line if fn cannot be
  // called with copies of the arguments).
  template <class F, class... Args>
  static constexpr bool takes_stop_token =
      std::is_invocable_v<std::decay_t<F>, std::stop_token, std::decay_t<Args>...>;
  void enable_stop_token();  // the thread's stop source exists before the target gets its token

  template <class F, class... Args>
  static detail::UniqueFunction<void(std::stop_token)> bind_target(F&& fn, Args&&... args) {
    using Fn = std::decay_t<F>;
    if constexpr (takes_stop_token<F, Args...>) {
      return [fn = Fn(std::forward<F>(fn)),
              bound = std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...)](
                 std::stop_token token) mutable {
        std::apply([&](auto&... a) { std::invoke(std::move(fn), std::move(token), std::move(a)...); },
                   bound);
      };
    } else if constexpr (!std::is_invocable_v<Fn, std::decay_t<Args>...>) {
      // One message at the caller's line, and no cascade from building the call below.
      static_assert(!std::is_invocable_v<Fn&, std::decay_t<Args>&...>,
                    "concur::threading::Thread: the target takes a non-const reference, but Thread "
                    "copies its arguments; pass std::ref(x) (or std::cref(x)) to share x itself");
      static_assert(std::is_invocable_v<Fn&, std::decay_t<Args>&...>,
                    "concur::threading::Thread: the target cannot be called with these arguments "
                    "(check their number and types against the target's parameters)");
      return {};
    } else {
      return [fn = Fn(std::forward<F>(fn)),
              bound = std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...)](
                 std::stop_token) mutable {
        std::apply([&](auto&... a) { std::invoke(std::move(fn), std::move(a)...); }, bound);
      };
    }
  }

 private:
  void end_of_life() noexcept;  // the destructor rules, shared by ~Thread and operator=

  std::shared_ptr<detail::ThreadRecord> st_;
  detail::UniqueFunction<void(std::stop_token)> target_;
  bool target_only_ = false;  // never dispatch through run() (Timer)
  bool runs_override_ = false;  // started through a subclass's run()
};

// The except hook: called in the dying thread with the exception that escaped its target/run().
struct ExceptHookArgs {
  std::exception_ptr exception;
  std::string thread_name;
  std::optional<ThreadRef> thread;
};
// Replaces the hook for every thread; nullptr restores the default (print to stderr).
void set_excepthook(std::function<void(const ExceptHookArgs&)> hook);
// Calls the current hook with `args`, as Python's threading.excepthook(args): for code that runs
// user work off its own thread's target (actors on a scheduler's workers) and reports what escaped
// it the way a thread would. An exception from a user hook is reported by the default hook, as
// for a thread. Never throws.
void excepthook(const ExceptHookArgs& args) noexcept;

[[nodiscard]] ThreadRef current_thread();
[[nodiscard]] ThreadRef main_thread();
[[nodiscard]] std::vector<ThreadRef> enumerate();  // every live thread: main, concur's, and foreign ones seen
[[nodiscard]] std::size_t active_count();

// A readable report on every live thread, one block per thread: name, ident, native id, daemon
// flag and state; for a BLOCKED thread what it waits for (and the thread that holds that lock);
// the locks it is known to hold: those other threads wait for (every Lock and RLock knows its
// holder), and, while lock-order checking is on (deadlock::enable_lock_order_checking), every
// concur lock it took.
// Safe to call from any thread at any time; it takes each thread's small diagnostics lock briefly.
[[nodiscard]] std::string dump_threads();
[[nodiscard]] std::uint64_t get_ident() noexcept;
[[nodiscard]] std::uint64_t get_native_id() noexcept;

// Suspends the calling thread for at least `duration` (ValueError if negative, as time.sleep).
void sleep_until(const Deadline& deadline);
template <class Rep, class Period>
void sleep(std::chrono::duration<Rep, Period> duration) {
  const double seconds = std::chrono::duration<double>(duration).count();
  if (seconds != seconds) throw ValueError("Invalid value NaN (not a number)");
  if (seconds < 0) throw ValueError("sleep length must be non-negative");
  sleep_until(Deadline::after(duration));
}

}  // namespace concur::threading
