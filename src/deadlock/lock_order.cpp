// Lock-order checking (deadlock/lock_order.hpp) and the reaction to reports (deadlock/report.hpp).
//
// Each thread's record keeps the locks it holds while tracking is on (thread_record.hpp); one
// process-wide graph keeps, for every pair of locks ever held one inside the other, the first
// thread that did so. A new pair held -> acquired is checked with a breadth-first search for
// the reverse path acquired ->* held before it is added: finding one means some interleaving of
// the threads that made these orders deadlocks.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "concur/deadlock/lock_order.hpp"
#include "concur/detail/at_fork.hpp"
#include "concur/detail/lock_tracking.hpp"
#include "concur/detail/text.hpp"
#include "concur/errors.hpp"
#include "concur/threading/detail/wait_kinds.hpp"
#include "deadlock/report_delivery.hpp"
#include "threading/thread_record.hpp"

namespace concur::deadlock {
namespace detail {
namespace {

using concur::detail::Mutex;
using concur::detail::MutexGuard;

// --- the reaction ------------------------------------------------------------------------------

struct ReactionState {
  Mutex mutex;
  Reaction reaction = Reaction::print;
  std::shared_ptr<const std::function<void(const Report&)>> handler;
};
ReactionState& reaction_state() {
  static auto* s = new ReactionState();  // never destroyed: reports may come during exit
  return *s;
}

}  // namespace

using concur::detail::write_stderr;

bool deliver(const Report& report, bool from_watchdog) {
  Reaction reaction;
  std::shared_ptr<const std::function<void(const Report&)>> handler;
  {
    ReactionState& s = reaction_state();
    MutexGuard g(s.mutex);
    reaction = s.reaction;
    handler = s.handler;
  }
  switch (reaction) {
    case Reaction::print:
      write_stderr(report.message);
      return false;
    case Reaction::raise:
      if (from_watchdog) write_stderr(report.message);
      return true;
    case Reaction::call_handler:
      if (!from_watchdog) {
        (*handler)(report);
        return false;
      }
      try {
        (*handler)(report);
      } catch (const std::exception& e) {
        write_stderr(std::string("Exception in deadlock report handler: ") + e.what() + "\n");
      } catch (...) {
        write_stderr("Exception in deadlock report handler\n");
      }
      return false;
  }
  return false;
}

}  // namespace detail

void set_reaction(Reaction reaction) {
  auto& s = detail::reaction_state();
  concur::detail::MutexGuard g(s.mutex);
  if (reaction == Reaction::call_handler && !s.handler)
    throw ValueError("Reaction::call_handler needs a handler: pass it to set_reaction");
  s.reaction = reaction;
}

void set_reaction(std::function<void(const Report&)> handler) {
  auto fresh = handler ? std::make_shared<const std::function<void(const Report&)>>(std::move(handler))
                       : nullptr;
  auto& s = detail::reaction_state();
  concur::detail::MutexGuard g(s.mutex);
  s.handler = std::move(fresh);
  s.reaction = s.handler ? Reaction::call_handler : Reaction::print;
}

Reaction reaction() {
  auto& s = detail::reaction_state();
  concur::detail::MutexGuard g(s.mutex);
  return s.reaction;
}

}  // namespace concur::deadlock

namespace concur::detail {
namespace {

using deadlock::Report;
using deadlock::ReportKind;

// --- the order graph ---------------------------------------------------------------------------

struct Edge {
  std::string thread;  // the first thread that took `to` while holding `from`
};

struct Node {
  std::string label;  // as reports name it: "account-A" or `Lock at 0x...`
  std::map<const void*, Edge> out;  // orders this -> other
  std::set<const void*> in;         // orders other -> this
};

struct Graph {
  Mutex mutex;
  std::unordered_map<const void*, Node> nodes;
  std::set<std::pair<const void*, const void*>> reported;  // (held, acquired) pairs reported

  Node& node(const void* object, const WaitKind* kind, std::string_view name) {
    auto [it, fresh] = nodes.try_emplace(object);
    if (fresh || it->second.label.empty())
      it->second.label = describe_object(kind, object, name);
    return it->second;
  }

  // The path from -> ... -> to along recorded orders (both ends included), if there is one.
  std::optional<std::vector<const void*>> path(const void* from, const void* to) const {
    std::map<const void*, const void*> parent{{from, nullptr}};
    std::deque<const void*> frontier{from};
    while (!frontier.empty()) {
      const void* at = frontier.front();
      frontier.pop_front();
      if (at == to) {
        std::vector<const void*> p;
        for (const void* n = to; n; n = parent[n]) p.insert(p.begin(), n);
        return p;
      }
      auto it = nodes.find(at);
      if (it == nodes.end()) continue;
      for (const auto& [next, edge] : it->second.out)
        if (parent.emplace(next, at).second) frontier.push_back(next);
    }
    return std::nullopt;
  }

