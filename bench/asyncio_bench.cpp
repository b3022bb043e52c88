// asyncio_bench — concur::asyncio against Python's asyncio (through the harness's co-process,
// bench/python/asyncio_bench.py), uvloop and standalone Asio 1.22, all measured in this one run
// (see shared/PERFORMANCE.md). The harness is bench/common/harness.hpp.
//
//   asyncio_bench [--rounds N] [--sample-ms MS] [--only a,b,...] [--python SCRIPT]
//                 [--python-exe EXE] [--no-python] [--verbose]
// workloads: churn, timeouts, pingpong (ratios), echo (requests/s and latencies)
//
// churn: 1,000,000 tasks created and gathered, one batch per sample (a Python batch takes
// seconds: the samples are fixed-size, min(rounds, 3) per variant, interleaved A B C, C B A, ...,
// after one untimed warm-up batch of each C++ variant).
//   concur        inside aio::run(): std::vector<aio::Task<int>> of kChurnBatch
//                 aio::create_task(value(i)) (value: co_return i), then
//                 co_await aio::gather(std::move(tasks)); the sum of the results is checked
//   Asio co_spawn asio::co_spawn(ctx, value(i), handler) kChurnBatch times (value: an
//                 asio::awaitable<int>, the handler stores the result in a vector), then
//                 ctx.run() (Asio 1.22 has no gather over a range); the sum is checked
//   Python        asyncio.run(): [create_task(value(i)) ...], then await gather(*tasks)
// Goals: concur >= 50x Python asyncio, >= 1.0x Asio.
// Before it, 32,768 tasks are gathered and the same awaited one by one: if gather takes over
// 5x as long, a million would take hours, and concur's churn is left
// out with those figures. A fixed-size variant gets no more samples once its samples took 20 s
// (Python's million tasks take seconds, tens of seconds on a busy machine): fewer pairs then.
//
// timeouts: 100,000 concurrent aio::wait_for()s gathered, fixed-size samples as churn: task i
// does wait_for(work(d), timeout), 9 in 10 with d = 0 (work yields once, sleep(0s), and returns
// 1) and a 10 s timeout, so they finish long before it; every tenth with d = 3600 s and a 1 ms
// timeout, so it times out (TimeoutError caught, 0 returned); the results are checked. No time is
// spent idle: every expiry is due by the time the loop looks at its timers. Python: the same with
// asyncio.wait_for. Goal: concur >= 20x Python asyncio.
//
// pingpong: a loop runs run_forever() in a thread; the main thread, n times,
// loop.call_soon_threadsafe(put i on a queue), then takes i from the queue (concur:
// cq::SimpleQueue<std::int64_t>, Python: queue.SimpleQueue), the value checked. Goal: concur
// >= 20x Python asyncio.
//
// echo: a TCP echo server on 127.0.0.1, lines of 64 B and 1 KiB (the newline included), over 1
// and 100 connections. One load client for every server (this binary, an epoll loop in one
// thread): each connection sends a line, waits for all of it to come back (checked), sends the
// next; requests/s and the latency of each request (p50, p99) over a 0.3 s window after 0.05 s
// of warm-up, 3 windows per server, interleaved. Every server runs in a child process of its own
// (forked, or python3), pinned to CPU 0, and the client to CPU 1 (sched_setaffinity, as taskset
// does), so client and server never share a CPU; CONCUR_BENCH_ECHO_PIN=0 leaves them unpinned
// (steadier ratios pinned, in trials, but on a machine whose CPUs other processes keep busy every
// pinned server waits for its CPU alike: read the figures beside the load printed).
//   concur streams   aio::start_server, co_await reader.readline(), writer.write(line),
//                    co_await writer.drain() (built when concur/asyncio/streams.hpp exists)
//   Asio awaitable   async_read_until(dynamic_buffer, '\n') + async_write, C++20 awaitables, one
//                    io_context in one thread (asyncio_asio.cpp)
//   uvloop           the Python server below on uvloop.new_event_loop() (python3-uvloop; if the
//                    python3 on PATH lacks it, /usr/bin/python3, Debian's, is tried)
//   asyncio streams  asyncio.start_server, await reader.readline(), writer.write(line),
//                    await writer.drain()
// Goals: concur >= 1.0x Asio, >= 5x uvloop (requests/s), each configuration.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "asyncio_bench.hpp"
#include "common/harness.hpp"
#include "concur/asyncio.hpp"
#include "concur/queue.hpp"
#include "concur/threading.hpp"

