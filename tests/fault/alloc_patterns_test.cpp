// Allocation failure at every allocation of the patterns' calls (actors, pubsub, sched, coop):
// a call that fails throws std::bad_alloc (or start's "can't start new thread") and leaves every
// object as it was and usable; nothing sent or entered is lost or doubled.
#include <concur/actors.hpp>
#include <concur/coop.hpp>
#include <concur/pubsub.hpp>
#include <concur/sched.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "alloc_failure.hpp"
#include "test_support.hpp"

namespace ac = concur::actors;
namespace co = concur::coop;
namespace ps = concur::pubsub;
namespace sc = concur::sched;
using concur_test::long_wait;
using concur_test::fault::expect_allocation_error;
using concur_test::fault::for_every_allocation;
using concur_test::fault::report_points;
using namespace std::chrono_literals;

namespace {

struct Collect : ac::Actor<std::string> {
  std::vector<std::string> got;
  void run() override {
    for (;;) got.push_back(recv());
  }
};

struct AsyncCollect : ac::AsyncActor<std::string> {
  std::vector<std::string> got;
  ac::Task run() override {
    for (;;) got.push_back(co_await recv());
  }
};

// Each round: a fresh actor made, started and sent a long message (its copy allocates) with the
// k-th allocation failing; then, without injection, whatever failed is redone: a failed start()
// started nothing and may be retried, a failed send() sent nothing, so each actor receives the
// message exactly once.
template <class A, class Start>
long actor_rounds(Start&& start) {
  std::unique_ptr<A> a;
  bool started = false, sent = false;
  const std::string msg(100, 'x');
  long rounds = 0;
  for_every_allocation(
      [&] {
        ++rounds;
        started = sent = false;
        a.reset();
        a = std::make_unique<A>();
        start(*a);
        started = true;
        a->send(msg);
        sent = true;
      },
      [&](long k, bool injected, const std::exception_ptr& error) {
        expect_allocation_error(k, injected, error);
        if (!a) return;  // the actor itself could not be made
        if (!started) start(*a);
        if (!sent) a->send(msg);
        a->close();
        EXPECT_TRUE(a->join(long_wait()));
        EXPECT_EQ(a->got, std::vector<std::string>{msg}) << "k=" << k;
      });
  return rounds;
}

TEST(AllocFailure, ActorStartAndSend) {
  const long rounds = actor_rounds<Collect>([](Collect& a) { a.start(); });
  report_points("Actor start + send", rounds);
  EXPECT_GE(rounds, 2);
}

TEST(AllocFailure, AsyncActorStartAndSend) {
  ac::Scheduler sched(2);
  const long rounds = actor_rounds<AsyncCollect>([&](AsyncCollect& a) { a.start(sched); });
  report_points("AsyncActor start + send", rounds);
  EXPECT_GE(rounds, 2);
  EXPECT_EQ(sched.actors_alive(), 0u);
}

struct Log : ps::Subscriber<std::string> {
  std::vector<std::string> got;
  void send(const std::string& m) override { got.push_back(m); }
};

TEST(AllocFailure, ExchangeAttachAndSubscribe) {
  // Each round: attach a, then subscribe(b, c), with the k-th allocation failing; a failed call
  // attached nothing it names, so a send then reaches exactly those attached.
  auto exc = std::make_unique<ps::Exchange<std::string>>();
  Log a, b, c;
  ps::Subscription sub;
  bool a_attached = false, bc_attached = false;
  long rounds = 0;
  for_every_allocation(
      [&] {
        ++rounds;
        sub.reset();
        exc = std::make_unique<ps::Exchange<std::string>>();
        a.got.clear(), b.got.clear(), c.got.clear();
        a_attached = bc_attached = false;
        exc->attach(a);
        a_attached = true;
        sub = exc->subscribe(b, c);
        bc_attached = true;
      },
      [&](long k, bool injected, const std::exception_ptr& error) {
        expect_allocation_error(k, injected, error);
        exc->send("m");
        const std::vector<std::string> one{"m"}, none{};
        EXPECT_EQ(a.got, a_attached ? one : none) << "k=" << k;
        EXPECT_EQ(b.got, bc_attached ? one : none) << "k=" << k;
        EXPECT_EQ(c.got, bc_attached ? one : none) << "k=" << k;
      });
  sub.reset();
  report_points("Exchange attach + subscribe", rounds);
  EXPECT_GE(rounds, 3);
}

TEST(AllocFailure, SchedEnterRun) {
  sc::scheduler s;
  int ran = 0;
  long entered = 0;
  const long points = for_every_allocation(
      [&] {
        (void)s.enter(0s, 1, [&ran](const std::string&) { ++ran; }, std::string(100, 'z'));
        ++entered;
      },
      expect_allocation_error);
  report_points("sched enter", points);
  EXPECT_GE(points, 2);
  (void)s.run(false);
  EXPECT_EQ(ran, entered);  // every enter that returned runs once; the failed ones not at all
  EXPECT_TRUE(s.empty());
}

co::Task steps(int n, int* count) {
  for (int i = 0; i < n; ++i) {
    ++*count;
    co_yield {};
  }
}

TEST(AllocFailure, CoopNewTaskAndRun) {
  co::TaskScheduler sched;
  int count = 0;
  long added = 0;
  const long points = for_every_allocation(
      [&] {
        sched.new_task(steps(3, &count));  // the frame or the scheduler's queue may fail
        ++added;
      },
      expect_allocation_error);
  report_points("coop new_task", points);
  EXPECT_GE(points, 2);
  sched.run();
  EXPECT_EQ(count, 3 * added);
}

}  // namespace
