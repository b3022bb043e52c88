// futures_bench — concur::futures::ThreadPoolExecutor against the pools a C++ (or Python) user
// would otherwise pick, all measured in this one process (Python through a co-process), so that
// the ratios compare like with like on a noisy 2-vCPU machine (see shared/PERFORMANCE.md). The
// harness (calibration, interleaved rounds, median of per-round ratios, the Python co-process,
// printing, the options below) is bench/common/harness.hpp, shared by every *_bench binary.
//
//   futures_bench [--rounds N] [--sample-ms MS] [--only a,b,...] [--python SCRIPT]
//                 [--python-exe EXE] [--no-python] [--verbose]
// workloads: submit-result (ratios), alloc (bytes per task), latency (one task on an idle pool)
//
// submit-result: one sample submits n empty tasks — task i returns the int i — to a pool of 2
// workers and takes every result, in batches of kBatch (the same for every variant, Python too):
//     fs = [pool.submit(task_i) for i in batch]; for f in fs: f.result()
// Each result is checked against its task's index and the sample's sum against n(n-1)/2, so a
// pool that loses, duplicates or mixes up results is left out with "wrong result: ..." instead of
// looking fast. The pool is created and warmed (a first small batch starts its threads) before
// the clock starts and destroyed after it stops. A sample that makes no progress for a minute
// ends the run with a "HANG" report naming the variant, the step (submit, result(), shutdown),
// the task and how many of the batch's futures were done.
//
// Peers (each the plain, documented use of its API):
//   asio thread_pool+promise  boost::asio::thread_pool(2); per task a std::promise<int> moved
//                             into the handler given to boost::asio::post; std::future::get()
//   packaged_task pool        the pool a C++ programmer writes first: 2 std::threads taking
//                             std::packaged_task<int()> from a std::deque under a std::mutex and
//                             a std::condition_variable (notify_one after unlocking)
//   tbb::task_group           no futures — tg.run() per task writing its result into an array,
//                             tg.wait() per batch — the ceiling; TBB's default arena (on 2 CPUs
//                             one TBB worker, plus the caller inside tg.wait())
//   Python                    concurrent.futures.ThreadPoolExecutor(2), the same batches
//                             (bench/python/futures_bench.py)
// Goals: concur >= 1x asio+promise, >= 0.5x tbb::task_group, >= 100x Python.
//
// alloc: bytes (and calls) through operator new per submitted task, for concur and each C++ peer:
// this binary replaces the global operator new/delete with ones that count, while a flag is on,
// in atomic counters; one batch of kBatch tasks is counted after a warm-up batch on the same pool
// (the caller's futures vector is reserved beforehand, so only the pool's allocations count), and
// split into the submitting thread's and the workers'.
//
// latency: submit -> result() of one task on a pool idle for 5 ms before each submit (its workers
// asleep), 200 samples per pool, the pools taking turns; median, p90 and min in microseconds.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/harness.hpp"
#include "concur/futures.hpp"

#ifdef CONCUR_BENCH_HAVE_ASIO
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#endif
#ifdef CONCUR_BENCH_HAVE_TBB
#include <oneapi/tbb/task_group.h>
#endif

namespace cf = concur::futures;
using namespace concur_bench;  // the harness: Workload, check, opts, ...

