// mp_bench — concur::multiprocessing (Pipe/Connection, Process and its start methods, Queue)
// against what a C++ user would otherwise write (raw pipe(2)/socketpair(2) reads and writes,
// fork+waitpid, posix_spawn) and against CPython's multiprocessing, all measured in this one
// process (Python through a co-process, bench/python/mp_bench.py) so that the ratios compare
// like with like on a noisy 2-vCPU machine (see shared/PERFORMANCE.md). The harness is
// bench/common/harness.hpp.
//
//   mp_bench [--rounds N] [--sample-ms MS] [--only a,b,...] [--python SCRIPT]
//            [--python-exe EXE] [--no-python] [--verbose]
// workloads: pingpong, bandwidth, start-fork, start-spawn, start-forkserver, queue
//
// Every helper process is forked before the clock starts and reaped after it stops. A helper
// runs with PR_SET_PDEATHSIG (it never outlives the bench); the parent closes its copy of the
// helper's end of every channel (and the helper the parent's), so a helper that dies makes the
// parent's next read see the end of the stream; a watchdog (SIGALRM, kWatchdogSeconds per sample)
// kills the helper of a sample that stops making progress, which ends that read too. A helper
// that fails (a non-zero exit status, a wrong echo, a timeout) leaves its variant out of the run
// with the reason, and the binary then exits with status 1: a failure never hangs the bench and
// is never hidden. The Python rows do the same (bench/python/mp_bench.py: a timer kills a helper
// after 60 s; a Python sample that fails also makes the binary exit with status 1).
//
// pingpong: n round trips of one int between this process and a forked child that echoes it;
// the parent checks every echo. Sample-ms caps a sample (n lowered to the trips done).
//   concur Pipe()           auto [a, b] = mp::Pipe() (duplex: a socketpair); a.send(i),
//                           a.recv<int>(); the child b.send(b.recv<int>()) until EOFError
//   concur Pipe(false) x2   the same over two one-way mp::Pipe(false)s (two pipe(2)s)
//   raw pipe pair           two pipe(2)s; write(2) of the same 8 bytes a Connection sends (a
//                           4-byte length + the int), read(2) of 8 bytes, each way
//   raw socketpair          the same over one AF_UNIX SOCK_STREAM socketpair(2) (what Pipe() is)
//   Python Pipe()           multiprocessing.Pipe(): send(i) / recv() (pickle), a forked child
// Goals: concur Pipe() >= 0.8x the raw pipe pair and >= 10x Python.
//
// bandwidth: n messages of 1 MiB, parent -> child; the child counts messages and bytes until the
// end of the stream and reports them through a pipe. Timed from the first send to the report;
// rates are messages/s (x 1 MiB = MiB/s).
//   concur Pipe() into      a.send_bytes(buffer); the child b.recv_bytes_into(its buffer)
//   concur Pipe() bytes     the same with std::vector<std::byte> m = b.recv_bytes()
//   concur Pipe(false) into the same as "into" over mp::Pipe(false) (a pipe(2))
//   raw socketpair          write(2) / read(2) loops of 1 MiB over a socketpair(2)
//   raw pipe                write(2) / read(2) loops of 1 MiB over a pipe(2)
//   Python Pipe()           send_bytes / recv_bytes (information only)
// Goal: concur Pipe() into >= 0.8x the raw loops over the same kind of descriptor
// (socketpair); concur Pipe(false) into vs raw pipe is printed beside it.
//
// start-fork, start-spawn, start-forkserver: n times start + join of a child that does nothing.
//   concur <m>              mp::Context ctx = mp::get_context(m); auto p = ctx.Process(nothing);
//                           p.start(); p.join(); exitcode checked (nothing(): a plain function)
//   raw fork+waitpid        fork(); the child _exit(0)s; waitpid(2)
//   raw posix_spawn         posix_spawn(2) of this binary with --mp-bench-exit, which main()
//                           checks first thing and _exit(0)s on; waitpid(2)
//   Python <m>              ctx = multiprocessing.get_context(m); p = ctx.Process(target=f);
//                           p.start(); p.join()
// Goals, as times: concur fork <= 1.3x raw fork's time (a rate ratio >= 0.769x), concur spawn
// <= 1.5x posix_spawn's time (>= 0.667x); each concur method >= 10x Python's same method.
//
// queue: mp::Queue<int>, this process puts n ints (i & 1023) and a -1, a forked child (the queue
// crosses by copy) gets until the -1 and reports count and sum through a pipe; timed from the
// first put to that report; count and sum checked.
//   concur Queue            mp::Queue<int> q; q.put(x); / q.get();
//   Python Queue            multiprocessing.Queue(), the same protocol (None ends it)
// Goal: >= 20x Python.
//
// Parts of concur not merged yet are compiled only once their headers exist (and their goals
// reported "not measured" until then, the peers' rates printed alone): Process
// (concur/multiprocessing/process.hpp, with context.hpp when it is separate; branch `process`)
// and Queue (concur/multiprocessing/queues.hpp). Nothing to switch on: once a header is in
// include/, rebuilding mp_bench measures it. The raw and Python peers are measured either way.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/harness.hpp"
#include "concur/errors.hpp"
#include "concur/multiprocessing.hpp"

