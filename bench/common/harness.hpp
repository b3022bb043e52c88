// bench/common/harness.hpp — the measuring harness every concur benchmark binary (*_bench) uses,
// so that each compares concur with its peers the same way on a noisy 2-vCPU machine (see
// shared/PERFORMANCE.md):
//
//   - every variant of a workload is calibrated so that one sample runs ~sample-ms (≥ 100 ms),
//   - then `rounds` rounds each run one sample of every variant, back to back (A B C, C B A, ...),
//   - a variant's rate is the median of its samples; a comparison's ratio is the median over the
//     rounds of (concur's rate / the peer's rate) within the same round.
//   - Python runs as one co-process for the whole run (bench/python/<name>_bench.py --serve),
//     answering "<workload> <n>" with the seconds n operations took, so its samples interleave
//     with the C++ ones and its start-up is never timed.
//   - a workload may run beside one CPU-bound process (Workload::beside_cpu_hog, CpuHog), forked
//     for it and killed after it: how a primitive holds up when a CPU is contested.
//
// A benchmark binary defines its workloads (each a Workload with its variants and the
// (concur, peer) pairs to compare, optionally with the ratio concur is meant to reach, reported
// as met / MISSED; or a report of its own, for figures that are not rates, printed in the same
// output outside the ratio table) and hands them to run_main():
//
//   int main(int argc, char** argv) {
//     return concur_bench::run_main(argc, argv, "queue", {make_a, make_b});
//   }
//
// which parses [--rounds N] [--sample-ms MS] [--only a,b,...] [--python SCRIPT]
// [--python-exe EXE] [--no-python] [--verbose], starts the co-process, runs the selected
// workloads and prints the summary.
//
// Header-only, for one translation unit per binary.
#pragma once

#include <fcntl.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "concur/detail/futex.hpp"  // the spin budget, printed in the header

namespace concur_bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// "threading" for threading_bench: the prefix of error messages and the header line.
inline std::string bench_name = "concur";

[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "%s_bench: %s\n", bench_name.c_str(), what.c_str());
  std::exit(1);
}

// ------------------------------------------------------------------------------------------------
// The Python co-process: bench/python/<name>_bench.py --serve reads "<workload> <n>" lines and
// answers with the seconds it took (or "error ..."). One process for the whole run, so Python's
// start-up is never timed and its samples interleave with ours.
// ------------------------------------------------------------------------------------------------
class PythonWorker {
 public:
  bool start(const std::string& exe, const std::string& script) {
    int to_child[2], from_child[2];
    // Close-on-exec: a process that a benchmark spawns must not hold the co-process's stdin
    // open (it would never see the end of it). dup2 below clears the flag on 0 and 1.
    if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0) return false;
    pid_ = fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      dup2(to_child[0], 0);
      dup2(from_child[1], 1);
      close(to_child[0]); close(to_child[1]); close(from_child[0]); close(from_child[1]);
      execlp(exe.c_str(), exe.c_str(), script.c_str(), "--serve", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    to_ = fdopen(to_child[1], "w");
    from_ = fdopen(from_child[0], "r");
    std::string hello;
    if (!to_ || !from_ || !request("hello", 0, &hello) || hello.rfind("ok", 0) != 0) {
      stop();
      return false;
    }
    version_ = hello.size() > 3 ? hello.substr(3) : "";
    return true;
  }

  // Runs `workload` with n operations in Python; returns its seconds.
  double run(const std::string& workload, std::int64_t n) {
    std::string answer;
    if (!request(workload, n, &answer)) throw std::runtime_error("python co-process died");
    char* end = nullptr;
    const double s = std::strtod(answer.c_str(), &end);
    if (end == answer.c_str() || !(s > 0)) throw std::runtime_error("python: " + answer);
    return s;
  }

  bool ok() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  const std::string& version() const { return version_; }

