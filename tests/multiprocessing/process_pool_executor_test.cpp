// cf::ProcessPoolExecutor (concur/multiprocessing/process_pool_executor.hpp; API.md §6.4), after
// CPython's Lib/test/test_concurrent_futures: executor.py (ExecutorTest: test_submit, test_map,
// test_map_exception, test_map_timeout, test_shutdown_race_issue12456, test_max_workers_negative),
// test_process_pool.py (test_killed_child, test_broken_process_pool_traceback,
// test_map_chunksize, test_traceback, test_traceback_when_child_process_terminates_abruptly,
// test_saturation, test_max_tasks_per_child, test_max_tasks_per_child_pending_tasks_gh115634,
// test_max_tasks_early_shutdown, test_force_shutdown_workers*, test_terminate_workers,
// test_kill_workers), test_init.py (InitializerMixin, FailingInitializerMixin), test_shutdown.py,
// test_wait.py and test_as_completed.py on a process pool's futures; plus what concur adds: a
// worker that dies in a task (SIGKILL, abort, _Exit, exit, SIGSEGV) breaks the pool with
// cf::BrokenProcessPool naming its pid and exit code; a task whose result cannot be serialized
// fails alone; max_tasks_per_child works with fork too; a result never waits behind the worker's
// next call, nor a pending call behind a running one while a worker is free; what cannot cross
// (a capturing lambda, a std::function, a handle as an argument, a call type the executor's own
// type never saw) is refused with ValueError; shutdown(wait = true) from a callback is refused.
//
// Tasks are plain functions or capture-less lambdas of this file, with serializable arguments
// and results, under every start method; they never start threads (under ThreadSanitizer a child
// forked from a multithreaded parent cannot). The executor's initializer takes no arguments, so
// a task meets the test through FIFOs named by their paths (plain strings, which cross under
// every start method): a PpeGate it waits at (bounded) until the test opens it, and a
// PpeSignal it writes a byte to when it starts. No sleep makes anything meet. Every wait is
// bounded: result(long_wait()), timed waits, or the watchdog of watchdog_main.cpp (which also
// calls mp::main_guard, so that spawn and forkserver workers run).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <concur/futures.hpp>
#include <concur/multiprocessing.hpp>
#include <concur/threading.hpp>

#include "bounded_child.hpp"
#include "test_support.hpp"

namespace {

namespace mp = concur::multiprocessing;
namespace cf = concur::futures;
namespace th = concur::threading;
using namespace std::chrono_literals;
using concur_test::long_wait;

constexpr bool kPpeSanitized = concur_test::kSanitized;

// --- FIFOs a task in any process can find by path -----------------------------------------------

// A FIFO in a fresh directory of its own, removed with it.
class PpeFifo {
 public:
  PpeFifo() {
    char dir[] = "/tmp/concur-ppe-XXXXXX";
    if (::mkdtemp(dir) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = dir;
    path_ = dir_ + "/fifo";
    if (::mkfifo(path_.c_str(), 0600) != 0) throw std::runtime_error("mkfifo failed");
  }
  ~PpeFifo() {
    if (fd_ >= 0) ::close(fd_);
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  PpeFifo(const PpeFifo&) = delete;
  PpeFifo& operator=(const PpeFifo&) = delete;
  const std::string& path() const { return path_; }

 protected:
  std::string dir_, path_;
  int fd_ = -1;
};

// Closed until open(): then one byte sits in the FIFO, never read, and every waiter, now or
// later, sees it readable. (A reader that never had a writer sees nothing, not a hang-up.)
// A test declares its gate after its executor: the gate opens (and goes) before the executor's
// destructor waits for the calls, so that a test that fails early does not wait for them.
class PpeGate : public PpeFifo {
 public:
  void open() {
    if (fd_ >= 0) return;
    fd_ = ::open(path_.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0 || ::write(fd_, "g", 1) != 1) ADD_FAILURE() << "cannot open the gate";
  }
  ~PpeGate() { open(); }  // a task still waiting ends
};

// Waits, in a task, until the gate at `path` opens, at most `ms` milliseconds.
bool ppe_wait_gate(const std::string& path, int ms) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  pollfd p{fd, POLLIN, 0};
  int r;
  do r = ::poll(&p, 1, ms);
  while (r < 0 && errno == EINTR);
  ::close(fd);
  return r > 0 && (p.revents & POLLIN);
}

// Tasks write one byte each as they start; the test counts them.
class PpeSignal : public PpeFifo {
 public:
  PpeSignal() { fd_ = ::open(path_.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC); }
  // Waits (bounded) until n more tasks have started.
  ::testing::AssertionResult wait_started(int n) {
    const auto deadline = concur_test::Clock::now() + long_wait();
    int got = 0;
    while (got < n) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - concur_test::Clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[64];
      const ssize_t r = ::read(fd_, buf, static_cast<std::size_t>(std::min(n - got, 64)));
      if (r > 0) got += static_cast<int>(r);
    }
    if (got == n) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "only " << got << " of " << n << " tasks started";
  }
};
void ppe_signal(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return;
  (void)::write(fd, "s", 1);
  ::close(fd);
}

// --- tasks --------------------------------------------------------------------------------------

long ppe_pow(long base, int exp) {
  long r = 1;
  while (exp-- > 0) r *= base;
  return r;
}
int ppe_mul(int a, int b) { return a * b; }
int ppe_sqr(int x) { return x * x; }
int ppe_pid() { return mp::getpid(); }
int ppe_pid_of(int) { return mp::getpid(); }
void ppe_noop() {}
std::pair<int, int> ppe_divmod(int a, int b) {
  if (b == 0) throw std::domain_error("integer division or modulo by zero");
  return {a / b, a % b};
}
std::string ppe_to_string(int x) { return std::to_string(x); }
std::vector<std::string> ppe_split(std::string s) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (c == ' ') out.emplace_back();
    else out.back() += c;
  }
  return out;
}

