// concur/multiprocessing/context.hpp — start methods and contexts (API.md §6.1; CPython's
// Lib/multiprocessing/context.py).
//
//   mp::set_start_method("spawn");              // "fork" (the default), "spawn", "forkserver"
//   mp::set_start_method("fork", /*force=*/true);
//   std::string m = mp::get_start_method();
//   mp::Context ctx = mp::get_context("forkserver");   // or get_context(): the default context
//   mp::Process p = ctx.Process(action, args...);       // started with the context's method
//   ctx.get_start_method();
//
// Contract
// - set_start_method(name): ValueError for a name that is not "fork", "spawn" or "forkserver";
//   RuntimeError ("context has already been set") when a method was already set and force is
//   false. force = true replaces it. (Unlike CPython, get_start_method() and starting a
//   Process do not fix the default: only set_start_method() does.) A child started by spawn or
//   forkserver begins with its parent's setting; a child started through a Context uses that
//   context's method as its own default, as CPython's.
// - get_context(name): ValueError for an unknown name; get_context() is the default context,
//   whose start method is whatever get_start_method() says when its Process starts.
// - Context is a small value (copyable; API.md's users never need to copy it) returned by
//   value. ctx.Process(...) takes the same arguments as mp::Process's constructors and returns
//   the Process by guaranteed copy elision (Process is neither copyable nor movable):
//   `mp::Process p = ctx.Process(f, a);` or `auto p = ctx.Process(f, a);`.
// - ctx.Pool(...) (API.md §6.3) builds an mp::Pool (pool.hpp) with this context's start method
//   (unless PoolOptions::context names one).
// Thread-safety: every function may be called from any thread; set_start_method() races with
// a concurrent start() only in which method that start() uses.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "concur/multiprocessing/process.hpp"

namespace concur::multiprocessing {

class Pool;
struct PoolOptions;

void set_start_method(std::string_view method, bool force = false);
std::string get_start_method();
// The start methods this platform offers: {"fork", "spawn", "forkserver"}.
std::vector<std::string> get_all_start_methods();

class Context {
 public:
  // The name of this context's start method (the default context: get_start_method()).
  std::string get_start_method() const;

  // A Process started with this context's method: ctx.Process(fn, args...),
  // ctx.Process(ProcessOptions{...}, fn, args...), ctx.Process().
  template <class... A>
  multiprocessing::Process Process(A&&... a) const {
    return multiprocessing::Process(detail::ContextTag{method_}, std::forward<A>(a)...);
  }

  // ctx.Pool(4), ctx.Pool(PoolOptions{...}): a Pool whose workers start with this context's
  // method (unless PoolOptions::context names another). Defined in pool.hpp.
  multiprocessing::Pool Pool() const;
  multiprocessing::Pool Pool(int processes) const;
  multiprocessing::Pool Pool(PoolOptions options) const;

  // The module functions, as CPython's context objects have them.
  ProcessRef current_process() const { return multiprocessing::current_process(); }
  std::optional<ProcessRef> parent_process() const {
    return multiprocessing::parent_process();
  }
  std::vector<ProcessRef> active_children() const {
    return multiprocessing::active_children();
  }
  int cpu_count() const { return multiprocessing::cpu_count(); }

  // The start method of a named context; nullopt for the default context.
  std::optional<detail::StartMethod> method() const noexcept { return method_; }

 private:
  friend Context get_context(std::string_view method);
  friend Context get_context();
  explicit Context(std::optional<detail::StartMethod> method) noexcept : method_(method) {}

  std::optional<detail::StartMethod> method_;
};

Context get_context(std::string_view method);
Context get_context();

}  // namespace concur::multiprocessing
