// actors_bench — concur::actors (ac::Actor, one thread per actor, and ac::AsyncActor, coroutine
// actors on an ac::Scheduler's workers) against CAF 0.17, the C++ Actor Framework a C++ user
// would otherwise pick, and against the seed's Python Actor, all measured in this one process
// (Python through a co-process) so the ratios compare like with like on a noisy 2-vCPU machine
// (see shared/PERFORMANCE.md). The harness is bench/common/harness.hpp.
//
//   actors_bench [--rounds N] [--sample-ms MS] [--only a,b,...] [--python SCRIPT]
//                [--python-exe EXE] [--no-python] [--verbose]
// workloads: one-way (ratios), ping-pong (ratios), actors-100k (a report)
//
// Every actor system here has one worker per CPU: an ac::Scheduler(hardware_concurrency), and
// CAF's default scheduler (scheduler.max-threads = hardware_concurrency, work stealing, its
// default polling policy). Each sample makes its own Scheduler / caf::actor_system before the
// clock starts and drops it after the clock stops, so no idle workers of one variant run beside
// another. An actor signals "done" to the main thread through a concur::threading::Event in
// every C++ variant (a threading.Event in Python), waited on with a timeout.
//
// one-way: a sender sends n ints (i & 1023) to one actor, which counts and sums them and sets
// the Event when it has n. Timed from the first send to the Event; the count and the sum are
// checked (after close() + join() for concur, so nothing arrived beyond n).
//   concur Actor              ac::Actor<int> (its own thread); sender: the main thread
//   concur AsyncActor         ac::AsyncActor<int> on an ac::Scheduler; sender: the main thread
//   concur AsyncActor<-actor  the same receiver; sender: another AsyncActor on the same
//                             Scheduler, which sends the n messages when the main thread tells it
//   CAF anon_send             an event-based actor (caf::behavior) receiving; sender: the main
//                             thread, caf::anon_send(receiver, i) — CAF's way to send from a
//                             thread that is not an actor, and the fair match for concur's
//                             main-thread sender: neither message carries a sender. The goals are
//                             taken against it (in trials it ran as fast as scoped_actor or up to
//                             1.5x faster)
//   CAF scoped_actor          the same receiver; sender: a caf::scoped_actor on the main thread,
//                             self->send(receiver, i) (each message carries the sender's handle)
//   CAF actor sender          the same receiver; sender: an event-based actor that sends the n
//                             messages when told (CAF's own mailbox_performance benchmark form)
//   Python Actor              the seed's Actor, verbatim (bench/python/actors_bench.py)
// Goals (issue 14): Actor >= 2x CAF, AsyncActor >= 2x CAF (both sender kinds), both >= 20x
// Python.
//
// ping-pong: two actors bounce an int counting down from n: an actor that receives m > 0 sends
// m - 1 to the other, the one that receives 0 sets the Event. One operation is one message
// between the actors (n of them; a round trip is 2); timed from the main thread's first send to
// the Event; the messages received are counted and checked (n + 1 with the first).
//   concur AsyncActor pair    two ac::AsyncActor<int> on one ac::Scheduler
//   concur Actor pair         two ac::Actor<int> (two threads)
//   CAF pair                  two event-based actors, each answering m - 1 to current_sender()
//                             (the first message is sent with caf::send_as, as from the other)
//   Python Actor pair         two of the seed's Actors
// Goals: AsyncActor pair >= 2x CAF and >= 20x Python. The Actor pair (a thread wake-up per
// message) is reported without a goal.
//
// actors-100k: 100,000 actors alive at once, concur AsyncActors on an ac::Scheduler and CAF
// event-based actors, alternately (3 repetitions, or --rounds if fewer; medians printed):
//   create      construct + start() them all (concur) / spawn them all (CAF)
//   message     send one int to each (from the main thread) until every one has received it
//               (a shared atomic count; the last one sets the Event)
//   stop        close() all + join() all + destroy them (concur); an exit message
//               (exit_reason::user_shutdown) to all + await_all_actors_done() + drop the
//               handles (CAF)
//   bytes/actor heap bytes in use (glibc mallinfo2: uordblks + hblkhd) after the message phase
//               minus before creation, divided by 100,000 — every allocation the actors made
//               and kept, their mailboxes included, with the actors alive and waiting; also
//               the same right after creation, and the process's resident set growth
//               (/proc/self/statm), after malloc_trim(0) before the first snapshot so that
//               memory freed by earlier workloads is returned first (it can still understate
//               when freed pages are reused). The Scheduler / actor_system and the vector of
//               handles exist before the first snapshot.
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/harness.hpp"
#include "concur/actors.hpp"
#include "concur/threading.hpp"

