// aio::EventLoop (include/concur/asyncio/event_loop.hpp).
#include "concur/asyncio/event_loop.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <string>

#include "concur/detail/at_fork.hpp"
#include "concur/detail/futex.hpp"
#include "concur/detail/text.hpp"
#include "concur/futures/thread_pool.hpp"

namespace concur::asyncio {
namespace detail {

void Callback::fire() noexcept { loop->queue_ready(this); }  // self goes on holding it

void Callback::run_remote() noexcept {
  if (cancelled.load(std::memory_order_relaxed)) self.reset();  // may be the last reference
  else loop->queue_ready(this);
}

void Callback::run() noexcept {
  if (cancelled.load(std::memory_order_relaxed)) return;
  try {
    fn();
  } catch (...) {
    concur::detail::write_stderr("Exception in callback: " +
                                 concur::detail::describe_exception(std::current_exception()) +
                                 "\n");
  }
}

// In a child forked from inside a running loop, no loop and no task are running: the parent's
// loop shares its epoll instance and eventfd with the parent and is not to be used there, and
// aio::run() makes a new loop (Python 3.12's child handler resets its running loop the same
// way). The forking thread is the child's only thread, so only its variables need clearing.
struct LoopForkAccess {
  static void child() noexcept {
    EventLoop::tls_running = nullptr;
    TaskCore::tls_running = nullptr;
  }
};
namespace {
[[maybe_unused]] const bool fork_handlers_registered = concur::detail::register_at_fork(
    concur::detail::AtForkLayer::asyncio, {nullptr, nullptr, &LoopForkAccess::child});
}  // namespace

}  // namespace detail

void Handle::cancel() noexcept {
  if (!cb_ || cb_->cancelled.exchange(true, std::memory_order_relaxed)) return;
  // A timer leaves the heap at once (exact cancellation). Timers live in the heap only through
  // call_later/call_at, which belong to the loop's thread, as does this call then.
  if (cb_->queued()) {
    cb_->loop->remove_timer(cb_.get());
    cb_->self.reset();  // not the last reference: this handle holds one
  }
}

EventLoop& get_running_loop() {
  EventLoop* loop = EventLoop::running_loop();
  if (loop == nullptr) throw RuntimeError("no running event loop");
  return *loop;
}

EventLoop::EventLoop() {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) concur::detail::throw_os_error(errno, "epoll_create1");
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    const int err = errno;
    ::close(epoll_fd_);
    concur::detail::throw_os_error(err, "eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  events_.resize(128);
}

EventLoop::~EventLoop() {
  if (tasks_head_ != nullptr && !running_) {
    // Nothing pending is destroyed: cancel what is left and let it finish (as aio::run).
    const bool was_closed = closed_.load(std::memory_order_relaxed);
    closed_.store(false, std::memory_order_relaxed);
    try {
      cancel_all_tasks();
    } catch (...) {
    }
    closed_.store(was_closed, std::memory_order_relaxed);
  }
  try {
    shutdown_default_executor();
  } catch (...) {
  }
  while (!teardown_.empty()) {
    auto hook = std::move(teardown_.back());
    teardown_.pop_back();
    hook();
  }
  // Callbacks still queued or in the heap die with the loop.
  drain_remote();
  for (const TimerEntry& e : heap_) e.node->heap_index = detail::TimerNode::kNotQueued;
  for (const TimerEntry& e : heap_)
    if (auto* cb = dynamic_cast<detail::Callback*>(e.node)) cb->self.reset();
  heap_.clear();
  while (detail::ReadyNode* n = ready_head_) {
    ready_head_ = n->ready_next;
    n->in_ready = false;
    if (!n->is_task) static_cast<detail::Callback*>(n)->self.reset();
  }
  ready_tail_ = nullptr;
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

void EventLoop::check_open() const {
  if (closed_.load(std::memory_order_relaxed)) throw RuntimeError("Event loop is closed");
}

void EventLoop::enter_running() {
  check_open();
  if (running_) throw RuntimeError("This event loop is already running");
  if (tls_running != nullptr)
    throw RuntimeError("Cannot run the event loop while another loop is running");
  saved_running_ = tls_running;
  tls_running = this;
  running_ = true;
}

void EventLoop::leave_running() noexcept {
  running_ = false;
  stopping_ = false;
  tls_running = saved_running_;
}

void EventLoop::run_forever() {
  const Running running(*this);
  while (!stopping_) run_once();
}

void EventLoop::run_until_done(detail::TaskCore* task) {
  const Running running(*this);
  while (!task->done()) {
    if (stopping_) throw RuntimeError("Event loop stopped before Future completed.");
    run_once();
  }
}

void EventLoop::stop() noexcept { stopping_ = true; }

void EventLoop::close() {
  if (running_) throw RuntimeError("Cannot close a running event loop");
  if (closed_.load(std::memory_order_relaxed)) return;
  shutdown_default_executor();
  closed_.store(true, std::memory_order_relaxed);
}

void EventLoop::cancel_all_tasks() {
  if (tasks_head_ == nullptr) return;
  for (detail::TaskCore* t = tasks_head_; t != nullptr; t = t->next_scheduled) t->cancel();
  const Running running(*this);
  stopping_ = false;
  while (tasks_head_ != nullptr) run_once();
}

concur::futures::ThreadPoolExecutor& EventLoop::default_executor() {
  if (!default_executor_) {
    check_open();
    default_executor_ = std::make_unique<concur::futures::ThreadPoolExecutor>(
        concur::futures::ThreadPoolOptions{.thread_name_prefix = "asyncio"});
  }
  return *default_executor_;
}

void EventLoop::shutdown_default_executor() {
  if (default_executor_) default_executor_->shutdown(true);
}

// ---- queues ------------------------------------------------------------------------------------

void EventLoop::task_scheduled(detail::TaskCore* task) noexcept {
  task->add_ref();
  task->prev_scheduled = nullptr;
  task->next_scheduled = tasks_head_;
  if (tasks_head_) tasks_head_->prev_scheduled = task;
  tasks_head_ = task;
}

// ---- timers: a binary min-heap on (when, seq) with each node's index kept in the node ----------

// The keys live in the heap's array, so that a comparison does not visit the nodes (each in a
// different coroutine frame): only a move writes a node's index.
namespace {
bool earlier(const EventLoop::TimerEntry& a, const EventLoop::TimerEntry& b) noexcept {
  return a.when < b.when || (a.when == b.when && a.seq < b.seq);
}
}  // namespace

void EventLoop::heap_swap(std::size_t a, std::size_t b) noexcept {
  std::swap(heap_[a], heap_[b]);
  heap_[a].node->heap_index = a;
  heap_[b].node->heap_index = b;
}
void EventLoop::heap_up(std::size_t i) noexcept {
  while (i > 0) {
    const std::size_t parent = (i - 1) / 2;
    if (!earlier(heap_[i], heap_[parent])) break;
    heap_swap(i, parent);
    i = parent;
  }
}
void EventLoop::heap_down(std::size_t i) noexcept {
  for (;;) {
    const std::size_t l = 2 * i + 1, r = l + 1;
    std::size_t m = i;
    if (l < heap_.size() && earlier(heap_[l], heap_[m])) m = l;
    if (r < heap_.size() && earlier(heap_[r], heap_[m])) m = r;
    if (m == i) return;
    heap_swap(i, m);
    i = m;
  }
}

void EventLoop::add_timer(detail::TimerNode* node, time_point when) {
  check_open();
  if (node->queued()) remove_timer(node);
  node->when = when;
  node->seq = ++timer_seq_;
  heap_.push_back(TimerEntry{when, node->seq, node});
  node->heap_index = heap_.size() - 1;
  heap_up(node->heap_index);
}

void EventLoop::remove_timer(detail::TimerNode* node) noexcept {
  if (!node->queued()) return;
  const std::size_t i = node->heap_index;
  const std::size_t last = heap_.size() - 1;
  if (i != last) heap_swap(i, last);
  heap_.pop_back();
  node->heap_index = detail::TimerNode::kNotQueued;
  if (i < heap_.size()) {
    heap_down(i);
    heap_up(i);
  }
}

void EventLoop::run_due_timers() {
  if (heap_.empty()) return;
  const time_point now = clock::now();
  while (!heap_.empty() && heap_.front().when <= now) {
    detail::TimerNode* n = heap_.front().node;
    remove_timer(n);
    n->fire();
  }
}

// ---- other threads -----------------------------------------------------------------------------

void EventLoop::push_remote(detail::RemoteItem* item) {
  // Treiber push (seq_cst). Dekker with run_once(): the loop sets sleeping_ then re-reads
  // remote_head_ before it blocks; we push, then read sleeping_. Either it sees our item, or we
  // see it asleep and write the eventfd (once per sleep: wake_pending_).
  item->remote_next = remote_head_.load(std::memory_order_relaxed);
  while (!remote_head_.compare_exchange_weak(item->remote_next, item, std::memory_order_seq_cst,
                                             std::memory_order_relaxed)) {
  }
  if (sleeping_.load(std::memory_order_seq_cst) &&
      !wake_pending_.exchange(true, std::memory_order_acq_rel)) {
    const std::uint64_t one = 1;
    ssize_t r;
    do r = ::write(wake_fd_, &one, sizeof one);
    while (r < 0 && errno == EINTR);
  }
}

void EventLoop::drain_remote() noexcept {
  if (remote_head_.load(std::memory_order_relaxed) == nullptr) return;
  detail::RemoteItem* list = remote_head_.exchange(nullptr, std::memory_order_acquire);
  detail::RemoteItem* fifo = nullptr;  // the list is newest first: reverse it
  while (list) {
    detail::RemoteItem* next = list->remote_next;
    list->remote_next = fifo;
    fifo = list;
    list = next;
  }
  while (fifo) {
    detail::RemoteItem* next = fifo->remote_next;
    fifo->run_remote();
    fifo = next;
  }
}

// ---- file descriptors --------------------------------------------------------------------------

void EventLoop::watch(int fd, std::uint32_t event, std::shared_ptr<detail::Callback> cb) {
  auto [it, added] = watches_.try_emplace(fd);
  Watch& w = it->second;
  const std::uint32_t before = (w.reader ? EPOLLIN : 0u) | (w.writer ? EPOLLOUT : 0u);
  (event == EPOLLIN ? w.reader : w.writer) = std::move(cb);
  const std::uint32_t after = (w.reader ? EPOLLIN : 0u) | (w.writer ? EPOLLOUT : 0u);
  if (before == after) return;
  epoll_event ev{};
  ev.events = after;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_, before == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev) < 0) {
    const int err = errno;
    (event == EPOLLIN ? w.reader : w.writer).reset();
    if (before == 0) watches_.erase(it);
    concur::detail::throw_os_error(err, "epoll_ctl");
  }
}

