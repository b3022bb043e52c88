// concur/asyncio/tasks.hpp — running tasks: create_task, sleep, gather, wait, wait_for, shield,
// as_completed, current_task, all_tasks, run (Python's asyncio.tasks and asyncio.runners).
//
//   aio::Task<int> t = aio::create_task(work(2));          // scheduled on the running loop
//   co_await aio::sleep(10ms);  co_await aio::sleep(0s);    // 0: yield to the loop
//   auto [a, b] = co_await aio::gather(work(1), work(2));   // std::tuple (void: std::monostate)
//   std::vector<int> v = co_await aio::gather(std::move(tasks));
//   auto r = co_await aio::gather(aio::return_exceptions, work(5), work(6));
//                                                  // each std::variant<T, std::exception_ptr>
//   int e = co_await aio::wait_for(work(7), 1s);    // TimeoutError
//   auto [done, pending] = co_await aio::wait(tasks, 1s, aio::FIRST_COMPLETED);
//   for (auto next : aio::as_completed(tasks)) { int r = co_await next; }
//   int s = co_await aio::shield(t);
//   int r = aio::run(main_task());
//
// Semantics are Python 3.12's:
// - gather schedules every coroutine; the first failure (an exception, or a child's
//   cancellation) is rethrown at once, while the other children go on running (the loop owns
//   them); with return_exceptions every outcome is collected. Cancelling the task that awaits
//   gather cancels every child.
// - wait_for runs its argument as a task of its own; on timeout that task is cancelled and
//   awaited, then TimeoutError is thrown (its result is returned if it finished regardless).
// - wait() never cancels; its [done, pending] are TaskRef vectors in the input's order.
//   An empty vector: ValueError. as_completed(tasks[, timeout]) yields one awaitable per task,
//   each giving the next task to finish (its value, or its exception rethrown); TimeoutError
//   when the timeout passes first.
// - shield(task): cancelling the awaiting task throws CancelledError there; the task runs on.
// - aio::run: a new loop, the main task to completion, then every task still pending is
//   cancelled and run until it has finished, the default executor is shut down, and the loop
//   closed. RuntimeError when a loop already runs in this thread.
// All of these belong to the loop's thread; RuntimeError outside a running loop.
#pragma once

#include <chrono>
#include <coroutine>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "concur/asyncio/detail/task_core.hpp"
#include "concur/asyncio/detail/task_set.hpp"
#include "concur/asyncio/event_loop.hpp"
#include "concur/asyncio/task.hpp"