#ifdef CONCUR_BENCH_HAVE_CAF
#include <caf/all.hpp>
#endif

namespace ac = concur::actors;
namespace th = concur::threading;
using namespace concur_bench;  // the harness: Workload, check, opts, ...

namespace {

constexpr double kCafGoal = 2.0;       // concur >= 2x CAF
constexpr double kPythonGoal = 20.0;   // concur >= 20x the seed's Python Actor
constexpr int kMany = 100000;          // actors alive at once in actors-100k
constexpr auto kTimeout = std::chrono::seconds(60);  // a lost message fails the sample

// Worker threads of every ac::Scheduler here: one per CPU, as CAF's default scheduler has.
int workers() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

// The sum of (i & 1023) for i in [0, n).
std::int64_t expected_sum(std::int64_t n) {
  const std::int64_t full = n / 1024, rest = n % 1024;
  return full * (1023 * 1024 / 2) + rest * (rest - 1) / 2;
}

void wait_done(th::Event& done, const char* what) {
  if (!done.wait(kTimeout)) throw std::runtime_error(std::string("timed out: ") + what);
}

// ping-pong carries the count in an int.
void cap_int(std::int64_t& n) { n = std::min<std::int64_t>(n, INT_MAX / 2); }

// ------------------------------------------------------------------------------------------------
// concur: one-way
// ------------------------------------------------------------------------------------------------
struct Counter : ac::Actor<int> {
  std::int64_t expected = 0, count = 0, sum = 0;
  th::Event done;
  void run() override {
    for (;;) {
      sum += recv();
      if (++count == expected) done.set();
    }
  }
};

double one_way_actor(std::int64_t& n) {
  Counter c;
  c.expected = n;
  c.start();
  const auto t0 = Clock::now();
  for (std::int64_t i = 0; i < n; ++i) c.send(static_cast<int>(i & 1023));
  wait_done(c.done, "the Actor did not receive all the messages");
  const double t = seconds_since(t0);
  c.close();
  c.join();
  check(c.count == n && c.sum == expected_sum(n), "messages lost, repeated or altered");
  return t;
}

struct AsyncCounter : ac::AsyncActor<int> {
  std::int64_t expected = 0, count = 0, sum = 0;
  th::Event done;
  ac::Task run() override {
    for (;;) {
      sum += co_await recv();
      if (++count == expected) done.set();
    }
  }
};

double one_way_async(std::int64_t& n) {
  ac::Scheduler sched(workers());  // declared first: outlives its actors
  AsyncCounter c;
  c.expected = n;
  c.start(sched);
  const auto t0 = Clock::now();
  for (std::int64_t i = 0; i < n; ++i) c.send(static_cast<int>(i & 1023));
  wait_done(c.done, "the AsyncActor did not receive all the messages");
  const double t = seconds_since(t0);
  c.close();
  c.join();
  check(c.count == n && c.sum == expected_sum(n), "messages lost, repeated or altered");
  return t;
}

// Sends k messages to its target for every k it receives.
struct AsyncSender : ac::AsyncActor<std::int64_t> {
  AsyncCounter* target = nullptr;
  ac::Task run() override {
    for (;;) {
      const std::int64_t k = co_await recv();
      for (std::int64_t i = 0; i < k; ++i) target->send(static_cast<int>(i & 1023));
    }
  }
};

double one_way_async_from_actor(std::int64_t& n) {
  ac::Scheduler sched(workers());
  AsyncCounter c;
  c.expected = n;
  AsyncSender s;
  s.target = &c;
  c.start(sched);
  s.start(sched);
  const auto t0 = Clock::now();
  s.send(n);
  wait_done(c.done, "the AsyncActor did not receive all the messages");
  const double t = seconds_since(t0);
  s.close();
  s.join();
  c.close();
  c.join();
  check(c.count == n && c.sum == expected_sum(n), "messages lost, repeated or altered");
  return t;
}

// ------------------------------------------------------------------------------------------------
// concur: ping-pong
// ------------------------------------------------------------------------------------------------
struct Bouncer : ac::Actor<int> {
  Bouncer* peer = nullptr;
  th::Event* done = nullptr;
  std::int64_t count = 0;
  void run() override {
    for (;;) {
      const int m = recv();
      ++count;
      if (m == 0) done->set();
      else peer->send(m - 1);
    }
  }
};

double ping_pong_actor(std::int64_t& n) {
  cap_int(n);
  th::Event done;
  Bouncer a, b;
  a.peer = &b;
  b.peer = &a;
  a.done = b.done = &done;
  a.start();
  b.start();
  const auto t0 = Clock::now();
  a.send(static_cast<int>(n));
  wait_done(done, "the ball was lost");
  const double t = seconds_since(t0);
  a.close();
  b.close();
  a.join();
  b.join();
  check(a.count + b.count == n + 1, "messages lost or repeated");
  return t;
}

struct AsyncBouncer : ac::AsyncActor<int> {
  AsyncBouncer* peer = nullptr;
  th::Event* done = nullptr;
  std::int64_t count = 0;
  ac::Task run() override {
    for (;;) {
      const int m = co_await recv();
      ++count;
      if (m == 0) done->set();
      else peer->send(m - 1);
    }
  }
};

double ping_pong_async(std::int64_t& n) {
  cap_int(n);
  ac::Scheduler sched(workers());
  th::Event done;
  AsyncBouncer a, b;
  a.peer = &b;
  b.peer = &a;
  a.done = b.done = &done;
  a.start(sched);
  b.start(sched);
  const auto t0 = Clock::now();
  a.send(static_cast<int>(n));
  wait_done(done, "the ball was lost");
  const double t = seconds_since(t0);
  a.close();
  b.close();
  a.join();
  b.join();
  check(a.count + b.count == n + 1, "messages lost or repeated");
  return t;
}

// ------------------------------------------------------------------------------------------------
// CAF 0.17
// ------------------------------------------------------------------------------------------------
#ifdef CONCUR_BENCH_HAVE_CAF
struct CafCount {
  std::int64_t expected = 0, count = 0, sum = 0;
  th::Event done;
};

caf::behavior caf_counter(caf::event_based_actor*, CafCount* s) {
  return {[=](int m) {
    s->sum += m;
    if (++s->count == s->expected) s->done.set();
  }};
}

// Sends k messages to target for every k it receives.
caf::behavior caf_sender(caf::event_based_actor* self, caf::actor target) {
  return {[=](std::int64_t k) {
    for (std::int64_t i = 0; i < k; ++i) self->send(target, static_cast<int>(i & 1023));
  }};
}

// A caf::actor_system (CAF's default configuration) whose actors are sent an exit message
// (exit_reason::user_shutdown) by stop() — which then waits for them all — or, if a sample fails
// before that, by the destructor (the actor_system's destructor then waits for them).
struct CafSystem {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  std::vector<caf::actor> actors;

