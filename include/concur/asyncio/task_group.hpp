// concur/asyncio/task_group.hpp — aio::TaskGroup: Python 3.11's asyncio.TaskGroup.
//
//   aio::TaskGroup tg;
//   co_await tg.run([&](aio::TaskGroup& g) -> aio::Task<void> {
//     g.create_task(work(8));  g.create_task(work(9));
//     co_return;
//   });
//
// Contract
// - run(fn) awaits fn(group) in the awaiting task (the "async with" body), then waits for every
//   task created in the group, including those that children create on it meanwhile.
// - The first child that fails (an exception other than CancelledError) cancels the body (the
//   awaiting task) and every other child; run() then rethrows it once all have finished. When
//   several failed (the body included), run() throws aio::ExceptionGroup with every error, in
//   the order they happened (Python always raises an ExceptionGroup; here one error arrives as
//   itself).
// - A cancellation of the awaiting task from outside cancels every child and, once they have
//   finished, propagates as CancelledError. The request the group made itself is taken back
//   (uncancel()), so it does not leak out.
// - create_task(coro[, name]) returns the scheduled task; before run() or after the group
//   finished (or while it is shutting down after a failure): RuntimeError. run() once per group.
// - fn is kept in run()'s coroutine frame until run() finishes, so a lambda coroutine that
//   captures by reference, as above, is safe here.
// Loop-thread only; the group must outlive run().
#pragma once

#include <exception>
#include <functional>
#include <list>
#include <string>
#include <utility>
#include <vector>

#include "concur/asyncio/detail/task_core.hpp"
#include "concur/asyncio/event_loop.hpp"
#include "concur/asyncio/task.hpp"

namespace concur::asyncio {

class TaskGroup {
 public:
  TaskGroup() = default;
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  template <class F>
  Task<void> run(F fn) {
    enter();
    std::exception_ptr body_error;
    try {
      co_await std::invoke(fn, *this);
    } catch (...) {
      body_error = std::current_exception();
    }
    co_await exit(std::move(body_error));
  }

  template <class T>
  Task<T> create_task(Task<T>&& coro) {
    check_accepting();
    coro.core()->schedule_on(*loop_);
    adopt(coro.core());
    return std::move(coro);
  }
  template <class T>
  Task<T> create_task(Task<T>&& coro, std::string name) {
    coro.set_name(std::move(name));
    return create_task(std::move(coro));
  }

 private:
  struct Child final : detail::DoneListener {
    Child(TaskGroup* group, detail::TaskCore* core) noexcept : group(group), task(core) {}
    void task_done(detail::TaskCore& t) noexcept override { group->child_done(*this, t); }
    TaskGroup* group;
    TaskRef<> task;
  };
  struct Completion;

  void enter();
  void check_accepting() const;
  void adopt(detail::TaskCore* core);
  void child_done(Child& child, detail::TaskCore& t) noexcept;
  void abort() noexcept;
  Task<void> exit(std::exception_ptr body_error);

  std::list<Child> children_;  // pending children
  std::vector<std::exception_ptr> errors_;
  detail::WaitList on_completed_;
  detail::TaskCore* parent_ = nullptr;
  EventLoop* loop_ = nullptr;
  bool entered_ = false;
  bool exiting_ = false;
  bool aborting_ = false;
  bool finished_ = false;
  bool parent_cancel_requested_ = false;
};

}  // namespace concur::asyncio
