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
#include <iomanip>
#include <sstream>
#include <string>
#include <thread>

namespace timing {

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

inline std::string fixed(double x, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << x;
  return s.str();
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
