// cf::ThreadPoolExecutor (API.md §4) apart from map and shutdown: submit() call forms, the
// worker threads (created lazily up to max_workers, reused when idle, named "<prefix>_<i>",
// default prefix "ThreadPoolExecutor-<k>"), the default max_workers, the per-worker
// initializer and the broken pool an initializer failure leaves, and max_workers <= 0.
// Scenarios follow CPython's test_thread_pool.py, test_init.py and test_shutdown.py
// (test_thread_names_*), observed through threading::get_ident(), current_thread().name() and
// threading::enumerate() instead of the private _threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "futures_support.hpp"

namespace {

// Names of the live threads whose name starts with `prefix`.
std::vector<std::string> threads_named(const std::string& prefix) {
  std::vector<std::string> names;
  for (const th::ThreadRef& t : th::enumerate()) {
    std::string n = t.name();
    if (n.rfind(prefix, 0) == 0) names.push_back(n);
  }
  std::sort(names.begin(), names.end());
  return names;
}

int pow_int(int base, int exp) {
  int r = 1;
  while (exp-- > 0) r *= base;
  return r;
}

struct Multiplier {
  int factor;
  int operator()(int x) const { return factor * x; }
};

// --- submit() -----------------------------------------------------------------------------------

TEST(Submit, CallFormsAndArguments) {
  // executor.test_submit
  cf::ThreadPoolExecutor pool(2);
  EXPECT_EQ(pool.submit(pow_int, 2, 8).result(long_wait()), 256);
  EXPECT_EQ(pool.submit(&pow_int, 3, 2).result(long_wait()), 9);
  EXPECT_EQ(pool.submit(Multiplier{3}, 5).result(long_wait()), 15);
  std::function<std::string(std::string, int)> rep = [](std::string s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
  };
  EXPECT_EQ(pool.submit(rep, std::string("ab"), 3).result(long_wait()), "ababab");
  EXPECT_EQ(pool.submit([] { return 1; }).result(long_wait()), 1);
  int counter = 0;
  pool.submit([&counter] { counter = 5; }).result(long_wait());
  EXPECT_EQ(counter, 5);
  // std::ref passes a reference, as with std::thread.
  int target = 0;
  pool.submit([](int& r) { r = 12; }, std::ref(target)).result(long_wait());
  EXPECT_EQ(target, 12);
}

TEST(Submit, ArgumentsAreStoredByValueAtSubmission) {
  BusyPool busy;
  auto& [gate, started, pool, blocker] = busy;
  std::string s = "original";
  std::vector<int> v{1, 2, 3};
  cf::Future<std::string> f =
      pool.submit([](const std::string& a, const std::vector<int>& b) { return a + std::to_string(b.size()); }, s, v);
  s = "changed";  // the call has not run yet: it must see the copies made by submit()
  v.clear();
  gate.open();
  EXPECT_EQ(f.result(long_wait()), "original3");
  blocker.result(long_wait());
}

TEST(Submit, MoveOnlyCallablesAndArguments) {
  cf::ThreadPoolExecutor pool(1);
  auto p = std::make_unique<int>(41);
  cf::Future<int> f = pool.submit([q = std::move(p)] { return *q + 1; });
  EXPECT_EQ(f.result(long_wait()), 42);
  cf::Future<int> g = pool.submit([](std::unique_ptr<int> q) { return *q * 2; }, std::make_unique<int>(21));
  EXPECT_EQ(g.result(long_wait()), 42);
}

TEST(Submit, FromManyThreadsAtOnce) {
  cf::ThreadPoolExecutor pool(3);
  constexpr int kThreads = 6, kEach = 200;
  std::vector<std::vector<cf::Future<int>>> futs(kThreads);
  run_parallel(kThreads, [&](int t) {
    for (int i = 0; i < kEach; ++i) futs[t].push_back(pool.submit([](int x) { return x * x; }, t * kEach + i));
  });
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kEach; ++i) {
      const int x = t * kEach + i;
      EXPECT_EQ(futs[t][i].result(long_wait()), x * x);
    }
}

// --- worker threads ---------------------------------------------------------------------------------

TEST(Workers, CreatedLazilyAndReusedWhenIdle) {
  // test_idle_thread_reuse: sequential submit + result on a pool of 4 needs one worker.
  cf::ThreadPoolExecutor pool(cf::ThreadPoolOptions{.max_workers = 4, .thread_name_prefix = "lazy"});
  give_time_to_misbehave();
  EXPECT_TRUE(threads_named("lazy_").empty()) << "no worker before the first submit()";

  std::set<std::uint64_t> idents;
  std::set<std::string> names;
  for (int i = 0; i < 20; ++i) {
    auto [ident, name] = pool.submit([] { return std::make_pair(th::get_ident(), th::current_thread().name()); })
                             .result(long_wait());
    idents.insert(ident);
    names.insert(name);
    EXPECT_NE(ident, th::get_ident()) << "the call runs on a worker, not in the caller";
  }
  EXPECT_EQ(idents.size(), 1u) << "an idle worker is reused instead of starting another";
  EXPECT_EQ(names, std::set<std::string>{"lazy_0"});
  EXPECT_EQ(threads_named("lazy_"), std::vector<std::string>{"lazy_0"});
}

