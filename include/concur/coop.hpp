// concur/coop.hpp — cooperative tasks and generators (README.md, "Python → C++: cooperative
// tasks and generators"): the seed's generator-based TaskScheduler and Python's generator
// protocol on C++20 coroutines, namespace concur::coop. Header-only.
//
//   namespace co = concur::coop;
//   co::Task                  a coroutine that gives the turn back with co_yield {} (task.hpp)
//   co::TaskScheduler         round robin over Tasks: new_task, run (task_scheduler.hpp)
//   co::Generator<T>          co_yield values; next(), a range-for (generator.hpp)
//   co::Generator<T, In>      ... that also receives values: send(), close()
//   co::TypeError             send() to a generator that has not started (errors.hpp)
#pragma once

#include "concur/coop/errors.hpp"
#include "concur/coop/generator.hpp"
#include "concur/coop/task.hpp"
#include "concur/coop/task_scheduler.hpp"
