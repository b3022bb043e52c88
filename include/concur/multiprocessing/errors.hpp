// concur/multiprocessing/errors.hpp — the exceptions of concur::multiprocessing, named after
// Python's multiprocessing.ProcessError, BufferTooShort and managers' RemoteError.
//
// Connections also throw the shared errors of concur/errors.hpp: concur::OSError (a system call
// failed, a broken frame, a closed or read-only end), concur::BrokenPipeError (the peer is
// closed), concur::EOFError (the peer closed and every message was read) and concur::ValueError
// (bytes that do not decode as the type asked for).
// All are plain values: copying one is safe from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "concur/errors.hpp"

namespace concur::multiprocessing {

// Base of the errors of this module (Python's multiprocessing.ProcessError).
struct ProcessError : Error {
  using Error::Error;
};

// A process (or thread) died holding a shared lock: an mp::Lock, mp::RLock, the lock of an
// mp::Condition, a Value's or an Array's lock (synchronize.hpp). Thrown once, by the first
// acquire after the death (or by the waiter the death woke); that acquire leaves the lock
// unlocked and usable, so a std::lock_guard that threw it holds nothing. The data the lock
// guarded may be half-updated: the dead owner may have stopped in the middle of changing it.
struct OwnerDied : ProcessError {
  OwnerDied()
      : ProcessError("the owner of a shared lock died holding it; the lock is free again, but "
                     "the data it guarded may be half-updated") {}
  using ProcessError::ProcessError;
};

// recv_bytes_into() was given a buffer smaller than the message: the whole message is here, in
// message(), and the Connection is ready for the next one (as Python's BufferTooShort.args[0]).
class BufferTooShort : public ProcessError {
 public:
  explicit BufferTooShort(std::vector<std::byte> message)
      : ProcessError("buffer too short for a message of " + std::to_string(message.size()) +
                     " bytes"),
        message_(std::move(message)) {}
  // Rebuilt in another process from its text alone (the message does not travel with it).
  explicit BufferTooShort(const std::string& what) : ProcessError(what) {}

  const std::vector<std::byte>& message() const noexcept { return message_; }

 private:
  std::vector<std::byte> message_;
};

// An exception from another process whose type cannot be rebuilt here (not a concur error, not
// a standard exception type, not registered with mp::register_exception): its type's name and
// its what(). what() reads as Python's last traceback line, "<type>: <what>".
class RemoteError : public ProcessError {
 public:
  RemoteError(std::string type_name, std::string message)
      : ProcessError(message.empty() ? type_name : type_name + ": " + message),
        type_name_(std::move(type_name)),
        message_(std::move(message)) {}

  const std::string& type_name() const noexcept { return type_name_; }
  const std::string& message() const noexcept { return message_; }

 private:
  std::string type_name_;
  std::string message_;
};

}  // namespace concur::multiprocessing
