// concur/futures/wait.hpp — waiting for several futures: Python's concurrent.futures.wait()
// and as_completed().
//
//   auto [done, not_done] = cf::wait(futs);                    // ALL_COMPLETED
//   auto [d, nd] = cf::wait(futs, 1s, cf::FIRST_COMPLETED);    // or FIRST_EXCEPTION
//   for (cf::Future<int> g : cf::as_completed(futs)) {}        // as they finish, each once
//   for (cf::Future<int> g : cf::as_completed(future_to_url)) {}  // a map keyed by futures
//   for (cf::Future<int> g : cf::as_completed(futs, 1s)) {}    // TimeoutError if not all in time
//
// `futs` is any range of Future<R> (a future named twice counts once). wait() returns when the
// condition holds or the timeout passes, with the futures split by done() at that moment.
// as_completed() yields the futures that are already done first, then each one as it
// finishes; its timeout counts from the call, and it throws concur::TimeoutError when the
// iteration needs a future that has not finished in time. Neither keeps a reference to a
// future it has handed out, and neither runs tasks while it waits.
//
// Both register a Listener with each pending future (future_state.hpp): the future's completer
// tells it under the future's lock, and unregistering takes that lock, so a listener is never
// called once wait() has returned or the as_completed range is gone. as_completed's listener
// feeds a concur::queue::SimpleQueue that the iteration takes from.
//
// Happens-before: every future wait() puts in `done`, and every future as_completed() yields, was
// seen done by the calling thread through an acquire (its status word, or the listener's queue),
// so its outcome and everything its completer did before completing it are visible there:
// result() and exception() on it return at once. The not_done futures carry no guarantee.
//
// Thread-safety: the futures may complete from any threads; an as_completed range is iterated by
// one thread.
#pragma once

#include <algorithm>
#include <iterator>
#include <atomic>
#include <memory>
#include <string>
#include <type_traits>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ranges>
#include <unordered_set>
#include <utility>
#include <vector>

#include "concur/deadline.hpp"
#include "concur/errors.hpp"
#include "concur/futures/future.hpp"
#include "concur/queue/simple_queue.hpp"
#include "concur/threading/event.hpp"

namespace concur::futures {

enum ReturnWhen { FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED };

template <class R>
struct DoneAndNotDoneFutures {
  std::vector<Future<R>> done;
  std::vector<Future<R>> not_done;
};

namespace detail {

// The future of a range's element: the element itself, or the key of a map keyed by futures
// (Python's wait(future_to_url) and as_completed(future_to_url) iterate the dict's keys).
template <class Element>
struct FutureOf {
  using type = Element;
  static const Element& get(const Element& e) noexcept { return e; }
};
template <class Key, class Value>
struct FutureOf<std::pair<Key, Value>> {
  using type = std::remove_const_t<Key>;
  static const type& get(const std::pair<Key, Value>& e) noexcept { return e.first; }
};

template <class Range>
using future_result_t =
    typename FutureOf<std::ranges::range_value_t<Range>>::type::value_type;

// The distinct futures of a range, in first-seen order.
template <class R, class Range>
std::vector<Future<R>> distinct_futures(Range&& futures) {
  using Of = FutureOf<std::ranges::range_value_t<Range>>;
  std::vector<Future<R>> out;
  std::unordered_set<const StateBase*> seen;
  for (const auto& element : futures) {
    const Future<R>& f = Of::get(element);
    if (seen.insert(f.state_ptr()).second) out.push_back(f);
  }
  return out;
}

// wait()'s listener: counts completions and sets an Event when the condition holds.
class WaitListener final : public Listener {
 public:
  WaitListener(ReturnWhen when, std::size_t pending) : when_(when), pending_(pending) {}
  void on_done(StateBase& state) noexcept override {
    const std::size_t finished = finished_.fetch_add(1, std::memory_order_acq_rel) + 1;
    if (when_ == FIRST_COMPLETED || finished == pending_ ||
        (when_ == FIRST_EXCEPTION && state.failed()))
      event_.set();
  }
  bool wait(const Deadline& deadline) { return event_.wait_until(deadline); }

 private:
  const ReturnWhen when_;
  const std::size_t pending_;
  std::atomic<std::size_t> finished_{0};
  threading::Event event_;
};

// as_completed()'s listener: queues each finished future for the iteration.
class CompletionQueue final : public Listener {
 public:
  void on_done(StateBase& state) noexcept override {
    state.add_ref();
    finished_.put(StateRef(&state));
  }
  std::optional<StateRef> take(const Deadline& deadline) { return finished_.try_get_until(deadline); }

