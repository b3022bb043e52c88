// mp_lock_bench — concur::multiprocessing::Lock (a robust, process-shared futex lock) against a
// pthread_mutex_t with PTHREAD_PROCESS_SHARED living in the same kind of shared memory (what a
// C++ user sharing a lock between processes would otherwise write), and Python's
// multiprocessing.Lock (a co-process: bench/python/mp_lock_bench.py). Same harness as every
// *_bench (bench/common/harness.hpp): calibrated samples, interleaved rounds, median ratios.
//
//   mp_lock_bench [--rounds N] [--sample-ms MS] [--only a,b,...] [--no-python] [--verbose]
// workloads:
//   mp-lock-uncontended  acquire + release (and an increment) in a loop on one thread
//   mp-lock-contended    two processes (this one and a forked child) increment one counter in
//                        shared memory under one lock; total increments per second, timed from
//                        the start signal to the child's exit (its reaping included)
// Extra peers, for information (no goal): a robust pthread mutex (PTHREAD_MUTEX_ROBUST, the other
// way to survive a dead owner) and mp::RLock.
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <new>
#include <string>

#include "common/harness.hpp"
#include "concur/multiprocessing.hpp"

namespace mp = concur::multiprocessing;
using namespace concur_bench;

namespace {

constexpr double kGoal = 1.0;

// One page of MAP_SHARED anonymous memory: what both processes see after fork().
struct Shared {
  alignas(64) pthread_mutex_t mutex;
  alignas(64) std::atomic<int> go;
  alignas(64) std::int64_t counter;
};

class SharedPage {
 public:
  explicit SharedPage(bool robust) {
    void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap failed");
    s_ = ::new (p) Shared();
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (robust) pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&s_->mutex, &a);
    pthread_mutexattr_destroy(&a);
  }
  ~SharedPage() {
    pthread_mutex_destroy(&s_->mutex);
    ::munmap(s_, 4096);
  }
  Shared* operator->() const { return s_; }

 private:
  Shared* s_;
};

struct PthreadShared {
  Shared* s;
  void lock() { pthread_mutex_lock(&s->mutex); }
  void unlock() { pthread_mutex_unlock(&s->mutex); }
};

template <class Lockish>
double uncontended_loop(Lockish& m, std::int64_t& counter, std::int64_t n) {
  counter = 0;
  const auto t0 = Clock::now();
  for (std::int64_t i = 0; i < n; ++i) {
    m.lock();
    ++counter;
    m.unlock();
  }
  const double t = seconds_since(t0);
  check(counter == n, "uncontended counter");
  return t;
}

double mp_lock_uncontended(std::int64_t& n) {
  mp::Lock l;
  SharedPage page(false);
  const auto t0 = Clock::now();
  for (std::int64_t i = 0; i < n; ++i) {
    l.acquire();
    ++page->counter;
    l.release();
  }
  const double t = seconds_since(t0);
  check(page->counter == n, "uncontended counter");
  return t;
}

double mp_rlock_uncontended(std::int64_t& n) {
  mp::RLock l;
  SharedPage page(false);
  const auto t0 = Clock::now();
  for (std::int64_t i = 0; i < n; ++i) {
    l.acquire();
    ++page->counter;
    l.release();
  }
  const double t = seconds_since(t0);
  check(page->counter == n, "uncontended counter");
  return t;
}

double pthread_uncontended(std::int64_t& n, bool robust) {
  SharedPage page(robust);
  PthreadShared m{page.operator->()};
  return uncontended_loop(m, page->counter, n);
}

Workload make_uncontended() {
  Workload w{"mp-lock-uncontended", "mp lock, uncontended", "acquire+release pairs/s, one thread",
             1000000};
  w.add("mp::Lock", mp_lock_uncontended);
  w.add("pthread_mutex (pshared)", [](std::int64_t& n) { return pthread_uncontended(n, false); });
  w.add("pthread_mutex (pshared, robust)",
        [](std::int64_t& n) { return pthread_uncontended(n, true); });
  w.add("mp::RLock", mp_rlock_uncontended);
  w.add_python("Python mp.Lock", "lock_uncontended");
  w.compare("mp::Lock", "pthread_mutex (pshared)", kGoal);
  w.compare("mp::Lock", "pthread_mutex (pshared, robust)");
  w.compare("mp::RLock", "pthread_mutex (pshared)");
  w.compare("mp::Lock", "Python mp.Lock");
  return w;
}

// Two processes, `per` increments each, under `lock`/`unlock`; the child is forked here and
// waits for the start signal in shared memory (it spins on it with pause: the parent sets it
// within microseconds).
template <class Lock, class Unlock>
double two_processes(std::int64_t& n, Shared* s, Lock lock, Unlock unlock) {
  const std::int64_t per = std::max<std::int64_t>(1, n / 2);
  n = 2 * per;
  s->counter = 0;
  s->go.store(0);
  std::fflush(stdout);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    s->go.fetch_add(1);
    while (s->go.load(std::memory_order_acquire) < 2) concur::detail::cpu_relax();
    for (std::int64_t i = 0; i < per; ++i) {
      lock();
      ++s->counter;
      unlock();
    }
    ::_exit(0);
  }
  while (s->go.load(std::memory_order_acquire) < 1) concur::detail::cpu_relax();
  const auto t0 = Clock::now();
  s->go.store(2, std::memory_order_release);
  for (std::int64_t i = 0; i < per; ++i) {
    lock();
    ++s->counter;
    unlock();
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  const double t = seconds_since(t0);
  check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child");
  check(s->counter == 2 * per, "contended counter");
  return t;
}

Workload make_contended() {
  Workload w{"mp-lock-contended", "mp lock, 2 processes", "increments/s, total of 2 processes",
             200000};
  w.add("mp::Lock", [](std::int64_t& n) {
    SharedPage page(false);
    mp::Lock l;
    return two_processes(n, page.operator->(), [&] { l.acquire(); }, [&] { l.release(); });
  });
  w.add("pthread_mutex (pshared)", [](std::int64_t& n) {
    SharedPage page(false);
    Shared* s = page.operator->();
    return two_processes(n, s, [s] { pthread_mutex_lock(&s->mutex); },
                         [s] { pthread_mutex_unlock(&s->mutex); });
  });
  w.add("pthread_mutex (pshared, robust)", [](std::int64_t& n) {
    SharedPage page(true);
    Shared* s = page.operator->();
    return two_processes(n, s, [s] { pthread_mutex_lock(&s->mutex); },
                         [s] { pthread_mutex_unlock(&s->mutex); });
  });
  w.add_python("Python mp.Lock", "lock_contended");
  w.compare("mp::Lock", "pthread_mutex (pshared)", kGoal);
  w.compare("mp::Lock", "pthread_mutex (pshared, robust)");
  w.compare("mp::Lock", "Python mp.Lock");
  return w;
}

}  // namespace

int main(int argc, char** argv) {
  return concur_bench::run_main(argc, argv, "mp_lock", {make_uncontended, make_contended});
}
