// main() of every test binary: GoogleTest plus a watchdog. Each test gets a deadline; a test
// still running when it passes is reported by name and the process exits with a failure, so a
// hang (a lost wake-up, a deadlock) fails CI in seconds instead of stalling it. The watchdog uses
// only the standard library, never the code under test.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include "concur/multiprocessing/process.hpp"
#include "test_support.hpp"

namespace {

class Watchdog : public testing::EmptyTestEventListener {
 public:
  // Returns once the thread runs its loop, where it only waits: a test that forks at once then
  // never copies a thread that is still starting (AddressSanitizer's runtime takes allocator
  // locks as a thread starts, and a fork child would inherit them held: a hang).
  Watchdog() : thread_([this] { loop(); }) {
    std::unique_lock g(mutex_);
    cv_.wait(g, [this] { return running_; });
  }
  ~Watchdog() override {
    {
      std::lock_guard g(mutex_);
      quit_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  void OnTestStart(const testing::TestInfo& info) override {
    std::lock_guard g(mutex_);
    name_ = std::string(info.test_suite_name()) + "." + info.name();
    deadline_ = std::chrono::steady_clock::now() + concur_test::watchdog_limit();
    armed_ = true;
    cv_.notify_all();
  }
  void OnTestEnd(const testing::TestInfo&) override {
    std::lock_guard g(mutex_);
    armed_ = false;
  }

 private:
  void loop() {
    std::unique_lock g(mutex_);
    running_ = true;
    cv_.notify_all();
    while (!quit_) {
      if (!armed_) {
        cv_.wait(g);
        continue;
      }
      if (cv_.wait_until(g, deadline_) == std::cv_status::timeout && armed_ &&
          std::chrono::steady_clock::now() >= deadline_) {
        std::fprintf(stderr, "\nWATCHDOG: %s still running after %lld s: a hang; failing it\n",
                     name_.c_str(),
                     static_cast<long long>(concur_test::watchdog_limit().count()));
        std::fflush(stderr);
        std::_Exit(124);
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::string name_;
  std::chrono::steady_clock::time_point deadline_{};
  bool armed_ = false;
  bool quit_ = false;
  bool running_ = false;
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  // A child started by "spawn" or "forkserver" runs its target here and never returns.
  concur::multiprocessing::main_guard(argc, argv);
  testing::InitGoogleTest(&argc, argv);
  testing::UnitTest::GetInstance()->listeners().Append(new Watchdog);
  return RUN_ALL_TESTS();
}
