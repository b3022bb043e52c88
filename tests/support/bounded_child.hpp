// A forked child bounded in time, for tests that must see a process end (fork_test.cpp, the
// fault tests): fork_and_wait(body) forks, the child runs body() and leaves through exit(its
// result), a normal exit, so that concur's at-exit join of non-daemon threads runs in it.
//
// Every child is bounded: it dies with its parent (PR_SET_PDEATHSIG), the parent waits for it
// at most long_wait() (a pidfd and poll) and then kills it, and it reports through its exit
// status: 0 when every check held, otherwise the failed check is printed and it _exit()s.
// (After concur's at-exit join and before GoogleTest's own teardown, which would wait for the
// test watchdog's thread, a thread that does not exist in the child, an atexit handler
// registered ahead of concur's ends the child.)
#pragma once

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <utility>

#include "test_support.hpp"

namespace concur_test {

inline constexpr int kTimedOut = -1;

// Under ThreadSanitizer (GCC 12's and clang 14's runtimes), a child forked from a multithreaded
// process keeps the vanished threads in TSan's own thread registry; the first thread it starts
// on a recycled stack has the same pthread id as one of them, and TSan dies ("dup thread with
// used id", exit 66). TSan also stops checking anything in such a child. So under TSan the
// children check what needs no new thread; the parent's side (the handlers racing with the
// churn) is what TSan checks.
#if defined(__SANITIZE_THREAD__)
inline constexpr bool kChildMayStartThreads = false;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool kChildMayStartThreads = false;
#else
inline constexpr bool kChildMayStartThreads = true;
#endif
#else
inline constexpr bool kChildMayStartThreads = true;
#endif

// Built with ThreadSanitizer or AddressSanitizer: a crash there may end in the sanitizer's own
// report and exit code rather than the signal.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

// The child's exit status, for the handler below.
inline pid_t g_test_pid = 0;
inline int g_child_status = 0;

// Registered when the tests start: after GoogleTest's UnitTest (built by InitGoogleTest) and
// before concur's at-exit join (registered by the first start() of a non-daemon thread), so
// that at exit it runs after concur's join and before GoogleTest's teardown.
class ChildExit : public testing::Environment {
 public:
  void SetUp() override {
    g_test_pid = ::getpid();
    std::atexit([] {
      if (::getpid() != g_test_pid) ::_exit(g_child_status);
    });
  }
};
[[maybe_unused]] inline testing::Environment* const child_exit =
    testing::AddGlobalTestEnvironment(new ChildExit);

[[noreturn]] inline void child_failed(const char* what, int line) {
  std::fprintf(stderr, "child %d: check failed at line %d: %s\n", static_cast<int>(::getpid()),
               line, what);
  std::fflush(stderr);
  ::_exit(3);
}
#define CHILD_CHECK(cond)                                \
  do {                                                   \
    if (!(cond)) concur_test::child_failed(#cond, __LINE__); \
  } while (0)

// Waits for `pid` to end, at most `limit`; kills it after that. Returns its exit status,
// 128 + the signal that ended it, or kTimedOut.
inline int wait_for_child(pid_t pid, std::chrono::milliseconds limit) {
  bool ended = false;
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    // A pidfd becomes readable when the process ends: one bounded sleep, no polling.
    const auto deadline = Clock::now() + limit;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      pollfd p{pidfd, POLLIN, 0};
      const int r = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
      if (r > 0) ended = true;
      if (r >= 0 || errno != EINTR) break;
    }
    ::close(pidfd);
  } else {
    // No pidfd (a kernel before 5.3): ask waitpid, 1 ms apart, until the deadline.
    ended = eventually([&] {
      siginfo_t info{};
      return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
             info.si_pid == pid;
    }, limit);
  }
  if (!ended) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!ended) return kTimedOut;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -2;
}

// Forks a child that runs body() and leaves through exit(its result); returns its pid at once
// (negative if fork() failed), so that the parent can talk to it before it reaps it with
// wait_for_child(). The child dies with the parent (PR_SET_PDEATHSIG).
template <class Body>
pid_t start_child(Body&& body) {
  std::fflush(stdout);  // or the child's exit() would print the parent's buffered output again
  std::fflush(stderr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(4);  // the parent died before prctl took effect
    int code = 5;
    try {
      code = body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: exception: %s\n", e.what());
      std::fflush(stderr);
      ::_exit(6);
    } catch (...) {
      ::_exit(7);
    }
    g_child_status = code;
    std::exit(code);
  }
  return pid;
}

// Forks; the child runs body() and leaves through exit(its result). Returns what
// wait_for_child() says of the child.
template <class Body>
int fork_and_wait(Body&& body, std::chrono::milliseconds limit = long_wait()) {
  const pid_t pid = start_child(std::forward<Body>(body));
  if (pid < 0) return -3;
  return wait_for_child(pid, limit);
}

}  // namespace concur_test