TEST(Workers, GrowUpToMaxWorkersAndNoFurther) {
  // test_saturation: 40 blocking calls on a pool of 4 run 4 at a time, on 4 threads.
  cf::ThreadPoolExecutor pool(cf::ThreadPoolOptions{.max_workers = 4, .thread_name_prefix = "sat"});
  Gate gate;
  Log<std::uint64_t> started;
  std::vector<cf::Future<std::uint64_t>> futs;
  for (int i = 0; i < 40; ++i)
    futs.push_back(pool.submit([&] {
      started.push(th::get_ident());
      gate.wait();
      return th::get_ident();
    }));
  ASSERT_TRUE(eventually([&] { return started.size() == 4; }));
  give_time_to_misbehave();
  EXPECT_EQ(started.size(), 4u) << "more than max_workers calls ran at once";
  EXPECT_EQ(threads_named("sat_"), (std::vector<std::string>{"sat_0", "sat_1", "sat_2", "sat_3"}));
  gate.open();
  std::set<std::uint64_t> idents;
  for (auto& f : futs) idents.insert(f.result(long_wait()));
  EXPECT_EQ(idents.size(), 4u);
  EXPECT_EQ(threads_named("sat_").size(), 4u);
}

TEST(Workers, NamedWithThePrefixAndTheirIndex) {
  // test_thread_names_assigned: three calls that must meet need three workers at once.
  cf::ThreadPoolExecutor pool(cf::ThreadPoolOptions{.max_workers = 3, .thread_name_prefix = "SpecialPool"});
  th::Barrier barrier(3);
  std::vector<cf::Future<std::string>> futs;
  for (int i = 0; i < 3; ++i)
    futs.push_back(pool.submit([&] {
      barrier.wait(long_wait());
      return th::current_thread().name();
    }));
  std::set<std::string> names;
  for (auto& f : futs) names.insert(f.result(long_wait()));
  EXPECT_EQ(names, (std::set<std::string>{"SpecialPool_0", "SpecialPool_1", "SpecialPool_2"}));
}

TEST(Workers, DefaultNamePrefixIsThreadPoolExecutorAndACounter) {
  // test_thread_names_default: "ThreadPoolExecutor-<k>_<i>", k distinct per pool.
  cf::ThreadPoolExecutor a(2);
  cf::ThreadPoolExecutor b(2);
  const std::string na = a.submit([] { return th::current_thread().name(); }).result(long_wait());
  const std::string nb = b.submit([] { return th::current_thread().name(); }).result(long_wait());
  const std::regex form(R"(ThreadPoolExecutor-(\d+)_0)");
  std::smatch ma, mb;
  ASSERT_TRUE(std::regex_match(na, ma, form)) << na;
  ASSERT_TRUE(std::regex_match(nb, mb, form)) << nb;
  EXPECT_NE(ma[1].str(), mb[1].str()) << "two pools share the default prefix " << na;

  cf::ThreadPoolExecutor c;
  const std::string nc = c.submit([] { return th::current_thread().name(); }).result(long_wait());
  EXPECT_TRUE(std::regex_match(nc, form)) << nc;
}

TEST(Workers, DefaultMaxWorkersIsMin32AndCpuCountPlus4) {
  // test_default_workers, observed: the default pool runs that many blocking calls at once
  // and no more.
  const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t expected = std::min(32u, cpus + 4);
  cf::ThreadPoolExecutor pool;
  Gate gate;
  Log<std::uint64_t> started;
  std::vector<cf::Future<std::uint64_t>> futs;
  for (std::size_t i = 0; i < expected + 5; ++i)
    futs.push_back(pool.submit([&] {
      started.push(th::get_ident());
      gate.wait();
      return th::get_ident();
    }));
  ASSERT_TRUE(eventually([&] { return started.size() >= expected; })) << started.size();
  give_time_to_misbehave();
  EXPECT_EQ(started.size(), expected);
  gate.open();
  std::set<std::uint64_t> idents;
  for (auto& f : futs) idents.insert(f.result(long_wait()));
  EXPECT_EQ(idents.size(), expected);
}

TEST(Workers, MaxWorkersMustBePositive) {
  // executor.test_max_workers_negative
  EXPECT_THROW(cf::ThreadPoolExecutor(0), concur::ValueError);
  EXPECT_THROW(cf::ThreadPoolExecutor(-1), concur::ValueError);
  EXPECT_THROW(cf::ThreadPoolExecutor(cf::ThreadPoolOptions{.max_workers = 0}), concur::ValueError);
  EXPECT_THROW(cf::ThreadPoolExecutor(cf::ThreadPoolOptions{.max_workers = -4}), concur::ValueError);
  try {
    cf::ThreadPoolExecutor pool(0);
    ADD_FAILURE() << "ThreadPoolExecutor(0) constructed";
  } catch (const concur::ValueError& e) {
    EXPECT_NE(std::string(e.what()), "");
  }
  EXPECT_NO_THROW(cf::ThreadPoolExecutor(1));
}

// --- initializer ------------------------------------------------------------------------------------

