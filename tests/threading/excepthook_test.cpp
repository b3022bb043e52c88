// The except hook: an exception escaping a thread's target or run() ends that thread only and
// goes to the hook (threading.excepthook); the default prints "Exception in thread <name>:" and
// what() to stderr; set_excepthook(nullptr) restores it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "concur/threading.hpp"
#include "test_support.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;
using namespace concur_test;  // long_wait, scaled, eventually, time_of, ...

namespace {

struct Record {
  std::string thread_name;
  std::string what;
  std::string hook_thread_name;  // current_thread().name() inside the hook
  bool has_thread_ref = false;
  std::string ref_name;
  std::exception_ptr exception;
};

class ExceptHook : public testing::Test {
 protected:
  void SetUp() override {
    th::set_excepthook([this](const th::ExceptHookArgs& args) {
      Record r;
      r.thread_name = args.thread_name;
      r.what = args.exception ? what_of(args.exception) : "<null>";
      r.hook_thread_name = th::current_thread().name();
      r.has_thread_ref = args.thread.has_value();
      if (args.thread) r.ref_name = args.thread->name();
      r.exception = args.exception;
      std::lock_guard g(mutex_);
      records_.push_back(std::move(r));
    });
  }
  void TearDown() override { th::set_excepthook(nullptr); }

  std::vector<Record> records() {
    std::lock_guard g(mutex_);
    return records_;
  }

  std::mutex mutex_;
  std::vector<Record> records_;
};

}  // namespace

TEST_F(ExceptHook, TargetExceptionGoesToTheHookWithNameAndException) {
  th::Thread t(th::ThreadOptions{.name = "thrower"}, [] { throw std::runtime_error("boom"); });
  t.start();
  ASSERT_TRUE(t.join(long_wait()));  // the thread still ends normally
  EXPECT_FALSE(t.is_alive());
  auto rs = records();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].thread_name, "thrower");
  EXPECT_EQ(rs[0].what, "boom");
  ASSERT_TRUE(rs[0].exception);
  EXPECT_THROW(std::rethrow_exception(rs[0].exception), std::runtime_error);
}

TEST_F(ExceptHook, HookRunsInTheDyingThread) {
  // CPython calls threading.excepthook from the thread that raised.
  th::Thread t(th::ThreadOptions{.name = "dying"}, [] { throw std::logic_error("x"); });
  t.start();
  ASSERT_TRUE(t.join(long_wait()));
  auto rs = records();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].hook_thread_name, "dying");
  EXPECT_TRUE(rs[0].has_thread_ref);
  EXPECT_EQ(rs[0].ref_name, "dying");
}

TEST_F(ExceptHook, DefaultNamedThreadAndConcurErrors) {
  th::Thread t([] { throw concur::ValueError("a bad value"); });
  t.start();
  ASSERT_TRUE(t.join(long_wait()));
  auto rs = records();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].thread_name, t.name());
  EXPECT_EQ(rs[0].what, "a bad value");
  EXPECT_THROW(std::rethrow_exception(rs[0].exception), concur::ValueError);
}

TEST_F(ExceptHook, NonStdExceptionIsDeliveredToo) {
  th::Thread t([] { throw 42; });
  t.start();
  ASSERT_TRUE(t.join(long_wait()));
  auto rs = records();
  ASSERT_EQ(rs.size(), 1u);
  try {
    std::rethrow_exception(rs[0].exception);
  } catch (int v) {
    EXPECT_EQ(v, 42);
  } catch (...) {
    ADD_FAILURE() << "wrong exception type";
  }
}

TEST_F(ExceptHook, ThreadNameSeenIsTheCurrentOne) {
  th::Event go;
  th::Thread t(th::ThreadOptions{.name = "old"}, [&] {
    go.wait(long_wait());
    throw std::runtime_error("late");
  });
  t.start();
  t.set_name("renamed");
  go.set();
  ASSERT_TRUE(t.join(long_wait()));
  auto rs = records();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].thread_name, "renamed");
}

namespace {
struct Failing : th::Thread {
  Failing() : th::Thread(th::ThreadOptions{.name = "failing-run"}) {}
  ~Failing() override {
    if (ident()) join(long_wait());
  }
  void run() override { throw std::runtime_error("run failed"); }
};
}  // namespace

TEST_F(ExceptHook, RunOverrideExceptionGoesToTheHook) {
  Failing f;
  f.start();
  ASSERT_TRUE(f.join(long_wait()));
  auto rs = records();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].thread_name, "failing-run");
  EXPECT_EQ(rs[0].what, "run failed");
}

