// mp::Pool and mp::AsyncResult (concur/multiprocessing/pool.hpp; API.md §6.3), after CPython's
// Lib/test/_test_multiprocessing.py: _TestPool (test_apply, test_map, test_starmap,
// test_starmap_async, test_map_async, test_map_async_callbacks, test_map_chunksize, test_async,
// test_async_timeout, test_imap, test_imap_unordered, test_make_pool, test_terminate,
// test_empty_iterable, test_context, test_traceback / test_wrapped_exception), _TestPoolWorkerErrors
// (test_async_error_callback, test_unpickleable_result), _TestPoolWorkerLifetime
// (test_pool_worker_lifetime, test_pool_worker_lifetime_early_close) and _TestInitializers; plus
// what concur adds: a worker that dies in a task (SIGKILL, abort, _Exit, exit, SIGSEGV) fails
// exactly the task it was running with mp::ProcessError naming its pid and exit code, and is
// replaced, every other task completing (those it had been sent but not started, and those whose
// results it had not sent yet, included); terminate() fails what is not done; a failing
// initializer breaks the pool; a result never waits behind the worker's next task, nor a queued
// task behind a running one while a worker is free; join() from a callback is refused.
//
// Tasks are plain functions or capture-less lambdas of this file, with serializable arguments
// and results, under every start method. Tasks never start threads (a child forked from a
// multithreaded parent cannot under ThreadSanitizer). Workers meet the test through shared
// objects handed to them as initializer arguments (an mp::Event to hold a task, an
// mp::Semaphore to say it started, an mp::Barrier that only as many workers as the pool has can
// pass), never through sleeps. Every wait is bounded: AsyncResult::get(long_wait()), timed
// acquires, or the watchdog of watchdog_main.cpp (which also calls mp::main_guard, so that spawn
// and forkserver workers run).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
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

constexpr bool kPoolSanitized = concur_test::kSanitized;

// --- tasks --------------------------------------------------------------------------------------

int pool_sqr(int x) { return x * x; }
int pool_mul(int a, int b) { return a * b; }
int pool_pid() { return mp::getpid(); }
void pool_noop() {}
std::string pool_repeat(std::string s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}
// Word lengths by word: a map of vectors out of a vector of strings.
std::map<std::string, std::vector<int>> pool_lengths(std::vector<std::string> words) {
  std::map<std::string, std::vector<int>> out;
  for (auto& w : words) out[w].push_back(static_cast<int>(w.size()));
  return out;
}
std::size_t pool_size_of(std::string big) { return big.size(); }
std::string pool_make_big(std::size_t n) { return std::string(n, 'x'); }

// An error no decoder knows: it arrives as mp::RemoteError.
struct PoolCustomError : std::exception {
  const char* what() const noexcept override { return "custom trouble"; }
};

// Throws by kind: 0 runtime_error, 1 out_of_range, 2 concur::ValueError, 3 concur::TimeoutError,
// 4 an unknown type; otherwise returns x.
int pool_throw(int kind) {
  switch (kind) {
    case 0: throw std::runtime_error("123");
    case 1: throw std::out_of_range("key");
    case 2: throw concur::ValueError("bad value");
    case 3: throw concur::TimeoutError("too late");
    case 4: throw PoolCustomError();
    default: return kind;
  }
}
int pool_fail_on(int x) {
  if (x == 3) throw std::invalid_argument("three");
  return x * x;
}

// A value whose serialization throws when negative: a result or an argument that cannot cross
// (Python's unpicklable object).
struct PoolPoison {
  int v = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    if (v < 0) throw std::runtime_error("PoolPoison cannot be serialized");
    ar(v);
  }
};
PoolPoison pool_poison_result(int v) { return PoolPoison{v}; }
int pool_poison_value(PoolPoison p) { return p.v; }

// --- what workers share with the test (set by the initializers below) ---------------------------

// Set by an initializer in each worker; 0 elsewhere (a forked worker starts from the parent's 0,
// a spawned one from a fresh program's).
int g_pool_init_value = 0;
void pool_set_init_value(int v) { g_pool_init_value = v; }
int pool_read_init_value() { return g_pool_init_value; }
int pool_read_init_value_of(int) { return g_pool_init_value; }

// Counts initializer runs (one per worker).
void pool_count_init(mp::Value<int> runs) {
  std::lock_guard g(runs);
  runs.value() += 1;
}

// Objects a worker keeps from its initializer: a gate (tasks wait for it), a semaphore released
// as each held task starts, a slot where a dying task leaves its pid, and a barrier that only as
// many concurrent workers as its parties can pass.
struct PoolShared {
  std::optional<mp::Event> gate;
  std::optional<mp::Semaphore> started;
  std::optional<mp::Value<int>> pid_slot;
  std::optional<mp::Barrier> barrier;
};
PoolShared g_pool_shared;

void pool_init_shared(mp::Event gate, mp::Semaphore started, mp::Value<int> pid_slot,
                      mp::Barrier barrier) {
  g_pool_shared.gate = gate;
  g_pool_shared.started = started;
  g_pool_shared.pid_slot = pid_slot;
  g_pool_shared.barrier = barrier;
}

// Says it started, waits for the gate (bounded), returns x.
int pool_held(int x) {
  g_pool_shared.started->release();
  if (!g_pool_shared.gate->wait(std::chrono::seconds(30))) throw concur::TimeoutError("gate never opened");
  return x;
}
// Only x == 0 is held; the others return at once.
int pool_hold_zero(int x) { return x == 0 ? pool_held(x) : x; }
// Waits at the barrier (bounded: BrokenBarrierError if too few workers come), returns its pid.
int pool_meet(int) {
  g_pool_shared.barrier->wait(std::chrono::seconds(20));
  return mp::getpid();
}

// How a task kills its worker.
enum class PoolDeath { sigkill, abort, underscore_exit, std_exit, segfault };

[[noreturn]] void pool_die(PoolDeath how) {
  if (g_pool_shared.pid_slot) {
    std::lock_guard g(*g_pool_shared.pid_slot);
    g_pool_shared.pid_slot->value() = mp::getpid();
  }
  switch (how) {
    case PoolDeath::sigkill: ::raise(SIGKILL); break;
    case PoolDeath::abort: std::abort();
    case PoolDeath::underscore_exit: std::_Exit(3);
    case PoolDeath::std_exit:
      // A worker forked from the test binary inherits bounded_child.hpp's at-exit handler,
      // which leaves with g_child_status: make that the code given to exit().
      concur_test::g_child_status = 3;
      std::exit(3);
    case PoolDeath::segfault: ::raise(SIGSEGV); break;
  }
  std::_Exit(99);  // not reached
}
int pool_die_task(int how) { pool_die(static_cast<PoolDeath>(how)); }
// Dies on x == 3, squares the others.
int pool_die_on_three(int x) {
  if (x == 3) pool_die(PoolDeath::sigkill);
  return x * x;
}

// --- helpers ------------------------------------------------------------------------------------

