// concur/coop/task_scheduler.hpp — co::TaskScheduler: the seed's round-robin scheduler of
// generator tasks (Python's `deque` of generators, `next(task)` and re-append until
// StopIteration), for co::Task.
//
//   co::TaskScheduler sched;
//   sched.new_task(countdown(10));
//   sched.new_task(countdown(5));
//   sched.new_task(countup(15));
//   sched.run();                     // round robin until every task has finished
//
// Contract
// - Order: run() takes the tasks in a first-in first-out queue: it runs the first task for one
//   step (until its next `co_yield {}`), puts it back at the end if it has not finished, and
//   repeats until the queue is empty — the seed's interleaving exactly. A task may call
//   new_task() on the scheduler that runs it: the new task joins the end of the queue (before
//   the task that added it, which re-joins after its step, as in the seed's deque).
// - Exceptions: an exception that escapes a task's body propagates out of run(), as in the
//   seed's run(). That task has finished and is gone; every other task stays queued, in the order
//   it would have run in, and a later run() carries on with them. new_task() of an empty
//   (moved-from or closed) Task throws concur::ValueError; run() from inside a task of the same
//   scheduler throws concur::RuntimeError (the scheduler is already running).
// - Ownership: new_task() takes the Task (its coroutine frame) over; the scheduler destroys each
//   task's frame when the task finishes, and the destructor destroys those of tasks still queued
//   (their locals are destroyed as at scope exit). A task that has already finished is dropped.
// - Thread-safety: none inside, like Python's: one thread at a time may use a scheduler (its
//   tasks all run on the thread that calls run()). Neither copyable nor movable (its tasks may
//   refer to it).
// - Cost: one step is one coroutine resume and one store into a vector of handles; no allocation
//   once the queue has grown to the number of tasks.
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <utility>
#include <vector>

#include "concur/coop/task.hpp"
#include "concur/errors.hpp"

namespace concur::coop {

class TaskScheduler {
 public:
  TaskScheduler() = default;
  TaskScheduler(const TaskScheduler&) = delete;
  TaskScheduler& operator=(const TaskScheduler&) = delete;
  ~TaskScheduler() {
    for (Task::handle_type h : queue_) h.destroy();
  }

  // Appends task to the end of the queue (Python's new_task: self._task_queue.append(task)).
  void new_task(Task task) {
    if (!task.h_) throw ValueError("new_task() of an empty Task (moved from or closed)");
    if (task.done()) return;  // finished already: Python's run() would drop it at once
    queue_.push_back(task.h_);  // may throw (bad_alloc): then task still owns its frame
    task.release();
  }

  // Runs the queued tasks round robin, one step each, until every one has finished.
  void run();

  [[nodiscard]] std::size_t size() const noexcept { return queue_.size(); }  // tasks queued
  [[nodiscard]] bool empty() const noexcept { return queue_.empty(); }

 private:
  // The queue in passes: a pass steps queue_[0], queue_[1], ... (tasks added during the pass
  // are appended and stepped in it too), compacting the unfinished ones to the front; the next
  // pass starts over at the front. That is the order of the seed's deque without its
  // pop/append per step.
  std::vector<Task::handle_type> queue_;
  bool running_ = false;
};

inline void TaskScheduler::run() {
  if (running_) throw RuntimeError("TaskScheduler.run() called from one of its own tasks");
  running_ = true;
  struct Reset {
    bool& flag;
    ~Reset() { flag = false; }
  } reset{running_};
  while (!queue_.empty()) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < queue_.size(); ++i) {
      const Task::handle_type h = queue_[i];
      h.resume();
      if (!h.done()) [[likely]] {
        queue_[kept++] = h;
        continue;
      }
      std::exception_ptr error = std::exchange(h.promise().error, nullptr);
      h.destroy();
      if (error) [[unlikely]] {
        // Keep the others in the order they would have run: those after this one in the pass,
        // then those already stepped in it.
        queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(kept),
                     queue_.begin() + static_cast<std::ptrdiff_t>(i) + 1);
        std::rotate(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(kept),
                    queue_.end());
        std::rethrow_exception(error);
      }
    }
    queue_.resize(kept);
  }
}

}  // namespace concur::coop
