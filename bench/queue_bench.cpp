// queue_bench — concur::queue against the queues a C++ (or Python) user would otherwise pick, all
// measured in this one process (Python through a co-process), so that the ratios compare like
// with like on a noisy 2-vCPU machine (see shared/PERFORMANCE.md). The harness (calibration,
// interleaved rounds, median of per-round ratios, the Python co-process, printing, the options
// below) is bench/common/harness.hpp, shared by every *_bench binary.
//
//   queue_bench [--rounds N] [--sample-ms MS] [--only a,b,...] [--python SCRIPT]
//               [--python-exe EXE] [--no-python] [--verbose]
// workloads: q1p1c, q2p2c (unbounded), q1p1c-bounded, q2p2c-bounded (capacity 1024)
//
// One sample moves n int items from P producer threads to C consumer threads through one queue:
// producer p puts the n/P distinct values p*(n/P) .. (p+1)*(n/P)-1, consumer c gets exactly its
// share of the n items. Threads are created before and joined after the timed section, which
// runs from the start signal to the last consumer's last get. Every sample checks that each
// produced item came out exactly once (count, sum and sum of squares), so a queue that loses or
// duplicates items is left out with "wrong result" instead of looking fast, and a sample that
// does not finish within a minute ends the run with a "hang" report (a lost wake-up).
//
// Peers (each the plain, documented use of its API; no producer tokens):
//   std mutex+cv deque      a std::deque under a std::mutex, one condition_variable (two when
//                           bounded), notify_one after unlocking on every put/get; the same
//                           with a std::priority_queue for cq::PriorityQueue
//   moodycamel BlockingCQ   moodycamel::BlockingConcurrentQueue<int> enqueue / wait_dequeue
//                           (unbounded only: it has no blocking bounded put)
//   tbb concurrent_bounded_queue  push / pop, set_capacity(1024) when bounded
//   Python                  queue.Queue(), queue.Queue(1024), queue.SimpleQueue() with the same
//                           threads and counts (bench/python/queue_bench.py)
#include <algorithm>
#include <atomic>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/harness.hpp"
#include "concur/queue.hpp"

#ifdef CONCUR_BENCH_HAVE_TBB
#include <oneapi/tbb/concurrent_queue.h>
#endif
#ifdef CONCUR_BENCH_HAVE_MOODYCAMEL
#include <blockingconcurrentqueue.h>
#endif

namespace cq = concur::queue;
using namespace concur_bench;  // the harness: Workload, check, opts, ...

namespace {

constexpr int kCapacity = 1024;
constexpr double kPythonGoal = 100;  // every concur queue >= 100x Python's queue.Queue
constexpr double kPeerGoal = 1;      // at least as fast as the best C++ peer of its kind

// ------------------------------------------------------------------------------------------------
// The queues under test, behind one shape: put(int), get() -> int, try_get(int&) for draining
// what a cut-short sample left behind, size() for a hang report.
// ------------------------------------------------------------------------------------------------
template <class Q>
struct Concur {  // cq::Queue, LifoQueue, PriorityQueue, PollableQueue, SimpleQueue
  Q q;
  Concur() = default;
  explicit Concur(int maxsize) : q(maxsize) {}
  void put(int v) { q.put(v); }
  int get() { return q.get(); }
  bool try_get(int& v) {
    std::optional<int> o = q.try_get();
    if (o) v = *o;
    return o.has_value();
  }
  long long size() { return static_cast<long long>(q.qsize()); }
};

// The queue a C++ programmer writes first: deque + mutex + condition variable(s), notifying
// after unlocking (the faster idiom). Bounded: a second condition variable for "not full".
// Container: std::deque (FIFO), or a std::priority_queue as the like-for-like peer of
// cq::PriorityQueue (smallest first).
struct Fifo {
  std::deque<int> d;
  void push(int v) { d.push_back(v); }
  int pop() {
    const int v = d.front();
    d.pop_front();
    return v;
  }
  std::size_t size() const { return d.size(); }
};
struct MinHeap {
  std::priority_queue<int, std::vector<int>, std::greater<int>> h;
  void push(int v) { h.push(v); }
  int pop() {
    const int v = h.top();
    h.pop();
    return v;
  }
  std::size_t size() const { return h.size(); }
};

template <class Container = Fifo>
class StdQueue {
 public:
  StdQueue() = default;
  explicit StdQueue(int maxsize) : cap_(static_cast<std::size_t>(maxsize)) {}
  void put(int v) {
    {
      std::unique_lock l(m_);
      if (cap_) not_full_.wait(l, [&] { return d_.size() < cap_; });
      d_.push(v);
    }
    not_empty_.notify_one();
  }
  int get() {
    int v = 0;
    {
      std::unique_lock l(m_);
      not_empty_.wait(l, [&] { return d_.size() > 0; });
      v = d_.pop();
    }
    if (cap_) not_full_.notify_one();
    return v;
  }
  bool try_get(int& v) {
    {
      std::lock_guard l(m_);
      if (d_.size() == 0) return false;
      v = d_.pop();
    }
    if (cap_) not_full_.notify_one();
    return true;
  }
  long long size() {
    std::lock_guard l(m_);
    return static_cast<long long>(d_.size());
  }