// The objects of PoolShared, on the test's side, and a Pool whose workers hold them.
struct PoolHarness {
  mp::Event gate;
  mp::Semaphore started{0};
  mp::Value<int> pid_slot{0};
  mp::Barrier barrier;
  mp::Pool pool;

  explicit PoolHarness(int processes, const char* context = "fork", int barrier_parties = 2,
                       std::optional<int> maxtasksperchild = std::nullopt)
      : barrier(barrier_parties),
        pool(mp::PoolOptions{.processes = processes,
                             .initializer = pool_init_shared,
                             .initargs = std::tuple{gate, started, pid_slot, barrier},
                             .maxtasksperchild = maxtasksperchild,
                             .context = context}) {}
  // A held task never outlives a failed test: the gate opens first, then the pool terminates.
  ~PoolHarness() { gate.set(); }

  // Waits (bounded) until n more held tasks have started.
  ::testing::AssertionResult wait_started(int n) {
    for (int i = 0; i < n; ++i)
      if (!started.acquire(true, long_wait()))
        return ::testing::AssertionFailure() << "only " << i << " of " << n << " held tasks started";
    return ::testing::AssertionSuccess();
  }
  int dead_pid() {
    std::lock_guard g(pid_slot);
    return pid_slot.value();
  }
};

// The what() of what `f` throws as E, or a failure when it throws nothing or something else.
template <class E, class F>
std::string pool_what_of_throw(F&& f) {
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

// Whether `r` completes (within long_wait()) with `want`; what it gave otherwise.
template <class R>
::testing::AssertionResult pool_gives(const mp::AsyncResult<R>& r, const R& want) {
  try {
    const R got = r.get(long_wait());
    if (got == want) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "gave " << ::testing::PrintToString(got) << ", not "
                                         << ::testing::PrintToString(want);
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw: " << e.what();
  }
}

// The what() of the E that r.get() throws. The caller holds `r` (its future) while the
// exception is read: the pool's thread drops its own reference to the future at any moment after
// completing it, and if that were the last one it would destroy the exception under the reader
// (a real order, through the C++ runtime's exception reference count, that ThreadSanitizer
// cannot see, as libstdc++ is not instrumented).
template <class E, class R>
std::string pool_what_of_get(const mp::AsyncResult<R>& r) {
  return pool_what_of_throw<E>([&] { r.get(long_wait()); });
}

std::vector<int> pool_range(int n) {
  std::vector<int> v(n);
  for (int i = 0; i < n; ++i) v[i] = i;
  return v;
}
std::vector<int> pool_squares(int n) {
  std::vector<int> v(n);
  for (int i = 0; i < n; ++i) v[i] = i * i;
  return v;
}

// Whether process `pid` has ended (gone, or a zombie nobody reaped yet).
bool pool_process_ended(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string pid_field, comm, state;
  if (!(stat >> pid_field >> comm >> state)) return true;
  return state == "Z" || state == "X";
}

// ================================================================================================
// _TestPool: the call forms
// ================================================================================================

TEST(PoolTest, Apply) {
  mp::Pool pool(2);
  EXPECT_EQ(pool.apply(pool_sqr, 5), 25);
  EXPECT_EQ(pool.apply(pool_mul, 6, 7), 42);
  EXPECT_EQ(pool.apply(pool_repeat, std::string("ab"), 3), "ababab");
  EXPECT_EQ(pool.apply([](int x, double y) { return x + y; }, 1, 0.5), 1.5);
  pool.apply(pool_noop);
  EXPECT_NE(pool.apply(pool_pid), mp::getpid());
}

TEST(PoolTest, ContainersCrossBothWays) {
  mp::Pool pool(1);
  const auto got = pool.apply(pool_lengths, std::vector<std::string>{"a", "bb", "a", "ccc"});
  const std::map<std::string, std::vector<int>> want{{"a", {1, 1}}, {"bb", {2}}, {"ccc", {3}}};
  EXPECT_EQ(got, want);
  // Large values cross whole (framing beyond any pipe or ring size).
  EXPECT_EQ(pool.apply(pool_size_of, std::string(3 << 20, 'y')), std::size_t{3} << 20);
  EXPECT_EQ(pool.apply(pool_make_big, std::size_t{5} << 20), std::string(std::size_t{5} << 20, 'x'));
}

TEST(PoolTest, ApplyAsyncAndItsResult) {
  // test_async
  mp::Pool pool(2);
  mp::AsyncResult<int> r = pool.apply_async(pool_sqr, 7);
  EXPECT_EQ(r.get(long_wait()), 49);
  EXPECT_TRUE(r.ready());
  EXPECT_TRUE(r.successful());
  EXPECT_EQ(r.get(), 49);  // a second get gives the value again
  mp::AsyncResult<int> w = pool.apply_async(pool_mul, 3, 4);
  w.wait();
  EXPECT_TRUE(w.ready());
  EXPECT_EQ(w.get(0s), 12);
  const mp::AsyncResult<int> copy = w;  // a copyable handle on the same result
  EXPECT_TRUE(copy.ready());
  EXPECT_EQ(copy.get(0s), 12);
  mp::AsyncResult<void> v = pool.apply_async(pool_noop);
  v.get(long_wait());
  EXPECT_TRUE(v.successful());
}

TEST(PoolTest, AsyncResultBeforeItIsReady) {
  // test_async_timeout; successful() before ready is Python's ValueError.
  PoolHarness h(1);
  mp::AsyncResult<int> r = h.pool.apply_async(pool_held, 8);
  ASSERT_TRUE(h.wait_started(1));
  EXPECT_FALSE(r.ready());
  EXPECT_THROW((void)r.successful(), concur::ValueError);
  const auto elapsed = concur_test::time_of([&] { EXPECT_THROW(r.get(50ms), concur::TimeoutError); });
  concur_test::expect_timed_out_after_50ms(elapsed);
  EXPECT_FALSE(r.wait(20ms));
  EXPECT_FALSE(r.ready());
  h.gate.set();
  EXPECT_TRUE(r.wait(long_wait()));
  EXPECT_TRUE(r.ready());
  EXPECT_TRUE(r.successful());
  EXPECT_EQ(r.get(long_wait()), 8);
}

TEST(PoolTest, AResultArrivesWhileTheWorkerRunsItsNextTask) {
  // A task's result does not wait for the tasks sent after it to the same worker: on a pool of
  // one, imap yields the first result while the second task is held.
  PoolHarness h(1);
  EXPECT_EQ(h.pool.map(pool_hold_zero, std::vector<int>{5, 6}, 1), (std::vector<int>{5, 6}));  // warm
  auto results = h.pool.imap(pool_hold_zero, std::vector<int>{1, 0}, 1);
  std::optional<int> first;
  EXPECT_NO_THROW(first = results.next(long_wait()));
  EXPECT_EQ(first, 1);
  h.gate.set();
  EXPECT_EQ(results.next(long_wait()), 0);
  EXPECT_EQ(results.next(long_wait()), std::nullopt);
}

TEST(PoolTest, QueuedTasksDoNotWaitBehindARunningOneWhileAWorkerIsFree) {
  // CPython's workers take tasks from one shared queue: a free worker runs them.
  PoolHarness h(2);
  mp::AsyncResult<int> held = h.pool.apply_async(pool_held, 1);
  ASSERT_TRUE(h.wait_started(1));
  std::vector<mp::AsyncResult<int>> quick;
  for (int i = 0; i < 6; ++i) quick.push_back(h.pool.apply_async(pool_sqr, i));
  std::vector<cf::Future<int>> futures;
  for (auto& q : quick) futures.push_back(q.future());
  auto [done, not_done] = cf::wait(futures, long_wait());
  EXPECT_TRUE(not_done.empty()) << not_done.size() << " of 6 quick tasks still wait behind the held one";
  for (int i = 0; i < 6; ++i)
    if (quick[i].ready()) {
      EXPECT_TRUE(pool_gives(quick[i], i * i)) << "task " << i;
    }
  EXPECT_FALSE(held.ready());
  h.gate.set();
  EXPECT_TRUE(pool_gives(held, 1));
}

TEST(PoolTest, Map) {
  // test_map
  mp::Pool pool(4);
  EXPECT_EQ(pool.map(pool_sqr, pool_range(10)), pool_squares(10));
  EXPECT_EQ(pool.map(pool_sqr, pool_range(100), 20), pool_squares(100));
  EXPECT_EQ(pool.map(pool_sqr, pool_range(100), 1), pool_squares(100));
  EXPECT_EQ(pool.map(pool_sqr, pool_range(7), 100), pool_squares(7));
  EXPECT_EQ(pool.map([](int x) { return -x; }, std::vector<int>{1, 2}), (std::vector<int>{-1, -2}));
  EXPECT_EQ(pool.map([](std::string s) { return s; }, std::vector<std::string>{}, 1).size(), 0u);
  // A void function's results are std::monostate values (Python's None).
  const std::vector<std::monostate> nothing = pool.map([](int) {}, pool_range(5), 2);
  EXPECT_EQ(nothing.size(), 5u);
}

TEST(PoolTest, MapAsync) {
  // test_map_async, test_map_chunksize (an empty input with a chunksize does not stall)
  mp::Pool pool(2);
  mp::AsyncResult<std::vector<int>> r = pool.map_async(pool_sqr, pool_range(10));
  EXPECT_EQ(r.get(long_wait()), pool_squares(10));
  EXPECT_TRUE(r.successful());
  EXPECT_EQ(pool.map_async(pool_sqr, pool_range(50), 7).get(long_wait()), pool_squares(50));
  EXPECT_EQ(pool.map_async(pool_sqr, std::vector<int>{}, 1).get(long_wait()), std::vector<int>{});
}

TEST(PoolTest, MapFailsWithTheTasksException) {
  mp::Pool pool(2);
  EXPECT_THROW(pool.map(pool_fail_on, pool_range(10)), std::invalid_argument);
  EXPECT_THROW(pool.map(pool_fail_on, pool_range(10), 4), std::invalid_argument);
  mp::AsyncResult<std::vector<int>> r = pool.map_async(pool_fail_on, pool_range(6));
  EXPECT_THROW(r.get(long_wait()), std::invalid_argument);
  EXPECT_TRUE(r.ready());
  EXPECT_FALSE(r.successful());
  // the pool goes on
  EXPECT_EQ(pool.map(pool_fail_on, std::vector<int>{1, 2}), (std::vector<int>{1, 4}));
}

TEST(PoolTest, Starmap) {
  // test_starmap, test_starmap_async
  mp::Pool pool(4);
  std::vector<std::tuple<int, int>> tuples;
  std::vector<int> want;
  for (int i = 0; i < 100; ++i) {
    tuples.emplace_back(i, 99 - i);
    want.push_back(i * (99 - i));
  }
  const std::vector<std::tuple<int, int>> ten(tuples.begin(), tuples.begin() + 10);
  EXPECT_EQ(pool.starmap(pool_mul, ten), std::vector<int>(want.begin(), want.begin() + 10));
  EXPECT_EQ(pool.starmap(pool_mul, tuples, 20), want);
  EXPECT_EQ(pool.starmap_async(pool_mul, tuples).get(long_wait()), want);
  EXPECT_EQ(pool.starmap(pool_repeat, std::vector<std::tuple<std::string, int>>{{"x", 2}, {"yz", 1}}),
            (std::vector<std::string>{"xx", "yz"}));
}

TEST(PoolTest, ImapInOrder) {
  // test_imap
  mp::Pool pool(4);
  std::vector<int> got;
  for (int r : pool.imap(pool_sqr, pool_range(10))) got.push_back(r);
  EXPECT_EQ(got, pool_squares(10));
  got.clear();
  for (int r : pool.imap(pool_sqr, pool_range(1000), 100)) got.push_back(r);
  EXPECT_EQ(got, pool_squares(1000));
}

TEST(PoolTest, ImapIsLazyAndCanBeLeftEarly) {
  mp::Pool pool(2);
  {
    int seen = 0;
    for (int r : pool.imap(pool_sqr, pool_range(200), 3)) {
      EXPECT_EQ(r, seen * seen);
      if (++seen == 5) break;  // leaving early neither hangs nor breaks the pool
    }
    EXPECT_EQ(seen, 5);
  }
  // The first result comes while later inputs are still held by a worker.
  PoolHarness h(2);
  auto results = h.pool.imap(pool_hold_zero, std::vector<int>{1, 0, 2});
  auto it = results.begin();
  EXPECT_EQ(*it, 1);  // input 0 (the value 1) is not held
  h.gate.set();
  ++it;
  EXPECT_EQ(*it, 0);
  ++it;
  EXPECT_EQ(*it, 2);
}

TEST(PoolTest, ImapUnorderedAsTheyFinish) {
  // test_imap_unordered
  mp::Pool pool(4);
  std::vector<int> got;
  for (int r : pool.imap_unordered(pool_sqr, pool_range(10))) got.push_back(r);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, pool_squares(10));
  got.clear();
  for (int r : pool.imap_unordered(pool_sqr, pool_range(1000), 100)) got.push_back(r);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, pool_squares(1000));

  // A held task does not hold back the ones that finish after it starts.
  PoolHarness h(2);
  std::vector<int> order;
  bool opened = false;
  for (int r : h.pool.imap_unordered(pool_hold_zero, std::vector<int>{0, 1}, 1)) {
    order.push_back(r);
    if (!opened) {
      opened = true;
      h.gate.set();
    }
  }
  EXPECT_EQ(order, (std::vector<int>{1, 0}));
}

