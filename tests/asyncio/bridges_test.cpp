// Between coroutines and threads: awaiting cf::Futures, to_thread, run_in_executor,
// run_coroutine_threadsafe.
#include <concur/asyncio.hpp>
#include <concur/futures.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace aio = concur::asyncio;
namespace cf = concur::futures;
using namespace std::chrono_literals;

namespace {

int add_one(int x) { return x + 1; }
int throws_value_error(int) { throw concur::ValueError("bad value"); }

aio::Task<void> await_futures() {
  cf::ThreadPoolExecutor pool(2);
  cf::Future<int> f = pool.submit(add_one, 1);
  EXPECT_EQ(co_await f, 2);
  EXPECT_EQ(co_await f, 2);  // again: the same result
  bool threw = false;
  try {
    (void)co_await pool.submit(throws_value_error, 0);
  } catch (const concur::ValueError&) {
    threw = true;
  }
  EXPECT_TRUE(threw);
  EXPECT_EQ(co_await aio::to_thread(add_one, 41), 42);
  EXPECT_EQ(co_await aio::get_running_loop().run_in_executor(pool, add_one, 9), 10);
}

}  // namespace

TEST(AioBridges, AwaitingFuturesToThreadAndRunInExecutor) { aio::run(await_futures()); }

namespace {
aio::Task<void> many_futures(int* sum) {
  cf::ThreadPoolExecutor pool(4);
  std::vector<cf::Future<int>> fs;
  for (int i = 0; i < 2000; ++i) fs.push_back(pool.submit(add_one, i));
  for (auto& f : fs) *sum += co_await f;
}
}  // namespace

TEST(AioBridges, ManyFuturesCompletedByOtherThreadsAreAllReceived) {
  int sum = 0;
  aio::run(many_futures(&sum));
  EXPECT_EQ(sum, 2000 * 1999 / 2 + 2000);
}

namespace {
aio::Task<int> await_hand_made(cf::Future<int> f) { co_return co_await f; }
aio::Task<void> cancel_a_future_wait() {
  cf::Future<int> never;  // nobody will complete it
  aio::Task<int> t = aio::create_task(await_hand_made(never));
  co_await aio::sleep(0s);
  t.cancel();
  bool cancelled = false;
  try {
    (void)co_await t;
  } catch (const aio::CancelledError&) {
    cancelled = true;
  }
  EXPECT_TRUE(cancelled);
  EXPECT_TRUE(never.cancelled());  // as Python's wrap_future: the future is cancelled too
}
aio::Task<void> completed_from_a_thread() {
  cf::Future<int> f;
  std::thread t([f]() mutable {
    concur_test::give_time_to_misbehave();
    f.set_result(7);
  });
  int v = co_await aio::wait_for(await_hand_made(f), 10s);
  t.join();
  EXPECT_EQ(v, 7);
}
}  // namespace

TEST(AioBridges, CancellingATaskThatAwaitsAFutureCancelsTheFuture) {
  aio::run(cancel_a_future_wait());
}

TEST(AioBridges, AFutureCompletedByAnotherThreadWakesTheLoop) {
  aio::run(completed_from_a_thread());
}

namespace {
aio::Task<int> triple_later(int x) {
  co_await aio::sleep(1ms);
  co_return 3 * x;
}
}  // namespace

TEST(AioBridges, RunCoroutineThreadsafeFromOtherThreads) {
  aio::EventLoop loop;  // run by loop_thread; this thread uses only the threadsafe entries
  cf::Future<bool> running;
  std::thread loop_thread([&] {
    loop.call_soon([&] { running.set_result(true); });
    loop.run_forever();
  });
  EXPECT_TRUE(running.result(concur_test::long_wait()));
  std::vector<cf::Future<int>> fs;
  for (int i = 0; i < 50; ++i) fs.push_back(aio::run_coroutine_threadsafe(triple_later(i), loop));
  int sum = 0;
  for (auto& f : fs) sum += f.result(concur_test::long_wait());
  loop.call_soon_threadsafe([&] { loop.stop(); });
  loop_thread.join();
  EXPECT_EQ(sum, 3 * 49 * 50 / 2);
}