#if __has_include("concur/multiprocessing/process.hpp")
#include "concur/multiprocessing/process.hpp"
#if __has_include("concur/multiprocessing/context.hpp")
#include "concur/multiprocessing/context.hpp"  // mp::Context, mp::get_context
#endif
#define CONCUR_BENCH_HAVE_MP_PROCESS 1
#endif
#if __has_include("concur/multiprocessing/queues.hpp")
#include "concur/multiprocessing/queues.hpp"
#define CONCUR_BENCH_HAVE_MP_QUEUE 1
#endif

extern char** environ;

namespace mp = concur::multiprocessing;
using namespace concur_bench;  // the harness: Workload, check, opts, ...

namespace {

constexpr const char* kExitFlag = "--mp-bench-exit";  // posix_spawn's child: _exit(0) at once
constexpr unsigned kWatchdogSeconds = 30;             // a sample that takes longer fails
constexpr std::size_t kMiB = std::size_t{1} << 20;
constexpr double kPipeRawGoal = 0.8;     // Pipe vs raw descriptors
constexpr double kPipePythonGoal = 10;   // Pipe ping-pong vs Python
constexpr double kForkGoal = 1 / 1.3;    // concur fork start+join <= 1.3x raw fork's time
constexpr double kSpawnGoal = 1 / 1.5;   // concur spawn start+join <= 1.5x posix_spawn's time
constexpr double kProcessPythonGoal = 10;
constexpr double kQueuePythonGoal = 20;

bool child_failed = false;  // some helper failed: the binary exits with status 1

[[noreturn]] void child_failure(const std::string& what) {
  child_failed = true;
  throw std::runtime_error(what);
}

// A Python row whose sample fails (its helper process died, hung or answered wrong) fails the
// bench too, as a C++ helper does.
void add_python(Workload& w, std::string name, std::string py_workload) {
  if (!python.ok()) return;
  w.add(std::move(name), [py_workload](std::int64_t& n) {
    try {
      return python.run(py_workload, n);
    } catch (...) {
      child_failed = true;
      throw;
    }
  });
}

// ------------------------------------------------------------------------------------------------
// Helpers: children, the watchdog, raw reads and writes
// ------------------------------------------------------------------------------------------------

// The child the watchdog kills when the sample's time is up (0: none).
volatile sig_atomic_t watched_pid = 0;

extern "C" void on_alarm(int) {
  const pid_t pid = watched_pid;
  if (pid > 0) ::kill(pid, SIGKILL);
}

void install_watchdog() {
  struct sigaction sa {};
  sa.sa_handler = on_alarm;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // the interrupted read resumes and then sees the end of the stream
  sigaction(SIGALRM, &sa, nullptr);
}

// Arms the watchdog for one sample: after kWatchdogSeconds the watched child is killed.
class Watchdog {
 public:
  explicit Watchdog(pid_t pid = 0) {
    watched_pid = pid;
    ::alarm(kWatchdogSeconds);
  }
  void watch(pid_t pid) { watched_pid = pid; }
  ~Watchdog() {
    ::alarm(0);
    watched_pid = 0;
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
};

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// Waits for pid at most `seconds` (then SIGKILLs it); a child that did not exit with status 0
// fails the sample.
void reap(pid_t pid, const char* who, double seconds = 10) {
  int status = 0;
  const auto t0 = Clock::now();
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) child_failure(std::string(who) + ": waitpid failed");
    if (seconds_since(t0) > seconds) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      child_failure(std::string(who) + " did not exit in time (killed)");
    }
    const timespec ms{0, 200'000};
    ::nanosleep(&ms, nullptr);
  }
  if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
    child_failure(std::string(who) + " failed: " + describe_status(status));
}

