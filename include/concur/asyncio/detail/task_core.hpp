// concur/asyncio/detail/task_core.hpp — what a scheduled task is to its loop (Python's Task
// object without the coroutine), and the one protocol by which a task suspends and wakes.
//
// A task is a chain of coroutine frames: the outermost one was scheduled (create_task), the
// inner ones were awaited directly (`co_await work(1)` runs work inline, as Python's
// `await coro` does). Only the outermost frame's TaskCore is "the task": the loop resumes it,
// its status and cancellation counts are Python's. Frames awaited directly use their TaskCore
// for their result only.
//
// Suspension protocol, used by every awaiter of concur::asyncio (sleep, a Lock, a Queue, a
// stream, another task, a cf::Future):
//   await_suspend(h):  Suspension s = TaskCore::running();        // the task running now
//                      if (!s.task->begin_suspend()) return false;  // a cancellation is pending
//                      link into what we wait on; s.task->suspend(h, this_waiter); return true;
//   the waker:         task->wake();   // schedules the task on its loop (call_soon order)
//   await_resume():    if we were not woken: task->throw_cancelled();   // CancelledError
// A task cancelled while suspended asks its Waiter to detach (Waiter::cancel()); see there.
//
// Thread-safety: a TaskCore belongs to its loop's thread. The only cross-thread entry is
// EventLoop::call_soon_threadsafe() (and the remote wake-ups it is built on).
#pragma once

#include <coroutine>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "concur/asyncio/errors.hpp"
#include "concur/detail/unique_function.hpp"

namespace concur::asyncio {
class EventLoop;
namespace detail {

class TaskCore;
class TimeoutScope;

// An entry of a loop's ready queue (an intrusive FIFO, so that waking a task or queueing a due
// callback never allocates): a task's next step, or a callback. In the queue at most once.
class ReadyNode {
 public:
  explicit ReadyNode(bool is_task) noexcept : is_task(is_task) {}
  ReadyNode* ready_next = nullptr;
  const bool is_task;
  bool in_ready = false;

 protected:
  ~ReadyNode() = default;
};

// What a cancelled Waiter did about it.
enum class CancelResult {
  kDetached,   // it unlinked itself and will never wake the task: the task is scheduled now and
               // its awaiter throws CancelledError
  kForwarded,  // it passed the cancellation on (to an awaited task), whose completion wakes us
  kTooLate,    // the wake-up was already scheduled: the task resumes normally and the
               // cancellation is delivered at its next suspension (Python's _must_cancel)
};

// What a suspended task waits on.
class Waiter {
 public:
  virtual CancelResult cancel() noexcept = 0;

 protected:
  ~Waiter() = default;
};

// Told when a task finishes (awaiting tasks, gather, wait, TaskGroup). Intrusive.
class DoneListener {
 public:
  virtual void task_done(TaskCore& task) noexcept = 0;

 protected:
  ~DoneListener() = default;

 private:
  friend class TaskCore;
  DoneListener* prev_ = nullptr;
  DoneListener* next_ = nullptr;
  bool linked_ = false;
};

class TaskCore : public ReadyNode {
 public:
  enum class Status : std::uint8_t {
    kCreated,    // a coroutine object, not scheduled nor started
    kInline,     // being run by the task that awaited it directly
    kScheduled,  // a task of a loop, not finished
    kFinished,   // returned a value or threw (error_)
    kCancelled,  // finished by CancelledError
  };

  explicit TaskCore(std::coroutine_handle<> frame) noexcept : ReadyNode(true), frame_(frame) {}
  TaskCore(const TaskCore&) = delete;
  TaskCore& operator=(const TaskCore&) = delete;
  ~TaskCore();

  // ---- references (a Task handle holds one; the loop one while the task is scheduled) -----
  void add_ref() noexcept { ++refs_; }
  void release() noexcept {
    if (--refs_ == 0) frame_.destroy();  // the frame holds this TaskCore: nothing after this
  }

