// concur/deadlock.hpp — deadlocks, explained instead of hung (README.md, "Deadlocks"): namespace
// concur::deadlock. The seeds name four ways out of deadlock; concur has a tool for each.
//
//   namespace dl = concur::deadlock;
//   auto held = dl::acquire(a, b, c);        // 1. one global order, released in reverse
//   dl::enable_lock_order_checking(true);    // 2. report inversions before they deadlock
//   auto cycles = dl::find_deadlocks();      // 3. real deadlocks among blocked threads
//   dl::start_watchdog(200ms);               //    ... reported as they happen
//   std::cout << th::dump_threads();         // 4. every thread: state, what it waits for, holds
//   dl::install_dump_on_signal(SIGQUIT);     //    ... on kill -QUIT
//   dl::set_reaction(dl::Reaction::raise);   // print (default), raise, or a handler
//
// (Timed acquisition with back-off, the fourth way of the seeds, is Lock::acquire(timeout).)
#pragma once

#include "concur/deadlock/detection.hpp"
#include "concur/deadlock/lock_order.hpp"
#include "concur/deadlock/ordered_acquire.hpp"
#include "concur/deadlock/report.hpp"
#include "concur/threading/thread.hpp"
