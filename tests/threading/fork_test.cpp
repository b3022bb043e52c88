// fork(): what the child of a concur process finds (detail/at_fork.hpp), as CPython's
// threading._after_fork: the forking thread is the main thread and the only one alive, every
// other thread is TERMINATED, concur's own bookkeeping works, user locks keep their state.
//
// Every child is bounded (tests/support/bounded_child.hpp: fork_and_wait). A child that passes
// leaves through exit(), a normal exit: concur's at-exit join of non-daemon threads runs, and
// must not wait for threads that do not exist.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string>
#include <vector>

#include "concur/concur.hpp"
#include "concur/detail/at_fork.hpp"
#include "concur/detail/event_count.hpp"
#include "concur/detail/wait_node.hpp"
#include "bounded_child.hpp"
#include "test_support.hpp"

namespace th = concur::threading;
namespace cf = concur::futures;
namespace cq = concur::queue;
namespace dl = concur::deadlock;
using namespace std::chrono_literals;
using namespace concur_test;

namespace {

std::uint64_t my_pid() { return static_cast<std::uint64_t>(::getpid()); }

}  // namespace

// Python's repro: a process with one blocked non-daemon thread forks. The child sees one
// thread, and exits normally instead of waiting at exit for a thread that does not exist.
TEST(Fork, BlockedNonDaemonThreadIsGoneInTheChild) {
  th::Event release;
  th::Thread blocked([&] { release.wait(long_wait()); });
  ASSERT_FALSE(blocked.daemon());
  blocked.start();
  ASSERT_GE(th::active_count(), 2u);
  const th::ThreadRef main_before = th::current_thread();

  const int status = fork_and_wait([&] {
    CHILD_CHECK(th::active_count() == 1);
    CHILD_CHECK(th::enumerate().size() == 1);
    CHILD_CHECK(th::main_thread() == th::current_thread());
    CHILD_CHECK(th::main_thread() == main_before);
    CHILD_CHECK(th::main_thread().name() == "MainThread");
    CHILD_CHECK(th::main_thread().native_id() == my_pid());
    CHILD_CHECK(th::get_native_id() == my_pid());
    CHILD_CHECK(!blocked.is_alive());
    CHILD_CHECK(!blocked.ref().is_alive());
    CHILD_CHECK(blocked.state() == th::ThreadState::TERMINATED);
    blocked.join();  // at once (a hang is the parent's timeout)
    CHILD_CHECK(blocked.join(0ms));
    return 0;
  });
  release.set();
  ASSERT_TRUE(blocked.join(long_wait()));
  EXPECT_EQ(status, 0);
  EXPECT_TRUE(blocked.state() == th::ThreadState::TERMINATED);
}

// A waiter linked when the process forked belongs to a thread that is gone in the child, whose
// stack the child may reuse: the child's wait lists forget such nodes unread, so a notify there
// never signals one, and new waiters are served. (Seen first as a crash of the busy-fork test
// below: a pool task completed in the child signaled a node on a reused stack.) An action node
// stands for the gone thread's node here, so that a signal would show.
namespace {
std::atomic<int> pre_fork_signals{0};
void count_signal(void*) noexcept { pre_fork_signals.fetch_add(1); }
}  // namespace

TEST(Fork, WaitersOfGoneThreadsAreNeverSignaledInTheChild) {
  concur::detail::EventCount ec;
  concur::detail::WaitNode linked_at_fork(&count_signal, nullptr);
  ec.link_waiter(linked_at_fork);
  ASSERT_TRUE(linked_at_fork.arm());
  const int status = fork_and_wait([&] {
    ec.notify_all();
    CHILD_CHECK(pre_fork_signals.load() == 0);
    concur::detail::WaitNode fresh(&count_signal, nullptr);
    ec.link_waiter(fresh);
    CHILD_CHECK(fresh.arm());
    ec.notify_one();
    CHILD_CHECK(pre_fork_signals.load() == 1);
    return 0;
  });
  EXPECT_EQ(status, 0);
  EXPECT_EQ(pre_fork_signals.load(), 0);
  ec.notify_all();  // in the parent the node is still linked, and served
  EXPECT_EQ(pre_fork_signals.load(), 1);
}