  void forget(const void* object) {
    auto it = nodes.find(object);
    if (it == nodes.end()) return;
    for (const auto& [to, edge] : it->second.out) nodes[to].in.erase(object);
    for (const void* from : it->second.in) nodes[from].out.erase(object);
    nodes.erase(it);
    std::erase_if(reported, [&](const auto& p) { return p.first == object || p.second == object; });
  }
};

Graph& graph() {
  static auto* g = new Graph();  // never destroyed: locks may die during exit
  return *g;
}

// The report for: thread `me` holds `held` and is about to wait for `wanted`, while the recorded
// orders lead from `wanted` back to `held` along `path`.
Report inversion_report(const Graph& g, const std::string& me, const void* held,
                        const void* wanted, const std::vector<const void*>& path) {
  auto label = [&](const void* n) { return g.nodes.at(n).label; };
  Report r{ReportKind::lock_order, {}, {me}, {}};
  std::string text = "Lock order inversion (potential deadlock):\n  thread " + quote(me) +
                     " is acquiring " + label(wanted) + " while holding " + label(held) +
                     " (order " + label(held) + " -> " + label(wanted) + ")\n";
  text += "  but earlier:\n";
  for (std::size_t i = 0; i + 1 < path.size(); ++i) {
    const Edge& e = g.nodes.at(path[i]).out.at(path[i + 1]);
    text += "    thread " + quote(e.thread) + " acquired " + label(path[i + 1]) + " while holding " +
            label(path[i]) + " (order " + label(path[i]) + " -> " + label(path[i + 1]) + ")\n";
    if (std::find(r.threads.begin(), r.threads.end(), e.thread) == r.threads.end())
      r.threads.push_back(e.thread);
  }
  text += "  cycle: " + label(held);
  for (const void* n : path) {
    text += " -> " + label(n);
    r.locks.push_back(label(n));
  }
  text += "\n  Threads taking these locks in these orders can deadlock; take them in one order "
          "(deadlock::acquire does).\n";
  r.message = std::move(text);
  return r;
}

std::vector<TrackedLock> held_by(ThreadRecord& rec) {
  MutexGuard g(rec.diag_mutex);
  return rec.held;
}


// Serialises switching checking on and off (enable_lock_order_checking).
Mutex switch_mutex;

void clear_all_held() {
  for (auto& rec : all_thread_records()) {
    MutexGuard g(rec->diag_mutex);
    rec->held.clear();
  }
}

// --- the lock observer (lock_tracking.hpp) ------------------------------------------------------

void check_order(const TrackedLock& lock) {
  if (!lock_tracking_on()) return;  // switched off since the caller looked
  ThreadRecord* rec = current_record();
  if (!rec) return;
  const std::vector<TrackedLock> held = held_by(*rec);
  if (held.empty()) return;
  const std::string me = rec->get_name();

  std::optional<Report> report;
  bool first_time = false;
  std::pair<const void*, const void*> reported_pair;
  {
    Graph& g = graph();
    MutexGuard guard(g.mutex);
    g_lock_graph_used.store(true, std::memory_order_relaxed);
    g.node(lock.object, lock.kind, lock.name);
    for (const auto& h : held) {
      if (h.object == lock.object) {
        // Only a plain Lock reaches here while held (an RLock re-enters without a check, a
        // Semaphore may be held several times).
        if (lock.kind != &kLockWait) continue;
        reported_pair = {h.object, h.object};
        first_time = g.reported.insert(reported_pair).second;
        const std::string label = g.node(lock.object, lock.kind, lock.name).label;
        report = Report{ReportKind::lock_order,
                        "Lock order inversion (self-deadlock):\n  thread " + quote(me) +
                            " is acquiring " + label +
                            ", a Lock it already holds; a Lock is not re-entrant (use RLock)\n",
                        {me},
                        {label}};
        continue;
      }
      Node& from = g.node(h.object, h.kind, h.name);
      if (from.out.count(lock.object)) continue;  // a known order
      if (auto back = g.path(lock.object, h.object)) {
        if (!report) {
          reported_pair = {h.object, lock.object};
          first_time = g.reported.insert(reported_pair).second;
          report = inversion_report(g, me, h.object, lock.object, *back);
        }
        continue;  // an inverted order is never recorded: the graph stays acyclic
      }
      from.out.emplace(lock.object, Edge{me});
      g.nodes[lock.object].in.insert(h.object);
    }
  }
  if (!report) return;
  // Under raise every inverting acquisition fails (it must not go on to deadlock); printed and
  // handled reports are made once per pair of locks.
  if (deadlock::reaction() == deadlock::Reaction::raise) throw RuntimeError(report->message);
  if (!first_time) return;
  try {
    deadlock::detail::deliver(*report, false);
  } catch (...) {
    // The handler threw: this acquisition fails, and the next one of the pair reports again.
    Graph& g = graph();
    MutexGuard guard(g.mutex);
    g.reported.erase(reported_pair);
    throw;
  }
}

void held_acquired(const TrackedLock& lock) noexcept {
  ThreadRecord* rec = current_record();
  if (!rec) return;
  try {
    MutexGuard g(rec->diag_mutex);
    rec->held.push_back(lock);
  } catch (...) {
    // Out of memory: the lock goes unlisted, which only makes reports poorer.
  }
}

bool held_released(const void* object) noexcept {
  auto drop_from = [object](ThreadRecord& rec) {
    MutexGuard g(rec.diag_mutex);
    for (auto it = rec.held.rbegin(); it != rec.held.rend(); ++it) {
      if (it->object == object) {
        rec.held.erase(std::next(it).base());
        return true;
      }
    }
    return false;
  };
  if (ThreadRecord* rec = current_record(); rec && drop_from(*rec)) return true;
  // A Lock or Semaphore may be released by a thread other than the one that took it.
  try {
    for (auto& rec : all_thread_records())
      if (drop_from(*rec)) return true;
  } catch (...) {
  }
  return false;
}

void forget_everywhere(const void* object) noexcept {
  {
    Graph& g = graph();
    MutexGuard guard(g.mutex);
    try {
      g.forget(object);
    } catch (...) {
    }
  }
  // A lock destroyed while a thread still lists it as held (a Semaphore unit never given back):
  // drop the entry, whose name would dangle and whose address a new lock may reuse. Only while
  // tracking is on: switching it off or on clears every list anyway.
  if (!lock_tracking_on()) return;
  try {
    for (auto& rec : all_thread_records()) {
      MutexGuard g(rec->diag_mutex);
      std::erase_if(rec->held, [object](const TrackedLock& h) { return h.object == object; });
    }
  } catch (...) {
  }
}

constexpr LockObserver kLockOrderObserver{check_order, held_acquired, held_released,
                                          forget_everywhere};

}  // namespace

}  // namespace concur::detail

