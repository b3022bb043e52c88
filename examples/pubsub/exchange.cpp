// Port of seed 001, 实现消息发布/订阅模型 (a publish/subscribe model): an Exchange delivers every
// message sent to it to the tasks attached to it; get_exchange("name") gives the one exchange
// of that name; `with exc.subscribe(task_a, task_b):` attaches both for the block. Prints:
//   task_a send: msg1 / task_b send: msg1 / task_a send: msg2 / task_b send: msg2
//
// The seed keeps its subscribers in a set, so their order is the set's; ps::Exchange keeps the
// order they attached in (task_a, then task_b, which is what the seed shows). The `with` block is
// a scope holding the Subscription that subscribe() returns. Then, beyond the seed: an actor is
// a subscriber too, so an exchange can fan messages out to actors on their own threads.
#include <concur/actors.hpp>
#include <concur/pubsub.hpp>

#include <string>

#include "print.hpp"

namespace ps = concur::pubsub;
namespace ac = concur::actors;

class Task : public ps::Subscriber<std::string> {
 public:
  explicit Task(std::string name) : name_(std::move(name)) {}
  void send(const std::string& msg) override { print(name_, "send:", msg); }

 private:
  std::string name_;
};

class PrintActor : public ac::Actor<std::string> {
  void run() override {
    while (true) {
      std::string msg = recv();
      print("actor got:", msg);
    }
  }
};

int main() {
  Task task_a("task_a");
  Task task_b("task_b");

  ps::Exchange<std::string>& exc = ps::get_exchange<std::string>("name");

  {
    auto sub = exc.subscribe(task_a, task_b);
    exc.send("msg1");
    exc.send("msg2");
  }

  // An actor subscribes like any task; its send() posts to its mailbox.
  PrintActor actor;
  actor.start();
  {
    auto sub = exc.subscribe(task_a, actor);
    exc.send("msg3");
    actor.close();  // the actor prints msg3 (received before the close), then ends
    actor.join();
  }
}
