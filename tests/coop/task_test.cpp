// co::Task and co::TaskScheduler (coop/task.hpp, coop/task_scheduler.hpp): the seed's round-robin
// order, conservation over many tasks, tasks added while running, exceptions out of next() and
// run() (the others keep their order), ownership (frames destroyed once), move, close.
#include <concur/coop.hpp>
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace co = concur::coop;

namespace {

using Log = std::vector<std::string>;

co::Task countdown(Log& log, int n) {
  while (n > 0) {
    log.push_back("T-minus " + std::to_string(n));
    co_yield {};
    --n;
  }
  log.push_back("Blastoff!");
}

co::Task countup(Log& log, int n) {
  int x = 0;
  while (x < n) {
    log.push_back("Counting up " + std::to_string(x));
    co_yield {};
    x += 1;
  }
}

// Counts live frames: a local of the body, destroyed with the frame.
struct TaskAlive {
  int* count;
  explicit TaskAlive(int* c) : count(c) { ++*count; }
  TaskAlive(const TaskAlive&) = delete;
  ~TaskAlive() { --*count; }
};

co::Task steps(int* alive, int* done_steps, int n) {
  TaskAlive a(alive);
  for (int i = 0; i < n; ++i) {
    ++*done_steps;
    co_yield {};
  }
}

co::Task thrower(Log& log, int steps_before) {
  for (int i = 0; i < steps_before; ++i) {
    log.push_back("thrower " + std::to_string(i));
    co_yield {};
  }
  throw std::runtime_error("task failed");
}

}  // namespace

TEST(CoopTask, LazyAndStepwise) {
  Log log;
  co::Task t = countdown(log, 2);
  EXPECT_TRUE(log.empty());  // nothing runs before the first step
  EXPECT_FALSE(t.done());
  EXPECT_TRUE(t.next());
  EXPECT_EQ(log, (Log{"T-minus 2"}));
  EXPECT_TRUE(t.next());
  EXPECT_FALSE(t.next());  // runs to the end
  EXPECT_EQ(log, (Log{"T-minus 2", "T-minus 1", "Blastoff!"}));
  EXPECT_TRUE(t.done());
  EXPECT_FALSE(t.next());  // finished: runs nothing
  EXPECT_EQ(log.size(), 3u);
}

TEST(CoopTask, ExceptionReachesNextOnceThenFinished) {
  Log log;
  co::Task t = thrower(log, 1);
  EXPECT_TRUE(t.next());
  EXPECT_THROW(
      {
        try {
          (void)t.next();
        } catch (const std::runtime_error& e) {
          EXPECT_STREQ(e.what(), "task failed");
          throw;
        }
      },
      std::runtime_error);
  EXPECT_TRUE(t.done());
  EXPECT_FALSE(t.next());
}

TEST(CoopTask, MoveCloseAndDestroyOwnTheFrame) {
  int alive = 0, n = 0;
  {
    co::Task a = steps(&alive, &n, 5);
    EXPECT_EQ(alive, 0);  // the body has not started: its local does not exist yet
    EXPECT_TRUE(a.next());
    EXPECT_EQ(alive, 1);
    co::Task b = std::move(a);
    EXPECT_TRUE(a.done());  // NOLINT(bugprone-use-after-move): moved-from is empty
    EXPECT_FALSE(a.next());
    EXPECT_TRUE(b.next());
    EXPECT_EQ(n, 2);
    co::Task c;
    c = std::move(b);
    EXPECT_EQ(alive, 1);
    c.close();  // destroys the suspended frame: its locals are destroyed
    EXPECT_EQ(alive, 0);
    EXPECT_TRUE(c.done());
    EXPECT_FALSE(c.next());
    c.close();  // closing twice is harmless
    co::Task d = steps(&alive, &n, 5);
    (void)d.next();
    EXPECT_EQ(alive, 1);
    d = steps(&alive, &n, 1);  // move-assignment destroys the old frame
    EXPECT_EQ(alive, 0);
    (void)d.next();
    EXPECT_EQ(alive, 1);
  }
  EXPECT_EQ(alive, 0);  // the destructor destroyed the last one
}

TEST(CoopTaskScheduler, SeedInterleaving) {
  Log log;
  co::TaskScheduler sched;
  sched.new_task(countdown(log, 10));
  sched.new_task(countdown(log, 5));
  sched.new_task(countup(log, 15));
  EXPECT_EQ(sched.size(), 3u);
  sched.run();
  EXPECT_TRUE(sched.empty());
  // What seed 001 (使用生成器代替线程) prints.
  const Log want = {
      "T-minus 10", "T-minus 5", "Counting up 0", "T-minus 9",  "T-minus 4",      "Counting up 1",
      "T-minus 8",  "T-minus 3", "Counting up 2", "T-minus 7",  "T-minus 2",      "Counting up 3",
      "T-minus 6",  "T-minus 1", "Counting up 4", "T-minus 5",  "Blastoff!",      "Counting up 5",
      "T-minus 4",  "Counting up 6", "T-minus 3", "Counting up 7", "T-minus 2",   "Counting up 8",
      "T-minus 1",  "Counting up 9", "Blastoff!", "Counting up 10", "Counting up 11",
      "Counting up 12", "Counting up 13", "Counting up 14"};
  EXPECT_EQ(log, want);
}

// Many tasks of different lengths: every step of every task runs exactly once, in round-robin
// order (step k of every unfinished task before step k+1 of any, in the order they were added).
co::Task recorder(std::vector<std::pair<int, int>>& trace, int id, int n) {
  for (int k = 0; k < n; ++k) {
    trace.emplace_back(id, k);
    co_yield {};
  }
}