namespace concur::asyncio {

// ---- create_task ---------------------------------------------------------------------------------

// Schedules the coroutine on the running loop; returns the same task.
template <class T>
Task<T> create_task(Task<T>&& coro) {
  coro.core()->schedule_on(get_running_loop());
  return std::move(coro);
}
template <class T>
Task<T> create_task(Task<T>&& coro, std::string name) {
  coro.set_name(std::move(name));
  return create_task(std::move(coro));
}

namespace detail {
// A handle that owns a share of the task: from a Task rvalue (taken), a Task lvalue or a TaskRef
// (shared).
template <class T>
Task<T> own(Task<T>&& t) noexcept {
  return std::move(t);
}
template <class T>
Task<T> own(Task<T>& t) noexcept {
  return t.share();
}
template <class T>
Task<T> own(const TaskRef<T>& r) noexcept {
  return r->share();
}
// Scheduled on the running loop unless it already is (Python's ensure_future).
template <class T>
void ensure_scheduled(Task<T>& t) {
  if (t.core()->status() == TaskCore::Status::kCreated) t.core()->schedule_on(get_running_loop());
}

// What gather gives for a Task<T>: T, or std::monostate for void.
template <class T>
using GatherValue = std::conditional_t<std::is_void_v<T>, std::monostate, T>;
template <class T>
GatherValue<T> take_value(Task<T>& t) {
  if constexpr (std::is_void_v<T>) {
    t.take_result();
    return {};
  } else {
    return t.take_result();
  }
}
template <class T>
std::variant<GatherValue<T>, std::exception_ptr> take_outcome(Task<T>& t) {
  if (t.cancelled()) return std::make_exception_ptr(CancelledError());
  if (std::exception_ptr e = t.exception()) return e;
  return take_value(t);
}

// Waits for gather's children: throws the first failure (or the cancellation that reached the
// awaiting task); returns when all are done.
inline Task<void> gather_wait(std::vector<TaskCore*> cores, bool return_exceptions) {
  for (TaskCore* c : cores) c->mark_retrieved();
  TaskSetAwait w(std::move(cores),
                 return_exceptions ? TaskSetAwait::kAll : TaskSetAwait::kFirstFailure,
                 std::nullopt, TaskSetAwait::kForwardCancel);
  co_await w;
  if (!return_exceptions && w.first_done() != nullptr)
    std::rethrow_exception(w.first_done()->error());
  if (return_exceptions && w.forwarded()) throw CancelledError();
}

// (The tasks travel as one tuple: g++ 12 cannot copy a parameter pack into a coroutine frame.)
template <class... T>
std::vector<TaskCore*> schedule_tuple(std::tuple<Task<T>...>& tasks) {
  return std::apply(
      [](Task<T>&... t) {
        (ensure_scheduled(t), ...);
        return std::vector<TaskCore*>{t.core()...};
      },
      tasks);
}
template <class... T>
Task<std::tuple<GatherValue<T>...>> gather_tuple(std::tuple<Task<T>...> tasks) {
  co_await gather_wait(schedule_tuple(tasks), false);
  co_return std::apply(
      [](Task<T>&... t) { return std::tuple<GatherValue<T>...>(take_value(t)...); }, tasks);
}
template <class... T>
Task<std::tuple<std::variant<GatherValue<T>, std::exception_ptr>...>> gather_tuple_outcomes(
    std::tuple<Task<T>...> tasks) {
  co_await gather_wait(schedule_tuple(tasks), true);
  co_return std::apply(
      [](Task<T>&... t) {
        return std::tuple<std::variant<GatherValue<T>, std::exception_ptr>...>(
            take_outcome(t)...);
      },
      tasks);
}
template <class T>
Task<std::vector<GatherValue<T>>> gather_vector(std::vector<Task<T>> tasks) {
  std::vector<TaskCore*> cores;
  cores.reserve(tasks.size());
  for (Task<T>& t : tasks) {
    ensure_scheduled(t);
    cores.push_back(t.core());
  }
  co_await gather_wait(std::move(cores), false);
  std::vector<GatherValue<T>> out;
  out.reserve(tasks.size());
  for (Task<T>& t : tasks) out.push_back(take_value(t));
  co_return out;
}
template <class T>
Task<std::vector<std::variant<GatherValue<T>, std::exception_ptr>>> gather_vector_outcomes(
    std::vector<Task<T>> tasks) {
  std::vector<TaskCore*> cores;
  cores.reserve(tasks.size());
  for (Task<T>& t : tasks) {
    ensure_scheduled(t);
    cores.push_back(t.core());
  }
  co_await gather_wait(std::move(cores), true);
  std::vector<std::variant<GatherValue<T>, std::exception_ptr>> out;
  out.reserve(tasks.size());
  for (Task<T>& t : tasks) out.push_back(take_outcome(t));
  co_return out;
}

template <class A>
struct IsTaskVector : std::false_type {};
template <class T>
struct IsTaskVector<std::vector<Task<T>>> : std::true_type {};
}  // namespace detail

// gather's return_exceptions=True.
struct ReturnExceptions {
  explicit constexpr ReturnExceptions() = default;
};
inline constexpr ReturnExceptions return_exceptions{};

// gather(tasks...) / gather(std::vector<Task<T>>): see the header comment.
template <class... A>
auto gather(A&&... tasks) {
  if constexpr (sizeof...(A) == 1 && (detail::IsTaskVector<std::remove_cvref_t<A>>::value && ...)) {
    return detail::gather_vector(std::vector(std::forward<A>(tasks)...));
  } else {
    return detail::gather_tuple(std::tuple(detail::own(std::forward<A>(tasks))...));
  }
}
template <class... A>
auto gather(ReturnExceptions, A&&... tasks) {
  if constexpr (sizeof...(A) == 1 && (detail::IsTaskVector<std::remove_cvref_t<A>>::value && ...)) {
    return detail::gather_vector_outcomes(std::vector(std::forward<A>(tasks)...));
  } else {
    return detail::gather_tuple_outcomes(std::tuple(detail::own(std::forward<A>(tasks))...));
  }
}

// ---- sleep ------------------------------------------------------------------------------------

namespace detail {
class SleepAwaiter final : public Waiter, public TimerNode {
 public:
  explicit SleepAwaiter(std::optional<Clock::time_point> when) noexcept : until_(when) {}
  ~SleepAwaiter() {
    if (queued()) task_->loop()->remove_timer(this);
  }
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    task_ = &TaskCore::require_running("aio::sleep()");
    if (!task_->begin_suspend()) return false;
    if (until_) task_->loop()->add_timer(this, *until_);  // may throw: nothing done yet
    suspended_ = true;
    task_->suspend(h, this);
    if (!until_) {  // sleep(0): yield, back at the end of the ready queue
      woken_ = true;
      task_->wake();
    }
    return true;
  }
  void await_resume() {
    if (!woken_) task_->throw_cancelled();
  }
  void fire() noexcept override {
    woken_ = true;
    task_->wake();
  }
  CancelResult cancel() noexcept override {
    if (!queued()) return CancelResult::kTooLate;
    task_->loop()->remove_timer(this);
    return CancelResult::kDetached;
  }

