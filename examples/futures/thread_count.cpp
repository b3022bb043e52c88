// From seed 002, §19 "多进程编程和多线程编程优缺点": "多线程编程也不是线程个数越多效率越高", and a
// formula for a reference value of the best number of threads:
//
//   最佳线程数量 = (线程等待时间 + 线程CPU时间) / 线程CPU时间 * CPU数量
//
// i.e. threads = cores x (1 + wait time / compute time): while one thread waits, another can use
// its core, so a core is kept busy by (wait + compute) / compute threads; more threads than that
// only queue for the cores.
//
// Here a task half waits (th::sleep: I/O, a database, a remote server) and half computes (a fixed
// amount of arithmetic, calibrated at start to take about 4 ms). 24 such tasks run on a
// cf::ThreadPoolExecutor(max_workers) for max_workers = 1, 2, 3, 4, 6, 8. The wait and CPU
// time per task are measured (the CPU time with the thread's CPU clock) and put into the formula;
// the measured best is the smallest max_workers within 15% of the fastest sweep time. Each count
// runs 3 times (the sweeps interleaved) after a warm-up, and the best time counts
// (examples/common/timing.hpp). On a quiet machine with 2 cores, both say 4; on a busy one the
// cores are shared with other programs, and the measured figures move.
//
// Every other task computes first and then waits, the rest wait first: tasks arriving in a
// steady stream are out of step, some computing while others wait — the picture behind the
// formula. (Were all of them to wait and then compute at the same moments, the compute phases
// would pile up on the cores, and no thread count would keep the cores busy all the time.)
#include <concur/futures.hpp>
#include <concur/threading.hpp>

#include <time.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "print.hpp"
#include "timing.hpp"

namespace cf = concur::futures;
namespace th = concur::threading;
using namespace std::chrono_literals;

constexpr auto kWait = 4ms;
constexpr double kComputeMs = 4.0;
constexpr int kTasks = 24;
const std::vector<int> kWorkers = {1, 2, 3, 4, 6, 8};

// A fixed amount of CPU work: `volatile` keeps every step.
void compute(std::uint64_t steps) {
  volatile std::uint64_t v = steps;
  while (v > 0) v = v - 1;
}

double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// How many steps of compute() take kComputeMs of CPU time (after a warm-up that brings the
// clock speed up; the best of 5 timings on the thread's CPU clock, which a busy machine's
// preemptions do not advance).
std::uint64_t calibrate() {
  constexpr std::uint64_t probe = 20'000'000;
  compute(20 * probe);  // warm-up, about 0.1 s
  double best = 1e9;
  for (int i = 0; i < 5; ++i) {
    const double cpu0 = thread_cpu_seconds();
    compute(probe);
    best = std::min(best, thread_cpu_seconds() - cpu0);
  }
  return static_cast<std::uint64_t>(static_cast<double>(probe) * kComputeMs / 1000.0 / best);
}

struct TaskTimes {
  double wall, cpu;  // seconds
};

// The task: wait, then compute — or, for odd i, compute, then wait.
TaskTimes task(int i, std::uint64_t steps) {
  const auto start = std::chrono::steady_clock::now();
  const double cpu0 = thread_cpu_seconds();
  if (i % 2 == 0) {
    th::sleep(kWait);
    compute(steps);
  } else {
    compute(steps);
    th::sleep(kWait);
  }
  return {timing::seconds_since(start), thread_cpu_seconds() - cpu0};
}

// Runs the tasks on a pool of `workers` threads; returns the wall time and the tasks' times.
double run(int workers, std::uint64_t steps, std::vector<TaskTimes>* times = nullptr) {
  std::vector<int> ids;
  for (int i = 0; i < kTasks; ++i) ids.push_back(i);
  return timing::time_it([&] {
    cf::ThreadPoolExecutor pool(workers);
    for (TaskTimes t : pool.map([steps](int i) { return task(i, steps); }, ids)) {
      if (times) times->push_back(t);
    }
  });
}

int main() {
  const unsigned cores = timing::usable_cores();
  print(timing::machine_text());
  const std::uint64_t steps = calibrate();

  // Warm-up, and the tasks' wait and CPU time, measured on one worker (no sharing of cores).
  std::vector<TaskTimes> times;
  run(1, steps, &times);
  double wall = 0, cpu = 0;
  for (const TaskTimes& t : times) {
    wall += t.wall;
    cpu += t.cpu;
  }
  const double cpu_ms = cpu / kTasks * 1000, wait_ms = (wall - cpu) / kTasks * 1000;
  print("each task: waits", timing::fixed(wait_ms, 1), "ms and computes", timing::fixed(cpu_ms, 1),
        "ms (measured);", kTasks, "tasks");

  const double predicted = cores * (wait_ms + cpu_ms) / cpu_ms;
  print("最佳线程数量 = (线程等待时间 + 线程CPU时间) / 线程CPU时间 * CPU数量 = (" +
            timing::fixed(wait_ms, 1) + " + " + timing::fixed(cpu_ms, 1) + ") / " +
            timing::fixed(cpu_ms, 1) + " * " + std::to_string(cores) + " =",
        timing::fixed(predicted, 1));

  constexpr int rounds = 3;
  std::map<int, double> best;
  for (int w : kWorkers) best[w] = 1e9;
  for (int round = 0; round < rounds; ++round) {
    for (int w : kWorkers) best[w] = std::min(best[w], run(w, steps));
  }
  double fastest = 1e9;
  for (const auto& [w, t] : best) fastest = std::min(fastest, t);
  int best_workers = kWorkers.back();
  for (int w : kWorkers) {
    if (best[w] <= fastest * 1.15) {
      best_workers = w;
      break;
    }
  }

  print("max_workers   time (best of " + std::to_string(rounds) + " runs)   vs 1 worker");
  for (int w : kWorkers) {
    std::string line = "  " + std::to_string(w) + std::string(w < 10 ? 12 : 11, ' ') +
                       timing::fixed(best[w], 3) + " s" + std::string(16, ' ') +
                       timing::fixed(best[1] / best[w], 1) + "x";
    if (w == best_workers) line += "   <- best";
    print(line);
  }
  print("the formula predicts", timing::fixed(predicted, 1), "threads; measured best:", best_workers,
        "threads (the fewest within 15% of the fastest: more gain little)");
  print(std::abs(best_workers - predicted) <= 1.0
            ? "they agree: beyond that many threads, the extra ones only queue for the cores"
            : "they differ: the formula takes the cores to be ours alone, and the waits and the "
              "computations to interleave perfectly");
}
