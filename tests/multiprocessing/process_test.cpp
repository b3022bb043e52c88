// mp::Process under every start method, the module's process functions and the exit rules
// (concur/multiprocessing/process.hpp, context.hpp; API.md §6.1), after CPython's
// Lib/test/_test_multiprocessing.py: test_process, test_terminate, test_kill, test_exitcode,
// test_daemon / test_lose_target_ref, test_active_children, test_parent_process,
// test_current, test_close, test_many_processes, test_set_get / test_context.
//
// Every blocking call is bounded: joins take long_wait() (then the child is killed), receives
// are preceded by a bounded poll, and a Reaper kills a child still running when a test fails.
// Tests that change process-wide settings (the start method) or watch a process end run in a
// bounded forked child (bounded_child.hpp). The binary's main calls mp::main_guard, so that
// spawn and forkserver children run their targets (tests/support/watchdog_main.cpp).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <concur/multiprocessing.hpp>
#include <concur/threading.hpp>

#include "bounded_child.hpp"
#include "test_support.hpp"

extern char** environ;

namespace {

namespace mp = concur::multiprocessing;
using namespace std::chrono_literals;
using concur_test::long_wait;

// Set in the parent before start(): a forked child sees it, a new program (spawn, forkserver)
// does not. It tells which start method really ran.
int g_marker = 0;

// Kills a child still running when the test ends (a failed assertion returned early).
class Reaper {
 public:
  explicit Reaper(mp::Process& p) : p_(p) {}
  ~Reaper() {
    try {
      if (p_.pid() && p_.is_alive()) {
        p_.kill();
        p_.join(long_wait());
      }
    } catch (...) {
    }
  }

 private:
  mp::Process& p_;
};

// join with a generous bound; a child still running then is killed and the test fails.
::testing::AssertionResult joined(mp::Process& p) {
  if (p.join(long_wait())) return ::testing::AssertionSuccess();
  p.kill();
  p.join(long_wait());
  return ::testing::AssertionFailure() << p.name() << " still running after " << long_wait().count()
                                       << " ms";
}

template <class T>
T receive(mp::Connection& c) {
  if (!c.poll(long_wait())) throw std::runtime_error("nothing received within the bound");
  return c.recv<T>();
}

// What a child says about itself.
struct Report {
  std::string name;
  int pid = 0;
  bool has_parent = false;
  std::string parent_name;
  int parent_pid = 0;
  bool parent_alive = false;
  bool daemon = false;
  int marker = 0;
  std::string start_method;
  std::size_t children = 0;
  bool self_alive = false;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, pid, has_parent, parent_name, parent_pid, parent_alive, daemon, marker, start_method,
       children, self_alive);
  }
};

Report make_report() {
  Report r;
  const mp::ProcessRef me = mp::current_process();
  r.name = me.name();
  r.pid = me.pid().value_or(-1);
  r.self_alive = me.is_alive();
  r.daemon = me.daemon();
  if (auto parent = mp::parent_process()) {
    r.has_parent = true;
    r.parent_name = parent->name();
    r.parent_pid = parent->pid().value_or(-1);
    r.parent_alive = parent->is_alive();
  }
  r.marker = g_marker;
  r.start_method = mp::get_start_method();
  r.children = mp::active_children().size();
  return r;
}

void report_self(mp::Connection c) { c.send(make_report()); }

void sum_arguments(mp::Connection c, int a, std::string s, std::vector<int> v,
                   std::map<std::string, double> m) {
  int total = a;
  for (int x : v) total += x;
  double weights = 0;
  for (auto& [k, w] : m) weights += w;
  c.send(std::tuple<int, std::string, double, int>(total, s + "!", weights, g_marker));
}

void throw_runtime_error() { throw std::runtime_error("boom in the child"); }
void exit_seven() { std::exit(7); }
// Blocks until killed (or until its peer closes: then it ends with 0).
void wait_forever(mp::Connection c) {
  try {
    (void)c.recv<int>();
  } catch (...) {
  }
}
// Says it is ready, then waits for one message and answers with its parent's pid and whether
// that parent is alive.
using ParentSeen = std::pair<int, bool>;
void ready_then_wait(mp::Connection c) {
  c.send(std::string("ready"));
  try {
    (void)c.recv<int>();
    auto parent = mp::parent_process();
    c.send(parent ? ParentSeen(parent->pid().value_or(-1), parent->is_alive()) : ParentSeen(-1, false));
  } catch (...) {
  }
}
void nothing() {}

// Starts a grandchild with the same method; reports (its name, the grandchild's report).
void start_grandchild(mp::Connection c) {
  auto [r, w] = mp::Pipe();
  mp::Process grandchild(report_self, w);
  grandchild.start();
  Report g = receive<Report>(r);
  const bool ok = grandchild.join(long_wait());
  c.send(std::tuple<std::string, Report, bool, int>(mp::current_process().name(), g, ok,
                                                     grandchild.exitcode().value_or(-100)));
}