 private:
  std::optional<Clock::time_point> until_;  // nullopt: yield only
  TaskCore* task_ = nullptr;
  bool suspended_ = false;
  bool woken_ = false;
};
}  // namespace detail

// co_await aio::sleep(d): suspends the task for d (any duration; zero or negative: yields once).
template <class Rep, class Period>
detail::SleepAwaiter sleep(std::chrono::duration<Rep, Period> delay) {
  const Deadline d = Deadline::after(delay);
  if (d.is_immediate()) return detail::SleepAwaiter(std::nullopt);
  return detail::SleepAwaiter(d.is_never() ? detail::Clock::time_point::max() : d.time_point());
}

// ---- wait_for, shield ---------------------------------------------------------------------------

namespace detail {
template <class T>
Task<T> wait_for_impl(Task<T> inner, std::optional<Clock::time_point> deadline) {
  ensure_scheduled(inner);
  bool in_time;
  {
    TaskSetAwait w(inner.core(), TaskSetAwait::kAll, deadline, TaskSetAwait::kForwardCancel);
    in_time = co_await w;
  }
  if (!in_time) {
    inner.cancel();
    TaskSetAwait w(inner.core(), TaskSetAwait::kAll, std::nullopt, TaskSetAwait::kForwardCancel);
    co_await w;
    if (inner.cancelled()) throw TimeoutError("wait_for: the timeout expired");
  }
  co_return inner.take_result();
}

template <class T>
Task<T> shield_impl(Task<T> inner) {
  ensure_scheduled(inner);
  inner.core()->mark_retrieved();  // also when the shield is cancelled and the task goes on
  TaskSetAwait w(inner.core(), TaskSetAwait::kAll);
  co_await w;
  co_return inner.take_result();
}
}  // namespace detail

// wait_for(task, timeout): see the header comment. A timeout of std::nullopt waits forever.
template <class A, class Rep, class Period>
auto wait_for(A&& task, std::chrono::duration<Rep, Period> timeout) {
  return detail::wait_for_impl(detail::own(std::forward<A>(task)), detail::deadline_after(timeout));
}
template <class A>
auto wait_for(A&& task, std::nullopt_t) {
  return detail::wait_for_impl(detail::own(std::forward<A>(task)), std::nullopt);
}

template <class A>
auto shield(A&& task) {
  return detail::shield_impl(detail::own(std::forward<A>(task)));
}

// ---- wait, as_completed -------------------------------------------------------------------------

enum class ReturnWhen { FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED };
inline constexpr ReturnWhen FIRST_COMPLETED = ReturnWhen::FIRST_COMPLETED;
inline constexpr ReturnWhen FIRST_EXCEPTION = ReturnWhen::FIRST_EXCEPTION;
inline constexpr ReturnWhen ALL_COMPLETED = ReturnWhen::ALL_COMPLETED;

// wait()'s result: `auto [done, pending] = co_await aio::wait(...)`.
template <class T>
struct DoneAndPending {
  std::vector<TaskRef<T>> done;
  std::vector<TaskRef<T>> pending;
};

