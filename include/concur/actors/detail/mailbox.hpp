// concur/actors/detail/mailbox.hpp — an actor's mailbox: many senders, one receiver.
//
// Two vectors and a lock: senders append to in_ under the lock; the receiver swaps in_ for its
// own emptied batch (out_) and then takes the batch's messages without any synchronization, one
// lock round per batch. A sender pays a lock, an append and an unlock (no allocation once the
// vectors have grown); a busy receiver finds whole batches waiting.
//
// The receiver waits through the one waiting seam (detail/wait_node.hpp): when it finds nothing,
// it leaves a WaitNode in waiter_ under the lock, and the send (or close) that finds it there
// takes it and signals it, still under the lock. A thread's node parks the thread (Actor); an
// AsyncActor's node is an action waiter whose action schedules the actor on its Scheduler (the
// action only queues it: Scheduler::schedule takes the run queue's lock, never a mailbox's).
// A receiver that times out re-takes the lock: if its node is still there it was not signaled
// (timeout); if it is gone, a sender signaled it under the lock and a message (or the close) is
// there to take.
//
// Bounded (capacity > 0): buffered_ counts the messages not yet received, the receiver's batch
// included; it is lowered when the receiver has finished a batch and takes the next, so a
// mailbox never holds more than `capacity` messages. Full senders wait on not_full_ (an
// EventCount), woken when a batch is finished.
//
// Exceptions: a send whose append throws (std::bad_alloc, the message's move or copy) leaves the
// mailbox as it was (vector::push_back's strong guarantee). A take whose move throws leaves the
// message in place, to be taken again.
// Happens-before: what a sender did before send() happens before the receive that returns its
// message (both under the lock). Close: likewise for the receive that throws ActorExit.
// Thread-safety: put() and close() from any thread; the receiver side (has_batch, take,
// refill_or_link, unlink) from one receiver at a time.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "concur/deadline.hpp"
#include "concur/detail/event_count.hpp"
#include "concur/detail/futex.hpp"
#include "concur/detail/mutex.hpp"
#include "concur/detail/tuning.hpp"
#include "concur/detail/wait_node.hpp"
#include "concur/detail/wait_site.hpp"
#include "concur/errors.hpp"

namespace concur::actors::detail {

using concur::detail::DeferredWakes;
using concur::detail::EventCount;
using concur::detail::Mutex;
using concur::detail::MutexGuard;
using concur::detail::WaitNode;
using concur::detail::WaitSite;

// How a thread blocked on an actor appears in thread dumps (wait_site.hpp).
inline constexpr concur::detail::WaitKind kMailboxWait{"mailbox", "Actor", false, false};
inline constexpr concur::detail::WaitKind kActorJoinWait{"join", "Actor", false, false};

// The untyped half: the lock, the close, the receiver's node and the bound.
class MailboxBase {
 public:
  enum class Refill { kGot, kClosed, kEmpty };

  explicit MailboxBase(long capacity)
      : capacity_(capacity > 0 ? static_cast<std::size_t>(capacity) : 0),
        not_full_(capacity > 0 ? std::make_unique<EventCount>() : nullptr) {}
  MailboxBase(const MailboxBase&) = delete;
  MailboxBase& operator=(const MailboxBase&) = delete;

  // Refuses every later put (RuntimeError); the receiver gets what was sent before, then
  // kClosed. Returns false if it was closed already.
  bool close() noexcept {
    DeferredWakes wakes;
    mutex_.lock();
    const bool was_open = !closed_;
    closed_ = true;
    wake_receiver_locked(wakes);  // the receiver wakes and finds it closed
    wakes.unlock(mutex_);
    if (not_full_) not_full_->notify_all();  // full senders wake and find it closed
    return was_open;
  }
  [[nodiscard]] bool closed() const noexcept {
    MutexGuard g(mutex_);
    return closed_;
  }

  // For a receiving thread that found nothing: spins (within the thread's spin budget,
  // detail/futex.hpp) until a put may have arrived, so that a receiver that keeps up with its
  // senders mostly finds the next message without parking, and the senders without waking it.
  // A hint only: the caller still refills under the lock.
  bool spin_for_mail() const noexcept {
    return concur::detail::spin_until(
        [this] { return has_mail_.load(std::memory_order_relaxed); });
  }

  // The receiver gave up waiting: true if its node was still there (it was not signaled, and
  // now never will be); false if a sender signaled it (something is there to take).
  bool unlink(WaitNode* node) noexcept {
    MutexGuard g(mutex_);
    if (waiter_ != node) return false;
    waiter_ = nullptr;
    return true;
  }

 protected:
  ~MailboxBase() = default;