TEST(PoolTest, ImapRethrowsWhereTheFailureIs) {
  mp::Pool pool(2);
  std::vector<int> got;
  auto results = pool.imap(pool_fail_on, pool_range(6), 1);
  EXPECT_THROW(
      {
        for (int r : results) got.push_back(r);
      },
      std::invalid_argument);
  EXPECT_EQ(got, (std::vector<int>{0, 1, 4}));
  std::vector<int> unordered;
  EXPECT_THROW(
      {
        for (int r : pool.imap_unordered(pool_fail_on, pool_range(6), 1)) unordered.push_back(r);
      },
      std::invalid_argument);
  EXPECT_LE(unordered.size(), 5u);
}

TEST(PoolTest, EmptyIterable) {
  // test_empty_iterable
  mp::Pool pool(1);
  EXPECT_EQ(pool.map(pool_sqr, std::vector<int>{}), std::vector<int>{});
  int n = 0;
  for (int r : pool.imap(pool_sqr, std::vector<int>{})) n += 1 + r;
  for (int r : pool.imap_unordered(pool_sqr, std::vector<int>{})) n += 1 + r;
  EXPECT_EQ(n, 0);
  EXPECT_EQ(pool.map_async(pool_sqr, std::vector<int>{}).get(long_wait()), std::vector<int>{});
  EXPECT_EQ(pool.starmap(pool_mul, std::vector<std::tuple<int, int>>{}), std::vector<int>{});
  pool.close();
  pool.join();
}