// CPython's test_parent_process: a grandchild sees its parent alive, then (joining it) gone.
void report_parent_status(mp::Connection c) {
  const auto say = [&] {
    auto parent = mp::parent_process();
    c.send(std::string(parent && parent->is_alive() ? "alive" : "not alive"));
  };
  say();
  if (auto parent = mp::parent_process()) parent->join(long_wait());
  say();
}
void create_grandchild_then_wait(mp::Connection c, mp::Connection hold) {
  mp::Process grandchild(report_parent_status, c);
  grandchild.start();
  wait_forever(hold);  // until terminated
}

class StartMethodTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override { g_marker = 42; }
  void TearDown() override { g_marker = 0; }
  mp::Context ctx() const { return mp::get_context(GetParam()); }
  bool is_fork() const { return std::string(GetParam()) == "fork"; }
  int expected_marker() const { return is_fork() ? 42 : 0; }
};

// --- targets, arguments, a Connection back ----------------------------------------------------

TEST_P(StartMethodTest, PlainFunctionWithArgumentsSendsBackThroughAConnection) {
  auto [r, w] = mp::Pipe();
  mp::Process p = ctx().Process(sum_arguments, w, 5, std::string("hello"), std::vector<int>{1, 2, 3},
                                std::map<std::string, double>{{"a", 0.5}, {"b", 1.5}});
  Reaper reaper(p);
  EXPECT_FALSE(p.pid());
  EXPECT_FALSE(p.exitcode());
  p.start();
  EXPECT_TRUE(p.pid());
  auto [total, text, weights, marker] = receive<std::tuple<int, std::string, double, int>>(r);
  EXPECT_EQ(total, 11);
  EXPECT_EQ(text, "hello!");
  EXPECT_DOUBLE_EQ(weights, 2.0);
  EXPECT_EQ(marker, expected_marker());
  ASSERT_TRUE(joined(p));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_FALSE(p.is_alive());
}

TEST_P(StartMethodTest, CapturelessLambdaWithArguments) {
  auto [r, w] = mp::Pipe();
  mp::Process p = ctx().Process(
      [](mp::Connection c, double x, std::vector<std::string> words, std::optional<int> o) {
        std::string all;
        for (auto& s : words) all += s;
        c.send(std::tuple<double, std::string, int>(x * 2, all, o.value_or(-1)));
      },
      w, 1.25, std::vector<std::string>{"a", "b", "c"}, std::optional<int>(9));
  Reaper reaper(p);
  p.start();
  auto [x, all, o] = receive<std::tuple<double, std::string, int>>(r);
  EXPECT_DOUBLE_EQ(x, 2.5);
  EXPECT_EQ(all, "abc");
  EXPECT_EQ(o, 9);
  ASSERT_TRUE(joined(p));
  EXPECT_EQ(p.exitcode(), 0);
}

TEST_P(StartMethodTest, APipeEndCrossesAndTheParentSeesEofWhenTheChildEnds) {
  auto [r, w] = mp::Pipe(false);
  mp::Process p = ctx().Process([](mp::Connection out) { out.send(std::string("from child")); }, w);
  Reaper reaper(p);
  p.start();
  w.close();  // the parent's copy: EOF comes when the child's copy closes
  EXPECT_EQ(receive<std::string>(r), "from child");
  ASSERT_TRUE(r.poll(long_wait()));
  EXPECT_THROW(r.recv<std::string>(), concur::EOFError);
  ASSERT_TRUE(joined(p));
}

TEST_P(StartMethodTest, MessagesAnEndReadAheadCrossWithIt) {
  // Two messages arrive in one read; the first is received here, the second waits in this end's
  // read-ahead when the end is given to the child, which receives it and then a third.
  auto [here, there] = mp::Pipe();
  there.send(1);
  there.send(2);
  EXPECT_EQ(receive<int>(here), 1);
  auto [r, w] = mp::Pipe();
  mp::Process p = ctx().Process(
      [](mp::Connection in, mp::Connection out) {
        const int second = in.recv<int>();
        const int third = in.recv<int>();
        out.send(std::pair<int, int>(second, third));
      },
      here, w);
  Reaper reaper(p);
  p.start();
  there.send(3);
  EXPECT_EQ((receive<std::pair<int, int>>(r)), (std::pair<int, int>(2, 3)));
  ASSERT_TRUE(joined(p));
  EXPECT_EQ(p.exitcode(), 0);
}

TEST_P(StartMethodTest, OnlyForkedChildrenInheritOtherDescriptors) {
  // A descriptor without close-on-exec (a pipe to some other program, say): a forked child
  // inherits it, as in Python; a spawn or forkserver child does not, as in Python, so it cannot
  // keep the pipe open behind the parent's back (whoever reads it would never see its end).
  // (Moved high, where no descriptor the child receives would land by chance.)
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const int high = ::fcntl(fds[1], F_DUPFD, 400);
  ASSERT_GE(high, 400);
  ::close(fds[1]);
  auto [r, w] = mp::Pipe();
  mp::Process p = ctx().Process(
      [](mp::Connection out, int fd) { out.send(::fcntl(fd, F_GETFD) != -1); }, w, high);
  Reaper reaper(p);
  p.start();
  EXPECT_EQ(receive<bool>(r), is_fork());
  ASSERT_TRUE(joined(p));
  ::close(fds[0]);
  ::close(high);
}

