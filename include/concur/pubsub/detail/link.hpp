// concur/pubsub/detail/link.hpp — what an Exchange holds of a subscriber: a SubscriberLink.
//
// An exchange must never call a subscriber that has been destroyed, yet a subscriber cannot
// know every exchange it is attached to without a lock shared by both sides (and a lock order
// between them). So the two meet in a small shared object instead: each Subscriber owns one
// SubscriberLink (made at its first attach), and every exchange it is attached to holds a
// reference to it. The subscriber's destructor retires the link; exchanges skip a retired link
// and drop it at their next change. The subscriber never looks for its exchanges.
//
// Deliveries and retirement (the link's word: kRetired bit + deliveries in flight):
//   delivery:  enter()  — fetch_add(1); if kRetired was set: leave() at once, skip the subscriber
//              ... subscriber->send(msg) ...
//              leave()  — fetch_sub(1); the last one out of a retired link wakes retire()
//   retire():  fetch_or(kRetired), then wait until no delivery is in flight (but one running on
//              this very thread: a subscriber destroyed from inside its own send()).
// Once retire() returns no delivery is running and none can start: the subscriber may die.
// seq_cst on the word: enter()'s increment and retire()'s bit are ordered in one total order, so
// either the delivery sees the bit (and skips) or retire() sees the delivery (and waits).
//
// Thread-safety: every member may be called concurrently. The reference count is intrusive
// (add_ref/release) so that a Subscriber can publish its link with one compare-exchange.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

#include "concur/deadline.hpp"
#include "concur/detail/event_count.hpp"

namespace concur::pubsub::detail {

class SubscriberLink {
 public:
  // The subscriber this link delivers to: a Subscriber<Msg>*, typed by the exchange.
  explicit SubscriberLink(void* subscriber) noexcept : subscriber_(subscriber) {}
  SubscriberLink(const SubscriberLink&) = delete;
  SubscriberLink& operator=(const SubscriberLink&) = delete;

  void* subscriber() const noexcept { return subscriber_; }

  // Starts a delivery; false (and nothing to undo) if the subscriber has retired.
  bool enter() noexcept {
    if (word_.fetch_add(1, std::memory_order_seq_cst) & kRetired) {
      leave();
      return false;
    }
    return true;
  }
  void leave() noexcept {
    const std::uint32_t before = word_.fetch_sub(1, std::memory_order_seq_cst);
    if ((before & kRetired) && (before & ~kRetired) == 1) drained_.notify_all();
  }

  [[nodiscard]] bool retired() const noexcept {
    return word_.load(std::memory_order_acquire) & kRetired;
  }

  // Stops every later delivery and waits for the ones in flight, other than `own_in_flight`
  // deliveries running on the calling thread (their send() is destroying the subscriber).
  void retire(std::uint32_t own_in_flight = 0) noexcept {
    word_.fetch_or(kRetired, std::memory_order_seq_cst);
    drained_.wait_until(
        [&] { return (word_.load(std::memory_order_seq_cst) & ~kRetired) <= own_in_flight; },
        Deadline::never());
  }

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  // acq_rel: the last owner must see every other owner's use of the link before deleting it.
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

 private:
  static constexpr std::uint32_t kRetired = 0x8000'0000u;
  std::atomic<std::uint32_t> word_{0};
  std::atomic<std::uint32_t> refs_{1};
  void* const subscriber_;
  concur::detail::EventCount drained_;
};

// An owning reference to a link (an intrusive shared pointer).
class LinkRef {
 public:
  LinkRef() noexcept = default;
  explicit LinkRef(SubscriberLink* adopt) noexcept : p_(adopt) {}
  static LinkRef share(SubscriberLink* p) noexcept {
    if (p) p->add_ref();
    return LinkRef(p);
  }
  LinkRef(const LinkRef& o) noexcept : p_(o.p_) {
    if (p_) p_->add_ref();
  }
  LinkRef(LinkRef&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  LinkRef& operator=(LinkRef o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~LinkRef() {
    if (p_) p_->release();
  }
  SubscriberLink* get() const noexcept { return p_; }
  SubscriberLink* operator->() const noexcept { return p_; }

 private:
  SubscriberLink* p_ = nullptr;
};

// The deliveries running on this thread, innermost first: a subscriber destroyed from inside its
// own send() must not wait for that very delivery.
struct DeliveryFrame {
  const SubscriberLink* link;
  const DeliveryFrame* outer;
};
inline thread_local const DeliveryFrame* tls_deliveries = nullptr;

inline std::uint32_t deliveries_on_this_thread(const SubscriberLink* link) noexcept {
  std::uint32_t n = 0;
  for (const DeliveryFrame* f = tls_deliveries; f; f = f->outer) n += (f->link == link);
  return n;
}

}  // namespace concur::pubsub::detail
