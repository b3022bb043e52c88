// sched_bench — concur::sched::scheduler against Python's sched (through the harness's Python
// co-process, bench/python/sched_bench.py) and against the scheduler a C++ programmer writes
// first, all measured in this one process (see shared/PERFORMANCE.md). The harness
// (calibration, interleaved rounds, median of per-round ratios, printing, the options below) is
// bench/common/harness.hpp, shared by every *_bench binary.
//
//   sched_bench [--rounds N] [--sample-ms MS] [--only a,b,...] [--python SCRIPT]
//               [--python-exe EXE] [--no-python] [--verbose]
// workloads: enter-run
//
// enter-run: batches of kBatch = 1,000,000 due events on one scheduler: enter(0s, 1, action)
// kBatch times, then run() (which finds every event due and runs it without sleeping); a sample
// is a whole number of batches, so every variant works on a queue of a million events. Each
// action counts itself and the count is checked. Timed from the first enter() to the end of the
// last run().
//
// Peers:
//   Python             sched.scheduler(): s.enter(0, 1, action) and s.run(), the same batches
//   priority_queue     std::priority_queue of {time, priority, sequence, std::function<void()>}
//                      under a std::mutex, run() popping what is due (no cancel, no handles)
// Goal: concur >= 50x Python.
// Python's run() calls delayfunc(0) — time.sleep(0), a system call that may give the CPU away —
// after every action, and its heap compares Events with Python-level __lt__: its rate depends
// much on the other load of the machine, so read the ratio beside the load figure printed.
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <vector>

#include <concur/sched.hpp>

#include "common/harness.hpp"

namespace {

namespace sc = concur::sched;
using namespace concur_bench;  // the harness: Workload, check, opts, ...
using namespace std::chrono_literals;

constexpr std::int64_t kBatch = 1'000'000;
constexpr double kPythonGoal = 50;
const char* const kConcur = "concur sched::scheduler";
const char* const kPriorityQueue = "std::priority_queue+mutex";
const char* const kPython = "Python sched";

std::int64_t whole_batches(std::int64_t& n) {
  const std::int64_t batches = std::max<std::int64_t>(1, (n + kBatch / 2) / kBatch);
  n = batches * kBatch;
  return batches;
}

double concur_enter_run(std::int64_t& n) {
  const std::int64_t batches = whole_batches(n);
  sc::scheduler s;
  std::int64_t count = 0;
  auto action = [&count] { ++count; };
  const auto t0 = std::chrono::steady_clock::now();
  for (std::int64_t b = 0; b < batches; ++b) {
    for (std::int64_t i = 0; i < kBatch; ++i) (void)s.enter(0s, 1, action);
    s.run();
  }
  const double elapsed = seconds_since(t0);
  check(count == n, "every action ran once");
  return elapsed;
}

// The scheduler a C++ programmer writes first.
class NaiveScheduler {
 public:
  void enter(std::chrono::steady_clock::duration delay, int priority, std::function<void()> fn) {
    const auto when = std::chrono::steady_clock::now() + delay;
    std::lock_guard g(m_);
    q_.push(Item{when, priority, seq_++, std::move(fn)});
  }
  void run() {
    for (;;) {
      std::function<void()> fn;
      {
        std::lock_guard g(m_);
        if (q_.empty()) return;
        if (q_.top().when > std::chrono::steady_clock::now()) continue;  // (never, here)
        fn = std::move(const_cast<Item&>(q_.top()).fn);
        q_.pop();
      }
      fn();
    }
  }

 private:
  struct Item {
    std::chrono::steady_clock::time_point when;
    int priority;
    std::uint64_t seq;
    std::function<void()> fn;
    bool operator<(const Item& o) const {  // a max-heap: "less" is "runs later"
      if (when != o.when) return when > o.when;
      if (priority != o.priority) return priority > o.priority;
      return seq > o.seq;
    }
  };
  std::mutex m_;
  std::priority_queue<Item> q_;
  std::uint64_t seq_ = 0;
};

double naive_enter_run(std::int64_t& n) {
  const std::int64_t batches = whole_batches(n);
  NaiveScheduler s;
  std::int64_t count = 0;
  auto action = [&count] { ++count; };
  const auto t0 = std::chrono::steady_clock::now();
  for (std::int64_t b = 0; b < batches; ++b) {
    for (std::int64_t i = 0; i < kBatch; ++i) s.enter(0s, 1, action);
    s.run();
  }
  const double elapsed = seconds_since(t0);
  check(count == n, "every action ran once");
  return elapsed;
}

Workload make_enter_run() {
  Workload w{"enter-run", "enter+run",
             "events/s: enter(0s, 1, action) of 1,000,000 due events, then run()", kBatch};
  w.add(kConcur, concur_enter_run);
  w.add(kPriorityQueue, naive_enter_run);
  if (python.ok())
    w.add(kPython, [](std::int64_t& n) {
      whole_batches(n);
      return python.run("enter_run", n);
    });
  w.compare(kConcur, kPython, kPythonGoal);
  w.compare(kConcur, kPriorityQueue);
  return w;
}

}  // namespace

int main(int argc, char** argv) {
  return concur_bench::run_main(argc, argv, "sched", {make_enter_run});
}
