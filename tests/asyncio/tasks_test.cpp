// aio tasks: awaiting, create_task, gather, wait, wait_for, shield, as_completed, names,
// ownership, aio::run (Python 3.12's Lib/test/test_asyncio/test_tasks.py, the parts that apply).
#include <concur/asyncio.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace aio = concur::asyncio;
using namespace std::chrono_literals;

namespace {

aio::Task<int> twice(int x) {
  co_await aio::sleep(1ms);
  co_return 2 * x;
}
aio::Task<int> twice_now(int x) { co_return 2 * x; }
aio::Task<void> nothing() { co_return; }
aio::Task<int> fail_after(std::chrono::milliseconds d, std::string what) {
  co_await aio::sleep(d);
  throw std::runtime_error(what);
}
aio::Task<int> forever() {
  co_await aio::sleep(1h);
  co_return 0;
}

aio::Task<int> await_directly() {
  int a = co_await twice(1);
  int b = co_await twice_now(2);
  co_return a + b;
}

}  // namespace

TEST(AioTask, RunReturnsTheResultOfACoroutineAwaitedDirectly) {
  EXPECT_EQ(aio::run(await_directly()), 6);
  EXPECT_EQ(aio::run(twice_now(21)), 42);
}

TEST(AioTask, RunRethrowsTheMainTasksException) {
  EXPECT_THROW(aio::run(fail_after(0ms, "boom")), std::runtime_error);
}

namespace {
aio::Task<void> create_and_await_twice(std::vector<int>* out) {
  aio::Task<int> t = aio::create_task(twice(5));
  EXPECT_FALSE(t.done());
  out->push_back(co_await t);
  out->push_back(co_await t);  // an lvalue task: its result again
  EXPECT_TRUE(t.done());
  EXPECT_EQ(t.result(), 10);
  EXPECT_EQ(t.exception(), nullptr);
}
}  // namespace

TEST(AioTask, AnLvalueTaskGivesItsResultEachTime) {
  std::vector<int> out;
  aio::run(create_and_await_twice(&out));
  EXPECT_EQ(out, (std::vector<int>{10, 10}));
}

