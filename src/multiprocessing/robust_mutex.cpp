// The robust lock word (concur/multiprocessing/detail/robust_mutex.hpp).
#include "concur/multiprocessing/detail/robust_mutex.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>

#include "concur/detail/at_fork.hpp"
#include "concur/detail/futex.hpp"

namespace concur::multiprocessing::detail {
namespace {

// The node-to-word distance RobustWord implies, which the thread's list must use.
static_assert(sizeof(std::atomic<std::uint32_t>) == 4 && sizeof(std::atomic<std::uint64_t>) == 8);
static_assert(sizeof(void*) == 8, "the robust lock layout is glibc's 64-bit one");

// Removes from the calling thread's list every node of ours whose word this thread does not
// hold: nodes whose lock another thread released for us (see the header comment).
void sweep(ThreadRobust& t) noexcept {
  if (t.head == nullptr) return;
  void* head_node = t.head;
  void* n = t.head->list;
  for (int guard = 0; guard < 4096 && n != nullptr; ++guard) {
    void* node = next_slot(n);
    if (node == head_node) return;
    void* after = *next_slot(node);
    auto* bytes = static_cast<std::byte*>(node);
    std::uint64_t magic;
    std::memcpy(&magic, bytes - 16, sizeof magic);
    if (magic == kRobustMagic) {
      auto* r = reinterpret_cast<RobustWord*>(bytes - 32);
      if ((r->word.load(std::memory_order_relaxed) & kFutexTidMask) != t.tid &&
          r->linked.load(std::memory_order_relaxed) == t.self) {
        dequeue(*r);
        r->linked.store(0, std::memory_order_release);
      }
    }
    n = after;
  }
}

struct Sweeper {
  ~Sweeper() {
    ThreadRobust& t = tls_robust;
    if (t.tid != 0 && static_cast<pid_t>(t.self >> 32) == ::getpid()) sweep(t);
  }
};
thread_local Sweeper tls_sweeper;

// Whether thread `linked` (pid << 32 | tid) is gone: its robust list cannot hold anything.
bool thread_gone(std::uint64_t linked) noexcept {
  const auto pid = static_cast<pid_t>(linked >> 32);
  const auto tid = static_cast<pid_t>(linked & 0xffffffffu);
  if (::syscall(SYS_tgkill, pid, tid, 0) != 0) return errno == ESRCH;
  // A process that died but was not reaped yet still answers: look at its state.
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/task/%d/stat", static_cast<int>(pid),
                static_cast<int>(tid));
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT;
  char buf[512];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  const char* paren = std::strrchr(buf, ')');
  if (paren == nullptr || paren[1] == '\0' || paren[2] == '\0') return false;
  return paren[2] == 'Z' || paren[2] == 'X' || paren[2] == 'x';
}

void forget_after_fork() noexcept { tls_robust = ThreadRobust{}; }

// Registered when the library is loaded, as every module's fork handlers are: a function-local
// static here was initialized by the first thread to lock, and a fork by another thread during
// that initialization left the child's guard "in progress" forever, so that the child's first
// lock hung (a Pool worker forked while the test's main thread took its first robust lock).
[[maybe_unused]] const bool fork_handlers_registered = concur::detail::register_at_fork(
    concur::detail::AtForkLayer::detail, {nullptr, nullptr, &forget_after_fork});

}  // namespace

ThreadRobust& init_thread_robust() noexcept {
  ThreadRobust& t = tls_robust;
  const auto tid = static_cast<std::uint32_t>(::syscall(SYS_gettid));
  t.self = (std::uint64_t{static_cast<std::uint32_t>(::getpid())} << 32) | tid;
  RobustHead* head = nullptr;
  std::size_t len = 0;
  if (::syscall(SYS_get_robust_list, 0, &head, &len) == 0 && head != nullptr &&
      len == sizeof(RobustHead) && head->futex_offset == kRobustFutexOffset)
    t.head = head;
  else
    t.head = nullptr;
  (void)&tls_sweeper;  // constructs it: the thread's exit sweeps its list
  t.tid = tid;
  return t;
}

bool robust_supported() noexcept { return thread_robust().head != nullptr; }

