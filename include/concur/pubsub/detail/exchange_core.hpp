// concur/pubsub/detail/exchange_core.hpp — the untyped part of an Exchange: who is attached.
//
// The attached subscribers are an immutable snapshot (copy on write): attach and detach build a
// new list under the core's lock and swap it in; send() takes the current snapshot under the
// lock (one shared_ptr copy) and delivers outside it. Hence a send delivers to the subscribers
// attached when it began, and a subscriber's send() may attach, detach or send on the same
// exchange without deadlock. Retired links (subscribers that died attached) are dropped from the
// list at the next change or by prune(), which send() calls when it met one.
//
// Fork: every live core is in one registry; the at-fork prepare handler takes the registry's
// lock and then every core's lock, so a child never inherits a list half-swapped by a thread
// that no longer exists (src/pubsub/exchange.cpp).
//
// Thread-safety: every member may be called concurrently.
#pragma once

#include <memory>
#include <string_view>
#include <typeindex>
#include <vector>

#include "concur/detail/mutex.hpp"
#include "concur/pubsub/detail/link.hpp"

namespace concur::pubsub::detail {

using Snapshot = std::shared_ptr<const std::vector<LinkRef>>;

class ExchangeCore {
 public:
  ExchangeCore();
  ~ExchangeCore();
  ExchangeCore(const ExchangeCore&) = delete;
  ExchangeCore& operator=(const ExchangeCore&) = delete;

  // Appends `link` unless it is attached already (a set, as the seed's). Strong guarantee.
  void attach(const LinkRef& link);
  // Removes `link`; false if it was not attached. Strong guarantee.
  bool detach(const SubscriberLink* link);
  // The current subscribers, in attach order.
  [[nodiscard]] Snapshot snapshot() const noexcept;
  // Drops retired links. Best effort: out of memory leaves them (they are skipped anyway).
  void prune() noexcept;

 private:
  friend struct CoreRegistry;
  // Protects snapshot_ (and links the core into the registry). A leaf: nothing is called under
  // it but allocation.
  mutable concur::detail::Mutex mutex_;
  Snapshot snapshot_;
  ExchangeCore* prev_ = nullptr;  // the registry's list, under its lock
  ExchangeCore* next_ = nullptr;
};

// The exchange named `name` for message type `type`, made by `make` the first time (never
// destroyed: a named exchange lives as long as the program, as the seed's defaultdict).
void* named_exchange(std::type_index type, std::string_view name, void* (*make)());

}  // namespace concur::pubsub::detail
