// concur/asyncio/task.hpp — aio::Task<T>: a coroutine, and, once scheduled, Python's Task.
//
//   aio::Task<int> work(int x) { co_await aio::sleep(10ms); co_return 2 * x; }
//   int a = co_await work(1);                      // runs work inline (Python's `await coro`)
//   aio::Task<int> t = aio::create_task(work(2));  // scheduled: runs concurrently
//   int b = co_await t;  b = co_await t;           // an lvalue: its result, each time
//   aio::TaskRef<int> r = t;                       // a copyable handle on the same task
//
// Contract
// - Calling a coroutine function runs nothing (the coroutine starts suspended). The Task is
//   then either awaited directly, once, which runs it inline in the awaiting task, or scheduled
//   by create_task() (gather, wait_for, ... schedule theirs), which makes it a task of the
//   running loop.
// - Ownership: Task is move-only; it and every TaskRef share the coroutine, whose frame lives
//   until the last of them is gone and the task is not running. The loop holds a scheduled task
//   until it finishes: dropping every handle never destroys a running coroutine.
// - Python's Task methods: done(), cancelled(), cancel(), cancelling(), uncancel(), result()
//   (InvalidStateError while pending, CancelledError when cancelled, the task's exception
//   rethrown), exception(), add_done_callback(fn) (fn(TaskRef<T>) or fn(), run by the loop once
//   the task is done), get_name()/set_name() ("Task-N" by default).
// - A moved-from or default-constructed Task is empty: valid() is false; only destruction,
//   assignment and valid() may be used.
// - Coroutine frames come from a per-thread block cache (detail/block_cache.hpp).
// - Do not write capturing lambda coroutines: the lambda object (and its captures) dies at the
//   end of the full-expression that called it, while the coroutine is suspended. Pass what the
//   coroutine needs as parameters (by value) to a function or a non-capturing lambda.
// Thread-safety: a task belongs to its loop's thread; use it from there (see
// EventLoop::call_soon_threadsafe and run_coroutine_threadsafe for other threads).
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "concur/asyncio/detail/task_core.hpp"
#include "concur/asyncio/errors.hpp"
#include "concur/detail/block_cache.hpp"

namespace concur::asyncio {

template <class T>
class Task;
template <class T = void>
class TaskRef;

namespace detail {

// Coroutine frames are allocated from the thread's block cache.
struct FrameAllocation {
  static void* operator new(std::size_t size) {
    return concur::detail::BlockCache::allocate(size);
  }
  static void operator delete(void* p, std::size_t size) noexcept {
    concur::detail::BlockCache::deallocate(p, size);
  }
};

template <class T>
struct ValueSlot {
  template <class U = T>
  void return_value(U&& value) {
    value_.emplace(std::forward<U>(value));
  }
  std::optional<T> value_;
};
template <>
struct ValueSlot<void> {
  void return_void() noexcept {}
};

template <class T>
class Promise : public FrameAllocation, public ValueSlot<T> {
 public:
  Promise() noexcept : core(std::coroutine_handle<Promise>::from_promise(*this)) {}
  Task<T> get_return_object() noexcept;
  std::suspend_always initial_suspend() noexcept { return {}; }
  struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> h) noexcept {
      TaskCore& core = h.promise().core;
      const std::coroutine_handle<> next = core.continuation();
      core.finish_with_error();
      return next ? next : std::noop_coroutine();
    }
    void await_resume() const noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { core.set_error(std::current_exception()); }

