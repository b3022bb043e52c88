// aio::TaskGroup (include/concur/asyncio/task_group.hpp), after CPython's Lib/asyncio/taskgroups.py.
#include "concur/asyncio/task_group.hpp"

namespace concur::asyncio {

// co_await: until no child is pending (or the awaiting task is cancelled).
struct TaskGroup::Completion {
  TaskGroup& group;
  detail::WaitEntry entry;
  bool await_ready() const noexcept { return group.children_.empty(); }
  bool await_suspend(std::coroutine_handle<> h) { return entry.suspend_in(group.on_completed_, h); }
  void await_resume() { entry.resume(); }
};

void TaskGroup::enter() {
  if (entered_) throw RuntimeError("TaskGroup has already been entered");
  parent_ = &detail::TaskCore::require_running("TaskGroup::run()");
  loop_ = parent_->loop();
  entered_ = true;
}

void TaskGroup::check_accepting() const {
  if (!entered_) throw RuntimeError("TaskGroup has not been entered");
  if (finished_ || (exiting_ && children_.empty())) throw RuntimeError("TaskGroup is finished");
  if (aborting_) throw RuntimeError("TaskGroup is shutting down");
}

void TaskGroup::adopt(detail::TaskCore* core) {
  Child& c = children_.emplace_back(this, core);
  core->add_listener(&c);
}

void TaskGroup::abort() noexcept {
  aborting_ = true;
  for (Child& c : children_)
    if (!c.task.done()) c.task.cancel();
}

void TaskGroup::child_done(Child& child, detail::TaskCore& t) noexcept {
  for (auto it = children_.begin(); it != children_.end(); ++it) {
    if (&*it == &child) {
      children_.erase(it);  // the loop still holds the task: nothing is destroyed here
      break;
    }
  }
  if (exiting_ && children_.empty()) on_completed_.wake_all();
  if (t.cancelled() || t.error() == nullptr) return;
  try {
    errors_.push_back(t.error());
  } catch (...) {  // no memory for the list: the error is lost, the group still aborts
  }
  if (!aborting_) abort();
  if (!parent_->done() && !parent_cancel_requested_) {
    parent_cancel_requested_ = true;
    parent_->cancel();
  }
}

Task<void> TaskGroup::exit(std::exception_ptr body_error) {
  exiting_ = true;
  const bool body_cancelled = detail::TaskCore::is_cancellation(body_error);
  std::exception_ptr propagate_cancel = body_cancelled ? body_error : nullptr;
  if (body_error && !body_cancelled && !aborting_) abort();
  while (!children_.empty()) {
    bool cancelled = false;
    try {
      co_await Completion{*this, {}};
    } catch (const CancelledError&) {
      cancelled = true;
    }
    if (cancelled && !aborting_) {
      propagate_cancel = std::make_exception_ptr(CancelledError());
      abort();
    }
  }
  finished_ = true;
  if (parent_cancel_requested_ && parent_->uncancel() == 0) propagate_cancel = nullptr;
  if (propagate_cancel && errors_.empty()) std::rethrow_exception(propagate_cancel);
  if (body_error && !body_cancelled) errors_.push_back(body_error);
  if (errors_.size() == 1) std::rethrow_exception(errors_.front());
  if (!errors_.empty()) throw ExceptionGroup(std::move(errors_));
}

}  // namespace concur::asyncio