namespace aio = concur::asyncio;
namespace cq = concur::queue;
namespace th = concur::threading;
using namespace concur_bench;  // the harness: Workload, check, opts, ...
using namespace asyncio_bench;
using namespace std::chrono_literals;

namespace {

constexpr std::int64_t kStorm = 100'000;  // STORM in python/asyncio_bench.py
const char* const kConcur = "concur asyncio";
const char* const kAsio = "Asio co_spawn";
const char* const kPython = "Python asyncio";

// Options of this binary that run_main() also parses: where the Python script and interpreter
// are (the echo workload starts Python servers of its own).
std::string py_script = std::string(CONCUR_BENCH_PYTHON_DIR) + "/asyncio_bench.py";
std::string py_exe = "python3";
bool use_python = true;

// ------------------------------------------------------------------------------------------------
// Reporting: fixed-size samples and figures the harness's rate workloads do not cover, printed
// and summarized as the harness prints its comparisons.
// ------------------------------------------------------------------------------------------------
void compare_rates(const std::string& title, const std::string& cname,
                   const std::vector<double>& crates, const std::string& pname,
                   const std::vector<double>& prates, double goal) {
  std::vector<double> ratios;
  for (std::size_t i = 0; i < std::min(crates.size(), prates.size()); ++i)
    ratios.push_back(crates[i] / prates[i]);
  if (ratios.empty()) {
    if (goal > 0) {
      ++goals_not_measured;
      std::printf("%-17s %s vs %s: goal %s not measured (%s missing)\n", title.c_str(),
                  cname.c_str(), pname.c_str(), fmt_ratio(goal).c_str(),
                  crates.empty() ? cname.c_str() : pname.c_str());
    }
    return;
  }
  Comparison cmp{title,
                 cname,
                 pname,
                 median(crates),
                 median(prates),
                 median(ratios),
                 *std::min_element(ratios.begin(), ratios.end()),
                 *std::max_element(ratios.begin(), ratios.end()),
                 static_cast<int>(ratios.size()),
                 goal};
  std::printf("%-17s %s %s | %s %s | ratio %s (median of %d pairs, range %s-%s)%s\n",
              title.c_str(), cmp.concur.c_str(), fmt_rate(cmp.concur_rate).c_str(),
              cmp.peer.c_str(), fmt_rate(cmp.peer_rate).c_str(), fmt_ratio(cmp.ratio).c_str(),
              cmp.pairs, fmt_ratio(cmp.lo).c_str(), fmt_ratio(cmp.hi).c_str(),
              goal_note(cmp).c_str());
  all_comparisons.push_back(cmp);
}

// A fixed-size variant: run() does `ops` operations and returns the seconds they took.
struct Fixed {
  Fixed(std::string n, std::function<double()> f, bool warm = true)
      : name(std::move(n)), run(std::move(f)), warm_up(warm) {}
  std::string name;
  std::function<double()> run;
  bool warm_up = true;  // one untimed run first (the Python ones take seconds: not them)
  double spent_s = 0;   // in timed runs so far: no further run once over kFixedBudget
  std::vector<double> rates;
  std::string error;
};
// A fixed-size variant gets no more runs once its runs took this long (Python's million tasks
// take 3-5 s on a quiet machine, 30 s on a busy one): fewer pairs rather than minutes.
constexpr double kFixedBudget = 20;

struct FixedPair {
  std::string concur, peer;
  double goal;
};

void run_fixed(const std::string& title, double ops, std::vector<Fixed> variants,
               const std::vector<FixedPair>& pairs) {
  for (Fixed& v : variants) {
    if (!v.warm_up) continue;
    try {
      running = title + ": " + v.name;
      v.run();
    } catch (const std::exception& e) {
      v.error = e.what();
    }
  }
  const int reps = std::min(opts.rounds, 3);
  for (int r = 0; r < reps; ++r) {
    std::vector<Fixed*> order;
    for (Fixed& v : variants) order.push_back(&v);
    if (r % 2) std::reverse(order.begin(), order.end());
    for (Fixed* v : order) {
      if (!v->error.empty() || v->spent_s > kFixedBudget) continue;
      running = title + ": " + v->name;
      try {
        const double t = v->run();
        v->spent_s += t;
        v->rates.push_back(ops / t);
      } catch (const std::exception& e) {
        v->error = e.what();
      }
    }
  }
  running.clear();
  if (opts.verbose)
    for (Fixed& v : variants) {
      std::printf("%-17s   %-26s", "", v.name.c_str());
      for (double x : v.rates) std::printf(" %10s", fmt_rate(x).c_str());
      std::printf("\n");
    }
  auto find = [&variants](const std::string& name) -> const Fixed* {
    for (const Fixed& v : variants)
      if (v.name == name) return &v;
    return nullptr;
  };
  for (const Fixed& v : variants)
    if (!v.error.empty())
      std::printf("%-17s %s: left out (%s)\n", title.c_str(), v.name.c_str(), v.error.c_str());
  static const std::vector<double> none;
  std::vector<std::string> compared;
  for (const FixedPair& p : pairs) {
    const Fixed* c = find(p.concur);
    const Fixed* q = find(p.peer);
    const bool both = c && q && c->error.empty() && q->error.empty() && !c->rates.empty() &&
                      !q->rates.empty();
    compare_rates(title, p.concur, c && c->error.empty() ? c->rates : none, p.peer,
                  q && q->error.empty() ? q->rates : none, p.goal);
    if (both) compared.insert(compared.end(), {p.concur, p.peer});
  }
  // A variant in no printed comparison (its partner is missing): its rate alone.
  for (const Fixed& v : variants)
    if (v.error.empty() && !v.rates.empty() &&
        std::find(compared.begin(), compared.end(), v.name) == compared.end())
      std::printf("%-17s %s %s (no comparison in this build)\n", title.c_str(), v.name.c_str(),
                  fmt_rate(median(v.rates)).c_str());
}

// ------------------------------------------------------------------------------------------------
// churn
// ------------------------------------------------------------------------------------------------
aio::Task<int> value(int i) { co_return i; }

aio::Task<double> churn_main(std::int64_t batches) {
  long long total = 0;
  const auto t0 = Clock::now();
  for (std::int64_t b = 0; b < batches; ++b) {
    std::vector<aio::Task<int>> tasks;
    tasks.reserve(kChurnBatch);
    for (int i = 0; i < static_cast<int>(kChurnBatch); ++i)
      tasks.push_back(aio::create_task(value(i)));
    std::vector<int> results = co_await aio::gather(std::move(tasks));
    for (int v : results) total += v;
  }
  const double t = seconds_since(t0);
  check(total == batches * (kChurnBatch * (kChurnBatch - 1) / 2), "the sum of the results");
  co_return t;
}

// gather's cost per task must not grow with the number of tasks. Before the million, 32,768
// tasks finishing in order (churn's case) are gathered, and the same tasks awaited one by one
// (`co_await tasks[i]` in turn: the same frames, allocations and page faults, no gather): when
// gather takes more than 5x as long (a sound one takes about as long), 1,000,000 tasks would
// take hours, and concur's churn is left out with the figures instead of hanging the run.
aio::Task<double> gather_seconds(int n, bool use_gather) {
  const auto t0 = Clock::now();
  std::vector<aio::Task<int>> tasks;
  tasks.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) tasks.push_back(aio::create_task(value(i)));
  long long sum = 0;
  if (use_gather) {
    std::vector<int> results = co_await aio::gather(std::move(tasks));
    for (int v : results) sum += v;
  } else {
    for (aio::Task<int>& t : tasks) sum += co_await t;
  }
  check(sum == static_cast<long long>(n) * (n - 1) / 2, "the sum of the results");
  co_return seconds_since(t0);
}

