// pool_bench — concur's process pools (mp::Pool, cf::ProcessPoolExecutor) against CPython's
// (multiprocessing.Pool, concurrent.futures.ProcessPoolExecutor), measured in this one process
// (Python through a co-process, bench/python/pool_bench.py) with the samples interleaved, so that
// the ratios compare like with like on a noisy 2-vCPU machine (see shared/PERFORMANCE.md). The
// harness is bench/common/harness.hpp.
//
//   pool_bench [--rounds N] [--sample-ms MS] [--only a,b,...] [--python SCRIPT]
//              [--python-exe EXE] [--no-python] [--verbose]
// workloads: map, submit-result, latency, fib, replace
//
// Every pool uses the "fork" start method (concur's default; CPython 3.11's on Linux), is created
// and warmed (its workers started, a few tasks run) before the clock starts and shut down after
// it stops. Every result is checked: a wrong one leaves its variant out of the run. A sample
// that takes longer than kWatchdogSeconds ends the run with a "HANG" line naming it (a pool that
// loses a task must not hang the bench silently).
//
// map: Pool(2).map(square, data) of data = 200,000 64-bit ints (square(x) = x * x), called k times
// per sample (k calibrated to ~sample-ms); rates are ints/s. Each side has one Pool(2) for the
// whole workload, warmed by one untimed map of the same data (the steady state: a fresh pool's
// first maps are several times slower).
//   concur Pool(2).map         mp::Pool pool(2); pool.map(square, data) (default chunksize:
//                              len / (4 x processes) = 25,000, as Python's)
//   Python Pool(2).map cs=K    multiprocessing.Pool(2).map(square, data, chunksize=K) for K in
//                              default (25,000), 2,000, 10,000, 50,000, 100,000
// All six take turns in every round; the ratio is concur against the Python chunksize with the
// best median rate, the median of the per-round ratios. Goal: >= 10x Python's best.
//
// submit-result: n empty tasks (task(i) returns i) submitted to a ProcessPoolExecutor(2) in
// batches of up to 20,000, then every result taken in order and checked.
//   concur PPE(2)              cf::ProcessPoolExecutor ex(2); ex.submit(task, i) ... f.result()
//   Python PPE(2)              concurrent.futures.ProcessPoolExecutor(2), the same batches
// Goal: >= 20x Python.
//
// latency: one task submitted to a pool idle for 5 ms before each submit: microseconds from
// submit() to result() (apply() for mp::Pool), kLatencySamples samples per pool, the pools
// taking turns; median, p90, p99 and min; Python's median and p99 over concur's as ratios.
//   concur PPE(2), concur Pool(2).apply, Python PPE(2)
//
// fib: n calls of fib(30) (about 1.3 million calls of a recursive function, a few ms) submitted
// one by one to a ProcessPoolExecutor with 2 workers and with 1, every result checked; rates are
// calls/s. Goal: PPE(2) >= 1.7x PPE(1) (the machine's core count is printed: 2 processes can at
// best be 2x as fast, and only on 2 free cores). Beside them: PPE(1) against the same calls in a
// loop in this process (what the pool's messages cost), and PPE(2) against two forked children
// that each compute half the calls with no pool at all (what the machine gives 2 processes right
// now: when other programs keep the cores busy, that ideal falls short of 2x the loop too).
//
// replace: the cost of a worker that dies. kReplaceSamples samples per variant, taking turns;
// median and p90 in milliseconds.
//   concur Pool(1)             pool.apply_async(killer) (the worker raise(SIGKILL)s itself); once
//                              its AsyncResult has failed with mp::ProcessError,
//                              pool.apply_async(task).get(): the pool has replaced the worker and
//                              the next task runs on the new one. Timed from the killer's submit
//                              to the next task's result (with 1 worker, that result needs the
//                              replacement); the time to the killer's ProcessError is printed too.
//   concur Pool(1) queued      the same with the next task submitted right behind the killer,
//                              before it has failed (Python Pool(1)'s pattern, below): it must
//                              still run, on the new worker.
//   concur PPE(1)              ex.submit(killer): result() throws cf::BrokenProcessPool; the
//                              executor is destroyed, a new ProcessPoolExecutor(1) made and
//                              submit(task).result() taken: what a program does in Python.
//   Python PPE(1)              the same in CPython (BrokenProcessPool, recreate, first result).
//   Python Pool(1)             multiprocessing.Pool(1): apply_async(killer), then the next task's
//                              result (CPython replaces the worker within 0.1 s but loses the
//                              killer's result: its get() would wait forever).
//
// Until concur/multiprocessing/pool.hpp and concur/multiprocessing/process_pool_executor.hpp are
// in include/, concur's rows are left out (the goals reported "not measured") and the Python rows
// are measured alone.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/harness.hpp"
#include "concur/errors.hpp"
#include "concur/futures.hpp"
#include "concur/multiprocessing.hpp"

