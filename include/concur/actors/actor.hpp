// concur/actors/actor.hpp — ac::Actor<Msg>: the seed's Actor (seed 001, 定义 Actor 模式任务), one
// thread per actor, a mailbox, recv() in run().
//
//   struct PrintActor : ac::Actor<std::string> {
//     void run() override { for (;;) std::cout << "Got: " << recv() << "\n"; }
//   };
//   PrintActor p;  p.start();  p.send("Hello");  p.send("World");  p.close();  p.join();
//
// Contract
// - start() runs run() on a new daemon thread named after the actor; RuntimeError if called
//   twice. run() is called once; the base's run() receives and drops messages until closed.
// - send(msg) appends to the mailbox from any thread (never blocks, unless the mailbox is bounded
//   and full: then it blocks until the actor has received enough). It may be called before
//   start(). After close(), or once run() has ended: concur::RuntimeError (Python's seed would
//   lose the message silently).
// - recv() (inside run()) returns the next message, oldest first, blocking until one arrives.
//   Once the actor is closed and every message sent before the close has been received, it
//   throws ac::ActorExit, which ends run() quietly. recv(timeout): std::nullopt when nothing
//   arrived in time (a zero timeout only looks). Any other exception escaping run() goes to
//   threading's except hook ("Exception in thread <name>"), and the actor ends.
// - close() is idempotent and never blocks. join() waits for run() to end; join(timeout) returns
//   false if it is still running. join() before start(), or from run() itself: RuntimeError.
// - An actor is a pubsub::Subscriber<Msg>: attached to an Exchange, each message it publishes is
//   send() to the actor.
// - Destroying a started actor detaches it from every exchange, closes it and joins it. As for
//   threading::Thread, the base's destructor runs after the subclass's: a subclass whose run()
//   uses its own members calls close(); join(); in its own destructor.
// - Happens-before: what a sender did before send() happens before the recv() that returns the
//   message. Everything run() did happens before join() returns (true).
// - Thread-safety: send, close, join, is_alive, name from any thread; recv only from run().
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "concur/actors/detail/mailbox.hpp"
#include "concur/actors/errors.hpp"
#include "concur/deadline.hpp"
#include "concur/pubsub/subscriber.hpp"
#include "concur/threading/thread.hpp"

namespace concur::actors {

namespace detail {
std::string actor_name(std::string requested);  // "Actor-N" when empty (src/actors/)
}  // namespace detail

template <class Msg>
class Actor : public pubsub::Subscriber<Msg> {
 public:
  using message_type = Msg;

  Actor() : Actor(ActorOptions{}) {}
  explicit Actor(ActorOptions options)
      : mailbox_(options.mailbox_size),
        thread_(threading::ThreadOptions{.name = detail::actor_name(std::move(options.name)),
                                         .daemon = true},
                [this] { bootstrap(); }) {}
  Actor(const Actor&) = delete;
  Actor& operator=(const Actor&) = delete;

  ~Actor() override {
    this->detach_everywhere();
    mailbox_.close();
    // A started actor (ident() is set by start()) is joined, unless this is its own thread.
    const std::optional<std::uint64_t> id = thread_.ident();
    if (id && *id != threading::get_ident()) thread_.join();
  }

  // Runs run() on the actor's own daemon thread. RuntimeError if started before.
  void start() { thread_.start(); }

  void send(const Msg& msg) override { mailbox_.put(msg, &site_); }
  void send(Msg&& msg) { mailbox_.put(std::move(msg), &site_); }

  // recv() throws ActorExit once the messages sent before now are received. Never blocks.
  void close() noexcept { mailbox_.close(); }

  void join() { thread_.join(); }
  template <class Rep, class Period>
  bool join(std::chrono::duration<Rep, Period> timeout) {
    return thread_.join(timeout);
  }
  [[nodiscard]] bool is_alive() const { return thread_.is_alive(); }
  [[nodiscard]] std::string name() const { return thread_.name(); }

 protected:
  // The actor's body; the default receives and drops messages until the actor is closed.
  virtual void run() {
    for (;;) (void)recv();
  }

  // The next message; ActorExit once closed and drained.
  Msg recv() { return *receive(Deadline::never()); }
  // The next message, or nullopt if none arrived within `timeout`; ActorExit once closed and
  // drained.
  template <class Rep, class Period>
  std::optional<Msg> recv(std::chrono::duration<Rep, Period> timeout) {
    return receive(Deadline::after(timeout));
  }

 private:
  using Mailbox = detail::Mailbox<Msg>;

  void bootstrap() {
    struct CloseAtEnd {  // later sends fail instead of piling up behind a finished run()
      Mailbox& m;
      ~CloseAtEnd() { m.close(); }
    } close_at_end{mailbox_};
    try {
      run();
    } catch (const ActorExit&) {
    }
  }

  std::optional<Msg> receive(const Deadline& deadline) {
    if (!mailbox_.wait(deadline, &site_)) return std::nullopt;
    if (!mailbox_.has_message()) throw ActorExit();  // closed, and everything received
    return mailbox_.take();
  }

  Mailbox mailbox_;
  const concur::detail::WaitSite site_{&detail::kMailboxWait, this, {}, nullptr, nullptr};
  threading::Thread thread_;
};

}  // namespace concur::actors