  void stop() {
    if (to_) { std::fclose(to_); to_ = nullptr; }
    if (from_) { std::fclose(from_); from_ = nullptr; }
    if (pid_ > 0) { int status; waitpid(pid_, &status, 0); }
    pid_ = -1;
  }
  ~PythonWorker() { stop(); }

 private:
  bool request(const std::string& workload, std::int64_t n, std::string* answer) {
    if (!to_ || !from_) return false;
    std::fprintf(to_, "%s %lld\n", workload.c_str(), static_cast<long long>(n));
    if (std::fflush(to_) != 0) return false;
    char line[512];
    if (!std::fgets(line, sizeof line, from_)) return false;
    *answer = line;
    while (!answer->empty() && (answer->back() == '\n' || answer->back() == '\r')) answer->pop_back();
    return true;
  }

  pid_t pid_ = -1;
  FILE* to_ = nullptr;
  FILE* from_ = nullptr;
  std::string version_;
};

inline PythonWorker python;

// ------------------------------------------------------------------------------------------------
// Other load on the machine. On these 2-vCPU machines a parallel build or test run of another
// session changes where the scheduler puts our threads and so the ratios; each workload reports
// how many CPUs other processes (and the hypervisor, as steal) used while it ran.
// ------------------------------------------------------------------------------------------------
struct CpuSnapshot {
  Clock::time_point when;
  double busy = 0, steal = 0, ours = 0;  // CPU-seconds
};

// CPU-seconds a live child has used, with those of its own children that it has reaped (the
// Python co-process's pool workers): utime, stime, cutime and cstime are fields 14 to 17 of
// /proc/PID/stat.
inline double proc_cpu_seconds(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return 0;
  char buf[1024];
  const std::size_t len = std::fread(buf, 1, sizeof buf - 1, f);
  buf[len] = 0;
  std::fclose(f);
  unsigned long long ut = 0, st = 0;
  long long cut = 0, cst = 0;
  if (const char* p = std::strrchr(buf, ')'))  // skip "pid (comm)"
    if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld", &ut,
                    &st, &cut, &cst) == 4)
      return static_cast<double>(ut + st + static_cast<unsigned long long>(cut + cst)) /
             static_cast<double>(sysconf(_SC_CLK_TCK));
  return 0;
}

// Children the benchmark itself runs beside a workload (CpuHog): their CPU counts as ours, not
// as other load.
inline std::vector<pid_t> live_helpers;

inline CpuSnapshot cpu_snapshot() {
  CpuSnapshot s;
  s.when = Clock::now();
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  if (FILE* f = std::fopen("/proc/stat", "r")) {
    unsigned long long user, nice, sys, idle, iowait, irq, softirq, steal;
    if (std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle,
                    &iowait, &irq, &softirq, &steal) == 8) {
      s.busy = static_cast<double>(user + nice + sys + irq + softirq) / tick;
      s.steal = static_cast<double>(steal) / tick;
    }
    std::fclose(f);
  }
  auto add_rusage = [&s](int who) {
    rusage ru{};
    getrusage(who, &ru);
    s.ours += static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
              static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  };
  add_rusage(RUSAGE_SELF);
  add_rusage(RUSAGE_CHILDREN);  // CPU hogs already reaped (the co-process is reaped at the end)
  if (python.ok()) s.ours += proc_cpu_seconds(python.pid());
  for (pid_t pid : live_helpers) s.ours += proc_cpu_seconds(pid);
  return s;
}

// "other load 0.85 CPU, steal 0.02 CPU" between two snapshots (average CPUs in use).
inline std::string other_load(const CpuSnapshot& a, const CpuSnapshot& b) {
  const double wall = std::chrono::duration<double>(b.when - a.when).count();
  if (wall <= 0) return "";
  const double other = std::max(0.0, (b.busy - a.busy) - (b.ours - a.ours)) / wall;
  const double steal = std::max(0.0, b.steal - a.steal) / wall;
  char buf[96];
  std::snprintf(buf, sizeof buf, "other load %.2f CPU, steal %.2f CPU", other, steal);
  return buf;
}
inline double other_cpus(const CpuSnapshot& a, const CpuSnapshot& b) {
  const double wall = std::chrono::duration<double>(b.when - a.when).count();
  return wall > 0 ? std::max(0.0, (b.busy - a.busy) - (b.ours - a.ours)) / wall : 0;
}

