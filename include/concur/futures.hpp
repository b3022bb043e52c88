// concur/futures.hpp — Python's concurrent.futures (README.md, "Python → C++:
// concurrent.futures"): namespace concur::futures.
//
//   namespace cf = concur::futures;
//   cf::Future<R>                   the outcome of a call (future.hpp)
//   cf::Executor                    submit / map / shutdown (executor.hpp)
//   cf::ThreadPoolExecutor          (thread_pool.hpp)
//   cf::wait, cf::as_completed      waiting for several futures (wait.hpp)
//   cf::CancelledError, cf::InvalidStateError, cf::BrokenExecutor
#pragma once

#include "concur/futures/errors.hpp"
#include "concur/futures/executor.hpp"
#include "concur/futures/future.hpp"
#include "concur/futures/thread_pool.hpp"
#include "concur/futures/wait.hpp"
#include "concur/multiprocessing/process_pool_executor.hpp"
