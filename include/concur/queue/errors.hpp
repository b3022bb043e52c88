// concur/queue/errors.hpp — the exceptions of concur::queue, named after Python's
// queue.Empty, queue.Full and queue.ShutDown (3.13).
#pragma once

#include "concur/errors.hpp"

namespace concur::queue {

// A non-blocking or timed get found (or kept finding) the queue empty.
struct Empty : Error {
  Empty() : Error("queue is empty") {}
};

// A non-blocking or timed put found (or kept finding) a bounded queue full.
struct Full : Error {
  Full() : Error("queue is full") {}
};

// The queue was shut down: every put after shutdown(), and a get once a shut-down queue is empty.
struct ShutDown : Error {
  ShutDown() : Error("queue is shut down") {}
};

}  // namespace concur::queue