TEST(PoolTest, ApplyAsyncFromManyThreadsAtOnce) {
  mp::Pool pool(2);
  constexpr int kThreads = 4, kEach = 25;
  std::vector<std::vector<mp::AsyncResult<int>>> results(kThreads);
  concur_test::run_together(kThreads, [&](int t) {
    for (int i = 0; i < kEach; ++i) results[t].push_back(pool.apply_async(pool_sqr, t * kEach + i));
  });
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kEach; ++i) EXPECT_EQ(results[t][i].get(long_wait()), (t * kEach + i) * (t * kEach + i));
}

// The ints 0..total-1, whose reading throws at `when` (CPython's exception_throwing_generator).
class PoolThrowingInput {
 public:
  PoolThrowingInput(int total, int when) : total_(total), when_(when) {}
  class iterator {
   public:
    using value_type = int;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    iterator(int i, int when) : i_(i), when_(when) {}
    int operator*() const {
      if (i_ == when_) throw std::invalid_argument("Somebody said when");
      return i_;
    }
    iterator& operator++() {
      ++i_;
      return *this;
    }
    iterator operator++(int) {
      iterator old = *this;
      ++i_;
      return old;
    }
    bool operator==(const iterator& o) const { return i_ == o.i_; }

   private:
    int i_ = 0, when_ = -1;
  };
  iterator begin() const { return iterator(0, when_); }
  iterator end() const { return iterator(total_, when_); }

 private:
  int total_, when_;
};

TEST(PoolTest, AnInputThatThrowsFailsTheCall) {
  // test_map_handle_iterable_exception, test_imap_handle_iterable_exception: the inputs are read
  // at the call, which throws what reading them threw; the pool goes on.
  mp::Pool pool(2);
  EXPECT_THROW(pool.map(pool_sqr, PoolThrowingInput(1, 0), 1), std::invalid_argument);
  EXPECT_THROW(pool.map(pool_sqr, PoolThrowingInput(10, 3), 1), std::invalid_argument);
  EXPECT_THROW(pool.map_async(pool_sqr, PoolThrowingInput(10, 3)), std::invalid_argument);
  EXPECT_THROW(pool.imap(pool_sqr, PoolThrowingInput(20, 7), 2), std::invalid_argument);
  EXPECT_THROW(pool.imap_unordered(pool_sqr, PoolThrowingInput(20, 7), 2), std::invalid_argument);
  EXPECT_EQ(pool.map(pool_sqr, PoolThrowingInput(6, -1)), pool_squares(6));
}

// --- exceptions ---------------------------------------------------------------------------------

TEST(PoolTest, ExceptionsArriveAsTheirOwnType) {
  // test_traceback, test_wrapped_exception: the same type, the same message. Each result is
  // held while its exception is read (pool_what_of_get).
  mp::Pool pool(1);
  EXPECT_THROW(pool.apply(pool_throw, 0), std::runtime_error);
  const mp::AsyncResult<int> r0 = pool.apply_async(pool_throw, 0), r1 = pool.apply_async(pool_throw, 1),
                             r2 = pool.apply_async(pool_throw, 2), r3 = pool.apply_async(pool_throw, 3),
                             r4 = pool.apply_async(pool_throw, 4);
  EXPECT_EQ(pool_what_of_get<std::runtime_error>(r0), "123");
  EXPECT_EQ(pool_what_of_get<std::out_of_range>(r1), "key");
  EXPECT_EQ(pool_what_of_get<concur::ValueError>(r2), "bad value");
  EXPECT_EQ(pool_what_of_get<concur::TimeoutError>(r3), "too late");
  try {
    r4.get(long_wait());
    ADD_FAILURE() << "no exception";
  } catch (const mp::RemoteError& e) {
    EXPECT_NE(e.type_name().find("PoolCustomError"), std::string::npos) << e.type_name();
    EXPECT_EQ(e.message(), "custom trouble");
  }
  EXPECT_EQ(pool.apply(pool_throw, 9), 9);  // the worker survived them all
}

TEST(PoolTest, CallbacksRunInTheParent) {
  // test_map_async_callbacks, _TestPoolWorkerErrors.test_async_error_callback
  // What the callbacks touch outlives the pool, whose destructor ends its thread: a callback may
  // still be inside set() when the test has seen the event set.
  th::Event done_ok, done_err;
  int value = 0, ok_pid = 0, err_pid = 0;
  std::exception_ptr error;
  mp::Pool pool(2);
  mp::AsyncResult<int> ok = pool.apply_async(
      mp::Callbacks<int>{.callback = [&](int v) {
                           value = v;
                           ok_pid = mp::getpid();
                           done_ok.set();
                         },
                         .error_callback = [&](std::exception_ptr) { ADD_FAILURE() << "error_callback"; }},
      pool_sqr, 9);
  mp::AsyncResult<int> bad = pool.apply_async(
      mp::Callbacks<int>{.callback = [&](int) { ADD_FAILURE() << "callback for a failure"; },
                         .error_callback =
                             [&](std::exception_ptr e) {
                               error = e;
                               err_pid = mp::getpid();
                               done_err.set();
                             }},
      pool_throw, 1);
  EXPECT_EQ(ok.get(long_wait()), 81);
  EXPECT_THROW(bad.get(long_wait()), std::out_of_range);
  ASSERT_TRUE(done_ok.wait(long_wait()));
  ASSERT_TRUE(done_err.wait(long_wait()));
  EXPECT_EQ(value, 81);
  EXPECT_EQ(ok_pid, mp::getpid());
  EXPECT_EQ(err_pid, mp::getpid());
  EXPECT_THROW(std::rethrow_exception(error), std::out_of_range);
}

TEST(PoolTest, JoinFromACallback) {
  // A callback runs in the pool's own thread: join() there cannot wait for that thread.
  // (mp::Callbacks<void> for a void task would belong here too; it does not compile yet.)
  th::Event called;
  bool refused = false;
  mp::Pool pool(1);
  mp::AsyncResult<int> r = pool.apply_async(mp::Callbacks<int>{.callback =
                                                                   [&](int) {
                                                                     pool.close();
                                                                     try {
                                                                       pool.join();
                                                                     } catch (const concur::RuntimeError&) {
                                                                       refused = true;
                                                                     }
                                                                     called.set();
                                                                   }},
                                            pool_sqr, 2);
  ASSERT_TRUE(called.wait(long_wait()));
  EXPECT_TRUE(refused);
  EXPECT_EQ(r.get(long_wait()), 4);
  pool.join();
}

