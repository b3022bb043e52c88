// concur/asyncio.hpp — Python's asyncio on C++20 coroutines (API.md §9).
//
//   #include <concur/asyncio.hpp>
//   namespace aio = concur::asyncio;
//   aio::Task<int> work(int x) { co_await aio::sleep(10ms); co_return 2 * x; }
//   int main() { return aio::run(work(1)) == 2 ? 0 : 1; }
//
// Parts: task.hpp (Task, TaskRef), event_loop.hpp (EventLoop, handles), tasks.hpp (create_task,
// sleep, gather, wait, wait_for, shield, as_completed, run), timeouts.hpp (timeout),
// task_group.hpp (TaskGroup), bridges.hpp (cf::Future, to_thread, run_in_executor,
// run_coroutine_threadsafe), locks.hpp (Lock, Event, Condition, Semaphore, BoundedSemaphore,
// Barrier, Held), queues.hpp (Queue, PriorityQueue, LifoQueue), queue_bridge.hpp (aio::get of a
// concur::queue queue), streams.hpp.
#pragma once

#include "concur/asyncio/errors.hpp"
#include "concur/asyncio/task.hpp"
#include "concur/asyncio/event_loop.hpp"
#include "concur/asyncio/tasks.hpp"
#include "concur/asyncio/timeouts.hpp"
#include "concur/asyncio/task_group.hpp"
#include "concur/asyncio/bridges.hpp"
#include "concur/asyncio/locks.hpp"
#include "concur/asyncio/queues.hpp"
#include "concur/asyncio/queue_bridge.hpp"
#include "concur/asyncio/streams.hpp"
