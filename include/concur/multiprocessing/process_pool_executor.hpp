// concur/multiprocessing/process_pool_executor.hpp — Python's
// concurrent.futures.ProcessPoolExecutor (API.md §6.4; CPython's
// Lib/concurrent/futures/process.py), in namespace concur::futures and included by
// <concur/futures.hpp> as Python's module has it, built on multiprocessing's pool engine
// (detail/pool_call.hpp) and plugged into the Executor seam (futures/executor.hpp, call_form.hpp).
//
//   cf::ProcessPoolExecutor ex;  cf::ProcessPoolExecutor ex(2);
//   cf::ProcessPoolExecutor ex(cf::ProcessPoolOptions{.max_workers = 2, .mp_context = "forkserver",
//                                                    .initializer = init, .max_tasks_per_child = 100});
//   cf::Future<R> f = ex.submit(fn, args...);
//   for (R r : ex.map(fn, inputs, cf::MapOptions{.chunksize = 1000, .buffersize = 8})) {}
//   ex.shutdown(); ex.terminate_workers(); ex.kill_workers();
//
// Contract
// - An Executor (executor.hpp): its futures work with cf::wait, cf::as_completed and callbacks
//   (run in the executor's thread in the parent). Tasks are plain functions or capture-less
//   lambdas with serializable arguments and a serializable, default-constructible result, under
//   every start method; anything else makes submit() (or map()) throw ValueError naming it. A
//   task submitted through an `Executor&` must have been submitted or mapped once through the
//   ProcessPoolExecutor type itself (that instantiates its serializers), else ValueError.
// - Workers (max_workers, default cpu_count(); ValueError when < 1) start with the executor and
//   run the initializer (a plain function taking no arguments) once each. max_tasks_per_child:
//   a worker is replaced after that many tasks, with every start method (Python refuses it with
//   fork, gh-90622, and once hung when a worker retired, gh-115634).
// - A worker that dies (a crash, kill -9, std::abort, std::exit in a task), or an initializer
//   that throws, breaks the executor: every running and pending future fails with
//   cf::BrokenProcessPool naming the worker's pid and exit code, the other workers are ended,
//   and later submit() calls throw BrokenProcessPool. A future is "running" once it was sent to
//   a worker; pending ones can be cancelled.
// - A result that cannot be encoded (its serialize() throws) fails that task only.
// - map(): MapOptions::chunksize and buffersize as Executor::map; the calls of a map are sent to
//   the workers in batches.
// - shutdown(wait, cancel_futures): Python's. terminate_workers() / kill_workers() (Python
//   3.14): shutdown(wait = false, cancel_futures = true), then SIGTERM / SIGKILL to every
//   worker; the futures that were running fail with BrokenProcessPool. The destructor is
//   shutdown(wait = true).
// Thread-safety: every member may be called from any thread, except that shutdown(wait = true)
// must not be called from a callback (RuntimeError).
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "concur/futures/errors.hpp"
#include "concur/futures/executor.hpp"
#include "concur/multiprocessing/detail/pool_call.hpp"
#include "concur/multiprocessing/pool.hpp"

namespace concur::multiprocessing::detail {

// How a ProcessPoolExecutor sends one kind of call (a function type and its argument tuple),
// found from the task's CallForm (futures/detail/call_form.hpp).
struct CallCodec {
  const PoolEntry* entry;
  void (*encode)(const void* arguments, JobBytes& out);
  void (*complete)(futures::detail::StateBase& state, std::span<const std::byte> payload);
};
// Registers `codec` (the first registration of a pair wins); returns the one registered.
const CallCodec* register_call_codec(const std::type_info& function,
                                     const std::type_info& arguments, const CallCodec& codec);
const CallCodec* find_call_codec(const std::type_info& function, const std::type_info& arguments);

template <class... A>
void encode_pool_arguments(const void* arguments, JobBytes& out) {
  encode_payload(out, *static_cast<const std::tuple<A...>*>(arguments));
}

// Registers the codec of F(A...) once per program and returns it; ValueError
// (refuse_pool_task) when it cannot be a pool task; nullptr when F cannot be called so (the
// Executor's submit or map then gives the compile error).
template <class F, class... A>
const CallCodec* ensure_call_codec() {
  if constexpr (!std::is_invocable_v<F&, A...>) {
    return nullptr;
  } else {
    using R = std::invoke_result_t<F&, A...>;
    refuse_pool_task<R, F, A...>();
    if constexpr (kPoolTask<R, F, A...>) {
      static const CallCodec* const codec = register_call_codec(
          typeid(F), typeid(std::tuple<A...>),
          CallCodec{&kPoolCallEntry<R, F, A...>, &encode_pool_arguments<A...>,
                    &complete_pool_call<R>});
      return codec;
    } else {
      return nullptr;
    }
  }
}

template <class T>
inline constexpr bool kMapOption =
    std::is_same_v<std::remove_cvref_t<T>, futures::MapOptions> ||
    futures::detail::is_duration_v<std::remove_cvref_t<T>>;

// ensure_call_codec for a map(fn, ranges..., [timeout or MapOptions]).
template <class F, class... Ranges, std::size_t... I>
void ensure_map_codec(std::index_sequence<I...>) {
  using All = std::tuple<Ranges...>;
  if constexpr ((std::ranges::input_range<std::tuple_element_t<I, All>> && ...)) {
    ensure_call_codec<F, std::decay_t<std::ranges::range_reference_t<std::tuple_element_t<I, All>>>...>();
  }
}

}  // namespace concur::multiprocessing::detail