// The forking thread becomes the main thread of the child, keeping its name; the old main
// thread is gone there.
TEST(Fork, FromANonMainThread) {
  const th::ThreadRef parent_main = th::main_thread();
  std::atomic<int> status{-100};
  th::Thread forker(th::ThreadOptions{.name = "forker"}, [&] {
    const std::uint64_t parent_native_id = th::get_native_id();
    status = fork_and_wait([&] {
      CHILD_CHECK(th::current_thread().name() == "forker");
      CHILD_CHECK(th::main_thread() == th::current_thread());
      CHILD_CHECK(th::main_thread().name() == "forker");
      CHILD_CHECK(th::current_thread().native_id() == my_pid());
      CHILD_CHECK(th::get_native_id() == my_pid());
      CHILD_CHECK(th::get_native_id() != parent_native_id);
      CHILD_CHECK(th::current_thread().ident() == th::get_ident());
      CHILD_CHECK(!parent_main.is_alive());
      CHILD_CHECK(th::active_count() == 1);
      if (!kChildMayStartThreads) return 0;
      // Threads started in the child are listed, and leave the list when they end.
      int seen = 0;
      th::Thread t([&] { seen = 7; });
      t.start();
      CHILD_CHECK(t.join(long_wait()));
      CHILD_CHECK(seen == 7);
      CHILD_CHECK(th::active_count() == 1);
      return 0;  // exit() from a thread that was not the process's first
    });
  });
  forker.start();
  ASSERT_TRUE(forker.join(2 * long_wait()));
  EXPECT_EQ(status.load(), 0);
  EXPECT_TRUE(parent_main.is_alive());
}

// A user Lock keeps its state, as in Python: one held by a thread that is gone stays locked
// for good; one held by the forking thread can be released there.
TEST(Fork, UserLocksKeepTheirState) {
  th::Lock held_by_other, held_by_me;
  th::RLock rheld_by_me;
  th::Event taken, release;
  th::Thread holder([&] {
    held_by_other.acquire();
    taken.set();
    release.wait(long_wait());
    held_by_other.release();
  });
  holder.start();
  ASSERT_TRUE(taken.wait(long_wait()));
  held_by_me.acquire();
  rheld_by_me.acquire();

  const int status = fork_and_wait([&] {
    CHILD_CHECK(held_by_other.locked());
    CHILD_CHECK(!held_by_other.acquire(false));
    CHILD_CHECK(!held_by_other.acquire(true, 50ms));
    CHILD_CHECK(held_by_me.locked());
    held_by_me.release();
    CHILD_CHECK(held_by_me.acquire(false));
    held_by_me.release();
    rheld_by_me.release();  // still owned by this thread
    CHILD_CHECK(rheld_by_me.acquire(false));
    rheld_by_me.release();
    return 0;
  });
  rheld_by_me.release();
  held_by_me.release();
  release.set();
  ASSERT_TRUE(holder.join(long_wait()));
  EXPECT_EQ(status, 0);
}

TEST(Fork, GenerationCountsForks) {
  const std::uint64_t g0 = concur::detail::fork_generation();
  const int status = fork_and_wait([&] {
    CHILD_CHECK(concur::detail::fork_generation() == g0 + 1);
    const int grandchild = fork_and_wait([&] {
      CHILD_CHECK(concur::detail::fork_generation() == g0 + 2);
      return 0;
    });
    CHILD_CHECK(grandchild == 0);
    return 0;
  });
  EXPECT_EQ(status, 0);
  EXPECT_EQ(concur::detail::fork_generation(), g0);
}