  TaskCore core;
};

// co_await on a Task: runs a coroutine object inline, or waits for a scheduled task.
template <class T, bool kTake>
class TaskAwaiter final : public Waiter, public DoneListener {
 public:
  explicit TaskAwaiter(TaskCore* core) noexcept : core_(core) {}
  bool await_ready() const noexcept { return core_->done(); }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
    switch (core_->status()) {
      case TaskCore::Status::kCreated:
        core_->start_inline(h);
        return core_->frame();  // symmetric transfer: run the coroutine now, in this task
      case TaskCore::Status::kInline:
        throw RuntimeError("coroutine is being awaited already");
      default:
        break;
    }
    waiting_ = &TaskCore::require_running("awaiting a task");
    if (waiting_ == core_) throw RuntimeError("a task cannot await itself");
    if (!waiting_->begin_suspend()) {
      cancelled_before_ = true;
      return h;
    }
    core_->add_listener(this);
    waiting_->suspend(h, this);
    return std::noop_coroutine();
  }
  decltype(auto) await_resume() {
    if (cancelled_before_) waiting_->throw_cancelled();
    if (std::exception_ptr e = core_->error()) std::rethrow_exception(e);
    if constexpr (std::is_void_v<T>) {
      return;
    } else {
      auto& value = *static_cast<ValueSlot<T>&>(
                         std::coroutine_handle<Promise<T>>::from_address(core_->frame().address())
                             .promise())
                         .value_;
      if constexpr (kTake) return T(std::move(value));
      else return static_cast<const T&>(value);
    }
  }

  CancelResult cancel() noexcept override {
    // As Python: cancelling a task that awaits another task cancels that one too, and the
    // awaiting task wakes when it finishes.
    return core_->cancel() ? CancelResult::kForwarded : CancelResult::kTooLate;
  }
  void task_done(TaskCore&) noexcept override { waiting_->wake(); }

 private:
  TaskCore* core_;
  TaskCore* waiting_ = nullptr;
  bool cancelled_before_ = false;
};

}  // namespace detail

template <class T>
class Task {
 public:
  using promise_type = detail::Promise<T>;
  using value_type = T;

  Task() noexcept = default;
  Task(Task&& other) noexcept : core_(std::exchange(other.core_, nullptr)) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      reset();
      core_ = std::exchange(other.core_, nullptr);
    }
    return *this;
  }
  ~Task() { reset(); }

  bool valid() const noexcept { return core_ != nullptr; }

  // ---- Python's Task -------------------------------------------------------------------------
  bool done() const noexcept { return core_->done(); }
  bool cancelled() const noexcept { return core_->cancelled(); }
  bool cancel() noexcept { return core_->cancel(); }
  int cancelling() const noexcept { return core_->cancelling(); }
  int uncancel() noexcept { return core_->uncancel(); }
  std::string get_name() const { return core_->get_name(); }
  void set_name(std::string name) { core_->set_name(std::move(name)); }

  // The value (a reference into the task, valid while a handle lives); rethrows its error.
  decltype(auto) result() const {
    core_->check_result_ready();
    if (std::exception_ptr e = core_->error()) std::rethrow_exception(e);
    if constexpr (std::is_void_v<T>) return;
    else return static_cast<const T&>(*promise().value_);
  }
  std::exception_ptr exception() const {
    core_->check_result_ready();
    return core_->error();
  }
  template <class F>
  void add_done_callback(F fn);

  auto operator co_await() & noexcept { return detail::TaskAwaiter<T, false>(core_); }
  auto operator co_await() && noexcept { return detail::TaskAwaiter<T, true>(core_); }

  // ---- internal ------------------------------------------------------------------------------
  // result(), its value moved out (the caller holds the last use of it: run_until_complete,
  // gather, wait_for, run_coroutine_threadsafe).
  T take_result() {
    result();  // the checks and the rethrow
    if constexpr (!std::is_void_v<T>) return T(std::move(*promise().value_));
  }
  detail::TaskCore* core() const noexcept { return core_; }
  // Another owning handle on the same task.
  Task share() const noexcept {
    core_->add_ref();
    return Task(core_);
  }
  // Adopts one reference to `core` (whose frame must be a Promise<T>, or any for T = void).
  explicit Task(detail::TaskCore* core) noexcept : core_(core) {}

 private:
  promise_type& promise() const noexcept {
    return std::coroutine_handle<promise_type>::from_address(core_->frame().address()).promise();
  }
  // Null after release, so that even a destructor run twice on one object (GCC PR 100611, a
  // temporary in a co_await expression) cannot release twice.
  void reset() noexcept {
    if (detail::TaskCore* c = std::exchange(core_, nullptr)) c->release();
  }
  detail::TaskCore* core_ = nullptr;
};

