// Many actors on few threads (concur::actors, after seed 001, 定义 Actor 模式任务): the seed's
// Actor costs a thread each, so a program can have some hundreds of them. An ac::AsyncActor's
// run() is a coroutine: it suspends in `co_await recv()` instead of blocking a thread, and all
// the actors share the worker threads of one ac::Scheduler.
//
// 10,000 actors form a ring; a token goes round it 100 times (a million messages, each a
// hand-off from one actor to the next), on a scheduler with one worker per CPU. The program
// prints what it did and how long it took on this machine. Then the seed's PrintActor, as an
// AsyncActor on the same scheduler.
#include <concur/actors.hpp>
#include <concur/threading.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "print.hpp"

namespace ac = concur::actors;
namespace th = concur::threading;
using namespace std::chrono_literals;

struct RingNode : ac::AsyncActor<long> {
  RingNode* next = nullptr;
  th::Event* done = nullptr;
  long hops_left_at_end = -1;
  ac::Task run() override {
    for (;;) {
      const long hops_left = co_await recv();
      if (hops_left == 0) {
        done->set();
        continue;
      }
      next->send(hops_left - 1);
    }
  }
};

struct PrintActor : ac::AsyncActor<std::string> {
  ac::Task run() override {
    for (;;) {
      std::string msg = co_await recv();
      print("Got:", msg);
    }
  }
};

int main() {
  constexpr int kActors = 10000;
  constexpr long kRounds = 100;
  const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  ac::Scheduler sched;  // one worker per CPU
  std::vector<std::unique_ptr<RingNode>> ring;
  th::Event done;
  for (int i = 0; i < kActors; ++i) ring.push_back(std::make_unique<RingNode>());
  for (int i = 0; i < kActors; ++i) {
    ring[i]->next = ring[(i + 1) % kActors].get();
    ring[i]->done = &done;
    ring[i]->start(sched);
  }
  print(kActors, "actors alive on", sched.size(), "worker threads (this machine has", cpus, "CPUs)");

  const auto t0 = std::chrono::steady_clock::now();
  ring[0]->send(kActors * kRounds);
  done.wait();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  print("a token went", kRounds, "times round the ring:", kActors * kRounds, "messages in", s,
        "s");

  for (auto& node : ring) node->close();
  for (auto& node : ring) node->join();
  print("all", kActors, "actors closed and joined");

  PrintActor p;
  p.start(sched);
  p.send("Hello");
  p.send("World");
  p.close();
  p.join();
}
