// concur::futures::ThreadPoolExecutor (include/concur/futures/thread_pool.hpp), following
// CPython's Lib/concurrent/futures/thread.py.
#include <algorithm>
#include <cstdio>
#include <atomic>
#include <exception>
#include <string>
#include <thread>
#include <utility>

#include "concur/futures/thread_pool.hpp"

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

}  // namespace

ThreadPoolExecutor::ThreadPoolExecutor(ThreadPoolOptions options)
    : max_workers_(checked_max_workers(options.max_workers)),
      prefix_(options.thread_name_prefix.empty() ? default_prefix()
                                                 : std::move(options.thread_name_prefix)),
      initializer_(std::move(options.initializer)) {}

ThreadPoolExecutor::~ThreadPoolExecutor() { shutdown(true); }

void ThreadPoolExecutor::enqueue(detail::StateRef task) {
  // Under the lock, so that no task slips in behind shutdown()'s exit signal.
  concur::detail::MutexGuard guard(mutex_);
  if (!broken_.empty()) throw BrokenExecutor(broken_);
  if (shutdown_) throw RuntimeError("cannot schedule new futures after shutdown");
  work_.put(std::move(task));
  adjust_thread_count();
}

void ThreadPoolExecutor::adjust_thread_count() {
  if (all_started_.load(std::memory_order_relaxed)) return;
  // A worker that finished a task and is (about to be) waiting for the next takes this one.
  if (idle_.acquire(false)) return;
  const std::string name = prefix_ + "_" + std::to_string(threads_.size());
  auto t = std::make_unique<threading::Thread>(
      threading::ThreadOptions{.name = name, .daemon = true}, [this] { worker_main(); });
  t->start();
  threads_.push_back(std::move(t));
  if (static_cast<int>(threads_.size()) == max_workers_)
    all_started_.store(true, std::memory_order_relaxed);
}

void ThreadPoolExecutor::worker_main() {
  if (initializer_) {
    try {
      initializer_();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "concur.futures: Exception in initializer: %s\n", e.what());
      initializer_failed();
      return;
    } catch (...) {
      std::fprintf(stderr, "concur.futures: Exception in initializer\n");
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
  if (!all_started_.load(std::memory_order_relaxed)) idle_.release();
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
  std::vector<threading::Thread*> to_join;
  {
    concur::detail::MutexGuard guard(mutex_);
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
    if (wait)
      for (auto& t : threads_) to_join.push_back(t.get());
  }
  for (threading::Thread* t : to_join) t->join();
}

}  // namespace concur::futures