// Says it started, waits at the gate (bounded), returns x.
int ppe_held(std::string gate, std::string started, int x) {
  ppe_signal(started);
  if (!ppe_wait_gate(gate, 30000)) throw concur::TimeoutError("the gate never opened");
  return x;
}
// Only x == hold is held.
int ppe_hold_one(std::string gate, int hold, int x) {
  if (x == hold && !ppe_wait_gate(gate, 30000)) throw concur::TimeoutError("the gate never opened");
  return x;
}

struct PpeCustomError : std::exception {
  const char* what() const noexcept override { return "custom trouble"; }
};
int ppe_throw(int kind) {
  switch (kind) {
    case 0: throw std::runtime_error("123");
    case 1: throw std::out_of_range("key");
    case 2: throw concur::ValueError("bad value");
    case 3: throw PpeCustomError();
    default: return kind;
  }
}

// A value whose serialization throws when negative.
struct PpePoison {
  int v = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    if (v < 0) throw std::runtime_error("PpePoison cannot be serialized");
    ar(v);
  }
};
PpePoison ppe_poison_result(int v) { return PpePoison{v}; }
int ppe_poison_value(PpePoison p) { return p.v; }

// Initializers (no arguments, as API.md §6.4 says).
int g_ppe_init_value = 0;
void ppe_init() { g_ppe_init_value = 42; }
int ppe_read_init() { return g_ppe_init_value; }
void ppe_init_fail() { throw std::runtime_error("error in initializer"); }

// How a task kills its worker.
enum class PpeDeath { sigkill, abort, underscore_exit, std_exit, segfault };
int ppe_die(int how) {
  switch (static_cast<PpeDeath>(how)) {
    case PpeDeath::sigkill: ::raise(SIGKILL); break;
    case PpeDeath::abort: std::abort();
    case PpeDeath::underscore_exit: std::_Exit(3);
    case PpeDeath::std_exit:
      // A worker forked from the test binary inherits bounded_child.hpp's at-exit handler,
      // which leaves with g_child_status: make that the code given to exit().
      concur_test::g_child_status = 3;
      std::exit(3);
    case PpeDeath::segfault: ::raise(SIGSEGV); break;
  }
  std::_Exit(99);
}

// --- helpers ------------------------------------------------------------------------------------

template <class E, class F>
std::string ppe_what_of_throw(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw another type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "threw nothing";
  return {};
}

// The what() of the E that f.result() throws. The caller holds `f` while the exception is read:
// the executor's thread drops its own reference to the future at any moment after completing
// it, and if that were the last one it would destroy the exception under the reader (a real
// order, through the C++ runtime's exception reference count, that ThreadSanitizer cannot see,
// as libstdc++ is not instrumented).
template <class E, class R>
std::string ppe_what_of_result(const cf::Future<R>& f) {
  return ppe_what_of_throw<E>([&] { f.result(long_wait()); });
}

template <class E>
bool ppe_holds(const std::exception_ptr& e) {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

std::vector<int> ppe_range(int n) {
  std::vector<int> v(n);
  for (int i = 0; i < n; ++i) v[i] = i;
  return v;
}
std::vector<int> ppe_squares(int n) {
  std::vector<int> v(n);
  for (int i = 0; i < n; ++i) v[i] = i * i;
  return v;
}
template <class R>
auto ppe_collect(cf::MapRange<R>&& range) {
  using V = typename cf::MapRange<R>::value_type;  // std::monostate for a void function
  std::vector<V> out;
  for (V r : range) out.push_back(std::move(r));
  return out;
}

bool ppe_process_ended(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string pid_field, comm, state;
  if (!(stat >> pid_field >> comm >> state)) return true;
  return state == "Z" || state == "X";
}

// ================================================================================================
// submit (ExecutorTest)
// ================================================================================================

TEST(ProcessPoolExecutorTest, Submit) {
  // test_submit
  cf::ProcessPoolExecutor ex(2);
  EXPECT_EQ(ex.submit(ppe_pow, 2L, 8).result(long_wait()), 256);
  EXPECT_EQ(ex.submit(&ppe_mul, 6, 7).result(long_wait()), 42);
  EXPECT_EQ(ex.submit([](std::string s, int n) { return s.size() * n; }, std::string("abc"), 2).result(long_wait()),
            6u);
  ex.submit(ppe_noop).result(long_wait());
  EXPECT_EQ(ex.submit(ppe_split, std::string("a bc d")).result(long_wait()),
            (std::vector<std::string>{"a", "bc", "d"}));
  const int pid = ex.submit(ppe_pid).result(long_wait());
  EXPECT_NE(pid, mp::getpid());
  EXPECT_EQ(ex.max_workers(), 2);
  const std::vector<int> pids = ex.worker_pids();
  EXPECT_LE(pids.size(), 2u);
  EXPECT_NE(std::find(pids.begin(), pids.end(), pid), pids.end());
  // A void function's map results are std::monostate values (Python's None).
  EXPECT_EQ(ppe_collect(ex.map([](int) {}, ppe_range(3))).size(), 3u);
}

TEST(ProcessPoolExecutorTest, DefaultWorkersAndOptions) {
  cf::ProcessPoolExecutor a;
  EXPECT_EQ(a.submit(ppe_sqr, 3).result(long_wait()), 9);
  cf::ProcessPoolExecutor b(cf::ProcessPoolOptions{.max_workers = 2, .mp_context = "forkserver", .initializer = ppe_init,
                                                   .max_tasks_per_child = 100});
  EXPECT_EQ(b.submit(ppe_read_init).result(long_wait()), 42);
}

TEST(ProcessPoolExecutorTest, MaxWorkersMustBePositive) {
  // test_max_workers_negative
  for (int n : {0, -1}) {
    const std::string what = ppe_what_of_throw<concur::ValueError>([&] { cf::ProcessPoolExecutor ex(n); });
    EXPECT_NE(what.find("max_workers must be greater than 0"), std::string::npos) << what;
  }
}

TEST(ProcessPoolExecutorTest, SubmitFromManyThreadsAtOnce) {
  cf::ProcessPoolExecutor ex(2);
  constexpr int kThreads = 4, kEach = 25;
  std::vector<std::vector<cf::Future<int>>> futs(kThreads);
  concur_test::run_together(kThreads, [&](int t) {
    for (int i = 0; i < kEach; ++i) futs[t].push_back(ex.submit(ppe_sqr, t * kEach + i));
  });
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kEach; ++i) EXPECT_EQ(futs[t][i].result(long_wait()), (t * kEach + i) * (t * kEach + i));
}