  template <class... Ts>
  caf::actor spawn(Ts&&... xs) {
    actors.push_back(sys.spawn(std::forward<Ts>(xs)...));
    return actors.back();
  }
  void exit_all() {
    for (const caf::actor& a : actors) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    actors.clear();
  }
  void stop() {
    exit_all();
    sys.await_all_actors_done();
  }
  ~CafSystem() { exit_all(); }
};

double one_way_caf_anon(std::int64_t& n) {
  CafCount s;  // declared first: outlives the actors
  s.expected = n;
  CafSystem system;
  caf::actor r = system.spawn(caf_counter, &s);
  const auto t0 = Clock::now();
  for (std::int64_t i = 0; i < n; ++i) caf::anon_send(r, static_cast<int>(i & 1023));
  wait_done(s.done, "the CAF actor did not receive all the messages");
  const double t = seconds_since(t0);
  system.stop();
  check(s.count == n && s.sum == expected_sum(n), "messages lost, repeated or altered");
  return t;
}

double one_way_caf_scoped(std::int64_t& n) {
  CafCount s;  // declared first: outlives the actors
  s.expected = n;
  CafSystem system;
  caf::actor r = system.spawn(caf_counter, &s);
  double t;
  {
    caf::scoped_actor self{system.sys};
    const auto t0 = Clock::now();
    for (std::int64_t i = 0; i < n; ++i) self->send(r, static_cast<int>(i & 1023));
    wait_done(s.done, "the CAF actor did not receive all the messages");
    t = seconds_since(t0);
  }
  system.stop();
  check(s.count == n && s.sum == expected_sum(n), "messages lost, repeated or altered");
  return t;
}

double one_way_caf_actor(std::int64_t& n) {
  CafCount s;  // declared first: outlives the actors
  s.expected = n;
  CafSystem system;
  caf::actor r = system.spawn(caf_counter, &s);
  caf::actor sender = system.spawn(caf_sender, r);
  const auto t0 = Clock::now();
  caf::anon_send(sender, n);
  wait_done(s.done, "the CAF actor did not receive all the messages");
  const double t = seconds_since(t0);
  system.stop();
  check(s.count == n && s.sum == expected_sum(n), "messages lost, repeated or altered");
  return t;
}

struct CafBall {
  th::Event done;
  std::int64_t count[2] = {0, 0};
};

caf::behavior caf_bouncer(caf::event_based_actor* self, CafBall* b, int side) {
  return {[=](int m) {
    ++b->count[side];
    if (m == 0) b->done.set();
    else self->send(caf::actor_cast<caf::actor>(self->current_sender()), m - 1);
  }};
}

double ping_pong_caf(std::int64_t& n) {
  cap_int(n);
  CafBall ball;
  CafSystem system;
  caf::actor a = system.spawn(caf_bouncer, &ball, 0);
  caf::actor b = system.spawn(caf_bouncer, &ball, 1);
  const auto t0 = Clock::now();
  caf::send_as(b, a, static_cast<int>(n));  // a gets n from b, answers b, ...
  wait_done(ball.done, "the ball was lost");
  const double t = seconds_since(t0);
  system.stop();
  check(ball.count[0] + ball.count[1] == n + 1, "messages lost or repeated");
  return t;
}
#endif

// ------------------------------------------------------------------------------------------------
// actors-100k
// ------------------------------------------------------------------------------------------------
struct Memory {
  double heap = 0, rss = 0;  // bytes
};

Memory memory_now() {
  Memory m;
  const struct mallinfo2 mi = mallinfo2();
  m.heap = static_cast<double>(mi.uordblks + mi.hblkhd);
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    unsigned long size = 0, resident = 0;
    if (std::fscanf(f, "%lu %lu", &size, &resident) == 2)
      m.rss = static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
    std::fclose(f);
  }
  return m;
}

