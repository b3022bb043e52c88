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

// ---------------------------------------------------------------------------------------------
// Errors of the operating system and of streams (API.md §1), as Python's OSError and EOFError.
// OSError carries the errno in code() (std::generic_category; a default error_code when the
// failure has no errno, as Python's OSError("bad message length")). what() is
// "[Errno 32] Broken pipe" or "<context>: [Errno 32] Broken pipe", or the text given verbatim.
// detail::throw_os_error(errno, context) throws the subclass Python would raise for that errno.
// ---------------------------------------------------------------------------------------------
#include <cerrno>
#include <string_view>
#include <system_error>

namespace concur {

struct OSError : Error {
  // A failed system call: `err` is its errno; `context` (what was being done) comes first.
  explicit OSError(int err, std::string_view context = {})
      : Error(compose(err, context)), code_(err, std::generic_category()) {}
  // A failure without an errno, or one rebuilt from its parts: `what` is kept as it is.
  explicit OSError(const std::string& what, std::error_code code = {})
      : Error(what), code_(code) {}
  explicit OSError(const char* what, std::error_code code = {}) : Error(what), code_(code) {}

  const std::error_code& code() const noexcept { return code_; }

 private:
  static std::string compose(int err, std::string_view context) {
    std::string out;
    if (!context.empty()) out.append(context).append(": ");
    out.append("[Errno ").append(std::to_string(err)).append("] ");
    out.append(std::generic_category().message(err));
    return out;
  }
  std::error_code code_;
};

struct ConnectionError : OSError {
  using OSError::OSError;
};
struct ConnectionRefusedError : ConnectionError {
  using ConnectionError::ConnectionError;
};
struct ConnectionResetError : ConnectionError {
  using ConnectionError::ConnectionError;
};
struct BrokenPipeError : ConnectionError {
  using ConnectionError::ConnectionError;
};
struct FileNotFoundError : OSError {
  using OSError::OSError;
};

// Reading past the end of a closed Connection or stream.
struct EOFError : Error {
  using Error::Error;
  EOFError() : Error("end of file: the other end is closed") {}
};

namespace detail {

// Throws the OSError subclass Python raises for `err` (EPIPE: BrokenPipeError, ECONNRESET:
// ConnectionResetError, ECONNREFUSED: ConnectionRefusedError, ENOENT: FileNotFoundError, ...).
[[noreturn]] inline void throw_os_error(int err, std::string_view context = {}) {
  switch (err) {
    case EPIPE:
    case ESHUTDOWN:
      throw BrokenPipeError(err, context);
    case ECONNRESET:
      throw ConnectionResetError(err, context);
    case ECONNREFUSED:
      throw ConnectionRefusedError(err, context);
    case ECONNABORTED:
      throw ConnectionError(err, context);
    case ENOENT:
      throw FileNotFoundError(err, context);
    default:
      throw OSError(err, context);
  }
}

}  // namespace detail
}  // namespace concur