// A copyable, pointer-like handle on a task: `ref->result()` and `ref.result()` alike, and
// `co_await ref`. TaskRef<void> (TaskRef<>) refers to a task of any result type, whose result()
// then rethrows its error or returns nothing. Null when default-constructed.
template <class T>
class TaskRef {
 public:
  TaskRef() noexcept = default;
  TaskRef(std::nullptr_t) noexcept {}
  TaskRef(const Task<T>& task) noexcept : task_(task.valid() ? task.share() : Task<T>()) {}
  template <class U, class = std::enable_if_t<std::is_void_v<T> && !std::is_void_v<U>>>
  TaskRef(const Task<U>& task) noexcept : task_(adopt(task.core())) {}
  template <class U, class = std::enable_if_t<std::is_void_v<T> && !std::is_void_v<U>>>
  TaskRef(const TaskRef<U>& ref) noexcept : task_(ref ? adopt(ref->core()) : Task<T>()) {}
  TaskRef(const TaskRef& other) noexcept : TaskRef(other.task_) {}
  // Internal: a new reference to `core` (whose frame is a Promise<T>, or any for T = void).
  explicit TaskRef(detail::TaskCore* core) noexcept : task_(adopt(core)) {}
  TaskRef(TaskRef&&) noexcept = default;
  TaskRef& operator=(const TaskRef& other) noexcept {
    if (this != &other) task_ = other.task_.valid() ? other.task_.share() : Task<T>();
    return *this;
  }
  TaskRef& operator=(TaskRef&&) noexcept = default;

  Task<T>* operator->() const noexcept { return &task_; }
  Task<T>& operator*() const noexcept { return task_; }
  explicit operator bool() const noexcept { return task_.valid(); }
  friend bool operator==(const TaskRef& a, const TaskRef& b) noexcept {
    return a.task_.core() == b.task_.core();
  }
  friend bool operator==(const TaskRef& a, std::nullptr_t) noexcept { return !a.task_.valid(); }

  bool done() const noexcept { return task_.done(); }
  bool cancelled() const noexcept { return task_.cancelled(); }
  bool cancel() noexcept { return task_.cancel(); }
  int cancelling() const noexcept { return task_.cancelling(); }
  int uncancel() noexcept { return task_.uncancel(); }
  std::string get_name() const { return task_.get_name(); }
  void set_name(std::string name) { task_.set_name(std::move(name)); }
  decltype(auto) result() const { return task_.result(); }
  std::exception_ptr exception() const { return task_.exception(); }
  template <class F>
  void add_done_callback(F fn) {
    task_.add_done_callback(std::move(fn));
  }
  auto operator co_await() const noexcept { return task_.operator co_await(); }
  detail::TaskCore* core() const noexcept { return task_.core(); }

 private:
  static Task<T> adopt(detail::TaskCore* core) noexcept {
    core->add_ref();
    return Task<T>(core);
  }
  mutable Task<T> task_;
};

template <class T>
template <class F>
void Task<T>::add_done_callback(F fn) {
  TaskRef<T> self(*this);
  if constexpr (std::is_invocable_v<F&, TaskRef<T>>) {
    core_->add_done_callback([self, fn = std::move(fn)]() mutable { fn(self); });
  } else {
    static_assert(std::is_invocable_v<F&>, "add_done_callback: fn(TaskRef<T>) or fn()");
    core_->add_done_callback([self, fn = std::move(fn)]() mutable { fn(); });
  }
}

namespace detail {
template <class T>
Task<T> Promise<T>::get_return_object() noexcept {
  return Task<T>(&core);
}
}  // namespace detail

}  // namespace concur::asyncio

template <class T>
struct std::hash<concur::asyncio::TaskRef<T>> {
  std::size_t operator()(const concur::asyncio::TaskRef<T>& r) const noexcept {
    return std::hash<const void*>()(r.core());
  }
};