std::string gather_not_linear() {
  constexpr int kProbe = 32768;
  double one_by_one = 1e9, gathered = 1e9;  // best of runs: noise only ever slows a run down
  for (int i = 0; i < 3; ++i) one_by_one = std::min(one_by_one, aio::run(gather_seconds(kProbe, false)));
  for (int i = 0; i < 3 && (i == 0 || gathered > 5 * one_by_one); ++i)
    gathered = std::min(gathered, aio::run(gather_seconds(kProbe, true)));
  if (gathered <= 5 * one_by_one) return "";
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "gather is not linear: 32,768 tasks gathered in %.1f ms, awaited one by one in "
                "%.1f ms (%.0fx); 1,000,000 would take hours",
                gathered * 1e3, one_by_one * 1e3, gathered / one_by_one);
  return buf;
}

Workload make_churn() {
  Workload w{"churn", "task churn",
             "tasks/s: 1,000,000 tasks created (create_task / co_spawn) and gathered", 0};
  w.report = [] {
    std::vector<Fixed> v;
    const std::string not_linear = gather_not_linear();
    if (not_linear.empty())
      v.push_back(Fixed{kConcur, [] { return aio::run(churn_main(1)); }});
    else
      std::printf("%-17s %s: left out (%s)\n", "task churn", kConcur, not_linear.c_str());
#ifdef CONCUR_BENCH_HAVE_ASIO_STANDALONE
    v.push_back(Fixed{kAsio, [] { return asio_churn(1); }});
#endif
    if (python.ok())
      v.push_back(Fixed{kPython, [] { return python.run("churn", kChurnBatch); }, false});
    run_fixed("task churn", static_cast<double>(kChurnBatch), std::move(v),
              {{kConcur, kPython, 50}, {kConcur, kAsio, 1.0}});
  };
  return w;
}

