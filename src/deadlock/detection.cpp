// Deadlock detection (deadlock/detection.hpp): cycles in the wait-for graph of blocked threads,
// the watchdog that reports them, and thread dumps on a signal.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <memory>
#include <ostream>
#include <set>
#include <utility>

#include "concur/deadlock/detection.hpp"
#include "concur/detail/at_fork.hpp"
#include "concur/detail/text.hpp"
#include "concur/errors.hpp"
#include "concur/threading/event.hpp"
#include "deadlock/report_delivery.hpp"
#include "threading/thread_record.hpp"

namespace concur::deadlock {
namespace {

using concur::detail::MutexGuard;
using concur::detail::ThreadRecord;
using concur::detail::ThreadsSnapshot;
using concur::detail::quote;
using concur::detail::WaitSnapshot;

// A wait that one known thread can end: an edge of the wait-for graph.
bool has_edge(const WaitSnapshot& s) noexcept {
  return s.kind && s.kind->adds_edge && s.owner_key != 0;
}

// The cycles of one snapshot, each as indices into it, starting from its lowest index. Every
// thread has at most one outgoing edge, so following edges from each thread finds them all.
std::vector<std::vector<std::size_t>> cycles_in(const ThreadsSnapshot& world) {
  const std::size_t n = world.records.size();
  std::vector<std::size_t> next(n, ThreadsSnapshot::npos);
  for (std::size_t i = 0; i < n; ++i)
    if (has_edge(world.snaps[i])) next[i] = world.index_of_key(world.snaps[i].owner_key);

  enum : char { unseen, on_path, done };
  std::vector<char> mark(n, unseen);
  std::vector<std::vector<std::size_t>> cycles;
  for (std::size_t start = 0; start < n; ++start) {
    std::vector<std::size_t> path;
    std::size_t at = start;
    while (at != ThreadsSnapshot::npos && mark[at] == unseen) {
      mark[at] = on_path;
      path.push_back(at);
      at = next[at];
    }
    if (at != ThreadsSnapshot::npos && mark[at] == on_path) {
      auto first = std::find(path.begin(), path.end(), at);
      std::vector<std::size_t> cycle(first, path.end());
      std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
      cycles.push_back(std::move(cycle));
    }
    for (std::size_t i : path) mark[i] = done;
  }
  return cycles;
}

// Identifies one cycle of waits: the same threads in the same waits (wait_seq) are the same
// deadlock on the next look.
using Signature = std::vector<std::pair<const ThreadRecord*, std::uint64_t>>;
Signature signature_of(const ThreadsSnapshot& world, const std::vector<std::size_t>& cycle) {
  Signature sig;
  for (std::size_t i : cycle) sig.emplace_back(world.records[i].get(), world.snaps[i].seq);
  std::sort(sig.begin(), sig.end());
  return sig;
}

Cycle make_cycle(const ThreadsSnapshot& world, const std::vector<std::size_t>& members) {
  Cycle cycle;
  for (std::size_t k = 0; k < members.size(); ++k) {
    const std::size_t i = members[k];
    const std::size_t next = members[(k + 1) % members.size()];
    cycle.threads.push_back(BlockedThread{
        threading::ThreadRef(world.records[i]), world.records[i]->get_name(),
        world.waiting_for(world.snaps[i], false), world.records[next]->get_name(),
        world.holds(world.keys[i], world.snaps[i])});
  }
  return cycle;
}


Report deadlock_report(const Cycle& cycle) {
  Report r{ReportKind::deadlock, {}, {}, {}};
  r.message = "Deadlock detected: " + std::to_string(cycle.size()) + " thread" +
              (cycle.size() == 1 ? " waits for itself" : "s wait for each other in a cycle") +
              ":\n" + cycle.describe();
  for (const auto& t : cycle) {
    r.threads.push_back(t.name);
    r.locks.push_back(t.waits_for);
  }
  return r;
}

// Make the first thread of the cycle that sleeps in a Lock/RLock acquire give up: its acquire
// throws (lock.cpp). Done under the victim's diagnostics lock, while it is still in that very
// wait, so the lock and its futex word are alive.
void break_cycle(const ThreadsSnapshot& world, const std::vector<std::size_t>& members) {
  for (std::size_t i : members) {
    const WaitSnapshot& snap = world.snaps[i];
    if (!snap.word) continue;
    ThreadRecord& rec = *world.records[i];
    MutexGuard g(rec.diag_mutex);
    if (rec.wait_seq != snap.seq || rec.waiting.word != snap.word) continue;  // moved on
    rec.deadlock_victim.store(true, std::memory_order_release);
    concur::detail::futex_wake_all(*snap.word);
    return;
  }
}

}  // namespace

std::string Cycle::describe() const {
  std::string text;
  for (const auto& t : threads) {
    text += "  thread " + quote(t.name) + " waits for " + t.waits_for + ", held by " +
            quote(t.held_by);
    if (!t.holds.empty()) {
      text += "; holds ";
      for (std::size_t i = 0; i < t.holds.size(); ++i) text += (i ? ", " : "") + t.holds[i];
    }
    text += "\n";
  }
  return text;
}

std::ostream& operator<<(std::ostream& os, const Cycle& cycle) { return os << cycle.describe(); }

std::vector<Cycle> find_deadlocks() {
  const ThreadsSnapshot first;
  const auto candidates = cycles_in(first);
  if (candidates.empty()) return {};
  // Look again: keep the cycles whose threads are still in the same waits for the same owners.
  const ThreadsSnapshot again;
  std::vector<Cycle> out;
  for (const auto& members : candidates) {
    bool same = true;
    for (std::size_t i : members) {
      auto it = std::find(again.records.begin(), again.records.end(), first.records[i]);
      if (it == again.records.end()) {
        same = false;
        break;
      }
      const WaitSnapshot& now = again.snaps[static_cast<std::size_t>(it - again.records.begin())];
      same = now.seq == first.snaps[i].seq && now.kind == first.snaps[i].kind &&
             now.owner_key == first.snaps[i].owner_key;
      if (!same) break;
    }
    if (same) out.push_back(make_cycle(first, members));
  }
  return out;
}

// --- the watchdog ------------------------------------------------------------------------------

namespace {

struct Watchdog {
  concur::detail::Mutex mutex;  // start/stop
  std::unique_ptr<threading::Thread> thread;
  threading::Event wake;           // stop, or a new interval
  std::atomic<bool> stopping{false};
  std::atomic<std::int64_t> interval_ns{0};
  std::atomic<bool> running{false};