struct ManyResult {
  double create_s = 0, message_s = 0, stop_s = 0;
  double heap_created = 0, heap_alive = 0, rss_alive = 0;  // bytes per actor
};

struct ManyShared {
  std::atomic<int> left{0};
  th::Event all;
  void received() {
    if (left.fetch_sub(1, std::memory_order_acq_rel) == 1) all.set();
  }
};

struct Cell : ac::AsyncActor<int> {
  ManyShared* shared = nullptr;
  ac::Task run() override {
    for (;;) {
      (void)co_await recv();
      shared->received();
    }
  }
};

ManyResult many_concur() {
  ManyResult r;
  ManyShared shared;  // declared first: outlives the actors
  ac::Scheduler sched(workers());
  std::vector<std::unique_ptr<Cell>> cells;
  cells.reserve(kMany);
  malloc_trim(0);
  const Memory m0 = memory_now();
  auto t0 = Clock::now();
  for (int k = 0; k < kMany; ++k) {
    cells.push_back(std::make_unique<Cell>());
    cells.back()->shared = &shared;
    cells.back()->start(sched);
  }
  r.create_s = seconds_since(t0);
  const Memory m1 = memory_now();
  shared.left.store(kMany);
  t0 = Clock::now();
  for (auto& c : cells) c->send(1);
  wait_done(shared.all, "an AsyncActor did not receive its message");
  r.message_s = seconds_since(t0);
  const Memory m2 = memory_now();
  t0 = Clock::now();
  for (auto& c : cells) c->close();
  for (auto& c : cells) c->join();
  cells.clear();
  r.stop_s = seconds_since(t0);
  r.heap_created = (m1.heap - m0.heap) / kMany;
  r.heap_alive = (m2.heap - m0.heap) / kMany;
  r.rss_alive = (m2.rss - m0.rss) / kMany;
  return r;
}

