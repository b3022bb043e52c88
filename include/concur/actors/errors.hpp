// concur/actors/errors.hpp — ac::ActorExit, and the options both kinds of actor take.
#pragma once

#include <string>

#include "concur/errors.hpp"

namespace concur::actors {

// Thrown by recv() once the actor is closed and its mailbox drained (the seed's ActorExit). It
// ends run() quietly: the actor is done, nothing is reported. Any other exception that escapes
// run() goes to threading's except hook (concur/threading/thread.hpp).
struct ActorExit : Error {
  ActorExit() : Error("the actor was closed") {}
};

struct ActorOptions {
  // The actor's name (its thread's, for an Actor); empty: "Actor-N".
  std::string name{};
  // The most messages the mailbox holds; send() blocks while it is full. <= 0: unbounded.
  long mailbox_size = 0;
};

}  // namespace concur::actors
