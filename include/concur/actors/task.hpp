// concur/actors/task.hpp — ac::Task: the coroutine type of an AsyncActor's run().
//
//   ac::Task run() override { for (;;) { Msg m = co_await recv(); ... } }
//   ac::Task helper(int x) { ... co_await recv() ... }     // a step of run(), awaited by it:
//   co_await helper(3);                                     // runs inline, its exception rethrown
//
// Contract
// - A Task starts suspended; an actor's run() Task is started by its Scheduler. A Task awaited
//   by another Task (co_await task) runs at once, inside the awaiting coroutine's turn, and the
//   awaiter resumes when it finishes; its exception (ActorExit included) propagates out of the
//   co_await.
// - Inside an actor, co_await only what the actor offers (recv()) and other Tasks: the actor's
//   worker resumes it, so an awaitable that resumes on a thread of its own is not supported.
// - Move-only; owns its coroutine frame (destroyed with the Task). A Task is used by one thread
//   at a time: its actor's current worker.
#pragma once

#include <coroutine>
#include <exception>
#include <utility>

namespace concur::actors {

namespace detail {
class AsyncActorBase;
// Set by the final step of an actor's run() on the worker that ran it (scheduler.cpp reads it
// once that step has returned): only then may the worker finish the actor off. A worker must
// never touch an actor after resuming it otherwise: the actor may already run elsewhere.
inline thread_local AsyncActorBase* tls_ended_actor = nullptr;
}  // namespace detail

class Task {
 public:
  struct promise_type {
    Task get_return_object() noexcept {
      return Task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct FinalAwaiter {
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        promise_type& p = h.promise();
        if (p.actor) {
          detail::tls_ended_actor = p.actor;  // the worker finishes the actor after this step
          return std::noop_coroutine();
        }
        if (p.continuation) return p.continuation;  // back to the awaiting Task
        return std::noop_coroutine();
      }
      void await_resume() noexcept {}
    };
    FinalAwaiter final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { error = std::current_exception(); }

    std::coroutine_handle<> continuation;     // the Task awaiting this one, if any
    detail::AsyncActorBase* actor = nullptr;  // set on an actor's run() Task
    std::exception_ptr error;                 // what escaped the body
  };
  using handle_type = std::coroutine_handle<promise_type>;

  Task() noexcept = default;
  Task(Task&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() {
    if (h_) h_.destroy();
  }

  // co_await task: runs it now (symmetric transfer), resumes the awaiter when it ends.
  struct Awaiter {
    handle_type h;
    bool await_ready() const noexcept { return !h || h.done(); }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
      h.promise().continuation = awaiting;
      return h;
    }
    void await_resume() {
      if (h && h.promise().error) std::rethrow_exception(std::exchange(h.promise().error, nullptr));
    }
  };
  Awaiter operator co_await() && noexcept { return Awaiter{h_}; }

  [[nodiscard]] handle_type handle() const noexcept { return h_; }
  [[nodiscard]] explicit operator bool() const noexcept { return static_cast<bool>(h_); }

 private:
  explicit Task(handle_type h) noexcept : h_(h) {}
  handle_type h_;
};

}  // namespace concur::actors
