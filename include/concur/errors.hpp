// concur/errors.hpp — the error hierarchy shared by every module.
//
// Every error concur throws derives from concur::Error, itself a std::runtime_error, so one
// `catch (const concur::Error&)` sees them all and `what()` always says, in plain words, what
// went wrong. The names follow Python's built-in exceptions that the same misuse raises there.
#pragma once

#include <stdexcept>
#include <string>

namespace concur {

// Base of every concur error.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Misuse of an object's protocol: a thread started twice, release of an unheld lock, joining
// the current thread, waiting on a Condition whose lock is not held, ...
struct RuntimeError : Error {
  using Error::Error;
};

// A bad argument value: a negative Semaphore value, a BoundedSemaphore released too often, a
// timeout given to a non-blocking call, ...
struct ValueError : Error {
  using Error::Error;
};

// A timed operation ran out of time (a timed result(), as_completed(), map iteration, ...).
struct TimeoutError : Error {
  using Error::Error;
  TimeoutError() : Error("timed out") {}
};

}  // namespace concur
