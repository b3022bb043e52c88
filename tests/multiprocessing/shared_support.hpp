// Helpers of the multiprocessing tests (synchronize_test.cpp, sharedctypes_test.cpp,
// connection_test.cpp): a reaped child, a thread asleep in the kernel, and a crossing through
// the FdTable seam without Process.
#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <concur/multiprocessing.hpp>

#include "bounded_child.hpp"
#include "test_support.hpp"

namespace shared_test {

namespace mp = concur::multiprocessing;
namespace mpd = concur::multiprocessing::detail;

// Reaps the child however the test ends.
struct Reap {
  pid_t pid;
  int status = -100;
  bool done = false;
  int wait() {
    if (!done) {
      status = concur_test::wait_for_child(pid, concur_test::long_wait());
      done = true;
    }
    return status;
  }
  ~Reap() { wait(); }
};

// Several children, each reaped however the test ends; wait_all() gives their statuses.
struct Children {
  std::vector<pid_t> pids;
  std::vector<int> statuses;
  void add(pid_t pid) { pids.push_back(pid); }
  const std::vector<int>& wait_all() {
    for (std::size_t i = statuses.size(); i < pids.size(); ++i)
      statuses.push_back(concur_test::wait_for_child(pids[i], concur_test::long_wait()));
    return statuses;
  }
  ~Children() { wait_all(); }
};

// Is thread `tid` of this process asleep in a futex call (any word)?
inline bool asleep_in_futex(long tid) {
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/syscall");
  long nr = -1;
  return (f >> nr) && nr == SYS_futex;
}

// Sends `value` with its descriptors over a socketpair (as a start method would) and returns
// the end to receive it from. Every descriptor arrives as a new one (SCM_RIGHTS).
template <class T>
int send_over_socket(const T& value) {
  int sv[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  mpd::ByteBuffer buffer;
  mpd::FdTable out;
  mp::serialize_into(buffer, value, &out);
  const std::uint64_t size = buffer.size();
  mpd::send_with_fds(sv[0], std::as_bytes(std::span(&size, 1)), out.sending());
  mpd::send_with_fds(sv[0], buffer.view(), {});
  ::close(sv[0]);
  return sv[1];
}

// The receiving side: reads one value sent by send_over_socket from `socket`.
template <class T>
T receive_from_socket(int socket) {
  std::uint64_t got = 0;
  std::vector<int> fds;
  mpd::recv_with_fds(socket, std::as_writable_bytes(std::span(&got, 1)), fds);
  std::vector<std::byte> data(got);
  mpd::recv_with_fds(socket, data, fds);
  mpd::FdTable in;
  in.adopt_received(std::move(fds));
  T value;
  mp::deserialize_into(data, value, &in);
  return value;
}

}  // namespace shared_test
