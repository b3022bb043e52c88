// sched::scheduler across fork(): the child finds the queue whole and can run it.
#include <concur/sched.hpp>
#include <concur/threading.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "bounded_child.hpp"
#include "test_support.hpp"

namespace sc = concur::sched;
namespace th = concur::threading;
using concur_test::long_wait;
using namespace std::chrono_literals;

TEST(SchedFork, TheChildRunsTheQueueWhileTheParentsRunnerIsGone) {
  sc::scheduler s;
  std::atomic<int> ran{0};
  sc::Event far = s.enter(1h, 1, [] {});
  // A thread sleeps in run() until the far event, and keeps entering and cancelling events, so
  // that the fork meets the queue in use.
  std::atomic<bool> stop{false};
  std::thread runner([&] { (void)s.run(); });
  std::thread churn([&] {
    while (!stop.load()) s.cancel(s.enter(30min, 2, [] {}));
  });
  for (int i = 0; i < 20; ++i) {
    const int status = concur_test::fork_and_wait([&] {
      s.enter(0s, 0, [&] { ran.fetch_add(1); });
      const auto left = s.run(false);  // runs the due event, stops before the far ones
      CHILD_CHECK(ran.load() == 1);
      CHILD_CHECK(left.has_value());
      return 0;
    });
    EXPECT_EQ(status, 0);
  }
  stop = true;
  churn.join();
  s.cancel(far);
  runner.join();
  EXPECT_TRUE(s.empty());
}
