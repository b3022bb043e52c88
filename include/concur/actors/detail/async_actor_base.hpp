// concur/actors/detail/async_actor_base.hpp — the untyped part of an AsyncActor: its place on a
// Scheduler, its coroutine, its end.
//
// Life of an AsyncActor (the state lives here; the Scheduler only moves pointers):
//   start(sched): the run() Task is made, the actor is adopted (listed as alive) and made ready.
//   a worker resumes resume_point_ (the coroutine suspended last: run() or a Task it awaits)
//   until the next suspension: a recv() that found nothing leaves wake_node_ in the mailbox,
//   whose action (wake) makes the actor ready again when a message or the close arrives (a
//   worker that finds the signal spurious, the mailbox still empty, leaves the node there
//   again instead of resuming); a recv() out of budget makes it ready at the shared queue's
//   tail (a yield).
//   run() ends: its final step sets tls_ended_actor, and the worker, back from that step, calls
//   end(): the mailbox is closed, an escaped exception reported, the actor forgotten by the
//   scheduler, which sets ended_ (its last touch of the actor) and wakes the joiners, who wait
//   on the scheduler's joiners_ rather than on anything in the actor: after join() the actor may
//   be destroyed at once.
// A worker never touches an actor after resuming it except through tls_ended_actor: once it
// suspends, the actor may be resumed on another worker, end, and be destroyed.
#pragma once

#include <atomic>
#include <coroutine>
#include <string>

#include "concur/actors/detail/mailbox.hpp"
#include "concur/actors/task.hpp"
#include "concur/deadline.hpp"
#include "concur/detail/event_count.hpp"
#include "concur/detail/wait_node.hpp"
#include "concur/detail/wait_site.hpp"

namespace concur::actors {
class Scheduler;
}

namespace concur::actors::detail {

class AsyncActorBase {
 public:
  AsyncActorBase(const AsyncActorBase&) = delete;
  AsyncActorBase& operator=(const AsyncActorBase&) = delete;

  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 protected:
  AsyncActorBase(std::string name, MailboxBase& mailbox);
  ~AsyncActorBase();

  // Adopts `task` (run()'s coroutine) and makes the actor ready on `sched`. RuntimeError if the
  // actor was started before.
  void start_on(Scheduler& sched, Task task);
  bool join_until(const Deadline& deadline);
  [[nodiscard]] bool started() const noexcept { return started_.load(std::memory_order_acquire); }
  [[nodiscard]] bool ended() const noexcept { return ended_.load(std::memory_order_acquire); }
  // For the destructor of the typed actor: close, then join unless this is the actor's own run().
  void close_and_join() noexcept;

  // ---- for recv() (the actor's own coroutine, on its worker) --------------------------------
  // true while the actor may take another message without giving its worker up.
  bool take_budget() noexcept { return budget_ != 0 && --budget_ != 0; }
  // Suspends the actor as ready (a yield): it resumes `h` when its turn comes again.
  void yield_to_scheduler(std::coroutine_handle<> h) noexcept;
  // The actor, having found its mailbox empty, waits in it: the next put or close makes it
  // ready to resume `h`. Returns false (not suspended: go on at once) if mail came meanwhile.
  bool wait_for_mail(std::coroutine_handle<> h) noexcept {
    resume_point_ = h;
    awaiting_mail_ = true;  // before the node can be signaled: step() reads it
    if (mailbox_.suspend_receiver(wake_node_)) return true;  // `this` may be running elsewhere
    awaiting_mail_ = false;
    return false;
  }

  const concur::detail::WaitSite mailbox_site_{&kMailboxWait, this, {}, nullptr, nullptr};

 private:
  friend class concur::actors::Scheduler;
  friend struct Worker;

  static void wake(void* self) noexcept;  // wake_node_'s action: make the actor ready
  void step() noexcept;                   // run by a worker: resume until the next suspension
  void end() noexcept;                    // run by the worker that ran the final step
  // Waits on the scheduler's joiners_ until the actor has ended (false: the deadline passed).
  bool wait_ended(const Deadline& deadline, const concur::detail::WaitSite* site) const noexcept;

  MailboxBase& mailbox_;
  Scheduler* scheduler_ = nullptr;
  std::coroutine_handle<> resume_point_;
  AsyncActorBase* run_next_ = nullptr;    // the scheduler's run queue, under its lock
  AsyncActorBase* live_prev_ = nullptr;   // the scheduler's list of live actors, under its lock
  AsyncActorBase* live_next_ = nullptr;
  concur::detail::WaitNode wake_node_{&AsyncActorBase::wake, this};
  unsigned budget_ = 0;
  bool awaiting_mail_ = false;  // suspended in wait_for_mail (not in a yield)
  std::atomic<bool> started_{false};
  std::atomic<bool> ended_{false};
  Task task_;
  std::string name_;
};

}  // namespace concur::actors::detail