// One CPU-bound process beside a workload ("loaded"): a forked child that spins in a busy loop
// until it is killed, which the destructor does. PR_SET_PDEATHSIG kills it too if the benchmark
// dies first, so it never outlives the run. Its CPU counts as ours in the load figures.
class CpuHog {
 public:
  CpuHog() {
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) fail("fork() for the CPU-bound child failed");
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(0);  // the parent died before prctl() took effect
      volatile std::uint64_t spins = 0;
      for (;;) spins = spins + 1;
    }
    live_helpers.push_back(pid_);
  }
  ~CpuHog() {
    kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
    live_helpers.erase(std::find(live_helpers.begin(), live_helpers.end(), pid_));
  }
  CpuHog(const CpuHog&) = delete;
  CpuHog& operator=(const CpuHog&) = delete;

 private:
  pid_t pid_ = -1;
};

// ------------------------------------------------------------------------------------------------
// Harness
// ------------------------------------------------------------------------------------------------
struct Options {
  int rounds = 9;
  double sample_s = 0.15;
  std::vector<std::string> only;
  bool verbose = false;  // also print every sample's rate, round by round
};
inline Options opts;

struct Variant {
  std::string name;
  std::function<double(std::int64_t&)> run;  // runs n operations, returns seconds;
                                             // may lower n to the operations it did
  std::int64_t n = 0;                       // current sample size (calibrated)
  std::vector<double> rates;                // ops/s, one per round
  std::string error;                        // non-empty: the variant failed and is left out
  bool compared = false;                    // in at least one printed comparison
};

struct Comparison {
  std::string workload, concur, peer;
  double concur_rate, peer_rate, ratio, lo, hi;
  int pairs;
  double goal = 0;  // > 0: the ratio concur is meant to reach (e.g. 100 for "100x Python")
};
inline std::vector<Comparison> all_comparisons;
inline int goals_not_measured = 0;  // goals whose concur or peer variant was missing or failed

// "workload: variant" of the sample being run, for a benchmark's own diagnostics (a hang).
inline std::string running;

inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

inline std::string fmt_rate(double r) {
  char buf[64];
  if (r >= 1e6) std::snprintf(buf, sizeof buf, "%.2f M/s", r / 1e6);
  else if (r >= 1e3) std::snprintf(buf, sizeof buf, "%.1f K/s", r / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f /s", r);
  return buf;
}
inline std::string fmt_ratio(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, x >= 10 ? "%.0fx" : x >= 1 ? "%.2fx" : "%.3fx", x);
  return buf;
}
// " goal 100x: met" / " goal 100x: MISSED" for a comparison with a goal, "" without one.
inline std::string goal_note(const Comparison& c) {
  if (!(c.goal > 0)) return "";
  return " goal " + fmt_ratio(c.goal) + (c.ratio >= c.goal ? ": met" : ": MISSED");
}

// Grows n until one sample takes at least `sample_s` (the first runs double as warm-up).
inline void calibrate(Variant& v, std::int64_t n0) {
  std::int64_t n = n0;
  for (int i = 0; i < 40; ++i) {
    const double t = v.run(n);
    if (t >= opts.sample_s * 0.5 || n > (std::int64_t{1} << 40)) {
      v.n = std::max<std::int64_t>(1, static_cast<std::int64_t>(n * (opts.sample_s / t)));
      return;
    }
    const double grow = t > 0 ? std::min(100.0, std::max(2.0, opts.sample_s / t)) : 100.0;
    n = static_cast<std::int64_t>(n * grow);
  }
  v.n = n;
}

struct Workload {
  Workload(std::string k, std::string t, std::string u, std::int64_t n)
      : key(std::move(k)), title(std::move(t)), unit(std::move(u)), n0(n) {}

