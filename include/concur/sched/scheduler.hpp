// concur/sched/scheduler.hpp — sched.scheduler: Python's general-purpose event scheduler.
//
//   namespace sc = concur::sched;
//   sc::scheduler s;                                   // steady_clock; sleeps with concur's waits
//   sc::Event ev = s.enter(1s, /*priority=*/1, fn, a, b);   // fn(a, b) one second from now
//   sc::Event e2 = s.enterabs(std::chrono::steady_clock::now() + 1s, 1, fn);
//   s.cancel(ev);  s.empty();  s.queue();  ev.time();  ev.priority();
//   s.run();                                           // until no event is left
//   std::optional<std::chrono::steady_clock::duration> d = s.run(false);  // what is due now
//   sc::scheduler t(timefunc, delayfunc);              // a clock of your own (simulated time)
//
// As CPython's Lib/sched.py:
// - Order: the earlier time first; at the same time the lower priority value first; then the
//   order in which the events were entered.
// - run() takes the first event; if it is due (time <= timefunc()) it is removed from the queue
//   and its action runs, with no lock held, so an action may enter, cancel, query — or run() —
//   the same scheduler. Otherwise run() waits until it is due (run(false) returns the time left
//   instead) and looks again. run() returns when the queue is empty; run(false) returns nullopt
//   then.
// - An exception thrown by an action leaves run() (it propagates to run()'s caller); that event
//   is gone, the others stay queued and a later run() goes on with them.
// - The action `fn` and its arguments are copied (decayed) into the event when it is entered
//   and invoked as std::invoke(fn, args...) with lvalues; std::ref passes a reference. Its
//   return value is ignored. The action and its arguments are destroyed once it has run or been
//   cancelled (by the thread that ran or cancelled it), or with the scheduler.
// - Times: `delay` is any std::chrono::duration (negative: due at once; a delay too large to
//   represent saturates to the end of time instead of overflowing). A number where a duration
//   or a time point belongs does not compile.
//
// Clocks
// - scheduler() uses std::chrono::steady_clock and waits with concur's waiting seam
//   (detail::EventCount; a thread sleeping in run() shows as waiting on "sched" in
//   threading::dump_threads()). An event entered from another thread for a time earlier than
//   the one run() sleeps towards (or the cancellation of that one) wakes it at once.
// - scheduler(timefunc, delayfunc) uses your clock: timefunc() is "now" and delayfunc(d) must
//   let the time advance by d (for instance sleep); as Python, run() calls delayfunc(0) after
//   each action. Such a run() cannot be woken: it sleeps as long as delayfunc does and then
//   looks at the queue again. timefunc is called with the scheduler's internal lock held, so it
//   must not call the scheduler.
//
// Thread-safety: every member may be called concurrently from any thread, also while other
// threads are in run() (several run()s share the events: each runs exactly once). Event is a
// value handle: copies may be used from any thread.
// Happens-before: what a thread did before enter()/enterabs() is visible to the event's action
// (the scheduler's internal lock orders them); cancel() that succeeds happens before the run()
// that would have run the event looks at the queue again.
// Blocks: run() while the first event is not due. Nothing else blocks (beyond the internal lock).
// Errors: cancel() throws concur::ValueError when the event already ran, was already cancelled,
// or belongs to another scheduler (or is an empty Event). Exceptions of actions, timefunc and
// delayfunc propagate to the caller of run(); enter() may throw std::bad_alloc.
// Undefined: destroying a scheduler while a thread is in one of its members.
#pragma once

#include <chrono>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "concur/detail/block_flag.hpp"
#include "concur/detail/event_count.hpp"
#include "concur/detail/fork_registry.hpp"
#include "concur/detail/mutex.hpp"
#include "concur/detail/wait_site.hpp"

namespace concur::sched {

using Clock = std::chrono::steady_clock;

class scheduler;

namespace detail {

// How a thread sleeping in run() is shown in a thread dump.
inline constexpr concur::detail::WaitKind kSchedWait{"sched", "scheduler", false, false};

// One entered event: its key, immutable once entered, and its action. `state` and the action
// belong to the owning scheduler's lock (the action, once taken out of the queue, to the thread
// that took it).
struct EventNode {
  EventNode(Clock::time_point t, int p, std::uint64_t seq, const scheduler* o) noexcept
      : time(t), priority(p), sequence(seq), owner(o) {}
  virtual ~EventNode() = default;
  virtual void invoke() = 0;
  virtual void release() noexcept = 0;  // destroys the action and its arguments