TEST(ProcessPoolExecutorTest, FutureStatesOfARunningCall) {
  cf::ProcessPoolExecutor ex(1);
  PpeGate gate;
  PpeSignal started;
  cf::Future<int> f = ex.submit(ppe_held, gate.path(), started.path(), 5);
  ASSERT_TRUE(started.wait_started(1));
  EXPECT_TRUE(f.running());
  EXPECT_FALSE(f.done());
  EXPECT_FALSE(f.cancel());  // running: too late
  const auto elapsed = concur_test::time_of([&] { EXPECT_THROW(f.result(50ms), concur::TimeoutError); });
  concur_test::expect_timed_out_after_50ms(elapsed);
  gate.open();
  EXPECT_EQ(f.result(long_wait()), 5);
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.exception());
}

TEST(ProcessPoolExecutorTest, APendingCallCanBeCancelled) {
  cf::ProcessPoolExecutor ex(1);
  PpeGate gate;
  PpeSignal started;
  cf::Future<int> running = ex.submit(ppe_held, gate.path(), started.path(), 1);
  ASSERT_TRUE(started.wait_started(1));
  std::vector<cf::Future<int>> pending;
  for (int i = 0; i < 6; ++i) pending.push_back(ex.submit(ppe_sqr, i));
  EXPECT_TRUE(pending.back().cancel());  // far behind the running call: not sent yet
  gate.open();
  EXPECT_EQ(running.result(long_wait()), 1);
  EXPECT_THROW(pending.back().result(long_wait()), cf::CancelledError);
  for (int i = 0; i < 5; ++i) {
    if (pending[i].cancelled()) continue;
    EXPECT_EQ(pending[i].result(long_wait()), i * i);
  }
}

TEST(ProcessPoolExecutorTest, AResultArrivesWhileTheWorkerRunsItsNextCall) {
  // A call's result does not wait for the calls sent after it to the same worker: on a pool of
  // one, map yields the first result while the second call is held.
  cf::ProcessPoolExecutor ex(1);
  PpeGate gate;
  EXPECT_EQ(ex.submit(ppe_hold_one, gate.path(), 1, 4).result(long_wait()), 4);  // warm: its code is found
  auto results = ex.map(ppe_hold_one, std::vector<std::string>(2, gate.path()), std::vector<int>(2, 1),
                        std::vector<int>{0, 1}, cf::MapOptions{.timeout = long_wait()});
  auto it = results.begin();
  EXPECT_NO_THROW(EXPECT_EQ(*it, 0));
  gate.open();
  ++it;
  EXPECT_EQ(*it, 1);
}

TEST(ProcessPoolExecutorTest, PendingCallsDoNotWaitBehindARunningOneWhileAWorkerIsFree) {
  // CPython's workers take calls from one shared queue: a free worker runs them.
  cf::ProcessPoolExecutor ex(2);
  PpeGate gate;
  PpeSignal started;
  cf::Future<int> held = ex.submit(ppe_held, gate.path(), started.path(), 1);
  ASSERT_TRUE(started.wait_started(1));
  std::vector<cf::Future<int>> quick;
  for (int i = 0; i < 6; ++i) quick.push_back(ex.submit(ppe_sqr, i));
  auto [done, not_done] = cf::wait(quick, long_wait());
  EXPECT_TRUE(not_done.empty()) << not_done.size() << " of 6 quick calls still wait behind the held one";
  for (int i = 0; i < 6; ++i)
    if (quick[i].done()) {
      EXPECT_EQ(quick[i].result(0s), i * i);
    }
  EXPECT_FALSE(held.done());
  gate.open();
  EXPECT_EQ(held.result(long_wait()), 1);
}

// --- exceptions ---------------------------------------------------------------------------------

TEST(ProcessPoolExecutorTest, ExceptionsArriveAsTheirOwnType) {
  // test_traceback: the same type and message.
  cf::ProcessPoolExecutor ex(1);
  // Each future is held while its exception is read (ppe_what_of_result).
  EXPECT_THROW(ex.submit(ppe_throw, 0).result(long_wait()), std::runtime_error);
  const cf::Future<int> f0 = ex.submit(ppe_throw, 0), f1 = ex.submit(ppe_throw, 1), f2 = ex.submit(ppe_throw, 2);
  EXPECT_EQ(ppe_what_of_result<std::runtime_error>(f0), "123");
  EXPECT_EQ(ppe_what_of_result<std::out_of_range>(f1), "key");
  EXPECT_EQ(ppe_what_of_result<concur::ValueError>(f2), "bad value");
  cf::Future<int> custom = ex.submit(ppe_throw, 3);
  const std::exception_ptr e = custom.exception(long_wait());
  ASSERT_TRUE(ppe_holds<mp::RemoteError>(e));
  try {
    std::rethrow_exception(e);
  } catch (const mp::RemoteError& r) {
    EXPECT_NE(r.type_name().find("PpeCustomError"), std::string::npos) << r.type_name();
    EXPECT_EQ(r.message(), "custom trouble");
  }
  EXPECT_EQ(ex.submit(ppe_throw, 7).result(long_wait()), 7);
}

TEST(ProcessPoolExecutorTest, AResultThatCannotBeSerializedFailsThatTaskOnly) {
  cf::ProcessPoolExecutor ex(2);
  for (int i = 0; i < 5; ++i) {
    cf::Future<PpePoison> f = ex.submit(ppe_poison_result, -1);
    EXPECT_TRUE(f.exception(long_wait()));
    EXPECT_ANY_THROW(f.result(long_wait()));
  }
  EXPECT_EQ(ex.submit(ppe_poison_result, 3).result(long_wait()).v, 3);
  EXPECT_EQ(ppe_collect(ex.map(ppe_sqr, ppe_range(5))), ppe_squares(5));
}