  // ---- Python's Task interface ---------------------------------------------------------------
  bool done() const noexcept { return status_ >= Status::kFinished; }
  bool cancelled() const noexcept { return status_ == Status::kCancelled; }
  Status status() const noexcept { return status_; }
  bool cancel() noexcept;
  int cancelling() const noexcept { return cancel_requests_; }
  int uncancel() noexcept;
  std::string get_name() const;
  void set_name(std::string name);
  // The error a finished task threw (a CancelledError for a cancelled one); null if it returned.
  // Reading it retrieves it (Python's result(), exception(), await): an error that no one
  // retrieved is reported when the task is destroyed ("Task exception was never retrieved").
  std::exception_ptr error() const noexcept {
    retrieved_ = true;
    return error_;
  }
  // The error, without retrieving it (wait()'s FIRST_EXCEPTION test, finishing the task).
  bool failed() const noexcept { return error_ != nullptr; }
  // Counts as retrieved whenever it comes: gather() and shield() take their tasks' errors, even
  // those that come after they have returned (Python's done callbacks do the same).
  void mark_retrieved() noexcept { retrieved_ = true; }
  // Whether `e` holds a CancelledError (a task that ends by one is cancelled, not failed).
  static bool is_cancellation(const std::exception_ptr& e) noexcept;
  // result()/exception() preconditions: InvalidStateError while pending, CancelledError if
  // cancelled.
  void check_result_ready() const;
  EventLoop* loop() const noexcept { return loop_; }

  // Runs fn() (through the loop, call_soon) when the task finishes, at once if it has.
  void add_done_callback(concur::detail::UniqueFunction<void()> fn);
  void add_listener(DoneListener* listener) noexcept;     // not after done()
  void remove_listener(DoneListener* listener) noexcept;  // if still linked

  // ---- the suspension protocol (see the header comment) --------------------------------------
  // The task whose frames are running in this thread now; null outside any task.
  static TaskCore* running() noexcept { return tls_running; }
  // running(), or RuntimeError("... outside of a task") naming `what`.
  static TaskCore& require_running(const char* what);
  // false: do not suspend, a cancellation is pending (the awaiter's await_resume throws it).
  bool begin_suspend() const noexcept { return !must_cancel_; }
  void suspend(std::coroutine_handle<> at, Waiter* waiter) noexcept {
    resume_at_ = at;
    waiter_ = waiter;
  }
  // Schedules the task (from its loop's thread; other threads go through the loop's remote
  // queue). Once per suspension.
  void wake() noexcept;
  // Throws the pending cancellation at the awaiter that was cancelled: CancelledError, or
  // TimeoutError when an expiring aio::timeout() scope caused it (timeout.hpp).
  [[noreturn]] void throw_cancelled();

  // ---- for the loop and the Task types -------------------------------------------------------
  void schedule_on(EventLoop& loop);  // create_task
  void step() noexcept;               // resumes the task's innermost frame (EventLoop only)
  bool started() const noexcept { return started_; }
  void start_inline(std::coroutine_handle<> continuation) noexcept {
    status_ = Status::kInline;
    started_ = true;
    continuation_ = continuation;
  }
  std::coroutine_handle<> continuation() const noexcept { return continuation_; }
  // The outermost frame returned (or threw, and set_error() was called): finish the task.
  void finish_with_error() noexcept { finish(error_); }
  void finish(std::exception_ptr error) noexcept;
  void set_error(std::exception_ptr e) noexcept { error_ = std::move(e); }
  std::coroutine_handle<> frame() const noexcept { return frame_; }

  // The loop's intrusive list of its scheduled tasks (all_tasks(), draining at the end).
  TaskCore* next_scheduled = nullptr;
  TaskCore* prev_scheduled = nullptr;
  // aio::timeout() scopes open in this task, innermost first.
  TimeoutScope* timeouts = nullptr;

 private:
  friend class RunningScope;
  friend struct LoopForkAccess;
  static inline thread_local TaskCore* tls_running = nullptr;