#if __has_include("concur/multiprocessing/pool.hpp")
#include "concur/multiprocessing/pool.hpp"
#define CONCUR_BENCH_HAVE_MP_POOL 1
#endif
#if __has_include("concur/multiprocessing/process_pool_executor.hpp")
#include "concur/multiprocessing/process_pool_executor.hpp"
#define CONCUR_BENCH_HAVE_PPE 1
#endif

namespace mp = concur::multiprocessing;
namespace cf = concur::futures;
using namespace concur_bench;  // the harness: Workload, check, opts, python, ...
using namespace std::chrono_literals;

namespace {

constexpr std::int64_t kMapSize = 200'000;  // MAP_SIZE in pool_bench.py
const std::vector<int> kPythonChunksizes = {0, 2000, 10000, 50000, 100000};  // 0: the default
constexpr std::int64_t kBatch = 20'000;       // BATCH
constexpr int kWarm = 16;                     // WARM
constexpr auto kIdle = 5ms;                   // IDLE
constexpr int kLatencySamples = 300;          // p99 is the 3rd worst
constexpr int kReplaceSamples = 20;
constexpr int kFibN = 30;
constexpr auto kTimeout = 60s;                // one result; longer fails the sample
constexpr unsigned kWatchdogSeconds = 120;    // one sample; longer ends the run (HANG)
constexpr double kMapGoal = 10;
constexpr double kSubmitGoal = 20;
constexpr double kFibGoal = 1.7;

// ------------------------------------------------------------------------------------------------
// The tasks: plain functions with serializable arguments and results.
// ------------------------------------------------------------------------------------------------
[[maybe_unused]] std::int64_t square(std::int64_t x) { return x * x; }
[[maybe_unused]] std::int64_t task(std::int64_t i) { return i; }
[[maybe_unused]] std::int64_t killer(std::int64_t i) {
  ::raise(SIGKILL);
  return i;
}
std::int64_t fib(int n) { return n < 2 ? 1 : fib(n - 1) + fib(n - 2); }

// ------------------------------------------------------------------------------------------------
// The watchdog: a sample that runs longer than kWatchdogSeconds ends the run, naming it.
// ------------------------------------------------------------------------------------------------
char hang_note[256] = "";

extern "C" void on_alarm(int) {
  char line[400];
  const int len = std::snprintf(line, sizeof line,
                                "\npool_bench: HANG: %s made no progress for %u s; "
                                "ending the run\n",
                                hang_note, kWatchdogSeconds);
  if (len > 0) (void)!::write(2, line, static_cast<std::size_t>(std::min<int>(len, sizeof line)));
  ::_exit(3);
}

class Watch {
 public:
  explicit Watch(const std::string& what) {
    std::snprintf(hang_note, sizeof hang_note, "%s", what.c_str());
    ::alarm(kWatchdogSeconds);
  }
  ~Watch() { ::alarm(0); }
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;
};

// A harness variant run under the watchdog.
std::function<double(std::int64_t&)> watched(std::string what,
                                             std::function<double(std::int64_t&)> run) {
  return [what = std::move(what), run = std::move(run)](std::int64_t& n) {
    Watch w(what);
    return run(n);
  };
}

unsigned usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) return static_cast<unsigned>(CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

std::string cores_text() {
  return std::to_string(usable_cores()) + " usable cores (hardware_concurrency " +
         std::to_string(std::thread::hardware_concurrency()) + ")";
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

// A comparison computed by a report (not by the harness's rounds), entered in the summary.
void add_to_summary(const std::string& workload, const std::string& concur_name,
                    const std::string& peer_name, const std::vector<double>& concur_rates,
                    const std::vector<double>& peer_rates, double goal) {
  std::vector<double> ratios;
  for (std::size_t i = 0; i < std::min(concur_rates.size(), peer_rates.size()); ++i)
    ratios.push_back(concur_rates[i] / peer_rates[i]);
  if (ratios.empty()) {
    if (goal > 0) {
      ++goals_not_measured;
      std::printf("%-17s %s vs %s: goal %s not measured (%s missing)\n", workload.c_str(),
                  concur_name.c_str(), peer_name.c_str(), fmt_ratio(goal).c_str(),
                  concur_rates.empty() ? concur_name.c_str() : peer_name.c_str());
    }
    return;
  }
  Comparison c{workload, concur_name, peer_name, median(concur_rates), median(peer_rates),
               median(ratios), *std::min_element(ratios.begin(), ratios.end()),
               *std::max_element(ratios.begin(), ratios.end()), static_cast<int>(ratios.size()),
               goal};
  std::printf("%-17s %s %s | %s %s | ratio %s (median of %d pairs, range %s-%s)%s\n",
              workload.c_str(), c.concur.c_str(), fmt_rate(c.concur_rate).c_str(), c.peer.c_str(),
              fmt_rate(c.peer_rate).c_str(), fmt_ratio(c.ratio).c_str(), c.pairs,
              fmt_ratio(c.lo).c_str(), fmt_ratio(c.hi).c_str(), goal_note(c).c_str());
  all_comparisons.push_back(c);
}

// ------------------------------------------------------------------------------------------------
// map
// ------------------------------------------------------------------------------------------------
const std::vector<std::int64_t>& map_data() {
  static const std::vector<std::int64_t> data = [] {
    std::vector<std::int64_t> d(kMapSize);
    std::iota(d.begin(), d.end(), std::int64_t{0});
    return d;
  }();
  return data;
}

[[maybe_unused]] std::int64_t map_expected() {
  std::int64_t sum = 0;
  for (std::int64_t x : map_data()) sum += x * x;
  return sum;
}

#ifdef CONCUR_BENCH_HAVE_MP_POOL
// `calls` times pool.map(square, data); seconds. Each result is checked where it can be cheaply
// (its size and two values) and dropped, as a program that consumes its results would; the last
// one is checked in full after the clock stops.
double map_concur(mp::Pool& pool, std::int64_t calls) {
  const auto& data = map_data();
  const std::int64_t last = kMapSize - 1;
  std::vector<std::int64_t> r;
  bool ok = true;
  const auto t0 = Clock::now();
  for (std::int64_t c = 0; c < calls; ++c) {
    r = pool.map(square, data);
    ok = ok && r.size() == data.size() && r[7] == 49 && r.back() == last * last;
  }
  const double t = seconds_since(t0);
  check(ok, "Pool.map(square): wrong results");
  check(std::accumulate(r.begin(), r.end(), std::int64_t{0}) == map_expected(),
        "Pool.map(square): wrong results");
  return t;
}
#endif

struct MapVariant {
  MapVariant(std::string n, std::function<double(std::int64_t)> r)
      : name(std::move(n)), run(std::move(r)) {}
  std::string name;
  std::function<double(std::int64_t)> run;  // seconds for `calls` map calls of kMapSize ints
  std::int64_t calls = 1;
  std::vector<double> rates;  // ints/s, one per round
  std::string error;
};

Workload make_map() {
  Workload w("map", "Pool.map x*x",
             "ints squared by Pool(2).map over 200,000 ints; concur's default chunksize against "
             "Python's best",
             0);
  w.report = [title = w.title] {
    std::vector<MapVariant> vs;
    const std::string concur_name = "concur Pool(2).map";
#ifdef CONCUR_BENCH_HAVE_MP_POOL
    // One Pool(2) for every sample, warmed by one untimed map (a fresh pool's first maps are
    // several times slower: its workers fault in their copy-on-write pages and grow their heaps).
    std::shared_ptr<mp::Pool> pool;
    try {
      Watch watch(title + ": " + concur_name + " start");
      pool = std::make_shared<mp::Pool>(2);
      check(pool->map(square, map_data()).size() == map_data().size(), "warm-up");
      vs.emplace_back(concur_name, [pool](std::int64_t calls) { return map_concur(*pool, calls); });
    } catch (const std::exception& e) {
      std::printf("%-17s %s: left out (%s)\n", title.c_str(), concur_name.c_str(), e.what());
    }
#endif
    if (python.ok())
      for (int cs : kPythonChunksizes) {
        const std::string label = cs ? std::to_string(cs) : std::string("default");
        vs.emplace_back("Python Pool(2).map cs=" + label, [cs](std::int64_t calls) {
                        return python.run("map-c" + std::to_string(cs), calls * kMapSize);
                      });
      }
    // Calibrate: the number of calls that makes a sample ~sample-ms (the first calls warm up).
    for (auto& v : vs) {
      try {
        Watch watch(title + ": " + v.name + " (calibration)");
        double per_call = v.run(1);
        per_call = std::min(per_call, v.run(1));
        const auto calls = static_cast<std::int64_t>(opts.sample_s / per_call + 0.5);
        v.calls = std::clamp<std::int64_t>(calls, 1, 1000);
      } catch (const std::exception& e) {
        v.error = e.what();
      }
    }
    for (int r = 0; r < opts.rounds; ++r) {
      std::vector<MapVariant*> order;
      for (auto& v : vs) order.push_back(&v);
      if (r % 2) std::reverse(order.begin(), order.end());
      for (MapVariant* v : order) {
        if (!v->error.empty()) continue;
        try {
          Watch watch(title + ": " + v->name);
          const double t = v->run(v->calls);
          v->rates.push_back(static_cast<double>(v->calls * kMapSize) / t);
        } catch (const std::exception& e) {
          v->error = e.what();
        }
      }
    }
    MapVariant* concur = nullptr;
    MapVariant* best = nullptr;
    for (auto& v : vs) {
      if (!v.error.empty()) {
        std::printf("%-17s %s: left out (%s)\n", title.c_str(), v.name.c_str(), v.error.c_str());
        continue;
      }
      if (v.name == concur_name) concur = &v;
      else if (!best || median(v.rates) > median(best->rates)) best = &v;
    }
    for (auto& v : vs) {
      if (!v.error.empty()) continue;
      std::printf("%-17s   %-30s %11s  (%lld calls per sample)%s", "", v.name.c_str(),
                  fmt_rate(median(v.rates)).c_str(), static_cast<long long>(v.calls),
                  &v == best ? "  <- Python's best" : "");
      if (concur && &v != concur) {
        std::vector<double> ratios;
        for (std::size_t i = 0; i < std::min(concur->rates.size(), v.rates.size()); ++i)
          ratios.push_back(concur->rates[i] / v.rates[i]);
        std::printf("  concur / this %s", fmt_ratio(median(ratios)).c_str());
      }
      std::printf("\n");
    }
    if (python.ok()) {
      try {
        python.run("map-close", 0);
      } catch (const std::exception&) {
      }
    }
    add_to_summary(title, concur_name, best ? best->name : "Python Pool(2).map best chunksize",
                   concur ? concur->rates : std::vector<double>{},
                   best ? best->rates : std::vector<double>{}, kMapGoal);
  };
  return w;
}

// ------------------------------------------------------------------------------------------------
// submit-result
// ------------------------------------------------------------------------------------------------
#ifdef CONCUR_BENCH_HAVE_PPE
void warm(cf::ProcessPoolExecutor& ex) {
  std::vector<cf::Future<std::int64_t>> fs;
  for (int i = 0; i < kWarm; ++i) fs.push_back(ex.submit(task, std::int64_t{i}));
  for (int i = 0; i < kWarm; ++i) check(fs[i].result(kTimeout) == i, "warm-up task's result");
}

double submit_result_concur(std::int64_t& n) {
  cf::ProcessPoolExecutor ex(2);
  warm(ex);
  std::vector<cf::Future<std::int64_t>> fs;
  fs.reserve(static_cast<std::size_t>(std::min(n, kBatch)));
  std::int64_t total = 0;
  const auto t0 = Clock::now();
  for (std::int64_t base = 0; base < n; base += kBatch) {
    const std::int64_t end = std::min(n, base + kBatch);
    fs.clear();
    for (std::int64_t i = base; i < end; ++i) fs.push_back(ex.submit(task, i));
    for (std::int64_t i = base; i < end; ++i) {
      const std::int64_t r = fs[static_cast<std::size_t>(i - base)].result(kTimeout);
      check(r == i, "a task's result");
      total += r;
    }
  }
  const double t = seconds_since(t0);
  check(total == n * (n - 1) / 2, "the sum of the results");
  return t;
}
#endif

Workload make_submit_result() {
  Workload w("submit-result", "PPE submit+result",
             "empty tasks through ProcessPoolExecutor(2): batches of up to 20,000 submits, then "
             "every result",
             200);
#ifdef CONCUR_BENCH_HAVE_PPE
  w.add("concur PPE(2)", watched("submit-result: concur PPE(2)", submit_result_concur));
#endif
  if (python.ok())
    w.add("Python PPE(2)", watched("submit-result: Python PPE(2)", [](std::int64_t& n) {
            return python.run("submit_result", n);
          }));
  w.compare("concur PPE(2)", "Python PPE(2)", kSubmitGoal);
  return w;
}

// ------------------------------------------------------------------------------------------------
// latency
// ------------------------------------------------------------------------------------------------
struct TimedVariant {
  TimedVariant(std::string n, std::function<double(int)> o)
      : name(std::move(n)), once(std::move(o)) {}
  std::string name;
  std::function<double(int)> once;  // seconds of sample k (what it times is the variant's)
  std::vector<double> seconds;
  std::string error;
};

// Runs every variant `samples` times, taking turns (who goes first rotates).
void take_turns(const std::string& title, std::vector<TimedVariant>& vs, int samples) {
  for (int s = 0; s < samples; ++s)
    for (std::size_t i = 0; i < vs.size(); ++i) {
      TimedVariant& v = vs[(i + static_cast<std::size_t>(s)) % vs.size()];
      if (!v.error.empty()) continue;
      try {
        Watch watch(title + ": " + v.name);
        v.seconds.push_back(v.once(s));
      } catch (const std::exception& e) {
        v.error = e.what();
      }
    }
  for (const auto& v : vs)
    if (!v.error.empty())
      std::printf("%-17s %s: left out (%s)\n", title.c_str(), v.name.c_str(), v.error.c_str());
}

const TimedVariant* find_ok(const std::vector<TimedVariant>& vs, const std::string& name) {
  for (const auto& v : vs)
    if (v.name == name && v.error.empty() && !v.seconds.empty()) return &v;
  return nullptr;
}

// Rates (1 / seconds) of the samples, for a comparison in the summary.
std::vector<double> inverse(const TimedVariant* v) {
  std::vector<double> r;
  if (v)
    for (double s : v->seconds) r.push_back(1 / s);
  return r;
}

Workload make_latency() {
  Workload w("latency", "idle-pool latency",
             "us from submit() to result() of one task on a pool idle for 5 ms, " +
                 std::to_string(kLatencySamples) + " samples per pool, pools taking turns",
             0);
  w.report = [title = w.title] {
    std::vector<TimedVariant> vs;
#ifdef CONCUR_BENCH_HAVE_PPE
    std::shared_ptr<cf::ProcessPoolExecutor> ex;
    try {
      Watch watch(title + ": concur PPE(2) start");
      ex = std::make_shared<cf::ProcessPoolExecutor>(2);
      warm(*ex);
      vs.emplace_back("concur PPE(2)", [ex](int k) {
                      std::this_thread::sleep_for(kIdle);
                      const auto t0 = Clock::now();
                      const std::int64_t r = ex->submit(task, std::int64_t{k}).result(kTimeout);
                      const double t = seconds_since(t0);
                      check(r == k, "the latency task's result");
                      return t;
                    });
    } catch (const std::exception& e) {
      std::printf("%-17s concur PPE(2): left out (%s)\n", title.c_str(), e.what());
    }
#endif
#ifdef CONCUR_BENCH_HAVE_MP_POOL
    std::shared_ptr<mp::Pool> pool;
    try {
      Watch watch(title + ": concur Pool(2) start");
      pool = std::make_shared<mp::Pool>(2);
      for (int i = 0; i < kWarm; ++i) check(pool->apply(task, std::int64_t{i}) == i, "warm-up");
      vs.emplace_back("concur Pool(2).apply", [pool](int k) {
                      std::this_thread::sleep_for(kIdle);
                      const auto t0 = Clock::now();
                      const std::int64_t r = pool->apply(task, std::int64_t{k});
                      const double t = seconds_since(t0);
                      check(r == k, "the latency task's result");
                      return t;
                    });
    } catch (const std::exception& e) {
      std::printf("%-17s concur Pool(2): left out (%s)\n", title.c_str(), e.what());
    }
#endif
    if (python.ok()) {
      try {
        Watch watch(title + ": Python PPE(2) start");
        python.run("latency-open", 0);
        vs.emplace_back("Python PPE(2)", [](int k) { return python.run("latency", k); });
      } catch (const std::exception& e) {
        std::printf("%-17s Python PPE(2): left out (%s)\n", title.c_str(), e.what());
      }
    }
    take_turns(title, vs, kLatencySamples);
    if (python.ok()) {
      try {
        python.run("latency-close", 0);
      } catch (const std::exception&) {
      }
    }
    const TimedVariant* py = find_ok(vs, "Python PPE(2)");
    for (const auto& v : vs) {
      if (!v.error.empty()) continue;
      const double med = percentile(v.seconds, 0.5), p99 = percentile(v.seconds, 0.99);
      std::printf("%-17s %-22s median %8.1f us  p90 %8.1f us  p99 %8.1f us  min %7.1f us",
                  title.c_str(), v.name.c_str(), med * 1e6, percentile(v.seconds, 0.9) * 1e6,
                  p99 * 1e6, percentile(v.seconds, 0) * 1e6);
      if (py && &v != py)
        std::printf("  Python / this: median %s, p99 %s",
                    fmt_ratio(percentile(py->seconds, 0.5) / med).c_str(),
                    fmt_ratio(percentile(py->seconds, 0.99) / p99).c_str());
      std::printf("\n");
    }
    // Each sample's 1 / latency as a rate: the summary's ratio is Python's median over concur's.
    if (py) {
      add_to_summary(title, "concur PPE(2)", "Python PPE(2)",
                     inverse(find_ok(vs, "concur PPE(2)")), inverse(py), 0);
      add_to_summary(title, "concur Pool(2).apply", "Python PPE(2)",
                     inverse(find_ok(vs, "concur Pool(2).apply")), inverse(py), 0);
    }
  };
  return w;
}

// ------------------------------------------------------------------------------------------------
// fib: 2 processes against 1
// ------------------------------------------------------------------------------------------------
#ifdef CONCUR_BENCH_HAVE_PPE
double fib_concur(std::int64_t& n, int workers) {
  cf::ProcessPoolExecutor ex(workers);
  warm(ex);
  std::vector<cf::Future<std::int64_t>> fs;
  fs.reserve(static_cast<std::size_t>(n));
  const auto t0 = Clock::now();
  for (std::int64_t i = 0; i < n; ++i) fs.push_back(ex.submit(fib, kFibN));
  std::int64_t first = 0;
  bool same = true;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t r = fs[static_cast<std::size_t>(i)].result(kTimeout);
    if (i == 0) first = r;
    same = same && r == first;
  }
  const double t = seconds_since(t0);
  check(same && first == 1346269, "fib(30)");
  return t;
}
#endif

double fib_loop(std::int64_t& n) {
  volatile int arg = kFibN;  // a call per iteration, not one folded result
  std::int64_t sum = 0;
  const auto t0 = Clock::now();
  for (std::int64_t i = 0; i < n; ++i) sum += fib(arg);
  const double t = seconds_since(t0);
  check(sum == n * 1346269, "fib(30)");
  return t;
}

// The ideal the pool is measured against: two forked children, each computing its half of the
// calls and exiting (status 0 when its sum is right); timed from the first fork to the last
// waitpid. On 2 free cores this is about 2x the loop; on a busy machine it shows what the machine
// gives.
double fib_forked(std::int64_t& n) {
  n = std::max<std::int64_t>(n, 2);
  const auto t0 = Clock::now();
  pid_t pids[2];
  for (int c = 0; c < 2; ++c) {
    const std::int64_t calls = c == 0 ? n / 2 : n - n / 2;
    pids[c] = ::fork();
    if (pids[c] < 0) throw std::runtime_error("fork failed");
    if (pids[c] == 0) {
      volatile int arg = kFibN;
      std::int64_t sum = 0;
      for (std::int64_t i = 0; i < calls; ++i) sum += fib(arg);
      ::_exit(sum == calls * 1346269 ? 0 : 1);
    }
  }
  bool ok = true;
  for (pid_t pid : pids) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  const double t = seconds_since(t0);
  check(ok, "fib(30) in a forked child");
  return t;
}

Workload make_fib() {
  Workload w("fib", "fib 2 vs 1 proc",
             "calls of fib(30) on a ProcessPoolExecutor, submitted one by one; this machine: " +
                 cores_text() + ": 2 processes can at best be 2x one",
             4);
#ifdef CONCUR_BENCH_HAVE_PPE
  w.add("concur PPE(2)",
        watched("fib: concur PPE(2)", [](std::int64_t& n) { return fib_concur(n, 2); }));
  w.add("concur PPE(1)",
        watched("fib: concur PPE(1)", [](std::int64_t& n) { return fib_concur(n, 1); }));
#endif
  w.add("loop in this process", fib_loop);
  w.add("2 forked processes", watched("fib: 2 forked processes", fib_forked));
  w.compare("concur PPE(2)", "concur PPE(1)", kFibGoal);
  w.compare("concur PPE(1)", "loop in this process");
  w.compare("concur PPE(2)", "2 forked processes");
  return w;
}

// ------------------------------------------------------------------------------------------------
// replace: a worker that dies
// ------------------------------------------------------------------------------------------------
Workload make_replace() {
  Workload w("replace", "dead worker",
             "ms from submitting a task whose worker SIGKILLs itself to the next task's result "
             "(1 worker), " + std::to_string(kReplaceSamples) +
                 " samples per variant, taking turns",
             0);
  w.report = [title = w.title] {
    std::vector<TimedVariant> vs;
#ifdef CONCUR_BENCH_HAVE_MP_POOL
    // queued = false: the next task is submitted once the killer's ProcessError is in (what a
    // program that looks at its results does); true: right behind the killer (Python Pool(1)'s
    // pattern: its killer's result never comes).
    auto failed = std::make_shared<std::vector<double>>();  // seconds to the killer's failure
    auto add_pool = [&](const std::string& name, bool queued) {
      try {
        Watch watch(title + ": " + name + " start");
        auto pool = std::make_shared<mp::Pool>(1);
        // Warm-up: enough tiny tasks for the pool to know its worker's pace (it may then send a
        // worker several jobs at once: the next task can be on its way before the killer runs).
        for (std::int64_t i = 0; i < 100; ++i) check(pool->apply(task, i) == i, "warm-up");
        vs.emplace_back(name, [pool, failed, queued](int k) {
          const auto t0 = Clock::now();
          auto dies = pool->apply_async(killer, std::int64_t{k});
          std::optional<mp::AsyncResult<std::int64_t>> next;
          if (queued) next = pool->apply_async(task, std::int64_t{k});
          check(dies.wait(kTimeout), "the killer's AsyncResult is not ready");
          const double t_failed = seconds_since(t0);
          bool process_error = false;
          try {
            dies.get(0s);
          } catch (const mp::ProcessError&) {
            process_error = true;
          } catch (...) {
          }
          check(process_error, "the killer's get() did not throw mp::ProcessError");
          if (!queued) next = pool->apply_async(task, std::int64_t{k});
          std::int64_t r = -1;
          try {
            r = next->get(kTimeout);
          } catch (const std::exception& e) {
            throw std::runtime_error(std::string("the next task failed: ") + e.what());
          }
          const double t = seconds_since(t0);
          check(r == k, "the next task's result");
          if (!queued) failed->push_back(t_failed);
          return t;
        });
      } catch (const std::exception& e) {
        std::printf("%-17s %s: left out (%s)\n", title.c_str(), name.c_str(), e.what());
      }
    };
    add_pool("concur Pool(1)", false);
    add_pool("concur Pool(1) queued", true);
#endif
#ifdef CONCUR_BENCH_HAVE_PPE
    try {
      Watch watch(title + ": concur PPE(1) start");
      auto ex = std::make_shared<std::unique_ptr<cf::ProcessPoolExecutor>>(
          std::make_unique<cf::ProcessPoolExecutor>(1));
      check((*ex)->submit(task, std::int64_t{7}).result(kTimeout) == 7, "warm-up");
      vs.emplace_back("concur PPE(1)", [ex](int k) {
                      const auto t0 = Clock::now();
                      auto dies = (*ex)->submit(killer, std::int64_t{k});
                      bool broken = false;
                      try {
                        dies.result(kTimeout);
                      } catch (const cf::BrokenProcessPool&) {
                        broken = true;
                      }
                      check(broken, "the killer's result() did not throw BrokenProcessPool");
                      ex->reset();  // shut down the broken executor
                      *ex = std::make_unique<cf::ProcessPoolExecutor>(1);
                      const std::int64_t r = (*ex)->submit(task, std::int64_t{k}).result(kTimeout);
                      const double t = seconds_since(t0);
                      check(r == k, "the next task's result");
                      return t;
                    });
    } catch (const std::exception& e) {
      std::printf("%-17s concur PPE(1): left out (%s)\n", title.c_str(), e.what());
    }
#endif
    if (python.ok()) {
      vs.emplace_back("Python PPE(1)", [](int) { return python.run("replace-ppe", 1); });
      vs.emplace_back("Python Pool(1)", [](int) { return python.run("replace-pool", 1); });
    }
    take_turns(title, vs, kReplaceSamples);
    for (const auto& v : vs) {
      if (!v.error.empty()) continue;
      std::printf("%-17s %-21s median %7.2f ms  p90 %7.2f ms  min %7.2f ms", title.c_str(),
                  v.name.c_str(), percentile(v.seconds, 0.5) * 1e3,
                  percentile(v.seconds, 0.9) * 1e3, percentile(v.seconds, 0) * 1e3);
      std::printf("%s\n", v.name == "concur Pool(1)"
                              ? "  (ProcessError, then the next task on the new worker)"
                          : v.name == "concur Pool(1) queued"
                              ? "  (the next task submitted right behind the killer)"
                          : v.name == "concur PPE(1)" || v.name == "Python PPE(1)"
                              ? "  (BrokenProcessPool, new executor, its first result)"
                              : "  (the next task's result; the killer's result is lost)");
    }
#ifdef CONCUR_BENCH_HAVE_MP_POOL
    if (find_ok(vs, "concur Pool(1)"))
      std::printf("%-17s %-21s median %7.2f ms  p90 %7.2f ms  (of which to the killer's "
                  "ProcessError)\n",
                  title.c_str(), "concur Pool(1)", percentile(*failed, 0.5) * 1e3,
                  percentile(*failed, 0.9) * 1e3);
#endif
    const auto* py_ppe = find_ok(vs, "Python PPE(1)");
    const auto* py_pool = find_ok(vs, "Python Pool(1)");
    if (py_ppe) {
      add_to_summary(title, "concur Pool(1)", "Python PPE(1)",
                     inverse(find_ok(vs, "concur Pool(1)")), inverse(py_ppe), 0);
      add_to_summary(title, "concur PPE(1)", "Python PPE(1)",
                     inverse(find_ok(vs, "concur PPE(1)")), inverse(py_ppe), 0);
    }
    if (py_pool)
      add_to_summary(title, "concur Pool(1) queued", "Python Pool(1)",
                     inverse(find_ok(vs, "concur Pool(1) queued")), inverse(py_pool), 0);
  };
  return w;
}

}  // namespace

int main(int argc, char** argv) {
  mp::main_guard(argc, argv);  // a spawn or forkserver child runs its target here and exits
  signal(SIGALRM, on_alarm);
  return run_main(argc, argv, "pool",
                  {make_map, make_submit_result, make_latency, make_fib, make_replace});
}