TEST(ProcessPoolExecutorTest, WhatCannotCrossIsRefusedWithValueError) {
  cf::ProcessPoolExecutor ex(1);
  int captured = 3;
  EXPECT_THROW(ex.submit([captured](int x) { return x + captured; }, 1), concur::ValueError);
  EXPECT_THROW(ex.submit(std::function<int(int)>(ppe_sqr), 1), concur::ValueError);
  // A handle cannot cross as a plain value.
  EXPECT_THROW(ex.submit([](mp::Event e) { return e.is_set(); }, mp::Event()), concur::ValueError);
  // An argument whose serialization fails fails that call only.
  bool refused = false;
  try {
    cf::Future<int> f = ex.submit(ppe_poison_value, PpePoison{-1});
    refused = f.exception(long_wait()) != nullptr;
  } catch (const std::exception&) {
    refused = true;
  }
  EXPECT_TRUE(refused);
  EXPECT_EQ(ex.submit(ppe_poison_value, PpePoison{4}).result(long_wait()), 4);
}

TEST(ProcessPoolExecutorTest, ANullFunctionPointerFailsThatCallOnly) {
  // As mp::Pool refuses it (ValueError), or as Python's submit(None) fails that call alone: a
  // null function pointer does not reach a worker, whose death would break the executor.
  cf::ProcessPoolExecutor ex(1);
  int (*null_fn)(int) = nullptr;
  std::exception_ptr error;
  try {
    cf::Future<int> f = ex.submit(null_fn, 1);
    error = f.exception(long_wait());
  } catch (const concur::ValueError&) {
    error = std::current_exception();
  }
  EXPECT_TRUE(error != nullptr);
  EXPECT_FALSE(ppe_holds<cf::BrokenExecutor>(error)) << concur_test::what_of(error);
  std::exception_ptr e;  // the executor is not broken
  try {
    e = ex.submit(ppe_sqr, 5).exception(long_wait());
  } catch (...) {
    e = std::current_exception();
  }
  EXPECT_FALSE(e) << concur_test::what_of(e);
}

// A signature no other test uses: its codec is registered only by the submit below.
long ppe_only_via_base(short x) { return x + 1000L; }

TEST(ProcessPoolExecutorTest, SubmitThroughTheExecutorBase) {
  // Through an Executor&, a call type is known only once the ProcessPoolExecutor type itself has
  // submitted (or mapped) it: before that, ValueError.
  cf::ProcessPoolExecutor ex(1);
  cf::Executor& base = ex;
  static bool registered = false;  // by this test's first run in this process (--gtest_repeat)
  if (!registered) {
    EXPECT_THROW(base.submit(ppe_only_via_base, short{1}), concur::ValueError);
  }
  registered = true;
  EXPECT_EQ(ex.submit(ppe_only_via_base, short{1}).result(long_wait()), 1001L);
  EXPECT_EQ(base.submit(ppe_only_via_base, short{2}).result(long_wait()), 1002L);
  EXPECT_EQ(ppe_collect(base.map(ppe_only_via_base, std::vector<short>{3, 4})), (std::vector<long>{1003, 1004}));
}

// ================================================================================================
// map
// ================================================================================================

TEST(ProcessPoolExecutorTest, Map) {
  // test_map, test_map_chunksize
  cf::ProcessPoolExecutor ex(2);
  std::vector<long> want;
  std::vector<long> bases;
  std::vector<int> exps;
  for (int i = 0; i < 10; ++i) {
    bases.push_back(i);
    exps.push_back(i);
    want.push_back(ppe_pow(i, i));
  }
  EXPECT_EQ(ppe_collect(ex.map(ppe_pow, bases, exps)), want);
  EXPECT_EQ(ppe_collect(ex.map(ppe_pow, bases, exps, cf::MapOptions{.chunksize = 3})), want);
  EXPECT_EQ(ppe_collect(ex.map(ppe_sqr, ppe_range(40), cf::MapOptions{.chunksize = 6})), ppe_squares(40));
  EXPECT_EQ(ppe_collect(ex.map(ppe_sqr, ppe_range(40), cf::MapOptions{.chunksize = 50})), ppe_squares(40));
  EXPECT_EQ(ppe_collect(ex.map(ppe_sqr, ppe_range(40), cf::MapOptions{.chunksize = 40})), ppe_squares(40));
  EXPECT_EQ(ppe_collect(ex.map(ppe_to_string, std::vector<int>{1, 22})), (std::vector<std::string>{"1", "22"}));
  EXPECT_EQ(ppe_collect(ex.map(ppe_sqr, std::vector<int>{})), std::vector<int>{});
  EXPECT_EQ(ppe_collect(ex.map(ppe_sqr, ppe_range(5), long_wait())), ppe_squares(5));  // a timeout
  EXPECT_EQ(ppe_collect(ex.map([](int x) { return -x; }, std::vector<int>{1, 2}, cf::MapOptions{.chunksize = 2})),
            (std::vector<int>{-1, -2}));
}

TEST(ProcessPoolExecutorTest, MapException) {
  // test_map_exception
  cf::ProcessPoolExecutor ex(2);
  for (int chunksize : {1, 4}) {
    auto results = ex.map(ppe_divmod, std::vector<int>{1, 1, 1, 1}, std::vector<int>{2, 3, 0, 5},
                          cf::MapOptions{.chunksize = chunksize});
    auto it = results.begin();
    EXPECT_EQ(*it, std::make_pair(0, 1));
    ++it;
    EXPECT_EQ(*it, std::make_pair(0, 1));
    ++it;
    EXPECT_THROW(*it, std::domain_error);
  }
}

