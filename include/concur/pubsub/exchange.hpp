// concur/pubsub/exchange.hpp — ps::Exchange<Msg> and ps::get_exchange<Msg>(name): the seed's
// publish/subscribe exchange (seed 001, 实现消息发布/订阅模型) as a component.
//
//   ps::Exchange<std::string>& exc = ps::get_exchange<std::string>("name");
//   {
//     auto sub = exc.subscribe(task_a, task_b);   // attached here, detached at scope exit
//     exc.send("msg1");                           // task_a, then task_b
//   }
//   exc.attach(task_a);  exc.detach(task_a);
//
// Contract
// - attach(s): s receives every later send, until detach(s). Attaching one already attached
//   does nothing (the seed keeps a set). detach(s) of one not attached: concur::ValueError.
// - send(msg) calls send(msg) of every subscriber attached when it began, in the order they were
//   attached, in the calling thread. A subscriber attached or detached meanwhile (by another
//   thread, or by a subscriber's own send()) takes part from the next send. If subscribers
//   throw, the others still receive the message, and then the first exception propagates.
//   A subscriber that is destroyed (or retires, Subscriber::detach_everywhere) while a send runs
//   is skipped if its turn had not come yet.
// - subscribe(a, b, ...) attaches each and returns a Subscription that detaches them when it is
//   destroyed (or at reset()), those that are still attached. If an attach fails (out of
//   memory) the ones attached before it are detached and the exception propagates.
// - get_exchange<Msg>(name): the same name and Msg give the same Exchange, from any thread; it
//   lives until the program ends. An Exchange may also be an ordinary object.
// - Thread-safety and re-entrancy: attach, detach, subscribe and send may be called from any
//   thread, concurrently, and from inside a subscriber's send(). No lock is held while a
//   subscriber runs. Happens-before: what the sender did before send() happens before each
//   subscriber's send() for that message (it runs in the sender's thread).
// - An Exchange must outlive the Subscriptions it made; subscribers may die first (they detach
//   themselves). An Exchange is neither copyable nor movable.
#pragma once

#include <exception>
#include <memory>
#include <string_view>
#include <type_traits>
#include <typeindex>
#include <utility>
#include <vector>

#include "concur/errors.hpp"
#include "concur/pubsub/detail/exchange_core.hpp"
#include "concur/pubsub/subscriber.hpp"

namespace concur::pubsub {

// What subscribe() returns: detaches its subscribers at scope exit. Move-only.
class Subscription {
 public:
  Subscription() noexcept = default;
  Subscription(Subscription&& o) noexcept
      : core_(std::exchange(o.core_, nullptr)), links_(std::move(o.links_)) {}
  Subscription& operator=(Subscription&& o) noexcept {
    if (this != &o) {
      reset();
      core_ = std::exchange(o.core_, nullptr);
      links_ = std::move(o.links_);
    }
    return *this;
  }
  ~Subscription() { reset(); }

  // Detaches the subscribers now (those still attached); the Subscription becomes empty.
  void reset() noexcept {
    if (core_)
      for (const detail::LinkRef& l : links_) core_->detach(l.get());
    core_ = nullptr;
    links_.clear();
  }

 private:
  template <class>
  friend class Exchange;
  Subscription(detail::ExchangeCore* core, std::vector<detail::LinkRef> links) noexcept
      : core_(core), links_(std::move(links)) {}
  detail::ExchangeCore* core_ = nullptr;
  std::vector<detail::LinkRef> links_;
};

template <class Msg>
class Exchange {
 public:
  using message_type = Msg;

  Exchange() = default;
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // Adds `s` after the subscribers already attached (nothing if it is attached already).
  void attach(Subscriber<Msg>& s) { core_.attach(s.link()); }

  // Removes `s`. Throws concur::ValueError if it is not attached.
  void detach(Subscriber<Msg>& s) {
    const detail::SubscriberLink* l = s.link_.load(std::memory_order_acquire);
    if (!l || !core_.detach(l)) throw ValueError("detach(): the subscriber is not attached");
  }

  // Attaches every one of `subs` until the returned Subscription ends.
  template <class... Subs>
    requires(std::is_convertible_v<Subs&, Subscriber<Msg>&> && ...)
  [[nodiscard]] Subscription subscribe(Subs&... subs) {
    Subscription guard(&core_, {});  // detaches what was attached if an attach throws
    guard.links_.reserve(sizeof...(Subs));
    (attach_into(guard, static_cast<Subscriber<Msg>&>(subs)), ...);
    return guard;
  }

  // Delivers `msg` to every subscriber attached now, in attach order (see the header comment).
  void send(const Msg& msg) {
    const detail::Snapshot subs = core_.snapshot();
    if (!subs) return;
    std::exception_ptr first_error;
    bool met_retired = false;
    for (const detail::LinkRef& l : *subs) {
      if (!l->enter()) {
        met_retired = true;
        continue;
      }
      const detail::DeliveryFrame frame{l.get(), detail::tls_deliveries};
      detail::tls_deliveries = &frame;
      try {
        static_cast<Subscriber<Msg>*>(l->subscriber())->send(msg);
      } catch (...) {
        if (!first_error) first_error = std::current_exception();
      }
      detail::tls_deliveries = frame.outer;
      l->leave();
    }
    if (met_retired) core_.prune();
    if (first_error) std::rethrow_exception(first_error);
  }

 private:
  void attach_into(Subscription& guard, Subscriber<Msg>& s) {
    detail::LinkRef l = s.link();
    guard.links_.push_back(l);  // reserved: cannot throw
    try {
      core_.attach(l);
    } catch (...) {
      guard.links_.pop_back();
      throw;
    }
  }

  detail::ExchangeCore core_;
};

// The exchange called `name` for messages of type Msg (made on first use, lives until exit).
template <class Msg>
Exchange<Msg>& get_exchange(std::string_view name) {
  return *static_cast<Exchange<Msg>*>(detail::named_exchange(
      std::type_index(typeid(Msg)), name, [] { return static_cast<void*>(new Exchange<Msg>()); }));
}

}  // namespace concur::pubsub
