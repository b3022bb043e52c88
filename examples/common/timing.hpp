// Timing helpers for the examples that print a speed-up (not part of concur): the number of cores
// the program may use, a wall clock, and a speed-up that says when it cannot be right.
//
// A speed-up is only as honest as its two times. The examples that use these helpers warm up
// first (the CPU leaves its power-saving clock, threads and caches are set up), then take the
// best of several rounds, running the versions they compare alternately within each round, so
// that a burst of other work on the machine slows one round of both rather than all of one.
// The best run is the one least disturbed by other programs; with P cores, P threads can at
// best be P times as fast as one, so a figure above the core count means the one-thread runs
// were disturbed, and the program says so rather than print it as a result.
#pragma once

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <string>
#include <thread>

namespace timing {

inline std::string fixed(double x, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << x;
  return s.str();
}

// std::thread::hardware_concurrency(): the hardware threads of the machine (0 if unknown).
inline unsigned hardware_threads() { return std::thread::hardware_concurrency(); }

// The CPUs this process may run on (its affinity mask: taskset, cgroups cpusets); at most
// hardware_threads(). This is what bounds a speed-up, and what os.sched_getaffinity(0) gives.
inline unsigned usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) return static_cast<unsigned>(CPU_COUNT(&set));
  return std::max(1u, hardware_threads());
}

// "2 cores (hardware_concurrency() = 2, usable by this process: 2)"
inline std::string cores_text() {
  const unsigned n = usable_cores();
  return std::to_string(n) + (n == 1 ? " core" : " cores") + " (hardware_concurrency() = " +
         std::to_string(hardware_threads()) + ", usable by this process: " +
         std::to_string(n) + ")";
}

// How many threads of other programs are running or waiting for a core right now: the
// procs_running line of /proc/stat (which counts this thread too), sampled 20 times over 0.1 s
// and averaged; -1 if unknown. (Not the load average: that still counts, for minutes, a build that
// has just finished.)
inline double others_running() {
  double sum = 0;
  constexpr int samples = 20;
  for (int i = 0; i < samples; ++i) {
    std::ifstream f("/proc/stat");
    std::string key;
    double running = -1;
    while (f >> key) {
      if (key == "procs_running") {
        f >> running;
        break;
      }
      f.ignore(1 << 20, '\n');
    }
    if (running < 0) return -1;
    sum += running - 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return sum / samples;
}

// "this machine: 2 cores (...)", and a warning when other programs keep the cores busy: the
// times measured then include waits for a core, and the speed-ups come out lower (or, when the
// disturbance hits the one-thread runs, higher) than on a quiet machine.
inline std::string machine_text() {
  std::string text = "this machine: " + cores_text();
  const double others = others_running();
  if (others >= 0.5) {
    text += "\n(busy: other programs keep about " + fixed(others, 1) + " threads running on " +
            "these cores, so the times below are disturbed; on a quiet machine they are clean)";
  }
  return text;
}

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// How long f() takes, in seconds.
template <class F>
double time_it(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return seconds_since(start);
}

// "1.9x", and a warning when the figure exceeds what `threads` threads on this machine's cores
// can give (it then measures a disturbance, not the threads).
inline std::string speedup_text(double one, double many, unsigned threads) {
  const double s = one / many;
  std::string text = fixed(s, 1) + "x";
  const unsigned bound = std::min(threads, usable_cores());
  if (s > bound * 1.05) {
    text += " (more than " + std::to_string(bound) +
            " threads can give on these cores: other programs slowed the one-thread runs)";
  }
  return text;
}

}  // namespace timing