  std::string key;        // for --only
  std::string title;      // printed at the start of each comparison line
  std::string unit;       // what one operation is
  std::int64_t n0;        // calibration starts here
  std::vector<Variant> variants;
  // A workload that measures something other than rates (bytes allocated per task, a latency
  // distribution) sets report: run() calls it in place of the calibration, the rounds and the
  // ratio lines, and it prints its own lines (title first, as the ratio lines do). The footer
  // (unit, seconds, other load) is printed as for every workload; nothing enters the summary.
  std::function<void()> report;
  // true: the whole workload (calibration, rounds, report) runs beside one CPU-bound process
  // (CpuHog), started before it and killed after it; the footer says so.
  bool beside_cpu_hog = false;
  struct Pair {
    std::string concur, peer;
    double goal;
  };
  std::vector<Pair> pairs;

  void add(std::string name, std::function<double(std::int64_t&)> run) {
    Variant v;
    v.name = std::move(name);
    v.run = std::move(run);
    variants.push_back(std::move(v));
  }
  void add_python(std::string name, std::string py_workload) {
    if (!python.ok()) return;
    add(std::move(name), [py_workload](std::int64_t& n) { return python.run(py_workload, n); });
  }
  // A pair whose concur or peer variant is missing (its package is not installed, Python did not
  // start, it failed) is skipped. goal > 0: the ratio concur must reach; the line and the summary
  // say whether it did (and a goal that could not be measured is reported as such).
  void compare(std::string concur, std::string peer, double goal = 0) {
    pairs.push_back(Pair{std::move(concur), std::move(peer), goal});
  }

  Variant* find(const std::string& name) {
    for (auto& v : variants)
      if (v.name == name && v.error.empty()) return &v;
    return nullptr;
  }

