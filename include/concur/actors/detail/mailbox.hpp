// concur/actors/detail/mailbox.hpp — an actor's mailbox: many senders, one receiver.
//
// The seed's Actor keeps its mailbox in a queue.Queue; so does this one, in the same parts:
// the core of a concur Queue (fifo_core.hpp: the lock-free segmented FIFO, with small blocks
// (tuning::kMailboxBlockPositions), or the lock-free ring when bounded; locked_core.hpp's
// deque for a Msg whose move can throw, as Queue chooses) and the queues' EventCount for the
// receiver to wait on (and one for full senders when bounded). A send is the core's push (one
// seq_cst claim) and a load of the waiter count; nothing is locked unless the receiver sleeps.
//
// The receiver holds at most one message in hand (pending_): recv() looks (poll), then takes.
// A thread receiver (Actor) waits with EventCount::wait_until (spin, then sleep on a WaitNode).
// A coroutine receiver (AsyncActor) follows EventCount's protocol for waiters that cannot block
// (suspend_receiver): its WaitNode's action makes the actor ready when a put or the close
// signals it. A signal can be spurious — the put it announces may have been taken already, by
// a look made before the receiver linked its node — so a woken AsyncActor looks again before it
// resumes (AsyncActorBase::step) and, finding nothing, suspends again.
//
// Bounded (capacity > 0): the core holds at most `capacity` messages; a full sender waits on
// not_full_, woken when the receiver takes one. (The message in the receiver's hand is being
// received: it no longer counts.)
//
// Exceptions: a send whose copy or push throws (std::bad_alloc for a new block, the message's
// copy) leaves the mailbox as it was. A take whose move throws leaves the message in hand, to
// be taken again (and for a Msg whose move can throw, a look whose copy throws leaves it queued).
// Happens-before: what a sender did before send() happens before the receive that returns its
// message (the core's release/acquire). Close: likewise for the receive that throws ActorExit.
// Thread-safety: put() and close() from any thread; the receiver side (poll, has_message,
// take, wait, suspend_receiver, mail_or_closed) from one receiver at a time.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "concur/deadline.hpp"
#include "concur/detail/event_count.hpp"
#include "concur/detail/tuning.hpp"
#include "concur/detail/wait_node.hpp"
#include "concur/detail/wait_site.hpp"
#include "concur/errors.hpp"
#include "concur/queue/detail/core.hpp"
#include "concur/queue/detail/fifo_core.hpp"
#include "concur/queue/detail/locked_core.hpp"

namespace concur::actors::detail {

using concur::detail::EventCount;
using concur::detail::WaitNode;
using concur::detail::WaitSite;

// How a thread blocked on an actor appears in thread dumps (wait_site.hpp).
inline constexpr concur::detail::WaitKind kMailboxWait{"mailbox", "Actor", false, false};
inline constexpr concur::detail::WaitKind kActorJoinWait{"join", "Actor", false, false};

// The untyped half: the waiting, for the receiver and for full senders; the close, so that a
// Scheduler (which knows actors only untyped) can close them.
class MailboxBase {
 public:
  MailboxBase(const MailboxBase&) = delete;
  MailboxBase& operator=(const MailboxBase&) = delete;

  // Refuses every later put (RuntimeError); the receiver gets what was sent before, then the
  // close. Idempotent; never blocks.
  virtual void close() noexcept = 0;

  // The receiver: a message is in hand or queued, or the mailbox is closed. Takes nothing.
  virtual bool mail_or_closed() noexcept = 0;

  // The coroutine receiver, having found nothing: links `node` (an action WaitNode) and arms it,
  // unless mail or the close is there by then. Returns true if armed: the next put or close
  // runs its action (perhaps at once, on another thread: the caller touches nothing of the
  // actor after a true return); false: look again now.
  bool suspend_receiver(WaitNode& node) noexcept {
    for (;;) {
      node.reset();
      not_empty_.link_waiter(node);  // linked, with the fence of Dekker's protocol
      if (mail_or_closed()) {
        (void)not_empty_.cancel_waiter(node);  // a signal already spent on it did nothing
        return false;
      }
      if (node.arm()) return true;
      // Signaled before it was armed (its action did not run): a put came; if it was taken
      // already (a spurious signal), link again.
      if (mail_or_closed()) return false;
    }
  }

