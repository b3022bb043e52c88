// concur/pubsub/subscriber.hpp — ps::Subscriber<Msg>: what an Exchange delivers to (the seed's
// "task" with a send(msg) method).
//
//   struct Task : ps::Subscriber<std::string> {
//     void send(const std::string& msg) override { std::cout << name << " send: " << msg << "\n"; }
//   };
//
// Contract
// - send(msg) is called by Exchange::send, in the sender's thread, once per message for every
//   exchange the subscriber is attached to. It may attach, detach and send on any exchange
//   (re-entrant), and may throw: the exchange finishes delivering and then rethrows.
// - Lifetime: a subscriber destroyed while attached detaches itself first. Its destructor stops
//   every later delivery and waits for the deliveries in flight in other threads, so no exchange
//   calls it once it is gone (a delivery running on the destroying thread itself, a subscriber
//   destroying itself from its own send(), is not waited for). A class whose send() uses its own
//   members, and which may be destroyed while another thread sends to it, calls
//   detach_everywhere() first in its destructor: the base's destructor runs only after the
//   members are gone.
// - A copy of a subscriber is a new subscriber, attached nowhere.
// - Thread-safety: a subscriber may be attached to any number of exchanges, from any threads;
//   its send() is called concurrently when several threads send.
#pragma once

#include <atomic>

#include "concur/pubsub/detail/link.hpp"

namespace concur::pubsub {

template <class Msg>
class Exchange;

template <class Msg>
class Subscriber {
 public:
  using message_type = Msg;

  // One message from an exchange this subscriber is attached to.
  virtual void send(const Msg& msg) = 0;

 protected:
  Subscriber() noexcept = default;
  Subscriber(const Subscriber&) noexcept : Subscriber() {}  // a new subscriber, attached nowhere
  Subscriber& operator=(const Subscriber&) noexcept { return *this; }
  virtual ~Subscriber() { detach_everywhere(); }

  // Detaches from every exchange, for good, waiting for deliveries in flight in other threads.
  // Idempotent; the destructor calls it (see the header comment for when to call it earlier).
  void detach_everywhere() noexcept {
    detail::SubscriberLink* l = link_.exchange(nullptr, std::memory_order_acq_rel);
    if (!l) return;
    l->retire(detail::deliveries_on_this_thread(l));
    l->release();
  }

 private:
  friend class Exchange<Msg>;

  // The link every exchange holds, made at the first attach (std::bad_alloc if it cannot be).
  detail::LinkRef link() {
    detail::SubscriberLink* l = link_.load(std::memory_order_acquire);
    if (!l) {
      auto* fresh = new detail::SubscriberLink(static_cast<Subscriber*>(this));
      // acq_rel: publish the new link; on failure, see the winner's.
      if (link_.compare_exchange_strong(l, fresh, std::memory_order_acq_rel))
        l = fresh;
      else
        fresh->release();
    }
    return detail::LinkRef::share(l);
  }

  std::atomic<detail::SubscriberLink*> link_{nullptr};  // owns one reference
};

}  // namespace concur::pubsub