TEST(ProcessPoolExecutorTest, MapTimeout) {
  // test_map_timeout: the results that came in time, then TimeoutError.
  // Three workers, so that each call has a worker of its own (none waits behind the held one).
  cf::ProcessPoolExecutor ex(3);
  PpeGate gate;
  EXPECT_EQ(ppe_collect(ex.map(ppe_sqr, ppe_range(6), cf::MapOptions{.chunksize = 1})), ppe_squares(6));  // warm
  std::vector<int> results;
  EXPECT_THROW(
      {
        for (int r : ex.map(ppe_hold_one, std::vector<std::string>(3, gate.path()), std::vector<int>(3, 2),
                            std::vector<int>{0, 1, 2}, cf::MapOptions{.timeout = concur_test::scaled(std::chrono::duration<double>(0.5))}))
          results.push_back(r);
      },
      concur::TimeoutError);
  EXPECT_EQ(results, (std::vector<int>{0, 1}));
  gate.open();
}

TEST(ProcessPoolExecutorTest, MapBuffersizeReadsTheInputLazily) {
  cf::ProcessPoolExecutor ex(2);
  std::vector<int> input = ppe_range(1000);
  int taken = 0;
  {
    auto results = ex.map(ppe_sqr, input, cf::MapOptions{.chunksize = 1, .buffersize = 4});
    for (int r : results) {
      EXPECT_EQ(r, taken * taken);
      if (++taken == 10) break;
    }
  }
  EXPECT_EQ(taken, 10);
  EXPECT_EQ(ppe_collect(ex.map(ppe_sqr, ppe_range(50), cf::MapOptions{.chunksize = 5, .buffersize = 2})),
            ppe_squares(50));
}

TEST(ProcessPoolExecutorTest, ShutdownRaceIssue12456) {
  // test_shutdown_race_issue12456
  cf::ProcessPoolExecutor ex(2);
  auto unused = ex.map(ppe_to_string, std::vector<int>(3, 2));
  ex.shutdown();
}

// ================================================================================================
// shutdown, terminate_workers, kill_workers
// ================================================================================================

TEST(ProcessPoolExecutorShutdownTest, WaitLetsEverythingFinish) {
  cf::ProcessPoolExecutor ex(2);
  std::vector<cf::Future<int>> futs;
  for (int i = 0; i < 20; ++i) futs.push_back(ex.submit(ppe_sqr, i));
  ex.shutdown();
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(futs[i].done());
    EXPECT_EQ(futs[i].result(0s), i * i);
  }
  EXPECT_THROW(ex.submit(ppe_sqr, 1), concur::RuntimeError);
  ex.shutdown();  // twice: fine
}

TEST(ProcessPoolExecutorShutdownTest, DestructorWaits) {
  std::vector<cf::Future<int>> futs;
  {
    cf::ProcessPoolExecutor ex(2);
    for (int i = 0; i < 10; ++i) futs.push_back(ex.submit(ppe_sqr, i));
  }
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(futs[i].done());
    EXPECT_EQ(futs[i].result(0s), i * i);
  }
}

TEST(ProcessPoolExecutorShutdownTest, NoWaitStillFinishesTheWork) {
  std::vector<cf::Future<int>> futs;
  cf::ProcessPoolExecutor ex(2);
  for (int i = 0; i < 10; ++i) futs.push_back(ex.submit(ppe_sqr, i));
  ex.shutdown(false);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(futs[i].result(long_wait()), i * i);
}

TEST(ProcessPoolExecutorShutdownTest, CancelFutures) {
  cf::ProcessPoolExecutor ex(1);
  PpeGate gate;
  PpeSignal started;
  cf::Future<int> running = ex.submit(ppe_held, gate.path(), started.path(), 1);
  ASSERT_TRUE(started.wait_started(1));
  std::vector<cf::Future<int>> pending;
  for (int i = 0; i < 8; ++i) pending.push_back(ex.submit(ppe_sqr, i));
  ex.shutdown(false, true);
  gate.open();
  EXPECT_EQ(running.result(long_wait()), 1);
  int cancelled = 0;
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(pending[i].wait_until(concur::Deadline::after(long_wait())));
    if (pending[i].cancelled()) {
      ++cancelled;
      EXPECT_THROW(pending[i].result(0s), cf::CancelledError);
    } else {
      EXPECT_EQ(pending[i].result(0s), i * i);
    }
  }
  EXPECT_GE(cancelled, 6);  // at most a call or two were already on their way to the worker
  EXPECT_TRUE(pending.back().cancelled());
}

TEST(ProcessPoolExecutorShutdownTest, MaxTasksEarlyShutdown) {
  // test_max_tasks_early_shutdown
  cf::ProcessPoolExecutor ex(cf::ProcessPoolOptions{.max_workers = 3, .mp_context = "spawn", .max_tasks_per_child = 1});
  std::vector<cf::Future<int>> futs;
  for (int i = 0; i < 6; ++i) futs.push_back(ex.submit(ppe_mul, i, i));
  ex.shutdown();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(futs[i].result(long_wait()), i * i);
}

class ProcessPoolExecutorForceShutdownTest : public ::testing::TestWithParam<bool> {
 protected:
  void force(cf::ProcessPoolExecutor& ex) {
    if (GetParam()) ex.kill_workers();
    else ex.terminate_workers();
  }
};

TEST_P(ProcessPoolExecutorForceShutdownTest, StopsARunningCallAndThePool) {
  // test_force_shutdown_workers, test_force_shutdown_workers_stops_pool
  cf::ProcessPoolExecutor ex(1);
  PpeGate gate;  // never opened while the worker lives
  PpeSignal started;
  const int pid = ex.submit(ppe_pid).result(long_wait());
  cf::Future<int> held = ex.submit(ppe_held, gate.path(), started.path(), 1);
  ASSERT_TRUE(started.wait_started(1));
  force(ex);
  EXPECT_TRUE(concur_test::eventually([&] { return ppe_process_ended(pid); }));
  EXPECT_TRUE(held.exception(long_wait())) << "the killed call cannot have a result";
  EXPECT_ANY_THROW(ex.submit(ppe_sqr, 2));
  force(ex);  // again: nothing to do
}