bool EventLoop::unwatch(int fd, std::uint32_t event) {
  auto it = watches_.find(fd);
  if (it == watches_.end()) return false;
  Watch& w = it->second;
  std::shared_ptr<detail::Callback>& slot = event == EPOLLIN ? w.reader : w.writer;
  if (!slot) return false;
  slot->cancelled.store(true, std::memory_order_relaxed);  // a queued run is void now
  slot.reset();
  const std::uint32_t after = (w.reader ? EPOLLIN : 0u) | (w.writer ? EPOLLOUT : 0u);
  epoll_event ev{};
  ev.events = after;
  ev.data.fd = fd;
  if (after == 0) {
    watches_.erase(it);
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, &ev);  // fails harmlessly if fd was closed
  } else {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
  }
  return true;
}

// A descriptor's callback is held by its Watch; while queued it holds itself too, so that a
// remove_reader() before it runs cannot free it (it is then cancelled and does nothing).
void EventLoop::queue_watch(const std::shared_ptr<detail::Callback>& cb) noexcept {
  if (cb->in_ready) return;
  cb->self = cb;
  queue_ready(cb.get());
}

void EventLoop::poll_io(int timeout_ms) {
  int n;
  do n = ::epoll_wait(epoll_fd_, events_.data(), static_cast<int>(events_.size()), timeout_ms);
  while (n < 0 && errno == EINTR);
  sleeping_.store(false, std::memory_order_relaxed);
  for (int i = 0; i < n; ++i) {
    const int fd = events_[i].data.fd;
    const std::uint32_t ev = events_[i].events;
    if (fd == wake_fd_) {
      std::uint64_t value;
      while (::read(wake_fd_, &value, sizeof value) > 0) {
      }
      wake_pending_.store(false, std::memory_order_release);
      continue;
    }
    auto it = watches_.find(fd);
    if (it == watches_.end()) continue;
    // Errors and hang-ups wake both sides, as selectors do: the callbacks find out by reading.
    if ((ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) && it->second.reader) queue_watch(it->second.reader);
    if ((ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && it->second.writer) queue_watch(it->second.writer);
  }
  if (n == static_cast<int>(events_.size())) events_.resize(events_.size() * 2);
}

void EventLoop::run_once() {
  int timeout_ms = 0;
  if (ready_head_ == nullptr && !stopping_) {
    if (heap_.empty()) {
      timeout_ms = -1;
    } else {
      const auto wait = heap_.front().when - clock::now();
      if (wait > clock::duration::zero()) {
        // Round up: waking before the timer is due would only spin once more.
        timeout_ms = static_cast<int>(std::min<long long>(
            std::chrono::ceil<std::chrono::milliseconds>(wait).count(), 1 << 30));
      }
    }
  }
  // Before sleeping, spin briefly for a call from another thread: a reply (a cf::Future done,
  // run_coroutine_threadsafe, a ping-pong) usually comes within microseconds, far sooner than
  // an eventfd write and an epoll wake-up. The budget adapts (detail/futex.hpp): a loop that is
  // never called from outside spins next to nothing.
  if (timeout_ms != 0 && concur::detail::spin_until([this] {
        return remote_head_.load(std::memory_order_acquire) != nullptr;
      }))
    timeout_ms = 0;
  if (timeout_ms != 0) {
    sleeping_.store(true, std::memory_order_seq_cst);
    if (remote_head_.load(std::memory_order_seq_cst) != nullptr) timeout_ms = 0;
    poll_io(timeout_ms);
    polled_last_ = true;
  } else if (!watches_.empty()) {
    // Callbacks are ready: look for I/O without waiting, but only every other such iteration
    // (the one right after a poll has nothing new to find, and a system call per iteration is
    // most of a request's cost on loopback). I/O is still seen at least every second iteration.
    if (!polled_last_) poll_io(0);
    polled_last_ = !polled_last_;
  }
  drain_remote();
  run_due_timers();

  // Run what is ready now; what these callbacks schedule waits for the next iteration.
  detail::ReadyNode* const last = ready_tail_;
  while (detail::ReadyNode* n = ready_head_) {
    ready_head_ = n->ready_next;
    if (ready_head_ == nullptr) ready_tail_ = nullptr;
    n->in_ready = false;
    const bool was_last = n == last;
    run_ready(n);  // n may be gone after this
    if (was_last) break;
  }
}

void EventLoop::run_ready(detail::ReadyNode* node) noexcept {
  if (!node->is_task) {
    auto* cb = static_cast<detail::Callback*>(node);
    const std::shared_ptr<detail::Callback> me = std::move(cb->self);  // released after the run
    cb->run();
    return;
  }
  auto* t = static_cast<detail::TaskCore*>(node);
  t->step();
  if (t->done()) {
    // Unlink from the loop's tasks and drop the loop's reference (the frame may go now).
    if (t->prev_scheduled) t->prev_scheduled->next_scheduled = t->next_scheduled;
    else tasks_head_ = t->next_scheduled;
    if (t->next_scheduled) t->next_scheduled->prev_scheduled = t->prev_scheduled;
    t->prev_scheduled = t->next_scheduled = nullptr;
    t->release();
  }
}

}  // namespace concur::asyncio