TEST_P(StartMethodTest, NoTarget) {
  mp::Process p = ctx().Process();
  p.start();
  ASSERT_TRUE(joined(p));
  EXPECT_EQ(p.exitcode(), 0);
}

// --- the child's view of itself ---------------------------------------------------------------

TEST_P(StartMethodTest, CurrentAndParentProcessInTheChild) {
  auto [r, w] = mp::Pipe();
  mp::Process p = ctx().Process(mp::ProcessOptions{.name = "worker-7"}, report_self, w);
  Reaper reaper(p);
  EXPECT_EQ(p.name(), "worker-7");
  p.start();
  const Report rep = receive<Report>(r);
  EXPECT_EQ(rep.name, "worker-7");
  EXPECT_EQ(rep.pid, *p.pid());
  EXPECT_TRUE(rep.self_alive);
  EXPECT_TRUE(rep.has_parent);
  EXPECT_EQ(rep.parent_name, "MainProcess");
  EXPECT_EQ(rep.parent_pid, ::getpid());
  EXPECT_TRUE(rep.parent_alive);
  EXPECT_FALSE(rep.daemon);
  EXPECT_EQ(rep.children, 0u);
  EXPECT_EQ(rep.marker, expected_marker());
  EXPECT_EQ(rep.start_method, GetParam());  // a context's method is the child's default
  ASSERT_TRUE(joined(p));
}

TEST_P(StartMethodTest, DaemonFlagReachesTheChild) {
  auto [r, w] = mp::Pipe();
  mp::Process p = ctx().Process(mp::ProcessOptions{.daemon = true}, report_self, w);
  Reaper reaper(p);
  EXPECT_TRUE(p.daemon());
  p.start();
  EXPECT_TRUE(receive<Report>(r).daemon);
  ASSERT_TRUE(joined(p));
}

TEST_P(StartMethodTest, AChildsChildIsNamedAfterIt) {
  auto [r, w] = mp::Pipe();
  mp::Process p = ctx().Process(start_grandchild, w);
  Reaper reaper(p);
  p.start();
  auto [child_name, grandchild, ok, code] = receive<std::tuple<std::string, Report, bool, int>>(r);
  EXPECT_EQ(child_name, p.name());
  EXPECT_EQ(grandchild.name, p.name() + ":1");
  EXPECT_EQ(grandchild.parent_name, p.name());
  EXPECT_EQ(grandchild.parent_pid, *p.pid());
  EXPECT_TRUE(ok);
  EXPECT_EQ(code, 0);
  ASSERT_TRUE(joined(p));
  EXPECT_EQ(p.exitcode(), 0);
}

TEST_P(StartMethodTest, AGrandchildSeesItsParentEnd) {
  auto [r, w] = mp::Pipe();
  auto [hold_r, hold_w] = mp::Pipe();
  mp::Process p = ctx().Process(create_grandchild_then_wait, w, hold_w);
  Reaper reaper(p);
  p.start();
  EXPECT_EQ(receive<std::string>(r), "alive");
  p.terminate();
  ASSERT_TRUE(joined(p));
  EXPECT_EQ(p.exitcode(), -SIGTERM);
  EXPECT_EQ(receive<std::string>(r), "not alive");
}

TEST(ProcessTest, TheParentCanBeJoinedNotSignalled) {
  EXPECT_EQ(concur_test::fork_and_wait([] {
              auto [r, w] = mp::Pipe();
              mp::Process p(
                  [](mp::Connection c) {
                    auto parent = mp::parent_process();
                    bool refused = false;
                    try {
                      parent->terminate();
                    } catch (const concur::RuntimeError&) {
                      refused = true;
                    }
                    c.send(refused && !parent->join(1ms) && parent->is_alive());
                  },
                  w);
              p.start();
              CHILD_CHECK(receive<bool>(r));
              CHILD_CHECK(p.join(long_wait()));
              return 0;
            }),
            0);
}

// --- exit codes -------------------------------------------------------------------------------

TEST_P(StartMethodTest, ExitcodeOneAndTheExceptionOnStderrWhenTheTargetThrows) {
  mp::Process p = ctx().Process(throw_runtime_error);
  Reaper reaper(p);
  ::testing::internal::CaptureStderr();
  p.start();
  const bool ok = p.join(long_wait());
  const std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(ok);
  EXPECT_EQ(p.exitcode(), 1);
  EXPECT_NE(err.find("Process " + p.name() + ":\nstd::runtime_error: boom in the child\n"),
            std::string::npos)
      << err;
}

