// concur/asyncio/errors.hpp — the exceptions of concur::asyncio, named after Python's.
//
// As in Python 3.8+, asyncio's CancelledError and InvalidStateError are the very classes of
// concurrent.futures: a cancelled cf::Future awaited in a coroutine and a cancelled Task throw
// the same type. Timeouts throw concur::TimeoutError (errors.hpp), OS failures concur::OSError
// and its subclasses.
#pragma once

#include <cstddef>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "concur/errors.hpp"
#include "concur/futures/errors.hpp"

namespace concur::asyncio {

// A task's pending co_await when the task is cancelled; result() of a cancelled task.
using CancelledError = concur::futures::CancelledError;
// result() or exception() of a task that is not done; set_result() on a done future.
using InvalidStateError = concur::futures::InvalidStateError;

// Several children of a TaskGroup failed: every failure, in the order they happened.
struct ExceptionGroup : Error {
  explicit ExceptionGroup(std::vector<std::exception_ptr> errors)
      : Error(describe(errors)), errors_(std::move(errors)) {}
  const std::vector<std::exception_ptr>& exceptions() const noexcept { return errors_; }

 private:
  static std::string describe(const std::vector<std::exception_ptr>& errors) {
    return "unhandled errors in a TaskGroup (" + std::to_string(errors.size()) +
           " sub-exceptions)";
  }
  std::vector<std::exception_ptr> errors_;
};

// Queue::put_nowait() on a full queue; get_nowait() on an empty one; any call after shutdown().
struct QueueFull : Error {
  QueueFull() : Error("the queue is full") {}
};
struct QueueEmpty : Error {
  QueueEmpty() : Error("the queue is empty") {}
};
struct QueueShutDown : Error {
  QueueShutDown() : Error("the queue is shut down") {}
};

// StreamReader: the separator was not found within the buffer limit. consumed() is how many
// bytes the reader looked at (they stay in the buffer, as in Python).
struct LimitOverrunError : Error {
  LimitOverrunError(const std::string& message, std::size_t consumed)
      : Error(message), consumed_(consumed) {}
  std::size_t consumed() const noexcept { return consumed_; }

 private:
  std::size_t consumed_;
};

// StreamReader::readexactly()/readuntil(): the stream ended first. partial() is what was read.
struct IncompleteReadError : EOFError {
  IncompleteReadError(std::string partial, std::size_t expected)
      : EOFError(std::to_string(partial.size()) + " bytes read on a total of " +
                 (expected == kUnknown ? std::string("undefined") : std::to_string(expected)) +
                 " expected bytes"),
        partial_(std::move(partial)),
        expected_(expected) {}
  static constexpr std::size_t kUnknown = static_cast<std::size_t>(-1);
  const std::string& partial() const noexcept { return partial_; }
  std::size_t expected() const noexcept { return expected_; }  // kUnknown for readuntil()

 private:
  std::string partial_;
  std::size_t expected_;
};

}  // namespace concur::asyncio
