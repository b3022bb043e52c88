// concur/futures/errors.hpp — the exceptions of concur::futures, named after
// Python's concurrent.futures.CancelledError, InvalidStateError and BrokenExecutor. A timed
// result(), exception(), as_completed() or map iteration that runs out throws
// concur::TimeoutError (errors.hpp).
#pragma once

#include <string>

#include "concur/errors.hpp"

namespace concur::futures {

// result() or exception() of a future that was cancelled.
struct CancelledError : Error {
  CancelledError() : Error("the future was cancelled") {}
};

// set_result() / set_exception() on a future that is already done (finished or cancelled).
struct InvalidStateError : Error {
  using Error::Error;
};

// The executor can no longer run work (a worker initializer failed): pending futures fail with
// it, and later submit() calls throw it.
struct BrokenExecutor : Error {
  using Error::Error;
};

// A ProcessPoolExecutor's worker died, or its initializer failed (Python's
// concurrent.futures.process.BrokenProcessPool): the running and pending futures fail with it
// and later submit() calls throw it. what() names the worker's pid and exit code.
struct BrokenProcessPool : BrokenExecutor {
  using BrokenExecutor::BrokenExecutor;
};

}  // namespace concur::futures
