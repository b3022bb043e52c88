// concur/deadlock/detection.hpp — finding real deadlocks among blocked threads, the watchdog
// that reports them, and thread dumps on a signal.
//
//   for (const dl::Cycle& c : dl::find_deadlocks()) std::cerr << c.describe();
//   dl::start_watchdog(200ms);            // reports (report.hpp) every cycle that persists
//   dl::install_dump_on_signal(SIGQUIT);  // kill -QUIT <pid>: th::dump_threads() to stderr
//
// Every thread asleep in a concur wait publishes what it waits for (wait_site.hpp). A wait for
// a Lock or RLock leads to the thread that holds it, a join to the joined thread: those are the
// edges of the wait-for graph, thread -> lock -> owning thread -> ... . A cycle in it is a
// deadlock: every thread in it waits for the next and none can go on. (Waits on conditions,
// semaphores, events, queues and futures have no single thread that must end them; they are
// shown in dumps but make no edges.)
//
// find_deadlocks() takes a snapshot of every thread's wait twice and returns the cycles present
// in both with the same waits: a cycle it returns existed at the time of the call. A cycle
// through a timed wait (acquire(50ms), join(1s)) is returned too, though it will end by itself
// when that wait times out.
//
// The watchdog is one daemon thread ("concur-deadlock-watchdog") that looks every `interval`;
// a cycle of untimed waits seen on two consecutive looks with the same waits is reported once,
// through the reaction of report.hpp, naming each thread, the lock it waits for, and the locks
// it holds (the ones other threads wait for, and with lock-order checking on, all of them).
// Cycles through a timed wait are left to their timeouts: the seeds' "timed locks" way out.
// start_watchdog() again changes the interval; stop_watchdog() stops it and waits for it.
//
// Happens-before: none with the blocked threads' own work. A Cycle or report describes each
// thread's published wait as read under that thread's diagnostics lock, at two looks rather
// than one instant; it orders nothing else, and a thread in a timed wait may have moved on by
// the time it is read. The watchdog delivers its reports (and runs a handler) in its own
// thread: all of that happens before stop_watchdog() returns; under Reaction::raise the report
// is written before the victim is marked, so before its acquire throws.
//
// Thread-safety: all functions may be called from any thread. The watchdog and the dump thread
// take each thread's diagnostics lock briefly and never any user lock.
#pragma once

#include <chrono>
#include <csignal>
#include <cstddef>
#include <iosfwd>
#include <string>
#include <vector>

#include "concur/threading/thread.hpp"

namespace concur::deadlock {

// One thread of a deadlock cycle.
struct BlockedThread {
  threading::ThreadRef thread;
  std::string name;                // the thread's name
  std::string waits_for;           // e.g. `lock "fork-1"`
  std::string held_by;             // the name of the next thread of the cycle, which holds it
  std::vector<std::string> holds;  // the locks it is known to hold, e.g. `lock "fork-0"`
};

// A cycle of the wait-for graph: threads[i] waits for what threads[i + 1] holds, the last for
// what the first holds. A thread waiting for a Lock it holds itself is a cycle of one.
struct Cycle {
  std::vector<BlockedThread> threads;

  [[nodiscard]] std::size_t size() const noexcept { return threads.size(); }
  auto begin() const noexcept { return threads.begin(); }
  auto end() const noexcept { return threads.end(); }
  const BlockedThread& operator[](std::size_t i) const { return threads[i]; }
  [[nodiscard]] std::string describe() const;  // the report text: one line per thread
};
std::ostream& operator<<(std::ostream& os, const Cycle& cycle);

[[nodiscard]] std::vector<Cycle> find_deadlocks();

void start_watchdog(std::chrono::nanoseconds interval);
template <class Rep, class Period>
void start_watchdog(std::chrono::duration<Rep, Period> interval) {
  start_watchdog(std::chrono::duration_cast<std::chrono::nanoseconds>(interval));
}
void stop_watchdog();
[[nodiscard]] bool watchdog_running() noexcept;

// Print threading::dump_threads() to stderr whenever the process receives `signal` (a JVM's
// kill -QUIT). The handler only writes to a pipe; a daemon thread ("concur-dump") makes the dump.
// ValueError for a signal that cannot be caught; installing again for another signal adds it.
void install_dump_on_signal(int signal = SIGQUIT);

}  // namespace concur::deadlock