  std::coroutine_handle<> frame_;        // the frame this TaskCore is part of
  std::coroutine_handle<> resume_at_;    // the innermost suspended frame of the task
  std::coroutine_handle<> continuation_; // awaited directly: the awaiting frame
  Waiter* waiter_ = nullptr;
  EventLoop* loop_ = nullptr;
  std::exception_ptr error_;
  DoneListener* listeners_ = nullptr;  // FIFO: registration order
  DoneListener* listeners_tail_ = nullptr;
  std::vector<concur::detail::UniqueFunction<void()>>* callbacks_ = nullptr;
  std::unique_ptr<std::string> name_;  // set_name() only: most tasks keep "Task-N"
  std::uint64_t id_ = 0;
  std::uint32_t refs_ = 1;
  int cancel_requests_ = 0;
  Status status_ = Status::kCreated;
  bool must_cancel_ = false;
  bool started_ = false;
  mutable bool retrieved_ = false;  // error() was read
};

// Makes `task` the running task of this thread for the scope (EventLoop::step()).
class RunningScope {
 public:
  explicit RunningScope(TaskCore* task) noexcept : saved_(TaskCore::tls_running) {
    TaskCore::tls_running = task;
  }
  ~RunningScope() { TaskCore::tls_running = saved_; }
  RunningScope(const RunningScope&) = delete;
  RunningScope& operator=(const RunningScope&) = delete;

 private:
  TaskCore* saved_;
};

// ---- a FIFO of suspended tasks, for the primitives of one loop (Lock, Event, Queue, ...) ------
class WaitEntry;

class WaitList {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  WaitEntry* front() const noexcept { return head_; }
  void push_back(WaitEntry* e) noexcept;
  WaitEntry* pop_front() noexcept;
  bool remove(WaitEntry* e) noexcept;  // false if not linked
  // Wakes the oldest waiter (unlinks it); false if none.
  bool wake_one() noexcept;
  void wake_all() noexcept;

 private:
  WaitEntry* head_ = nullptr;
  WaitEntry* tail_ = nullptr;
};

// A task suspended in a WaitList. Typical awaiter:
//   bool await_suspend(std::coroutine_handle<> h) { return entry.suspend_in(list, h); }
//   void await_resume() { entry.resume(); }   // throws CancelledError unless woken
class WaitEntry : public Waiter {
 public:
  WaitEntry() = default;
  WaitEntry(const WaitEntry&) = delete;
  WaitEntry& operator=(const WaitEntry&) = delete;

  // await_suspend: links the running task at the back of `list`; false (do not suspend) if a
  // cancellation is pending. RuntimeError outside a task.
  bool suspend_in(WaitList& list, std::coroutine_handle<> h) {
    task_ = &TaskCore::require_running("an asyncio primitive");
    if (!task_->begin_suspend()) return false;
    woken_ = false;
    list.push_back(this);
    list_ = &list;
    task_->suspend(h, this);
    return true;
  }
  // await_resume: returns if woken, else throws the cancellation.
  void resume() {
    if (!woken_) task_->throw_cancelled();
  }
  bool woken() const noexcept { return woken_; }
  bool linked() const noexcept { return linked_; }
  TaskCore* task() const noexcept { return task_; }
  // An extra word for the primitive (e.g. which kind of waiter this is).
  std::uintptr_t tag = 0;

  CancelResult cancel() noexcept override {
    if (linked_ && list_->remove(this)) return CancelResult::kDetached;
    return CancelResult::kTooLate;
  }

 private:
  friend class WaitList;
  void wake() noexcept {
    woken_ = true;
    task_->wake();
  }
  TaskCore* task_ = nullptr;
  WaitList* list_ = nullptr;
  WaitEntry* prev_ = nullptr;
  WaitEntry* next_ = nullptr;
  bool linked_ = false;
  bool woken_ = false;
};

inline void WaitList::push_back(WaitEntry* e) noexcept {
  e->prev_ = tail_;
  e->next_ = nullptr;
  if (tail_) tail_->next_ = e; else head_ = e;
  tail_ = e;
  e->linked_ = true;
}
inline bool WaitList::remove(WaitEntry* e) noexcept {
  if (!e->linked_) return false;
  if (e->prev_) e->prev_->next_ = e->next_; else head_ = e->next_;
  if (e->next_) e->next_->prev_ = e->prev_; else tail_ = e->prev_;
  e->prev_ = e->next_ = nullptr;
  e->linked_ = false;
  return true;
}
inline WaitEntry* WaitList::pop_front() noexcept {
  WaitEntry* e = head_;
  if (e) remove(e);
  return e;
}
inline bool WaitList::wake_one() noexcept {
  WaitEntry* e = pop_front();
  if (!e) return false;
  e->wake();
  return true;
}
inline void WaitList::wake_all() noexcept {
  while (wake_one()) {
  }
}

}  // namespace detail
}  // namespace concur::asyncio