TEST(PoolTest, MapAsyncCallbacks) {
  // test_map_async_callbacks
  th::Event called;
  std::vector<int> got;
  std::exception_ptr error;
  mp::Pool pool(2);  // after what its callbacks touch (CallbacksRunInTheParent)
  mp::AsyncResult<std::vector<int>> ok = pool.map_async(
      pool_sqr, pool_range(5), 2,
      mp::Callbacks<std::vector<int>>{.callback =
                                          [&](std::vector<int> v) {
                                            got = std::move(v);
                                            called.set();
                                          },
                                      .error_callback = [&](std::exception_ptr) { called.set(); }});
  ok.wait(long_wait());
  ASSERT_TRUE(called.wait(long_wait()));
  EXPECT_EQ(got, pool_squares(5));
  called.clear();
  mp::AsyncResult<std::vector<int>> bad = pool.map_async(
      pool_fail_on, pool_range(5), 1,
      mp::Callbacks<std::vector<int>>{.callback = [&](std::vector<int>) { called.set(); },
                                      .error_callback =
                                          [&](std::exception_ptr e) {
                                            error = e;
                                            called.set();
                                          }});
  bad.wait(long_wait());
  ASSERT_TRUE(called.wait(long_wait()));
  EXPECT_THROW(std::rethrow_exception(error), std::invalid_argument);
}

TEST(PoolTest, WhatCannotBeATaskIsRefusedWithValueError) {
  // Python's pickle refuses a lambda when it is sent: so does submitting here.
  mp::Pool pool(1);
  int captured = 2;
  EXPECT_THROW(pool.apply_async([captured](int x) { return x * captured; }, 1), concur::ValueError);
  EXPECT_THROW(pool.apply(std::function<int(int)>(pool_sqr), 1), concur::ValueError);
  EXPECT_THROW(pool.map([captured](int x) { return x + captured; }, pool_range(3)), concur::ValueError);
  EXPECT_THROW(pool.apply([](mp::Event e) { return e.is_set(); }, mp::Event()), concur::ValueError);
  int (*null_fn)(int) = nullptr;
  EXPECT_THROW(pool.apply_async(null_fn, 1), concur::ValueError);
  EXPECT_EQ(pool.apply(pool_sqr, 3), 9);
}

TEST(PoolTest, AResultThatCannotBeSerializedFailsThatTaskOnly) {
  // _TestPoolWorkerErrors.test_unpickleable_result: the task fails, the worker and pool go on.
  th::Event called;  // outlives the pool (CallbacksRunInTheParent)
  std::exception_ptr seen;
  mp::Pool pool(2);
  for (int i = 0; i < 5; ++i) {
    called.clear();
    seen = nullptr;
    mp::AsyncResult<PoolPoison> r = pool.apply_async(
        mp::Callbacks<PoolPoison>{.callback = [&](PoolPoison) { called.set(); },
                                  .error_callback =
                                      [&](std::exception_ptr e) {
                                        seen = e;
                                        called.set();
                                      }},
        pool_poison_result, -1);
    EXPECT_ANY_THROW(r.get(long_wait()));
    EXPECT_FALSE(r.successful());
    ASSERT_TRUE(called.wait(long_wait()));
    EXPECT_TRUE(seen);
  }
  EXPECT_EQ(pool.apply(pool_poison_result, 4).v, 4);
  EXPECT_EQ(pool.map(pool_sqr, pool_range(4)), pool_squares(4));
}

TEST(PoolTest, AnArgumentThatCannotBeSerializedFailsThatCallOnly) {
  // test_map_unplicklable: the caller gets the serializer's error, from the call or its result.
  mp::Pool pool(2);
  EXPECT_ANY_THROW(pool.apply(pool_poison_value, PoolPoison{-1}));
  EXPECT_ANY_THROW(pool.map(pool_poison_value, std::vector<PoolPoison>(10, PoolPoison{-1})));
  EXPECT_EQ(pool.apply(pool_poison_value, PoolPoison{5}), 5);
}

// ================================================================================================
// Creation, close, terminate, join
// ================================================================================================

TEST(PoolTest, MakePoolRefusesNoProcesses) {
  // test_make_pool
  EXPECT_THROW(mp::Pool(0), concur::ValueError);
  EXPECT_THROW(mp::Pool(-1), concur::ValueError);
  EXPECT_THROW(mp::Pool(mp::PoolOptions{.processes = 2, .maxtasksperchild = 0}), concur::ValueError);
}

TEST(PoolTest, ProcessesIsTheNumberOfWorkers) {
  // Three tasks meet at a barrier of three: only three concurrent workers let them pass.
  PoolHarness h(3, "fork", /*barrier_parties=*/3);
  std::vector<mp::AsyncResult<int>> rs;
  for (int i = 0; i < 3; ++i) rs.push_back(h.pool.apply_async(pool_meet, i));
  std::set<int> pids;
  for (auto& r : rs) pids.insert(r.get(long_wait()));
  EXPECT_EQ(pids.size(), 3u);
  EXPECT_EQ(pids.count(mp::getpid()), 0u);
  EXPECT_EQ(h.pool.processes(), 3);
  const std::vector<int> live = h.pool.worker_pids();
  EXPECT_EQ(std::set<int>(live.begin(), live.end()), pids);
}

TEST(PoolTest, DefaultProcessesIsCpuCount) {
  const int n = mp::cpu_count();
  mp::Event gate;
  mp::Semaphore started(0);
  mp::Value<int> slot(0);
  mp::Barrier barrier(n);
  mp::Pool pool(mp::PoolOptions{.initializer = pool_init_shared,
                                .initargs = std::tuple{gate, started, slot, barrier}});
  std::vector<mp::AsyncResult<int>> rs;
  for (int i = 0; i < n; ++i) rs.push_back(pool.apply_async(pool_meet, i));
  std::set<int> pids;
  for (auto& r : rs) pids.insert(r.get(long_wait()));
  EXPECT_EQ(pids.size(), static_cast<std::size_t>(n));
}

TEST(PoolTest, CloseLetsQueuedWorkFinishThenJoin) {
  mp::Pool pool(2);
  std::vector<mp::AsyncResult<int>> rs;
  for (int i = 0; i < 20; ++i) rs.push_back(pool.apply_async(pool_sqr, i));
  mp::AsyncResult<std::vector<int>> m = pool.map_async(pool_sqr, pool_range(30), 4);
  pool.close();
  pool.join();
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(rs[i].ready());
    EXPECT_EQ(rs[i].get(0s), i * i);
  }
  EXPECT_EQ(m.get(0s), pool_squares(30));
}