 private:
  queue::SimpleQueue<StateRef> finished_;
};

}  // namespace detail

template <std::ranges::input_range Range>
auto wait(Range&& futures, ReturnWhen return_when = ALL_COMPLETED)
    -> DoneAndNotDoneFutures<detail::future_result_t<Range>>;

template <std::ranges::input_range Range, class Rep, class Period>
auto wait(Range&& futures, std::chrono::duration<Rep, Period> timeout,
          ReturnWhen return_when = ALL_COMPLETED)
    -> DoneAndNotDoneFutures<detail::future_result_t<Range>>;

namespace detail {

template <class R>
DoneAndNotDoneFutures<R> split_by_done(std::vector<Future<R>>&& all) {
  DoneAndNotDoneFutures<R> out;
  for (Future<R>& f : all) (f.done() ? out.done : out.not_done).push_back(std::move(f));
  return out;
}

template <class R>
DoneAndNotDoneFutures<R> wait_until(std::vector<Future<R>> all, const Deadline& deadline,
                                    ReturnWhen when) {
  DoneAndNotDoneFutures<R> now = split_by_done(std::move(all));
  const bool satisfied =
      now.not_done.empty() || (when == FIRST_COMPLETED && !now.done.empty()) ||
      (when == FIRST_EXCEPTION &&
       std::ranges::any_of(now.done, [](const Future<R>& f) { return f.state_ptr()->failed(); }));
  if (satisfied || deadline.is_immediate()) return now;

  WaitListener listener(when, now.not_done.size());
  std::vector<StateBase*> registered;
  for (const Future<R>& f : now.not_done) {
    if (f.state_ptr()->add_listener(&listener))
      registered.push_back(f.state_ptr());
    else
      listener.on_done(*f.state_ptr());  // finished meanwhile: count it as the listener would
  }
  listener.wait(deadline);
  for (StateBase* s : registered) s->remove_listener(&listener);

  std::vector<Future<R>> again = std::move(now.done);
  for (Future<R>& f : now.not_done) again.push_back(std::move(f));
  return split_by_done(std::move(again));
}

}  // namespace detail

template <std::ranges::input_range Range>
auto wait(Range&& futures, ReturnWhen return_when)
    -> DoneAndNotDoneFutures<detail::future_result_t<Range>> {
  using R = detail::future_result_t<Range>;
  return detail::wait_until(detail::distinct_futures<R>(futures), Deadline::never(),
                            return_when);
}

template <std::ranges::input_range Range, class Rep, class Period>
auto wait(Range&& futures, std::chrono::duration<Rep, Period> timeout, ReturnWhen return_when)
    -> DoneAndNotDoneFutures<detail::future_result_t<Range>> {
  using R = detail::future_result_t<Range>;
  return detail::wait_until(detail::distinct_futures<R>(futures),
                            Deadline::after(timeout), return_when);
}

// The range returned by as_completed(). Move-only; see the header comment.
template <class R>
class AsCompleted {
 public:
  AsCompleted(std::vector<Future<R>> all, const Deadline& deadline)
      : deadline_(deadline), total_(all.size()), queue_(std::make_unique<detail::CompletionQueue>()) {
    for (Future<R>& f : all) {
      if (!f.done() && f.state_ptr()->add_listener(queue_.get()))
        pending_.push_back(std::move(f));
      else
        ready_.push_back(std::move(f));
    }
    remaining_ = pending_.size();
  }
  AsCompleted(AsCompleted&&) noexcept = default;
  AsCompleted& operator=(AsCompleted&&) noexcept = default;
  ~AsCompleted() {
    if (queue_)
      for (const Future<R>& f : pending_) f.state_ptr()->remove_listener(queue_.get());
  }

  // A single-pass input iterator; end() is a default-constructed one (a common range, so that
  // std::vector v(r.begin(), r.end()) collects the futures in completion order).
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Future<R>;
    using difference_type = std::ptrdiff_t;
    using reference = Future<R>;
    using pointer = void;
    iterator() = default;
    explicit iterator(AsCompleted* owner) : owner_(owner) { owner_->fetch(); }
    Future<R> operator*() const { return *owner_->current_; }
    iterator& operator++() {
      owner_->fetch();
      return *this;
    }
    void operator++(int) { ++*this; }
    // Equal when both are at the end, or both not at the end (one pass only).
    friend bool operator==(const iterator& a, const iterator& b) {
      return a.at_end() == b.at_end();
    }
    friend bool operator==(const iterator& it, std::default_sentinel_t) { return it.at_end(); }

   private:
    bool at_end() const { return !owner_ || !owner_->current_; }
    AsCompleted* owner_ = nullptr;
  };

  iterator begin() { return iterator(this); }
  iterator end() const noexcept { return iterator(); }

 private:
  // Moves the next future into current_ (nullopt at the end); drops the one handed out.
  void fetch() {
    current_.reset();
    if (!ready_.empty()) {
      current_.emplace(std::move(ready_.back()));
      ready_.pop_back();
      return;
    }
    if (remaining_ == 0) return;
    std::optional<detail::StateRef> finished = queue_->take(deadline_);
    if (!finished) {
      throw TimeoutError(std::to_string(remaining_) + " (of " + std::to_string(total_) +
                         ") futures unfinished");
    }
    --remaining_;
    // Its completer may still be inside our listener (the put above): unregistering takes the
    // future's lock, so once it returns nobody touches queue_ on this future's behalf.
    (*finished)->remove_listener(queue_.get());
    // Hand out our own handle and forget it, so that nothing here keeps it alive.
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (it->state_ptr() == finished->get()) {
        current_.emplace(std::move(*it));
        *it = std::move(pending_.back());
        pending_.pop_back();
        break;
      }
    }
  }

  std::vector<Future<R>> ready_;    // done before the call: handed out first
  std::vector<Future<R>> pending_;  // registered with queue_, not handed out yet
  std::optional<Future<R>> current_;
  Deadline deadline_;
  std::size_t total_;
  std::size_t remaining_ = 0;
  std::unique_ptr<detail::CompletionQueue> queue_;  // stable address for the listeners
};

template <std::ranges::input_range Range>
AsCompleted<detail::future_result_t<Range>> as_completed(Range&& futures) {
  using R = detail::future_result_t<Range>;
  return AsCompleted<R>(detail::distinct_futures<R>(futures), Deadline::never());
}

template <std::ranges::input_range Range, class Rep, class Period>
AsCompleted<detail::future_result_t<Range>> as_completed(Range&& futures,
                                                         std::chrono::duration<Rep, Period> timeout) {
  using R = detail::future_result_t<Range>;
  return AsCompleted<R>(detail::distinct_futures<R>(futures), Deadline::after(timeout));
}

}  // namespace concur::futures