  void loop() {
    std::set<Signature> seen_before, reported, broken;
    for (;;) {
      if (wake.wait(std::chrono::nanoseconds(interval_ns.load(std::memory_order_relaxed)))) {
        if (stopping.load()) return;
        wake.clear();  // a new interval: wait again with it
        continue;
      }
      const ThreadsSnapshot world;
      std::set<Signature> seen_now;
      for (const auto& members : cycles_in(world)) {
        // A cycle through a timed wait ends when that wait times out: not a deadlock.
        if (std::any_of(members.begin(), members.end(),
                        [&](std::size_t i) { return world.snaps[i].timed; }))
          continue;
        Signature sig = signature_of(world, members);
        seen_now.insert(sig);
        if (broken.count(sig)) {
          // Still there after we broke it: the victim's wake-up may have come just before it
          // went back to sleep. Its mark stands; wake it again.
          break_cycle(world, members);
          continue;
        }
        if (!seen_before.count(sig) || reported.count(sig)) continue;  // not yet persistent
        reported.insert(sig);
        try {
          if (detail::deliver(deadlock_report(make_cycle(world, members)), true)) {
            broken.insert(sig);
            break_cycle(world, members);
          }
        } catch (...) {
          // Out of memory while reporting: try again on the next look.
          reported.erase(sig);
        }
      }
      std::erase_if(reported, [&](const Signature& s) { return !seen_now.count(s); });
      std::erase_if(broken, [&](const Signature& s) { return !seen_now.count(s); });
      seen_before = std::move(seen_now);
    }
  }
};

Watchdog& watchdog() {
  static auto* w = new Watchdog();  // never destroyed: its daemon thread may outlive main()
  return *w;
}

}  // namespace

void start_watchdog(std::chrono::nanoseconds interval) {
  if (interval <= std::chrono::nanoseconds::zero())
    throw ValueError("the watchdog interval must be positive");
  Watchdog& w = watchdog();
  MutexGuard g(w.mutex);
  w.interval_ns.store(interval.count(), std::memory_order_relaxed);
  if (w.running.load()) {
    w.wake.set();  // it may be asleep for the old interval
    return;
  }
  w.stopping.store(false);
  w.wake.clear();
  w.thread = std::make_unique<threading::Thread>(
      threading::ThreadOptions{.name = "concur-deadlock-watchdog", .daemon = true},
      [&w] { w.loop(); });
  w.thread->start();
  w.running.store(true);
}

void stop_watchdog() {
  Watchdog& w = watchdog();
  MutexGuard g(w.mutex);
  if (!w.running.load()) return;
  w.stopping.store(true);
  w.wake.set();
  w.thread->join();
  w.thread.reset();
  w.running.store(false);
}

bool watchdog_running() noexcept { return watchdog().running.load(); }

// --- thread dumps on a signal ------------------------------------------------------------------

namespace {

std::atomic<int> dump_pipe_write{-1};

void on_dump_signal(int) {
  const int saved = errno;  // async-signal-safe: one write() to a non-blocking pipe
  const char byte = 1;
  const int fd = dump_pipe_write.load(std::memory_order_relaxed);
  if (fd >= 0) [[maybe_unused]] auto n = ::write(fd, &byte, 1);
  errno = saved;
}

struct DumpThread {
  concur::detail::Mutex mutex;
  std::unique_ptr<threading::Thread> thread;
  int read_fd = -1;
};
DumpThread& dump_thread() {
  static auto* d = new DumpThread();  // never destroyed, as its daemon thread
  return *d;
}

// --- fork (detail/at_fork.hpp) -----------------------------------------------------------------
// Nothing is taken before the fork: stop_watchdog() holds the watchdog's mutex while it joins the
// watchdog thread, which may be inside a user's report handler, so waiting for it could take any
// time. In the child both threads are gone (threading's child handler, a lower layer, has marked
// their records finished, so their Thread objects may be destroyed), and both mutexes are
// re-initialised: only a vanished thread can have held them. Both can be started again there.
void after_fork_in_child() noexcept {
  Watchdog& w = watchdog();
  concur::detail::reinit_in_child(w.mutex);
  w.thread.reset();
  concur::detail::reinit_in_child(w.wake);  // a vanished watchdog may be marked asleep on it
  w.stopping.store(false);
  w.running.store(false);

  DumpThread& d = dump_thread();
  concur::detail::reinit_in_child(d.mutex);
  d.thread.reset();
  // The pipe is shared with the parent: the parent's dump thread would answer the child's
  // signals (and a new child dump thread the parent's). Closed; the handler stays installed and
  // does nothing until install_dump_on_signal() makes a new pipe and thread.
  const int write_fd = dump_pipe_write.exchange(-1);
  if (write_fd >= 0) ::close(write_fd);
  if (d.read_fd >= 0) ::close(d.read_fd);
  d.read_fd = -1;
}

[[maybe_unused]] const bool fork_handlers_registered = concur::detail::register_at_fork(
    concur::detail::AtForkLayer::deadlock, {nullptr, nullptr, after_fork_in_child});

}  // namespace

void install_dump_on_signal(int signal) {
  if (signal <= 0 || signal >= NSIG || signal == SIGKILL || signal == SIGSTOP)
    throw ValueError("install_dump_on_signal: signal " + std::to_string(signal) +
                     " cannot be caught");
  DumpThread& d = dump_thread();
  MutexGuard g(d.mutex);
  if (!d.thread) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) throw RuntimeError("install_dump_on_signal: pipe failed");
    ::fcntl(fds[0], F_SETFL, 0);  // the dump thread blocks on its end; the handler never does
    d.read_fd = fds[0];
    dump_pipe_write.store(fds[1]);
    d.thread = std::make_unique<threading::Thread>(
        threading::ThreadOptions{.name = "concur-dump", .daemon = true}, [fd = fds[0]] {
          char buf[64];
          for (;;) {
            const ssize_t n = ::read(fd, buf, sizeof buf);
            if (n > 0) concur::detail::write_stderr(threading::dump_threads());
            else if (n == 0 || errno != EINTR) return;
          }
        });
    d.thread->start();
  }
  struct sigaction sa {};
  sa.sa_handler = on_dump_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  if (::sigaction(signal, &sa, nullptr) != 0)
    throw ValueError("install_dump_on_signal: signal " + std::to_string(signal) +
                     " cannot be caught");
}

}  // namespace concur::deadlock