TEST_P(StartMethodTest, ExitCodeGivenToStdExit) {
  mp::Process p = ctx().Process(exit_seven);
  Reaper reaper(p);
  p.start();
  ASSERT_TRUE(joined(p));
  EXPECT_EQ(p.exitcode(), 7);
}

TEST_P(StartMethodTest, KillGivesMinusNine) {
  auto [r, w] = mp::Pipe();
  mp::Process p = ctx().Process(ready_then_wait, w);
  Reaper reaper(p);
  p.start();
  EXPECT_EQ(receive<std::string>(r), "ready");
  EXPECT_TRUE(p.is_alive());
  EXPECT_FALSE(p.exitcode());
  EXPECT_FALSE(p.join(0s));
  EXPECT_FALSE(p.join(20ms));
  p.kill();
  ASSERT_TRUE(joined(p));
  EXPECT_EQ(p.exitcode(), -SIGKILL);
  p.kill();  // once ended: nothing
  p.terminate();
  EXPECT_EQ(p.exitcode(), -SIGKILL);
}

TEST_P(StartMethodTest, TerminateGivesMinusFifteen) {
  auto [r, w] = mp::Pipe();
  mp::Process p = ctx().Process(ready_then_wait, w);
  Reaper reaper(p);
  p.start();
  EXPECT_EQ(receive<std::string>(r), "ready");
  p.terminate();
  ASSERT_TRUE(joined(p));
  EXPECT_EQ(p.exitcode(), -SIGTERM);
}

TEST_P(StartMethodTest, ManyThreadsJoinTheSameProcess) {
  auto [r, w] = mp::Pipe();
  mp::Process p = ctx().Process(ready_then_wait, w);
  Reaper reaper(p);
  p.start();
  EXPECT_EQ(receive<std::string>(r), "ready");
  std::atomic<int> ended{0};
  std::vector<std::thread> joiners;
  for (int i = 0; i < 4; ++i)
    joiners.emplace_back([&] {
      if (p.join(long_wait())) ended.fetch_add(1);
    });
  r.send(1);
  EXPECT_EQ(receive<ParentSeen>(r), ParentSeen(::getpid(), true));
  for (auto& t : joiners) t.join();
  EXPECT_EQ(ended.load(), 4);
  EXPECT_EQ(p.exitcode(), 0);
}

TEST_P(StartMethodTest, ProcessesStartedFromSeveralThreadsAtOnce) {
  constexpr int kThreads = 3, kEach = 3;
  std::vector<std::vector<int>> got(kThreads);
  concur_test::run_together(kThreads, [&](int t) {
    for (int i = 0; i < kEach; ++i) {
      auto [r, w] = mp::Pipe();
      mp::Process p = ctx().Process([](mp::Connection c, int n) { c.send(n * n); }, w, t * 10 + i);
      Reaper reaper(p);
      p.start();
      got[t].push_back(receive<int>(r));
      EXPECT_TRUE(joined(p));
      EXPECT_EQ(p.exitcode(), 0);
    }
  });
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kEach; ++i) EXPECT_EQ(got[t].at(i), (t * 10 + i) * (t * 10 + i));
}

TEST_P(StartMethodTest, ActiveChildren) {
  auto [r, w] = mp::Pipe();
  mp::Process p = ctx().Process(ready_then_wait, w);
  Reaper reaper(p);
  const auto listed = [&] {
    for (auto& c : mp::active_children())
      if (c == p.ref()) return true;
    return false;
  };
  EXPECT_FALSE(listed());
  p.start();
  EXPECT_TRUE(listed());
  EXPECT_EQ(receive<std::string>(r), "ready");
  r.send(1);
  (void)receive<ParentSeen>(r);
  ASSERT_TRUE(joined(p));
  EXPECT_FALSE(listed());
}

TEST_P(StartMethodTest, ADestroyedProcessKeepsRunningAndIsStillListed) {
  auto [r, w] = mp::Pipe();
  std::optional<int> pid;
  {
    mp::Process p = ctx().Process(ready_then_wait, w);
    p.start();
    pid = p.pid();
    EXPECT_EQ(receive<std::string>(r), "ready");
  }  // neither blocks nor kills
  std::optional<mp::ProcessRef> child;
  for (auto& c : mp::active_children())
    if (c.pid() == pid) child = c;
  ASSERT_TRUE(child);
  EXPECT_TRUE(child->is_alive());
  r.send(1);
  EXPECT_EQ(receive<ParentSeen>(r), ParentSeen(::getpid(), true));
  ASSERT_TRUE(child->join(long_wait()));
  EXPECT_EQ(child->exitcode(), 0);
  EXPECT_FALSE(child->is_alive());
}

void print_without_newline() {
  std::printf("child-printf;");
  std::cout << "child-cout;";
}