namespace concur::deadlock::detail {

// CONCUR_LOCK_ORDER, read during static initialisation of the library. This file is linked into
// every program that includes <concur/deadlock.hpp> (its anchor, deadlock/lock_order.hpp) or
// uses libconcur as a shared library.
const bool lock_order_env_read = [] {
  using namespace concur::detail;
  install_lock_observer(&kLockOrderObserver);
  const char* v = std::getenv("CONCUR_LOCK_ORDER");
  if (!v || !*v || std::strcmp(v, "0") == 0) return true;
  if (std::strcmp(v, "raise") == 0) deadlock::set_reaction(deadlock::Reaction::raise);
  g_lock_graph_used.store(true, std::memory_order_relaxed);
  g_lock_tracking.store(true, std::memory_order_relaxed);
  return true;
}();


}  // namespace concur::deadlock::detail

namespace concur::detail {
namespace {

// --- fork (detail/at_fork.hpp) -----------------------------------------------------------------
// All three locks are taken before the fork and released on both sides, so that the child
// inherits a graph, a reaction and a tracking switch that no vanished thread left half-changed.
// Safe to wait for: the graph's and the reaction's critical sections take no other lock, and the
// switch's takes only threading's (registry, records), a lower layer, taken after this one.
const bool fork_handlers_registered = register_at_fork(
    AtForkLayer::deadlock,
    {[]() noexcept {
       switch_mutex.lock();
       deadlock::detail::reaction_state().mutex.lock();
       graph().mutex.lock();
     },
     []() noexcept {
       graph().mutex.unlock();
       deadlock::detail::reaction_state().mutex.unlock();
       switch_mutex.unlock();
     },
     []() noexcept {
       graph().mutex.unlock();
       deadlock::detail::reaction_state().mutex.unlock();
       switch_mutex.unlock();
     }});
}  // namespace
}  // namespace concur::detail

namespace concur::deadlock {

void enable_lock_order_checking(bool on) {
  using namespace concur::detail;
  MutexGuard g(switch_mutex);
  install_lock_observer(&kLockOrderObserver);  // before tracking can be on
  if (g_lock_tracking.load(std::memory_order_relaxed) == on) return;
  g_lock_tracking.store(false, std::memory_order_relaxed);
  // Lists kept across an off period would name locks released meanwhile: start them afresh.
  clear_all_held();
  // From now on destroyed locks must leave the graph and the held lists (forget_lock).
  if (on) g_lock_graph_used.store(true, std::memory_order_relaxed);
  g_lock_tracking.store(on, std::memory_order_relaxed);
}

bool lock_order_checking_enabled() noexcept {
  return concur::detail::lock_tracking_on();
}

void reset_lock_order_graph() {
  auto& g = concur::detail::graph();
  concur::detail::MutexGuard guard(g.mutex);
  g.nodes.clear();
  g.reported.clear();
}

}  // namespace concur::deadlock