namespace detail {
template <class T>
Task<DoneAndPending<T>> wait_impl(std::vector<TaskRef<T>> refs,
                                  std::optional<Clock::time_point> deadline, ReturnWhen when) {
  if (refs.empty()) throw ValueError("Set of Tasks/Futures is empty.");
  std::vector<TaskCore*> cores;
  cores.reserve(refs.size());
  for (auto& r : refs) cores.push_back(r.core());
  {
    TaskSetAwait w(std::move(cores),
                   when == ReturnWhen::FIRST_COMPLETED   ? TaskSetAwait::kFirstCompleted
                   : when == ReturnWhen::FIRST_EXCEPTION ? TaskSetAwait::kFirstException
                                                         : TaskSetAwait::kAll,
                   deadline);
    co_await w;
  }
  DoneAndPending<T> out;
  for (auto& r : refs) (r.done() ? out.done : out.pending).push_back(std::move(r));
  co_return out;
}

template <class T>
std::vector<TaskRef<T>> schedule_all(std::vector<Task<T>>& tasks) {
  std::vector<TaskRef<T>> refs;
  refs.reserve(tasks.size());
  for (Task<T>& t : tasks) {
    ensure_scheduled(t);
    refs.emplace_back(t);
  }
  return refs;
}
}  // namespace detail

template <class T>
Task<DoneAndPending<T>> wait(std::vector<Task<T>>& tasks, ReturnWhen when = ALL_COMPLETED) {
  return detail::wait_impl(detail::schedule_all(tasks), std::nullopt, when);
}
template <class T, class Rep, class Period>
Task<DoneAndPending<T>> wait(std::vector<Task<T>>& tasks, std::chrono::duration<Rep, Period> timeout,
                             ReturnWhen when = ALL_COMPLETED) {
  return detail::wait_impl(detail::schedule_all(tasks), detail::deadline_after(timeout), when);
}
template <class T>
Task<DoneAndPending<T>> wait(std::vector<TaskRef<T>> tasks, ReturnWhen when = ALL_COMPLETED) {
  return detail::wait_impl(std::move(tasks), std::nullopt, when);
}
template <class T, class Rep, class Period>
Task<DoneAndPending<T>> wait(std::vector<TaskRef<T>> tasks, std::chrono::duration<Rep, Period> timeout,
                             ReturnWhen when = ALL_COMPLETED) {
  return detail::wait_impl(std::move(tasks), detail::deadline_after(timeout), when);
}

namespace detail {
// The shared state of one as_completed(): the tasks, in the order they finish.
template <class T>
class AsCompletedState final : public TimerNode {
 public:
  AsCompletedState(std::vector<TaskRef<T>> tasks, std::optional<Clock::time_point> deadline)
      : tasks_(std::move(tasks)) {
    entries_.reserve(tasks_.size());
    finished_.reserve(tasks_.size());
    for (std::size_t i = 0; i < tasks_.size(); ++i) {
      entries_.emplace_back(this, i);
      if (tasks_[i].done()) finished_.push_back(tasks_[i]);
      else tasks_[i].core()->add_listener(&entries_.back());
    }
    if (deadline && !tasks_.empty()) {
      loop_ = tasks_.front().core()->loop();
      loop_->add_timer(this, *deadline);
    }
  }
  ~AsCompletedState() {
    for (Entry& e : entries_) tasks_[e.index].core()->remove_listener(&e);
    if (queued()) loop_->remove_timer(this);
  }
  std::size_t size() const noexcept { return tasks_.size(); }
  void fire() noexcept override {
    timed_out_ = true;
    waiters_.wake_all();
  }

  // One awaitable of the range.
  class Next {
   public:
    explicit Next(std::shared_ptr<AsCompletedState> s) noexcept : s_(std::move(s)) {}
    bool await_ready() const noexcept { return s_->next_ < s_->finished_.size() || s_->timed_out_; }
    bool await_suspend(std::coroutine_handle<> h) { return entry_.suspend_in(s_->waiters_, h); }
    decltype(auto) await_resume() {
      if (entry_.task() != nullptr) entry_.resume();
      if (s_->next_ >= s_->finished_.size()) throw TimeoutError("as_completed: the timeout expired");
      TaskRef<T> t = s_->finished_[s_->next_++];
      if constexpr (std::is_void_v<T>) t.result();
      else return T(t.result());
    }