  void run() {
    std::unique_ptr<CpuHog> hog;
    if (beside_cpu_hog) hog = std::make_unique<CpuHog>();
    const std::string beside = beside_cpu_hog ? "beside 1 CPU-bound process; " : "";
    const auto t_start = Clock::now();
    const CpuSnapshot cpu0 = cpu_snapshot();
    if (report) {
      running = title;
      report();
      running.clear();
      std::printf("%-17s (%s; %s%.1f s; %s)\n\n", "", unit.c_str(), beside.c_str(),
                  seconds_since(t_start), other_load(cpu0, cpu_snapshot()).c_str());
      std::fflush(stdout);
      return;
    }
    for (auto& v : variants) {
      try {
        running = title + ": " + v.name;
        calibrate(v, n0);
      } catch (const std::exception& e) {
        v.error = e.what();
      }
    }
    for (int r = 0; r < opts.rounds; ++r) {
      // Alternate the order (A B C, C B A, ...) so no variant always follows the same one.
      std::vector<Variant*> order;
      for (auto& v : variants) order.push_back(&v);
      if (r % 2) std::reverse(order.begin(), order.end());
      for (Variant* v : order) {
        if (!v->error.empty()) continue;
        running = title + ": " + v->name;
        try {
          // Keep samples near the target when the machine changes mode (2-5x swings, and
          // 20x for spinning waiters): a sample that came out shorter than half the target is
          // run again at once with a larger n, so every recorded sample is long enough.
          for (int attempt = 0;; ++attempt) {
            std::int64_t n = v->n;
            const double t = v->run(n);
            if (t < opts.sample_s * 0.67 || t > opts.sample_s * 1.5)
              v->n = std::max<std::int64_t>(1, static_cast<std::int64_t>(n * (opts.sample_s / t)));
            if (t >= opts.sample_s * 0.5 || attempt == 2) {
              v->rates.push_back(static_cast<double>(n) / t);
              break;
            }
          }
        } catch (const std::exception& e) {
          v->error = e.what();
        }
      }
    }
    if (opts.verbose)
      for (auto& v : variants) {
        std::printf("%-17s   %-26s", "", v.name.c_str());
        for (double r : v.rates) std::printf(" %10s", fmt_rate(r).c_str());
        std::printf("\n");
      }
    for (auto& v : variants)
      if (!v.error.empty())
        std::printf("%-17s %s: left out (%s)\n", title.c_str(), v.name.c_str(), v.error.c_str());
    running.clear();
    for (const Pair& pair : pairs) {
      Variant* c = find(pair.concur);
      Variant* p = find(pair.peer);
      std::vector<double> ratios;
      if (c && p)
        for (std::size_t i = 0; i < std::min(c->rates.size(), p->rates.size()); ++i)
          ratios.push_back(c->rates[i] / p->rates[i]);
      if (ratios.empty()) {
        if (pair.goal > 0) {
          ++goals_not_measured;
          std::printf("%-17s %s vs %s: goal %s not measured (%s missing)\n", title.c_str(),
                      pair.concur.c_str(), pair.peer.c_str(), fmt_ratio(pair.goal).c_str(),
                      c ? pair.peer.c_str() : pair.concur.c_str());
        }
        continue;
      }
      Comparison cmp{title, c->name, p->name, median(c->rates), median(p->rates), median(ratios),
                     *std::min_element(ratios.begin(), ratios.end()),
                     *std::max_element(ratios.begin(), ratios.end()),
                     static_cast<int>(ratios.size()), pair.goal};
      std::printf("%-17s %s %s | %s %s | ratio %s (median of %d pairs, range %s-%s)%s\n",
                  title.c_str(), cmp.concur.c_str(), fmt_rate(cmp.concur_rate).c_str(),
                  cmp.peer.c_str(), fmt_rate(cmp.peer_rate).c_str(), fmt_ratio(cmp.ratio).c_str(),
                  cmp.pairs, fmt_ratio(cmp.lo).c_str(), fmt_ratio(cmp.hi).c_str(),
                  goal_note(cmp).c_str());
      all_comparisons.push_back(cmp);
      c->compared = p->compared = true;
    }
    // A variant measured but in no comparison printed (its partner is not in this build, e.g. a
    // part of concur not merged yet): its rate alone, so that no measurement goes unreported.
    for (auto& v : variants)
      if (v.error.empty() && !v.rates.empty() && !v.compared)
        std::printf("%-17s %s %s (no comparison in this build)\n", title.c_str(), v.name.c_str(),
                    fmt_rate(median(v.rates)).c_str());
    std::printf("%-17s (%s; %s%.1f s; %s)\n\n", "", unit.c_str(), beside.c_str(),
                seconds_since(t_start), other_load(cpu0, cpu_snapshot()).c_str());
    std::fflush(stdout);
  }
};

// ------------------------------------------------------------------------------------------------
// Building blocks for the variants
// ------------------------------------------------------------------------------------------------

// The partner thread runs pong(i) n times, the calling thread ping(i) n times; timed from the
// moment the partner is running to the end of the caller's last round trip. If the machine has
// dropped into a much slower mode since calibration, the caller cuts the sample short after
// 4 x sample-ms (n is lowered to the operations done): it stores the new count before its last
// ping, and the primitive under test carries that store to the partner with the ping itself.
template <class Ping, class Pong>
double two_thread(std::int64_t& n, Ping ping, Pong pong) {
  alignas(64) std::atomic<std::int64_t> limit{n};
  alignas(64) std::atomic<bool> ready{false};
  std::thread partner([&] {
    ready.store(true, std::memory_order_release);
    for (std::int64_t i = 0; i < limit.load(std::memory_order_relaxed); ++i) pong(i);
  });
  while (!ready.load(std::memory_order_acquire)) std::this_thread::yield();
  const double cap = 4 * opts.sample_s;
  const auto t0 = Clock::now();
  for (std::int64_t i = 0; i < n; ++i) {
    if ((i & 255) == 255 && seconds_since(t0) > cap) {
      limit.store(i + 1, std::memory_order_relaxed);
      n = i + 1;
    }
    ping(i);
  }
  const double t = seconds_since(t0);
  partner.join();
  return t;
}