TEST(PoolTest, JoinBeforeCloseAndUseAfterClose) {
  // test_context; join() while running is Python's ValueError too.
  mp::Pool pool(1);
  EXPECT_THROW(pool.join(), concur::ValueError);
  EXPECT_EQ(pool.map_async(pool_sqr, pool_range(3)).get(long_wait()), pool_squares(3));
  pool.close();
  const std::string what = pool_what_of_throw<concur::ValueError>([&] { pool.apply(pool_sqr, 2); });
  EXPECT_NE(what.find("Pool not running"), std::string::npos) << what;
  EXPECT_THROW(pool.apply_async(pool_sqr, 2), concur::ValueError);
  EXPECT_THROW(pool.map(pool_sqr, pool_range(2)), concur::ValueError);
  EXPECT_THROW(pool.map_async(pool_sqr, pool_range(2)), concur::ValueError);
  EXPECT_THROW(pool.imap(pool_sqr, pool_range(2)), concur::ValueError);
  EXPECT_THROW(pool.imap_unordered(pool_sqr, pool_range(2)), concur::ValueError);
  EXPECT_THROW(pool.starmap(pool_mul, std::vector<std::tuple<int, int>>{{1, 2}}), concur::ValueError);
  pool.join();
  pool.join();  // again: nothing left to wait for
}

TEST(PoolTest, TerminateStopsRunningWork) {
  // test_terminate: running and queued tasks do not keep terminate() and join() waiting.
  PoolHarness h(2);
  const int pid0 = h.pool.apply(pool_pid);
  mp::AsyncResult<std::vector<int>> r = h.pool.map_async(pool_held, pool_range(100), 1);
  mp::AsyncResult<int> queued = h.pool.apply_async(pool_sqr, 3);
  ASSERT_TRUE(h.wait_started(2));
  h.pool.terminate();
  h.pool.join();
  // Unlike Python's (which never completes them), the tasks not done fail.
  EXPECT_THROW(r.get(long_wait()), mp::ProcessError);
  EXPECT_THROW(queued.get(long_wait()), mp::ProcessError);
  EXPECT_THROW(h.pool.apply_async(pool_sqr, 1), concur::ValueError);
  EXPECT_TRUE(concur_test::eventually([&] { return pool_process_ended(pid0); }));
}

TEST(PoolTest, DestructorTerminates) {
  // Python's `with Pool() as p:` ends with terminate(): a held task does not hold the scope.
  mp::Event gate;
  mp::Semaphore started(0);
  mp::Value<int> slot(0);
  mp::Barrier barrier(2);
  int pid = 0;
  {
    mp::Pool pool(mp::PoolOptions{.processes = 1,
                                  .initializer = pool_init_shared,
                                  .initargs = std::tuple{gate, started, slot, barrier}});
    pid = pool.apply(pool_pid);
    [[maybe_unused]] mp::AsyncResult<int> held = pool.apply_async(pool_held, 1);
    ASSERT_TRUE(started.acquire(true, long_wait()));
  }
  EXPECT_TRUE(concur_test::eventually([&] { return pool_process_ended(pid); }));
  gate.set();
}

TEST(PoolTest, ContextPool) {
  {
    mp::Pool a = mp::get_context("forkserver").Pool();
    EXPECT_EQ(a.processes(), mp::cpu_count());
    mp::Pool b = mp::get_context("fork").Pool(mp::PoolOptions{.processes = 1});
    EXPECT_EQ(b.apply(pool_sqr, 4), 16);
  }
  mp::Pool pool = mp::get_context("spawn").Pool(2);
  EXPECT_EQ(pool.processes(), 2);
  g_pool_init_value = 5;  // a spawned worker does not see it
  EXPECT_EQ(pool.apply(pool_read_init_value), 0);
  g_pool_init_value = 0;
  EXPECT_EQ(pool.map(pool_sqr, pool_range(5)), pool_squares(5));
}

// ================================================================================================
// Initializers (_TestInitializers)
// ================================================================================================

TEST(PoolInitializerTest, RunsOnceInEachWorkerEvenWithoutTasks) {
  mp::Value<int> runs(0);
  mp::Pool pool(mp::PoolOptions{.processes = 3, .initializer = pool_count_init, .initargs = std::tuple{runs}});
  pool.close();
  pool.join();
  std::lock_guard g(runs);
  EXPECT_EQ(runs.value(), 3);
}

TEST(PoolInitializerTest, ANullInitializerIsNone) {
  void (*none)(int) = nullptr;
  mp::Pool pool(mp::PoolOptions{.processes = 1, .initializer = none});
  EXPECT_EQ(pool.apply(pool_read_init_value), 0);
}

TEST(PoolInitializerTest, SetsStateTheTasksSee) {
  mp::Pool pool(mp::PoolOptions{.processes = 2, .initializer = pool_set_init_value, .initargs = std::tuple{17}});
  EXPECT_EQ(pool.map(pool_read_init_value_of, pool_range(8), 1), std::vector<int>(8, 17));
  EXPECT_EQ(g_pool_init_value, 0);  // the parent's is untouched
}

TEST(PoolInitializerTest, InitargsMustMatchTheInitializer) {
  EXPECT_THROW(mp::Pool(mp::PoolOptions{.processes = 1, .initializer = pool_set_init_value,
                                        .initargs = std::tuple{std::string("x")}}),
               concur::ValueError);
  EXPECT_THROW(mp::Pool(mp::PoolOptions{.processes = 1, .initializer = pool_set_init_value}), concur::ValueError);
  EXPECT_THROW(mp::Pool(mp::PoolOptions{.processes = 1, .initializer = pool_set_init_value,
                                        .initargs = std::tuple{1, 2}}),
               concur::ValueError);
}

void pool_init_fail(int) { throw std::runtime_error("error in initializer"); }

TEST(PoolInitializerTest, AFailingInitializerBreaksThePool) {
  // Python's Pool would restart such a worker forever; concur's fails the work and breaks.
  mp::Pool pool(mp::PoolOptions{.processes = 2, .initializer = pool_init_fail, .initargs = std::tuple{1}});
  bool refused_at_submit = false;
  try {
    mp::AsyncResult<int> r = pool.apply_async(pool_sqr, 2);
    const std::string what = pool_what_of_get<mp::ProcessError>(r);
    EXPECT_NE(what.find("error in initializer"), std::string::npos) << what;
  } catch (const mp::ProcessError&) {
    refused_at_submit = true;  // already broken
  }
  (void)refused_at_submit;
  EXPECT_TRUE(concur_test::eventually([&] {
    try {
      (void)pool.apply_async(pool_sqr, 1);
      return false;
    } catch (const mp::ProcessError&) {
      return true;
    }
  }));
  pool.terminate();
  pool.join();
}

// ================================================================================================
// Worker lifetime (_TestPoolWorkerLifetime)
// ================================================================================================

TEST(PoolWorkerLifetimeTest, MaxTasksPerChildReplacesWorkers) {
  // A worker serves maxtasksperchild tasks, then another takes its place.
  mp::Pool pool(mp::PoolOptions{.processes = 1, .maxtasksperchild = 2});
  std::vector<int> pids;
  for (int i = 0; i < 6; ++i) pids.push_back(pool.apply(pool_pid));
  EXPECT_EQ(pids[0], pids[1]);
  EXPECT_EQ(pids[2], pids[3]);
  EXPECT_EQ(pids[4], pids[5]);
  EXPECT_EQ(std::set<int>(pids.begin(), pids.end()).size(), 3u);
  pool.close();
  pool.join();
}