TEST(CoopTaskScheduler, ManyTasksRoundRobinConservation) {
  constexpr int kTasks = 1000;
  std::vector<std::pair<int, int>> trace;
  std::vector<int> len(kTasks);
  co::TaskScheduler sched;
  std::size_t total = 0;
  for (int id = 0; id < kTasks; ++id) {
    len[id] = (id * 7919) % 37;  // 0..36 steps, some tasks run once and finish at once
    total += static_cast<std::size_t>(len[id]);
    sched.new_task(recorder(trace, id, len[id]));
  }
  sched.run();
  ASSERT_EQ(trace.size(), total);
  std::vector<std::pair<int, int>> want;
  for (int k = 0; k < 37; ++k)
    for (int id = 0; id < kTasks; ++id)
      if (k < len[id]) want.emplace_back(id, k);
  EXPECT_EQ(trace, want);
}

TEST(CoopTaskScheduler, FramesDestroyedAsTasksFinish) {
  int alive = 0, n = 0;
  {
    co::TaskScheduler sched;
    for (int i = 0; i < 100; ++i) sched.new_task(steps(&alive, &n, i % 5));
    sched.run();
    EXPECT_EQ(alive, 0);
    EXPECT_EQ(n, 20 * (0 + 1 + 2 + 3 + 4));
    for (int i = 0; i < 10; ++i) sched.new_task(steps(&alive, &n, 3));
    EXPECT_EQ(alive, 0);  // queued, not started
  }  // the destructor destroys queued frames (unstarted ones included)
  EXPECT_EQ(alive, 0);
}

co::Task spawner(co::TaskScheduler& sched, Log& log) {
  log.push_back("spawner 0");
  sched.new_task(countup(log, 2));
  co_yield {};
  log.push_back("spawner 1");
}

TEST(CoopTaskScheduler, NewTaskFromARunningTaskJoinsTheEnd) {
  Log log;
  co::TaskScheduler sched;
  sched.new_task(spawner(sched, log));
  sched.new_task(countdown(log, 1));
  sched.run();
  // The seed's deque: [spawner, countdown] -> spawner runs, appends countup, re-appends
  // itself: [countdown, countup, spawner].
  EXPECT_EQ(log, (Log{"spawner 0", "T-minus 1", "Counting up 0", "spawner 1", "Blastoff!",
                      "Counting up 1"}));
}

TEST(CoopTaskScheduler, ExceptionLeavesRunAndTheOthersKeepTheirOrder) {
  Log log;
  co::TaskScheduler sched;
  sched.new_task(countup(log, 3));
  sched.new_task(thrower(log, 1));
  sched.new_task(countdown(log, 3));
  EXPECT_THROW(sched.run(), std::runtime_error);
  EXPECT_EQ(log, (Log{"Counting up 0", "thrower 0", "T-minus 3", "Counting up 1"}));
  EXPECT_EQ(sched.size(), 2u);  // the failed task is gone, the two others are queued
  sched.run();                  // carries on where it stopped: countdown's turn first
  EXPECT_EQ(log, (Log{"Counting up 0", "thrower 0", "T-minus 3", "Counting up 1", "T-minus 2",
                      "Counting up 2", "T-minus 1", "Blastoff!"}));
  EXPECT_TRUE(sched.empty());
}

TEST(CoopTaskScheduler, ExceptionOnFirstStepOfLastTaskInPass) {
  Log log;
  co::TaskScheduler sched;
  sched.new_task(countup(log, 2));
  sched.new_task(thrower(log, 0));
  EXPECT_THROW(sched.run(), std::runtime_error);
  EXPECT_EQ(sched.size(), 1u);
  sched.run();
  EXPECT_EQ(log, (Log{"Counting up 0", "Counting up 1"}));
}

TEST(CoopTaskScheduler, EmptyAndFinishedTasks) {
  co::TaskScheduler sched;
  EXPECT_THROW(sched.new_task(co::Task{}), concur::ValueError);
  Log log;
  co::Task t = countdown(log, 0);
  EXPECT_FALSE(t.next());  // finished already
  sched.new_task(std::move(t));
  EXPECT_TRUE(sched.empty());  // dropped
  sched.run();                 // nothing to do
  co::Task u = countdown(log, 1);
  u.close();
  EXPECT_THROW(sched.new_task(std::move(u)), concur::ValueError);
}

co::Task rerun(co::TaskScheduler& sched, bool& refused) {
  try {
    sched.run();
  } catch (const concur::RuntimeError&) {
    refused = true;
  }
  co_return;
}

TEST(CoopTaskScheduler, RunFromInsideATaskIsRefused) {
  co::TaskScheduler sched;
  bool refused = false;
  sched.new_task(rerun(sched, refused));
  sched.run();
  EXPECT_TRUE(refused);
}

co::Task self_next(co::Task* self, bool& refused) {
  try {
    (void)self->next();
  } catch (const concur::ValueError&) {
    refused = true;
  }
  co_return;
}

TEST(CoopTask, NextFromInsideItselfIsRefused) {
  bool refused = false;
  co::Task t;
  t = self_next(&t, refused);
  EXPECT_FALSE(t.next());
  EXPECT_TRUE(refused);
}

// A scheduler, with its tasks, may be handed to another thread (one thread at a time).
TEST(CoopTaskScheduler, HandedOverToAnotherThread) {
  Log log;
  auto sched = std::make_unique<co::TaskScheduler>();
  sched->new_task(countdown(log, 3));
  sched->new_task(countup(log, 3));
  std::thread([&] { sched->run(); }).join();
  EXPECT_EQ(log.size(), 7u);
}
