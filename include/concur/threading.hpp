// <concur/threading.hpp> — Python's `threading` module for C++ (README.md, "Python → C++: threading").
//
//   namespace th = concur::threading;
//   th::Thread t(fn, args...);  t.start();  t.join();
//   th::Lock, th::RLock, th::Condition, th::Semaphore, th::BoundedSemaphore, th::Event,
//   th::Barrier, th::Timer, th::local<T>, th::current_thread(), th::enumerate(), th::sleep(), ...
//
// Every blocking call here waits through one mechanism (concur/detail/futex.hpp): a short
// bounded spin, then a futex sleep; no busy loops, no sleeps as synchronization.
#pragma once

#include "concur/errors.hpp"
#include "concur/threading/barrier.hpp"
#include "concur/threading/condition.hpp"
#include "concur/threading/event.hpp"
#include "concur/threading/local.hpp"
#include "concur/threading/lock.hpp"
#include "concur/threading/rlock.hpp"
#include "concur/threading/semaphore.hpp"
#include "concur/threading/thread.hpp"
#include "concur/threading/timer.hpp"
