// concur/asyncio/queue_bridge.hpp — awaiting an item of a thread queue in a coroutine.
//
//   cq::PollableQueue<Job> jobs;      // or cq::Queue<T>, LifoQueue, PriorityQueue, SimpleQueue
//   Job job = co_await aio::get(jobs);               // fed by any number of threads
//   auto j = co_await aio::wait_for(aio::get(jobs), 1s);   // bounded
//
// Contract
// - aio::get(q) takes the next item of any concur::queue queue (every one is a BasicQueue),
//   suspending the task while the queue is empty: no thread blocks, the loop goes on running
//   other tasks. It returns an aio::Task<T>, so it also goes to create_task, wait_for, gather.
// - How: the task waits as an action waiter on the queue's not-empty EventCount, the very list
//   where blocked get() threads wait (event_count.hpp, "waiters that cannot block"). A put
//   that wakes it runs, in the putting thread and under the queue's waiter lock, only a push of
//   the awaiter onto the loop's remote queue; the loop thread then resumes the task, which
//   tries again. Another consumer (a thread or a task) may take the item first: the task then
//   waits again. Threads and tasks are served from one FIFO of waiters.
// - The queue shut down and empty: throws the queue's concur::queue::ShutDown (items queued
//   before shutdown() are still returned first).
// - Cancellation (task.cancel(), wait_for, timeout): a task cancelled while it waits unlinks its
//   waiter and throws CancelledError (TimeoutError inside an expiring aio::timeout()); no item
//   is taken. If a put's wake-up already reached it, the wake-up is passed on to the next
//   waiter and the task resumes normally: it takes the item if one is there (and sees the
//   cancellation at its next suspension), so no item and no wake-up is ever lost.
// - Conservation: every item is returned by exactly one get, of a thread or of a task.
// - Happens-before: as a get() of the queue (basic_queue.hpp).
// - The queue must outlive the awaiting task's wait. Awaiting outside a task of a running loop
//   throws RuntimeError.
#pragma once

#include <coroutine>
#include <optional>
#include <utility>

#include "concur/asyncio/detail/task_core.hpp"
#include "concur/asyncio/event_loop.hpp"
#include "concur/asyncio/task.hpp"
#include "concur/detail/event_count.hpp"
#include "concur/detail/wait_node.hpp"
#include "concur/queue/basic_queue.hpp"
#include "concur/queue/errors.hpp"
#include "concur/queue/simple_queue.hpp"

namespace concur::asyncio {
namespace detail {

// One suspension of aio::get(): links an action WaitNode on the queue's not-empty waiters,
// re-checks the queue (the EventCount protocol), and suspends until a notifier signals the node.
// After co_await: item() holds what the re-check took, shut_down() whether the queue was found
// shut down and empty; neither means "woken: look again".
template <class Queue>
class ThreadQueueGetAwaiter final : public Waiter, public RemoteItem {
 public:
  using T = typename Queue::value_type;

  explicit ThreadQueueGetAwaiter(Queue& queue) noexcept
      : queue_(queue), node_(&ThreadQueueGetAwaiter::on_signal, this) {}
  ThreadQueueGetAwaiter(const ThreadQueueGetAwaiter&) = delete;
  ThreadQueueGetAwaiter& operator=(const ThreadQueueGetAwaiter&) = delete;

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    task_ = &TaskCore::require_running("aio::get()");
    if (!task_->begin_suspend()) {
      cancelled_before_ = true;
      return false;
    }
    // Set before the node is linked: the notifier reads it after popping the node under the
    // EventCount's lock, which orders it after this write.
    loop_ = task_->loop();
    concur::detail::EventCount& waiters = queue_.not_empty_waiters();
    waiters.link_waiter(node_);
    try {
      item_ = queue_.try_get_or_shut_down(shut_down_);
    } catch (...) {  // the item's copy threw: it is still queued; leave no node behind
      waiters.cancel_waiter(node_);
      throw;
    }
    if (item_ || shut_down_) {
      waiters.cancel_waiter(node_);  // passes on a signal that was already spent on us
      return false;
    }
    if (!node_.arm()) return false;  // signaled between link and arm: look again at once
    // Armed: from here the action may run in another thread at any time, but it only pushes
    // us onto the loop's remote queue, which this thread drains after we have suspended.
    suspended_ = true;
    task_->suspend(h, this);
    return true;
  }
  void await_resume() {
    if (cancelled_before_ || (suspended_ && !woken_)) task_->throw_cancelled();
  }

  std::optional<T>& item() noexcept { return item_; }
  bool shut_down() const noexcept { return shut_down_; }

  // The task is cancelled while suspended here.
  CancelResult cancel() noexcept override {
    // Still linked: unlinked now, the action will never run.
    if (queue_.not_empty_waiters().cancel_waiter(node_)) return CancelResult::kDetached;
    // Signaled: the action has run (cancel_waiter took the lock it runs under) and our
    // run_remote() is on its way; cancel_waiter passed the signal on to the next waiter.
    return CancelResult::kTooLate;
  }
  void run_remote() noexcept override {  // in the loop's thread
    woken_ = true;
    task_->wake();
  }

 private:
  // In the putting thread, under the EventCount's lock: only hand the task to its loop.
  static void on_signal(void* self) noexcept {
    auto* me = static_cast<ThreadQueueGetAwaiter*>(self);
    me->loop_->push_remote(me);
  }

  Queue& queue_;
  concur::detail::WaitNode node_;
  std::optional<T> item_;
  TaskCore* task_ = nullptr;
  EventLoop* loop_ = nullptr;
  bool shut_down_ = false;
  bool cancelled_before_ = false;
  bool suspended_ = false;
  bool woken_ = false;
};

// Queue: a BasicQueue, or a queue that exposes its value_type, not_empty_waiters() and
// try_get_or_shut_down() (SimpleQueue).
template <class Queue>
Task<typename Queue::value_type> get_from_thread_queue(Queue& queue) {
  using T = typename Queue::value_type;
  for (;;) {
    bool shut_down = false;
    std::optional<T> item = queue.try_get_or_shut_down(shut_down);
    if (item) co_return std::move(*item);
    if (shut_down) throw concur::queue::ShutDown();
    ThreadQueueGetAwaiter<Queue> wait(queue);
    co_await wait;
    if (wait.item()) co_return std::move(*wait.item());
    if (wait.shut_down()) throw concur::queue::ShutDown();
    // Woken by a put (or a shutdown), or signaled before we armed: look again.
  }
}

}  // namespace detail

// co_await aio::get(q): the next item of a concur::queue queue (see the header comment).
template <class T, class Core, bool kTracksTasks>
Task<T> get(concur::queue::detail::BasicQueue<T, Core, kTracksTasks>& queue) {
  return detail::get_from_thread_queue(queue);
}
template <class T>
Task<T> get(concur::queue::SimpleQueue<T>& queue) {
  return detail::get_from_thread_queue(queue);
}

}  // namespace concur::asyncio
