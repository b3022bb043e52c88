// The non-template half of concur::futures::detail::StateBase (future_state.hpp).
#include <exception>

#include "concur/detail/text.hpp"
#include "concur/futures/errors.hpp"
#include "concur/futures/detail/future_state.hpp"

namespace concur::futures::detail {

thread_local HelpSource* StateBase::tls_help_ = nullptr;
thread_local bool StateBase::tls_helping_ = false;

namespace {
constexpr bool is_done(std::uint32_t word) noexcept {
  return (word & 3) >= static_cast<std::uint32_t>(Status::kCancelled);
}
}  // namespace

void throw_invalid_state(const char* what) { throw InvalidStateError(what); }

bool StateBase::cancel() noexcept {
  std::uint32_t w = word_.load(std::memory_order_acquire);
  for (;;) {
    const auto s = static_cast<Status>(w & kStatusMask);
    if (s == Status::kCancelled) return true;
    if (s != Status::kPending || (w & kFinishing)) return false;
    // acq_rel: a waiter that sees CANCELLED sees everything before it; we see the flags.
    if (word_.compare_exchange_weak(w, static_cast<std::uint32_t>(Status::kCancelled),
                                    std::memory_order_acq_rel, std::memory_order_acquire)) {
      complete(w);
      return true;
    }
  }
}

bool StateBase::set_running_or_notify_cancel() {
  std::uint32_t w = word_.load(std::memory_order_acquire);
  for (;;) {
    const auto s = static_cast<Status>(w & kStatusMask);
    if (s == Status::kCancelled) return false;
    if (s != Status::kPending || (w & kFinishing))
      throw InvalidStateError("set_running_or_notify_cancel() on a future that is not pending");
    const std::uint32_t running = (w & ~kStatusMask) | static_cast<std::uint32_t>(Status::kRunning);
    if (word_.compare_exchange_weak(w, running, std::memory_order_acq_rel,
                                    std::memory_order_acquire))
      return true;
  }
}

bool StateBase::begin_finish() noexcept {
  std::uint32_t w = word_.load(std::memory_order_acquire);
  for (;;) {
    if (is_done(w) || (w & kFinishing)) return false;
    if (word_.compare_exchange_weak(w, w | kFinishing, std::memory_order_acquire,
                                    std::memory_order_acquire))
      return true;
  }
}

void StateBase::end_finish() noexcept {
  std::uint32_t w = word_.load(std::memory_order_relaxed);
  // release: the outcome stored since begin_finish() before FINISHED.
  while (!word_.compare_exchange_weak(w, static_cast<std::uint32_t>(Status::kFinished),
                                      std::memory_order_acq_rel, std::memory_order_relaxed)) {
  }
  complete(w);
}

void StateBase::abandon_finish() noexcept {
  word_.fetch_and(~kFinishing, std::memory_order_release);
}

bool StateBase::try_set_exception(std::exception_ptr error) noexcept {
  if (!begin_finish()) return false;
  error_ = std::move(error);
  end_finish();
  return true;
}

void StateBase::set_exception(std::exception_ptr error) {
  if (!begin_finish()) throw InvalidStateError("set_exception() on a future that is already done");
  error_ = std::move(error);
  end_finish();
}

std::exception_ptr StateBase::error_after_done() const {
  if (cancelled()) throw CancelledError();
  return error_;
}

void StateBase::complete(std::uint32_t old_word) noexcept {
  if (!(old_word & kWatched)) return;
  std::vector<concur::detail::UniqueFunction<void()>> callbacks;
  {
    concur::detail::MutexGuard guard(mutex_);
    while (concur::detail::WaitNode* n = waiters_.pop_front()) n->signal();
    callbacks.swap(callbacks_);
    for (Listener* l : listeners_) l->on_done(*this);
    listeners_.clear();
  }
  for (auto& cb : callbacks) run_callback(cb);
}

void StateBase::run_callback(concur::detail::UniqueFunction<void()>& callback) noexcept {
  try {
    callback();
  } catch (const std::exception& e) {
    try {
      concur::detail::write_stderr(
          std::string("concur.futures: exception calling callback for a future: ") + e.what() +
          "\n");
    } catch (...) {  // no memory for the message: the short form
      concur::detail::write_stderr("concur.futures: exception calling callback for a future\n");
    }
  } catch (...) {
    concur::detail::write_stderr("concur.futures: exception calling callback for a future\n");
  }
}

// Under mutex_: flags the future as watched unless it is done (returns false then). The
// completer, seeing kWatched, takes mutex_ after us and finds what we register.
bool StateBase::watch_locked() noexcept {
  std::uint32_t w = word_.load(std::memory_order_acquire);
  while (!is_done(w)) {
    if ((w & kWatched) ||
        word_.compare_exchange_weak(w, w | kWatched, std::memory_order_acq_rel,
                                    std::memory_order_acquire))
      return true;
  }
  return false;
}

void StateBase::add_callback(concur::detail::UniqueFunction<void()> callback) {
  {
    concur::detail::MutexGuard guard(mutex_);
    if (watch_locked()) {
      callbacks_.push_back(std::move(callback));
      return;
    }
  }
  run_callback(callback);  // already done: at once, in this thread
}

bool StateBase::add_waiter(concur::detail::WaitNode& node) {
  concur::detail::MutexGuard guard(mutex_);
  if (!watch_locked()) return false;
  waiters_.push_back(&node);
  return true;
}

bool StateBase::remove_waiter(concur::detail::WaitNode& node) noexcept {
  concur::detail::MutexGuard guard(mutex_);
  return waiters_.remove(&node);  // else: signaled under this lock, the signal is complete
}

bool StateBase::add_listener(Listener* listener) {
  concur::detail::MutexGuard guard(mutex_);
  if (!watch_locked()) return false;
  listeners_.push_back(listener);
  return true;
}

void StateBase::remove_listener(Listener* listener) noexcept {
  concur::detail::MutexGuard guard(mutex_);
  for (auto it = listeners_.begin(); it != listeners_.end(); ++it) {
    if (*it == listener) {
      listeners_.erase(it);
      return;
    }
  }
}

bool StateBase::wait_done(const Deadline& deadline) {
  if (done()) return true;
  if (deadline.is_immediate()) return false;
  // A pool worker runs its pool's queued tasks rather than sleep: the one we wait for may be
  // among them, with no other worker free to take it.
  if (HelpSource* help = tls_help_) {
    const bool was_helping = tls_helping_;
    tls_helping_ = true;  // a task run here does not make this worker idle
    while (!done() && !deadline.expired() && help->run_one_queued()) {
    }
    tls_helping_ = was_helping;
    if (done()) return true;
  }
  if (concur::detail::spin_until([this] { return done(); })) return true;
  concur::detail::WaitNode node;
  if (!add_waiter(node)) return true;  // done meanwhile
  const concur::detail::WaitSite site{&kFutureWait, this, {}, nullptr, nullptr};
  if (node.wait(deadline, concur::detail::WaitNode::kNoSpin, &site)) return true;
  remove_waiter(node);  // timed out; a completion that raced us has finished signaling
  return done();
}

}  // namespace concur::futures::detail
