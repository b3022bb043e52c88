// ps::Exchange, ps::Subscriber and ps::get_exchange (API.md §8.2; seed 001, 实现消息发布/订阅模型).
#include <concur/actors.hpp>
#include <concur/pubsub.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace ps = concur::pubsub;
namespace ac = concur::actors;
using concur_test::long_wait;

namespace {

// Appends "<name>:<msg>" to a shared log.
struct Logger : ps::Subscriber<std::string> {
  std::string name;
  std::vector<std::string>* log;
  Logger(std::string n, std::vector<std::string>* l) : name(std::move(n)), log(l) {}
  void send(const std::string& msg) override { log->push_back(name + ":" + msg); }
};

TEST(Exchange, TheSeedsSubscribeDeliversInAttachOrder) {
  std::vector<std::string> log;
  Logger task_a("task_a", &log), task_b("task_b", &log);
  ps::Exchange<std::string>& exc = ps::get_exchange<std::string>("seed-order");
  {
    auto sub = exc.subscribe(task_a, task_b);
    exc.send("msg1");
    exc.send("msg2");
  }
  exc.send("after");  // nobody is attached any more
  EXPECT_EQ(log, (std::vector<std::string>{"task_a:msg1", "task_b:msg1", "task_a:msg2",
                                           "task_b:msg2"}));
}

TEST(Exchange, AttachOrderNotAddressOrder) {
  std::vector<std::string> log;
  std::vector<std::unique_ptr<Logger>> subs;
  for (int i = 0; i < 8; ++i) subs.push_back(std::make_unique<Logger>(std::to_string(i), &log));
  ps::Exchange<std::string> exc;
  for (int i : {5, 1, 7, 0, 3}) exc.attach(*subs[i]);
  exc.send("m");
  EXPECT_EQ(log, (std::vector<std::string>{"5:m", "1:m", "7:m", "0:m", "3:m"}));
}

TEST(Exchange, GetExchangeIsOnePerNameAndType) {
  auto& a = ps::get_exchange<std::string>("one");
  auto& b = ps::get_exchange<std::string>("one");
  auto& c = ps::get_exchange<std::string>("two");
  auto& d = ps::get_exchange<int>("one");
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
  EXPECT_NE(static_cast<void*>(&a), static_cast<void*>(&d));
  std::vector<ps::Exchange<int>*> seen(8);
  concur_test::run_together(8, [&](int i) { seen[i] = &ps::get_exchange<int>("raced"); });
  for (auto* e : seen) EXPECT_EQ(e, seen[0]);
}

TEST(Exchange, AttachDetachRules) {
  std::vector<std::string> log;
  Logger a("a", &log);
  ps::Exchange<std::string> exc;
  EXPECT_THROW(exc.detach(a), concur::ValueError);  // never attached
  exc.attach(a);
  exc.attach(a);  // a set: once
  exc.send("x");
  EXPECT_EQ(log, (std::vector<std::string>{"a:x"}));
  exc.detach(a);
  EXPECT_THROW(exc.detach(a), concur::ValueError);
  exc.send("y");
  EXPECT_EQ(log.size(), 1u);
}

TEST(Exchange, SubscriptionResetAndMove) {
  std::vector<std::string> log;
  Logger a("a", &log), b("b", &log);
  ps::Exchange<std::string> exc;
  ps::Subscription outer;
  {
    ps::Subscription sub = exc.subscribe(a, b);
    outer = std::move(sub);
  }
  exc.send("1");  // still attached: the moved-to guard holds them
  outer.reset();
  exc.send("2");
  EXPECT_EQ(log, (std::vector<std::string>{"a:1", "b:1"}));
}

TEST(Exchange, ASubscriberThatThrowsDoesNotStopTheOthers) {
  struct Thrower : ps::Subscriber<int> {
    void send(const int&) override { throw std::runtime_error("subscriber failed"); }
  } bad1, bad2;
  struct Count : ps::Subscriber<int> {
    int n = 0;
    void send(const int&) override { ++n; }
  } before, after;
  ps::Exchange<int> exc;
  exc.attach(before);
  exc.attach(bad1);
  exc.attach(bad2);
  exc.attach(after);
  EXPECT_THROW(exc.send(1), std::runtime_error);
  EXPECT_EQ(before.n, 1);
  EXPECT_EQ(after.n, 1);
}

TEST(Exchange, ReentrantAttachDetachAndSendFromASubscriber) {
  ps::Exchange<int> exc;
  std::vector<std::string> log;
  struct Late : ps::Subscriber<int> {
    std::vector<std::string>* log;
    void send(const int& m) override { log->push_back("late:" + std::to_string(m)); }
  } late;
  late.log = &log;
  struct Host : ps::Subscriber<int> {
    ps::Exchange<int>* exc;
    ps::Subscriber<int>* late;
    std::vector<std::string>* log;
    void send(const int& m) override {
      log->push_back("host:" + std::to_string(m));
      if (m == 1) exc->attach(*late);  // takes part from the next send
      if (m == 2) {
        exc->detach(*this);  // leaves during its own delivery
        exc->send(3);        // and publishes again, re-entrantly
      }
    }
  } host;
  host.exc = &exc;
  host.late = &late;
  host.log = &log;
  exc.attach(host);
  exc.send(1);
  exc.send(2);
  EXPECT_EQ(log, (std::vector<std::string>{"host:1", "host:2", "late:3", "late:2"}));
}

TEST(Exchange, ADestroyedSubscriberDetachesItself) {
  std::vector<std::string> log;
  ps::Exchange<std::string> exc;
  Logger keep("keep", &log);
  ps::Subscription sub;
  {
    auto gone = std::make_unique<Logger>("gone", &log);
    exc.attach(keep);
    sub = exc.subscribe(*gone);
    exc.send("1");
  }
  exc.send("2");
  sub.reset();  // the subscriber it names is gone: nothing to do, no dangling use
  exc.send("3");
  EXPECT_EQ(log, (std::vector<std::string>{"keep:1", "gone:1", "keep:2", "keep:3"}));
}

TEST(Exchange, ASubscriberMayDestroyItselfInItsOwnSend) {
  struct Once : ps::Subscriber<int> {
    int* deliveries;
    void send(const int&) override {
      ++*deliveries;
      delete this;
    }
  };
  int deliveries = 0;
  ps::Exchange<int> exc;
  auto* once = new Once;
  once->deliveries = &deliveries;
  exc.attach(*once);
  exc.send(1);  // deleted during its delivery: no deadlock waiting for that delivery
  exc.send(2);
  EXPECT_EQ(deliveries, 1);
}

TEST(Exchange, SubscribersDyingWhileOthersSend) {
  // Senders publish without pause while subscribers are attached and destroyed: every delivery
  // reaches a live subscriber (ASan/TSan check it), and each subscriber's count is consistent.
  ps::Exchange<int> exc;
  struct Count : ps::Subscriber<int> {
    std::atomic<long> n{0};
    void send(const int&) override { n.fetch_add(1, std::memory_order_relaxed); }
    ~Count() override { detach_everywhere(); }
  };
  Count steady;
  exc.attach(steady);
  std::atomic<bool> stop{false};
  std::atomic<long> sent{0};
  std::thread sender([&] {
    while (!stop.load()) {
      exc.send(1);
      sent.fetch_add(1);
    }
  });
  for (int round = 0; round < 2000; ++round) {
    auto c = std::make_unique<Count>();
    exc.attach(*c);
    if (round % 2) exc.detach(*c);
  }
  stop = true;
  sender.join();
  EXPECT_EQ(steady.n.load(), sent.load());
}

TEST(Exchange, ConcurrentSendsConservation) {
  ps::Exchange<int> exc;
  struct Sum : ps::Subscriber<int> {
    std::atomic<long> total{0};
    void send(const int& m) override { total.fetch_add(m, std::memory_order_relaxed); }
  } s1, s2;
  auto sub = exc.subscribe(s1, s2);
  concur_test::run_together(4, [&](int) {
    for (int i = 1; i <= 10000; ++i) exc.send(i);
  });
  EXPECT_EQ(s1.total.load(), 4L * 10000 * 10001 / 2);
  EXPECT_EQ(s2.total.load(), s1.total.load());
}

TEST(Exchange, AnActorIsASubscriber) {
  struct Collect : ac::Actor<std::string> {
    std::vector<std::string> got;
    void run() override {
      for (;;) got.push_back(recv());
    }
  } actor;
  ps::Exchange<std::string>& exc = ps::get_exchange<std::string>("to-an-actor");
  actor.start();
  {
    auto sub = exc.subscribe(actor);
    exc.send("a");
    exc.send("b");
  }
  actor.close();
  ASSERT_TRUE(actor.join(long_wait()));
  EXPECT_EQ(actor.got, (std::vector<std::string>{"a", "b"}));
  exc.attach(actor);
  EXPECT_THROW(exc.send("closed"), concur::RuntimeError);  // send() after close(), reported
  exc.detach(actor);
}

TEST(Exchange, ACopyOfASubscriberIsNotAttached) {
  std::vector<std::string> log;
  Logger a("a", &log);
  ps::Exchange<std::string> exc;
  exc.attach(a);
  Logger copy = a;
  copy.name = "copy";
  exc.send("m");
  EXPECT_EQ(log, (std::vector<std::string>{"a:m"}));
  EXPECT_THROW(exc.detach(copy), concur::ValueError);
}

}  // namespace
