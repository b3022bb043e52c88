// coop_bench — concur::coop's cooperative switches against the stackful context switches a C++
// user would otherwise pick, and against Python's generators, all measured in this one process
// (Python through a co-process) so the ratios compare like with like on a noisy 2-vCPU machine
// (see shared/PERFORMANCE.md). The harness is bench/common/harness.hpp.
//
//   coop_bench [--rounds N] [--sample-ms MS] [--only a,b,...] [--python SCRIPT]
//              [--python-exe EXE] [--no-python] [--verbose]
// workloads: switch (ratios), generator (ratios)
//
// switch: the seed's TaskScheduler (seed 001, 使用生成器代替线程) — kTasks tasks, each a loop that
// counts a step and gives the turn back, run round robin until all have finished. One operation
// is one step: the scheduler switches into a task and the task switches back (Python: one
// next(task) of the seed's run()). The tasks are created before the clock starts; each counts
// its steps and the sum is checked against n.
//   concur TaskScheduler  co::TaskScheduler, the tasks co::Tasks that `co_yield {}`
//   boost::context fiber  boost::context::fiber (Boost.Context's stackful context, fcontext
//                         assembly switch, the default fixed-size stack): a round robin over a
//                         vector of fibers, each step `f = std::move(f).resume()` into the task
//                         and `sink = std::move(sink).resume()` back
//   Boost.Fiber yield     boost::fibers::fiber (user-land threads on Boost.Context, the default
//                         round_robin scheduler): each task calls boost::this_fiber::yield()
//   Python generators     the seed's TaskScheduler, verbatim: a deque, next(task), append
//                         (bench/python/coop_bench.py)
// Goal: concur >= 2x boost::context (a C++20 coroutine resume costs a few ns, a stackful switch
// saves and restores registers and a stack pointer).
//
// generator: values pulled from a generator: n ints yielded one at a time and summed by the
// consumer, the sum checked. concur: a range-for over a co::Generator<int>; boost: a range-for over
// boost::coroutines2::coroutine<int>::pull_type (Boost.Coroutine2, on Boost.Context); Python: a
// for loop over a generator function.
#include <cstdint>
#include <cstdio>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "common/harness.hpp"
#include "concur/coop.hpp"

#ifdef CONCUR_BENCH_HAVE_CONTEXT
#include <boost/context/fiber.hpp>
#include <boost/coroutine2/coroutine.hpp>
#endif
#ifdef CONCUR_BENCH_HAVE_FIBER
#include <boost/fiber/all.hpp>
#endif

namespace co = concur::coop;
using namespace concur_bench;  // the harness: Workload, check, opts, ...

namespace {

constexpr int kTasks = 10;              // as many tasks as this, round robin
constexpr double kContextGoal = 2.0;    // concur >= 2x boost::context

// n steps over kTasks tasks: task k takes n / kTasks steps, the first n % kTasks one more.
std::int64_t steps_of(std::int64_t n, int k) { return n / kTasks + (k < n % kTasks ? 1 : 0); }

co::Task counting_task(std::int64_t steps, std::int64_t* counter) {
  for (std::int64_t i = 0; i < steps; ++i) {
    ++*counter;
    co_yield {};
  }
}

double switch_concur(std::int64_t& n) {
  std::int64_t counters[kTasks] = {};
  co::TaskScheduler sched;
  for (int k = 0; k < kTasks; ++k) sched.new_task(counting_task(steps_of(n, k), &counters[k]));
  const auto t0 = Clock::now();
  sched.run();
  const double t = seconds_since(t0);
  std::int64_t sum = 0;
  for (std::int64_t c : counters) sum += c;
  check(sum == n, "a task step was lost or repeated");
  return t;
}

co::Generator<int> count_to(std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) co_yield static_cast<int>(i & 1023);
}

// The expected sum of count_to(n)'s values.
std::int64_t expected_sum(std::int64_t n) {
  const std::int64_t full = n / 1024, rest = n % 1024;
  return full * (1023 * 1024 / 2) + rest * (rest - 1) / 2;
}

double generator_concur(std::int64_t& n) {
  co::Generator<int> g = count_to(n);
  const auto t0 = Clock::now();
  std::int64_t sum = 0;
  for (int x : g) sum += x;
  const double t = seconds_since(t0);
  check(sum == expected_sum(n), "wrong sum of the generated values");
  return t;
}

#ifdef CONCUR_BENCH_HAVE_CONTEXT
namespace ctx = boost::context;

