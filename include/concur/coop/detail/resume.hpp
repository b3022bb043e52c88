// concur/coop/detail/resume.hpp — what Task and Generator share: the flag that refuses re-entry
// ("generator already executing") and the resume step that rethrows the body's exception.
#pragma once

#include <coroutine>
#include <exception>
#include <utility>

#include "concur/errors.hpp"

namespace concur::coop::detail {

// The state every coop promise carries besides its values.
struct FrameState {
  std::exception_ptr error;  // what escaped the body; rethrown once, by the resume that saw it
  bool running = false;      // the body is executing (a resume is on the stack)
  bool started = false;      // the body has been resumed at least once
};

[[noreturn]] inline void throw_already_executing() {
  throw ValueError("generator already executing");
}

// Resumes h (not done) once, until its next suspension point or its end. If the body threw, the
// frame is now finished and the exception is rethrown here, once.
template <class Promise>
void resume_once(std::coroutine_handle<Promise> h) {
  FrameState& s = h.promise();
  if (s.running) throw_already_executing();
  s.running = true;
  s.started = true;
  h.resume();  // the promise's unhandled_exception() keeps the body's exception: no throw here
  s.running = false;
  if (s.error) [[unlikely]]
    std::rethrow_exception(std::exchange(s.error, nullptr));
}

}  // namespace concur::coop::detail
