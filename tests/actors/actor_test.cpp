// ac::Actor<Msg>: one thread per actor (API.md §8.1; the seed's Actor, seed 001).
#include <concur/actors.hpp>
#include <concur/threading.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "test_support.hpp"

namespace ac = concur::actors;
namespace th = concur::threading;
using concur_test::long_wait;
using namespace std::chrono_literals;

namespace {

// Records every message; run() ends at the close.
struct Recorder : ac::Actor<std::string> {
  using Actor::Actor;
  std::vector<std::string> got;  // written by run(), read after join()
  bool exited = false;
  void run() override {
    try {
      for (;;) got.push_back(recv());
    } catch (const ac::ActorExit&) {
      exited = true;
      throw;
    }
  }
};

TEST(Actor, ReceivesInOrderAndEndsAtTheClose) {
  Recorder p;
  p.start();
  p.send("Hello");
  p.send("World");
  p.close();
  ASSERT_TRUE(p.join(long_wait()));
  EXPECT_EQ(p.got, (std::vector<std::string>{"Hello", "World"}));
  EXPECT_TRUE(p.exited);
  EXPECT_FALSE(p.is_alive());
}

TEST(Actor, MessagesSentBeforeStartAndBeforeCloseAreAllReceived) {
  Recorder p;
  for (int i = 0; i < 100; ++i) p.send(std::to_string(i));
  p.close();  // recv() throws only once these are drained
  p.start();
  ASSERT_TRUE(p.join(long_wait()));
  ASSERT_EQ(p.got.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(p.got[i], std::to_string(i));
}

TEST(Actor, SendAfterCloseOrAfterTheEndIsRuntimeError) {
  Recorder p;
  p.start();
  p.close();
  p.close();  // idempotent
  EXPECT_THROW(p.send("late"), concur::RuntimeError);
  ASSERT_TRUE(p.join(long_wait()));
  EXPECT_THROW(p.send("later"), concur::RuntimeError);

  struct OneShot : ac::Actor<int> {
    void run() override { (void)recv(); }  // returns after one message, never closed
  } one;
  one.start();
  one.send(1);
  ASSERT_TRUE(one.join(long_wait()));
  EXPECT_THROW(one.send(2), concur::RuntimeError);  // nobody will ever receive it
}

TEST(Actor, StartTwiceAndJoinBeforeStartAreRuntimeErrors) {
  Recorder p;
  EXPECT_THROW(p.join(), concur::RuntimeError);
  p.start();
  EXPECT_THROW(p.start(), concur::RuntimeError);
  p.close();
  EXPECT_TRUE(p.join(long_wait()));
}

TEST(Actor, RecvWithTimeout) {
  struct Timed : ac::Actor<int> {
    std::vector<std::optional<int>> seen;
    th::Event waited_once, go_on, looked;
    void run() override {
      seen.push_back(recv(30ms));  // nothing yet: nullopt after ~30 ms
      waited_once.set();
      if (!go_on.wait(long_wait())) return;
      seen.push_back(recv(long_wait()));  // sent by the test
      seen.push_back(recv(0ms));          // nothing: a zero timeout only looks
      looked.set();
      for (;;) (void)recv(long_wait());   // ActorExit at the close
    }
  } t;
  t.start();
  ASSERT_TRUE(t.waited_once.wait(long_wait()));
  t.send(7);
  t.go_on.set();
  ASSERT_TRUE(t.looked.wait(long_wait()));
  t.close();
  ASSERT_TRUE(t.join(long_wait()));
  ASSERT_EQ(t.seen.size(), 3u);
  EXPECT_EQ(t.seen[0], std::nullopt);
  EXPECT_EQ(t.seen[1], 7);
  EXPECT_EQ(t.seen[2], std::nullopt);
}

TEST(Actor, RecvWithTimeoutThrowsActorExitOnceClosedAndDrained) {
  struct Timed : ac::Actor<int> {
    int got = 0;
    void run() override {
      for (;;)
        if (recv(long_wait())) ++got;
    }
  } t;
  t.send(1);
  t.send(2);
  t.close();
  t.start();
  ASSERT_TRUE(t.join(long_wait()));
  EXPECT_EQ(t.got, 2);
}

TEST(Actor, ABoundedMailboxBlocksTheSenderWhileFull) {
  struct Bounded : ac::Actor<int> {
    Bounded() : Actor(ac::ActorOptions{.name = "bounded", .mailbox_size = 2}) {}
    std::vector<int> got;
    void run() override {
      for (;;) got.push_back(recv());
    }
  } b;
  EXPECT_EQ(b.name(), "bounded");
  b.send(1);
  b.send(2);  // full now (not started)
  std::atomic<bool> third_sent{false};
  std::thread sender([&] {
    b.send(3);
    third_sent = true;
  });
  concur_test::give_time_to_misbehave();
  EXPECT_FALSE(third_sent.load());
  b.start();  // receiving makes room
  sender.join();
  EXPECT_TRUE(third_sent.load());
  b.close();
  ASSERT_TRUE(b.join(long_wait()));
  EXPECT_EQ(b.got, (std::vector<int>{1, 2, 3}));
}

TEST(Actor, ASenderBlockedOnAFullMailboxGetsRuntimeErrorAtTheClose) {
  struct Bounded : ac::Actor<int> {
    Bounded() : Actor(ac::ActorOptions{.mailbox_size = 1}) {}
  } b;
  b.send(1);
  std::atomic<int> outcome{0};
  std::thread sender([&] {
    try {
      b.send(2);
      outcome = 1;
    } catch (const concur::RuntimeError&) {
      outcome = 2;
    }
  });
  concur_test::give_time_to_misbehave();
  b.close();
  sender.join();
  EXPECT_EQ(outcome.load(), 2);
}

// The seed's tagged messages: a std::variant and std::visit.
struct Deposit { int amount; };
struct Withdraw { int amount; };
struct Report { th::Event* done; int* balance_out; };
using BankMsg = std::variant<Deposit, Withdraw, Report>;
struct Bank : ac::Actor<BankMsg> {
  int balance = 0;
  void run() override {
    for (;;) {
      std::visit([this](auto&& m) { handle(m); }, recv());
    }
  }
  void handle(const Deposit& d) { balance += d.amount; }
  void handle(const Withdraw& w) { balance -= w.amount; }
  void handle(const Report& r) {
    *r.balance_out = balance;
    r.done->set();
  }
};

TEST(Actor, VariantMessages) {
  Bank bank;
  bank.start();
  bank.send(Deposit{100});
  bank.send(Withdraw{30});
  bank.send(Deposit{5});
  th::Event done;
  int balance = -1;
  bank.send(Report{&done, &balance});
  ASSERT_TRUE(done.wait(long_wait()));
  EXPECT_EQ(balance, 75);
  bank.close();
  EXPECT_TRUE(bank.join(long_wait()));
}

TEST(Actor, AnExceptionFromRunGoesToTheExceptHookAndEndsTheActor) {
  std::mutex m;
  std::vector<std::string> reports;
  th::set_excepthook([&](const th::ExceptHookArgs& args) {
    std::lock_guard<std::mutex> g(m);
    reports.push_back(args.thread_name + ": " + concur_test::what_of(args.exception));
  });
  struct Failing : ac::Actor<int> {
    Failing() : Actor(ac::ActorOptions{.name = "failing"}) {}
    void run() override {
      if (recv() == 13) throw concur::ValueError("unlucky");
    }
  } f;
  f.start();
  f.send(13);
  ASSERT_TRUE(f.join(long_wait()));
  th::set_excepthook(nullptr);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0], "failing: unlucky");
  EXPECT_THROW(f.send(1), concur::RuntimeError);
}