TEST(PoolWorkerLifetimeTest, ManyTasksFewWorkers) {
  // test_pool_worker_lifetime
  mp::Pool pool(mp::PoolOptions{.processes = 3, .maxtasksperchild = 10});
  std::vector<mp::AsyncResult<int>> rs;
  for (int i = 0; i < 100; ++i) rs.push_back(pool.apply_async(pool_sqr, i));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(rs[i].get(long_wait()), i * i);
  std::vector<mp::AsyncResult<int>> pids;
  for (int i = 0; i < 40; ++i) pids.push_back(pool.apply_async(pool_pid));
  std::set<int> distinct;
  for (auto& p : pids) distinct.insert(p.get(long_wait()));
  EXPECT_GE(distinct.size(), 4u);  // 40 tasks, at most 10 per worker
  pool.close();
  pool.join();
}

TEST(PoolWorkerLifetimeTest, EarlyClose) {
  // test_pool_worker_lifetime_early_close
  mp::Pool pool(mp::PoolOptions{.processes = 3, .maxtasksperchild = 1});
  std::vector<mp::AsyncResult<int>> rs;
  for (int i = 0; i < 6; ++i) rs.push_back(pool.apply_async(pool_sqr, i));
  pool.close();
  pool.join();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(rs[i].get(long_wait()), i * i);
}

TEST(PoolWorkerLifetimeTest, InitializerRunsInEveryReplacement) {
  mp::Value<int> runs(0);
  mp::Pool pool(mp::PoolOptions{.processes = 1,
                                .initializer = pool_count_init,
                                .initargs = std::tuple{runs},
                                .maxtasksperchild = 1});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(pool.apply(pool_sqr, i), i * i);
  pool.close();
  pool.join();
  std::lock_guard g(runs);
  EXPECT_GE(runs.value(), 3);  // one per task, and perhaps a replacement that got none
  EXPECT_LE(runs.value(), 4);
}

// A task kills its worker (by `how`) while the pool's other worker runs a held task: the dying
// task fails with mp::ProcessError naming the worker's pid and its `exitcode` (as
// Process::exitcode(); unchecked when nullopt), the other worker's task completes, later work
// completes, and the pool has two workers again, neither of them the dead one.
void pool_expect_death_handled(PoolHarness& h, PoolDeath how, std::optional<int> exitcode) {
  {
    mp::AsyncResult<int> m1 = h.pool.apply_async(pool_meet, 0), m2 = h.pool.apply_async(pool_meet, 1);
    ASSERT_NE(m1.get(long_wait()), m2.get(long_wait()));  // both workers are up and idle
  }
  mp::AsyncResult<int> running = h.pool.apply_async(pool_held, 7);
  ASSERT_TRUE(h.wait_started(1));
  mp::AsyncResult<int> dies = h.pool.apply_async(pool_die_task, static_cast<int>(how));  // the idle one

  const std::string what = pool_what_of_get<mp::ProcessError>(dies);
  EXPECT_TRUE(dies.ready());
  EXPECT_FALSE(dies.successful());
  const int pid = h.dead_pid();
  ASSERT_GT(pid, 0);
  EXPECT_NE(what.find("pid " + std::to_string(pid)), std::string::npos) << what;
  if (exitcode) {
    EXPECT_NE(what.find("exit code " + std::to_string(*exitcode)), std::string::npos) << what;
  }
  EXPECT_TRUE(concur_test::eventually([&] { return pool_process_ended(pid); }));

  EXPECT_FALSE(running.ready());  // the other worker's task goes on
  h.gate.set();
  EXPECT_TRUE(pool_gives(running, 7));
  std::vector<mp::AsyncResult<int>> after;
  for (int i = 0; i < 10; ++i) after.push_back(h.pool.apply_async(pool_sqr, i));
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(pool_gives(after[i], i * i)) << "task " << i;

  // Replaced: two concurrent workers again, neither of them the dead one.
  mp::AsyncResult<int> m1 = h.pool.apply_async(pool_meet, 0), m2 = h.pool.apply_async(pool_meet, 1);
  const int p1 = m1.get(long_wait()), p2 = m2.get(long_wait());
  EXPECT_NE(p1, p2);
  EXPECT_NE(p1, pid);
  EXPECT_NE(p2, pid);
  const std::vector<int> live = h.pool.worker_pids();
  EXPECT_EQ(std::set<int>(live.begin(), live.end()), (std::set<int>{p1, p2}));
}

// ================================================================================================
// Every start method
// ================================================================================================

class PoolStartMethodTest : public ::testing::TestWithParam<const char*> {
 protected:
  mp::PoolOptions options(int processes) const {
    return mp::PoolOptions{.processes = processes, .context = GetParam()};
  }
  bool is_fork() const { return std::string(GetParam()) == "fork"; }
};

TEST_P(PoolStartMethodTest, EveryCallForm) {
  mp::Pool pool(options(2));
  EXPECT_EQ(pool.apply(pool_mul, 6, 7), 42);
  EXPECT_EQ(pool.apply([](std::string s) { return s + "!"; }, std::string("hi")), "hi!");
  EXPECT_EQ(pool.apply_async(pool_sqr, 9).get(long_wait()), 81);
  EXPECT_EQ(pool.map(pool_sqr, pool_range(20), 3), pool_squares(20));
  EXPECT_EQ(pool.map_async(pool_sqr, pool_range(20)).get(long_wait()), pool_squares(20));
  std::vector<int> ordered;
  for (int r : pool.imap(pool_sqr, pool_range(12), 5)) ordered.push_back(r);
  EXPECT_EQ(ordered, pool_squares(12));
  std::vector<int> unordered;
  for (int r : pool.imap_unordered(pool_sqr, pool_range(12))) unordered.push_back(r);
  std::sort(unordered.begin(), unordered.end());
  EXPECT_EQ(unordered, pool_squares(12));
  EXPECT_EQ(pool.starmap(pool_mul, std::vector<std::tuple<int, int>>{{2, 3}, {4, 5}}), (std::vector<int>{6, 20}));
  EXPECT_EQ(pool.starmap_async(pool_mul, std::vector<std::tuple<int, int>>{{7, 1}, {2, 2}, {3, 3}}, 2).get(long_wait()),
            (std::vector<int>{7, 4, 9}));
  EXPECT_EQ(pool.map_async(pool_sqr, pool_range(9), 4).get(long_wait()), pool_squares(9));
  std::vector<int> unordered_chunks;
  for (int r : pool.imap_unordered(pool_sqr, pool_range(9), 4)) unordered_chunks.push_back(r);
  std::sort(unordered_chunks.begin(), unordered_chunks.end());
  EXPECT_EQ(unordered_chunks, pool_squares(9));
  EXPECT_EQ(pool.apply(pool_lengths, std::vector<std::string>{"ab"}).at("ab"), std::vector<int>{2});
  pool.close();
  pool.join();
}

