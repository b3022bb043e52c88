// concur/futures/detail/call_form.hpp — a submitted call in a form that can leave the process:
// the seam through which a process or cluster executor (multiprocessing, mpi) runs the tasks
// that Executor::submit() and map() create.
//
// A thread pool runs a task by calling it in place (StateBase::run()). An executor whose workers
// live in other processes cannot: it must name the function in a way another process of the
// same program understands, and send the arguments as bytes. A task offers that form when its
// function is a plain function (or a capture-less lambda, which is one in disguise):
//   invoke, target  plain functions of this program: their addresses are the same in every
//                   process forked from this one, and their offsets from the image base name
//                   them in a process started anew (spawn);
//   arguments       the std::tuple of the (decayed) arguments, owned by the task;
//   arguments_type  typeid of that tuple, so that an executor can find the serializer it
//                   registered for it (cereal, in multiprocessing) or refuse the call with a
//                   ValueError naming the type, before any process starts.
// A call whose function captures state (a lambda with captures, a std::function) has no call
// form: such an executor refuses it, as Python's pickle refuses a lambda.
//
// Thread-safety: a CallForm is immutable and lives as long as its task.
#pragma once

#include <typeinfo>

namespace concur::futures::detail {

class StateBase;

struct CallForm {
  // The plain function that runs the call: invoke(target, arguments, state) calls the user's
  // function on `arguments` (a std::tuple of the decayed argument types) and stores the
  // outcome in `state` (a State<R> of the call's result type), as a worker does.
  void (*invoke)(void (*target)(), void* arguments, StateBase& state) noexcept = nullptr;
  // The user's plain function, or null for a capture-less lambda (invoke makes its own).
  void (*target)() = nullptr;
  void* arguments = nullptr;
  const std::type_info* arguments_type = nullptr;
  const std::type_info* function_type = nullptr;  // the user's function (or lambda) type
};

}  // namespace concur::futures::detail