// Forks, several times, while other threads churn through concur (threads created and
// joined, queue traffic, pool submits, thread dumps, lock-order checking, the watchdog): each
// child can use all of concur and exits normally.
TEST(Fork, ChildrenOfABusyProcessCanUseEverything) {
  dl::enable_lock_order_checking(true);
  dl::start_watchdog(20ms);
  cf::ThreadPoolExecutor pool(2);
  th::local<int> mine([] { return 0; });
  mine.get() = 42;

  std::atomic<bool> stop{false};
  std::atomic<long> churned{0};
  th::Lock outer("churn-outer"), inner("churn-inner");
  cq::Queue<int> ping(16), pong(16);
  std::vector<th::Thread> churn;
  churn.emplace_back([&] {  // threads created and joined
    while (!stop.load()) {
      th::Thread t([] {});
      t.start();
      t.join();
      ++churned;
    }
  });
  churn.emplace_back([&] {  // queue traffic, both ways
    for (int i = 0; !stop.load(); ++i) {
      try {
        ping.put(i, 100ms);
        pong.get(100ms);
      } catch (const cq::Full&) {
      } catch (const cq::Empty&) {
      }
    }
  });
  churn.emplace_back([&] {
    while (!stop.load()) {
      try {
        const int v = ping.get(100ms);
        pong.put(v, 100ms);
      } catch (const cq::Full&) {
      } catch (const cq::Empty&) {
      }
    }
  });
  churn.emplace_back([&] {  // pool submits, dumps, tracked locks taken in one order
    while (!stop.load()) {
      auto f = pool.submit([] { return 1; });
      f.result(long_wait());
      (void)th::dump_threads();
      std::lock_guard go(outer);
      std::lock_guard gi(inner);
      ++churned;
    }
  });
  for (auto& t : churn) t.start();
  ASSERT_TRUE(eventually([&] { return churned.load() > 20; }));

  for (int round = 0; round < 5; ++round) {
    const int status = fork_and_wait([&] {
      CHILD_CHECK(th::active_count() == 1);
      CHILD_CHECK(th::main_thread() == th::current_thread());
      // The forking thread's local values are kept; a new thread starts afresh.
      CHILD_CHECK(mine.get() == 42);
      CHILD_CHECK(dl::lock_order_checking_enabled());
      CHILD_CHECK(!dl::watchdog_running());
      CHILD_CHECK(th::dump_threads().rfind("Thread dump: 1 live thread\n", 0) == 0);
      if (!kChildMayStartThreads) {
        cq::Queue<int> q(8);
        for (int i = 0; i < 8; ++i) q.put(i, long_wait());
        for (int i = 0; i < 8; ++i) CHILD_CHECK(q.get(long_wait()) == i);
        return 0;
      }
      int other = -1;
      th::Thread t([&] {
        other = mine.get();
        mine.get() = 5;
      });
      t.start();
      CHILD_CHECK(t.join(long_wait()));
      CHILD_CHECK(other == 0);
      CHILD_CHECK(mine.get() == 42);
      // Queues between the child's threads.
      cq::Queue<int> q(8);
      th::Thread producer([&] {
        for (int i = 0; i < 100; ++i) q.put(i, long_wait());
      });
      producer.start();
      long sum = 0;
      for (int i = 0; i < 100; ++i) sum += q.get(long_wait());
      CHILD_CHECK(producer.join(long_wait()));
      CHILD_CHECK(sum == 4950);
      // The pool made before the fork starts new workers.
      std::vector<cf::Future<int>> fs;
      for (int i = 0; i < 8; ++i) fs.push_back(pool.submit([i] { return i * i; }));
      for (int i = 0; i < 8; ++i) CHILD_CHECK(fs[static_cast<std::size_t>(i)].result(long_wait()) == i * i);
      {
        cf::ThreadPoolExecutor fresh(2);
        CHILD_CHECK(fresh.submit([] { return 3; }).result(long_wait()) == 3);
      }
      // The watchdog is gone and can be started again; so can the dump thread.
      CHILD_CHECK(!dl::watchdog_running());
      dl::start_watchdog(20ms);
      CHILD_CHECK(dl::watchdog_running());
      dl::stop_watchdog();
      CHILD_CHECK(!dl::watchdog_running());
      dl::install_dump_on_signal(SIGUSR2);
      bool dump_thread_listed = false;
      for (const auto& r : th::enumerate()) dump_thread_listed |= r.name() == "concur-dump";
      CHILD_CHECK(dump_thread_listed);
      // Lock-order checking is still on and works.
      CHILD_CHECK(dl::lock_order_checking_enabled());
      {
        th::Lock x, y;
        std::lock_guard gx(x);
        std::lock_guard gy(y);
      }
      CHILD_CHECK(th::dump_threads().rfind("Thread dump: ", 0) == 0);
      return 0;
    });
    EXPECT_EQ(status, 0) << "round " << round;
    // Let the churn move on between forks, so that each fork finds it elsewhere.
    const long before = churned.load();
    ASSERT_TRUE(eventually([&] { return churned.load() > before + 5; }));
  }

  stop = true;
  for (auto& t : churn) ASSERT_TRUE(t.join(long_wait()));
  dl::stop_watchdog();
  dl::enable_lock_order_checking(false);
}
