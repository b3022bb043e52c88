// concur/sched.hpp — Python's sched module: the event scheduler (API.md §7).
//
//   #include <concur/sched.hpp>
//   namespace sc = concur::sched;
//   sc::scheduler s;
//   s.enter(1s, 1, [] { std::puts("one second later"); });
//   s.run();
#pragma once

#include "concur/sched/scheduler.hpp"
