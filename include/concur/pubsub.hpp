// concur/pubsub.hpp — publish/subscribe (README.md, "Python → C++: actors and publish/subscribe"):
// the seed's Exchange pattern as a component, namespace concur::pubsub.
//
//   namespace ps = concur::pubsub;
//   ps::Subscriber<Msg>       what receives messages: override send(const Msg&) (subscriber.hpp)
//   ps::Exchange<Msg>         attach, detach, subscribe(...) scope guard, send (exchange.hpp)
//   ps::get_exchange<Msg>(n)  the exchange named n, shared by the whole program
// An actor (concur/actors.hpp) is a Subscriber of its message type.
#pragma once

#include "concur/pubsub/exchange.hpp"
#include "concur/pubsub/subscriber.hpp"