TEST_P(PoolStartMethodTest, WhatAForkedWorkerInherits) {
  g_pool_init_value = 31;  // a forked worker sees the parent's memory, a new program does not
  mp::Pool pool(options(1));
  const int seen = pool.apply(pool_read_init_value);
  g_pool_init_value = 0;
  EXPECT_EQ(seen, is_fork() ? 31 : 0);
}

TEST_P(PoolStartMethodTest, InitializerWithSharedObjects) {
  mp::Value<int> runs(0);
  {
    mp::Pool pool(mp::PoolOptions{.processes = 2,
                                  .initializer = pool_count_init,
                                  .initargs = std::tuple{runs},
                                  .context = GetParam()});
    pool.close();
    pool.join();
  }
  {
    std::lock_guard g(runs);
    EXPECT_EQ(runs.value(), 2);
  }
  mp::Pool pool(mp::PoolOptions{.processes = 2,
                                .initializer = pool_set_init_value,
                                .initargs = std::tuple{8},
                                .context = GetParam()});
  EXPECT_EQ(pool.map(pool_read_init_value_of, pool_range(4), 1), std::vector<int>(4, 8));
}

TEST_P(PoolStartMethodTest, ExceptionsCross) {
  mp::Pool pool(options(1));
  EXPECT_THROW(pool.apply(pool_throw, 0), std::runtime_error);
  EXPECT_THROW(pool.apply(pool_throw, 1), std::out_of_range);
  EXPECT_THROW(pool.apply(pool_throw, 2), concur::ValueError);
  EXPECT_THROW(pool.apply(pool_throw, 4), mp::RemoteError);
  EXPECT_EQ(pool.apply(pool_throw, 6), 6);
}

TEST_P(PoolStartMethodTest, MaxTasksPerChild) {
  mp::Pool pool(mp::PoolOptions{.processes = 1, .maxtasksperchild = 1, .context = GetParam()});
  const int a = pool.apply(pool_pid), b = pool.apply(pool_pid), c = pool.apply(pool_pid);
  EXPECT_NE(a, b);
  EXPECT_NE(b, c);
  EXPECT_NE(a, c);
}

TEST_P(PoolStartMethodTest, AKilledWorkerFailsItsTaskAndIsReplaced) {
  PoolHarness h(2, GetParam());
  pool_expect_death_handled(h, PoolDeath::sigkill, -SIGKILL);
}

INSTANTIATE_TEST_SUITE_P(StartMethods, PoolStartMethodTest, ::testing::Values("fork", "spawn", "forkserver"),
                         [](const ::testing::TestParamInfo<const char*>& i) { return std::string(i.param); });

// ================================================================================================
// A worker that dies in a task, each way
// ================================================================================================

struct PoolDeathCase {
  const char* name;
  PoolDeath how;
  int exitcode;  // as Process::exitcode(): the code given to exit, or -signal
};

class PoolWorkerDiesTest : public ::testing::TestWithParam<PoolDeathCase> {};

TEST_P(PoolWorkerDiesTest, FailsItsTaskWithProcessErrorAndIsReplaced) {
  const PoolDeathCase& c = GetParam();
  PoolHarness h(2);
  // Under a sanitizer a SIGSEGV is the sanitizer's report and exit, not the signal.
  const bool known = !(c.how == PoolDeath::segfault && kPoolSanitized);
  pool_expect_death_handled(h, c.how, known ? std::optional<int>(c.exitcode) : std::nullopt);
  h.pool.close();
  h.pool.join();
}

TEST_P(PoolWorkerDiesTest, FailsTheMapHoldingItsChunk) {
  const PoolDeathCase& c = GetParam();
  PoolHarness h(2);
  // A map whose one call kills its worker, by the case's means.
  mp::AsyncResult<std::vector<int>> r =
      h.pool.map_async(pool_die_task, std::vector<int>{static_cast<int>(c.how)}, 1);
  EXPECT_THROW(r.get(long_wait()), mp::ProcessError);
  // Other work, before and after, completes.
  EXPECT_EQ(h.pool.map(pool_sqr, pool_range(20), 2), pool_squares(20));
}

INSTANTIATE_TEST_SUITE_P(
    Deaths, PoolWorkerDiesTest,
    ::testing::Values(PoolDeathCase{"sigkill", PoolDeath::sigkill, -SIGKILL},
                      PoolDeathCase{"abort", PoolDeath::abort, -SIGABRT},
                      PoolDeathCase{"underscore_exit", PoolDeath::underscore_exit, 3},
                      PoolDeathCase{"std_exit", PoolDeath::std_exit, 3},
                      PoolDeathCase{"segfault", PoolDeath::segfault, -SIGSEGV}),
    [](const ::testing::TestParamInfo<PoolDeathCase>& i) { return std::string(i.param.name); });

TEST(PoolWorkerDiesInChunkTest, ADeathInsideAChunkFailsThatMapAndImapStopsThere) {
  mp::Pool pool(2);
  EXPECT_THROW(pool.map(pool_die_on_three, pool_range(8), 2), mp::ProcessError);
  std::vector<int> got;
  EXPECT_THROW(
      {
        for (int r : pool.imap(pool_die_on_three, pool_range(8), 1)) got.push_back(r);
      },
      mp::ProcessError);
  // What came before the failure is in order (calls the dead worker held may have failed too).
  const std::vector<int> want{0, 1, 4};
  ASSERT_LE(got.size(), want.size());
  EXPECT_TRUE(std::equal(got.begin(), got.end(), want.begin()));
  EXPECT_EQ(pool.map(pool_sqr, pool_range(8)), pool_squares(8));
  pool.close();
  pool.join();  // nothing hangs after deaths
}

TEST(PoolWorkerDeathIsolationTest, ADeathFailsOnlyTheTaskThatWasRunning) {
  // As in CPython, where a worker takes one task at a time: the tasks a dying worker had not
  // started, and those it had finished, do not fail with it ("all other tasks complete"). A
  // worker that is sent several tasks at once must give back the ones it never started and the
  // results it had not sent yet.
  PoolHarness h(2);
  std::vector<mp::AsyncResult<int>> before, after;
  for (int i = 0; i < 5; ++i) before.push_back(h.pool.apply_async(pool_sqr, i));
  mp::AsyncResult<int> dies = h.pool.apply_async(pool_die_task, static_cast<int>(PoolDeath::underscore_exit));
  for (int i = 5; i < 15; ++i) after.push_back(h.pool.apply_async(pool_sqr, i));
  EXPECT_THROW(dies.get(long_wait()), mp::ProcessError);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(pool_gives(before[i], i * i)) << "task " << i << " (before)";
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(pool_gives(after[i], (i + 5) * (i + 5))) << "task " << i + 5 << " (after)";
  // imap over a chunk per call: the results before the failing call come.
  std::vector<int> got;
  EXPECT_THROW(
      {
        for (int r : h.pool.imap(pool_die_on_three, pool_range(8), 1)) got.push_back(r);
      },
      mp::ProcessError);
  EXPECT_EQ(got, (std::vector<int>{0, 1, 4}));
}

}  // namespace