// ------------------------------------------------------------------------------------------------
// Counting operator new (the alloc workload). Off, it costs one relaxed load per allocation, the
// same for every variant.
// ------------------------------------------------------------------------------------------------
namespace {
struct AllocCount {
  std::atomic<bool> on{false};
  std::atomic<std::uint64_t> bytes{0}, calls{0};                // every thread
  std::atomic<std::uint64_t> caller_bytes{0}, caller_calls{0};  // the submitting thread only
};
AllocCount alloc_count;
constinit thread_local bool is_caller = false;  // set in the thread that submits

inline void count_alloc(std::size_t size) {
  if (!alloc_count.on.load(std::memory_order_relaxed)) return;
  alloc_count.bytes.fetch_add(size, std::memory_order_relaxed);
  alloc_count.calls.fetch_add(1, std::memory_order_relaxed);
  if (is_caller) {
    alloc_count.caller_bytes.fetch_add(size, std::memory_order_relaxed);
    alloc_count.caller_calls.fetch_add(1, std::memory_order_relaxed);
  }
}

void* counted_alloc(std::size_t size) {
  count_alloc(size);
  if (size == 0) size = 1;
  for (;;) {
    if (void* p = std::malloc(size)) return p;
    std::new_handler h = std::get_new_handler();
    if (!h) throw std::bad_alloc();
    h();
  }
}

void* counted_alloc_aligned(std::size_t size, std::align_val_t al) {
  count_alloc(size);
  const std::size_t a = std::max(static_cast<std::size_t>(al), sizeof(void*));
  if (size == 0) size = 1;
  for (;;) {
    void* p = nullptr;
    if (posix_memalign(&p, a, size) == 0) return p;
    std::new_handler h = std::get_new_handler();
    if (!h) throw std::bad_alloc();
    h();
  }
}
}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try { return counted_alloc(n); } catch (...) { return nullptr; }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try { return counted_alloc(n); } catch (...) { return nullptr; }
}
void* operator new(std::size_t n, std::align_val_t al) { return counted_alloc_aligned(n, al); }
void* operator new[](std::size_t n, std::align_val_t al) { return counted_alloc_aligned(n, al); }
void* operator new(std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  try { return counted_alloc_aligned(n, al); } catch (...) { return nullptr; }
}
void* operator new[](std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  try { return counted_alloc_aligned(n, al); } catch (...) { return nullptr; }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

namespace {

constexpr int kBatch = 1000;        // tasks in flight at most: submit kBatch, then take kBatch
constexpr int kWarm = 64;           // the untimed batch that starts a pool's threads
constexpr int kWorkers = 2;
constexpr std::int64_t kMaxTasks = INT_MAX / 2;  // task i returns the int i
constexpr double kAsioGoal = 1.0;   // concur >= asio thread_pool + std::promise
constexpr double kTbbGoal = 0.5;    // concur within 2x of tbb::task_group (no futures)
constexpr double kPythonGoal = 100; // concur >= 100x Python's ThreadPoolExecutor
constexpr int kLatencySamples = 200;
constexpr auto kIdle = std::chrono::milliseconds(5);
constexpr int kWatchdogSeconds = 60;  // a sample without progress for this long has hung

const char* const kConcur = "concur ThreadPoolExecutor";
const char* const kAsio = "asio thread_pool+promise";
const char* const kPackaged = "packaged_task pool";
const char* const kTbb = "tbb::task_group";
const char* const kPython = "Python ThreadPoolExecutor";

// ------------------------------------------------------------------------------------------------
// Hang watchdog: the measuring thread records each step (one store per submit and per result);
// a thread started on first use reports, and ends the run, when a watched step makes no progress
// for kWatchdogSeconds: which variant, which step, which task of the batch, and (through the
// variant's probe) how many of the batch's futures are done.
// ------------------------------------------------------------------------------------------------
struct Progress {
  std::atomic<bool> active{false};
  std::atomic<std::uint64_t> ticks{0};
  std::atomic<const char*> step{""};
  std::atomic<std::int64_t> base{0}, size{0}, submitted{0}, taken{0};
  std::mutex m;
  std::function<std::string()> probe;  // under m; describes the batch's futures

  // Only the measuring thread writes, so a plain increment (no read-modify-write) will do.
  void tick() { ticks.store(ticks.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
  void at(const char* s) {
    step.store(s, std::memory_order_relaxed);
    tick();
  }
  void batch(std::int64_t b, std::int64_t n) {
    base.store(b, std::memory_order_relaxed);
    size.store(n, std::memory_order_relaxed);
    submitted.store(0, std::memory_order_relaxed);
    taken.store(0, std::memory_order_relaxed);
    tick();
  }
  void set_probe(std::function<std::string()> p) {
    std::lock_guard l(m);
    probe = std::move(p);
  }
};
Progress& progress = *new Progress;  // never destroyed: the watchdog thread outlives main()

[[noreturn]] void report_hang() {
  std::fflush(stdout);
  const std::int64_t size = progress.size.load(), sub = progress.submitted.load(),
                     taken = progress.taken.load();
  std::string where = progress.step.load();
  if (size > 0)
    where += ", batch of " + std::to_string(size) + " tasks from task " +
             std::to_string(progress.base.load()) + ": " + std::to_string(sub) + " submitted, " +
             std::to_string(taken) + " results taken";
  std::string futures;
  {
    std::lock_guard l(progress.m);
    if (progress.probe) futures = "; " + progress.probe();
  }
  std::fprintf(stderr, "futures_bench: HANG in %s: no progress for %d s (%s%s); giving up\n",
               running.c_str(), kWatchdogSeconds, where.c_str(), futures.c_str());
  std::_Exit(3);
}

void watchdog() {
  std::uint64_t last = 0;
  int still = 0;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const std::uint64_t t = progress.ticks.load(std::memory_order_relaxed);
    if (!progress.active.load(std::memory_order_relaxed) || t != last) {
      last = t;
      still = 0;
    } else if (++still >= kWatchdogSeconds) {
      report_hang();
    }
  }
}

// Watches the steps of one sample (or report) while it lives.
struct Watch {
  explicit Watch(const char* step) {
    static std::once_flag started;
    std::call_once(started, [] { std::thread(watchdog).detach(); });
    progress.batch(0, 0);
    progress.at(step);
    progress.active.store(true);
  }
  ~Watch() {
    progress.active.store(false);
    progress.set_probe(nullptr);
  }
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;
};

// ------------------------------------------------------------------------------------------------
// The pools under test, behind one shape: Pool() starts a pool of kWorkers, submit(v) submits a
// task returning v, get(h) waits for and returns its result, state(h) is 'd' (done), 'r'
// (running) or 'p' (pending or unknown) for a hang report.
// ------------------------------------------------------------------------------------------------
struct ConcurPool {
  using Handle = cf::Future<int>;
  cf::ThreadPoolExecutor pool{kWorkers};
  Handle submit(int v) { return pool.submit([v] { return v; }); }
  static int get(Handle& f) { return f.result(); }
  static char state(Handle& f) { return f.done() ? 'd' : f.running() ? 'r' : 'p'; }
};

template <class F>
char std_future_state(F& f) {  // a std::future whose result was taken is no longer valid()
  return !f.valid() || f.wait_for(std::chrono::seconds(0)) == std::future_status::ready ? 'd' : 'p';
}

#ifdef CONCUR_BENCH_HAVE_ASIO
struct AsioPool {
  using Handle = std::future<int>;
  boost::asio::thread_pool pool{kWorkers};
  Handle submit(int v) {
    std::promise<int> p;
    Handle f = p.get_future();
    boost::asio::post(pool, [p = std::move(p), v]() mutable { p.set_value(v); });
    return f;
  }
  static int get(Handle& f) { return f.get(); }
  static char state(Handle& f) { return std_future_state(f); }
};
#endif

// The pool a C++ programmer writes first.
class PackagedTaskPool {
 public:
  using Handle = std::future<int>;
  PackagedTaskPool() {
    for (int i = 0; i < kWorkers; ++i) threads_.emplace_back([this] { work(); });
  }
  ~PackagedTaskPool() {
    {
      std::lock_guard l(m_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  Handle submit(int v) {
    std::packaged_task<int()> task([v] { return v; });
    Handle f = task.get_future();
    {
      std::lock_guard l(m_);
      q_.push_back(std::move(task));
    }
    cv_.notify_one();
    return f;
  }
  static int get(Handle& f) { return f.get(); }
  static char state(Handle& f) { return std_future_state(f); }

 private:
  void work() {
    for (;;) {
      std::packaged_task<int()> task;
      {
        std::unique_lock l(m_);
        cv_.wait(l, [&] { return stop_ || !q_.empty(); });
        if (q_.empty()) return;
        task = std::move(q_.front());
        q_.pop_front();
      }
      task();
    }
  }
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<int()>> q_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

// ------------------------------------------------------------------------------------------------
// One batch: submit b tasks (returning base .. base+b-1), then take every result in order.
// Returns the sum of the results; a wrong one throws (the variant is left out, saying which).
// ------------------------------------------------------------------------------------------------
template <class Pool>
std::int64_t run_batch(Pool& pool, std::vector<typename Pool::Handle>& fs, std::int64_t base,
                       int b) {
  fs.clear();
  progress.batch(base, b);
  progress.at("submit()");
  for (int j = 0; j < b; ++j) {
    fs.push_back(pool.submit(static_cast<int>(base + j)));
    progress.submitted.store(j + 1, std::memory_order_relaxed);
  }
  progress.at("result()");
  std::int64_t sum = 0;
  for (int j = 0; j < b; ++j) {
    const int r = Pool::get(fs[j]);
    progress.taken.store(j + 1, std::memory_order_relaxed);
    if (r != base + j)
      throw std::runtime_error("wrong result: task " + std::to_string(base + j) + " (" +
                               std::to_string(j) + " of a batch of " + std::to_string(b) +
                               ") returned " + std::to_string(r));
    sum += r;
  }
  return sum;
}

// For the hang report: how many of the batch's futures are done / running / pending.
template <class Pool>
void probe_futures(std::vector<typename Pool::Handle>& fs) {
  progress.set_probe([&fs] {
    const std::int64_t sub = progress.submitted.load();
    std::int64_t d = 0, r = 0, p = 0;
    for (std::int64_t j = 0; j < sub && j < static_cast<std::int64_t>(fs.size()); ++j) {
      const char s = Pool::state(fs[static_cast<std::size_t>(j)]);
      (s == 'd' ? d : s == 'r' ? r : p) += 1;
    }
    return "of the " + std::to_string(sub) + " submitted futures: " + std::to_string(d) +
           " done, " + std::to_string(r) + " running, " + std::to_string(p) +
           " pending or not known to be done";
  });
}

// A submit-result sample on a fresh pool.
template <class Pool>
double submit_result(std::int64_t& n) {
  n = std::clamp<std::int64_t>(n, 1, kMaxTasks);
  Watch watch("pool construction");
  std::optional<Pool> pool(std::in_place);
  std::vector<typename Pool::Handle> fs;
  fs.reserve(kBatch);
  probe_futures<Pool>(fs);
  run_batch(*pool, fs, 0, kWarm);  // starts the threads of a pool that starts them lazily

  std::int64_t done = 0, sum = 0;
  const auto t0 = Clock::now();
  while (done < n) {
    const int b = static_cast<int>(std::min<std::int64_t>(kBatch, n - done));
    sum += run_batch(*pool, fs, done, b);
    done += b;
    if (done < n && over_cap(t0)) n = done;  // the machine slowed down: cut the sample short
  }
  const double t = seconds_since(t0);
  fs.clear();
  progress.batch(0, 0);
  progress.at("pool shutdown (destructor)");
  pool.reset();
  check(sum == n * (n - 1) / 2, "sum of the results");
  return t;
}

#ifdef CONCUR_BENCH_HAVE_TBB
// tbb::task_group: no futures; task i writes i into slot i % kBatch of an array.
struct TbbBatch {
  tbb::task_group tg;
  std::vector<int> results = std::vector<int>(kBatch, -1);

  std::int64_t run(std::int64_t base, int b) {
    progress.batch(base, b);
    progress.at("tg.run()");
    int* out = results.data();
    for (int j = 0; j < b; ++j) {
      const int v = static_cast<int>(base + j);
      tg.run([out, j, v] { out[j] = v; });
      progress.submitted.store(j + 1, std::memory_order_relaxed);
    }
    progress.at("tg.wait()");
    tg.wait();
    std::int64_t sum = 0;
    for (int j = 0; j < b; ++j) {
      if (results[j] != base + j)
        throw std::runtime_error("wrong result: tbb task " + std::to_string(base + j) +
                                 " wrote " + std::to_string(results[j]));
      sum += results[j];
      results[j] = -1;
    }
    progress.taken.store(b, std::memory_order_relaxed);
    return sum;
  }
};

double tbb_submit_result(std::int64_t& n) {
  n = std::clamp<std::int64_t>(n, 1, kMaxTasks);
  Watch watch("tbb::task_group construction");
  TbbBatch tb;
  tb.run(0, kWarm);
  std::int64_t done = 0, sum = 0;
  const auto t0 = Clock::now();
  while (done < n) {
    const int b = static_cast<int>(std::min<std::int64_t>(kBatch, n - done));
    sum += tb.run(done, b);
    done += b;
    if (done < n && over_cap(t0)) n = done;
  }
  const double t = seconds_since(t0);
  check(sum == n * (n - 1) / 2, "sum of the results");
  return t;
}
#endif

// ------------------------------------------------------------------------------------------------
// Workloads
// ------------------------------------------------------------------------------------------------
Workload make_submit_result() {
  Workload w{"submit-result", "submit+result",
             "tasks/s: submit + result() of empty int tasks, pool of 2 workers, batches of " +
                 std::to_string(kBatch),
             2000};
  w.add(kConcur, submit_result<ConcurPool>);
#ifdef CONCUR_BENCH_HAVE_ASIO
  w.add(kAsio, submit_result<AsioPool>);
#endif
  w.add(kPackaged, submit_result<PackagedTaskPool>);
#ifdef CONCUR_BENCH_HAVE_TBB
  w.add(kTbb, tbb_submit_result);
#endif
  if (python.ok())
    w.add(kPython, [](std::int64_t& n) {
      Watch watch("the Python co-process");
      return python.run("submit_result", n);
    });
  w.compare(kConcur, kAsio, kAsioGoal);
  w.compare(kConcur, kPackaged);
  w.compare(kConcur, kTbb, kTbbGoal);
  w.compare(kConcur, kPython, kPythonGoal);
  return w;
}

// alloc: operator new bytes and calls per task over one counted batch after a warm-up batch.
struct AllocResult {
  double bytes, calls, caller_bytes, caller_calls;
};

template <class Pool>
AllocResult count_pool_allocs() {
  Watch watch("pool construction");
  std::optional<Pool> pool(std::in_place);
  std::vector<typename Pool::Handle> fs;
  fs.reserve(kBatch);
  probe_futures<Pool>(fs);
  run_batch(*pool, fs, 0, kBatch);  // warm-up: threads started, caches filled
  fs.clear();
  alloc_count.bytes = alloc_count.calls = alloc_count.caller_bytes = alloc_count.caller_calls = 0;
  alloc_count.on.store(true);
  const std::int64_t sum = run_batch(*pool, fs, kBatch, kBatch);
  fs.clear();  // futures released, the pool's part of the work done
  alloc_count.on.store(false);
  progress.at("pool shutdown (destructor)");
  pool.reset();
  check(sum == static_cast<std::int64_t>(kBatch) * kBatch + std::int64_t{kBatch} * (kBatch - 1) / 2,
        "sum of the results");
  return {static_cast<double>(alloc_count.bytes) / kBatch,
          static_cast<double>(alloc_count.calls) / kBatch,
          static_cast<double>(alloc_count.caller_bytes) / kBatch,
          static_cast<double>(alloc_count.caller_calls) / kBatch};
}

#ifdef CONCUR_BENCH_HAVE_TBB
AllocResult count_tbb_allocs() {
  Watch watch("tbb::task_group construction");
  TbbBatch tb;
  tb.run(0, kBatch);
  alloc_count.bytes = alloc_count.calls = alloc_count.caller_bytes = alloc_count.caller_calls = 0;
  alloc_count.on.store(true);
  tb.run(kBatch, kBatch);
  alloc_count.on.store(false);
  return {static_cast<double>(alloc_count.bytes) / kBatch,
          static_cast<double>(alloc_count.calls) / kBatch,
          static_cast<double>(alloc_count.caller_bytes) / kBatch,
          static_cast<double>(alloc_count.caller_calls) / kBatch};
}
#endif

Workload make_alloc() {
  Workload w{"alloc", "bytes per task",
             "operator new per submitted task over one batch of " + std::to_string(kBatch) +
                 " after a warm-up batch, all threads",
             0};
  w.report = [title = w.title] {
    is_caller = true;
    auto line = [&](const char* name, const std::function<AllocResult()>& measure) {
      running = title + ": " + name;
      try {
        const AllocResult r = measure();
        std::printf("%-17s %-26s %7.1f B/task in %5.2f allocations (submitting thread %.1f B "
                    "in %.2f, workers %.1f B in %.2f)\n",
                    title.c_str(), name, r.bytes, r.calls, r.caller_bytes, r.caller_calls,
                    r.bytes - r.caller_bytes, r.calls - r.caller_calls);
      } catch (const std::exception& e) {
        std::printf("%-17s %s: left out (%s)\n", title.c_str(), name, e.what());
      }
      std::fflush(stdout);
    };
    line(kConcur, count_pool_allocs<ConcurPool>);
#ifdef CONCUR_BENCH_HAVE_ASIO
    line(kAsio, count_pool_allocs<AsioPool>);
#endif
    line(kPackaged, count_pool_allocs<PackagedTaskPool>);
#ifdef CONCUR_BENCH_HAVE_TBB
    line(kTbb, count_tbb_allocs);
    std::printf("%-17s (tbb::task_group's tasks come from TBB's own small-object pool, not "
                "operator new)\n", "");
#endif
  };
  return w;
}

// latency: one task submitted to a pool idle for kIdle; microseconds from submit to result().
struct LatencyVariant {
  const char* name;
  std::function<double(int)> once;  // sleeps kIdle, then times submit -> result() of task k
  std::vector<double> us;
};

template <class Pool>
std::function<double(int)> latency_of(std::shared_ptr<Pool> pool) {
  return [pool](int k) {
    std::this_thread::sleep_for(kIdle);
    progress.batch(k, 1);
    progress.at("submit() + result() of one task on an idle pool");
    const auto t0 = Clock::now();
    auto h = pool->submit(k);
    const int r = Pool::get(h);
    const double us = seconds_since(t0) * 1e6;
    progress.taken.store(1, std::memory_order_relaxed);
    check(r == k, "latency task's result");
    return us;
  };
}

template <class Pool>
void add_latency(std::vector<LatencyVariant>& vs, const char* name) {
  auto pool = std::make_shared<Pool>();
  for (int k = 0; k < kWarm; ++k) {  // start the pool's threads
    auto h = pool->submit(k);
    Pool::get(h);
  }
  vs.push_back(LatencyVariant{name, latency_of(pool), {}});
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

Workload make_latency() {
  Workload w{"latency", "idle-pool latency",
             "us from submit() to result() of one task on a pool idle for " +
                 std::to_string(kIdle.count()) + " ms, " + std::to_string(kLatencySamples) +
                 " samples per pool, pools taking turns",
             0};
  w.report = [title = w.title] {
    Watch watch("pool construction");
    std::vector<LatencyVariant> vs;
    add_latency<ConcurPool>(vs, kConcur);
#ifdef CONCUR_BENCH_HAVE_ASIO
    add_latency<AsioPool>(vs, kAsio);
#endif
    add_latency<PackagedTaskPool>(vs, kPackaged);
    std::string error;
    try {
      for (int s = 0; s < kLatencySamples; ++s)
        for (std::size_t i = 0; i < vs.size(); ++i) {  // rotate who goes first
          LatencyVariant& v = vs[(i + static_cast<std::size_t>(s)) % vs.size()];
          running = title + ": " + v.name;
          v.us.push_back(v.once(s));
        }
    } catch (const std::exception& e) {
      error = e.what();
    }
    progress.at("pool shutdown (destructor)");
    if (!error.empty()) {
      std::printf("%-17s left out (%s in %s)\n", title.c_str(), error.c_str(), running.c_str());
      return;
    }
    for (const LatencyVariant& v : vs)
      std::printf("%-17s %-26s median %7.1f us  p90 %7.1f us  min %6.1f us\n", title.c_str(),
                  v.name, percentile(v.us, 0.5), percentile(v.us, 0.9), percentile(v.us, 0));
    running = title + ": pool shutdown";
    vs.clear();  // the pools' destructors, still watched
  };
  return w;
}

}  // namespace

int main(int argc, char** argv) {
  return concur_bench::run_main(argc, argv, "futures",
                                {make_submit_result, make_alloc, make_latency});
}