 private:
  std::mutex m_;
  std::condition_variable not_empty_, not_full_;
  Container d_;
  std::size_t cap_ = 0;  // 0: unbounded
};

#ifdef CONCUR_BENCH_HAVE_MOODYCAMEL
struct Moodycamel {
  moodycamel::BlockingConcurrentQueue<int> q;
  void put(int v) { q.enqueue(v); }
  int get() {
    int v = 0;
    q.wait_dequeue(v);
    return v;
  }
  bool try_get(int& v) { return q.try_dequeue(v); }
  long long size() { return static_cast<long long>(q.size_approx()); }
};
#endif

#ifdef CONCUR_BENCH_HAVE_TBB
struct Tbb {
  tbb::concurrent_bounded_queue<int> q;
  Tbb() = default;
  explicit Tbb(int capacity) { q.set_capacity(capacity); }
  void put(int v) { q.push(v); }
  int get() {
    int v = 0;
    q.pop(v);
    return v;
  }
  bool try_get(int& v) { return q.try_pop(v); }
  long long size() { return static_cast<long long>(q.size()); }
};
#endif

// ------------------------------------------------------------------------------------------------
// One sample: n items from P producers to C consumers (see the top of the file).
//
// If the machine has dropped into a much slower mode since calibration, the producers stop after
// 4 x sample-ms (checked every 256 puts, as in the harness's two_thread) and a stop value (-1)
// per consumer follows, so that consumers waiting for the rest of their share return; n becomes
// the items the consumers got, and what is still queued is drained and accounted for afterwards.
// ------------------------------------------------------------------------------------------------
struct Tally {
  std::int64_t count = 0, sum = 0;
  std::uint64_t squares = 0;  // modulo 2^64
  int stops = 0;
  void add(int v) {
    if (v < 0) {
      ++stops;
      return;
    }
    ++count;
    sum += v;
    squares += static_cast<std::uint64_t>(v) * static_cast<std::uint64_t>(v);
  }
};

// The sum and sum of squares (modulo 2^64) of base, base+1, ..., base+m-1.
void expected_tally(std::int64_t base, std::int64_t m, Tally& t) {
  if (m <= 0) return;
  using u128 = unsigned __int128;
  const u128 b = static_cast<u128>(base), k = static_cast<u128>(m);
  t.count += m;
  t.sum += static_cast<std::int64_t>(k * b + k * (k - 1) / 2);
  t.squares += static_cast<std::uint64_t>(k * b * b + b * k * (k - 1) +
                                          (k - 1) * k * (2 * k - 1) / 6);
}

constexpr int kWatchdogSeconds = 60;  // a sample still running after this has hung

[[noreturn]] void hang(const char* who, int done, int of, long long queued) {
  std::fflush(stdout);
  std::fprintf(stderr,
               "queue_bench: HANG in %s: %s %d of %d finished after %d s, %lld items queued "
               "(a lost wake-up or a lost item); giving up\n",
               running.c_str(), who, done, of, kWatchdogSeconds, queued);
  std::_Exit(3);
}

template <class Q>
double move_items(std::int64_t& n, int producers, int consumers, Q& q) {
  const std::int64_t per = std::max<std::int64_t>(1, std::min<std::int64_t>(n, INT_MAX / 2) / producers);
  n = per * producers;
  std::vector<std::int64_t> produced(producers, 0);
  std::vector<Tally> got(consumers);
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  Clock::time_point t0;
  const double cap = 4 * opts.sample_s;
  std::mutex m;  // the end-of-sample handshake with this thread, once per thread
  std::condition_variable cv;
  int producers_done = 0, consumers_done = 0;
  bool cut = false;
  std::string error;

  auto finish = [&](int& counter, const std::string& what) {
    { std::lock_guard l(m); ++counter; if (!what.empty() && error.empty()) error = what; }
    cv.notify_all();
  };
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p)
    threads.emplace_back([&, p] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      const std::int64_t base = p * per;
      std::int64_t i = 0;
      bool stopped = false;
      std::string what;
      try {
        for (; i < per; ++i) {
          if ((i & 255) == 255 && seconds_since(t0) > cap) { stopped = true; break; }
          q.put(static_cast<int>(base + i));
        }
      } catch (const std::exception& e) {
        what = std::string("put threw: ") + e.what();
      }
      produced[p] = i;
      { std::lock_guard l(m); cut = cut || stopped; }
      finish(producers_done, what);
    });
  for (int c = 0; c < consumers; ++c)
    threads.emplace_back([&, c] {
      const std::int64_t share = n / consumers + (c < n % consumers ? 1 : 0);
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      Tally t;
      std::string what;
      try {
        for (std::int64_t k = 0; k < share; ++k) {
          const int v = q.get();
          t.add(v);
          if (v < 0) break;  // the sample was cut short
        }
      } catch (const std::exception& e) {
        what = std::string("get threw: ") + e.what();
      }
      got[c] = t;
      finish(consumers_done, what);
    });
  while (ready.load() < producers + consumers) std::this_thread::yield();
  t0 = Clock::now();
  go.store(true, std::memory_order_release);

  const auto watchdog = std::chrono::seconds(kWatchdogSeconds);
  {
    std::unique_lock l(m);
    if (!cv.wait_for(l, watchdog, [&] { return producers_done == producers; }))
      hang("producers", producers_done, producers, q.size());
    if (cut || !error.empty()) {  // consumers still wait for items that will not come
      l.unlock();
      try {
        for (int c = 0; c < consumers; ++c) q.put(-1);
      } catch (const std::exception&) {
        // put already failed in a producer; the consumers' wait below reports the hang
      }
      l.lock();
      cut = true;
    }
    if (!cv.wait_for(l, watchdog, [&] { return consumers_done == consumers; }))
      hang("consumers", consumers_done, consumers, q.size());
  }
  const double t = seconds_since(t0);
  for (auto& th : threads) th.join();
  if (!error.empty()) throw std::runtime_error(error);

  // Every item produced came out exactly once: through a consumer, or (cut short) left queued.
  Tally out, left, want;
  for (const Tally& g : got) {
    out.count += g.count;
    out.sum += g.sum;
    out.squares += g.squares;
    out.stops += g.stops;
  }
  for (int v = 0; q.try_get(v);) left.add(v);
  for (int p = 0; p < producers; ++p) expected_tally(p * per, produced[p], want);
  check(out.count + left.count == want.count, "item count (items lost or duplicated)");
  check(out.sum + left.sum == want.sum && out.squares + left.squares == want.squares,
        "item values (items lost, duplicated or corrupted)");
  check(out.stops + left.stops == (cut ? consumers : 0), "stop values");
  if (!cut) check(out.count == n && left.count == 0, "items left in the queue");
  n = out.count;
  return t;
}

