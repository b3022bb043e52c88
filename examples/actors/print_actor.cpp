// Port of seed 001, 定义 Actor 模式任务 (defining an Actor task): an actor is a thread with a
// mailbox; send() puts a message in it, recv() takes the next one, close() makes recv() raise
// ActorExit once the mailbox is drained, and join() waits for the end. PrintActor prints what it
// receives: "Got: Hello", then "Got: World".
//
// The seed's Actor class is ac::Actor<Msg>: its Queue mailbox, its daemon thread and its
// ActorExit sentinel are the library's. One difference: the seed's close() posts the ActorExit
// class as a message and a send() after it is silently lost; here send() after close() raises
// concur::RuntimeError.
#include <concur/actors.hpp>

#include <string>

#include "print.hpp"

namespace ac = concur::actors;

class PrintActor : public ac::Actor<std::string> {
  void run() override {
    while (true) {
      // Received first, then printed: `std::cout << "Got: " << recv()` would print "Got: "
      // before recv() throws ActorExit at the close (C++17 evaluates << from left to right).
      std::string msg = recv();
      print("Got:", msg);
    }
  }
};

int main() {
  PrintActor p;
  p.start();
  p.send("Hello");
  p.send("World");
  p.close();
  p.join();
}
