// aio::timeout() (include/concur/asyncio/timeouts.hpp).
#include "concur/asyncio/timeouts.hpp"

#include <climits>

namespace concur::asyncio::detail {

TimeoutScope::~TimeoutScope() {
  if (queued()) task_.loop()->remove_timer(this);
  // An expiry that no co_await delivered: take its cancellation request back.
  if (state_ == State::kExpiring) task_.uncancel();
  state_ = State::kExited;
  for (TimeoutScope** p = &task_.timeouts; *p != nullptr; p = &(*p)->outer_) {
    if (*p == this) {
      *p = outer_;
      break;
    }
  }
}

void TimeoutScope::reschedule(std::optional<Clock::time_point> when) {
  if (state_ != State::kActive)
    throw RuntimeError("cannot reschedule a timeout that has expired");
  deadline_ = when;
  EventLoop* loop = task_.loop();
  if (queued()) loop->remove_timer(this);
  if (when) loop->add_timer(this, *when);
}

void TimeoutScope::fire() noexcept {
  state_ = State::kExpiring;
  task_.cancel();
}

bool TimeoutScope::convert_at_cancellation(TaskCore& task) noexcept {
  bool converted = false;
  int entry = INT_MAX;
  for (TimeoutScope* s = task.timeouts; s != nullptr; s = s->outer_) {
    if (s->state_ != State::kExpiring) continue;
    s->state_ = State::kExpired;
    task.uncancel();
    if (s->entry_cancelling_ < entry) entry = s->entry_cancelling_;
    converted = true;
  }
  return converted && task.cancelling() <= entry;
}

}  // namespace concur::asyncio::detail
