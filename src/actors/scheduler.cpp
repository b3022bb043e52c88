// concur::actors::Scheduler and the untyped side of AsyncActor
// (include/concur/actors/scheduler.hpp, include/concur/actors/detail/async_actor_base.hpp).
#include <algorithm>
#include <atomic>
#include <exception>
#include <string>
#include <thread>
#include <utility>

#include "concur/actors/async_actor.hpp"
#include "concur/actors/scheduler.hpp"
#include "concur/detail/at_fork.hpp"
#include "concur/detail/tuning.hpp"
#include "concur/threading/thread.hpp"

namespace concur::actors {

using concur::detail::Mutex;
using concur::detail::MutexGuard;

namespace detail {

std::string actor_name(std::string requested) {
  static std::atomic<unsigned long> counter{0};
  if (!requested.empty()) return requested;
  return "Actor-" + std::to_string(counter.fetch_add(1, std::memory_order_relaxed) + 1);
}

// What a worker thread knows of itself: its scheduler and its next slot.
struct Worker {
  Scheduler* scheduler;
  AsyncActorBase* next = nullptr;  // runs next on this worker (an actor woken by an actor)
  unsigned next_run = 0;           // turns in a row taken from `next`

  // The SleepHook: the worker is about to sleep in some concur wait of the actor it runs, so
  // the actor in its next slot goes to the shared queue, where another worker can take it.
  static void before_sleep(void* self) noexcept {
    auto* w = static_cast<Worker*>(self);
    if (AsyncActorBase* a = std::exchange(w->next, nullptr)) w->scheduler->push_shared(a);
  }
};

namespace {
thread_local Worker* tls_worker = nullptr;
thread_local AsyncActorBase* tls_running_actor = nullptr;
}  // namespace

// ---- AsyncActorBase -----------------------------------------------------------------------------

AsyncActorBase::AsyncActorBase(std::string name, MailboxBase& mailbox)
    : mailbox_(mailbox), name_(std::move(name)) {}

AsyncActorBase::~AsyncActorBase() = default;

void AsyncActorBase::start_on(Scheduler& sched, Task task) {
  if (started_.exchange(true, std::memory_order_acq_rel))
    throw RuntimeError("actors can only be started once");
  task_ = std::move(task);
  task_.handle().promise().actor = this;
  resume_point_ = task_.handle();
  scheduler_ = &sched;
  sched.adopt(this);
  sched.schedule(this);
}

void AsyncActorBase::step() noexcept {
  // Woken from the mailbox with nothing there (the signal's message was taken by a look before
  // the actor linked its node): wait again rather than resume into an empty receive.
  if (awaiting_mail_ && !mailbox_.mail_or_closed() && mailbox_.suspend_receiver(wake_node_))
    return;  // `this` may be running elsewhere already
  awaiting_mail_ = false;
  AsyncActorBase* const outer = std::exchange(tls_running_actor, this);
  budget_ = concur::detail::tuning::kActorRecvBudget;
  resume_point_.resume();  // after this, `this` may be running elsewhere (see the header)
  tls_running_actor = outer;
}

void AsyncActorBase::end() noexcept {
  mailbox_.close();  // later sends fail rather than pile up
  if (std::exception_ptr e = std::exchange(task_.handle().promise().error, nullptr)) {
    try {
      std::rethrow_exception(e);
    } catch (const ActorExit&) {
      // the actor was closed: a quiet end
    } catch (...) {
      try {
        threading::excepthook(
            threading::ExceptHookArgs{std::current_exception(), name_, threading::current_thread()});
      } catch (...) {  // out of memory building the arguments: nothing sensible is left
      }
    }
  }
  scheduler_->forget(this);  // sets ended_: the last touch of the actor (see there)
}



void AsyncActorBase::wake(void* self) noexcept {
  auto* a = static_cast<AsyncActorBase*>(self);
  a->scheduler_->schedule(a);
}

void AsyncActorBase::yield_to_scheduler(std::coroutine_handle<> h) noexcept {
  resume_point_ = h;
  scheduler_->push_shared(this);
}

bool AsyncActorBase::join_until(const Deadline& deadline) {
  if (!started()) throw RuntimeError("cannot join an actor before it is started");
  if (tls_running_actor == this) throw RuntimeError("cannot join the current actor");
  const concur::detail::WaitSite site{&kActorJoinWait, this, name_, nullptr, nullptr};
  return wait_ended(deadline, &site);
}

void AsyncActorBase::close_and_join() noexcept {
  mailbox_.close();
  if (!started() || tls_running_actor == this) return;
  (void)wait_ended(Deadline::never(), nullptr);
}

bool AsyncActorBase::wait_ended(const Deadline& deadline,
                                const concur::detail::WaitSite* site) const noexcept {
  return scheduler_->joiners_.wait_until([this] { return ended_.load(std::memory_order_seq_cst); },
                                         deadline, site);
}

// ---- Scheduler ----------------------------------------------------------------------------------

// Before a fork every scheduler's locks are taken (live list, then run queue: the order of
// ~Scheduler, which closes actors under the live list's lock), so the child finds the queue and
// the list whole. Their critical sections call no user code.
struct SchedulerAccess {
  static void prepare() noexcept {
    concur::detail::ForkRegistry<Scheduler>::instance().lock_all([](Scheduler& s) {
      s.live_mutex_.lock();
      s.run_mutex_.lock();
    });
  }
  static void after() noexcept {
    concur::detail::ForkRegistry<Scheduler>::instance().unlock_all([](Scheduler& s) {
      s.run_mutex_.unlock();
      s.live_mutex_.unlock();
    });
  }
};

namespace {
[[maybe_unused]] const bool fork_handlers_registered = concur::detail::register_at_fork(
    concur::detail::AtForkLayer::patterns,
    {SchedulerAccess::prepare, SchedulerAccess::after, SchedulerAccess::after});

int checked_threads(int n) {
  if (n < 0) throw ValueError("a Scheduler needs at least one worker thread");
  if (n == 0) return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return n;
}

std::string scheduler_prefix() {
  static std::atomic<unsigned long> counter{0};
  return "ActorWorker-" + std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
}
}  // namespace

}  // namespace detail

Scheduler::Scheduler(int n_threads)
    : n_threads_(detail::checked_threads(n_threads)),
      fork_generation_(concur::detail::fork_generation()) {
  concur::detail::ForkRegistry<Scheduler>::instance().add(this);
  try {
    start_workers();
  } catch (...) {
    {
      MutexGuard g(run_mutex_);
      stopping_ = true;
    }
    work_.notify_all();
    for (auto& w : workers_)
      if (w->is_alive()) w->join();
    concur::detail::ForkRegistry<Scheduler>::instance().remove(this);
    throw;
  }
}

void Scheduler::start_workers() {
  const std::string prefix = detail::scheduler_prefix();
  workers_.reserve(static_cast<std::size_t>(n_threads_));
  for (int i = 0; i < n_threads_; ++i) {
    auto t = std::make_unique<threading::Thread>(
        threading::ThreadOptions{.name = prefix + "_" + std::to_string(i), .daemon = true},
        [this] {
          detail::Worker w{this};
          worker_main(w);
        });
    t->start();
    workers_.push_back(std::move(t));  // reserved: cannot throw
  }
}

Scheduler::~Scheduler() {
  {
    // Close every actor still running here; they end once they have drained their mailboxes.
    MutexGuard g(live_mutex_);
    for (detail::AsyncActorBase* a = live_head_; a; a = a->live_next_) a->mailbox_.close();
  }
  none_alive_.wait_until(
      [this] {
        MutexGuard g(live_mutex_);
        return live_count_ == 0;
      },
      Deadline::never());
  {
    MutexGuard g(run_mutex_);
    if (fork_generation_ != concur::detail::fork_generation()) restart_after_fork();
    stopping_ = true;
  }
  work_.notify_all();
  for (auto& w : workers_) w->join();
  concur::detail::ForkRegistry<Scheduler>::instance().remove(this);
}

std::size_t Scheduler::actors_alive() const noexcept {
  MutexGuard g(live_mutex_);
  return live_count_;
}

void Scheduler::adopt(detail::AsyncActorBase* a) noexcept {
  MutexGuard g(live_mutex_);
  a->live_prev_ = nullptr;
  a->live_next_ = live_head_;
  if (live_head_) live_head_->live_prev_ = a;
  live_head_ = a;
  ++live_count_;
}

void Scheduler::forget(detail::AsyncActorBase* a) noexcept {
  bool none_left;
  {
    MutexGuard g(live_mutex_);
    if (a->live_prev_) a->live_prev_->live_next_ = a->live_next_;
    else live_head_ = a->live_next_;
    if (a->live_next_) a->live_next_->live_prev_ = a->live_prev_;
    none_left = --live_count_ == 0;
  }
  // The actor's end. Its joiners wait on our joiners_, not on the actor: a joiner that sees
  // ended_ may destroy the actor at once, so this store is the last touch of it. (We, a worker,
  // outlive the notifications: ~Scheduler joins us.)
  a->ended_.store(true, std::memory_order_seq_cst);
  joiners_.notify_all_after_seq_cst_change();
  if (none_left) none_alive_.notify_all();
}

void Scheduler::schedule(detail::AsyncActorBase* a) noexcept {
  detail::Worker* w = detail::tls_worker;
  if (w && w->scheduler == this) {
    // Woken by an actor of ours: run it next on this worker; the one it displaces is shared.
    if (detail::AsyncActorBase* displaced = std::exchange(w->next, a)) push_shared(displaced);
    return;
  }
  push_shared(a);
}

void Scheduler::push_shared(detail::AsyncActorBase* a) noexcept {
  {
    MutexGuard g(run_mutex_);
    if (fork_generation_ != concur::detail::fork_generation()) [[unlikely]] restart_after_fork();
    a->run_next_ = nullptr;
    if (run_tail_) run_tail_->run_next_ = a; else run_head_ = a;
    run_tail_ = a;
  }
  work_.notify_one();
}

detail::AsyncActorBase* Scheduler::pop_shared() noexcept {
  MutexGuard g(run_mutex_);
  detail::AsyncActorBase* a = run_head_;
  if (a) {
    run_head_ = a->run_next_;
    if (!run_head_) run_tail_ = nullptr;
  }
  return a;
}

void Scheduler::worker_main(detail::Worker& w) {
  detail::tls_worker = &w;
  concur::detail::tls_sleep_hook = {&detail::Worker::before_sleep, &w};
  for (;;) {
    detail::AsyncActorBase* a = nullptr;
    if (w.next && w.next_run < concur::detail::tuning::kActorNextSlotRun) {
      a = std::exchange(w.next, nullptr);
      ++w.next_run;
    } else {
      w.next_run = 0;
      a = pop_shared();
      if (!a) a = std::exchange(w.next, nullptr);
    }
    if (!a) {
      bool stop = false;
      work_.wait_until(
          [&] {
            MutexGuard g(run_mutex_);
            if ((a = run_head_)) {
              run_head_ = a->run_next_;
              if (!run_head_) run_tail_ = nullptr;
              return true;
            }
            return stop = stopping_;
          },
          Deadline::never());
      if (stop) break;
    }
    a->step();
    if (detail::AsyncActorBase* ended = std::exchange(detail::tls_ended_actor, nullptr))
      ended->end();
  }
  concur::detail::tls_sleep_hook = {};
  detail::tls_worker = nullptr;
}

// After a fork (noticed under run_mutex_ at the first use in the child): the workers are gone
// (threading's child handler made them TERMINATED); start new ones. Ready actors stay queued. If
// the threads cannot be started, the scheduler stays without workers and its actors wait.
void Scheduler::restart_after_fork() noexcept {
  fork_generation_ = concur::detail::fork_generation();
  workers_.clear();  // ~Thread of a TERMINATED thread neither joins nor detaches
  concur::detail::reinit_in_child(work_);
  concur::detail::reinit_in_child(none_alive_);
  concur::detail::reinit_in_child(joiners_);
  if (stopping_) return;
  try {
    start_workers();
  } catch (...) {
  }
}

Scheduler& default_scheduler() {
  static auto* s = new Scheduler();  // never destroyed: its daemon workers run until exit
  return *s;
}

}  // namespace concur::actors
