// Tests for thread dumps and thread states (th::dump_threads, ThreadRef::state(), Thread::state();
// include/concur/threading/thread.hpp) and dl::install_dump_on_signal (detection.hpp): a thread
// blocked in every kind of concur wait is BLOCKED, with the right wait kind, and its dump block
// says what it waits for (and, for a lock, who holds it; the holder's block says it holds it);
// NEW, RUNNING and TERMINATED threads; foreign threads; the dump on a signal.
//
// A thread asleep inside a call cannot signal that it is: the tests poll (eventually) until it
// shows as BLOCKED. Every wait is timed or ended by the test.
#include <concur/deadlock.hpp>
#include <concur/futures.hpp>
#include <concur/queue.hpp>
#include <concur/threading.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <latch>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "deadlock_test_support.hpp"
#include "test_support.hpp"

namespace dl = concur::deadlock;
namespace th = concur::threading;
namespace cq = concur::queue;
namespace cf = concur::futures;
using namespace concur_test;
using namespace deadlock_test;
using namespace std::chrono_literals;

namespace {

// The block of thread `name` in a dump: its header line `"name" ident=...` and the indented
// lines under it ("" if the thread is not in the dump).
std::string block_of(const std::string& dump, const std::string& name) {
  const std::string head = "\n\"" + name + "\" ident=";
  const std::size_t at = dump.find(head);
  if (at == std::string::npos) return "";
  const std::size_t begin = at + 1;
  std::size_t end = dump.find('\n', begin);
  while (end != std::string::npos && end + 1 < dump.size() && dump[end + 1] == ' ')
    end = dump.find('\n', end + 1);
  return end == std::string::npos ? dump.substr(begin) : dump.substr(begin, end + 1 - begin);
}

// Every block of a dump.
std::vector<std::string> blocks_of(const std::string& dump) {
  std::vector<std::string> out;
  std::istringstream in(dump);
  std::string line;
  std::getline(in, line);  // "Thread dump: N live threads"
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == ' ' && !out.empty()) out.back() += line + "\n";
    else out.push_back(line + "\n");
  }
  return out;
}

// Polls until `t` is BLOCKED in a wait of `kind`, and a dump shows it so: its block says
// BLOCKED, "waiting for <kind>", and every string of `in_block`. Returns the last status and
// dump in `status`/`dump` for further checks.
testing::AssertionResult blocked_in(const th::ThreadRef& t, const std::string& kind,
                                    const std::vector<std::string>& in_block = {},
                                    th::ThreadStatus* status = nullptr, std::string* dump = nullptr) {
  const std::string name = t.name();
  th::ThreadStatus st;
  std::string d, block;
  const bool ok = eventually([&] {
    st = t.state();
    if (!(st == th::ThreadState::BLOCKED) || st.wait_kind != kind) return false;
    d = th::dump_threads();
    block = block_of(d, name);
    if (!contains(block, " BLOCKED\n") || !contains(block, "\n    waiting for " + kind)) return false;
    for (const auto& s : in_block)
      if (!contains(block, s)) return false;
    return true;
  });
  if (status) *status = st;
  if (dump) *dump = d;
  if (ok) return testing::AssertionSuccess();
  std::string expected;
  for (const auto& s : in_block) expected += "\n  " + s;
  return testing::AssertionFailure() << name << " not seen BLOCKED in a " << kind << " wait with"
                                     << expected << "\nlast state: " << st << " (kind \""
                                     << st.wait_kind << "\")\nlast dump:\n"
                                     << (d.empty() ? th::dump_threads() : d);
}

// A concur thread named `name` running f; started at once.
std::unique_ptr<th::Thread> start_named(const std::string& name, std::function<void()> f) {
  auto t = std::make_unique<th::Thread>(th::ThreadOptions{.name = name}, std::move(f));
  t->start();
  return t;
}