// Forks a helper that runs body() and _exits with its result (3 when it throws); the helper dies
// with this process.
template <class Body>
pid_t fork_helper(Body body) {
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) child_failure("fork() failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(4);
    int code = 3;
    try {
      code = body();
    } catch (...) {
    }
    ::_exit(code);
  }
  return pid;
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Writes all `size` bytes; false when the peer is gone.
bool write_full(int fd, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// Reads exactly `size` bytes; false at the end of the stream (or an error) before that.
bool read_full(int fd, void* data, std::size_t size) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::read(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

struct Report {
  std::int64_t count = 0, sum = 0;
};

// The helper's report (count, sum) through a pipe; a helper that died before writing it fails
// the sample.
Report read_report(int fd, const char* who) {
  Report r;
  if (!read_full(fd, &r, sizeof r)) child_failure(std::string(who) + " sent no report (it died)");
  return r;
}

// Two pipe(2)s or one socketpair(2), as (parent's read, parent's write, child's read, child's
// write) descriptors.
struct RawChannel {
  int pr = -1, pw = -1, cr = -1, cw = -1;
  explicit RawChannel(bool socket) {
    if (socket) {
      int sv[2];
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        throw std::runtime_error("socketpair failed");
      pr = sv[0];
      pw = ::dup(sv[0]);
      cr = sv[1];
      cw = ::dup(sv[1]);
    } else {
      int down[2], up[2];
      if (::pipe2(down, O_CLOEXEC) != 0 || ::pipe2(up, O_CLOEXEC) != 0)
        throw std::runtime_error("pipe failed");
      pr = up[0];
      cw = up[1];
      cr = down[0];
      pw = down[1];
    }
  }
  void close_parent() {
    close_fd(pr);
    close_fd(pw);
  }
  void close_child() {
    close_fd(cr);
    close_fd(cw);
  }
  ~RawChannel() {
    close_parent();
    close_child();
  }
};

// ------------------------------------------------------------------------------------------------
// pingpong
// ------------------------------------------------------------------------------------------------

// One round trip of an int over Connections: `out` to the child, `in` back.
double pingpong_concur(std::int64_t& n, bool duplex) {
  mp::Connection p_in, p_out, c_in, c_out;
  if (duplex) {
    auto [a, b] = mp::Pipe();
    p_in = p_out = a;
    c_in = c_out = b;
  } else {
    auto [down_r, down_w] = mp::Pipe(false);
    auto [up_r, up_w] = mp::Pipe(false);
    p_out = down_w;
    c_in = down_r;
    c_out = up_w;
    p_in = up_r;
  }
  const pid_t pid = fork_helper([&] {
    p_in.close();
    p_out.close();
    try {
      for (;;) c_out.send(c_in.recv<int>());
    } catch (const concur::EOFError&) {
      return 0;
    }
  });
  c_in.close();
  c_out.close();
  double t = 0;
  std::string error;
  {
    Watchdog dog(pid);
    try {
      const auto t0 = Clock::now();
      for (std::int64_t i = 0; i < n; ++i) {
        if ((i & 255) == 255 && over_cap(t0)) {
          n = i;  // cut the sample here: i done, this one not
          break;
        }
        p_out.send(static_cast<int>(i));
        if (p_in.recv<int>() != static_cast<int>(i)) error = "wrong result: the echo differs";
      }
      t = seconds_since(t0);
    } catch (const std::exception& e) {
      error = std::string("the echoing child failed: ") + e.what();
    }
  }
  p_in.close();
  p_out.close();
  reap(pid, "the echoing child");
  if (!error.empty()) child_failure(error);
  return t;
}

// The same bytes over raw descriptors: a 4-byte big-endian length (4) and the int.
double pingpong_raw(std::int64_t& n, bool socket) {
  RawChannel ch(socket);
  const pid_t pid = fork_helper([&] {
    ch.close_parent();
    unsigned char frame[8];
    while (read_full(ch.cr, frame, sizeof frame))
      if (!write_full(ch.cw, frame, sizeof frame)) return 2;
    return 0;
  });
  ch.close_child();
  double t = 0;
  std::string error;
  {
    Watchdog dog(pid);
    const auto t0 = Clock::now();
    unsigned char frame[8] = {0, 0, 0, 4, 0, 0, 0, 0};
    for (std::int64_t i = 0; i < n; ++i) {
      if ((i & 255) == 255 && over_cap(t0)) {
        n = i;  // cut the sample here: i done, this one not
        break;
      }
      const int v = static_cast<int>(i);
      std::memcpy(frame + 4, &v, 4);
      if (!write_full(ch.pw, frame, sizeof frame) || !read_full(ch.pr, frame, sizeof frame)) {
        error = "the echoing child died";
        break;
      }
      int back;
      std::memcpy(&back, frame + 4, 4);
      if (back != v) error = "wrong result: the echo differs";
    }
    t = seconds_since(t0);
  }
  ch.close_parent();
  reap(pid, "the echoing child");
  if (!error.empty()) child_failure(error);
  return t;
}

Workload make_pingpong() {
  Workload w("pingpong", "pipe ping-pong", "round trips of an int between two processes", 1000);
  w.add("concur Pipe()", [](std::int64_t& n) { return pingpong_concur(n, true); });
  w.add("concur Pipe(false) x2", [](std::int64_t& n) { return pingpong_concur(n, false); });
  w.add("raw pipe pair", [](std::int64_t& n) { return pingpong_raw(n, false); });
  w.add("raw socketpair", [](std::int64_t& n) { return pingpong_raw(n, true); });
  add_python(w, "Python Pipe()", "pingpong");
  w.compare("concur Pipe()", "raw pipe pair", kPipeRawGoal);
  w.compare("concur Pipe()", "Python Pipe()", kPipePythonGoal);
  w.compare("concur Pipe()", "raw socketpair");
  w.compare("concur Pipe(false) x2", "raw pipe pair");
  return w;
}

// ------------------------------------------------------------------------------------------------
// bandwidth
// ------------------------------------------------------------------------------------------------
enum class Receive { into, bytes };

double bandwidth_concur(std::int64_t& n, bool duplex, Receive how) {
  auto [a, b] = duplex ? mp::Pipe() : [] {
    auto [r, w] = mp::Pipe(false);
    return std::pair{w, r};  // a sends, b receives
  }();
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = fork_helper([&, a = a, b = b]() mutable {
    a.close();
    ::close(report[0]);
    Report r;
    std::vector<std::byte> buffer(kMiB);
    try {
      for (;;) {
        if (how == Receive::into) {
          r.sum += static_cast<std::int64_t>(b.recv_bytes_into(buffer));
        } else {
          r.sum += static_cast<std::int64_t>(b.recv_bytes().size());
        }
        ++r.count;
      }
    } catch (const concur::EOFError&) {
    }
    return write_full(report[1], &r, sizeof r) ? 0 : 2;
  });
  b.close();
  ::close(report[1]);
  const std::vector<std::byte> message(kMiB, std::byte{1});
  double t = 0;
  std::string error;
  Report got;
  {
    Watchdog dog(pid);
    const auto t0 = Clock::now();
    try {
      for (std::int64_t i = 0; i < n; ++i) {
        if ((i & 15) == 15 && over_cap(t0)) {
          n = i;  // the i messages sent so far: this one is not
          break;
        }
        a.send_bytes(message);
      }
      a.close();
      got = read_report(report[0], "the receiving child");
      t = seconds_since(t0);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  a.close();
  ::close(report[0]);
  reap(pid, "the receiving child");
  if (!error.empty()) child_failure(error);
  if (got.count != n || got.sum != n * static_cast<std::int64_t>(kMiB))
    child_failure("wrong result: messages or bytes lost");
  return t;
}

double bandwidth_raw(std::int64_t& n, bool socket) {
  RawChannel ch(socket);
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = fork_helper([&] {
    ch.close_parent();
    ::close(report[0]);
    Report r;
    std::vector<char> buffer(kMiB);
    while (read_full(ch.cr, buffer.data(), kMiB)) {
      ++r.count;
      r.sum += static_cast<std::int64_t>(kMiB);
    }
    return write_full(report[1], &r, sizeof r) ? 0 : 2;
  });
  ch.close_child();
  ::close(report[1]);
  const std::vector<char> message(kMiB, 1);
  double t = 0;
  std::string error;
  Report got;
  {
    Watchdog dog(pid);
    const auto t0 = Clock::now();
    try {
      for (std::int64_t i = 0; i < n; ++i) {
        if ((i & 15) == 15 && over_cap(t0)) {
          n = i;  // the i messages sent so far: this one is not
          break;
        }
        if (!write_full(ch.pw, message.data(), kMiB)) child_failure("the receiving child died");
      }
      ch.close_parent();
      got = read_report(report[0], "the receiving child");
      t = seconds_since(t0);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  ch.close_parent();
  ::close(report[0]);
  reap(pid, "the receiving child");
  if (!error.empty()) child_failure(error);
  if (got.count != n || got.sum != n * static_cast<std::int64_t>(kMiB))
    child_failure("wrong result: messages or bytes lost");
  return t;
}

Workload make_bandwidth() {
  Workload w("bandwidth", "pipe 1 MiB", "1 MiB messages from one process to another; x 1 MiB = MiB/s",
             4);
  w.add("concur Pipe() into",
        [](std::int64_t& n) { return bandwidth_concur(n, true, Receive::into); });
  w.add("concur Pipe() bytes",
        [](std::int64_t& n) { return bandwidth_concur(n, true, Receive::bytes); });
  w.add("concur Pipe(false) into",
        [](std::int64_t& n) { return bandwidth_concur(n, false, Receive::into); });
  w.add("raw socketpair", [](std::int64_t& n) { return bandwidth_raw(n, true); });
  w.add("raw pipe", [](std::int64_t& n) { return bandwidth_raw(n, false); });
  add_python(w, "Python Pipe()", "bandwidth");
  w.compare("concur Pipe() into", "raw socketpair", kPipeRawGoal);
  w.compare("concur Pipe() bytes", "raw socketpair");
  w.compare("concur Pipe(false) into", "raw pipe");
  w.compare("concur Pipe() into", "raw pipe");
  w.compare("concur Pipe() into", "Python Pipe()");
  return w;
}

// ------------------------------------------------------------------------------------------------
// process start + join
// ------------------------------------------------------------------------------------------------
std::string self_exe() {
  char buf[4096];
  const ssize_t len = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (len <= 0) throw std::runtime_error("readlink /proc/self/exe failed");
  return std::string(buf, static_cast<std::size_t>(len));
}

void wait_child(pid_t pid, const char* who) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) child_failure(std::string(who) + ": waitpid failed");
  if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
    child_failure(std::string(who) + " failed: " + describe_status(status));
}

double start_raw_fork(std::int64_t& n) {
  Watchdog dog;
  const auto t0 = Clock::now();
  for (std::int64_t i = 0; i < n; ++i) {
    if (over_cap(t0)) {
      n = i;  // cut the sample here: i done, this one not
      break;
    }
    const pid_t pid = ::fork();
    if (pid < 0) child_failure("fork() failed");
    if (pid == 0) ::_exit(0);
    dog.watch(pid);
    wait_child(pid, "the forked child");
  }
  return seconds_since(t0);
}

double start_raw_posix_spawn(std::int64_t& n) {
  static const std::string exe = self_exe();
  char* argv[] = {const_cast<char*>(exe.c_str()), const_cast<char*>(kExitFlag), nullptr};
  Watchdog dog;
  const auto t0 = Clock::now();
  for (std::int64_t i = 0; i < n; ++i) {
    if (over_cap(t0)) {
      n = i;  // cut the sample here: i done, this one not
      break;
    }
    pid_t pid = 0;
    const int err = ::posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv, environ);
    if (err != 0) child_failure(std::string("posix_spawn failed: ") + std::strerror(err));
    dog.watch(pid);
    wait_child(pid, "the posix_spawn child");
  }
  return seconds_since(t0);
}

#ifdef CONCUR_BENCH_HAVE_MP_PROCESS
// The target of every concur child: a plain function (spawn and forkserver need one).
void nothing() {}

double start_concur(std::int64_t& n, const char* method) {
  mp::Context ctx = mp::get_context(method);
  Watchdog dog;
  const auto t0 = Clock::now();
  for (std::int64_t i = 0; i < n; ++i) {
    if (over_cap(t0)) {
      n = i;  // cut the sample here: i done, this one not
      break;
    }
    auto p = ctx.Process(nothing);
    p.start();
    if (const auto pid = p.pid()) dog.watch(static_cast<pid_t>(*pid));
    p.join();
    const auto code = p.exitcode();
    if (!code || *code != 0)
      child_failure(std::string("the ") + method + " child failed: exitcode " +
                    (code ? std::to_string(*code) : std::string("none")));
  }
  return seconds_since(t0);
}
#endif

Workload make_start(const char* method) {
  const std::string m = method;
  Workload w("start-" + m, "start+join " + m,
             std::string("processes started and joined, one at a time") +
#ifdef CONCUR_BENCH_HAVE_MP_PROCESS
                 "",
#else
                 "; concur's rows need concur/multiprocessing/process.hpp, not in this build",
#endif
             1);
  const std::string concur_name = "concur " + m;
#ifdef CONCUR_BENCH_HAVE_MP_PROCESS
  w.add(concur_name, [method](std::int64_t& n) { return start_concur(n, method); });
#endif
  add_python(w, "Python " + m, "start-" + m);
  if (m == "fork") {
    w.add("raw fork+waitpid", start_raw_fork);
    w.compare(concur_name, "raw fork+waitpid", kForkGoal);
  } else if (m == "spawn") {
    w.add("raw posix_spawn", start_raw_posix_spawn);
    w.compare(concur_name, "raw posix_spawn", kSpawnGoal);
  } else {
    // forkserver has no raw peer of its own; both are printed for information.
    w.add("raw fork+waitpid", start_raw_fork);
    w.add("raw posix_spawn", start_raw_posix_spawn);
    w.compare(concur_name, "raw fork+waitpid");
    w.compare(concur_name, "raw posix_spawn");
  }
  w.compare(concur_name, "Python " + m, kProcessPythonGoal);
  return w;
}

Workload make_start_fork() { return make_start("fork"); }
Workload make_start_spawn() { return make_start("spawn"); }
Workload make_start_forkserver() { return make_start("forkserver"); }

// ------------------------------------------------------------------------------------------------
// queue
// ------------------------------------------------------------------------------------------------
#ifdef CONCUR_BENCH_HAVE_MP_QUEUE
// The sum of (i & 1023) for i in [0, n).
std::int64_t expected_sum(std::int64_t n) {
  const std::int64_t full = n / 1024, rest = n % 1024;
  return full * (1023 * 1024 / 2) + rest * (rest - 1) / 2;
}

double queue_concur(std::int64_t& n) {
  n = std::min<std::int64_t>(n, INT_MAX);
  mp::Queue<int> q;
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = fork_helper([&] {
    ::close(report[0]);
    Report r;
    for (;;) {
      const int x = q.get();
      if (x < 0) break;
      ++r.count;
      r.sum += x;
    }
    return write_full(report[1], &r, sizeof r) ? 0 : 2;
  });
  ::close(report[1]);
  double t = 0;
  std::string error;
  Report got;
  {
    Watchdog dog(pid);
    const auto t0 = Clock::now();
    try {
      for (std::int64_t i = 0; i < n; ++i) {
        if ((i & 255) == 255 && over_cap(t0)) {
          n = i;  // cut the sample here: i done, this one not
          break;
        }
        q.put(static_cast<int>(i & 1023));
      }
      q.put(-1);
      got = read_report(report[0], "the consuming child");
      t = seconds_since(t0);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  ::close(report[0]);
  reap(pid, "the consuming child");
  if (!error.empty()) child_failure(error);
  if (got.count != n || got.sum != expected_sum(n))
    child_failure("wrong result: items lost, repeated or altered");
  return t;
}
#endif

Workload make_queue() {
  Workload w("queue", "mp queue 1P1C",
             std::string("ints from one process to another") +
#ifdef CONCUR_BENCH_HAVE_MP_QUEUE
                 "",
#else
                 "; concur's row needs concur/multiprocessing/queues.hpp, not in this build",
#endif
             1000);
#ifdef CONCUR_BENCH_HAVE_MP_QUEUE
  w.add("concur Queue", queue_concur);
#endif
  add_python(w, "Python Queue", "queue");
  w.compare("concur Queue", "Python Queue", kQueuePythonGoal);
  return w;
}

}  // namespace

int main(int argc, char** argv) {
  // posix_spawn's child (the raw peer of "spawn"): exit before anything else runs.
  if (argc == 2 && std::strcmp(argv[1], kExitFlag) == 0) ::_exit(0);
#ifdef CONCUR_BENCH_HAVE_MP_PROCESS
  mp::main_guard(argc, argv);  // a spawn or forkserver child runs its target here and exits
#endif
  install_watchdog();
  const int rc = run_main(argc, argv, "mp",
                          {make_pingpong, make_bandwidth, make_start_fork, make_start_spawn,
                           make_start_forkserver, make_queue});
  if (child_failed) {
    std::fprintf(stderr, "mp_bench: a helper process failed (see the rows left out above)\n");
    return 1;
  }
  return rc;
}