// For loops of slow operations: true once a sample has run 4 x sample-ms (see two_thread).
inline bool over_cap(Clock::time_point t0) { return seconds_since(t0) > 4 * opts.sample_s; }

// k threads each run body(count); timed from the start signal to the last join.
template <class Body>
double k_threads(int k, std::int64_t per_thread, Body body) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> ts;
  for (int i = 0; i < k; ++i)
    ts.emplace_back([&] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      body(per_thread);
    });
  while (ready.load() < k) std::this_thread::yield();
  const auto t0 = Clock::now();
  go.store(true, std::memory_order_release);
  for (auto& t : ts) t.join();
  return seconds_since(t0);
}

// A variant whose result is wrong is left out of the run with this message (a broken primitive
// must not look fast).
inline void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("wrong result: ") + what);
}

// ------------------------------------------------------------------------------------------------
// Summary and main
// ------------------------------------------------------------------------------------------------
inline bool selected(const std::string& key) {
  return opts.only.empty() || std::find(opts.only.begin(), opts.only.end(), key) != opts.only.end();
}

inline void print_summary() {
  // Columns at least as wide as threading_bench's names need, wider when a name needs it.
  int ww = 18, cw = 18, pw = 26;
  for (const auto& c : all_comparisons) {
    ww = std::max(ww, static_cast<int>(c.workload.size()));
    cw = std::max(cw, static_cast<int>(c.concur.size()));
    pw = std::max(pw, static_cast<int>(c.peer.size()));
  }
  std::printf("== summary: concur / peer, median of per-round ratios (>1: concur is faster)\n");
  std::printf("%-*s %-*s %-*s %12s %12s %9s  %s\n", ww, "workload", cw, "concur", pw, "peer",
              "concur", "peer", "ratio", "");
  int wins = 0, losses = 0, goals = 0, goals_met = 0;
  for (const auto& c : all_comparisons) {
    const char* verdict = c.ratio >= 1.05 ? "win" : c.ratio <= 0.95 ? "LOSS" : "tie";
    if (c.ratio >= 1.05) ++wins;
    if (c.ratio <= 0.95) ++losses;
    if (c.goal > 0) {
      ++goals;
      if (c.ratio >= c.goal) ++goals_met;
    }
    std::printf("%-*s %-*s %-*s %12s %12s %9s  %s%s\n", ww, c.workload.c_str(), cw,
                c.concur.c_str(), pw, c.peer.c_str(), fmt_rate(c.concur_rate).c_str(),
                fmt_rate(c.peer_rate).c_str(), fmt_ratio(c.ratio).c_str(), verdict,
                goal_note(c).c_str());
  }
  std::printf("%d comparisons: %d wins, %d ties (within 5%%), %d losses\n",
              static_cast<int>(all_comparisons.size()), wins,
              static_cast<int>(all_comparisons.size()) - wins - losses, losses);
  if (goals > 0 || goals_not_measured > 0)
    std::printf("goals: %d of %d met%s\n", goals_met, goals + goals_not_measured,
                goals_not_measured > 0
                    ? (" (" + std::to_string(goals_not_measured) + " not measured)").c_str()
                    : "");
}

using Maker = Workload (*)();