// A variant: a fresh queue (constructed from args) per sample.
template <class Q, class... Args>
std::function<double(std::int64_t&)> sample(int producers, int consumers, Args... args) {
  return [=](std::int64_t& n) {
    auto q = std::make_unique<Q>(args...);
    return move_items(n, producers, consumers, *q);
  };
}

// ------------------------------------------------------------------------------------------------
// Workloads
// ------------------------------------------------------------------------------------------------
const char* const kPyQueue = "Python queue.Queue";
const char* const kPySimple = "Python SimpleQueue";
const char* const kPyBounded = "Python Queue(1024)";
const char* const kStd = "std mutex+cv deque";
const char* const kStdHeap = "std mutex+cv priority_queue";
const char* const kStdBounded = "std mutex+2cv deque";
const char* const kMoody = "moodycamel BlockingCQ";
const char* const kTbb = "tbb concurrent_bounded_queue";
const char* const kTbbBounded = "tbb bounded_queue(1024)";

Workload unbounded(int p, int c, bool all_kinds) {
  const std::string pc = std::to_string(p) + "P" + std::to_string(c) + "C";
  Workload w{"q" + std::to_string(p) + "p" + std::to_string(c) + "c", "queue " + pc,
             "int items/s, " + std::to_string(p) + " producer(s) -> " + std::to_string(c) +
                 " consumer(s), unbounded",
             20000};
  w.add("concur SimpleQueue", sample<Concur<cq::SimpleQueue<int>>>(p, c));
  w.add("concur Queue", sample<Concur<cq::Queue<int>>>(p, c));
  if (all_kinds) {
    w.add("concur LifoQueue", sample<Concur<cq::LifoQueue<int>>>(p, c));
    w.add("concur PriorityQueue", sample<Concur<cq::PriorityQueue<int>>>(p, c));
    w.add("concur PollableQueue", sample<Concur<cq::PollableQueue<int>>>(p, c));
  }
  w.add(kStd, sample<StdQueue<>>(p, c));
  if (all_kinds) w.add(kStdHeap, sample<StdQueue<MinHeap>>(p, c));
#ifdef CONCUR_BENCH_HAVE_MOODYCAMEL
  w.add(kMoody, sample<Moodycamel>(p, c));
#endif
#ifdef CONCUR_BENCH_HAVE_TBB
  w.add(kTbb, sample<Tbb>(p, c));
#endif
  const std::string py = "_" + std::to_string(p) + "p" + std::to_string(c) + "c";
  w.add_python(kPyQueue, "Queue" + py);
  w.add_python(kPySimple, "SimpleQueue" + py);

  w.compare("concur SimpleQueue", kMoody, kPeerGoal);
  w.compare("concur SimpleQueue", kStd);
  w.compare("concur SimpleQueue", kPySimple);
  w.compare("concur SimpleQueue", kPyQueue, kPythonGoal);
  w.compare("concur Queue", kMoody, kPeerGoal);
  w.compare("concur Queue", kStd);
  w.compare("concur Queue", kTbb);
  w.compare("concur Queue", kPyQueue, kPythonGoal);
  if (all_kinds)
    for (const char* k : {"concur LifoQueue", "concur PriorityQueue", "concur PollableQueue"}) {
      w.compare(k, kStd);
      if (k == std::string("concur PriorityQueue")) w.compare(k, kStdHeap);
      w.compare(k, kPyQueue, kPythonGoal);
    }
  return w;
}

