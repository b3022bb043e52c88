// concur/asyncio/event_loop.hpp — aio::EventLoop: Python's asyncio event loop, on epoll.
//
//   aio::EventLoop loop;
//   loop.call_soon(fn);  loop.call_later(50ms, fn);  loop.call_at(loop.time() + 1s, fn);
//   int r = loop.run_until_complete(work(1));
//   loop.call_soon_threadsafe(fn);                 // the only call allowed from other threads
//   loop.add_reader(fd, fn);  loop.remove_reader(fd);  loop.add_writer(fd, fn);  ...
//   loop.run_forever();  loop.stop();  loop.close();
//
// Contract
// - One iteration (Python's _run_once): wait for I/O (epoll, level-triggered) no longer than
//   until the first timer, or not at all when callbacks are ready; queue the callbacks of ready
//   descriptors, of calls from other threads and of due timers; then run the callbacks that
//   were ready at the start of that step, in order. A task's step is such a callback.
// - Callbacks run in the loop's thread. An exception escaping one is reported on stderr
//   (Python's default exception handler) and the loop goes on.
// - Timers: a binary heap with exact cancellation (a cancelled timer leaves it at once).
//   Timers due at the same time run in the order they were scheduled.
// - call_soon_threadsafe(): a lock-free multi-producer list and an eventfd; the eventfd is
//   written only when the loop is asleep in epoll (or about to be).
// - Tasks: the loop holds every scheduled task until it finishes (task.hpp). Destroying a loop
//   that still has pending tasks cancels them and runs until they have finished, as aio::run
//   does; nothing pending is destroyed.
// - One running loop per thread: run_forever()/run_until_complete() while another loop runs in
//   the same thread throw RuntimeError, as does any use after close().
// Thread-safety: only call_soon_threadsafe() (and run_coroutine_threadsafe()) may be called from
// other threads; every other member belongs to the thread that runs the loop.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "concur/asyncio/detail/task_core.hpp"
#include "concur/asyncio/task.hpp"
#include "concur/deadline.hpp"
#include "concur/detail/unique_function.hpp"
#include "concur/errors.hpp"

namespace concur::futures {
class Executor;
class ThreadPoolExecutor;
}  // namespace concur::futures

namespace concur::asyncio {
namespace detail {
struct LoopForkAccess;  // event_loop.cpp: the fork handler

using Clock = std::chrono::steady_clock;

// A user's `timeout` as a time on the loop's clock, by concur::Deadline's rules (deadline.hpp):
// nullopt for "never" (beyond ~31 years); now for zero, negative or NaN.
template <class Rep, class Period>
std::optional<Clock::time_point> deadline_after(std::chrono::duration<Rep, Period> timeout) {
  const Deadline d = Deadline::after(timeout);
  if (d.is_never()) return std::nullopt;
  if (d.is_immediate()) return Clock::now();
  return d.time_point();
}

// An entry of the loop's timer heap. heap_index is the entry's place in the heap, or kNotQueued.
class TimerNode {
 public:
  static constexpr std::size_t kNotQueued = static_cast<std::size_t>(-1);
  virtual void fire() noexcept = 0;  // due: runs in the loop's thread, must not throw
  bool queued() const noexcept { return heap_index != kNotQueued; }
  Clock::time_point when{};
  std::uint64_t seq = 0;
  std::size_t heap_index = kNotQueued;

 protected:
  ~TimerNode() = default;
};

// Something another thread hands to the loop (call_soon_threadsafe, a cf::Future's completion).
class RemoteItem {
 public:
  virtual void run_remote() noexcept = 0;  // in the loop's thread
  RemoteItem* remote_next = nullptr;

 protected:
  ~RemoteItem() = default;
};

// A user callback: call_soon, call_later/call_at, call_soon_threadsafe, add_reader/add_writer.
class Callback final : public TimerNode, public RemoteItem, public ReadyNode {
 public:
  Callback(EventLoop* loop, concur::detail::UniqueFunction<void()> fn)
      : ReadyNode(false), fn(std::move(fn)), loop(loop) {}
  void fire() noexcept override;        // a due timer: queue it
  void run_remote() noexcept override;  // from another thread: queue it
  void run() noexcept;                  // runs fn unless cancelled; reports its exception

  concur::detail::UniqueFunction<void()> fn;
  EventLoop* loop;
  std::atomic<bool> cancelled{false};
  std::shared_ptr<Callback> self;  // keeps it alive while in the heap, the remote list or ready
};

}  // namespace detail

// Python's asyncio.Handle: a scheduled callback. cancel() makes it never run (a timer also
// leaves the loop's heap). Copies refer to the same callback.
class Handle {
 public:
  Handle() = default;
  explicit Handle(std::shared_ptr<detail::Callback> cb) noexcept : cb_(std::move(cb)) {}
  void cancel() noexcept;
  bool cancelled() const noexcept { return cb_ && cb_->cancelled.load(std::memory_order_relaxed); }