// ------------------------------------------------------------------------------------------------
// timeouts
// ------------------------------------------------------------------------------------------------
aio::Task<int> work(std::chrono::duration<double> d) {
  co_await aio::sleep(d);
  co_return 1;
}

aio::Task<int> guarded(int i) {
  const bool late = i % 10 == 0;
  const std::chrono::duration<double> d = late ? 3600s : 0s;
  const std::chrono::duration<double> timeout = late ? 1ms : 10s;
  try {
    co_return co_await aio::wait_for(work(d), timeout);
  } catch (const concur::TimeoutError&) {
  }
  co_return 0;
}

aio::Task<double> timeouts_main(std::int64_t batches) {
  const auto t0 = Clock::now();
  for (std::int64_t b = 0; b < batches; ++b) {
    std::vector<aio::Task<int>> tasks;
    tasks.reserve(kStorm);
    for (int i = 0; i < static_cast<int>(kStorm); ++i) tasks.push_back(guarded(i));
    std::vector<int> results = co_await aio::gather(std::move(tasks));
    long long sum = 0;
    for (int r : results) sum += r;
    check(sum == kStorm - kStorm / 10, "nine in ten wait_fors in time, every tenth timed out");
  }
  co_return seconds_since(t0);
}

Workload make_timeouts() {
  Workload w{"timeouts", "timeout storm",
             "wait_fors/s: 100,000 concurrent wait_for()s gathered, 90% in time, 10% timing out",
             0};
  w.report = [] {
    std::vector<Fixed> v;
    v.push_back(Fixed{kConcur, [] { return aio::run(timeouts_main(1)); }});
    if (python.ok())
      v.push_back(Fixed{kPython, [] { return python.run("timeouts", kStorm); }, false});
    run_fixed("timeout storm", static_cast<double>(kStorm), std::move(v),
              {{kConcur, kPython, 20}});
  };
  return w;
}

// ------------------------------------------------------------------------------------------------
// call_soon_threadsafe ping-pong
// ------------------------------------------------------------------------------------------------
double concur_pingpong(std::int64_t& n) {
  aio::EventLoop loop;
  th::Event started;
  std::thread loop_thread([&loop, &started] {
    loop.call_soon([&started] { started.set(); });
    loop.run_forever();
  });
  started.wait();
  cq::SimpleQueue<std::int64_t> q;
  const auto t0 = Clock::now();
  bool ok = true;
  for (std::int64_t i = 0; i < n; ++i) {
    if ((i & 255) == 255 && over_cap(t0)) n = i;  // the machine slowed down: cut the sample
    if (i >= n) break;
    loop.call_soon_threadsafe([&q, i] { q.put(i); });
    ok = ok && q.get() == i;
  }
  const double t = seconds_since(t0);
  loop.call_soon_threadsafe([&loop] { loop.stop(); });
  loop_thread.join();
  loop.close();
  check(ok, "every answer is the value sent");
  return t;
}

Workload make_pingpong() {
  Workload w{"pingpong", "call_soon_threadsafe",
             "round trips/s: a thread's call_soon_threadsafe(put on a queue), then its get()",
             1000};
  w.add(kConcur, concur_pingpong);
  w.add_python(kPython, "pingpong");
  w.compare(kConcur, kPython, 20);
  return w;
}

// ------------------------------------------------------------------------------------------------
// echo: servers in child processes, one load client
// ------------------------------------------------------------------------------------------------
int ncpus() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