#ifdef CONCUR_BENCH_HAVE_CAF
caf::behavior caf_cell(caf::event_based_actor*, ManyShared* shared) {
  return {[=](int) { shared->received(); }};
}

ManyResult many_caf() {
  ManyResult r;
  ManyShared shared;
  CafSystem system;
  std::vector<caf::actor>& cells = system.actors;
  cells.reserve(kMany);
  malloc_trim(0);
  const Memory m0 = memory_now();
  auto t0 = Clock::now();
  for (int k = 0; k < kMany; ++k) system.spawn(caf_cell, &shared);
  r.create_s = seconds_since(t0);
  const Memory m1 = memory_now();
  shared.left.store(kMany);
  t0 = Clock::now();
  for (auto& c : cells) caf::anon_send(c, 1);
  wait_done(shared.all, "a CAF actor did not receive its message");
  r.message_s = seconds_since(t0);
  const Memory m2 = memory_now();
  t0 = Clock::now();
  system.stop();  // an exit message to each, drop the handles, await_all_actors_done()
  r.stop_s = seconds_since(t0);
  r.heap_created = (m1.heap - m0.heap) / kMany;
  r.heap_alive = (m2.heap - m0.heap) / kMany;
  r.rss_alive = (m2.rss - m0.rss) / kMany;
  return r;
}
#endif

ManyResult median_of(const std::vector<ManyResult>& v) {
  auto med = [&v](double ManyResult::*f) {
    std::vector<double> x;
    for (const auto& r : v) x.push_back(r.*f);
    return median(x);
  };
  ManyResult m;
  m.create_s = med(&ManyResult::create_s);
  m.message_s = med(&ManyResult::message_s);
  m.stop_s = med(&ManyResult::stop_s);
  m.heap_created = med(&ManyResult::heap_created);
  m.heap_alive = med(&ManyResult::heap_alive);
  m.rss_alive = med(&ManyResult::rss_alive);
  return m;
}