TEST_P(ProcessPoolExecutorForceShutdownTest, BeforeAnyWorkAndOnABrokenPool) {
  // test_force_shutdown_workers_not_started_yet, test_force_shutdown_workers_dead_workers
  {
    cf::ProcessPoolExecutor ex(1);
    force(ex);
  }
  cf::ProcessPoolExecutor ex(1);
  cf::Future<int> f = ex.submit(ppe_die, static_cast<int>(PpeDeath::underscore_exit));
  EXPECT_TRUE(ppe_holds<cf::BrokenProcessPool>(f.exception(long_wait())));
  force(ex);  // a broken pool: no throw
}

INSTANTIATE_TEST_SUITE_P(Operations, ProcessPoolExecutorForceShutdownTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return std::string(i.param ? "kill_workers" : "terminate_workers");
                         });

// ================================================================================================
// wait, as_completed, done callbacks
// ================================================================================================

TEST(ProcessPoolExecutorFuturesTest, WaitAllAndFirstCompleted) {
  cf::ProcessPoolExecutor ex(2);
  PpeGate gate;
  PpeSignal started;
  std::vector<cf::Future<int>> quick;
  for (int i = 0; i < 6; ++i) quick.push_back(ex.submit(ppe_sqr, i));
  auto [done, not_done] = cf::wait(quick, long_wait());
  EXPECT_EQ(done.size(), 6u);
  EXPECT_TRUE(not_done.empty());

  cf::Future<int> held = ex.submit(ppe_held, gate.path(), started.path(), 9);
  ASSERT_TRUE(started.wait_started(1));
  cf::Future<int> fast = ex.submit(ppe_sqr, 3);
  auto [d, nd] = cf::wait(std::vector<cf::Future<int>>{held, fast}, long_wait(), cf::FIRST_COMPLETED);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_TRUE(d[0] == fast);
  ASSERT_EQ(nd.size(), 1u);
  EXPECT_TRUE(nd[0] == held);
  auto [d2, nd2] = cf::wait(std::vector<cf::Future<int>>{held}, 20ms);
  EXPECT_TRUE(d2.empty());
  gate.open();
  EXPECT_EQ(held.result(long_wait()), 9);
}

TEST(ProcessPoolExecutorFuturesTest, WaitFirstException) {
  cf::ProcessPoolExecutor ex(2);
  std::vector<cf::Future<int>> futs{ex.submit(ppe_throw, 1), ex.submit(ppe_sqr, 2)};
  auto [done, not_done] = cf::wait(futs, long_wait(), cf::FIRST_EXCEPTION);
  ASSERT_FALSE(done.empty());
  EXPECT_TRUE(futs[0].done());
  EXPECT_THROW(futs[0].result(0s), std::out_of_range);
}

TEST(ProcessPoolExecutorFuturesTest, AsCompletedYieldsEachOnceAsTheyFinish) {
  // test_as_completed: the futures already done first, then each as it finishes.
  cf::ProcessPoolExecutor ex(2);
  PpeGate gate;
  PpeSignal started;
  std::vector<cf::Future<int>> futs;
  for (int i = 0; i < 5; ++i) futs.push_back(ex.submit(ppe_sqr, i));
  auto [done, not_done] = cf::wait(futs, long_wait());
  ASSERT_TRUE(not_done.empty());
  cf::Future<int> held = ex.submit(ppe_held, gate.path(), started.path(), 100);
  ASSERT_TRUE(started.wait_started(1));
  futs.insert(futs.begin() + 2, held);
  futs.push_back(futs[0]);  // a future named twice is yielded once
  std::vector<int> order;
  for (cf::Future<int> f : cf::as_completed(futs, long_wait())) {
    order.push_back(f.result(0s));
    if (order.size() == 5) gate.open();
  }
  ASSERT_EQ(order.size(), 6u);
  EXPECT_EQ(order.back(), 100);  // the held call finishes last
  std::multiset<int> all(order.begin(), order.end());
  EXPECT_EQ(all, (std::multiset<int>{0, 1, 4, 9, 16, 100}));
  cf::Future<int> late = ex.submit(ppe_held, gate.path(), started.path(), 5);  // the gate is open
  std::vector<int> timed;
  EXPECT_NO_THROW({
    for (cf::Future<int> f : cf::as_completed(std::vector<cf::Future<int>>{late}, long_wait()))
      timed.push_back(f.result(0s));
  });
  EXPECT_EQ(timed, std::vector<int>{5});
}

TEST(ProcessPoolExecutorFuturesTest, DoneCallbacksRunInTheParent) {
  // What the callbacks touch outlives the executor, whose destructor ends its thread: a callback
  // may still be inside set() when the test has seen the event set.
  th::Event ok_called, err_called;
  int value = 0, ok_pid = 0;
  std::exception_ptr error;
  cf::ProcessPoolExecutor ex(2);
  cf::Future<int> ok = ex.submit(ppe_sqr, 12);
  ok.add_done_callback([&](cf::Future<int> f) {
    value = f.result(0s);
    ok_pid = mp::getpid();
    ok_called.set();
  });
  cf::Future<int> bad = ex.submit(ppe_throw, 0);
  bad.add_done_callback([&](cf::Future<int> f) {
    error = f.exception(0s);
    err_called.set();
  });
  ASSERT_TRUE(ok_called.wait(long_wait()));
  ASSERT_TRUE(err_called.wait(long_wait()));
  EXPECT_EQ(value, 144);
  EXPECT_EQ(ok_pid, mp::getpid());
  EXPECT_TRUE(ppe_holds<std::runtime_error>(error));
  // On a future already done the callback runs at once, in this thread.
  bool now = false;
  ok.add_done_callback([&](cf::Future<int>) { now = true; });
  EXPECT_TRUE(now);
}

