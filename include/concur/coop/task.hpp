// concur/coop/task.hpp — co::Task: a coroutine that gives the turn back with `co_yield {}`, the
// C++ form of the seed's generator-as-task (`def countdown(n): ... yield ...`).
//
//   co::Task countdown(int n) {
//     while (n > 0) { std::cout << "T-minus " << n << "\n"; co_yield {}; --n; }
//     std::cout << "Blastoff!\n";
//   }
//   co::Task t = countdown(3);     // nothing runs yet (a Python generator starts suspended)
//   while (t.next()) {}            // one step per call: Python's next(t) until StopIteration
//
// Usually a Task is handed to a TaskScheduler (task_scheduler.hpp), which runs many of them in
// round robin.
//
// Contract
// - A function whose return type is co::Task is a coroutine; `co_yield {}` ends a step and
//   gives the turn back, `co_return;` (or falling off the end) finishes it. A Task yields no
//   value; co::Generator (generator.hpp) is the one that does.
// - next() runs the task until its next `co_yield {}` and returns true, or until it finishes
//   and returns false; next() of a finished, closed or moved-from task returns false and runs
//   nothing.
// - Exceptions: an exception that escapes the body leaves the task finished and propagates out
//   of the next() (or TaskScheduler::run()) that ran that step, once. next() from inside the
//   task's own body throws concur::ValueError ("generator already executing"), as Python does.
// - Ownership: a Task is move-only and owns its coroutine frame; the destructor and close()
//   destroy the frame (the body's locals are destroyed as at scope exit). A moved-from Task is
//   empty: done() is true, next() returns false. Bind arguments by value: a reference parameter
//   must outlive the task.
// - Thread-safety: none inside; one thread at a time may use a Task (it may move between threads
//   when the hand-over synchronises, e.g. through a queue or join()).
#pragma once

#include <coroutine>
#include <exception>
#include <utility>

#include "concur/coop/detail/resume.hpp"

namespace concur::coop {

class TaskScheduler;

namespace detail {
// The operand type of `co_yield {}` in a Task: an empty braced list converts to it.
struct Turn {};
}  // namespace detail

class Task {
 public:
  struct promise_type : detail::FrameState {
    Task get_return_object() noexcept {
      return Task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    std::suspend_always yield_value(detail::Turn) noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { error = std::current_exception(); }
  };
  using handle_type = std::coroutine_handle<promise_type>;

  Task() noexcept = default;  // empty, as a moved-from Task
  Task(Task&& other) noexcept : h_(std::exchange(other.h_, nullptr)) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      if (h_) h_.destroy();
      h_ = std::exchange(other.h_, nullptr);
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() {
    if (h_) h_.destroy();
  }

  // One step: true if the task gave the turn back (co_yield {}), false if it has finished (or
  // had already finished, or was closed or moved from). Rethrows the body's exception.
  bool next() {
    if (!h_ || h_.done()) return false;
    detail::resume_once(h_);
    return !h_.done();
  }

  // True once the task has finished (or was closed or moved from).
  [[nodiscard]] bool done() const noexcept { return !h_ || h_.done(); }

  // Destroys the frame now; the task is then empty. Throws concur::ValueError when called from
  // inside the task's own body.
  void close() {
    if (!h_) return;
    if (h_.promise().running) detail::throw_already_executing();
    std::exchange(h_, nullptr).destroy();
  }

 private:
  friend class TaskScheduler;
  explicit Task(handle_type h) noexcept : h_(h) {}
  handle_type release() noexcept { return std::exchange(h_, nullptr); }

  handle_type h_;
};

}  // namespace concur::coop
