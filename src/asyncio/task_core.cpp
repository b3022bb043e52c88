// The task side of concur::asyncio (include/concur/asyncio/detail/task_core.hpp).
#include "concur/asyncio/detail/task_core.hpp"

#include <atomic>
#include <string>

#include "concur/asyncio/event_loop.hpp"
#include "concur/asyncio/timeouts.hpp"
#include "concur/detail/text.hpp"

namespace concur::asyncio::detail {
namespace {
// Task names count in the whole process, as Python's _task_name_counter.
std::atomic<std::uint64_t> g_task_counter{0};
}  // namespace

TaskCore& TaskCore::require_running(const char* what) {
  if (tls_running == nullptr)
    throw RuntimeError(std::string(what) + " must be awaited inside a task of a running loop");
  return *tls_running;
}

void TaskCore::set_name(std::string name) {
  if (name_) *name_ = std::move(name);
  else name_ = std::make_unique<std::string>(std::move(name));
}

std::string TaskCore::get_name() const {
  if (name_) return *name_;
  if (id_ == 0) return "coroutine";
  return "Task-" + std::to_string(id_);
}

bool TaskCore::is_cancellation(const std::exception_ptr& e) noexcept {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const CancelledError&) {
    return true;
  } catch (...) {
    return false;
  }
}

void TaskCore::check_result_ready() const {
  if (!done()) throw InvalidStateError("Result is not set.");
  if (status_ == Status::kCancelled) throw CancelledError();
}

bool TaskCore::cancel() noexcept {
  if (done()) return false;
  ++cancel_requests_;
  if (status_ == Status::kScheduled && waiter_ != nullptr) {
    Waiter* w = waiter_;
    switch (w->cancel()) {
      case CancelResult::kDetached:
        must_cancel_ = true;
        wake();
        return true;
      case CancelResult::kForwarded:
        return true;
      case CancelResult::kTooLate:
        break;
    }
  }
  must_cancel_ = true;
  return true;
}

int TaskCore::uncancel() noexcept {
  if (cancel_requests_ > 0) {
    --cancel_requests_;
    // As Python 3.13: no request left, none to deliver (a timeout that fired while the task was
    // not suspended, then left its block, must not hit a later co_await).
    if (cancel_requests_ == 0) must_cancel_ = false;
  }
  return cancel_requests_;
}

void TaskCore::wake() noexcept {
  waiter_ = nullptr;
  loop_->schedule(this);  // once: a task already in the ready queue stays where it is
}

void TaskCore::throw_cancelled() {
  must_cancel_ = false;
  if (timeouts != nullptr && TimeoutScope::convert_at_cancellation(*this))
    throw TimeoutError("the timeout expired");
  throw CancelledError();
}

void TaskCore::schedule_on(EventLoop& loop) {
  if (status_ != Status::kCreated)
    throw RuntimeError("this coroutine was already awaited or scheduled");
  loop_ = &loop;
  status_ = Status::kScheduled;
  id_ = g_task_counter.fetch_add(1, std::memory_order_relaxed) + 1;
  loop.task_scheduled(this);  // the loop's reference
  loop.schedule(this);
}

void TaskCore::step() noexcept {
  waiter_ = nullptr;
  RunningScope scope(this);
  if (!started_) {
    started_ = true;
    if (must_cancel_) {  // cancelled before it started: its body never runs
      must_cancel_ = false;
      finish(std::make_exception_ptr(CancelledError()));
      return;
    }
    resume_at_ = frame_;
  }
  resume_at_.resume();
}

void TaskCore::finish(std::exception_ptr error) noexcept {
  error_ = std::move(error);
  const bool inline_run = status_ == Status::kInline;
  status_ = is_cancellation(error_) ? Status::kCancelled : Status::kFinished;
  if (inline_run) return;
  while (DoneListener* l = listeners_) {
    remove_listener(l);
    l->task_done(*this);
  }
  if (callbacks_ != nullptr) {
    for (auto& fn : *callbacks_) {
      try {
        loop_->call_soon(std::move(fn));
      } catch (...) {  // a closed loop or no memory: the callback is dropped, as Python would
      }
    }
    delete callbacks_;
    callbacks_ = nullptr;
  }
}

void TaskCore::add_done_callback(concur::detail::UniqueFunction<void()> fn) {
  if (done()) {
    if (loop_ != nullptr && !loop_->is_closed()) loop_->call_soon(std::move(fn));
    else fn();
    return;
  }
  if (callbacks_ == nullptr) callbacks_ = new std::vector<concur::detail::UniqueFunction<void()>>;
  callbacks_->push_back(std::move(fn));
}

void TaskCore::add_listener(DoneListener* l) noexcept {
  l->prev_ = listeners_tail_;
  l->next_ = nullptr;
  if (listeners_tail_) listeners_tail_->next_ = l; else listeners_ = l;
  listeners_tail_ = l;
  l->linked_ = true;
}

void TaskCore::remove_listener(DoneListener* l) noexcept {
  if (!l->linked_) return;
  if (l->prev_) l->prev_->next_ = l->next_; else listeners_ = l->next_;
  if (l->next_) l->next_->prev_ = l->prev_; else listeners_tail_ = l->prev_;
  l->prev_ = l->next_ = nullptr;
  l->linked_ = false;
}

TaskCore::~TaskCore() {
  delete callbacks_;
  // As Python's Task.__del__: a failure nobody looked at is reported, not lost silently.
  if (status_ == Status::kFinished && error_ != nullptr && !retrieved_) {
    try {
      concur::detail::write_stderr("Task exception was never retrieved\nfuture: <Task finished name='" +
                                   get_name() + "' exception=" +
                                   concur::detail::describe_exception(error_) + ">\n");
    } catch (...) {  // no memory for the text: the short form
      concur::detail::write_stderr("Task exception was never retrieved\n");
    }
  }
}

}  // namespace concur::asyncio::detail
