// concur/deadlock/report.hpp — what concur does when it finds a deadlock or a lock-order
// inversion: the Report, and the configurable reaction to it.
//
//   dl::set_reaction(dl::Reaction::print);   // default: write the report to stderr
//   dl::set_reaction(dl::Reaction::raise);   // throw concur::RuntimeError (see below)
//   dl::set_reaction([](const dl::Report& r) { log(r.message); });   // call a handler
//
// Where each reaction happens:
// - A lock-order inversion (lock-order checking, lock_order.hpp) is found in the thread that is
//   about to acquire, before it blocks: print writes the report and the acquisition goes on;
//   raise throws RuntimeError from that acquire(), the lock not taken; a handler is called in
//   that thread (an exception it throws propagates out of acquire(), the lock not taken).
// - A deadlock (the watchdog, detection.hpp) is found by the watchdog thread: print writes the
//   report; a handler is called on the watchdog thread (exceptions it throws are printed and
//   dropped); raise writes the report and breaks the cycle: one thread of the cycle that waits in
//   a Lock or RLock acquire() is woken and that acquire() throws RuntimeError("Deadlock
//   detected: ..."), so that its scope unwinds and releases what it holds.
//
// Thread-safety: set_reaction may be called at any time from any thread; a report being made
// while it changes uses either the old or the new reaction.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace concur::deadlock {

enum class ReportKind {
  lock_order,  // a potential deadlock: an acquisition that inverts an order seen before
  deadlock,    // a real one: threads blocked in a cycle, each waiting for the next
};

struct Report {
  ReportKind kind;
  std::string message;               // the whole report, as printed
  std::vector<std::string> threads;  // the names of the threads involved
  std::vector<std::string> locks;    // the locks involved, as reports name them
};

enum class Reaction { print, raise, call_handler };

void set_reaction(Reaction reaction);  // call_handler without a handler: ValueError
void set_reaction(std::function<void(const Report&)> handler);  // null: back to print
[[nodiscard]] Reaction reaction();

}  // namespace concur::deadlock