  // Called with mutex_ held, after a message was appended or the close: raises the hint and hands
  // the waiting receiver's node to `wakes` (signaled under the lock).
  void wake_receiver_locked(DeferredWakes& wakes) noexcept {
    // Stored only when it changes: a receiver spinning on it keeps its cache line until then.
    if (!has_mail_.load(std::memory_order_relaxed)) has_mail_.store(true, std::memory_order_relaxed);
    if (WaitNode* w = std::exchange(waiter_, nullptr)) wakes.signal_later(w);
  }
  [[noreturn]] static void throw_closed() {
    throw RuntimeError("send() to an actor that is closed (or whose run() has ended)");
  }

  mutable Mutex mutex_;
  // in_ is not empty or the mailbox is closed: written under mutex_, read without it as a hint.
  std::atomic<bool> has_mail_{false};
  bool closed_ = false;          // under mutex_
  WaitNode* waiter_ = nullptr;   // the receiver's node while it waits, under mutex_
  const std::size_t capacity_;   // 0: unbounded
  std::size_t buffered_ = 0;     // bounded only, under mutex_: sent and not yet received
  const std::unique_ptr<EventCount> not_full_;  // bounded only
};

template <class Msg>
class Mailbox : public MailboxBase {
 public:
  using MailboxBase::MailboxBase;

  // Appends `m` (moved from only on success). Throws RuntimeError once closed. A bounded
  // mailbox that is full blocks the caller until there is room (or the close); `site` is what
  // the caller is shown blocked on.
  template <class M>
  void put(M&& m, const WaitSite* site) {
    if (capacity_ != 0) return put_bounded(std::forward<M>(m), site);
    DeferredWakes wakes;
    mutex_.lock();
    if (closed_) {
      mutex_.unlock();
      throw_closed();
    }
    try {
      in_.push_back(std::forward<M>(m));
    } catch (...) {
      mutex_.unlock();
      throw;
    }
    wake_receiver_locked(wakes);
    wakes.unlock(mutex_);
  }

  // ---- the receiver ------------------------------------------------------------------------
  [[nodiscard]] bool has_batch() const noexcept { return next_ < out_.size(); }

  // The next message of the batch (has_batch() must be true).
  Msg take() {
    Msg m(std::move(out_[next_]));  // if this throws, the message stays for the next take
    ++next_;
    return m;
  }

  // With the batch finished: takes what was sent since (kGot), or reports the close (kClosed),
  // or, when there is nothing, leaves `node` (if any) to be signaled by the next put or close
  // (kEmpty). An action node is armed here, under the lock, before any sender can see it.
  // Nothing of the mailbox is touched once the lock is released: a linked action node may be
  // signaled at once, and the actor resumed, ended and destroyed by other threads.
  Refill refill_or_link(WaitNode* node) {
    Refill r;
    {
      MutexGuard g(mutex_);
      const std::size_t finished = out_.size();
      if (capacity_ != 0 && finished != 0) {
        buffered_ -= finished;
        not_full_->notify_all();  // under our lock: full senders take it after us
      }
      if (out_.capacity() * sizeof(Msg) > concur::detail::tuning::kMailboxKeepBytes)
        std::vector<Msg>().swap(out_);  // an idle actor does not keep a burst's memory
      else
        out_.clear();
      next_ = 0;
      if (!in_.empty()) {
        out_.swap(in_);
        if (!closed_) has_mail_.store(false, std::memory_order_relaxed);
        r = Refill::kGot;
      } else if (closed_) {
        r = Refill::kClosed;
      } else {
        if (node) {
          waiter_ = node;
          if (node->is_action_waiter()) {  // an actor's node, used again and again
            node->reset();
            node->arm();  // under the lock: nobody can have signaled it yet
          }
        }
        r = Refill::kEmpty;
      }
    }
    return r;
  }

 private:
  template <class M>
  void put_bounded(M&& m, const WaitSite* site) {
    bool closed = false;
    auto try_put = [&] {
      DeferredWakes wakes;
      mutex_.lock();
      if (closed_) {
        mutex_.unlock();
        closed = true;
        return true;
      }
      if (buffered_ >= capacity_) {
        mutex_.unlock();
        return false;
      }
      try {
        in_.push_back(std::forward<M>(m));
      } catch (...) {
        mutex_.unlock();
        throw;
      }
      ++buffered_;
      wake_receiver_locked(wakes);
      wakes.unlock(mutex_);
      return true;
    };
    not_full_->wait_until(try_put, Deadline::never(), site);
    if (closed) throw_closed();
  }

  std::vector<Msg> in_;   // under mutex_
  std::vector<Msg> out_;  // the receiver's batch: touched by the receiver, and swapped under mutex_
  std::size_t next_ = 0;  // the receiver's position in out_
};

}  // namespace concur::actors::detail