namespace {
aio::Task<void> gather_forms() {
  auto [a, b] = co_await aio::gather(twice(3), twice(4));
  EXPECT_EQ(a, 6);
  EXPECT_EQ(b, 8);
  std::vector<aio::Task<int>> tasks;
  for (int i = 0; i < 10; ++i) tasks.push_back(twice(i));
  std::vector<int> all = co_await aio::gather(std::move(tasks));
  EXPECT_EQ(all.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(all[i], 2 * i);
  auto results = co_await aio::gather(aio::return_exceptions, twice(5), fail_after(1ms, "x"));
  EXPECT_EQ(std::get<int>(std::get<0>(results)), 10);
  EXPECT_NE(std::get<std::exception_ptr>(std::get<1>(results)), nullptr);
  auto [v, w] = co_await aio::gather(nothing(), twice(1));
  (void)v;
  EXPECT_EQ(w, 2);
}
}  // namespace

TEST(AioGather, TupleVectorAndReturnExceptionsForms) { aio::run(gather_forms()); }

namespace {
aio::Task<int> twice_when_set(aio::Event* go, int x) {
  co_await go->wait();
  co_return 2 * x;
}
aio::Task<void> gather_first_failure_does_not_cancel_siblings() {
  aio::Event go;
  aio::Task<int> slow = aio::create_task(twice_when_set(&go, 7));
  bool threw = false;
  try {
    (void)co_await aio::gather(fail_after(0ms, "first"), slow);
  } catch (const std::runtime_error& e) {
    threw = std::string(e.what()) == "first";
  }
  EXPECT_TRUE(threw);
  EXPECT_FALSE(slow.done());
  EXPECT_FALSE(slow.cancelled());
  go.set();
  EXPECT_EQ(co_await slow, 14);  // not cancelled: it finishes
}
}  // namespace

TEST(AioGather, AFailureIsRethrownAtOnceAndSiblingsRunOn) {
  aio::run(gather_first_failure_does_not_cancel_siblings());
}

namespace {
aio::Task<void> wait_for_times_out_and_cancels_inner(bool* inner_cancelled) {
  aio::Task<int> inner = aio::create_task(forever());
  bool timed_out = false;
  try {
    (void)co_await aio::wait_for(inner, 10ms);
  } catch (const concur::TimeoutError&) {
    timed_out = true;
  }
  EXPECT_TRUE(timed_out);
  *inner_cancelled = inner.cancelled();  // cancelled and awaited before the TimeoutError
  EXPECT_EQ(co_await aio::wait_for(twice(2), 1s), 4);
  // A zero timeout: the new task has not run yet, so it is cancelled (Python 3.12 does the same).
  bool zero_timed_out = false;
  try {
    (void)co_await aio::wait_for(twice_now(2), 0s);
  } catch (const concur::TimeoutError&) {
    zero_timed_out = true;
  }
  EXPECT_TRUE(zero_timed_out);
}
}  // namespace

TEST(AioWaitFor, TimeoutCancelsAndAwaitsTheInnerTask) {
  bool cancelled = false;
  aio::run(wait_for_times_out_and_cancels_inner(&cancelled));
  EXPECT_TRUE(cancelled);
}

namespace {
aio::Task<void> timeout_block(int* cancelling_after) {
  bool timed_out = false;
  try {
    auto guard = co_await aio::timeout(10ms);
    co_await aio::sleep(1h);
  } catch (const concur::TimeoutError&) {
    timed_out = true;
  }
  EXPECT_TRUE(timed_out);
  *cancelling_after = aio::current_task()->cancelling();
  {
    auto guard = co_await aio::timeout(1h);
    co_await aio::sleep(1ms);
    EXPECT_FALSE(guard.expired());
  }
}
}  // namespace

TEST(AioTimeout, TheSuspendedAwaitThrowsTimeoutErrorAndCountsAreRestored) {
  int cancelling = -1;
  aio::run(timeout_block(&cancelling));
  EXPECT_EQ(cancelling, 0);
}

namespace {
aio::Task<void> cancel_a_sleeping_task() {
  aio::Task<int> t = aio::create_task(forever());
  co_await aio::sleep(0s);
  EXPECT_TRUE(t.cancel());
  EXPECT_EQ(t.cancelling(), 1);
  bool cancelled = false;
  try {
    (void)co_await t;
  } catch (const aio::CancelledError&) {
    cancelled = true;
  }
  EXPECT_TRUE(cancelled);
  EXPECT_TRUE(t.cancelled());
  EXPECT_FALSE(t.cancel());
  EXPECT_THROW(t.result(), aio::CancelledError);
}
aio::Task<int> count_runs(int* runs) {
  ++*runs;
  co_return 1;
}
aio::Task<void> cancel_before_start(int* runs) {
  aio::Task<int> t = aio::create_task(count_runs(runs));
  t.cancel();
  try {
    (void)co_await t;
  } catch (const aio::CancelledError&) {
  }
  EXPECT_TRUE(t.cancelled());
}
}  // namespace

TEST(AioCancel, TheSuspendedAwaitThrowsCancelledError) { aio::run(cancel_a_sleeping_task()); }

TEST(AioCancel, ATaskCancelledBeforeItStartsNeverRunsItsBody) {
  int runs = 0;
  aio::run(cancel_before_start(&runs));
  EXPECT_EQ(runs, 0);
}

namespace {
aio::Task<void> dropped_handles_do_not_destroy(int* finished) {
  for (int i = 0; i < 5; ++i) {
    (void)aio::create_task([](int* f) -> aio::Task<int> {
      co_await aio::sleep(2ms);
      ++*f;
      co_return 0;
    }(finished));
  }
  co_await aio::sleep(30ms);
}
}  // namespace

TEST(AioTask, TheLoopKeepsTasksWhoseHandlesWereDropped) {
  int finished = 0;
  aio::run(dropped_handles_do_not_destroy(&finished));
  EXPECT_EQ(finished, 5);
}

namespace {
aio::Task<void> names() {
  aio::Task<int> t = aio::create_task(twice(1));
  EXPECT_EQ(t.get_name().rfind("Task-", 0), 0u);
  t.set_name("worker");
  EXPECT_EQ(t.get_name(), "worker");
  aio::Task<int> u = aio::create_task(twice(1), "named");
  EXPECT_EQ(u.get_name(), "named");
  EXPECT_TRUE(aio::current_task());
  EXPECT_GE(aio::all_tasks().size(), 3u);
  co_await aio::gather(t, u);
}
}  // namespace

TEST(AioTask, NamesCurrentTaskAndAllTasks) {
  aio::run(names());
  EXPECT_FALSE(aio::current_task());
}

namespace {
aio::Task<void> pending_at_the_end(bool* cleaned_up) {
  struct Flag {
    bool* f;
    ~Flag() { *f = true; }
  };
  (void)aio::create_task([](bool* f) -> aio::Task<int> {
    Flag flag{f};
    co_await aio::sleep(1h);
    co_return 0;
  }(cleaned_up));
  co_await aio::sleep(0s);
}
}  // namespace

TEST(AioRun, PendingTasksAreCancelledAndDrainedAtTheEnd) {
  bool cleaned = false;
  aio::run(pending_at_the_end(&cleaned));
  EXPECT_TRUE(cleaned);
}

// As Python's Task.__del__: a task that failed and whose error nobody retrieved (result(),
// exception(), await, gather) is reported on stderr when it is destroyed; a retrieved one is not.
namespace {
aio::Task<void> fail_unretrieved_and_retrieved() {
  (void)aio::create_task(fail_after(0ms, "nobody looked"));  // the handle is dropped at once
  aio::Task<int> looked_at = aio::create_task(fail_after(0ms, "result() looked"));
  aio::Task<int> awaited = aio::create_task(fail_after(0ms, "awaited"));
  co_await aio::sleep(5ms);
  EXPECT_THROW(looked_at.result(), std::runtime_error);
  EXPECT_THROW((void)co_await awaited, std::runtime_error);
  // gather takes every child's error, also one that comes after the first failure.
  EXPECT_THROW((void)co_await aio::gather(fail_after(0ms, "gathered first"),
                                          fail_after(1ms, "gathered later")),
               std::runtime_error);
  co_await aio::sleep(5ms);
}
}  // namespace

TEST(AioTask, AnErrorNeverRetrievedIsReportedWhenTheTaskIsDestroyed) {
  testing::internal::CaptureStderr();
  aio::run(fail_unretrieved_and_retrieved());
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("Task exception was never retrieved"), std::string::npos) << err;
  EXPECT_NE(err.find("nobody looked"), std::string::npos) << err;
  EXPECT_EQ(err.find("result() looked"), std::string::npos) << err;
  EXPECT_EQ(err.find("awaited"), std::string::npos) << err;
  EXPECT_EQ(err.find("gathered"), std::string::npos) << err;
}
