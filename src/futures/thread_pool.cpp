// concur::futures::ThreadPoolExecutor (include/concur/futures/thread_pool.hpp), following
// CPython's Lib/concurrent/futures/thread.py.
#include <algorithm>
#include <atomic>
#include <exception>
#include <string>
#include <thread>
#include <utility>

#include "concur/futures/thread_pool.hpp"

#include "concur/detail/text.hpp"

namespace concur::futures {
namespace {

int default_max_workers() {
  const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  return static_cast<int>(std::min(32u, cpus + 4));
}

std::string default_prefix() {
  static std::atomic<unsigned long> counter{0};
  return "ThreadPoolExecutor-" + std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
}

int checked_max_workers(const std::optional<int>& requested) {
  if (!requested) return default_max_workers();
  if (*requested <= 0) throw ValueError("max_workers must be greater than 0");
  return *requested;
}

// Every live pool, for the at-fork handlers. Its mutex is taken before any pool's mutex_, and
// nothing holding a pool's mutex_ takes it.
struct Pools {
  concur::detail::Mutex mutex;
  std::vector<ThreadPoolExecutor*> list;
};
Pools& pools() {
  static auto* p = new Pools();  // never destroyed: pools may outlive static destruction
  return *p;
}

}  // namespace

ThreadPoolExecutor::ThreadPoolExecutor(ThreadPoolOptions options)
    : max_workers_(checked_max_workers(options.max_workers)),
      prefix_(options.thread_name_prefix.empty() ? default_prefix()
                                                 : std::move(options.thread_name_prefix)),
      initializer_(std::move(options.initializer)) {
  Pools& p = pools();
  concur::detail::MutexGuard guard(p.mutex);
  p.list.push_back(this);
}

ThreadPoolExecutor::~ThreadPoolExecutor() {
  shutdown(true);
  Pools& p = pools();
  concur::detail::MutexGuard guard(p.mutex);
  std::erase(p.list, this);
}

void ThreadPoolExecutor::enqueue(detail::StateRef task) {
  // The caller's Future holds the task too, so this pointer outlives the call.
  detail::StateBase* const submitted = task.get();
  threading::Thread* worker = nullptr;
  {
    // Only the put is made under the lock, so that no task slips in behind shutdown()'s exit
    // signal and none is half-pushed when the process forks; a new worker starts after it.
    concur::detail::MutexGuard guard(mutex_);
    if (fork_generation_ != concur::detail::fork_generation()) [[unlikely]] restart_after_fork();
    if (!broken_.empty()) throw BrokenExecutor(broken_);
    if (shutdown_) throw RuntimeError("cannot schedule new futures after shutdown");
    work_.put(std::move(task));
    try {
      worker = reserve_worker_locked();
    } catch (...) {  // no memory for the worker: nothing was submitted
      if (submitted->cancel()) throw;
      return;  // a worker took the task already: it was submitted after all
    }
  }
  if (worker) start_worker(*worker, *submitted);
}

bool ThreadPoolExecutor::take_idle() noexcept {
  int n = idle_.load(std::memory_order_relaxed);
  while (n > 0)
    if (idle_.compare_exchange_weak(n, n - 1, std::memory_order_relaxed)) return true;
  return false;
}

threading::Thread* ThreadPoolExecutor::reserve_worker_locked() {
  if (all_started_.load(std::memory_order_relaxed)) return nullptr;
  // A worker that finished a task and is (about to be) waiting for the next takes this one.
  if (take_idle()) return nullptr;
  threads_.reserve(threads_.size() + 1);  // so that the push_back below cannot throw
  auto t = std::make_unique<threading::Thread>(
      threading::ThreadOptions{.name = prefix_ + "_" + std::to_string(threads_.size()),
                               .daemon = true},
      [this] { worker_main(); });
  threading::Thread* worker = t.get();
  threads_.push_back(std::move(t));
  if (static_cast<int>(threads_.size()) == max_workers_)
    all_started_.store(true, std::memory_order_relaxed);
  starting_.fetch_add(1, std::memory_order_relaxed);  // shutdown(wait) waits for the start
  return worker;
}

void ThreadPoolExecutor::start_worker(threading::Thread& worker, detail::StateBase& submitted) {
  try {
    worker.start();
  } catch (...) {
    {
      concur::detail::MutexGuard guard(mutex_);
      std::erase_if(threads_, [&](const auto& t) { return t.get() == &worker; });
      all_started_.store(false, std::memory_order_relaxed);
    }
    worker_started();
    if (submitted.cancel()) throw;  // can't start new thread: nothing was submitted
    return;                         // another worker runs the task: it was submitted
  }
  worker_started();
}

void ThreadPoolExecutor::worker_started() noexcept {
  if (starting_.fetch_sub(1, std::memory_order_acq_rel) == 1) start_done_.notify_all();
}

void ThreadPoolExecutor::worker_main() {
  if (initializer_) {
    try {
      initializer_();
    } catch (const std::exception& e) {
      try {
        concur::detail::write_stderr(std::string("concur.futures: Exception in initializer: ") +
                                     e.what() + "\n");
      } catch (...) {  // no memory for the message: the short form
        concur::detail::write_stderr("concur.futures: Exception in initializer\n");
      }
      initializer_failed();
      return;
    } catch (...) {
      concur::detail::write_stderr("concur.futures: Exception in initializer\n");
      initializer_failed();
      return;
    }
  }
  detail::StateBase::HelpScope helping(this);
  for (;;) {
    detail::StateRef task = work_.get();
    if (!task) {
      work_.put(detail::StateRef());  // pass the exit signal on to the next worker
      return;
    }
    task->run();  // counts this worker idle (task_finishing) just before the future completes
  }
}

void ThreadPoolExecutor::task_finishing() noexcept {
  if (!all_started_.load(std::memory_order_relaxed)) idle_.fetch_add(1, std::memory_order_relaxed);
}

bool ThreadPoolExecutor::run_one_queued() {
  std::optional<detail::StateRef> task = work_.try_get();
  if (!task) return false;
  if (!*task) {  // the exit signal is not ours to consume
    work_.put(detail::StateRef());
    return false;
  }
  (*task)->run();
  return true;
}

void ThreadPoolExecutor::initializer_failed() {
  concur::detail::MutexGuard guard(mutex_);
  broken_ = "A thread initializer failed, the thread pool is not usable anymore";
  // Fail what is queued (a cancelled future stays cancelled), keeping the exit signal.
  bool saw_exit = false;
  while (std::optional<detail::StateRef> task = work_.try_get()) {
    if (!*task) {
      saw_exit = true;
      continue;
    }
    if ((*task)->set_running_or_notify_cancel())
      (*task)->set_exception(std::make_exception_ptr(BrokenExecutor(broken_)));
  }
  if (saw_exit) work_.put(detail::StateRef());
}

void ThreadPoolExecutor::shutdown(bool wait, bool cancel_futures) {
  {
    concur::detail::MutexGuard guard(mutex_);
    if (fork_generation_ != concur::detail::fork_generation()) [[unlikely]] restart_after_fork();
    if (cancel_futures) {
      // Drain the queue, cancelling every task that has not started.
      while (std::optional<detail::StateRef> task = work_.try_get()) {
        if (*task) (*task)->cancel();
      }
    }
    if (!shutdown_) {
      shutdown_ = true;
      work_.put(detail::StateRef());  // workers pass it on: each one exits after the queue
    } else if (cancel_futures) {
      work_.put(detail::StateRef());  // the drain above may have taken it
    }
  }
  if (!wait) return;
  // Workers that submits made before the shutdown are still starting: once started, they are
  // ours to join (no new ones can be reserved now).
  start_done_.wait_until([this] { return starting_.load(std::memory_order_acquire) == 0; },
                         Deadline::never());
  std::vector<threading::Thread*> to_join;
  {
    concur::detail::MutexGuard guard(mutex_);
    for (auto& t : threads_) to_join.push_back(t.get());
  }
  for (threading::Thread* t : to_join) t->join();
}

// --- fork (detail/at_fork.hpp) -----------------------------------------------------------------
//
// Before the fork, every pool's mutex_ is taken (after the list's): every put of a real task
// happens under it (enqueue, initializer_failed), so the child never finds a task half-pushed
// into work_, which would make its consumers wait forever for the missing item. Waiting for it
// is safe: its critical sections take only lower layers' locks (the thread registry when a
// worker is reserved), and those are taken after this layer's. Workers start outside it.
// (shutdown(cancel_futures) and a failed initializer complete futures under it, running their
// done-callbacks: a callback that waited for the thread calling fork() would hang the fork.)
// The child handler only releases them: the rest waits for the pool's first use in the child,
// noticed by its fork generation (one relaxed load per submit), so that a child that execs at
// once starts no thread and allocates nothing.
//
// At that first use, the pool forgets its workers (threading's child handler made them
// TERMINATED) and re-creates what they may have left locked or miscounted: the idle count
// (it counts idle workers that do not exist, which would keep submit() from starting one), the
// count of workers being started (their starters vanished), and the queue (vanished workers are parked in its wait list and could take a wake-up meant for a
// new worker). Queued tasks move to the new queue. A shut-down pool only forgets its workers:
// its workers pass the exit signal on outside mutex_, so its queue may hold a half-pushed one,
// and nothing may be submitted to it any more.

void ThreadPoolExecutor::restart_after_fork() noexcept {
  fork_generation_ = concur::detail::fork_generation();
  threads_.clear();  // ~Thread of a TERMINATED thread neither joins nor detaches
  all_started_.store(false, std::memory_order_relaxed);
  starting_.store(0, std::memory_order_relaxed);  // starts that vanished with their threads
  concur::detail::reinit_in_child(start_done_);
  if (shutdown_) return;
  idle_.store(0, std::memory_order_relaxed);
  std::vector<detail::StateRef> pending;
  while (std::optional<detail::StateRef> task = work_.try_get()) {
    try {
      pending.push_back(std::move(*task));
    } catch (...) {
      // Out of memory: this task is dropped (its future never completes), the pool goes on.
    }
  }
  concur::detail::reinit_in_child(work_);
  // An unbounded queue never refuses; only std::bad_alloc could escape (and end the child).
  for (auto& task : pending) work_.put(std::move(task));
}

struct PoolForkAccess {
  static void prepare() noexcept {
    Pools& p = pools();
    p.mutex.lock();
    for (ThreadPoolExecutor* pool : p.list) pool->mutex_.lock();
  }
  static void after() noexcept {
    Pools& p = pools();
    for (ThreadPoolExecutor* pool : p.list) pool->mutex_.unlock();
    p.mutex.unlock();
  }
};

namespace {
[[maybe_unused]] const bool fork_handlers_registered = concur::detail::register_at_fork(
    concur::detail::AtForkLayer::futures,
    {PoolForkAccess::prepare, PoolForkAccess::after, PoolForkAccess::after});
}  // namespace

}  // namespace concur::futures