// CONCUR_BENCH_ECHO_PIN=0 leaves the echo client and servers wherever the scheduler puts them.
bool echo_pinned() {
  const char* e = std::getenv("CONCUR_BENCH_ECHO_PIN");
  return ncpus() >= 2 && !(e && std::strcmp(e, "0") == 0);
}

void pin_to(pid_t pid, int cpu) {
  if (!echo_pinned()) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(pid, sizeof set, &set);
}

struct Server {
  std::string name;     // e.g. "Asio awaitable"
  std::string detail;   // what the server said it is
  pid_t pid = -1;
  int stop_fd = -1;     // our end of its stdin: closing it stops the server
  int port = 0;
};

// Reads the server's first line within 30 s; "" on timeout or end of file.
std::string read_line(int fd) {
  std::string line;
  const auto t0 = Clock::now();
  while (seconds_since(t0) < 30) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    char c;
    const ssize_t r = ::read(fd, &c, 1);
    if (r <= 0) break;
    if (c == '\n') return line;
    line += c;
  }
  return line;
}

void stop_server(Server& s) {
  if (s.stop_fd >= 0) ::close(s.stop_fd);
  s.stop_fd = -1;
  if (s.pid <= 0) return;
  int status;
  for (int i = 0; i < 100; ++i) {  // 2 s to exit on its own
    if (waitpid(s.pid, &status, WNOHANG) == s.pid) {
      s.pid = -1;
      return;
    }
    usleep(20000);
  }
  kill(s.pid, SIGKILL);
  waitpid(s.pid, &status, 0);
  s.pid = -1;
}

// Starts a server in a child process: `body` (a C++ server) or the Python script with `kind`
// under `exe`. nullopt, with *why, when it did not come up.
std::optional<Server> start_server(const std::string& name, int (*body)(), const std::string& exe,
                                   const std::string& kind, std::string* why) {
  int to_child[2], from_child[2];
  if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0) {
    *why = "pipe failed";
    return std::nullopt;
  }
  std::fflush(stdout);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    *why = "fork failed";
    return std::nullopt;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);
    dup2(to_child[0], 0);
    dup2(from_child[1], 1);
    ::close_range(3, ~0u, 0);  // none of the benchmark's other descriptors (the co-process's pipes)
    pin_to(0, 0);
    if (body) {
      // Named after the server (at most 15 characters), so that `perf record -C 0` tells them apart.
      prctl(PR_SET_NAME, name.substr(0, 15).c_str());
      _exit(body());
    }
    execlp(exe.c_str(), exe.c_str(), py_script.c_str(), "--echo-server", kind.c_str(),
           static_cast<char*>(nullptr));
    std::printf("error cannot run %s\n", exe.c_str());
    std::fflush(stdout);
    _exit(127);
  }
  ::close(to_child[0]);
  ::close(from_child[1]);
  Server s;
  s.name = name;
  s.pid = pid;
  s.stop_fd = to_child[1];
  const std::string line = read_line(from_child[0]);
  ::close(from_child[0]);
  char desc[256] = "";
  if (std::sscanf(line.c_str(), "port %d %255[^\n]", &s.port, desc) < 1 || s.port <= 0) {
    *why = line.empty() ? "it did not start" : line;
    stop_server(s);
    return std::nullopt;
  }
  s.detail = desc;
  return s;
}

struct EchoSample {
  double rps = 0, p50_us = 0, p99_us = 0;
};

double percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  const std::size_t k = std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// The load client: `conns` connections to 127.0.0.1:port, each with one line of `len` bytes in
// flight at a time; requests completed within [warm-up end, window end) counted, each one's
// latency (send to the last byte back) kept.
EchoSample echo_client(int port, int conns, std::size_t len, double warm_s, double window_s) {
  std::string line(len, 'x');
  for (std::size_t i = 0; i + 1 < len; ++i) line[i] = static_cast<char>('a' + i % 26);
  line[len - 1] = '\n';
  struct Conn {
    int fd = -1;
    std::size_t got = 0;
    Clock::time_point sent;
    std::vector<char> buf;
  };
  std::vector<Conn> cs(static_cast<std::size_t>(conns));
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  auto cleanup = [&] {
    for (Conn& c : cs)
      if (c.fd >= 0) ::close(c.fd);
    ::close(ep);
  };
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  auto send_line = [&](Conn& c) {
    std::size_t off = 0;
    while (off < len) {
      const ssize_t w = ::write(c.fd, line.data() + off, len - off);
      if (w > 0) {
        off += static_cast<std::size_t>(w);
      } else if (w < 0 && errno == EAGAIN) {
        pollfd p{c.fd, POLLOUT, 0};
        poll(&p, 1, 1000);
      } else if (!(w < 0 && errno == EINTR)) {
        throw std::runtime_error(std::string("write: ") + std::strerror(errno));
      }
    }
  };
  try {
    for (int i = 0; i < conns; ++i) {
      Conn& c = cs[static_cast<std::size_t>(i)];
      c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      const int one = 1;
      setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (::connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
      fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK);
      c.buf.resize(len);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u32 = static_cast<std::uint32_t>(i);
      epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    }
    std::vector<double> lat;
    lat.reserve(1 << 20);
    std::int64_t done = 0;
    const auto t0 = Clock::now();
    const auto t_measure = t0 + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(warm_s));
    const auto t_end = t_measure + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(window_s));
    for (Conn& c : cs) {
      c.sent = Clock::now();
      send_line(c);
    }
    std::vector<epoll_event> evs(static_cast<std::size_t>(std::max(conns, 16)));
    for (;;) {
      const auto now0 = Clock::now();
      if (now0 >= t_end) break;
      const int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
      if (n < 0 && errno != EINTR) throw std::runtime_error("epoll_wait failed");
      for (int k = 0; k < n; ++k) {
        Conn& c = cs[evs[static_cast<std::size_t>(k)].data.u32];
        for (;;) {
          const ssize_t r = ::read(c.fd, c.buf.data() + c.got, len - c.got);
          if (r > 0) {
            c.got += static_cast<std::size_t>(r);
            if (c.got < len) continue;
            const auto now = Clock::now();
            if (std::memcmp(c.buf.data(), line.data(), len) != 0)
              throw std::runtime_error("wrong result: the echo differs from the line sent");
            if (now >= t_measure && now < t_end) {
              ++done;
              lat.push_back(std::chrono::duration<double, std::micro>(now - c.sent).count());
            }
            c.got = 0;
            c.sent = now;
            send_line(c);
            break;  // one request per connection in flight: nothing more to read now
          }
          if (r == 0) throw std::runtime_error("the server closed a connection");
          if (errno == EINTR) continue;
          if (errno == EAGAIN) break;
          throw std::runtime_error(std::string("read: ") + std::strerror(errno));
        }
      }
    }
    cleanup();
    EchoSample s;
    s.rps = static_cast<double>(done) / window_s;
    s.p50_us = percentile(lat, 0.50);
    s.p99_us = percentile(lat, 0.99);
    if (done == 0) throw std::runtime_error("no request completed");
    return s;
  } catch (...) {
    cleanup();
    throw;
  }
}

struct EchoVariant {
  std::string name;
  int (*body)() = nullptr;  // a C++ server, else the Python script with `kind`
  std::string kind;
  std::vector<std::string> exes;  // Python interpreters to try, in order
};

const char* const kConcurEcho = "concur streams";
const char* const kAsioEcho = "Asio awaitable";
const char* const kUvloop = "uvloop";
const char* const kAsyncioEcho = "asyncio streams";