void link_slow(RobustWord& m, ThreadRobust& t, std::uint64_t linked) noexcept {
  // The node is on another thread's list. Adopt it if that thread is gone; otherwise hold the
  // lock unprotected until that thread sweeps.
  if (!thread_gone(linked)) return;
  if (m.linked.compare_exchange_strong(linked, t.self, std::memory_order_acquire,
                                       std::memory_order_relaxed))
    enqueue(m, t.head);
}

Taken lock_slow(RobustWord& m, const Deadline& deadline) noexcept {
  ThreadRobust& t = thread_robust();
  auto done = [&](Taken r) {
    if (t.head != nullptr) {
      std::atomic_signal_fence(std::memory_order_seq_cst);
      t.head->list_op_pending = nullptr;
    }
    return r;
  };
  sweep(t);  // nodes other threads released for us: off our list before we may sleep
  bool spun = false, slept = false;
  for (;;) {
    std::uint32_t v = m.word.load(std::memory_order_relaxed);
    if ((v & kFutexTidMask) == 0) {
      // Free, or free because its owner died (FUTEX_OWNER_DIED). Having slept, we cannot know
      // that nobody else sleeps: keep the waiters bit, so that our release wakes one.
      const std::uint32_t want = t.tid | ((slept || (v & kFutexWaiters) != 0) ? kFutexWaiters : 0);
      if (!m.word.compare_exchange_weak(v, want, std::memory_order_acquire,
                                        std::memory_order_relaxed))
        continue;
      if (t.head != nullptr) link_taken(m, t);
      if ((v & kFutexOwnerDied) == 0) return done(Taken::yes);
      // We took it from a dead owner: mend what it left and give it back, unlocked.
      m.depth = 0;
      (void)done(Taken::yes);
      unlock(m);
      return Taken::owner_died;
    }
    if (deadline.expired()) return done(Taken::timed_out);
    if (!spun) {
      // As a threading Lock's waiter: look with backoff while nobody sleeps, so that the holder
      // runs in batches (a look at every pause takes the word's line from it at each one).
      spun = true;
      concur::detail::spin_for_lock(
          m.word, concur::detail::tuning::kSharedLockLongestBackoff,
          [](std::uint32_t w) { return (w & kFutexWaiters) != 0; },
          [](std::uint32_t w) { return (w & kFutexTidMask) == 0; }, [] { return true; });
      continue;
    }
    if ((v & kFutexWaiters) == 0) {
      if (!m.word.compare_exchange_weak(v, v | kFutexWaiters, std::memory_order_relaxed,
                                        std::memory_order_relaxed))
        continue;
      v |= kFutexWaiters;
    }
    slept = true;
    concur::detail::futex_wait_shared(m.word, v, deadline);
  }
}

bool unlock_unlocked(RobustWord& m, std::uint32_t was) noexcept {
  // It was not locked (a release too many): put back a death mark the exchange erased.
  if (was != 0) {
    std::uint32_t expected = 0;
    m.word.compare_exchange_strong(expected, was, std::memory_order_relaxed);
  }
  return false;
}

bool unlock_slow(RobustWord& m) noexcept {
  // Not on our list: a release for another thread (or a lock held unprotected).
  std::uint32_t v = m.word.load(std::memory_order_relaxed);
  for (;;) {
    if ((v & kFutexTidMask) == 0) return false;
    if (m.word.compare_exchange_weak(v, 0, std::memory_order_release, std::memory_order_relaxed))
      break;
  }
  if ((v & kFutexWaiters) != 0) concur::detail::futex_wake_shared(m.word, 1);
  return true;
}

// Called by a segment about to be unmapped (shared_memory.cpp): a node still on a list of this
// process must stay mapped, or glibc's next list operation (or ours) would touch freed memory.
// Returns true when the mapping may go.
bool may_unmap(RobustWord& m) noexcept {
  const std::uint64_t l = m.linked.load(std::memory_order_acquire);
  if (l == 0) return true;
  if (static_cast<pid_t>(l >> 32) != ::getpid()) return true;  // another process's list
  ThreadRobust& t = thread_robust();
  if (l == t.self && (m.word.load(std::memory_order_relaxed) & kFutexTidMask) != t.tid) {
    sweep(t);
    return m.linked.load(std::memory_order_acquire) == 0;
  }
  return false;  // on another thread's list, or held by us: keep the memory mapped (leaked)
}

}  // namespace concur::multiprocessing::detail
