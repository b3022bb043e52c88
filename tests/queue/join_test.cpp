// task_done() and join(): join() returns once every item put has been marked done; it blocks
// while any is unfinished; task_done() called more often than put() is a ValueError that changes
// nothing. As in Python, the count is of puts, not of gets: task_done() may precede the get.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "concur/errors.hpp"
#include "concur/queue.hpp"
#include "queue_kinds.hpp"
#include "test_support.hpp"

namespace {

template <class Tag>
class TaskDone : public ::testing::Test {};
TYPED_TEST_SUITE(TaskDone, FullKinds, KindName);

TYPED_TEST(TaskDone, JoinOnAFreshQueueReturnsAtOnce) {
  typename TypeParam::template queue<int> q;
  q.join();
  typename TypeParam::template queue<int> bounded(3);
  bounded.join();
}

TYPED_TEST(TaskDone, TaskDoneMoreOftenThanPutIsValueError) {
  typename TypeParam::template queue<int> q;
  EXPECT_THROW(q.task_done(), concur::ValueError);
  q.put(1);
  q.put(2);
  EXPECT_EQ(q.get(), TypeParam::order == Order::Lifo ? 2 : 1);
  q.task_done();
  q.task_done();  // allowed before the second get: the count is of puts
  try {
    q.task_done();
    ADD_FAILURE() << "a third task_done after two puts did not throw";
  } catch (const concur::ValueError& e) {
    EXPECT_NE(std::string(e.what()), "");
  }
  EXPECT_THROW(q.task_done(), concur::ValueError);
  // The rejected calls changed nothing: one more put needs exactly one more task_done.
  q.put(3);
  q.task_done();
  q.join();
  EXPECT_THROW(q.task_done(), concur::ValueError);
  EXPECT_EQ(q.qsize(), 2u);  // task_done does not take items
}

TYPED_TEST(TaskDone, JoinReturnsWhenAllAreDone) {
  typename TypeParam::template queue<int> q;
  for (int i = 0; i < 5; ++i) q.put(i);
  for (int i = 0; i < 5; ++i) {
    (void)q.get();
    q.task_done();
  }
  q.join();
  EXPECT_TRUE(q.empty());
}

TYPED_TEST(TaskDone, JoinBlocksWhileItemsAreUnfinished) {
  typename TypeParam::template queue<int> q;
  for (int i = 0; i < 3; ++i) q.put(i);
  Joiner joiner(q);
  joiner.expect_blocked("join returned with 3 items unfinished");
  for (int i = 0; i < 3; ++i) (void)q.get();
  joiner.expect_blocked("join returned when the items were taken, not done");
  q.task_done();
  q.task_done();
  joiner.expect_blocked("join returned with 1 item unfinished");
  q.task_done();
  joiner.wait();
  EXPECT_TRUE(joiner.joined());
}

TYPED_TEST(TaskDone, EveryJoinerIsReleased) {
  typename TypeParam::template queue<int> q;
  q.put(1);
  {
    Joiner a(q), b(q), c(q);
    give_time_to_misbehave();
    EXPECT_FALSE(a.joined() || b.joined() || c.joined());
    (void)q.get();
    q.task_done();
    a.wait();
    b.wait();
    c.wait();
  }
  // The count starts again with the next put.
  q.put(2);
  Joiner d(q);
  d.expect_blocked();
  q.task_done();
  d.wait();
}

TYPED_TEST(TaskDone, WorkersAndJoin) {
  // The Python idiom: workers get() and task_done(); the producer put()s and join()s. When join
  // returns, every item has been processed, exactly once.
  typename TypeParam::template queue<int> q(8);
  constexpr int kWorkers = 4, kItems = 2000;
  std::vector<std::atomic<int>> processed(kItems);
  std::atomic<int> total{0};
  std::atomic<bool> stop{false};
  std::vector<std::jthread> workers;
  for (int w = 0; w < kWorkers; ++w)
    workers.emplace_back([&] {
      while (!stop.load()) {
        auto v = q.try_get(5ms);
        if (!v) continue;
        processed[*v].fetch_add(1);
        total.fetch_add(1);
        q.task_done();
      }
    });
  for (int round = 0; round < 4; ++round) {
    for (int i = round * (kItems / 4); i < (round + 1) * (kItems / 4); ++i) q.put(i, long_wait());
    q.join();
    EXPECT_EQ(total.load(), (round + 1) * (kItems / 4)) << "join returned before the work was done";
  }
  stop = true;
  workers.clear();
  for (int i = 0; i < kItems; ++i) ASSERT_EQ(processed[i].load(), 1) << "item " << i;
  EXPECT_TRUE(q.empty());
  EXPECT_THROW(q.task_done(), concur::ValueError);
}

TYPED_TEST(TaskDone, ConcurrentTaskDoneCountsExactly) {
  // 4 threads call task_done() for 4000 puts, each 1000 times; then exactly one more is an error.
  typename TypeParam::template queue<int> q;
  for (int i = 0; i < 4000; ++i) q.put(i);
  std::atomic<int> errors{0};
  run_parallel(4, [&](int) {
    for (int i = 0; i < 1000; ++i) try {
        q.task_done();
      } catch (const concur::ValueError&) {
        errors++;
      }
  });
  EXPECT_EQ(errors.load(), 0);
  q.join();
  EXPECT_THROW(q.task_done(), concur::ValueError);
  // More calls than puts, concurrently: exactly the excess fails.
  for (int i = 0; i < 100; ++i) q.put(i);
  run_parallel(4, [&](int) {
    for (int i = 0; i < 50; ++i) try {
        q.task_done();
      } catch (const concur::ValueError&) {
        errors++;
      }
  });
  EXPECT_EQ(errors.load(), 100);
  q.join();
}

}  // namespace