thread_local int t_initialized = 0;  // set by the initializers below, per thread

TEST(Initializer, RunsOnceInEachWorkerBeforeItsCalls) {
  // test_init.InitializerMixin.test_initializer
  Log<std::uint64_t> inits;
  cf::ThreadPoolExecutor pool(cf::ThreadPoolOptions{.max_workers = 3, .thread_name_prefix = "init",
                                                    .initializer = [&] {
                                                      t_initialized++;
                                                      inits.push(th::get_ident());
                                                    }});
  give_time_to_misbehave();
  EXPECT_EQ(inits.size(), 0u) << "workers (and their initializers) start lazily";

  th::Barrier barrier(3);  // forces three workers
  std::vector<cf::Future<std::pair<std::uint64_t, int>>> futs;
  for (int i = 0; i < 3; ++i)
    futs.push_back(pool.submit([&] {
      barrier.wait(long_wait());
      return std::make_pair(th::get_ident(), t_initialized);
    }));
  for (int i = 0; i < 30; ++i)
    futs.push_back(pool.submit([] { return std::make_pair(th::get_ident(), t_initialized); }));
  std::set<std::uint64_t> workers;
  for (auto& f : futs) {
    auto [ident, initialized] = f.result(long_wait());
    EXPECT_EQ(initialized, 1) << "a call ran on a worker whose initializer had not run once";
    workers.insert(ident);
  }
  pool.shutdown();
  const auto ids = inits.items();
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(std::set<std::uint64_t>(ids.begin(), ids.end()), workers);
}

TEST(Initializer, FailureBreaksThePool) {
  // test_init.FailingInitializerMixin: the initializer throws while calls are queued; they fail
  // with BrokenExecutor without running, and submit() throws BrokenExecutor from then on.
  Gate init_gate;
  th::Event in_init;
  std::atomic<int> ran{0};
  testing::internal::CaptureStderr();  // the failure is reported; keep the test output clean
  {
    cf::ThreadPoolExecutor pool(cf::ThreadPoolOptions{.max_workers = 1, .initializer = [&] {
                                                        in_init.set();
                                                        init_gate.wait();
                                                        throw std::runtime_error("error in initializer");
                                                      }});
    std::vector<cf::Future<int>> futs;
    for (int i = 0; i < 5; ++i)
      futs.push_back(pool.submit([&] {
        ran++;
        return 1;
      }));
    EXPECT_TRUE(in_init.wait(long_wait()));
    init_gate.open();
    for (auto& f : futs) {
      EXPECT_THROW(f.result(long_wait()), cf::BrokenExecutor);
      EXPECT_TRUE(f.done());
      EXPECT_FALSE(f.cancelled());
      EXPECT_TRUE(holds<cf::BrokenExecutor>(f.exception()));
      EXPECT_NE(what_of(f.exception()), "");
    }
    // Broken by now (its futures fail only once it is): submit() refuses.
    EXPECT_THROW(pool.submit([] { return 2; }), cf::BrokenExecutor);
    try {
      pool.submit([] {});
      ADD_FAILURE() << "submit() to a broken pool returned";
    } catch (const concur::Error& e) {
      EXPECT_NE(std::string(e.what()), "");
    }
    pool.shutdown();  // and it shuts down cleanly
  }
  testing::internal::GetCapturedStderr();
  EXPECT_EQ(ran.load(), 0);
}

TEST(Initializer, FailureIsReported) {
  // test_init._assert_logged: CPython logs "Exception in initializer:" with the traceback; the
  // initializer's own exception must not vanish without a word (here: on stderr).
  testing::internal::CaptureStderr();
  {
    cf::ThreadPoolExecutor pool(cf::ThreadPoolOptions{
        .max_workers = 1, .initializer = [] { throw std::runtime_error("error in initializer"); }});
    cf::Future<int> f = pool.submit([] { return 1; });
    EXPECT_THROW(f.result(long_wait()), cf::BrokenExecutor);
  }
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("error in initializer"), std::string::npos) << "stderr: " << err;
}

TEST(Initializer, FailureWithMoreWorkersAndLaterSubmits) {
  // As test_init, without holding the initializer: a submit() races with the break, so it
  // either throws BrokenExecutor or returns a future that fails with it; the pool ends broken.
  std::atomic<int> ran{0};
  testing::internal::CaptureStderr();
  {
    cf::ThreadPoolExecutor pool(cf::ThreadPoolOptions{
        .max_workers = 2, .initializer = [] { throw std::runtime_error("error in initializer"); }});
    int refused = 0;
    for (int i = 0; i < 20; ++i) {
      try {
        cf::Future<int> f = pool.submit([&] { return ++ran; });
        EXPECT_THROW(f.result(long_wait()), cf::BrokenExecutor);
      } catch (const cf::BrokenExecutor&) {
        refused++;
      }
    }
    EXPECT_GE(refused, 19) << "after a future failed as broken, submit() must refuse";
    EXPECT_THROW(pool.submit([] {}), cf::BrokenExecutor);
  }
  testing::internal::GetCapturedStderr();
  EXPECT_EQ(ran.load(), 0);
}

}  // namespace