  enum State : std::uint8_t { kQueued, kTaken, kCancelled };
  const Clock::time_point time;
  const int priority;
  std::uint64_t sequence;  // set under the lock by enter, before anyone else sees the node
  const scheduler* const owner;
  State state = kQueued;
};

template <class F, class... Args>
struct ActionNode final : EventNode {
  template <class G, class... A>
  ActionNode(Clock::time_point t, int p, std::uint64_t seq, const scheduler* o, G&& g, A&&... a)
      : EventNode(t, p, seq, o), call(std::in_place, std::forward<G>(g), std::forward<A>(a)...) {}
  void invoke() override { (*call)(); }
  void release() noexcept override { call.reset(); }

  struct Call {
    template <class G, class... A>
    explicit Call(G&& g, A&&... a) : fn(std::forward<G>(g)), args(std::forward<A>(a)...) {}
    void operator()() {
      std::apply([this](auto&... a) { std::invoke(fn, a...); }, args);
    }
    F fn;
    std::tuple<Args...> args;
  };
  std::optional<Call> call;
};

// `base + delay`, saturated to the clock's range (NaN counts as zero).
template <class Rep, class Period>
Clock::time_point saturating_add(Clock::time_point base,
                                 std::chrono::duration<Rep, Period> delay) noexcept {
  using Seconds = std::chrono::duration<double>;
  const double d = Seconds(delay).count();
  if (std::isnan(d) || d == 0.0) return base;
  // Each end's distance from base, in double seconds (integer subtraction could overflow).
  const double at = Seconds(base.time_since_epoch()).count();
  const double up = Seconds(Clock::duration::max()).count() - at;
  const double down = Seconds(Clock::duration::min()).count() - at;
  // Stay a little inside the range: the double round trip is not exact near its ends.
  if (d >= up * 0.999) return Clock::time_point::max();
  if (d <= down * 0.999) return Clock::time_point::min();
  if constexpr (std::is_floating_point_v<Rep>)
    return base + std::chrono::duration_cast<Clock::duration>(Seconds(d));
  else
    return base + std::chrono::duration_cast<Clock::duration>(delay);
}

// A time point of steady_clock in any unit, as Clock::time_point, saturated.
template <class Duration>
Clock::time_point to_clock_time(std::chrono::time_point<Clock, Duration> when) noexcept {
  if constexpr (std::is_same_v<Duration, Clock::duration>)
    return when;
  else
    return saturating_add(Clock::time_point{}, when.time_since_epoch());
}

}  // namespace detail

// A handle on one entered event (Python's sched.Event): cheap to copy, equal to its copies
// only (identity, not value), hashable. An Event keeps its own time and priority readable after
// the event ran or was cancelled, and after its scheduler is gone. A default-constructed Event
// is empty: it belongs to no scheduler (cancel() refuses it); time() and priority() must not be
// called on it.
class Event {
 public:
  Event() noexcept = default;

  [[nodiscard]] Clock::time_point time() const noexcept { return node_->time; }
  [[nodiscard]] int priority() const noexcept { return node_->priority; }
  [[nodiscard]] explicit operator bool() const noexcept { return node_ != nullptr; }

  friend bool operator==(const Event& a, const Event& b) noexcept { return a.node_ == b.node_; }

 private:
  friend class scheduler;
  friend struct std::hash<Event>;
  explicit Event(std::shared_ptr<detail::EventNode> node) noexcept : node_(std::move(node)) {}
  std::shared_ptr<detail::EventNode> node_;
};

class scheduler {
 public:
  using TimeFunc = std::function<Clock::time_point()>;
  using DelayFunc = std::function<void(Clock::duration)>;

  // steady_clock, with run() sleeping on concur's waits (and woken by an earlier event).
  scheduler();
  // Python's scheduler(timefunc, delayfunc). Both must be callable (else ValueError).
  scheduler(TimeFunc timefunc, DelayFunc delayfunc);
  ~scheduler();
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  // Enters fn(args...) to run `delay` from now (timefunc()), with `priority` (lower first).
  template <class Rep, class Period, class F, class... Args>
  Event enter(std::chrono::duration<Rep, Period> delay, int priority, F&& fn, Args&&... args) {
    check_invocable<F, Args...>();
    return enter_node(make_node<F, Args...>(detail::saturating_add(now(), delay), priority,
                                            std::forward<F>(fn), std::forward<Args>(args)...));
  }
  // Enters fn(args...) to run at `time`, a point of steady_clock (or of your timefunc's clock).
  template <class Duration, class F, class... Args>
  Event enterabs(std::chrono::time_point<Clock, Duration> time, int priority, F&& fn,
                 Args&&... args) {
    check_invocable<F, Args...>();
    return enter_node(make_node<F, Args...>(detail::to_clock_time(time), priority,
                                            std::forward<F>(fn), std::forward<Args>(args)...));
  }
  // Python's enter(1, ...) and enterabs(t, ...) with numbers: rejected at compile time.
  template <concur::detail::NumberNotBool N, class... Rest>
  Event enter(N, Rest&&...) {
    static_assert(concur::detail::kRejected<N>,
                  "enter(delay, priority, fn, args...): the delay is a std::chrono duration, not "
                  "a number; for 1 s write enter(1s, ...) or "
                  "enter(std::chrono::duration<double>(1.0), ...)");
    return {};
  }
  template <concur::detail::NumberNotBool N, class... Rest>
  Event enterabs(N, Rest&&...) {
    static_assert(concur::detail::kRejected<N>,
                  "enterabs(time, priority, fn, args...): the time is a "
                  "std::chrono::steady_clock::time_point, not a number; write "
                  "enterabs(std::chrono::steady_clock::now() + 1s, ...)");
    return {};
  }