// The whole benchmark binary: options, the Python co-process, the header, every selected
// workload in order, the summary. `name` is "threading" for threading_bench (its Python script is
// CONCUR_BENCH_PYTHON_DIR/threading_bench.py unless --python says otherwise).
inline int run_main(int argc, char** argv, const std::string& name,
                    std::initializer_list<Maker> makers) {
  bench_name = name;
#ifdef CONCUR_BENCH_PYTHON_DIR
  std::string py_script = std::string(CONCUR_BENCH_PYTHON_DIR) + "/" + name + "_bench.py";
#else
  std::string py_script = "bench/python/" + name + "_bench.py";
#endif
  std::string py_exe = "python3";
  bool use_python = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) fail("missing value after " + a);
      return argv[++i];
    };
    if (a == "--rounds") opts.rounds = std::max(1, std::atoi(value().c_str()));
    else if (a == "--sample-ms") opts.sample_s = std::max(1.0, std::atof(value().c_str())) / 1000;
    else if (a == "--python") py_script = value();
    else if (a == "--python-exe") py_exe = value();
    else if (a == "--no-python") use_python = false;
    else if (a == "--verbose" || a == "-v") opts.verbose = true;
    else if (a == "--only") {
      std::string list = value();
      for (std::size_t p = 0; p <= list.size();) {
        const std::size_t q = std::min(list.find(',', p), list.size());
        if (q > p) opts.only.push_back(list.substr(p, q - p));
        p = q + 1;
      }
    } else if (a == "-h" || a == "--help") {
      std::string keys;
      for (Maker make : makers) keys += (keys.empty() ? "" : ",") + make().key;
      std::printf("usage: %s [--rounds N] [--sample-ms MS] [--only %s] [--python SCRIPT] "
                  "[--python-exe EXE] [--no-python] [--verbose]\n", argv[0], keys.c_str());
      return 0;
    } else {
      fail("unknown argument " + a + " (try --help)");
    }
  }
  // scripts/bench.sh passes the same --only to every binary: one that has none of the named
  // workloads says so and runs nothing.
  if (!opts.only.empty()) {
    std::string keys;
    bool any = false;
    for (Maker make : makers) {
      const std::string key = make().key;
      keys += (keys.empty() ? "" : ",") + key;
      any = any || selected(key);
    }
    if (!any) {
      std::printf("%s_bench: no workload selected by --only (its workloads: %s)\n", name.c_str(),
                  keys.c_str());
      return 0;
    }
  }
  signal(SIGPIPE, SIG_IGN);

  // Fork the Python co-process before any thread exists.
  if (use_python && !python.start(py_exe, py_script))
    std::printf("note: Python co-process (%s %s) did not start: Python rows are left out\n",
                py_exe.c_str(), py_script.c_str());

  // Make the process multi-threaded for good before measuring anything: glibc takes a
  // non-atomic shortcut in pthread_mutex_lock while a process has never had a second thread, which
  // would flatter std::mutex in an uncontended-only run (--only lock-uncontended) — no program
  // that needs a lock runs that way.
  std::thread([] {}).join();

  utsname u{};
  uname(&u);
  std::printf("== concur %s benchmarks: %u CPUs, %s %s, g++ %s%s%s\n", name.c_str(),
              std::thread::hardware_concurrency(), u.sysname, u.release, __VERSION__,
              python.ok() ? ", Python " : "", python.ok() ? python.version().c_str() : "");
  std::printf("   %d rounds of ~%.0f ms samples, variants interleaved (A B C, C B A, ...); "
              "rates are medians,\n   ratios the median of per-round concur/peer ratios "
              "(>1: concur faster). concur waits spin %.2f-%.0f us (adaptive), then sleep.\n\n",
              opts.rounds, opts.sample_s * 1000, concur::detail::tuning::kSpinFloorNs / 1e3,
              concur::detail::tuning::kSpinMaxNs / 1e3);
  std::fflush(stdout);

  const auto t0 = Clock::now();
  const CpuSnapshot cpu0 = cpu_snapshot();
  for (Maker make : makers) {
    Workload w = make();
    if (selected(w.key)) w.run();
  }
  print_summary();
  const CpuSnapshot cpu1 = cpu_snapshot();
  std::printf("total %.0f s; %s during the run%s\n", seconds_since(t0),
              other_load(cpu0, cpu1).c_str(),
              other_cpus(cpu0, cpu1) > 0.25
                  ? " — other processes competed for the 2 CPUs: the ratios are less reliable"
                  : "");
  python.stop();
  return 0;
}

}  // namespace concur_bench