   private:
    std::shared_ptr<AsCompletedState> s_;
    WaitEntry entry_;
  };

 private:
  struct Entry final : DoneListener {
    Entry(AsCompletedState* s, std::size_t i) noexcept : state(s), index(i) {}
    void task_done(TaskCore&) noexcept override { state->one_done(index); }
    AsCompletedState* state;
    std::size_t index;  // in tasks_
  };
  void one_done(std::size_t index) noexcept {
    finished_.push_back(tasks_[index]);  // capacity reserved: no allocation here
    waiters_.wake_one();
  }
  std::vector<TaskRef<T>> tasks_;
  std::vector<Entry> entries_;
  std::vector<TaskRef<T>> finished_;
  std::size_t next_ = 0;
  WaitList waiters_;
  EventLoop* loop_ = nullptr;
  bool timed_out_ = false;
};
}  // namespace detail

// The range of as_completed(): size() awaitables.
template <class T>
class AsCompleted {
  using State = detail::AsCompletedState<T>;

 public:
  explicit AsCompleted(std::shared_ptr<State> s) noexcept : s_(std::move(s)) {}
  class iterator {
   public:
    using value_type = typename State::Next;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    iterator(std::shared_ptr<State> s, std::size_t i) : s_(std::move(s)), i_(i) {}
    value_type operator*() const { return value_type(s_); }
    iterator& operator++() {
      ++i_;
      return *this;
    }
    iterator operator++(int) {
      iterator old = *this;
      ++i_;
      return old;
    }
    bool operator==(const iterator& o) const noexcept { return i_ == o.i_; }

   private:
    std::shared_ptr<State> s_;
    std::size_t i_ = 0;
  };
  iterator begin() const { return iterator(s_, 0); }
  iterator end() const { return iterator(s_, s_->size()); }
  std::size_t size() const noexcept { return s_->size(); }

 private:
  std::shared_ptr<State> s_;
};

template <class T>
AsCompleted<T> as_completed(std::vector<Task<T>>& tasks) {
  return AsCompleted<T>(
      std::make_shared<detail::AsCompletedState<T>>(detail::schedule_all(tasks), std::nullopt));
}
template <class T, class Rep, class Period>
AsCompleted<T> as_completed(std::vector<Task<T>>& tasks, std::chrono::duration<Rep, Period> timeout) {
  return AsCompleted<T>(std::make_shared<detail::AsCompletedState<T>>(
      detail::schedule_all(tasks), detail::deadline_after(timeout)));
}

// ---- introspection ------------------------------------------------------------------------------

// The task running now (null outside a task).
inline TaskRef<> current_task() {
  detail::TaskCore* t = detail::TaskCore::running();
  return t ? TaskRef<>(t) : TaskRef<>();
}
// The running loop's tasks that are not done.
inline std::vector<TaskRef<>> all_tasks() {
  std::vector<TaskRef<>> out;
  for (detail::TaskCore* t = get_running_loop().first_task(); t != nullptr; t = t->next_scheduled)
    if (!t->done()) out.emplace_back(t);
  return out;
}

// ---- run ----------------------------------------------------------------------------------------

namespace detail {
// aio::run's end: cancel and drain what is left, shut the default executor down, close.
struct RunFinisher {
  EventLoop& loop;
  bool done = false;
  void finish() {
    done = true;
    loop.cancel_all_tasks();
    loop.shutdown_default_executor();
    loop.close();
  }
  ~RunFinisher() {
    if (!done) {
      try {
        finish();
      } catch (...) {
      }
    }
  }
};
}  // namespace detail

template <class T>
T run(Task<T> main) {
  if (EventLoop::running_loop() != nullptr)
    throw RuntimeError("aio::run() cannot be called from a running event loop");
  EventLoop loop;
  detail::RunFinisher finisher{loop};
  if constexpr (std::is_void_v<T>) {
    loop.run_until_complete(std::move(main));
    finisher.finish();
  } else {
    T result = loop.run_until_complete(std::move(main));
    finisher.finish();
    return result;
  }
}

}  // namespace concur::asyncio