  // Removes the event from the queue. ValueError when it already ran (or is running), was
  // cancelled, or is not this scheduler's.
  void cancel(const Event& event);

  // True when no event is queued.
  [[nodiscard]] bool empty() const noexcept;
  // The queued events, in the order they will run (a snapshot).
  [[nodiscard]] std::vector<Event> queue() const;

  // Runs the events as they fall due. blocking (the default): until the queue is empty, then
  // returns nullopt. run(false): runs only what is due now and returns the time until the next
  // event, or nullopt when none is left.
  std::optional<Clock::duration> run(bool blocking = true);
  template <concur::detail::NumberNotBool N>
  std::optional<Clock::duration> run(N) {
    static_assert(concur::detail::kRejected<N>,
                  "run(blocking): `blocking` is a bool; write run() or run(false)");
    return std::nullopt;
  }

 private:
  struct Entry {
    Clock::time_point time;
    int priority;
    std::uint64_t sequence;
    std::shared_ptr<detail::EventNode> node;
  };
  // Orders a max-heap so that its top is the event to run first.
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const noexcept { return before(b, a); }
  };
  static bool before(const Entry& a, const Entry& b) noexcept {
    if (a.time != b.time) return a.time < b.time;
    if (a.priority != b.priority) return a.priority < b.priority;
    return a.sequence < b.sequence;
  }

  template <class F, class... Args>
  static void check_invocable() {
    static_assert(std::is_invocable_v<std::decay_t<F>&, std::decay_t<Args>&...>,
                  "enter/enterabs(time, priority, fn, args...): fn cannot be called with args "
                  "(they are stored by value and passed as lvalues; use std::ref for a reference)");
  }

  template <class F, class... Args>
  std::shared_ptr<detail::EventNode> make_node(Clock::time_point time, int priority, F&& fn,
                                               Args&&... args) {
    return std::make_shared<detail::ActionNode<std::decay_t<F>, std::decay_t<Args>...>>(
        time, priority, std::uint64_t{0}, this, std::forward<F>(fn), std::forward<Args>(args)...);
  }

  Clock::time_point now() const { return timefunc_ ? timefunc_() : Clock::now(); }
  Event enter_node(std::shared_ptr<detail::EventNode> node);
  // Under mutex_: drops cancelled entries at the fronts; says where the first event is.
  enum class Source { kNone, kSorted, kHeap };
  Source head_locked() noexcept;
  Entry& front_locked(Source source) noexcept;
  // Removes the first event (marked taken) and hands it out.
  std::shared_ptr<detail::EventNode> take_locked(Source source) noexcept;
  void compact_locked();
  void wake_runners() noexcept;

  const TimeFunc timefunc_{};
  const DelayFunc delayfunc_{};

  mutable concur::detail::Mutex mutex_;
  // The queue: `sorted_` takes events entered in run order (each one not before the last),
  // which is the common case and costs O(1); the others go to the heap `heap_`. The next event
  // is the earlier of the two fronts. Cancelled events stay until they reach a front (or
  // compact_locked() sweeps them out).
  std::deque<Entry> sorted_;
  std::vector<Entry> heap_;
  std::uint64_t next_sequence_ = 0;
  std::size_t live_ = 0;       // queued, not cancelled
  std::size_t cancelled_ = 0;  // cancelled entries still in sorted_ or heap_

  // Default clock: run() sleeps until its first event is due or `generation_` moves, which
  // enter() and cancel() do when they change the first event.
  std::atomic<std::uint64_t> generation_{0};
  concur::detail::EventCount wake_;

  // Every live scheduler, for the at-fork handlers (src/sched/scheduler.cpp).
  friend struct SchedulerForkAccess;
  friend class concur::detail::ForkRegistry<scheduler>;
  concur::detail::ForkLink<scheduler> fork_link_;
};

}  // namespace concur::sched

template <>
struct std::hash<concur::sched::Event> {
  std::size_t operator()(const concur::sched::Event& e) const noexcept {
    return std::hash<const void*>{}(e.node_.get());
  }
};