TEST_P(StartMethodTest, TheChildFlushesItsStreamsAndTheParentsOutputIsNotRepeated) {
  ::testing::internal::CaptureStdout();
  std::printf("parent-before;");  // buffered: stdout is a file while captured
  mp::Process p = ctx().Process(print_without_newline);
  Reaper reaper(p);
  p.start();
  const bool ok = p.join(long_wait());
  const std::string out = ::testing::internal::GetCapturedStdout();
  ASSERT_TRUE(ok);
  EXPECT_EQ(p.exitcode(), 0);
  const auto count = [&](const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = out.find(what); at != std::string::npos; at = out.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("parent-before;"), 1u) << out;
  EXPECT_EQ(count("child-printf;"), 1u) << out;
  EXPECT_EQ(count("child-cout;"), 1u) << out;
}

INSTANTIATE_TEST_SUITE_P(AllStartMethods, StartMethodTest,
                         ::testing::Values("fork", "spawn", "forkserver"),
                         [](const auto& info) { return std::string(info.param); });

// --- what cannot cross ------------------------------------------------------------------------

struct Named {  // no serialize(): cannot cross to a new program
  std::string text;
};

class CrossingTest : public ::testing::TestWithParam<const char*> {};

template <class F>
std::string value_error_of(F&& start) {
  try {
    start();
  } catch (const concur::ValueError& e) {
    return e.what();
  }
  return "<no ValueError>";
}

TEST_P(CrossingTest, CapturingLambdaIsRefusedBeforeAnyProcessStarts) {
  int x = 3;  // not const: a real capture
  mp::Process p = mp::get_context(GetParam()).Process([x](int y) { std::exit(x + y); }, 1);
  const std::string what = value_error_of([&] { p.start(); });
  EXPECT_NE(what.find("capture-less lambda"), std::string::npos) << what;
  EXPECT_NE(what.find(GetParam()), std::string::npos) << what;
  EXPECT_FALSE(p.pid());
  EXPECT_TRUE(mp::active_children().empty());
}

TEST_P(CrossingTest, StdFunctionIsRefused) {
  mp::Process p = mp::get_context(GetParam()).Process(std::function<void()>(nothing));
  const std::string what = value_error_of([&] { p.start(); });
  EXPECT_NE(what.find("std::function"), std::string::npos) << what;
  EXPECT_FALSE(p.pid());
}

TEST_P(CrossingTest, NonSerializableArgumentIsRefusedNamingItsType) {
  mp::Process p = mp::get_context(GetParam()).Process([](int, Named) {}, 1, Named{"x"});
  const std::string what = value_error_of([&] { p.start(); });
  EXPECT_NE(what.find("argument 2"), std::string::npos) << what;
  EXPECT_NE(what.find("Named"), std::string::npos) << what;
  EXPECT_NE(what.find("not serializable"), std::string::npos) << what;
  EXPECT_FALSE(p.pid());
}

struct Subclass : mp::Process {
  void run() override {}
};

TEST_P(CrossingTest, SubclassIsRefused) {
  const std::string method = GetParam();
  EXPECT_EQ(concur_test::fork_and_wait([&] {
              mp::set_start_method(method);
              Subclass p;
              const std::string what = value_error_of([&] { p.start(); });
              CHILD_CHECK(what.find("Subclass") != std::string::npos);
              CHILD_CHECK(what.find("'fork' start method only") != std::string::npos);
              CHILD_CHECK(!p.pid());
              return 0;
            }),
            0);
}

INSTANTIATE_TEST_SUITE_P(NewPrograms, CrossingTest, ::testing::Values("spawn", "forkserver"),
                         [](const auto& info) { return std::string(info.param); });

TEST(ForkTest, AcceptsAnyCallableAndAnyCopyableArgument) {
  auto [r, w] = mp::Pipe();
  int x = 40;
  auto shared = std::make_shared<int>(2);
  mp::Process p(
      [x, shared](mp::Connection c, Named n) { c.send(x + *shared + static_cast<int>(n.text.size())); },
      w, Named{"abc"});
  Reaper reaper(p);
  p.start();
  EXPECT_EQ(receive<int>(r), 45);
  ASSERT_TRUE(joined(p));
}

struct Squarer : mp::Process {
  Squarer(mp::Connection c, int n) : c_(std::move(c)), n_(n) {}
  void run() override { c_.send(n_ * n_); }
  mp::Connection c_;
  int n_;
};

