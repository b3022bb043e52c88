// The Executor seam for executors that run calls elsewhere (futures/detail/call_form.hpp,
// Executor::enqueue_map_call / flush_map_calls): a test executor runs every task through its
// call form, as a process pool's worker would, and records what map() passes it.
#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "concur/deadlock.hpp"
#include "concur/futures.hpp"
#include "concur/threading.hpp"
#include "test_support.hpp"

namespace {

namespace cf = concur::futures;
using namespace std::chrono_literals;

// Every wait of these tests is bounded.
const auto kBound = concur_test::scaled(std::chrono::milliseconds(10000));

int seam_square(int x) { return x * x; }
std::string greet(std::string who, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += "hi " + who + ";";
  return out;
}

class FormExecutor final : public cf::Executor {
 public:
  std::vector<int> chunksizes;
  int flushes = 0;
  int with_form = 0, without_form = 0;
  void shutdown(bool, bool) override {}

 private:
  void enqueue(cf::detail::StateRef task) override { run(task); }
  void enqueue_map_call(cf::detail::StateRef task, int chunksize) override {
    chunksizes.push_back(chunksize);
    held_.push_back(std::move(task));
  }
  void flush_map_calls() override {
    ++flushes;
    for (auto& t : held_) run(t);
    held_.clear();
  }
  // As a worker in another process: only the call form is used when there is one.
  void run(cf::detail::StateRef& task) {
    cf::detail::CallForm form;
    if (task->call_form(form)) {
      ++with_form;
      ASSERT_NE(form.invoke, nullptr);
      ASSERT_NE(form.arguments_type, nullptr);
      form.invoke(form.target, form.arguments, *task.get());
    } else {
      ++without_form;
      task->run();
    }
  }
  std::vector<cf::detail::StateRef> held_;
};

TEST(ExecutorSeam, PlainFunctionsAndCapturelessLambdasHaveACallForm) {
  FormExecutor ex;
  EXPECT_EQ(ex.submit(seam_square, 7).result(kBound), 49);
  EXPECT_EQ(ex.submit(greet, std::string("bob"), 2).result(kBound), "hi bob;hi bob;");
  EXPECT_EQ(ex.submit([](int a, int b) { return a - b; }, 10, 3).result(kBound), 7);
  EXPECT_EQ(ex.with_form, 3);
  int captured = 5;
  EXPECT_EQ(ex.submit([captured](int a) { return a + captured; }, 1).result(kBound), 6);
  EXPECT_EQ(ex.without_form, 1);  // a capturing lambda cannot leave the process
}

TEST(ExecutorSeam, CallFormReportsTheArgumentTuple) {
  FormExecutor ex;
  auto f = ex.submit(greet, std::string("x"), 1);
  EXPECT_EQ(f.result(kBound), "hi x;");
  cf::Future<int> by_hand;  // a future made by hand has no call form
  cf::detail::CallForm form;
  EXPECT_FALSE(by_hand.state_ptr()->call_form(form));
}

TEST(ExecutorSeam, ExceptionsCrossTheCallForm) {
  FormExecutor ex;
  auto f = ex.submit(+[](int) -> int { throw std::invalid_argument("bad"); }, 1);
  EXPECT_THROW(f.result(kBound), std::invalid_argument);
}

TEST(ExecutorSeam, MapPassesChunksizeAndFlushesBeforeWaiting) {
  FormExecutor ex;
  std::vector<int> xs{1, 2, 3, 4, 5, 6, 7};
  std::vector<int> got;
  for (int r : ex.map(seam_square, xs, cf::MapOptions{.timeout = kBound, .chunksize = 3}))
    got.push_back(r);
  EXPECT_EQ(got, (std::vector<int>{1, 4, 9, 16, 25, 36, 49}));
  EXPECT_EQ(ex.chunksizes, std::vector<int>(7, 3));
  EXPECT_GE(ex.flushes, 1);

  // With a buffersize, calls are flushed as the consumer advances.
  FormExecutor lazy;
  got.clear();
  const cf::MapOptions lazy_options{.timeout = kBound, .chunksize = 2, .buffersize = 2};
  for (int r : lazy.map(seam_square, xs, lazy_options))
    got.push_back(r);
  EXPECT_EQ(got, (std::vector<int>{1, 4, 9, 16, 25, 36, 49}));
  EXPECT_GE(lazy.flushes, 3);
}

TEST(ExecutorSeam, ThreadPoolIgnoresChunksize) {
  cf::ThreadPoolExecutor pool(2);
  std::vector<int> xs{1, 2, 3};
  std::vector<int> got;
  for (int r : pool.map(seam_square, xs, cf::MapOptions{.timeout = kBound, .chunksize = 50}))
    got.push_back(r);
  EXPECT_EQ(got, (std::vector<int>{1, 4, 9}));
}

// A task that throws after its future was completed by hand must not terminate the process
// (the worker's run() is noexcept): the late exception is dropped, the hand-made outcome kept.
TEST(ExecutorSeam, TaskThatThrowsAfterItsFutureWasResolvedByHand) {
  cf::ThreadPoolExecutor pool(1);
  concur::threading::Event started, go;
  auto f = pool.submit([&]() -> int {
    started.set();
    go.wait(concur_test::scaled(10000ms));
    throw std::runtime_error("late");
  });
  ASSERT_TRUE(started.wait(concur_test::scaled(10000ms)));
  f.set_result(41);  // RUNNING -> FINISHED by hand
  go.set();
  EXPECT_EQ(f.result(kBound), 41);
  EXPECT_EQ(pool.submit([] { return 1; }).result(concur_test::scaled(10000ms)), 1);
}

// A result whose move constructor throws fails the task with that exception.
struct ThrowsOnMove {
  ThrowsOnMove() = default;
  ThrowsOnMove(const ThrowsOnMove&) { throw std::runtime_error("copy"); }
  ThrowsOnMove(ThrowsOnMove&&) { throw std::runtime_error("move"); }
};

TEST(ExecutorSeam, ResultWhoseMoveThrowsFailsTheTask) {
  cf::ThreadPoolExecutor pool(1);
  auto f = pool.submit([] { return ThrowsOnMove{}; });
  ASSERT_TRUE(f.wait_until(concur::Deadline::after(concur_test::scaled(10000ms))));
  EXPECT_NE(f.exception(), nullptr);
  EXPECT_EQ(pool.submit([] { return 2; }).result(concur_test::scaled(10000ms)), 2);
}

}  // namespace