// Sends everything written to stderr (fd 2) to a temporary file while it lives; text() reads
// what arrived so far (a dump thread writes asynchronously, so the test polls it).
class StderrToFile {
 public:
  StderrToFile() {
    std::fflush(stderr);
    char path[] = "/tmp/concur_dump_test_XXXXXX";
    fd_ = ::mkstemp(path);
    path_ = path;
    saved_ = ::dup(2);
    if (fd_ >= 0 && saved_ >= 0) ::dup2(fd_, 2);
  }
  ~StderrToFile() {
    std::fflush(stderr);
    if (saved_ >= 0) {
      ::dup2(saved_, 2);
      ::close(saved_);
    }
    if (fd_ >= 0) ::close(fd_);
    ::unlink(path_.c_str());
  }
  StderrToFile(const StderrToFile&) = delete;
  StderrToFile& operator=(const StderrToFile&) = delete;
  bool ok() const { return fd_ >= 0 && saved_ >= 0; }
  std::string text() const {
    std::ifstream in(path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  int fd_ = -1;
  int saved_ = -1;
  std::string path_;
};

using Dump = DiagnosticsTest;  // settings back to their defaults around each test
using ThreadState = Dump;

}  // namespace

// --- every kind of wait -----------------------------------------------------------------------

TEST_F(Dump, Lock) {
  th::Lock lock("the-lock");
  th::Event holding, finish;
  auto holder = start_named("holder", [&] {
    std::lock_guard g(lock);
    holding.set();
    finish.wait(long_wait());
  });
  ASSERT_TRUE(holding.wait(long_wait()));
  ASSERT_TRUE(blocked_in(holder->ref(), "event"));  // asleep until `finish`
  bool got = false;
  auto waiter = start_named("lock-waiter", [&] {
    if (lock.acquire(true, long_wait())) {
      got = true;
      lock.release();
    }
  });
  th::ThreadStatus st;
  std::string dump;
  EXPECT_TRUE(blocked_in(waiter->ref(), "lock",
                         {"    waiting for lock \"the-lock\" (held by \"holder\")\n"}, &st, &dump));
  EXPECT_EQ(st.waiting_for, "lock \"the-lock\" (held by \"holder\")");
  std::ostringstream os;
  os << st;
  EXPECT_EQ(os.str(), "BLOCKED waiting for lock \"the-lock\" (held by \"holder\")");
  // The holder's block says it holds the lock (known through its waiter), and the holder's own
  // wait; its state lists the lock too.
  const std::string holder_block = block_of(dump, "holder");
  EXPECT_TRUE(contains(holder_block, "    holds lock \"the-lock\"\n")) << dump;
  EXPECT_TRUE(contains(holder_block, "    waiting for event")) << dump;
  EXPECT_TRUE(has(holder->state().holds, "lock \"the-lock\"")) << holder->state();
  // The header line: name, ident, native id, daemon flag, state.
  EXPECT_TRUE(std::regex_search(
      block_of(dump, "lock-waiter"),
      std::regex("^\"lock-waiter\" ident=0x[0-9a-f]+ native_id=[0-9]+ daemon=false BLOCKED\n")))
      << dump;
  EXPECT_TRUE(starts_with(dump, "Thread dump: ")) << dump;
  finish.set();
  ASSERT_TRUE(holder->join(long_wait()));
  ASSERT_TRUE(waiter->join(long_wait()));
  EXPECT_TRUE(got);
}

TEST_F(Dump, RLockHeldByTheMainThread) {
  th::RLock r("the-rlock");
  r.acquire();
  r.acquire();  // twice: still one lock held
  bool got = false;
  auto waiter = start_named("rlock-waiter", [&] {
    if (r.acquire(true, long_wait())) {
      got = true;
      r.release();
    }
  });
  std::string dump;
  EXPECT_TRUE(blocked_in(waiter->ref(), "rlock",
                         {"    waiting for rlock \"the-rlock\" (held by \"MainThread\")\n"}, nullptr,
                         &dump));
  EXPECT_TRUE(contains(block_of(dump, "MainThread"), "    holds rlock \"the-rlock\"\n")) << dump;
  EXPECT_TRUE(contains(block_of(dump, "MainThread"), " RUNNING\n")) << dump;
  const th::ThreadStatus me = th::current_thread().state();
  EXPECT_EQ(me.state, th::ThreadState::RUNNING);
  EXPECT_TRUE(has(me.holds, "rlock \"the-rlock\"")) << me;
  r.release();
  r.release();
  ASSERT_TRUE(waiter->join(long_wait()));
  EXPECT_TRUE(got);
}

TEST_F(Dump, ConditionWait) {
  th::Condition cv("the-cv");
  bool ready = false;  // under cv
  auto waiter = start_named("cv-waiter", [&] {
    std::lock_guard g(cv);
    while (!ready)
      if (!cv.wait(long_wait())) break;
  });
  th::ThreadStatus st;
  EXPECT_TRUE(blocked_in(waiter->ref(), "condition", {"    waiting for condition \"the-cv\"\n"}, &st));
  EXPECT_EQ(st.waiting_for, "condition \"the-cv\"");
  EXPECT_FALSE(has(st.holds, "rlock \"the-cv\""));  // wait() released it
  {
    std::lock_guard g(cv);  // free while the waiter waits
    ready = true;
    cv.notify();
  }
  ASSERT_TRUE(waiter->join(long_wait()));
}

TEST_F(Dump, SemaphoreAcquire) {
  th::Semaphore sem(0, "the-sem");
  bool got = false;
  auto waiter = start_named("sem-waiter", [&] { got = sem.acquire(true, long_wait()); });
  th::ThreadStatus st;
  EXPECT_TRUE(blocked_in(waiter->ref(), "semaphore", {"    waiting for semaphore \"the-sem\"\n"}, &st));
  EXPECT_EQ(st.waiting_for, "semaphore \"the-sem\"");
  sem.release();
  ASSERT_TRUE(waiter->join(long_wait()));
  EXPECT_TRUE(got);
}

TEST_F(Dump, EventWait) {
  th::Event ev;
  bool set = false;
  auto waiter = start_named("event-waiter", [&] { set = ev.wait(long_wait()); });
  th::ThreadStatus st;
  EXPECT_TRUE(blocked_in(waiter->ref(), "event", {"    waiting for event Event at 0x"}, &st));
  EXPECT_TRUE(starts_with(st.waiting_for, "event Event at 0x")) << st;
  ev.set();
  ASSERT_TRUE(waiter->join(long_wait()));
  EXPECT_TRUE(set);
}

TEST_F(Dump, BarrierWait) {
  th::Barrier barrier(2);
  auto waiter = start_named("barrier-waiter", [&] {
    try {
      barrier.wait(long_wait());
    } catch (const th::BrokenBarrierError&) {
    }
  });
  EXPECT_TRUE(blocked_in(waiter->ref(), "barrier", {"    waiting for barrier Barrier at 0x"}));
  barrier.wait(long_wait());
  ASSERT_TRUE(waiter->join(long_wait()));
}

TEST_F(Dump, QueueGet) {
  cq::Queue<int> q;
  int got = -1;
  auto waiter = start_named("get-waiter", [&] {
    try {
      got = q.get(true, long_wait());
    } catch (const cq::Empty&) {
    }
  });
  EXPECT_TRUE(blocked_in(waiter->ref(), "queue", {"    waiting for queue Queue at 0x"}));
  q.put(7);
  ASSERT_TRUE(waiter->join(long_wait()));
  EXPECT_EQ(got, 7);
}

TEST_F(Dump, QueuePutOnAFullQueue) {
  cq::Queue<int> q(1);
  q.put(1);
  bool put = false;
  auto waiter = start_named("put-waiter", [&] {
    try {
      q.put(2, true, long_wait());
      put = true;
    } catch (const cq::Full&) {
    }
  });
  EXPECT_TRUE(blocked_in(waiter->ref(), "queue", {"    waiting for queue Queue at 0x"}));
  EXPECT_EQ(q.get(), 1);
  ASSERT_TRUE(waiter->join(long_wait()));
  EXPECT_TRUE(put);
  EXPECT_EQ(q.get(), 2);
}

TEST_F(Dump, QueueJoin) {
  cq::Queue<int> q;
  q.put(1);  // one unfinished task
  auto waiter = start_named("join-waiter", [&] { q.join(); });  // bounded by task_done below
  EXPECT_TRUE(blocked_in(waiter->ref(), "queue", {"    waiting for queue Queue at 0x"}));
  EXPECT_EQ(q.get(), 1);
  q.task_done();
  ASSERT_TRUE(waiter->join(long_wait()));
}

TEST_F(Dump, ThreadJoin) {
  th::Event finish;
  auto target = start_named("join-target", [&] { finish.wait(long_wait()); });
  bool joined = false;
  auto joiner = start_named("joiner", [&] { joined = target->join(long_wait()); });
  th::ThreadStatus st;
  EXPECT_TRUE(blocked_in(joiner->ref(), "join", {"    waiting for join thread \"join-target\"\n"}, &st));
  EXPECT_EQ(st.waiting_for, "join thread \"join-target\"");
  finish.set();
  ASSERT_TRUE(joiner->join(long_wait()));
  ASSERT_TRUE(target->join(long_wait()));
  EXPECT_TRUE(joined);
}

TEST_F(Dump, Sleep) {
  std::atomic<bool> stop{false};
  auto sleeper = start_named("sleeper", [&] {
    while (!stop.load()) th::sleep(20ms);  // asleep nearly all the time
  });
  th::ThreadStatus st;
  EXPECT_TRUE(blocked_in(sleeper->ref(), "sleep", {"    waiting for sleep\n"}, &st));
  EXPECT_EQ(st.waiting_for, "sleep");
  stop = true;
  ASSERT_TRUE(sleeper->join(long_wait()));
}

TEST_F(Dump, FutureResult) {
  cf::ThreadPoolExecutor pool(cf::ThreadPoolOptions{.max_workers = 1, .thread_name_prefix = "dump-pool"});
  th::Event gate;
  cf::Future<int> f = pool.submit([&gate] {
    gate.wait(long_wait());
    return 42;
  });
  int result = 0;
  auto waiter = start_named("future-waiter", [&] {
    try {
      result = f.result(long_wait());
    } catch (const concur::TimeoutError&) {
    }
  });
  th::ThreadStatus st;
  EXPECT_TRUE(blocked_in(waiter->ref(), "future", {"    waiting for future Future at 0x"}, &st));
  EXPECT_TRUE(starts_with(st.waiting_for, "future Future at 0x")) << st;
  // The pool's worker is there too, a daemon, waiting for the gate (once asleep).
  std::string dump, worker;
  EXPECT_TRUE(eventually([&] {
    dump = th::dump_threads();
    worker = block_of(dump, "dump-pool_0");
    return contains(worker, "    waiting for event");
  })) << dump;
  EXPECT_TRUE(contains(worker, "daemon=true")) << dump;
  gate.set();
  ASSERT_TRUE(waiter->join(long_wait()));
  EXPECT_EQ(result, 42);
}

// --- NEW, RUNNING, TERMINATED -----------------------------------------------------------------

TEST_F(ThreadState, NewRunningBlockedTerminated) {
  std::atomic<bool> spinning{false}, stop{false};
  th::Event go;
  th::Thread t(th::ThreadOptions{.name = "life"}, [&] {
    spinning = true;
    while (!stop.load()) std::this_thread::yield();  // busy, but in no concur wait
    go.wait(long_wait());
  });
  // Constructed, not started.
  EXPECT_EQ(t.state(), th::ThreadState::NEW);
  EXPECT_EQ(t.state().wait_kind, "");
  EXPECT_EQ(t.ref().state(), th::ThreadState::NEW);
  EXPECT_EQ(block_of(th::dump_threads(), "life"), "");  // not live yet
  t.start();
  ASSERT_TRUE(eventually([&] { return spinning.load(); }));
  th::ThreadStatus st = t.state();
  EXPECT_EQ(st.state, th::ThreadState::RUNNING) << st;
  EXPECT_EQ(st.wait_kind, "");
  EXPECT_EQ(st.waiting_for, "");
  const std::string block = block_of(th::dump_threads(), "life");
  EXPECT_TRUE(contains(block, " RUNNING\n")) << block;
  EXPECT_FALSE(contains(block, "waiting for")) << block;
  stop = true;
  EXPECT_TRUE(blocked_in(t.ref(), "event"));
  go.set();
  ASSERT_TRUE(t.join(long_wait()));
  st = t.state();
  EXPECT_EQ(st.state, th::ThreadState::TERMINATED) << st;
  EXPECT_TRUE(st.holds.empty());
  EXPECT_EQ(block_of(th::dump_threads(), "life"), "");  // no longer live
  // A ThreadRef outlives the Thread object.
  th::ThreadRef ref = t.ref();
  { th::Thread moved(std::move(t)); }
  EXPECT_EQ(ref.state(), th::ThreadState::TERMINATED);
  // The names of the states.
  EXPECT_EQ(th::to_string(th::ThreadState::NEW), "NEW");
  EXPECT_EQ(th::to_string(th::ThreadState::RUNNING), "RUNNING");
  EXPECT_EQ(th::to_string(th::ThreadState::BLOCKED), "BLOCKED");
  EXPECT_EQ(th::to_string(th::ThreadState::TERMINATED), "TERMINATED");
  std::ostringstream os;
  os << th::ThreadState::TERMINATED << " " << ref.state();
  EXPECT_EQ(os.str(), "TERMINATED TERMINATED");
}

TEST_F(ThreadState, ThreadStatusConvertsToItsState) {
  th::Thread t(th::ThreadOptions{.name = "not-started"}, [] {});
  const th::ThreadState s = t.state();  // converts
  EXPECT_EQ(s, th::ThreadState::NEW);
  EXPECT_TRUE(t.state() == th::ThreadState::NEW);
  EXPECT_TRUE(t.state() == "NEW");  // compares with the state's name too
  EXPECT_EQ(th::to_string(t.state()), "NEW");
  t.start();
  ASSERT_TRUE(t.join(long_wait()));
  EXPECT_TRUE(t.state() == th::ThreadState::TERMINATED);
}

// --- what a dump says about held locks --------------------------------------------------------

TEST_F(Dump, WithLockTrackingEveryHeldLockIsListed) {
  // A lock nobody waits for is known as held only while lock tracking is on.
  dl::enable_lock_order_checking(true);
  th::Lock a("kept-a");
  th::RLock b("kept-b");
  th::Semaphore s(1, "kept-s");
  th::Event finish;
  auto keeper = start_named("keeper", [&] {
    std::lock_guard ga(a);
    std::lock_guard gb(b);
    std::lock_guard gs(s);
    finish.wait(long_wait());
  });
  std::string dump;
  EXPECT_TRUE(blocked_in(keeper->ref(), "event",
                         {"    holds lock \"kept-a\"\n", "    holds rlock \"kept-b\"\n",
                          "    holds semaphore \"kept-s\"\n"},
                         nullptr, &dump));
  const th::ThreadStatus st = keeper->state();
  EXPECT_TRUE(has(st.holds, "lock \"kept-a\"") && has(st.holds, "rlock \"kept-b\"") &&
              has(st.holds, "semaphore \"kept-s\""))
      << st;
  finish.set();
  ASSERT_TRUE(keeper->join(long_wait()));
}

TEST_F(Dump, WithoutLockTrackingALockIsListedOnceSomeoneWaitsForIt) {
  // Checking off: a Lock knows its holder, so the holder is known to hold it as soon as another
  // thread waits for it; a lock nobody waits for is not listed.
  ASSERT_FALSE(dl::lock_order_checking_enabled());
  th::Lock a("quiet-a"), b("wanted-b");
  th::Event finish;
  auto keeper = start_named("quiet-keeper", [&] {
    std::lock_guard ga(a);
    std::lock_guard gb(b);
    finish.wait(long_wait());
  });
  std::string dump;
  ASSERT_TRUE(blocked_in(keeper->ref(), "event", {}, nullptr, &dump));
  EXPECT_FALSE(contains(block_of(dump, "quiet-keeper"), "holds")) << dump;
  EXPECT_TRUE(keeper->state().holds.empty()) << keeper->state();
  bool got = false;
  auto waiter = start_named("b-waiter", [&] {
    if (b.acquire(true, long_wait())) {
      got = true;
      b.release();
    }
  });
  ASSERT_TRUE(blocked_in(waiter->ref(), "lock",
                         {"    waiting for lock \"wanted-b\" (held by \"quiet-keeper\")\n"}, nullptr,
                         &dump));
  const std::string block = block_of(dump, "quiet-keeper");
  EXPECT_TRUE(contains(block, "    holds lock \"wanted-b\"\n")) << dump;
  EXPECT_FALSE(contains(block, "quiet-a")) << dump;
  const th::ThreadStatus st = keeper->state();
  EXPECT_EQ(st.holds, std::vector<std::string>{"lock \"wanted-b\""}) << st;
  finish.set();
  ASSERT_TRUE(keeper->join(long_wait()));
  ASSERT_TRUE(waiter->join(long_wait()));
  EXPECT_TRUE(got);
}

// --- foreign threads --------------------------------------------------------------------------

TEST_F(Dump, AForeignThreadBlockedInALockIsDumpedButNotEnumerated) {
  th::Lock lock("main-holds");
  lock.acquire();
  std::atomic<bool> got{false};
  std::thread foreign([&] {  // never asks concur who it is
    if (lock.acquire(true, long_wait())) {
      got = true;
      lock.release();
    }
  });
  std::string block, dump;
  const bool seen = eventually([&] {
    dump = th::dump_threads();
    for (const auto& b : blocks_of(dump))
      if (starts_with(b, "\"Dummy-") && contains(b, " BLOCKED\n") &&
          contains(b, "    waiting for lock \"main-holds\" (held by \"MainThread\")\n")) {
        block = b;
        return true;
      }
    return false;
  });
  EXPECT_TRUE(seen) << dump;
  EXPECT_TRUE(contains(block_of(dump, "MainThread"), "    holds lock \"main-holds\"\n")) << dump;
  bool enumerated = false;
  for (const auto& t : th::enumerate())
    if (starts_with(t.name(), "Dummy-")) enumerated = true;
  EXPECT_FALSE(enumerated) << "a foreign thread that never called current_thread() is listed";
  lock.release();
  foreign.join();
  EXPECT_TRUE(got);
}

// --- the dump on a signal ---------------------------------------------------------------------

TEST_F(Dump, OnSignal) {
  th::Lock lock("signal-lock");
  th::Event holding, finish;
  auto holder = start_named("signal-holder", [&] {
    std::lock_guard g(lock);
    holding.set();
    finish.wait(long_wait());
  });
  ASSERT_TRUE(holding.wait(long_wait()));
  ASSERT_TRUE(blocked_in(holder->ref(), "event"));  // asleep: the dump will say so
  dl::install_dump_on_signal(SIGQUIT);
  std::string text;
  {
    StderrToFile err;
    ASSERT_TRUE(err.ok());
    ASSERT_EQ(std::raise(SIGQUIT), 0);
    eventually([&] {
      text = err.text();
      return contains(text, "Thread dump: ") && contains(text, "\"signal-holder\" ident=") &&
             contains(text, "\"concur-dump\" ident=") && contains(text, "\"MainThread\" ident=");
    });
  }
  EXPECT_TRUE(contains(text, "Thread dump: ")) << text;
  EXPECT_TRUE(contains(text, "\"signal-holder\" ident=")) << text;
  EXPECT_TRUE(contains(text, "\"concur-dump\" ident=")) << text;  // the daemon making dumps
  EXPECT_TRUE(contains(block_of(text, "signal-holder"), "waiting for event")) << text;
  // Installing again (the same signal, or another) is fine, and so is a second signal.
  dl::install_dump_on_signal(SIGQUIT);
  dl::install_dump_on_signal(SIGUSR2);
  {
    StderrToFile err;
    ASSERT_TRUE(err.ok());
    ASSERT_EQ(std::raise(SIGUSR2), 0);
    EXPECT_TRUE(eventually([&] {
      text = err.text();
      return contains(text, "Thread dump: ") && contains(text, "\"signal-holder\" ident=");
    })) << text;
  }
  finish.set();
  ASSERT_TRUE(holder->join(long_wait()));
}

TEST_F(Dump, ASignalThatCannotBeCaughtIsValueError) {
  EXPECT_THROW(dl::install_dump_on_signal(SIGKILL), concur::ValueError);
  EXPECT_THROW(dl::install_dump_on_signal(SIGSTOP), concur::ValueError);
  EXPECT_THROW(dl::install_dump_on_signal(0), concur::ValueError);
  EXPECT_THROW(dl::install_dump_on_signal(-1), concur::ValueError);
  EXPECT_THROW(dl::install_dump_on_signal(NSIG), concur::ValueError);
}