void report_echo() {
  std::vector<EchoVariant> variants;
  if (concur_echo_available()) variants.push_back({kConcurEcho, concur_echo_server, "", {}});
#ifdef CONCUR_BENCH_HAVE_ASIO_STANDALONE
  variants.push_back({kAsioEcho, asio_echo_server, "", {}});
#endif
  if (use_python) {
    std::vector<std::string> exes{py_exe};
    if (py_exe != "/usr/bin/python3" && access("/usr/bin/python3", X_OK) == 0)
      exes.push_back("/usr/bin/python3");  // Debian's, with python3-uvloop, if PATH's lacks it
    variants.push_back({kUvloop, nullptr, "uvloop", exes});
    variants.push_back({kAsyncioEcho, nullptr, "asyncio", {py_exe}});
  }
  const char* const title = "echo";
  std::vector<Server> servers;
  for (const EchoVariant& v : variants) {
    std::string why;
    std::optional<Server> s;
    if (v.body) {
      s = start_server(v.name, v.body, "", "", &why);
    } else {
      for (const std::string& exe : v.exes)
        if ((s = start_server(v.name, nullptr, exe, v.kind, &why))) break;
    }
    if (s) servers.push_back(std::move(*s));
    else std::printf("%-17s %s: left out (%s)\n", title, v.name.c_str(), why.c_str());
  }
  if (!concur_echo_available())
    std::printf("%-17s %s: not in this build (concur/asyncio/streams.hpp not in the tree yet)\n",
                title, kConcurEcho);
  std::string list;
  for (const Server& s : servers)
    list += (list.empty() ? "" : ", ") + s.name + " = " + s.detail;
  std::printf("%-17s servers: %s\n", title, list.c_str());
  std::fflush(stdout);

  // The client on CPU 1, the servers on CPU 0.
  cpu_set_t saved;
  sched_getaffinity(0, sizeof saved, &saved);
  pin_to(0, 1);
  const int reps = std::min(opts.rounds, 3);
  const double warm_s = 0.05, window_s = 0.3;
  for (std::size_t len : {std::size_t{64}, std::size_t{1024}}) {
    for (int conns : {1, 100}) {
      char cfg[64];
      std::snprintf(cfg, sizeof cfg, "echo %s x%d", len == 64 ? "64B" : "1KiB", conns);
      std::vector<std::vector<EchoSample>> samples(servers.size());
      std::vector<std::string> errors(servers.size());
      for (int r = 0; r < reps; ++r) {
        std::vector<std::size_t> order;
        for (std::size_t i = 0; i < servers.size(); ++i) order.push_back(i);
        if (r % 2) std::reverse(order.begin(), order.end());
        for (std::size_t i : order) {
          if (!errors[i].empty()) continue;
          running = std::string(cfg) + ": " + servers[i].name;
          try {
            samples[i].push_back(echo_client(servers[i].port, conns, len, warm_s, window_s));
          } catch (const std::exception& e) {
            errors[i] = e.what();
          }
        }
      }
      running.clear();
      std::vector<std::vector<double>> rps(servers.size());
      for (std::size_t i = 0; i < servers.size(); ++i) {
        if (!errors[i].empty()) {
          std::printf("%-17s %s: left out (%s)\n", cfg, servers[i].name.c_str(), errors[i].c_str());
          continue;
        }
        std::vector<double> p50, p99;
        for (const EchoSample& s : samples[i]) {
          rps[i].push_back(s.rps);
          p50.push_back(s.p50_us);
          p99.push_back(s.p99_us);
        }
        std::printf("%-17s %-16s %12s  p50 %7.1f us  p99 %7.1f us\n", cfg,
                    servers[i].name.c_str(), fmt_rate(median(rps[i])).c_str(), median(p50),
                    median(p99));
      }
      auto rates_of = [&](const char* name) -> std::vector<double> {
        for (std::size_t i = 0; i < servers.size(); ++i)
          if (servers[i].name == name && errors[i].empty()) return rps[i];
        return {};
      };
      compare_rates(cfg, kConcurEcho, rates_of(kConcurEcho), kAsioEcho, rates_of(kAsioEcho), 1.0);
      compare_rates(cfg, kConcurEcho, rates_of(kConcurEcho), kUvloop, rates_of(kUvloop), 5.0);
      compare_rates(cfg, kConcurEcho, rates_of(kConcurEcho), kAsyncioEcho,
                    rates_of(kAsyncioEcho), 0);
      std::fflush(stdout);
    }
  }
  sched_setaffinity(0, sizeof saved, &saved);
  for (Server& s : servers) stop_server(s);
}

Workload make_echo() {
  Workload w{"echo", "echo",
             echo_pinned() ? "TCP echo over loopback, requests/s and latency; each server pinned "
                             "to CPU 0, the client to CPU 1"
                           : "TCP echo over loopback, requests/s and latency; not pinned "
                             "(CONCUR_BENCH_ECHO_PIN=0)",
             0};
  w.report = report_echo;
  return w;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--python" && i + 1 < argc) py_script = argv[i + 1];
    else if (a == "--python-exe" && i + 1 < argc) py_exe = argv[i + 1];
    else if (a == "--no-python") use_python = false;
  }
#ifndef CONCUR_BENCH_HAVE_ASIO_STANDALONE
  std::printf("note: standalone Asio not found (libasio-dev): its peers are left out\n");
#endif
  return run_main(argc, argv, "asyncio", {make_churn, make_timeouts, make_pingpong, make_echo});
}