namespace concur::futures {

struct ProcessPoolOptions {
  std::optional<int> max_workers{};          // unset: cpu_count()
  std::string mp_context{};                  // "fork", "spawn", "forkserver"; empty: the default
  void (*initializer)() = nullptr;           // run once in each worker
  std::optional<int> max_tasks_per_child{};  // unset: workers live as long as the executor
};

class ProcessPoolExecutor : public Executor {
 public:
  ProcessPoolExecutor() : ProcessPoolExecutor(ProcessPoolOptions{}) {}
  explicit ProcessPoolExecutor(int max_workers)
      : ProcessPoolExecutor(ProcessPoolOptions{.max_workers = max_workers}) {}
  explicit ProcessPoolExecutor(ProcessPoolOptions options);
  ~ProcessPoolExecutor() override;

  template <class Fn, class... Args>
  auto submit(Fn&& fn, Args&&... args) {
    using F = std::decay_t<Fn>;
    const multiprocessing::detail::CallCodec* codec =
        multiprocessing::detail::ensure_call_codec<F, std::decay_t<Args>...>();
    if constexpr (std::is_invocable_v<F&, std::decay_t<Args>...>) {
      // The task and its future, as Executor::submit makes them, sent with the codec in hand.
      using R = std::invoke_result_t<F&, std::decay_t<Args>...>;
      if constexpr (std::is_pointer_v<F>) {
        const F function = fn;
        if (function == nullptr) throw ValueError("ProcessPoolExecutor::submit: a null function pointer");
      }
      auto* task = new detail::TaskState<R, F, std::decay_t<Args>...>(std::forward<Fn>(fn),
                                                                         std::forward<Args>(args)...);
      task->add_ref();  // one reference for the Future, one for the engine
      Future<R> future{detail::StateRef(task)};
      enqueue_with(detail::StateRef(task), codec);
      return future;
    } else {
      (void)codec;
      return Executor::submit(std::forward<Fn>(fn), std::forward<Args>(args)...);
    }
  }

  template <class Fn, class... Args>
  auto map(Fn&& fn, Args&&... args) {
    using Last = std::tuple_element_t<sizeof...(Args) - 1, std::tuple<Args...>>;
    constexpr std::size_t ranges =
        multiprocessing::detail::kMapOption<Last> ? sizeof...(Args) - 1 : sizeof...(Args);
    multiprocessing::detail::ensure_map_codec<std::decay_t<Fn>, Args...>(
        std::make_index_sequence<ranges>{});
    return Executor::map(std::forward<Fn>(fn), std::forward<Args>(args)...);
  }

  void shutdown(bool wait = true, bool cancel_futures = false) override;
  // Python 3.14: shutdown(false, true), then SIGTERM (SIGKILL) to every worker.
  void terminate_workers();
  void kill_workers();

  int max_workers() const noexcept;
  // The pids of the live workers (diagnostics, tests).
  std::vector<int> worker_pids() const;

 protected:
  // A map's calls go the same way: the engine sends whatever is queued for a worker as one
  // message, so chunksize needs no batching here.
  void enqueue(detail::StateRef task) override;

 private:
  void force_shutdown(bool kill);
  // enqueue() with the codec known (nullptr: look it up).
  void enqueue_with(detail::StateRef task, const multiprocessing::detail::CallCodec* codec);

  std::unique_ptr<multiprocessing::detail::WorkerPool> engine_;
  std::atomic<bool> shutdown_{false};
};

}  // namespace concur::futures