TEST(ProcessPoolExecutorFuturesTest, ShutdownFromACallback) {
  // A callback runs in the executor's thread: shutdown(wait = true) there is RuntimeError;
  // shutdown(wait = false) is fine.
  th::Event called;
  bool refused = false, no_wait_ok = false;
  cf::ProcessPoolExecutor ex(1);
  PpeGate gate;
  PpeSignal started;
  cf::Future<int> f = ex.submit(ppe_held, gate.path(), started.path(), 3);
  ASSERT_TRUE(started.wait_started(1));  // not done: the callback will run in the executor's thread
  f.add_done_callback([&](cf::Future<int>) {
    try {
      ex.shutdown();
    } catch (const concur::RuntimeError&) {
      refused = true;
    }
    try {
      ex.shutdown(false);
      no_wait_ok = true;
    } catch (...) {
    }
    called.set();
  });
  gate.open();
  ASSERT_TRUE(called.wait(long_wait()));
  EXPECT_EQ(f.result(0s), 3);
  EXPECT_TRUE(refused);
  EXPECT_TRUE(no_wait_ok);
  EXPECT_THROW(ex.submit(ppe_sqr, 1), concur::RuntimeError);
}

// ================================================================================================
// initializer (test_init.py)
// ================================================================================================

TEST(ProcessPoolExecutorInitializerTest, RunsInEachWorker) {
  cf::ProcessPoolExecutor ex(cf::ProcessPoolOptions{.max_workers = 2, .initializer = ppe_init});
  std::vector<cf::Future<int>> futs;
  for (int i = 0; i < 6; ++i) futs.push_back(ex.submit(ppe_read_init));
  for (auto& f : futs) EXPECT_EQ(f.result(long_wait()), 42);
  EXPECT_EQ(g_ppe_init_value, 0);  // not in the parent
}

TEST(ProcessPoolExecutorInitializerTest, AFailingInitializerBreaksThePool) {
  // FailingInitializerMixin.test_initializer
  cf::ProcessPoolExecutor ex(cf::ProcessPoolOptions{.max_workers = 2, .initializer = ppe_init_fail});
  try {
    cf::Future<int> f = ex.submit(ppe_read_init);
    const std::exception_ptr e = f.exception(long_wait());
    EXPECT_TRUE(ppe_holds<cf::BrokenProcessPool>(e)) << concur_test::what_of(e);
  } catch (const cf::BrokenProcessPool&) {
    // perhaps the executor is already broken
  }
  // From then on, submit() throws.
  EXPECT_THROW(ex.submit(ppe_read_init), cf::BrokenProcessPool);
  EXPECT_THROW(ex.submit(ppe_sqr, 1), cf::BrokenExecutor);
}

// ================================================================================================
// max_tasks_per_child, saturation
// ================================================================================================

TEST(ProcessPoolExecutorWorkersTest, Saturation) {
  // test_saturation: many more calls than workers, all held, then all let go.
  cf::ProcessPoolExecutor ex(2);
  PpeGate gate;
  PpeSignal started;
  std::vector<cf::Future<int>> futs;
  for (int i = 0; i < 30; ++i) futs.push_back(ex.submit(ppe_held, gate.path(), started.path(), i));
  ASSERT_TRUE(started.wait_started(2));
  gate.open();
  for (int i = 0; i < 30; ++i) EXPECT_EQ(futs[i].result(long_wait()), i);
}

TEST(ProcessPoolExecutorWorkersTest, AtMostMaxWorkersProcesses) {
  cf::ProcessPoolExecutor ex(2);
  std::set<int> pids;
  auto results = ex.map(ppe_pid_of, ppe_range(40));
  for (int pid : results) pids.insert(pid);
  EXPECT_GE(pids.size(), 1u);
  EXPECT_LE(pids.size(), 2u);
  EXPECT_EQ(pids.count(mp::getpid()), 0u);
}

class ProcessPoolExecutorStartMethodTest : public ::testing::TestWithParam<const char*> {
 protected:
  cf::ProcessPoolOptions options(int workers) const {
    return cf::ProcessPoolOptions{.max_workers = workers, .mp_context = GetParam()};
  }
  bool is_fork() const { return std::string(GetParam()) == "fork"; }
};

TEST_P(ProcessPoolExecutorStartMethodTest, SubmitMapAndExceptions) {
  cf::ProcessPoolExecutor ex(options(2));
  EXPECT_EQ(ex.submit(ppe_pow, 3L, 4).result(long_wait()), 81);
  EXPECT_EQ(ex.submit([](std::string s) { return s + "?"; }, std::string("ok")).result(long_wait()), "ok?");
  EXPECT_EQ(ppe_collect(ex.map(ppe_sqr, ppe_range(30), cf::MapOptions{.chunksize = 4})), ppe_squares(30));
  EXPECT_THROW(ex.submit(ppe_throw, 1).result(long_wait()), std::out_of_range);
  EXPECT_THROW(ex.submit(ppe_throw, 3).result(long_wait()), mp::RemoteError);
  g_ppe_init_value = 77;  // a forked worker may see it (if forked after this), a new program never
  const int seen = ex.submit(ppe_read_init).result(long_wait());
  g_ppe_init_value = 0;
  if (!is_fork()) {
    EXPECT_EQ(seen, 0);
  }
}

TEST_P(ProcessPoolExecutorStartMethodTest, Initializer) {
  cf::ProcessPoolExecutor ex(cf::ProcessPoolOptions{.max_workers = 2, .mp_context = GetParam(), .initializer = ppe_init});
  EXPECT_EQ(ppe_collect(ex.map([](int) { return ppe_read_init(); }, ppe_range(6), cf::MapOptions{.chunksize = 1})),
            std::vector<int>(6, 42));
}

TEST_P(ProcessPoolExecutorStartMethodTest, MaxTasksPerChild) {
  // test_max_tasks_per_child: a worker serves three calls, then another replaces it. (concur
  // allows it with fork too, where CPython refuses it: gh-90622.)
  cf::ProcessPoolExecutor ex(cf::ProcessPoolOptions{.max_workers = 1, .mp_context = GetParam(), .max_tasks_per_child = 3});
  const int a = ex.submit(ppe_pid).result(long_wait());
  EXPECT_EQ(ex.submit(ppe_pid).result(long_wait()), a);
  EXPECT_EQ(ex.submit(ppe_pid).result(long_wait()), a);
  const int b = ex.submit(ppe_pid).result(long_wait());
  EXPECT_NE(a, b);
  ex.shutdown();
}