TEST(Actor, ActorExitEndsRunQuietly) {
  std::atomic<int> reports{0};
  th::set_excepthook([&](const th::ExceptHookArgs&) { ++reports; });
  {
    Recorder p;
    p.start();
    p.close();
    ASSERT_TRUE(p.join(long_wait()));
  }
  th::set_excepthook(nullptr);
  EXPECT_EQ(reports.load(), 0);
}

TEST(Actor, DestroyingARunningActorClosesAndJoinsIt) {
  std::atomic<bool> exited{false};
  th::Event running;
  struct Watched : ac::Actor<int> {
    std::atomic<bool>& exited;
    th::Event& running;
    Watched(std::atomic<bool>& e, th::Event& r) : exited(e), running(r) {}
    void run() override {
      running.set();
      try {
        for (;;) (void)recv();
      } catch (const ac::ActorExit&) {
        exited = true;
        throw;
      }
    }
  };
  {
    Watched w(exited, running);
    w.start();
    w.send(1);
    // Once run() runs: a thread that had not called run() yet when the destructors began would
    // call the base's (C++ destroys the subclass first; see actor.hpp).
    ASSERT_TRUE(running.wait(long_wait()));
  }
  EXPECT_TRUE(exited.load());
  { Watched never_started(exited, running); }  // nothing to join
}

