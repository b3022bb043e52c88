// The eventfd behind PollableQueue::fileno() (include/concur/queue/pollable_queue.hpp).
//
// In its default (counter) mode an eventfd is readable while its counter is non-zero: writing 1
// sets it readable, one read() resets the counter to zero. LockedCore calls became_nonempty()
// and became_empty() under the queue's lock, on the 0 -> 1 and 1 -> 0 transitions only, so the
// descriptor's readiness follows the queue's emptiness with two system calls per transition and
// none for the puts and gets in between.
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

#include "concur/queue/pollable_queue.hpp"

namespace concur::queue::detail {

EventFdLevel::EventFdLevel() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "PollableQueue: eventfd");
}

EventFdLevel::~EventFdLevel() { ::close(fd_); }

void EventFdLevel::became_nonempty() noexcept {
  const std::uint64_t one = 1;
  // Cannot fail: the counter is 0 here (we keep it at 0 or 1), far from overflow.
  while (::write(fd_, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

void EventFdLevel::became_empty() noexcept {
  std::uint64_t value;
  // EAGAIN cannot happen either (the counter is 1), but is harmless: it means "already clear".
  while (::read(fd_, &value, sizeof value) < 0 && errno == EINTR) {
  }
}

}  // namespace concur::queue::detail
