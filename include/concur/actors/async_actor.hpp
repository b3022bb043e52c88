// concur/actors/async_actor.hpp — ac::AsyncActor<Msg>: an actor whose run() is a coroutine, so
// that many actors share a few worker threads (an ac::Scheduler) instead of one thread each.
//
//   struct Counter : ac::AsyncActor<int> {
//     long total = 0;
//     ac::Task run() override { for (;;) total += co_await recv(); }
//   };
//   Counter c;  c.start();  c.send(1);  c.close();  c.join();     // default scheduler
//   ac::Scheduler sched(2);  Counter d;  d.start(sched);
//
// Contract: as ac::Actor's (actor.hpp), with these differences:
// - run() returns ac::Task and receives with `co_await recv()`: the actor suspends instead of
//   blocking its worker, and resumes on some worker of its scheduler when a message (or the
//   close) arrives. There is no recv(timeout).
// - start() uses default_scheduler(); start(sched) the given one, which must outlive the actor
//   (a Scheduler's destructor closes and joins the actors still running on it).
// - send() from any thread, including another actor's run() on the same scheduler; it never
//   blocks unless the mailbox is bounded and full (then it blocks the calling thread: from an
//   actor, its worker).
// - An exception escaping run() (other than ActorExit) goes to threading's except hook with the
//   actor's name as the thread name, and the actor ends.
// - join() waits for the end of run() (also from a thread that is not a worker); join() from
//   the actor's own run(): RuntimeError.
// - 100,000 actors may be alive at once: an idle actor costs its object (the mailbox inline),
//   one small block of its mailbox and its run() coroutine frame (README: "actors", for
//   measured sizes).
#pragma once

#include <chrono>
#include <coroutine>
#include <string>
#include <utility>

#include "concur/actors/actor.hpp"
#include "concur/actors/detail/async_actor_base.hpp"
#include "concur/actors/detail/mailbox.hpp"
#include "concur/actors/errors.hpp"
#include "concur/actors/scheduler.hpp"
#include "concur/actors/task.hpp"
#include "concur/pubsub/subscriber.hpp"

namespace concur::actors {

template <class Msg>
class AsyncActor : public pubsub::Subscriber<Msg>, public detail::AsyncActorBase {
 public:
  using message_type = Msg;

  AsyncActor() : AsyncActor(ActorOptions{}) {}
  explicit AsyncActor(ActorOptions options)
      : AsyncActorBase(detail::actor_name(std::move(options.name)), mailbox_),
        mailbox_(options.mailbox_size) {}

  ~AsyncActor() override {
    this->detach_everywhere();
    close_and_join();
  }

  // On default_scheduler(), or on `sched`. RuntimeError if started before.
  void start() { start(default_scheduler()); }
  void start(Scheduler& sched) { start_on(sched, run()); }

  void send(const Msg& msg) override { mailbox_.put(msg, &mailbox_site_); }
  void send(Msg&& msg) { mailbox_.put(std::move(msg), &mailbox_site_); }

  void close() noexcept { mailbox_.close(); }

  void join() { (void)join_until(Deadline::never()); }
  template <class Rep, class Period>
  bool join(std::chrono::duration<Rep, Period> timeout) {
    return join_until(Deadline::after(timeout));
  }
  [[nodiscard]] bool is_alive() const noexcept { return started() && !ended(); }
  using AsyncActorBase::name;

 protected:
  // The actor's body; the default receives and drops messages until the actor is closed.
  virtual Task run() {
    for (;;) (void)co_await recv();
  }

  // co_await recv(): the next message; ActorExit once closed and drained.
  class Receive {
   public:
    explicit Receive(AsyncActor& a) noexcept : a_(a) {}
    bool await_ready() { return a_.mailbox_.poll() && a_.take_budget(); }
    bool await_suspend(std::coroutine_handle<> h) {
      if (a_.mailbox_.poll()) {  // out of budget: let the other ready actors run first
        a_.yield_to_scheduler(h);
        return true;
      }
      return a_.wait_for_mail(h);  // false: mail came meanwhile, go on at once
    }
    Msg await_resume() {
      // Resumed with mail in hand, or closed and drained (step() looked before resuming).
      if (!a_.mailbox_.poll() || !a_.mailbox_.has_message()) throw ActorExit();
      return a_.mailbox_.take();
    }

   private:
    AsyncActor& a_;
  };
  Receive recv() noexcept { return Receive(*this); }

 private:
  detail::Mailbox<Msg> mailbox_;
};

}  // namespace concur::actors