void report_many() {
  const int reps = std::min(opts.rounds, 3);
  std::vector<ManyResult> concur_runs, caf_runs;
  std::string error;
  for (int i = 0; i < reps && error.empty(); ++i) {
    try {
      // Alternate which goes first, as the rounds do.
      if (i % 2 == 0) concur_runs.push_back(many_concur());
#ifdef CONCUR_BENCH_HAVE_CAF
      caf_runs.push_back(many_caf());
#endif
      if (i % 2 == 1) concur_runs.push_back(many_concur());
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  const char* const title = "100k actors";
  if (!error.empty()) std::printf("%-17s failed: %s\n", title, error.c_str());
  if (concur_runs.empty()) return;
  const bool have_caf = !caf_runs.empty();
  const ManyResult c = median_of(concur_runs);
  const ManyResult p = have_caf ? median_of(caf_runs) : ManyResult{};
  std::printf("%-17s %-44s %17s %17s %11s\n", title,
              ("medians of " + std::to_string(concur_runs.size()) + " runs each").c_str(),
              "concur AsyncActor", "CAF event-based", "CAF/concur");
  // The ratio is CAF's figure over concur's: > 1 means concur uses less memory or time.
  auto row = [&](const char* what, double cv, double pv, const char* fmt) {
    char a[32], b[32];
    std::snprintf(a, sizeof a, fmt, cv);
    std::snprintf(b, sizeof b, fmt, pv);
    std::printf("%-17s %-44s %17s %17s %11s\n", "", what, a, have_caf ? b : "-",
                have_caf ? fmt_ratio(pv / cv).c_str() : "");
  };
  row("heap bytes/actor, alive (mallinfo2)", c.heap_alive, p.heap_alive, "%.0f B");
  row("heap bytes/actor, just created (mallinfo2)", c.heap_created, p.heap_created, "%.0f B");
  row("resident set growth/actor (statm)", c.rss_alive, p.rss_alive, "%.0f B");
  row("create + start all", c.create_s * 1e3, p.create_s * 1e3, "%.1f ms");
  row("one message to each, all received", c.message_s * 1e3, p.message_s * 1e3, "%.1f ms");
  row("close + join all (CAF: exit + await all)", c.stop_s * 1e3, p.stop_s * 1e3, "%.1f ms");
  if (have_caf)
    std::printf("%-17s %s\n", "", "(CAF/concur > 1: concur takes less memory or time)");
  else
    std::printf("%-17s CAF not measured (libcaf-dev not found)\n", "");
}

// ------------------------------------------------------------------------------------------------
// Workloads
// ------------------------------------------------------------------------------------------------
const char* const kActor = "concur Actor";
const char* const kAsync = "concur AsyncActor";
const char* const kAsyncFromActor = "concur AsyncActor<-actor";
const char* const kCafAnon = "CAF anon_send";
const char* const kCafScoped = "CAF scoped_actor";
const char* const kCafActor = "CAF actor sender";
const char* const kPython = "Python Actor";

Workload make_one_way() {
  Workload w{"one-way", "one-way", "messages/s from one sender to one actor", 10000};
  w.add(kActor, one_way_actor);
  w.add(kAsync, one_way_async);
  w.add(kAsyncFromActor, one_way_async_from_actor);
#ifdef CONCUR_BENCH_HAVE_CAF
  w.add(kCafAnon, one_way_caf_anon);
  w.add(kCafScoped, one_way_caf_scoped);
  w.add(kCafActor, one_way_caf_actor);
#endif
  w.add_python(kPython, "one-way");
  w.compare(kActor, kCafAnon, kCafGoal);
  w.compare(kAsync, kCafAnon, kCafGoal);
  w.compare(kAsyncFromActor, kCafActor, kCafGoal);
  w.compare(kActor, kCafScoped);
  w.compare(kAsync, kCafScoped);
  w.compare(kActor, kPython, kPythonGoal);
  w.compare(kAsync, kPython, kPythonGoal);
  return w;
}

const char* const kAsyncPair = "concur AsyncActor pair";
const char* const kActorPair = "concur Actor pair";
const char* const kCafPair = "CAF pair";
const char* const kPythonPair = "Python Actor pair";

Workload make_ping_pong() {
  Workload w{"ping-pong", "ping-pong", "messages/s between two actors (a round trip is 2)",
             10000};
  w.add(kAsyncPair, ping_pong_async);
  w.add(kActorPair, ping_pong_actor);
#ifdef CONCUR_BENCH_HAVE_CAF
  w.add(kCafPair, ping_pong_caf);
#endif
  w.add_python(kPythonPair, "ping-pong");
  w.compare(kAsyncPair, kCafPair, kCafGoal);
  w.compare(kAsyncPair, kPythonPair, kPythonGoal);
  w.compare(kActorPair, kCafPair);
  w.compare(kActorPair, kPythonPair);
  return w;
}

Workload make_many() {
  Workload w{"actors-100k", "100k actors",
             "100,000 actors alive at once: memory, and create / message / stop times", 0};
  w.report = report_many;
  return w;
}

}  // namespace

int main(int argc, char** argv) {
#ifndef CONCUR_BENCH_HAVE_CAF
  std::printf("note: CAF not found (libcaf-dev): its peers are left out\n");
#endif
  return run_main(argc, argv, "actors", {make_one_way, make_ping_pong, make_many});
}
