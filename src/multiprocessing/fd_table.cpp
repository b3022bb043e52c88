// FdTable and descriptor passing (concur/multiprocessing/detail/fd_table.hpp).
#include "concur/multiprocessing/detail/fd_table.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "concur/errors.hpp"

namespace concur::multiprocessing::detail {

FdTable::~FdTable() {
  if (!owned_) return;
  for (int fd : fds_)
    if (fd >= 0) ::close(fd);
}

std::uint32_t FdTable::add(int fd) {
  if (fds_.size() >= kMaxFds)
    throw ValueError("more than " + std::to_string(kMaxFds) +
                     " descriptors (Connections, queues, shared objects) in one process's "
                     "arguments");
  fds_.push_back(fd);
  return static_cast<std::uint32_t>(fds_.size() - 1);
}

void FdTable::adopt_received(std::vector<int> fds) noexcept {
  if (owned_)
    for (int fd : fds_)
      if (fd >= 0) ::close(fd);
  fds_ = std::move(fds);
  owned_ = true;
}

int FdTable::take(std::uint32_t index) {
  if (!owned_ || index >= fds_.size() || fds_[index] < 0)
    throw ValueError("a handle's descriptor #" + std::to_string(index) +
                     " did not arrive with its bytes (or was taken twice)");
  const int fd = fds_[index];
  fds_[index] = -1;
  return fd;
}

void send_with_fds(int socket, std::span<const std::byte> bytes, std::span<const int> fds) {
  if (bytes.empty()) throw ValueError("send_with_fds: descriptors need at least one byte");
  if (fds.size() > kMaxFds) throw ValueError("send_with_fds: too many descriptors");
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  std::size_t done = 0;
  while (done < bytes.size()) {
    iovec iov{const_cast<std::byte*>(bytes.data() + done), bytes.size() - done};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (done == 0 && !fds.empty()) {
      std::memset(control, 0, sizeof control);
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    const ssize_t n = ::sendmsg(socket, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      concur::detail::throw_os_error(errno, "sendmsg");
    }
    done += static_cast<std::size_t>(n);
  }
}

void recv_with_fds(int socket, std::span<std::byte> bytes, std::vector<int>& fds) {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  std::size_t done = 0;
  bool truncated = false;
  while (done < bytes.size()) {
    iovec iov{bytes.data() + done, bytes.size() - done};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR) continue;
      concur::detail::throw_os_error(errno, "recvmsg");
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        fds.push_back(fd);
      }
    }
    if ((msg.msg_flags & MSG_CTRUNC) != 0) truncated = true;
    if (n == 0) {
      if (done == 0) throw EOFError("the socket was closed before the message");
      throw OSError("the socket was closed within a message", {EBADMSG, std::generic_category()});
    }
    done += static_cast<std::size_t>(n);
  }
  if (truncated) {
    for (int fd : fds) ::close(fd);
    fds.clear();
    throw OSError("descriptors sent with a message were cut off (more than " +
                      std::to_string(kMaxFds) + ")",
                  {EBADMSG, std::generic_category()});
  }
}

}  // namespace concur::multiprocessing::detail
