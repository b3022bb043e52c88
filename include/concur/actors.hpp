// concur/actors.hpp — actors (README.md, "Python → C++: actors and publish/subscribe"): the
// seed's Actor pattern as a component, namespace concur::actors.
//
//   namespace ac = concur::actors;
//   ac::Actor<Msg>        one thread per actor: send, recv, close, join (actor.hpp)
//   ac::AsyncActor<Msg>   run() is a coroutine (ac::Task); many actors share an ac::Scheduler's
//                         worker threads (async_actor.hpp, scheduler.hpp)
//   ac::ActorExit         recv() once closed and drained; ac::ActorOptions (errors.hpp)
// Both kinds are pubsub::Subscriber<Msg>s (concur/pubsub.hpp).
#pragma once

#include "concur/actors/actor.hpp"
#include "concur/actors/async_actor.hpp"
#include "concur/actors/errors.hpp"
#include "concur/actors/scheduler.hpp"
#include "concur/actors/task.hpp"
