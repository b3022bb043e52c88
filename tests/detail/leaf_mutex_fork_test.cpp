// detail::LeafMutex across fork() (concur/detail/mutex.hpp): a wait queue's internal lock that a
// thread held at the fork is free in the child, where that thread does not exist, and still
// held in the parent. Found as a rare hang: a child of a process whose threads were waiting on
// a sched::scheduler (tests/sched/fork_test.cpp) blocked forever on its EventCount's lock.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "bounded_child.hpp"
#include "concur/deadline.hpp"
#include "concur/detail/event_count.hpp"
#include "concur/detail/mutex.hpp"
#include "concur/detail/wait_node.hpp"
#include "detail_sync.hpp"

namespace {

using concur::Deadline;
using concur::detail::EventCount;
using concur::detail::LeafMutex;
using concur::detail::WaitNode;
using namespace concur_detail_test;
using namespace std::chrono_literals;

TEST(LeafMutexFork, ALockHeldByAThreadThatIsGoneIsFreeInTheChild) {
  LeafMutex m;
  Flag held, forked;
  std::thread holder([&] {
    m.lock();
    held.set();
    forked.wait();
    m.unlock();
  });
  ASSERT_TRUE(held.wait());
  const int status = concur_test::fork_and_wait([&] {
    CHILD_CHECK(m.locked());  // as the fork left it...
    m.lock();                 // ...but its holder is gone: taken at once
    CHILD_CHECK(m.unlock());
    m.lock();  // and an ordinary lock from then on
    CHILD_CHECK(m.locked());
    CHILD_CHECK(m.unlock());
    return 0;
  });
  EXPECT_TRUE(m.locked()) << "the parent's holder still holds it";
  forked.set();
  holder.join();
  EXPECT_EQ(status, 0);
  EXPECT_FALSE(m.locked());
}

TEST(LeafMutexFork, ALockFreeAtTheForkWorksInTheChild) {
  LeafMutex m;
  m.lock();
  m.unlock();
  const int status = concur_test::fork_and_wait([&] {
    m.lock();
    CHILD_CHECK(m.unlock());
    // A grandchild recovers in its own generation too.
    const int inner = concur_test::fork_and_wait([&] {
      m.lock();
      CHILD_CHECK(m.unlock());
      return 0;
    });
    CHILD_CHECK(inner == 0);
    return 0;
  });
  EXPECT_EQ(status, 0);
}

// The action of an action waiter runs under the EventCount's lock (wait_node.hpp). This one
// blocks there until the fork is over, so that the fork meets the lock held by a notifier.
struct HeldInAction {
  Flag in_action;
  Flag forked;
  static void action(void* self) noexcept {
    auto* h = static_cast<HeldInAction*>(self);
    h->in_action.set();
    h->forked.wait();
  }
};

TEST(EventCountFork, ItsLockHeldByAVanishedNotifierIsFreeInTheChild) {
  EventCount ec;
  HeldInAction h;
  WaitNode node(&HeldInAction::action, &h);
  ec.link_waiter(node);
  ASSERT_TRUE(node.arm());
  std::thread notifier([&] { ec.notify_all(); });  // signals the node under the lock
  ASSERT_TRUE(h.in_action.wait());
  const int status = concur_test::fork_and_wait([&] {
    // Waiting links a node under the lock: without recovery, this never returns.
    CHILD_CHECK(!ec.wait_until([] { return false; }, Deadline::after(10ms)));
    ec.notify_all();
    std::atomic<int> items{1};
    CHILD_CHECK(ec.wait_until([&] { return items.exchange(0) == 1; }, Deadline::after(10ms)));
    return 0;
  });
  h.forked.set();
  notifier.join();
  EXPECT_EQ(status, 0);
}

}  // namespace