 protected:
  explicit MailboxBase(long capacity)
      : not_full_(capacity > 0 ? std::make_unique<EventCount>() : nullptr) {}
  ~MailboxBase() = default;

  [[noreturn]] static void throw_closed() {
    throw RuntimeError("send() to an actor that is closed (or whose run() has ended)");
  }

  EventCount not_empty_;                        // the receiver waits here
  const std::unique_ptr<EventCount> not_full_;  // bounded only: full senders wait here
};

template <class Msg>
class Mailbox final : public MailboxBase {
  // A Msg whose move can throw lives in a locked core and is copied out under its lock, so that
  // a copy that throws leaves it queued (queue.hpp: the same choice as Queue's).
  static constexpr bool kStrongTake = !std::is_nothrow_move_constructible_v<Msg>;
  using Core = std::conditional_t<
      kStrongTake, concur::queue::detail::LockedCore<Msg, concur::queue::detail::FifoBuffer<Msg>>,
      concur::queue::detail::FifoCore<Msg, concur::detail::tuning::kMailboxBlockPositions>>;
  using PushResult = concur::queue::detail::PushResult;

 public:
  explicit Mailbox(long capacity)
      : MailboxBase(capacity), core_(capacity > 0 ? static_cast<std::size_t>(capacity) : 0) {}
  ~Mailbox() = default;

  // Appends `m` (moved from only on success). Throws RuntimeError once closed. A bounded
  // mailbox that is full blocks the caller until there is room (or the close); `site` is what
  // the caller is shown blocked on.
  void put(Msg&& m, const WaitSite* site) { push(m, site); }
  void put(const Msg& m, const WaitSite* site) {
    Msg copy(m);  // if this throws, nothing has changed
    push(copy, site);
  }

  void close() noexcept override {
    core_.close();  // from here on every push fails: nothing lands behind the close
    not_empty_.notify_all();
    if (not_full_) not_full_->notify_all();
  }

  // ---- the receiver ------------------------------------------------------------------------
  // true if a message is in hand (has_message) or the mailbox is closed and drained. Takes the
  // next queued message into the hand when it holds none.
  bool poll() {
    if (pending_) return true;
    bool closed = false;
    if constexpr (kStrongTake) {
      bool taken = false;
      {
        typename Core::Taking take(core_, taken);
        if (take.has_item())
          pending_.emplace(take.item());  // if this throws, the message stays queued
        else
          closed = take.closed();
      }
    } else {
      pending_ = core_.try_pop(closed);
    }
    if (pending_) {
      if (not_full_) {  // a place is free
        concur::queue::detail::notify_one_after<Core>(*not_full_);
      }
      return true;
    }
    return closed;
  }
  [[nodiscard]] bool has_message() const noexcept { return pending_.has_value(); }

  // The message in hand (has_message() must be true).
  Msg take() {
    Msg m(std::move(*pending_));  // if this throws, the message stays in hand
    pending_.reset();
    return m;
  }

  // The thread receiver: waits until poll() is true (true) or the deadline passes (false, after
  // a last look). An immediate deadline looks once.
  bool wait(const Deadline& deadline, const WaitSite* site) {
    return not_empty_.wait_until([this] { return poll(); }, deadline, site);
  }

  bool mail_or_closed() noexcept override {
    if (pending_) return true;
    if constexpr (kStrongTake)
      return core_.has_item_or_closed();
    else
      return core_.size() != 0 || core_.closed();  // seq_cst loads: Dekker's second read
  }

 private:
  void push(Msg& m, const WaitSite* site) {
    PushResult r = core_.try_push(m);
    if (r == PushResult::kFull) {
      not_full_->wait_until(
          [&] {
            r = core_.try_push(m);
            return r != PushResult::kFull;
          },
          Deadline::never(), site);
    }
    if (r == PushResult::kClosed) throw_closed();
    concur::queue::detail::notify_one_after<Core>(not_empty_);
  }

  Core core_;
  std::optional<Msg> pending_;  // the receiver's: the message it has looked at, not yet taken
};

}  // namespace concur::actors::detail