 protected:
  std::shared_ptr<detail::Callback> cb_;
};

// Python's asyncio.TimerHandle: call_later()/call_at().
class TimerHandle : public Handle {
 public:
  using Handle::Handle;
  std::chrono::steady_clock::time_point when() const noexcept { return cb_ ? cb_->when : std::chrono::steady_clock::time_point{}; }
};

class EventLoop {
 public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // ---- running -------------------------------------------------------------------------------
  // Runs `task` (scheduling it if it is a coroutine object) until it is done; returns its result
  // or rethrows its exception. RuntimeError if the loop is stopped first.
  template <class T>
  T run_until_complete(Task<T>&& task);
  template <class T>
  T run_until_complete(Task<T>& task);
  void run_forever();  // until stop()
  void stop() noexcept;  // the running loop ends after the current iteration
  void close();          // RuntimeError while running; idempotent
  bool is_running() const noexcept { return running_; }
  bool is_closed() const noexcept { return closed_.load(std::memory_order_relaxed); }
  time_point time() const noexcept { return clock::now(); }

  // Schedules a coroutine as a task of this loop (it runs once the loop does).
  template <class T>
  Task<T> create_task(Task<T>&& coro) {
    check_open();
    coro.core()->schedule_on(*this);
    return std::move(coro);
  }

  // ---- callbacks -----------------------------------------------------------------------------
  // Each takes fn and optional arguments, as Python's call_soon(callback, *args): fn(args...)
  // with copies of the arguments (std::ref(x) to pass x itself).
  template <class F, class... A>
  Handle call_soon(F&& fn, A&&... args) {
    auto cb = make_callback(bind_args(std::forward<F>(fn), std::forward<A>(args)...));
    cb->self = cb;
    queue_ready(cb.get());
    return Handle(std::move(cb));
  }
  template <class Rep, class Period, class F, class... A>
  TimerHandle call_later(std::chrono::duration<Rep, Period> delay, F&& fn, A&&... args) {
    return call_at(detail::deadline_after(delay).value_or(time_point::max()), std::forward<F>(fn),
                   std::forward<A>(args)...);
  }
  template <class F, class... A>
  TimerHandle call_at(time_point when, F&& fn, A&&... args) {
    auto cb = make_callback(bind_args(std::forward<F>(fn), std::forward<A>(args)...));
    add_timer(cb.get(), when);  // may throw (the heap grows): then cb dies here, unscheduled
    cb->self = cb;              // held by the loop until it runs or is cancelled
    return TimerHandle(std::move(cb));
  }
  // From any thread. RuntimeError once the loop is closed.
  template <class F, class... A>
  Handle call_soon_threadsafe(F&& fn, A&&... args) {
    auto cb = make_callback(bind_args(std::forward<F>(fn), std::forward<A>(args)...));
    cb->self = cb;
    push_remote(cb.get());
    return Handle(std::move(cb));
  }

  // ---- file descriptors (level-triggered) ----------------------------------------------------
  // fn(args...) runs while `fd` is readable (writable); a second add replaces the first.
  template <class F, class... A>
  void add_reader(int fd, F&& fn, A&&... args) {
    watch(fd, EPOLLIN, make_callback(bind_args(std::forward<F>(fn), std::forward<A>(args)...)));
  }
  template <class F, class... A>
  void add_writer(int fd, F&& fn, A&&... args) {
    watch(fd, EPOLLOUT, make_callback(bind_args(std::forward<F>(fn), std::forward<A>(args)...)));
  }
  bool remove_reader(int fd) { return unwatch(fd, EPOLLIN); }
  bool remove_writer(int fd) { return unwatch(fd, EPOLLOUT); }

  // ---- executors (defined in asyncio/executor_bridge.hpp) ------------------------------------
  // co_await loop.run_in_executor(ex, fn, args...): fn(args...) submitted to `ex`.
  template <class Fn, class... Args>
  auto run_in_executor(concur::futures::Executor& executor, Fn&& fn, Args&&... args);
  // The executor of to_thread(): a ThreadPoolExecutor made on first use, shut down (waiting) by
  // shutdown_default_executor(), aio::run's end, or the loop's destructor.
  concur::futures::ThreadPoolExecutor& default_executor();
  void shutdown_default_executor();

  // ---- internal ------------------------------------------------------------------------------
  // A task's next step, at the back of the ready queue (no-op if it is there already).
  void schedule(detail::TaskCore* task) noexcept { push_ready(task); }
  void add_timer(detail::TimerNode* node, time_point when);
  void remove_timer(detail::TimerNode* node) noexcept;
  void push_remote(detail::RemoteItem* item);  // any thread
  // A callback whose `self` holds it, at the back of the ready queue (once).
  void queue_ready(detail::Callback* cb) noexcept { push_ready(cb); }
  void task_scheduled(detail::TaskCore* task) noexcept;  // create_task: link, hold
  // Runs until `task` is done (RuntimeError if stopped first).
  void run_until_done(detail::TaskCore* task);
  // Cancels every pending task and runs until all have finished (aio::run's end).
  void cancel_all_tasks();
  detail::TaskCore* first_task() const noexcept { return tasks_head_; }
  static EventLoop* running_loop() noexcept { return tls_running; }
  struct TimerEntry {  // an element of the timer heap
    time_point when;
    std::uint64_t seq;
    detail::TimerNode* node;
  };
  // A hook for the modules built on the loop (streams): fn() runs in the loop's destructor,
  // once its pending tasks have finished and before its descriptors are closed; it must not
  // use the loop. Hooks run in the reverse order of registration.
  void at_teardown(concur::detail::UniqueFunction<void()> fn) {
    teardown_.push_back(std::move(fn));
  }