TEST(ForkTest, SubclassOverridesRun) {
  auto [r, w] = mp::Pipe();
  Squarer p(w, 12);
  Reaper reaper(p);
  EXPECT_EQ(p.name().rfind("Process-", 0), 0u);
  p.start();
  EXPECT_EQ(receive<int>(r), 144);
  ASSERT_TRUE(joined(p));
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(ForkTest, TheParentDropsTheTargetAndArgumentsAfterStart) {
  auto token = std::make_shared<int>(1);
  std::weak_ptr<int> watch = token;
  mp::Process p = mp::get_context("fork").Process([token] {});
  token.reset();
  EXPECT_FALSE(watch.expired());  // held by the Process's copy of the target
  p.start();
  EXPECT_TRUE(watch.expired());  // dropped once started (CPython's bpo-30775)
  ASSERT_TRUE(joined(p));
}

// --- the Process protocol ---------------------------------------------------------------------

TEST(ProcessTest, MainProcess) {
  const mp::ProcessRef me = mp::current_process();
  EXPECT_EQ(me.name(), "MainProcess");
  EXPECT_EQ(me.pid(), ::getpid());
  EXPECT_TRUE(me.is_alive());
  EXPECT_FALSE(mp::parent_process());
  EXPECT_EQ(mp::getpid(), ::getpid());
  EXPECT_EQ(mp::getppid(), ::getppid());
  EXPECT_GE(mp::cpu_count(), 1);
  EXPECT_THROW(mp::current_process().join(0s), concur::RuntimeError);
}

TEST(ProcessTest, AJoiningThreadShowsAsBlockedInJoin) {
  namespace th = concur::threading;
  auto [r, w] = mp::Pipe();
  mp::Process p(mp::ProcessOptions{.name = "joined-one"}, ready_then_wait, w);
  Reaper reaper(p);
  p.start();
  EXPECT_EQ(receive<std::string>(r), "ready");
  th::Thread joiner([&p] { p.join(long_wait()); });
  joiner.start();
  EXPECT_TRUE(concur_test::eventually([&] {
    const th::ThreadStatus s = joiner.ref().state();
    return s == th::ThreadState::BLOCKED && s.wait_kind == "join";
  }));
  EXPECT_NE(joiner.ref().state().waiting_for.find("joined-one"), std::string::npos)
      << joiner.ref().state().waiting_for;
  r.send(1);
  (void)receive<ParentSeen>(r);
  joiner.join();
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(ProcessTest, ActiveChildrenCanBeTerminatedAndJoined) {
  auto [r, w] = mp::Pipe();
  mp::Process p(ready_then_wait, w);
  Reaper reaper(p);
  p.start();
  EXPECT_EQ(receive<std::string>(r), "ready");
  for (auto& c : mp::active_children()) {
    c.terminate();
    EXPECT_TRUE(c.join(long_wait()));
    EXPECT_EQ(c.exitcode(), -SIGTERM);
  }
  EXPECT_TRUE(mp::active_children().empty());
  EXPECT_EQ(p.exitcode(), -SIGTERM);
}

TEST(ProcessTest, DefaultNamesCountUp) {
  mp::Process a(nothing), b(nothing);
  const auto number = [](const std::string& name) {
    EXPECT_EQ(name.rfind("Process-", 0), 0u) << name;
    return std::stol(name.substr(8));
  };
  EXPECT_EQ(number(b.name()), number(a.name()) + 1);
  a.set_name("renamed");
  EXPECT_EQ(a.name(), "renamed");
}

TEST(ProcessTest, MisuseThrows) {
  mp::Process p(nothing);
  EXPECT_THROW(p.join(), concur::RuntimeError);  // never started
  EXPECT_THROW(p.join(1ms), concur::RuntimeError);
  EXPECT_THROW(p.terminate(), concur::RuntimeError);
  EXPECT_THROW(p.kill(), concur::RuntimeError);
  EXPECT_FALSE(p.is_alive());
  p.set_daemon(true);
  p.set_daemon(false);
  p.start();
  EXPECT_THROW(p.start(), concur::RuntimeError);
  EXPECT_THROW(p.set_daemon(true), concur::RuntimeError);
  ASSERT_TRUE(joined(p));
  EXPECT_THROW(p.start(), concur::RuntimeError);
}

TEST(ProcessTest, Close) {
  auto [r, w] = mp::Pipe();
  mp::Process p(ready_then_wait, w);
  Reaper reaper(p);
  p.close();  // before start: fine, as Python
  EXPECT_THROW(p.start(), concur::ValueError);

  mp::Process q(ready_then_wait, w);
  Reaper reaper_q(q);
  q.start();
  EXPECT_EQ(receive<std::string>(r), "ready");
  EXPECT_THROW(q.close(), concur::ValueError);  // still running
  r.send(1);
  (void)receive<ParentSeen>(r);
  ASSERT_TRUE(joined(q));
  q.close();
  q.close();  // idempotent
  EXPECT_THROW((void)q.pid(), concur::ValueError);
  EXPECT_THROW((void)q.exitcode(), concur::ValueError);
  EXPECT_THROW((void)q.is_alive(), concur::ValueError);
  EXPECT_THROW(q.join(), concur::ValueError);
  EXPECT_THROW(q.terminate(), concur::ValueError);
  EXPECT_THROW(q.kill(), concur::ValueError);
  EXPECT_EQ(q.name().rfind("Process-", 0), 0u);  // still readable
  EXPECT_FALSE(q.daemon());
}

TEST(ProcessTest, ManyProcesses) {
  constexpr int kCount = 12;
  std::vector<std::unique_ptr<mp::Process>> ps;
  std::vector<mp::Connection> readers;
  for (int i = 0; i < kCount; ++i) {
    auto [r, w] = mp::Pipe();
    ps.push_back(std::make_unique<mp::Process>([](mp::Connection c, int n) { c.send(n * 3); }, w, i));
    readers.push_back(r);
  }
  for (auto& p : ps) p->start();
  for (int i = 0; i < kCount; ++i) EXPECT_EQ(receive<int>(readers[i]), i * 3);
  for (auto& p : ps) {
    EXPECT_TRUE(joined(*p));
    EXPECT_EQ(p->exitcode(), 0);
  }
}

// --- start methods ----------------------------------------------------------------------------

TEST(StartMethodRules, SetGetAndContexts) {
  // In a bounded child: the start method is process-wide.
  EXPECT_EQ(concur_test::fork_and_wait([] {
              CHILD_CHECK(mp::get_start_method() == "fork");
              bool threw = false;
              try {
                mp::set_start_method("threads");
              } catch (const concur::ValueError&) {
                threw = true;
              }
              CHILD_CHECK(threw);
              threw = false;
              try {
                (void)mp::get_context("bogus");
              } catch (const concur::ValueError&) {
                threw = true;
              }
              CHILD_CHECK(threw);
              mp::set_start_method("spawn");
              CHILD_CHECK(mp::get_start_method() == "spawn");
              threw = false;
              try {
                mp::set_start_method("forkserver");
              } catch (const concur::RuntimeError&) {
                threw = true;
              }
              CHILD_CHECK(threw);
              CHILD_CHECK(mp::get_start_method() == "spawn");
              mp::set_start_method("forkserver", /*force=*/true);
              CHILD_CHECK(mp::get_start_method() == "forkserver");
              mp::Context def = mp::get_context();
              CHILD_CHECK(def.get_start_method() == "forkserver");
              mp::set_start_method("fork", true);
              CHILD_CHECK(def.get_start_method() == "fork");  // the default context follows
              mp::Context spawn = mp::get_context("spawn");
              CHILD_CHECK(spawn.get_start_method() == "spawn");
              CHILD_CHECK(mp::get_all_start_methods().size() == 3u);
              return 0;
            }),
            0);
}

TEST(StartMethodRules, TheDefaultContextUsesTheMethodSet) {
  EXPECT_EQ(concur_test::fork_and_wait([] {
              g_marker = 42;
              mp::set_start_method("spawn");
              auto [r, w] = mp::Pipe();
              mp::Process p(report_self, w);  // no context: the default
              p.start();
              const Report rep = receive<Report>(r);
              CHILD_CHECK(rep.marker == 0);  // a new program
              CHILD_CHECK(rep.start_method == "spawn");  // inherited setting
              CHILD_CHECK(p.join(long_wait()));
              CHILD_CHECK(p.exitcode() == 0);
              return 0;
            }),
            0);
}

// --- exit rules -------------------------------------------------------------------------------

// A daemon that reports a SIGTERM through a raw descriptor before it ends. It takes the signal
// from a signalfd rather than a handler: ThreadSanitizer defers handlers, and in the child of a
// fork of a multithreaded process it never runs them.
void daemon_reporting_sigterm(mp::Connection ready, mp::Connection report) {
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &term, nullptr);
  const int sfd = ::signalfd(-1, &term, SFD_CLOEXEC);
  ready.send(std::string("ready"));
  signalfd_siginfo info;
  while (::read(sfd, &info, sizeof info) != static_cast<ssize_t>(sizeof info)) {
  }
  const char t = 'T';
  (void)!::write(report.fileno(), &t, 1);
  ::_exit(0);
}

class ExitRulesTest : public StartMethodTest {};

TEST_P(ExitRulesTest, DaemonChildrenAreTerminatedWhenTheParentExits) {
  auto report = mp::Pipe(false);  // (clang 14 cannot capture structured bindings)
  mp::Connection& report_r = report.first;
  mp::Connection& report_w = report.second;
  const std::string method = GetParam();
  const pid_t child = concur_test::start_child([&] {
    auto [r, w] = mp::Pipe();
    mp::Process d = mp::get_context(method).Process(mp::ProcessOptions{.daemon = true},
                                                   daemon_reporting_sigterm, w, report_w);
    d.start();
    CHILD_CHECK(receive<std::string>(r) == "ready");
    return 0;  // exit(): SIGTERM to the daemon, then join it
  });
  ASSERT_GT(child, 0);
  report_w.close();
  EXPECT_EQ(concur_test::wait_for_child(child, long_wait()), 0);
  ASSERT_TRUE(report_r.poll(long_wait()));
  std::vector<std::byte> got(1);
  // The raw byte is not a frame: read it as bytes from the descriptor.
  ASSERT_EQ(::read(report_r.fileno(), got.data(), 1), 1);
  EXPECT_EQ(static_cast<char>(got[0]), 'T');
}

TEST_P(ExitRulesTest, NonDaemonChildrenAreJoinedAtExit) {
  auto pipe = mp::Pipe();
  mp::Connection& r = pipe.first;
  mp::Connection& w = pipe.second;
  const std::string method = GetParam();
  const pid_t child = concur_test::start_child([&] {
    mp::Process p = mp::get_context(method).Process(ready_then_wait, w);
    p.start();
    return 0;  // exit(): joins p, which waits for the test's message
  });
  ASSERT_GT(child, 0);
  EXPECT_EQ(receive<std::string>(r), "ready");
  // The child has nothing left to do but exit; it must still be waiting for its child.
  concur_test::give_time_to_misbehave();
  r.send(1);
  EXPECT_EQ(receive<ParentSeen>(r), ParentSeen(child, true));  // its parent waited for it
  EXPECT_EQ(concur_test::wait_for_child(child, long_wait()), 0);
}

TEST_P(ExitRulesTest, DaemonChildrenDieWithAnAbruptParentDeath) {
  auto pipe = mp::Pipe();
  mp::Connection& r = pipe.first;
  mp::Connection& w = pipe.second;
  const std::string method = GetParam();
  const pid_t child = concur_test::start_child([&] {
    mp::Process d =
        mp::get_context(method).Process(mp::ProcessOptions{.daemon = true}, wait_forever, w);
    d.start();
    ::_exit(0);  // no exit handling: only PR_SET_PDEATHSIG can end the daemon
    return 0;
  });
  ASSERT_GT(child, 0);
  w.close();  // the daemon holds the only other copy
  EXPECT_EQ(concur_test::wait_for_child(child, long_wait()), 0);
  ASSERT_TRUE(r.poll(long_wait())) << "the daemon outlived its parent";
  EXPECT_THROW(r.recv<int>(), concur::EOFError);
}

INSTANTIATE_TEST_SUITE_P(AllStartMethods, ExitRulesTest,
                         ::testing::Values("fork", "spawn", "forkserver"),
                         [](const auto& info) { return std::string(info.param); });

// --- mp::fork ---------------------------------------------------------------------------------

TEST(ForkFunction, ChildGetsZeroAndNoChildren) {
  auto [r, w] = mp::Pipe();
  mp::Process p(ready_then_wait, w);
  Reaper reaper(p);
  p.start();
  EXPECT_EQ(receive<std::string>(r), "ready");
  std::fflush(stdout);
  const pid_t pid = mp::fork();
  if (pid == 0) {
    const bool ok = mp::active_children().empty() && mp::current_process().name() == "MainProcess";
    bool refused = false;
    try {
      (void)p.is_alive();  // the parent's child
    } catch (const concur::RuntimeError&) {
      refused = true;
    }
    ::_exit(ok && refused ? 0 : 3);
  }
  ASSERT_GT(pid, 0);
  EXPECT_EQ(concur_test::wait_for_child(pid, long_wait()), 0);
  EXPECT_EQ(mp::active_children().size(), 1u);
  r.send(1);
  (void)receive<ParentSeen>(r);
  ASSERT_TRUE(joined(p));
}

// --- a bootstrap that cannot be read ----------------------------------------------------------

// Runs this test binary as a spawn child would be run, with `bytes` as its bootstrap (then the
// end of the stream); returns (exit status, stderr).
std::pair<int, std::string> run_with_bootstrap(const std::string& bytes) {
  int sv[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  int err[2];
  EXPECT_EQ(::pipe2(err, O_CLOEXEC), 0);
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_adddup2(&actions, sv[1], sv[1]);
  ::posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  env_strings.push_back("CONCUR_MP_BOOTSTRAP=" + std::to_string(sv[1]));
  std::vector<char*> env;
  for (auto& s : env_strings) env.push_back(s.data());
  env.push_back(nullptr);
  char arg0[] = "process_test";
  char* argv[] = {arg0, nullptr};
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv, env.data());
  ::posix_spawn_file_actions_destroy(&actions);
  ::close(sv[1]);
  ::close(err[1]);
  EXPECT_EQ(rc, 0);
  if (!bytes.empty()) (void)!::send(sv[0], bytes.data(), bytes.size(), MSG_NOSIGNAL);
  ::close(sv[0]);
  const int status = concur_test::wait_for_child(pid, long_wait());
  std::string text;
  char buf[512];
  ssize_t n;
  while ((n = ::read(err[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
  ::close(err[0]);
  return {status, text};
}

TEST(BadBootstrap, GarbageEndsTheChildWithAMessage) {
  auto [status, text] = run_with_bootstrap(std::string(64, 'x'));
  EXPECT_EQ(status, 1);
  EXPECT_NE(text.find("could not read what its parent sent"), std::string::npos) << text;
}

TEST(BadBootstrap, AStreamCutShortEndsTheChild) {
  auto [status, text] = run_with_bootstrap(std::string("concurmp\x01", 9));
  EXPECT_EQ(status, 1);
  EXPECT_NE(text.find("could not read"), std::string::npos) << text;
}

TEST(BadBootstrap, NothingAtAllEndsTheChild) {
  auto [status, text] = run_with_bootstrap("");
  EXPECT_EQ(status, 1);
  EXPECT_NE(text.find("could not read"), std::string::npos) << text;
}

}  // namespace
