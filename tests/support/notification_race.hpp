// The "no lost notification" protocol, shared by condition_test (each lock kind) and
// stress_test (at scale, with notify(2) too).
//
// Waiters wait with tiny timeouts, so timeouts and notifications race. Every waiter holds the
// lock except inside wait(), so under the lock the wait list holds `queued - pending` threads,
// where `pending` counts notifications popped but not yet received. The notifier notifies only
// while that is positive, so each notification pops a waiter, and that waiter's wait() must
// return true even if its timeout expired meanwhile. At the end, received == sent exactly.
#pragma once

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "test_support.hpp"

namespace concur_test {

struct NotificationRace {
  int sent = 0, received = 0, queued = 0, pending = 0, timeouts = 0;
  bool invariant_ok = true;
};

// cv: a th::Condition (Lockable: locking it locks its lock). Stops after `notifications`, or
// after long_wait(): how many fit is the machine's business, correctness is the caller's check.
// With notify_two, notifications alternate between notify() and notify(2).
template <class Cond>
NotificationRace run_notification_race(Cond& cv, int waiters, int notifications, bool notify_two,
                                       std::vector<std::chrono::microseconds> timeouts) {
  NotificationRace r;
  bool stop = false;
  {
    std::vector<std::jthread> threads;
    for (int w = 0; w < waiters; ++w)
      threads.emplace_back([&, w] {
        std::lock_guard g(cv);
        for (std::size_t i = 0; !std::as_const(stop); ++i) {
          ++r.queued;
          const bool notified = cv.wait(timeouts[(i + w) % timeouts.size()]);
          --r.queued;
          if (notified) {
            ++r.received;
            --r.pending;
          } else {
            ++r.timeouts;
          }
          if (!stop && (r.pending < 0 || r.queued < 0)) r.invariant_ok = false;
        }
      });
    const auto give_up = Clock::now() + long_wait();
    for (bool done = false; !done;) {
      {
        std::lock_guard g(cv);
        const int in_list = r.queued - r.pending;
        if (r.sent >= notifications || Clock::now() >= give_up) {
          stop = true;
          r.sent += in_list;  // what notify_all wakes
          cv.notify_all();
          done = true;
        } else if (in_list > 0) {
          const int n = (notify_two && r.sent % 2 == 1) ? std::min(2, in_list) : 1;
          cv.notify(n);
          r.sent += n;
          r.pending += n;
        }
      }
      std::this_thread::yield();
    }
  }
  return r;
}

}  // namespace concur_test