 private:
  struct Watch {
    std::shared_ptr<detail::Callback> reader, writer;
  };

  template <class F>
  std::shared_ptr<detail::Callback> make_callback(F&& fn) {
    check_open();
    return std::make_shared<detail::Callback>(
        this, concur::detail::UniqueFunction<void()>(std::forward<F>(fn)));
  }
  // fn itself when there are no arguments; else a callable holding copies of them.
  template <class F, class... A>
  static decltype(auto) bind_args(F&& fn, A&&... args) {
    if constexpr (sizeof...(A) == 0) {
      return std::forward<F>(fn);
    } else {
      return [fn = std::forward<F>(fn),
              tup = std::make_tuple(std::forward<A>(args)...)]() mutable { std::apply(fn, tup); };
    }
  }
  void check_open() const;
  void watch(int fd, std::uint32_t event, std::shared_ptr<detail::Callback> cb);
  void queue_watch(const std::shared_ptr<detail::Callback>& cb) noexcept;
  bool unwatch(int fd, std::uint32_t event);
  void run_once();
  void poll_io(int timeout_ms);
  void drain_remote() noexcept;
  void run_due_timers();
  void heap_up(std::size_t i) noexcept;
  void heap_down(std::size_t i) noexcept;
  void heap_swap(std::size_t a, std::size_t b) noexcept;
  void enter_running();
  void leave_running() noexcept;
  // This loop runs in this thread for the guard's scope (RuntimeError if it cannot).
  struct Running {
    explicit Running(EventLoop& l) : loop(l) { l.enter_running(); }
    ~Running() { loop.leave_running(); }
    Running(const Running&) = delete;
    Running& operator=(const Running&) = delete;
    EventLoop& loop;
  };

  friend struct detail::LoopForkAccess;
  static inline thread_local EventLoop* tls_running = nullptr;

  // The ready queue: an intrusive FIFO (detail::ReadyNode).
  detail::ReadyNode* ready_head_ = nullptr;
  detail::ReadyNode* ready_tail_ = nullptr;
  void push_ready(detail::ReadyNode* node) noexcept {
    if (node->in_ready) return;
    node->in_ready = true;
    node->ready_next = nullptr;
    if (ready_tail_) ready_tail_->ready_next = node; else ready_head_ = node;
    ready_tail_ = node;
  }
  void run_ready(detail::ReadyNode* node) noexcept;

  std::vector<TimerEntry> heap_;
  std::uint64_t timer_seq_ = 0;

  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // eventfd for push_remote()
  std::unordered_map<int, Watch> watches_;
  std::vector<epoll_event> events_;

  // Remote list: producers push with a CAS; the loop takes it whole. sleeping_ and
  // wake_pending_ decide whether a producer must write the eventfd (see push_remote()).
  std::atomic<detail::RemoteItem*> remote_head_{nullptr};
  std::atomic<bool> sleeping_{false};
  std::atomic<bool> wake_pending_{false};

  detail::TaskCore* tasks_head_ = nullptr;  // scheduled tasks not finished (intrusive list)
  std::vector<concur::detail::UniqueFunction<void()>> teardown_;
  std::unique_ptr<concur::futures::ThreadPoolExecutor> default_executor_;
  EventLoop* saved_running_ = nullptr;
  bool running_ = false;
  bool stopping_ = false;
  bool polled_last_ = false;  // the previous iteration looked for I/O
  // Read by call_soon_threadsafe() in other threads (its RuntimeError after close()).
  std::atomic<bool> closed_{false};
};

// The loop running in this thread; RuntimeError("no running event loop") outside one.
EventLoop& get_running_loop();

template <class T>
T EventLoop::run_until_complete(Task<T>&& task) {
  if (!task.done()) {
    if (task.core()->status() == detail::TaskCore::Status::kCreated) task.core()->schedule_on(*this);
    run_until_done(task.core());
  }
  return task.take_result();
}
template <class T>
T EventLoop::run_until_complete(Task<T>& task) {
  Task<T> shared = task.share();
  if (!shared.done()) {
    if (shared.core()->status() == detail::TaskCore::Status::kCreated)
      shared.core()->schedule_on(*this);
    run_until_done(shared.core());
  }
  if constexpr (std::is_void_v<T>) return shared.result();
  else return T(shared.result());
}

}  // namespace concur::asyncio
