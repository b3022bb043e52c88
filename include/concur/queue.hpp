// concur/queue.hpp — Python's queue module (README.md, "Python → C++: queue"): namespace concur::queue.
//
//   namespace cq = concur::queue;
//   cq::Queue<T>                    FIFO, optionally bounded (lock-free)
//   cq::LifoQueue<T>                last in, first out
//   cq::PriorityQueue<T, Compare>   smallest first
//   cq::SimpleQueue<T>              unbounded FIFO without task accounting (lock-free)
//   cq::PollableQueue<T>            a Queue with a pollable fileno()
//   cq::Empty, cq::Full, cq::ShutDown
// The shared protocol and its contract: concur/queue/basic_queue.hpp.
#pragma once

#include "concur/queue/errors.hpp"
#include "concur/queue/lifo_queue.hpp"
#include "concur/queue/pollable_queue.hpp"
#include "concur/queue/priority_queue.hpp"
#include "concur/queue/queue.hpp"
#include "concur/queue/simple_queue.hpp"