namespace {

// A task whose function or arguments are over-aligned gets memory aligned for them (the task
// block cache serves only default alignment).
struct alignas(128) Wide {
  char bytes[128]{};
};

TEST(ExecutorSeam, OverAlignedArgumentsAreAligned) {
  cf::ThreadPoolExecutor pool(2);
  std::vector<cf::Future<std::uintptr_t>> fs;
  for (int i = 0; i < 50; ++i)
    fs.push_back(pool.submit(
        [](const Wide& w) { return reinterpret_cast<std::uintptr_t>(&w) % alignof(Wide); },
        Wide{}));
  for (auto& f : fs) EXPECT_EQ(f.result(concur_test::scaled(10000ms)), 0u);
}

}  // namespace

namespace {

// A pool's internals are detail primitives, never tracked user-facing ones: with lock-order
// checking on, a dump shows no thread holding a pool's semaphore.
TEST(ExecutorSeam, PoolInternalsAreInvisibleToDiagnostics) {
  concur::deadlock::enable_lock_order_checking(true);
  {
    cf::ThreadPoolExecutor pool(2);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(pool.submit(seam_square, i).result(kBound), i * i);
    const std::string dump = concur::threading::dump_threads();
    EXPECT_EQ(dump.find("semaphore"), std::string::npos) << dump;
  }
  concur::deadlock::enable_lock_order_checking(false);
}

}  // namespace
