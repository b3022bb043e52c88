// concur/asyncio/detail/task_set.hpp — waiting for a set of tasks: the one awaiter behind
// gather, wait, wait_for, shield and as_completed.
//
//   TaskSetAwait w(cores, TaskSetAwait::kFirstFailure, deadline, TaskSetAwait::kForwardCancel);
//   bool in_time = co_await w;   // false: the deadline passed first
//
// Modes: kAll (every task done), kFirstCompleted (any), kFirstException (any finished with an
// exception other than CancelledError, else all), kFirstFailure (any exception, cancellation
// included, else all: gather's rule). first_done() is the task whose completion satisfied the
// wait (null for kAll or a timeout).
// Cancellation of the awaiting task: with kForwardCancel, every task of the set is cancelled
// and the wait goes on (gather, wait_for: Python's outer.cancel()); forwarded() says it
// happened. Otherwise the wait ends at once with CancelledError and the tasks run on (wait,
// shield). Loop-thread only.
#pragma once

#include <chrono>
#include <coroutine>
#include <memory>
#include <optional>
#include <vector>

#include "concur/asyncio/detail/task_core.hpp"
#include "concur/asyncio/event_loop.hpp"

namespace concur::asyncio::detail {

class TaskSetAwait final : public Waiter, public TimerNode {
 public:
  enum Mode { kAll, kFirstCompleted, kFirstException, kFirstFailure };
  enum CancelMode { kDetachOnCancel, kForwardCancel };

  TaskSetAwait(std::vector<TaskCore*> tasks, Mode mode,
               std::optional<Clock::time_point> deadline = std::nullopt,
               CancelMode cancel_mode = kDetachOnCancel)
      : mode_(mode), cancel_mode_(cancel_mode), deadline_(deadline) {
    if (tasks.size() == 1) {
      single_.init(this, tasks.front());
    } else {
      many_ = std::make_unique<Entry[]>(tasks.size());
      entries_ = many_.get();
      for (std::size_t i = 0; i < tasks.size(); ++i) many_[i].init(this, tasks[i]);
    }
    count_ = tasks.size();
  }
  // One task (wait_for, shield): no allocation.
  TaskSetAwait(TaskCore* task, Mode mode, std::optional<Clock::time_point> deadline = std::nullopt,
               CancelMode cancel_mode = kDetachOnCancel)
      : mode_(mode), cancel_mode_(cancel_mode), deadline_(deadline) {
    single_.init(this, task);
    count_ = 1;
  }
  ~TaskSetAwait() { detach(); }
  TaskSetAwait(const TaskSetAwait&) = delete;
  TaskSetAwait& operator=(const TaskSetAwait&) = delete;

  bool await_ready() noexcept {
    if (satisfied_now()) return true;
    if (deadline_ && *deadline_ <= Clock::now()) {
      timed_out_ = true;
      return true;
    }
    return false;
  }
  bool await_suspend(std::coroutine_handle<> h) {
    waiting_ = &TaskCore::require_running("waiting for tasks");
    if (!waiting_->begin_suspend()) {
      cancelled_before_ = true;
      return false;
    }
    pending_ = 0;
    for (Entry& e : *this) {
      if (!e.task->done()) {
        e.task->add_listener(&e);
        ++pending_;
      }
    }
    if (deadline_) waiting_->loop()->add_timer(this, *deadline_);
    suspended_ = true;
    waiting_->suspend(h, this);
    return true;
  }
  // true: the condition holds; false: the deadline passed first.
  bool await_resume() {
    if (cancelled_before_ || (suspended_ && !woken_)) waiting_->throw_cancelled();
    return !timed_out_;
  }

  TaskCore* first_done() const noexcept { return first_done_; }
  bool forwarded() const noexcept { return forwarded_; }

  CancelResult cancel() noexcept override {
    if (woken_) return CancelResult::kTooLate;
    if (cancel_mode_ == kForwardCancel) {
      forwarded_ = true;
      bool any = false;
      for (Entry& e : *this) any = e.task->cancel() || any;
      return any ? CancelResult::kForwarded : CancelResult::kTooLate;
    }
    detach();
    return CancelResult::kDetached;
  }
  void fire() noexcept override {  // the deadline
    timed_out_ = true;
    wake();
  }

 private:
  struct Entry final : DoneListener {
    void init(TaskSetAwait* o, TaskCore* t) noexcept {
      owner = o;
      task = t;
    }
    void task_done(TaskCore& t) noexcept override { owner->one_done(t); }
    TaskSetAwait* owner = nullptr;
    TaskCore* task = nullptr;
  };
  Entry* begin() noexcept { return entries_; }
  Entry* end() noexcept { return entries_ + count_; }

  static bool failed(const TaskCore& t, bool count_cancel) noexcept {
    return t.failed() && (count_cancel || !t.cancelled());
  }
  bool satisfied_now() noexcept {
    bool all = true;
    for (Entry& e : *this) {
      if (!e.task->done()) {
        all = false;
        continue;
      }
      if (mode_ == kFirstCompleted || (mode_ == kFirstException && failed(*e.task, false)) ||
          (mode_ == kFirstFailure && failed(*e.task, true))) {
        first_done_ = e.task;
        return true;
      }
    }
    return all;
  }
  void one_done(TaskCore& t) noexcept {
    if (woken_) return;
    const bool hit = mode_ == kFirstCompleted ||
                     (mode_ == kFirstException && failed(t, false)) ||
                     (mode_ == kFirstFailure && failed(t, true));
    if (hit) {
      first_done_ = &t;
      wake();
      return;
    }
    if (--pending_ == 0) wake();  // a count, not a scan: gather of a million tasks stays linear
  }
  void wake() noexcept {
    woken_ = true;
    detach();
    waiting_->wake();
  }
  void detach() noexcept {
    for (Entry& e : *this) e.task->remove_listener(&e);
    if (queued() && waiting_ != nullptr) waiting_->loop()->remove_timer(this);
  }

  Entry single_;                  // the entry of a one-task wait
  std::unique_ptr<Entry[]> many_;  // or the entries of several
  Entry* entries_ = &single_;
  std::size_t count_ = 0;
  std::size_t pending_ = 0;  // linked entries whose task is not done
  Mode mode_;
  CancelMode cancel_mode_;
  std::optional<Clock::time_point> deadline_;
  TaskCore* waiting_ = nullptr;
  TaskCore* first_done_ = nullptr;
  bool cancelled_before_ = false;
  bool suspended_ = false;
  bool woken_ = false;
  bool timed_out_ = false;
  bool forwarded_ = false;
};

}  // namespace concur::asyncio::detail
