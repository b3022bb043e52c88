// concur/asyncio/bridges.hpp — between coroutines and threads: awaiting a cf::Future,
// to_thread, run_in_executor, run_coroutine_threadsafe.
//
//   int h = co_await some_cf_future;                       // a cf::Future<int> of any executor
//   int f = co_await aio::to_thread(blocking_fn, 5);       // the loop's default executor
//   int g = co_await loop.run_in_executor(pool, blocking_fn, 5);   // any cf::Executor
//   cf::Future<int> r = aio::run_coroutine_threadsafe(work(1), loop);  // from another thread
//
// Contract
// - Awaiting a cf::Future suspends the task (no thread blocks) until the future is done, then
//   gives its result or rethrows its exception; the waiter is an action node of the one
//   waiting seam (detail/wait_node.hpp) whose action hands the task to its loop through the
//   loop's remote queue. Cancelling the awaiting task cancels the future too (it succeeds only
//   while the call has not started, as cf::Future::cancel) and throws CancelledError at once.
// - to_thread/run_in_executor submit fn(args...) when called (arguments copied, as submit()).
// - run_coroutine_threadsafe(coro, loop): from any thread; the coroutine becomes a task of
//   `loop` and the returned cf::Future gets its outcome (CancelledError if it was cancelled).
#pragma once

#include <coroutine>
#include <exception>
#include <type_traits>
#include <utility>

#include "concur/asyncio/detail/task_core.hpp"
#include "concur/asyncio/event_loop.hpp"
#include "concur/asyncio/task.hpp"
#include "concur/detail/wait_node.hpp"
#include "concur/futures/executor.hpp"
#include "concur/futures/future.hpp"
#include "concur/futures/thread_pool.hpp"

namespace concur::asyncio {
namespace detail {

template <class R>
class FutureAwaiter final : public Waiter, public RemoteItem {
 public:
  explicit FutureAwaiter(concur::futures::Future<R> future) noexcept
      : future_(std::move(future)), node_(&FutureAwaiter::on_signal, this) {}
  FutureAwaiter(FutureAwaiter&& other) noexcept
      : future_(std::move(other.future_)), node_(&FutureAwaiter::on_signal, this) {}

  bool await_ready() const noexcept { return future_.done(); }
  bool await_suspend(std::coroutine_handle<> h) {
    task_ = &TaskCore::require_running("awaiting a cf::Future");
    if (!task_->begin_suspend()) {
      cancelled_before_ = true;
      return false;
    }
    // Everything on_signal() reads is written before the node is armed (it may run at once, in
    // the completing thread). The task itself is only touched by the loop's thread, after this
    // step: the remote wake-up is processed there.
    loop_ = task_->loop();
    if (!future_.state_ptr()->add_waiter(node_)) return false;  // done meanwhile
    if (!node_.arm()) return false;  // signaled before we armed: done
    suspended_ = true;
    task_->suspend(h, this);
    return true;
  }
  R await_resume() {
    if (cancelled_before_ || (suspended_ && !woken_)) task_->throw_cancelled();
    if constexpr (std::is_void_v<R>) future_.result();
    else return R(future_.result());
  }

  CancelResult cancel() noexcept override {
    if (!future_.state_ptr()->remove_waiter(node_)) return CancelResult::kTooLate;
    future_.cancel();  // as Python's wrap_future: the call never runs if it has not started
    return CancelResult::kDetached;
  }
  void run_remote() noexcept override {
    woken_ = true;
    task_->wake();
  }

 private:
  // In the completing thread, under the future's lock: only hand the task to its loop.
  static void on_signal(void* self) noexcept {
    auto* me = static_cast<FutureAwaiter*>(self);
    me->loop_->push_remote(me);
  }

  concur::futures::Future<R> future_;
  concur::detail::WaitNode node_;
  TaskCore* task_ = nullptr;
  EventLoop* loop_ = nullptr;
  bool cancelled_before_ = false;
  bool suspended_ = false;
  bool woken_ = false;
};

}  // namespace detail

template <class Fn, class... Args>
auto EventLoop::run_in_executor(concur::futures::Executor& executor, Fn&& fn, Args&&... args) {
  auto future = executor.submit(std::forward<Fn>(fn), std::forward<Args>(args)...);
  return detail::FutureAwaiter<typename decltype(future)::value_type>(std::move(future));
}

// co_await aio::to_thread(fn, args...): fn(args...) on the running loop's default executor.
template <class Fn, class... Args>
auto to_thread(Fn&& fn, Args&&... args) {
  EventLoop& loop = get_running_loop();
  return loop.run_in_executor(loop.default_executor(), std::forward<Fn>(fn),
                              std::forward<Args>(args)...);
}

// From any thread: runs `coro` as a task of `loop`; the future gets its outcome.
template <class T>
concur::futures::Future<T> run_coroutine_threadsafe(Task<T> coro, EventLoop& loop) {
  concur::futures::Future<T> future;
  loop.call_soon_threadsafe([future, coro = std::move(coro), &loop]() mutable {
    if (!future.set_running_or_notify_cancel()) return;  // cancelled before it started
    try {
      coro.core()->schedule_on(loop);
    } catch (...) {
      future.set_exception(std::current_exception());
      return;
    }
    coro.add_done_callback([future](TaskRef<T> t) mutable {
      try {
        if (t.cancelled()) future.set_exception(std::make_exception_ptr(CancelledError()));
        else if (std::exception_ptr e = t.exception()) future.set_exception(e);
        else if constexpr (std::is_void_v<T>) future.set_result();
        else future.set_result(t->take_result());
      } catch (...) {
        future.set_exception(std::current_exception());
      }
    });
  });
  return future;
}

}  // namespace concur::asyncio

namespace concur::futures {
// `co_await f` for a cf::Future inside an aio task (found by argument-dependent lookup).
template <class R>
auto operator co_await(const Future<R>& f) noexcept {
  return concur::asyncio::detail::FutureAwaiter<R>(f);
}
}  // namespace concur::futures