TEST_F(ExceptHook, OnlyTheFailingThreadEnds) {
  th::Event go;
  std::atomic<bool> other_done{false};
  th::Thread other([&] {
    go.wait(long_wait());
    other_done = true;
  });
  th::Thread failing([] { throw std::runtime_error("only me"); });
  other.start();
  failing.start();
  ASSERT_TRUE(failing.join(long_wait()));
  EXPECT_TRUE(other.is_alive());
  go.set();
  ASSERT_TRUE(other.join(long_wait()));
  EXPECT_TRUE(other_done.load());
  EXPECT_EQ(records().size(), 1u);

  // And new threads still start and run.
  bool ran = false;
  th::Thread after([&] { ran = true; });
  after.start();
  ASSERT_TRUE(after.join(long_wait()));
  EXPECT_TRUE(ran);
}

TEST_F(ExceptHook, ManyThreadsFailingAtOnceAreEachReportedOnce) {
  constexpr int kThreads = 16;
  std::vector<th::Thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back(th::ThreadOptions{.name = "f" + std::to_string(i)},
                         [i] { throw std::runtime_error("e" + std::to_string(i)); });
  for (auto& t : threads) t.start();
  for (auto& t : threads) ASSERT_TRUE(t.join(long_wait()));
  auto rs = records();
  ASSERT_EQ(rs.size(), static_cast<std::size_t>(kThreads));
  std::vector<int> seen(kThreads, 0);
  for (auto& r : rs) {
    ASSERT_EQ(r.thread_name.substr(1), r.what.substr(1));
    ++seen[std::stoi(r.what.substr(1))];
  }
  for (int c : seen) EXPECT_EQ(c, 1);
}

TEST_F(ExceptHook, ReplacingTheHookTakesEffect) {
  std::atomic<int> second{0};
  th::set_excepthook([&](const th::ExceptHookArgs&) { ++second; });
  th::Thread t([] { throw std::runtime_error("to the second hook"); });
  t.start();
  ASSERT_TRUE(t.join(long_wait()));
  EXPECT_EQ(second.load(), 1);
  EXPECT_TRUE(records().empty());
}

TEST_F(ExceptHook, NullptrRestoresTheDefaultWhichPrintsToStderr) {
  th::set_excepthook(nullptr);
  testing::internal::CaptureStderr();
  th::Thread t(th::ThreadOptions{.name = "crasher-7"},
               [] { throw std::runtime_error("kaboom 123"); });
  t.start();
  const bool joined = t.join(long_wait());
  const std::string err = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(joined);
  EXPECT_NE(err.find("Exception in thread crasher-7:"), std::string::npos) << err;
  // As Python's last traceback line: the exception's type, then its message.
  EXPECT_NE(err.find("std::runtime_error: kaboom 123\n"), std::string::npos) << err;
  EXPECT_LT(err.find("Exception in thread crasher-7:"), err.find("kaboom 123")) << err;
  EXPECT_TRUE(records().empty());
}

TEST(ExceptHookDefault, DefaultHookPrintsNameTypeAndWhat) {
  // No hook was ever set in this process.
  testing::internal::CaptureStderr();
  th::Thread t([] { throw std::out_of_range("index 9 out of range"); });
  t.start();
  const bool joined = t.join(long_wait());
  const std::string err = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(joined);
  EXPECT_EQ(err, "Exception in thread " + t.name() + ":\nstd::out_of_range: index 9 out of range\n");
}

TEST(ExceptHookDefault, DefaultHookNamesConcurErrorsAndNonStandardExceptions) {
  testing::internal::CaptureStderr();
  th::Thread a(th::ThreadOptions{.name = "a"}, [] { throw concur::ValueError("bad value"); });
  th::Thread b(th::ThreadOptions{.name = "b"}, [] { throw 42; });
  a.start();
  const bool a_joined = a.join(long_wait());
  b.start();
  const bool b_joined = b.join(long_wait());
  const std::string err = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(a_joined && b_joined);
  EXPECT_EQ(err, "Exception in thread a:\nconcur::ValueError: bad value\nException in thread b:\nint\n");
}

TEST(ExceptHookDefault, AHookThatThrowsIsReportedAndTheThreadStillEnds) {
  th::set_excepthook([](const th::ExceptHookArgs&) { throw std::runtime_error("hook broke"); });
  testing::internal::CaptureStderr();
  th::Thread t([] { throw std::runtime_error("original"); });
  t.start();
  const bool joined = t.join(long_wait());
  const std::string err = testing::internal::GetCapturedStderr();
  th::set_excepthook(nullptr);
  ASSERT_TRUE(joined);
  EXPECT_FALSE(t.is_alive());
  EXPECT_NE(err.find("hook broke"), std::string::npos) << err;
}

TEST(ExceptHookDefault, NoExceptionNoReport) {
  std::atomic<int> calls{0};
  th::set_excepthook([&](const th::ExceptHookArgs&) { ++calls; });
  th::Thread t([] {});
  t.start();
  ASSERT_TRUE(t.join(long_wait()));
  th::set_excepthook(nullptr);
  EXPECT_EQ(calls.load(), 0);
}
