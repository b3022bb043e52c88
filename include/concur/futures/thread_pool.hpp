// concur/futures/thread_pool.hpp — ThreadPoolExecutor: Python's
// concurrent.futures.ThreadPoolExecutor.
//
//   cf::ThreadPoolExecutor pool;      // max_workers = min(32, cpu_count + 4)
//   cf::ThreadPoolExecutor pool(2);
//   cf::ThreadPoolExecutor pool(cf::ThreadPoolOptions{.max_workers = 4,
//                                                     .thread_name_prefix = "dl",
//                                                     .initializer = [] { ... }});
//   auto f = pool.submit(fn, a, b);  pool.map(...);  pool.shutdown(wait, cancel_futures);
//
// As CPython's: workers are started lazily, one per submit() that finds no idle worker, up to
// max_workers, and then reused; they are concur threads named "<prefix>_<i>" (default prefix
// "ThreadPoolExecutor-<k>", k counting pools from 0) and run `initializer` once each before
// any task. An initializer that throws breaks the pool: the queued futures fail with
// BrokenExecutor, and so does every later submit(). Tasks wait in a lock-free
// concur::queue::SimpleQueue; a worker that waits on a future (result(), exception()) runs
// queued tasks of its pool meanwhile (future_state.hpp), so a task may wait for another task
// of its own saturated pool.
//
// shutdown(wait=true, cancel_futures=false): no more submits (RuntimeError); cancel_futures
// cancels every task that has not started; wait joins the workers after the queued tasks ran.
// shutdown(false) returns at once and the queued work still finishes. The destructor is
// shutdown(true). Calling shutdown(true) from one of the pool's own tasks throws RuntimeError
// (a thread cannot join itself). Workers are daemon threads: a pool that is never shut down
// does not keep the process alive.
//
// fork(): a pool used in the child (submit, shutdown) first forgets its workers, which do not
// exist there, and keeps its queued tasks; that submit starts a worker as usual, and the queued
// tasks run too. Nothing happens in the child before that (a child that only calls exec() pays
// nothing). Its internal locks are taken before the fork, so no submit is half-done in the
// child. A task that was running at the fork stays running (its future never completes in the
// child), and queued tasks wait for the child's first submit, as in Python.
//
// Happens-before: as Executor's (submit() before the task runs, the task before its Future's
// result() returns); the initializer runs before any task of its worker; every task that ran
// happens before shutdown(wait=true) (and the destructor) returns.
//
// Thread-safety: all members may be called concurrently, except the destructor.
// Errors: ThreadPoolExecutor(0) or a negative max_workers: ValueError.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "concur/detail/at_fork.hpp"
#include "concur/detail/event_count.hpp"
#include "concur/detail/mutex.hpp"
#include "concur/futures/executor.hpp"
#include "concur/queue/simple_queue.hpp"
#include "concur/threading/thread.hpp"

namespace concur::futures {

struct ThreadPoolOptions {
  std::optional<int> max_workers{};      // unset: min(32, cpu_count + 4); <= 0: ValueError
  std::string thread_name_prefix{};      // empty: "ThreadPoolExecutor-<k>"
  std::function<void()> initializer{};   // run once in each worker before its first task
};

class ThreadPoolExecutor final : public Executor, private detail::HelpSource {
 public:
  ThreadPoolExecutor() : ThreadPoolExecutor(ThreadPoolOptions{}) {}
  explicit ThreadPoolExecutor(int max_workers)
      : ThreadPoolExecutor(ThreadPoolOptions{.max_workers = max_workers}) {}
  explicit ThreadPoolExecutor(ThreadPoolOptions options);
  ~ThreadPoolExecutor() override;
  ThreadPoolExecutor(const ThreadPoolExecutor&) = delete;
  ThreadPoolExecutor& operator=(const ThreadPoolExecutor&) = delete;

  void shutdown(bool wait = true, bool cancel_futures = false) override;

  [[nodiscard]] int max_workers() const noexcept { return max_workers_; }

 private:
  void enqueue(detail::StateRef task) override;
  bool run_one_queued() override;
  void task_finishing() noexcept override;
  // A new worker, when no worker is (about to be) idle: recorded under mutex_, started after.
  threading::Thread* reserve_worker_locked();
  void start_worker(threading::Thread& worker, detail::StateBase& submitted);
  void worker_started() noexcept;
  bool take_idle() noexcept;
  void worker_main();
  void initializer_failed();
  friend struct PoolForkAccess;  // the at-fork handlers (src/futures/thread_pool.cpp)
  void restart_after_fork() noexcept;  // under mutex_, at the first use in a child

  const int max_workers_;
  const std::string prefix_;
  const std::function<void()> initializer_;

  // Tasks to run; a null task tells a worker to exit (and to pass the word on).
  queue::SimpleQueue<detail::StateRef> work_;
  // Counted up after each task a worker finishes: submit() starts a new worker only when it
  // cannot count one down, i.e. when no worker is (about to be) idle. CPython's idle
  // semaphore; nobody ever waits on it, so a plain count (an internal, never a user-facing
  // tracked Semaphore: dumps and lock-order checking do not see it).
  std::atomic<int> idle_{0};
  // Workers reserved by a submit and not yet started; shutdown(wait) waits for them.
  std::atomic<int> starting_{0};
  concur::detail::EventCount start_done_;
  // Set once max_workers threads exist: no more are ever started, so the idle count has no
  // use any more and submit() and the workers stop paying for it.
  std::atomic<bool> all_started_{false};

  concur::detail::Mutex mutex_;  // puts, shutdown/broken and the thread list
  bool shutdown_ = false;
  std::string broken_;           // non-empty: why the pool is broken
  std::vector<std::unique_ptr<threading::Thread>> threads_;
  // The fork generation (detail/at_fork.hpp) the workers were started in; guarded by mutex_.
  std::uint64_t fork_generation_ = concur::detail::fork_generation();
};

}  // namespace concur::futures
