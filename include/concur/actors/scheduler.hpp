// concur/actors/scheduler.hpp — ac::Scheduler: the worker threads that AsyncActors share.
//
//   ac::Scheduler sched(4);      // 4 worker threads; ac::Scheduler sched; one per CPU
//   a.start(sched);              // or a.start(): the default scheduler (one worker per CPU)
//
// How it runs actors: an actor is ready when a message (or the close) arrives while it waits in
// recv(), or when it has just been started. Ready actors wait in one shared FIFO run queue; each
// worker takes the oldest and resumes it until its next suspension. An actor woken by an actor
// (a send from run()) does not go to the shared queue: it runs next on the same worker (the
// "next slot"), so two actors passing a message back and forth stay on one core with no
// cross-CPU hand-off; an actor already in that slot moves to the shared queue, and after
// tuning::kActorNextSlotRun such turns in a row the worker serves the shared queue first. If the
// worker then blocks in a concur wait (a Lock, an Event, a full bounded mailbox, a join ...), it
// first hands its next slot to the shared queue (detail::SleepHook), so no other worker stays idle
// while it waits. Blocking in anything else (std::mutex, a system call) delays that one actor until
// the wait ends. An actor that keeps finding messages yields its worker after
// tuning::kActorRecvBudget receives.
//
// Contract
// - Scheduler(n): n >= 1 worker threads (daemon threads named "ActorWorker-<k>_<i>"), started at
//   once; 0 or no argument: one per CPU; a negative n: concur::ValueError.
// - The destructor closes every actor still running on it, waits until their run()s have
//   ended, and stops its workers: a Scheduler outlives the actors started on it. It must not be
//   destroyed from one of its own actors.
// - default_scheduler(): a process-wide Scheduler with one worker per CPU, made at first use
//   and never destroyed (its workers are daemon threads).
// - Fork: in the child the workers are gone; the scheduler starts new ones at the next actor
//   start or wake-up. An actor that was in the middle of a step at the fork never resumes in the
//   child; waiting and ready ones do.
// - Thread-safety: every member may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "concur/detail/event_count.hpp"
#include "concur/detail/mutex.hpp"

namespace concur::threading {
class Thread;
}

namespace concur::actors {

namespace detail {
class AsyncActorBase;
struct Worker;
struct SchedulerAccess;
}  // namespace detail

class Scheduler {
 public:
  explicit Scheduler(int n_threads = 0);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // The number of worker threads.
  [[nodiscard]] int size() const noexcept { return n_threads_; }
  // Actors started on this scheduler whose run() has not ended yet.
  [[nodiscard]] std::size_t actors_alive() const noexcept;

 private:
  friend class detail::AsyncActorBase;
  friend struct detail::Worker;
  friend struct detail::SchedulerAccess;

  // The actor is now one of ours (started): listed until its run() ends.
  void adopt(detail::AsyncActorBase* a) noexcept;
  // Its run() has ended: no longer listed.
  void forget(detail::AsyncActorBase* a) noexcept;
  // Makes `a` ready: the calling worker's next slot, or the shared queue. Called from any thread,
  // also from a WaitNode action under a mailbox's lock (takes only the run queue's lock).
  void schedule(detail::AsyncActorBase* a) noexcept;
  // To the shared queue's tail (an actor that yields its turn).
  void push_shared(detail::AsyncActorBase* a) noexcept;
  detail::AsyncActorBase* pop_shared() noexcept;
  void worker_main(detail::Worker& w);
  void start_workers();
  void restart_after_fork() noexcept;

  const int n_threads_;
  // The shared run queue: an intrusive FIFO through AsyncActorBase::run_next_.
  mutable concur::detail::Mutex run_mutex_;
  detail::AsyncActorBase* run_head_ = nullptr;
  detail::AsyncActorBase* run_tail_ = nullptr;
  bool stopping_ = false;                   // under run_mutex_
  concur::detail::EventCount work_;         // idle workers wait here for the queue or stopping_
  std::vector<std::unique_ptr<threading::Thread>> workers_;
  std::uint64_t fork_generation_;

  // Every started actor whose run() has not ended (intrusive, through live_prev_/live_next_).
  mutable concur::detail::Mutex live_mutex_;
  detail::AsyncActorBase* live_head_ = nullptr;
  std::size_t live_count_ = 0;
  concur::detail::EventCount none_alive_;

  Scheduler* registry_prev_ = nullptr;  // every live Scheduler, for the at-fork handlers
  Scheduler* registry_next_ = nullptr;
};

// The process-wide scheduler that AsyncActor::start() uses: one worker per CPU.
Scheduler& default_scheduler();

}  // namespace concur::actors