TEST_P(ProcessPoolExecutorStartMethodTest, MaxTasksPerChildWithABacklog) {
  // test_max_tasks_per_child_pending_tasks_gh115634
  for (auto [workers, max_tasks, n] : {std::tuple{1, 2, 6}, std::tuple{2, 2, 8}}) {
    cf::ProcessPoolExecutor ex(
        cf::ProcessPoolOptions{.max_workers = workers, .mp_context = GetParam(), .max_tasks_per_child = max_tasks});
    std::vector<cf::Future<int>> futs;
    for (int i = 0; i < n; ++i) futs.push_back(ex.submit(ppe_mul, i, 2));
    for (int i = 0; i < n; ++i) EXPECT_EQ(futs[i].result(long_wait()), i * 2);
    ex.shutdown(true, true);
  }
}

TEST_P(ProcessPoolExecutorStartMethodTest, AKilledWorkerBreaksThePool) {
  // test_killed_child, test_broken_process_pool_traceback: running and pending calls fail with
  // BrokenProcessPool, each its own exception; later submits throw it.
  cf::ProcessPoolExecutor ex(options(2));
  PpeGate gate;
  PpeSignal started;
  cf::Future<int> held = ex.submit(ppe_held, gate.path(), started.path(), 1);
  ASSERT_TRUE(started.wait_started(1));
  cf::Future<int> dies = ex.submit(ppe_die, static_cast<int>(PpeDeath::sigkill));
  // Submitted while the other worker dies: each is pending when the pool breaks, or refused.
  std::vector<cf::Future<int>> pending;
  for (int i = 0; i < 4; ++i) {
    try {
      pending.push_back(ex.submit(ppe_held, gate.path(), started.path(), i));
    } catch (const cf::BrokenProcessPool&) {
    }
  }
  const std::exception_ptr e = dies.exception(long_wait());
  EXPECT_TRUE(ppe_holds<cf::BrokenProcessPool>(e)) << concur_test::what_of(e);
  EXPECT_TRUE(ppe_holds<cf::BrokenProcessPool>(held.exception(long_wait())));
  for (auto& f : pending) {
    const std::exception_ptr p = f.exception(long_wait());
    EXPECT_TRUE(ppe_holds<cf::BrokenProcessPool>(p)) << concur_test::what_of(p);
  }
  EXPECT_THROW(ex.submit(ppe_sqr, 2), cf::BrokenProcessPool);
}

INSTANTIATE_TEST_SUITE_P(StartMethods, ProcessPoolExecutorStartMethodTest,
                         ::testing::Values("fork", "spawn", "forkserver"),
                         [](const ::testing::TestParamInfo<const char*>& i) { return std::string(i.param); });

// ================================================================================================
// A worker that dies in a call, each way
// ================================================================================================

struct PpeDeathCase {
  const char* name;
  PpeDeath how;
  int exitcode;  // as Process::exitcode(): the code given to exit, or -signal
};

class ProcessPoolExecutorWorkerDiesTest : public ::testing::TestWithParam<PpeDeathCase> {};

TEST_P(ProcessPoolExecutorWorkerDiesTest, BreaksThePoolNamingPidAndExitCode) {
  // test_traceback_when_child_process_terminates_abruptly (gh-139462): what() says which
  // process ended and how.
  const PpeDeathCase& c = GetParam();
  cf::ProcessPoolExecutor ex(1);
  PpeGate gate;
  PpeSignal started;
  const int pid = ex.submit(ppe_pid).result(long_wait());
  // The worker is held while the dying call and the pending ones are queued behind it.
  cf::Future<int> done_before = ex.submit(ppe_held, gate.path(), started.path(), 16);
  ASSERT_TRUE(started.wait_started(1));
  cf::Future<int> dies = ex.submit(ppe_die, static_cast<int>(c.how));
  std::vector<cf::Future<int>> pending;
  for (int i = 0; i < 3; ++i) pending.push_back(ex.submit(ppe_sqr, i));
  gate.open();
  EXPECT_EQ(done_before.result(long_wait()), 16);

  const std::string what = ppe_what_of_result<cf::BrokenProcessPool>(dies);
  EXPECT_NE(what.find(std::to_string(pid)), std::string::npos) << what;
  if (!(c.how == PpeDeath::segfault && kPpeSanitized)) {
    EXPECT_NE(what.find("exit code " + std::to_string(c.exitcode)), std::string::npos) << what;
  }
  for (auto& f : pending) EXPECT_TRUE(ppe_holds<cf::BrokenProcessPool>(f.exception(long_wait())));
  EXPECT_EQ(done_before.result(0s), 16);  // what finished before keeps its result
  EXPECT_THROW(ex.submit(ppe_sqr, 1), cf::BrokenProcessPool);
  EXPECT_THROW((void)ex.map(ppe_sqr, ppe_range(3)), cf::BrokenProcessPool);
  EXPECT_TRUE(concur_test::eventually([&] { return ppe_process_ended(pid); }));
  ex.shutdown();  // a broken pool shuts down without hanging
}

INSTANTIATE_TEST_SUITE_P(
    Deaths, ProcessPoolExecutorWorkerDiesTest,
    ::testing::Values(PpeDeathCase{"sigkill", PpeDeath::sigkill, -SIGKILL},
                      PpeDeathCase{"abort", PpeDeath::abort, -SIGABRT},
                      PpeDeathCase{"underscore_exit", PpeDeath::underscore_exit, 3},
                      PpeDeathCase{"std_exit", PpeDeath::std_exit, 3},
                      PpeDeathCase{"segfault", PpeDeath::segfault, -SIGSEGV}),
    [](const ::testing::TestParamInfo<PpeDeathCase>& i) { return std::string(i.param.name); });

}  // namespace
