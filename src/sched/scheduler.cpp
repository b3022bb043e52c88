#include "concur/sched/scheduler.hpp"

#include <algorithm>
#include <iterator>

#include "concur/detail/at_fork.hpp"
#include "concur/errors.hpp"

namespace concur::sched {

namespace {
// The time from `now` until `when`, saturated (a simulated clock may start anywhere).
Clock::duration time_until(Clock::time_point when, Clock::time_point now) noexcept {
  using Rep = Clock::duration::rep;
  Rep out;
  if (__builtin_sub_overflow(when.time_since_epoch().count(), now.time_since_epoch().count(), &out))
    return when > now ? Clock::duration::max() : Clock::duration::min();
  return Clock::duration(out);
}
}  // namespace

// --- fork (detail/at_fork.hpp) -----------------------------------------------------------------
// Before a fork every scheduler's mutex_ is taken (after the registry's), so that the child
// never finds a queue half-changed by a thread that does not exist there; the critical sections
// under mutex_ run no user action (run() calls actions after releasing it).
struct SchedulerForkAccess {
  static void prepare() noexcept {
    concur::detail::ForkRegistry<scheduler>::instance().lock_all(
        [](scheduler& s) { s.mutex_.lock(); });
  }
  static void after() noexcept {
    concur::detail::ForkRegistry<scheduler>::instance().unlock_all(
        [](scheduler& s) { s.mutex_.unlock(); });
  }
};

namespace {
[[maybe_unused]] const bool fork_handlers_registered = concur::detail::register_at_fork(
    concur::detail::AtForkLayer::patterns,
    {SchedulerForkAccess::prepare, SchedulerForkAccess::after, SchedulerForkAccess::after});
}  // namespace

scheduler::scheduler() { concur::detail::ForkRegistry<scheduler>::instance().add(this); }

scheduler::scheduler(TimeFunc timefunc, DelayFunc delayfunc)
    : timefunc_(std::move(timefunc)), delayfunc_(std::move(delayfunc)) {
  if (!timefunc_ || !delayfunc_)
    throw ValueError("scheduler(timefunc, delayfunc): both functions must be callable");
  concur::detail::ForkRegistry<scheduler>::instance().add(this);
}

scheduler::~scheduler() {
  concur::detail::ForkRegistry<scheduler>::instance().remove(this);
  // A handle that outlives us must not find its event still queued (cancel() would take it
  // for ours if another scheduler is later made at our address); and the queued actions and
  // their arguments go now, not with the last handle.
  auto drop = [](Entry& e) {
    if (e.node->state == detail::EventNode::kQueued) {
      e.node->state = detail::EventNode::kCancelled;
      e.node->release();
    }
  };
  for (Entry& e : sorted_) drop(e);
  for (Entry& e : heap_) drop(e);
}

scheduler::Source scheduler::head_locked() noexcept {
  using detail::EventNode;
  while (!sorted_.empty() && sorted_.front().node->state == EventNode::kCancelled) {
    sorted_.pop_front();
    --cancelled_;
  }
  while (!heap_.empty() && heap_.front().node->state == EventNode::kCancelled) {
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    heap_.pop_back();
    --cancelled_;
  }
  if (sorted_.empty()) return heap_.empty() ? Source::kNone : Source::kHeap;
  if (heap_.empty()) return Source::kSorted;
  return before(heap_.front(), sorted_.front()) ? Source::kHeap : Source::kSorted;
}

scheduler::Entry& scheduler::front_locked(Source source) noexcept {
  return source == Source::kSorted ? sorted_.front() : heap_.front();
}

std::shared_ptr<detail::EventNode> scheduler::take_locked(Source source) noexcept {
  std::shared_ptr<detail::EventNode> node;
  if (source == Source::kSorted) {
    node = std::move(sorted_.front().node);
    sorted_.pop_front();
  } else {
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    node = std::move(heap_.back().node);
    heap_.pop_back();
  }
  node->state = detail::EventNode::kTaken;
  --live_;
  return node;
}

void scheduler::compact_locked() {
  auto gone = [](const Entry& e) { return e.node->state == detail::EventNode::kCancelled; };
  std::erase_if(sorted_, gone);
  std::erase_if(heap_, gone);
  std::make_heap(heap_.begin(), heap_.end(), Later{});
  cancelled_ = 0;
}

void scheduler::wake_runners() noexcept {
  // seq_cst: the change EventCount::notify_all_after_seq_cst_change() expects; run()'s ready()
  // reads it with a seq_cst load.
  generation_.fetch_add(1, std::memory_order_seq_cst);
  wake_.notify_all_after_seq_cst_change();
}

Event scheduler::enter_node(std::shared_ptr<detail::EventNode> node) {
  bool new_head;
  {
    concur::detail::MutexGuard guard(mutex_);
    node->sequence = next_sequence_++;
    Entry entry{node->time, node->priority, node->sequence, node};
    const Source head = head_locked();
    new_head = head == Source::kNone || before(entry, front_locked(head));
    if (sorted_.empty() || !before(entry, sorted_.back())) {
      sorted_.push_back(std::move(entry));
    } else {
      heap_.push_back(std::move(entry));
      std::push_heap(heap_.begin(), heap_.end(), Later{});
    }
    ++live_;
  }
  // Only a run() on the default clock sleeps where it can be woken; a delayfunc cannot be.
  if (new_head && !timefunc_) wake_runners();
  return Event(std::move(node));
}

void scheduler::cancel(const Event& event) {
  detail::EventNode* node = event.node_.get();
  if (!node) throw ValueError("cancel(event): the Event is empty (it was never entered)");
  if (node->owner != this)
    throw ValueError("cancel(event): the event was not entered in this scheduler");
  bool was_head;
  {
    concur::detail::MutexGuard guard(mutex_);
    if (node->state == detail::EventNode::kTaken)
      throw ValueError("cancel(event): the event is not queued: it already ran");
    if (node->state == detail::EventNode::kCancelled)
      throw ValueError("cancel(event): the event is not queued: it was already cancelled");
    const Source head = head_locked();
    was_head = front_locked(head).node.get() == node;  // queued, so head != kNone
    node->state = detail::EventNode::kCancelled;
    --live_;
    ++cancelled_;
    if (cancelled_ > 64 && cancelled_ > live_) compact_locked();
  }
  node->release();  // we alone changed its state: the action is ours to destroy, unlocked
  if (was_head && !timefunc_) wake_runners();
}

bool scheduler::empty() const noexcept {
  concur::detail::MutexGuard guard(mutex_);
  return live_ == 0;
}

std::vector<Event> scheduler::queue() const {
  std::vector<Entry> entries;
  {
    concur::detail::MutexGuard guard(mutex_);
    entries.reserve(live_);
    auto live = [](const Entry& e) { return e.node->state == detail::EventNode::kQueued; };
    std::copy_if(sorted_.begin(), sorted_.end(), std::back_inserter(entries), live);
    std::copy_if(heap_.begin(), heap_.end(), std::back_inserter(entries), live);
  }
  std::sort(entries.begin(), entries.end(), before);
  std::vector<Event> out;
  out.reserve(entries.size());
  for (Entry& e : entries) out.push_back(Event(std::move(e.node)));
  return out;
}

std::optional<Clock::duration> scheduler::run(bool blocking) {
  for (;;) {
    std::shared_ptr<detail::EventNode> due;
    Clock::time_point when{}, now{};
    std::uint64_t seen = 0;
    {
      concur::detail::MutexGuard guard(mutex_);
      const Source head = head_locked();
      if (head == Source::kNone) return std::nullopt;
      now = this->now();  // under the lock, as Python's run()
      if (front_locked(head).time <= now) {
        due = take_locked(head);
      } else {
        when = front_locked(head).time;
        seen = generation_.load(std::memory_order_relaxed);
      }
    }
    if (due) {
      struct Release {
        detail::EventNode* node;
        ~Release() { node->release(); }
      } release{due.get()};
      due->invoke();
    }
    if (due) {
      due.reset();
      if (delayfunc_) delayfunc_(Clock::duration::zero());  // Python: "let other threads run"
      continue;
    }
    const Clock::duration left = time_until(when, now);
    if (!blocking) return left;
    if (delayfunc_) {
      delayfunc_(left);
      continue;
    }
    const Deadline deadline = Deadline::at(when);
    const concur::detail::WaitSite site{&detail::kSchedWait, this, {}, nullptr, nullptr,
                                        !deadline.is_never()};
    wake_.wait_until([&] { return generation_.load(std::memory_order_seq_cst) != seen; },
                     deadline, &site);
  }
}

}  // namespace concur::sched