Workload bounded(int p, int c) {
  const std::string pc = std::to_string(p) + "P" + std::to_string(c) + "C";
  Workload w{"q" + std::to_string(p) + "p" + std::to_string(c) + "c-bounded",
             "queue " + pc + " 1024",
             "int items/s, " + std::to_string(p) + " producer(s) -> " + std::to_string(c) +
                 " consumer(s), capacity 1024",
             20000};
  w.add("concur Queue(1024)", sample<Concur<cq::Queue<int>>>(p, c, kCapacity));
  w.add(kStdBounded, sample<StdQueue<>>(p, c, kCapacity));
#ifdef CONCUR_BENCH_HAVE_TBB
  w.add(kTbbBounded, sample<Tbb>(p, c, kCapacity));
#endif
  w.add_python(kPyBounded, "Queue1024_" + std::to_string(p) + "p" + std::to_string(c) + "c");
  w.compare("concur Queue(1024)", kTbbBounded, kPeerGoal);
  w.compare("concur Queue(1024)", kStdBounded);
  w.compare("concur Queue(1024)", kPyBounded, kPythonGoal);
  return w;
}

Workload make_q1p1c() { return unbounded(1, 1, true); }
Workload make_q2p2c() { return unbounded(2, 2, false); }
Workload make_q1p1c_bounded() { return bounded(1, 1); }
Workload make_q2p2c_bounded() { return bounded(2, 2); }

}  // namespace

int main(int argc, char** argv) {
  return concur_bench::run_main(argc, argv, "queue",
                                {make_q1p1c, make_q2p2c, make_q1p1c_bounded, make_q2p2c_bounded});
}