TEST(Actor, DefaultNamesAndTheThreadName) {
  struct Named : ac::Actor<int> {
    using Actor::Actor;
    std::string thread_name;
    void run() override {
      thread_name = th::current_thread().name();
      for (;;) (void)recv();
    }
  };
  Named a, b;
  EXPECT_EQ(a.name().rfind("Actor-", 0), 0u);
  EXPECT_NE(a.name(), b.name());
  Named c(ac::ActorOptions{.name = "printer"});
  c.start();
  c.close();
  ASSERT_TRUE(c.join(long_wait()));
  EXPECT_EQ(c.thread_name, "printer");
}

TEST(Actor, JoinWithTimeoutWhileRunning) {
  Recorder p;
  p.start();
  EXPECT_FALSE(p.join(20ms));
  EXPECT_TRUE(p.is_alive());
  p.close();
  EXPECT_TRUE(p.join(long_wait()));
}

TEST(Actor, ManySendersConservation) {
  struct Summer : ac::Actor<long> {
    long sum = 0, count = 0;
    void run() override {
      for (;;) {
        sum += recv();
        ++count;
      }
    }
  } s;
  s.start();
  constexpr int kThreads = 4, kEach = 20000;
  concur_test::run_together(kThreads, [&](int t) {
    for (int i = 1; i <= kEach; ++i) s.send(static_cast<long>(t) * kEach + i);
  });
  s.close();
  ASSERT_TRUE(s.join(long_wait()));
  const long n = static_cast<long>(kThreads) * kEach;
  EXPECT_EQ(s.count, n);
  EXPECT_EQ(s.sum, n * (n + 1) / 2);
}

// A message whose copy throws: the send fails, the mailbox is as it was, the actor goes on.
struct Fragile {
  int value = 0;
  bool throw_on_copy = false;
  Fragile(int v, bool t) : value(v), throw_on_copy(t) {}
  Fragile(const Fragile& o) : value(o.value), throw_on_copy(false) {
    if (o.throw_on_copy) throw std::runtime_error("copy failed");
  }
  Fragile(Fragile&&) noexcept = default;
  Fragile& operator=(const Fragile&) = default;
  Fragile& operator=(Fragile&&) noexcept = default;
};

TEST(Actor, ASendWhoseCopyThrowsLosesNothing) {
  struct Taker : ac::Actor<Fragile> {
    std::vector<int> got;
    void run() override {
      for (;;) got.push_back(recv().value);
    }
  } t;
  const Fragile bad(2, true);
  t.send(Fragile(1, false));
  EXPECT_THROW(t.send(bad), std::runtime_error);
  const Fragile good(3, false);
  t.send(good);
  t.start();
  t.close();
  ASSERT_TRUE(t.join(long_wait()));
  EXPECT_EQ(t.got, (std::vector<int>{1, 3}));
}

TEST(Actor, PingPongBetweenTwoActorThreads) {
  struct Player : ac::Actor<int> {
    Player* peer = nullptr;
    int last = -1;
    th::Event* done = nullptr;
    void run() override {
      for (;;) {
        const int m = recv();
        last = m;
        if (m >= 2000) {
          done->set();
          continue;
        }
        peer->send(m + 1);
      }
    }
  };
  Player a, b;
  th::Event done;
  a.peer = &b;
  b.peer = &a;
  a.done = b.done = &done;
  a.start();
  b.start();
  a.send(0);
  ASSERT_TRUE(done.wait(long_wait()));
  a.close();
  b.close();
  ASSERT_TRUE(a.join(long_wait()));
  ASSERT_TRUE(b.join(long_wait()));
  EXPECT_EQ(std::max(a.last, b.last), 2000);
}

}  // namespace
