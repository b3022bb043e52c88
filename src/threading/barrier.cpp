// Barrier: CPython's state machine. A round goes filling -> draining -> filling; the last thread
// out of a draining (or resetting) round re-opens the barrier for the next one, so a fast
// thread cannot lap the slow ones and join the round they are still leaving.
#include "concur/threading/barrier.hpp"
#include "concur/threading/detail/wait_kinds.hpp"

#include <mutex>

namespace concur::threading {

Barrier::Barrier(std::ptrdiff_t parties, std::function<void()> action)
    : parties_(parties < 1 ? throw ValueError("a Barrier needs at least 1 party")
                           : static_cast<std::size_t>(parties)),
      action_(std::move(action)) {
  cond_.shown_kind_ = &detail::kBarrierWait;  // dumps show "barrier", not its condition
  cond_.shown_as_ = this;
}

std::size_t Barrier::wait_until(const Deadline& deadline) {
  std::unique_lock<Lock> held(lock_);
  enter();
  const std::size_t index = count_++;
  struct Leave {
    Barrier* b;
    ~Leave() { b->leave(); }
  } on_exit{this};
  if (index + 1 == parties_)
    release_round();
  else
    await_round(deadline);
  return index;
}

// Block while a previous round drains or resets; refuse a broken barrier.
void Barrier::enter() {
  while (state_ == State::draining || state_ == State::resetting) cond_.wait();
  if (state_ == State::broken) throw BrokenBarrierError();
}

// Last arrival: run the action, then let everyone go.
void Barrier::release_round() {
  try {
    if (action_) action_();
  } catch (...) {
    break_barrier();
    throw;
  }
  state_ = State::draining;
  cond_.notify_all();
}

void Barrier::await_round(const Deadline& deadline) {
  auto round_over = [this] { return state_ != State::filling; };
  if (!cond_.wait_for_until(round_over, deadline)) {
    break_barrier();
    throw BrokenBarrierError("the barrier wait timed out and broke the barrier");
  }
  if (state_ == State::broken || state_ == State::resetting) throw BrokenBarrierError();
}

// Every thread leaving wait(), normally or by exception; the last one re-opens the barrier.
void Barrier::leave() {
  --count_;
  if (count_ == 0 && (state_ == State::draining || state_ == State::resetting)) {
    state_ = State::filling;
    cond_.notify_all();
  }
}

void Barrier::break_barrier() {
  state_ = State::broken;
  cond_.notify_all();
}

void Barrier::reset() {
  std::lock_guard<Lock> held(lock_);
  if (count_ > 0) {
    if (state_ == State::filling || state_ == State::broken) state_ = State::resetting;
  } else {
    state_ = State::filling;
  }
  cond_.notify_all();
}

void Barrier::abort() {
  std::lock_guard<Lock> held(lock_);
  break_barrier();
}


}  // namespace concur::threading