// The body of one fiber: `steps` steps, each giving the turn back to the scheduler.
struct FiberTask {
  std::int64_t steps;
  std::int64_t* counter;
  ctx::fiber operator()(ctx::fiber&& sink) const {
    for (std::int64_t i = 0; i < steps; ++i) {
      ++*counter;
      sink = std::move(sink).resume();
    }
    return std::move(sink);
  }
};

double switch_context(std::int64_t& n) {
  std::int64_t counters[kTasks] = {};
  std::vector<ctx::fiber> fibers;
  for (int k = 0; k < kTasks; ++k) fibers.emplace_back(FiberTask{steps_of(n, k), &counters[k]});
  const auto t0 = Clock::now();
  // The same round robin as co::TaskScheduler's: passes over a vector, finished ones dropped.
  // A fiber's last resume (its function returning) is one step more than its counted steps,
  // as a co::Task's last resume (running off its end) is.
  while (!fibers.empty()) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < fibers.size(); ++i) {
      ctx::fiber f = std::move(fibers[i]).resume();
      if (f) fibers[kept++] = std::move(f);
    }
    fibers.resize(kept);
  }
  const double t = seconds_since(t0);
  std::int64_t sum = 0;
  for (std::int64_t c : counters) sum += c;
  check(sum == n, "a fiber step was lost or repeated");
  return t;
}

using PullInt = boost::coroutines2::coroutine<int>;

struct CountTo {
  std::int64_t n;
  void operator()(PullInt::push_type& sink) const {
    for (std::int64_t i = 0; i < n; ++i) sink(static_cast<int>(i & 1023));
  }
};

double generator_coroutine2(std::int64_t& n) {
  // pull_type runs its function at construction up to the first value: start the clock first.
  const auto t0 = Clock::now();
  PullInt::pull_type source(CountTo{n});
  std::int64_t sum = 0;
  for (int x : source) sum += x;
  const double t = seconds_since(t0);
  check(sum == expected_sum(n), "wrong sum of the generated values");
  return t;
}
#endif

#ifdef CONCUR_BENCH_HAVE_FIBER
struct FiberYieldTask {
  std::int64_t steps;
  std::int64_t* counter;
  void operator()() const {
    for (std::int64_t i = 0; i < steps; ++i) {
      ++*counter;
      boost::this_fiber::yield();
    }
  }
};

double switch_boost_fiber(std::int64_t& n) {
  std::int64_t counters[kTasks] = {};
  std::vector<boost::fibers::fiber> fibers;
  // Created before the clock starts; they first run when main joins the first of them.
  for (int k = 0; k < kTasks; ++k)
    fibers.emplace_back(FiberYieldTask{steps_of(n, k), &counters[k]});
  const auto t0 = Clock::now();
  for (auto& f : fibers) f.join();
  const double t = seconds_since(t0);
  std::int64_t sum = 0;
  for (std::int64_t c : counters) sum += c;
  check(sum == n, "a fiber step was lost or repeated");
  return t;
}
#endif

const char* const kConcurSched = "concur TaskScheduler";
const char* const kContext = "boost::context fiber";
const char* const kFiber = "Boost.Fiber yield";
const char* const kPythonSched = "Python generators";

Workload make_switch() {
  Workload w{"switch", "switch",
             "task steps/s, 10 tasks round robin: switch in and back out per step", 100000};
  w.add(kConcurSched, switch_concur);
#ifdef CONCUR_BENCH_HAVE_CONTEXT
  w.add(kContext, switch_context);
#endif
#ifdef CONCUR_BENCH_HAVE_FIBER
  w.add(kFiber, switch_boost_fiber);
#endif
  w.add_python(kPythonSched, "switch");
  w.compare(kConcurSched, kContext, kContextGoal);
  w.compare(kConcurSched, kFiber);
  w.compare(kConcurSched, kPythonSched);
  return w;
}

Workload make_generator() {
  Workload w{"generator", "generator", "values/s pulled from a generator by a range-for", 100000};
  w.add("concur Generator", generator_concur);
#ifdef CONCUR_BENCH_HAVE_CONTEXT
  w.add("coroutines2 pull_type", generator_coroutine2);
#endif
  w.add_python("Python generator", "generator");
  w.compare("concur Generator", "coroutines2 pull_type");
  w.compare("concur Generator", "Python generator");
  return w;
}

}  // namespace

int main(int argc, char** argv) {
#ifndef CONCUR_BENCH_HAVE_CONTEXT
  std::printf("note: Boost.Context not found (libboost-context-dev): its peers are left out\n");
#endif
#ifndef CONCUR_BENCH_HAVE_FIBER
  std::printf("note: Boost.Fiber not found (libboost-fiber-dev): its peer is left out\n");
#endif
  return run_main(argc, argv, "coop", {make_switch, make_generator});
}
