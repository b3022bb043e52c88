// concur/multiprocessing/pool.hpp — Python's multiprocessing.Pool and AsyncResult (API.md §6.3;
// CPython's Lib/multiprocessing/pool.py).
//
//   mp::Pool pool(4);  mp::Pool pool;                     // cpu_count() processes
//   mp::Pool pool(mp::PoolOptions{.processes = 4, .initializer = init, .initargs = std::tuple{1},
//                                 .maxtasksperchild = 100, .context = "spawn"});
//   R r = pool.apply(fn, args...);
//   mp::AsyncResult<R> ar = pool.apply_async(fn, args...);
//   pool.apply_async(mp::Callbacks<R>{.callback = on_ok, .error_callback = on_err}, fn, args...);
//   ar.get(); ar.get(1s); ar.wait(); ar.wait(1s); ar.ready(); ar.successful();
//   std::vector<R> v = pool.map(fn, inputs);  pool.map(fn, inputs, chunksize);
//   mp::AsyncResult<std::vector<R>> mr = pool.map_async(fn, inputs);
//   for (R r : pool.imap(fn, inputs, chunksize)) {}      // in order
//   for (R r : pool.imap_unordered(fn, inputs)) {}       // as they finish
//   std::vector<R> s = pool.starmap(fn, tuples);  pool.starmap_async(fn, tuples);
//   pool.close(); pool.terminate(); pool.join();         // the destructor is terminate()
//
// Contract
// - Tasks are plain functions or capture-less lambdas of this program, with serializable
//   arguments and a serializable, default-constructible result (serialization.hpp), under every
//   start method, fork included: tasks travel to long-lived workers. Anything else fails to
//   compile with a message. A void function's map results are std::monostate values.
// - Workers start with the pool (a "fork" pool forks them from the constructing thread), are
//   daemonic, and run the initializer once each, even with no task. The initializer is a plain
//   function or a capture-less lambda; initargs is a std::tuple of exactly its parameter types
//   (decayed), else the constructor throws ValueError. A failing initializer breaks the pool:
//   the jobs not done fail with mp::ProcessError naming the worker and the initializer's error,
//   and later submissions throw it (Python's Pool would restart the worker forever).
// - Each worker has a channel of its own. A worker that dies (a crash, kill -9, std::abort,
//   std::exit in a task) fails exactly the jobs it held with mp::ProcessError naming its pid and
//   exit code (or signal), and is replaced; every other job completes. maxtasksperchild: a
//   worker is replaced after that many jobs (a chunk of a map is one job, as in Python), under
//   every start method.
// - chunksize: map, map_async, imap_unordered, starmap and starmap_async default to Python's
//   ceil(len / (4 × processes)); imap's default is 1. A chunk crosses as one message (a chunk of
//   ints as one block of bytes) and its results come back together; a call that throws fails its
//   chunk, and the map with it (with that exception, as soon as it arrives, as Python).
// - imap and imap_unordered submit every chunk at once (the inputs are read at the call) and
//   yield results lazily: imap in input order, imap_unordered as chunks finish. Their ranges are
//   input ranges, iterated by one thread, and rethrow a failed chunk's exception when reached.
// - close(): no more tasks; the workers exit once every queued task is done. terminate(): the
//   workers are ended now (SIGTERM), and every task not done fails with mp::ProcessError ("the
//   pool was terminated": Python's would never complete). join(): waits for the workers to exit
//   (ValueError unless close() or terminate() came first). Submitting after either:
//   ValueError("Pool not running"). The destructor is terminate() and join().
// - Callbacks (Callbacks<R>) and AsyncResult's completion run in the pool's own thread in the
//   parent (Python's result-handler thread): a callback must not block or join the pool.
//   callback receives the result (nothing for void), error_callback the exception.
// - AsyncResult<R> is a copyable handle: get() waits and returns the result (a copy; rethrows
//   the task's exception), get(timeout) throws concur::TimeoutError when not ready in time;
//   wait()/wait(timeout) (true when ready); ready(); successful() (ValueError while not ready).
// Thread-safety: every member may be called from any thread; an imap range by one thread.
// Happens-before: what the parent did before submitting is what the task sees (its arguments);
// a task's end happens before its AsyncResult is ready and before its callbacks run.
// Throws: ValueError as above and for bad options (processes < 1, maxtasksperchild < 1, an
// unknown context); what starting a process throws (OSError; ValueError when an initializer
// argument cannot cross under spawn or forkserver); std::bad_alloc.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <variant>
#include <vector>

#include "concur/deadline.hpp"
#include "concur/errors.hpp"
#include "concur/futures/future.hpp"
#include "concur/futures/wait.hpp"
#include "concur/multiprocessing/context.hpp"
#include "concur/multiprocessing/detail/pool_call.hpp"
#include "concur/multiprocessing/errors.hpp"
#include "concur/multiprocessing/process.hpp"

namespace concur::futures {
class ProcessPoolExecutor;
}

namespace concur::multiprocessing {

// The value a map yields for each call: R, or std::monostate for a void function.
template <class R>
using PoolValue = std::conditional_t<std::is_void_v<R>, std::monostate, R>;

template <class R>
class AsyncResult {
 public:
  // The result (a copy); rethrows the task's exception.
  R get() const { return get_until(Deadline::never()); }
  template <class Rep, class Period>
  R get(std::chrono::duration<Rep, Period> timeout) const {
    return get_until(Deadline::after(timeout));
  }
  void wait() const { future_.wait_until(Deadline::never()); }
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) const {
    return future_.wait_until(Deadline::after(timeout));
  }
  bool ready() const noexcept { return future_.done(); }
  // Whether the task returned without throwing; ValueError while not ready.
  bool successful() const {
    if (!future_.done()) throw ValueError("AsyncResult is not ready");
    return !future_.state_ptr()->failed();
  }
  // The future behind it (cf::wait and cf::as_completed take it).
  const futures::Future<R>& future() const noexcept { return future_; }

  explicit AsyncResult(futures::Future<R> future) : future_(std::move(future)) {}

 private:
  R get_until(const Deadline& deadline) const {
    if (!future_.wait_until(deadline)) throw TimeoutError();
    if constexpr (std::is_void_v<R>) {
      future_.result();
    } else {
      return future_.result();
    }
  }

  futures::Future<R> future_;
};

// apply_async's and map_async's callbacks (Python's callback= and error_callback=), run in the
// pool's thread in the parent.
namespace detail {
template <class R>
struct ResultCallback {
  using type = std::function<void(R)>;
};
template <>
struct ResultCallback<void> {
  using type = std::function<void()>;
};
}  // namespace detail

template <class R>
struct Callbacks {
  typename detail::ResultCallback<R>::type callback{};
  std::function<void(std::exception_ptr)> error_callback{};
};

namespace detail {

template <class T>
inline constexpr bool kIsCallbacks = false;
template <class R>
inline constexpr bool kIsCallbacks<Callbacks<R>> = true;

// The result of one call of a chunk: F(T), or F(A...) for a tuple T under starmap.
template <bool Star, class F, class T>
struct ChunkResult {
  using type = std::invoke_result_t<F&, T>;
};
template <class F, class... A>
struct ChunkResult<true, F, std::tuple<A...>> {
  using type = std::invoke_result_t<F&, A...>;
};

// Whether a call of F on (A...) with result R can be a pool task (pool_call.hpp), and if not,
// ValueError naming what cannot cross, thrown when the task is submitted (as Python's pickle
// refuses a lambda when it is sent, not when the program is compiled).
template <class R, class F, class... A>
inline constexpr bool kPoolTask = kPoolFunction<F> && (Serializable<A> && ...) && kPoolResult<R>;

[[noreturn]] void throw_pool_task_refused(const char* what, const std::type_info& type);

template <class R, class F, class... A>
bool refuse_pool_task() {
  if constexpr (!kPoolFunction<F>) {
    throw_pool_task_refused("the task is not a plain function or a capture-less lambda", typeid(F));
  } else if constexpr (!kPoolResult<R>) {
    throw_pool_task_refused("the task's result is not serializable and default-constructible",
                            typeid(R));
  } else {
    constexpr std::size_t bad = first_unserializable<A...>();
    if constexpr (bad < sizeof...(A)) {
      throw_pool_task_refused("an argument of the task is not serializable",
                              typeid(std::tuple_element_t<bad, std::tuple<A...>>));
    }
  }
  return false;
}
template <bool Star, class R, class F, class T>
bool refuse_pool_chunk() {
  if constexpr (Star) {
    return []<class... A>(std::tuple<A...>*) { return refuse_pool_task<R, F, A...>(); }(
        static_cast<T*>(nullptr));
  } else {
    return refuse_pool_task<R, F, T>();
  }
}

// `n` elements of a map's input from `first`, encoded exactly as a std::vector<T> of them
// (what the worker decodes), without building that vector.
template <class T, class It>
struct ChunkSlice {
  It first;
  std::size_t n;
};
template <class T, class It>
void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const ChunkSlice<T, It>& chunk) {
  const auto n = static_cast<std::uint64_t>(chunk.n);
  ar.saveBinary(&n, sizeof n);
  if constexpr (RawElement<T> && std::contiguous_iterator<It> &&
                std::is_same_v<std::iter_value_t<It>, T>) {
    ar.saveBinary(std::to_address(chunk.first), chunk.n * sizeof(T));
  } else {
    It it = chunk.first;
    for (std::size_t i = 0; i < chunk.n; ++i, ++it) {
      if constexpr (RawElement<T>) {
        const T x = *it;
        ar.saveBinary(&x, sizeof x);
      } else {
        const T& x = *it;
        ar(x);
      }
    }
  }
}

template <class F>
struct Parameters;
template <class R, class... P>
struct Parameters<R (*)(P...)> {
  using type = std::tuple<std::decay_t<P>...>;
};
template <class R, class... P>
struct Parameters<R (*)(P...) noexcept> {
  using type = std::tuple<std::decay_t<P>...>;
};
template <class C, class R, class... P>
struct Parameters<R (C::*)(P...) const> {
  using type = std::tuple<std::decay_t<P>...>;
};
template <class C, class R, class... P>
struct Parameters<R (C::*)(P...) const noexcept> {
  using type = std::tuple<std::decay_t<P>...>;
};

template <class F, class = void>
struct ParametersOf {};
template <class F>
struct ParametersOf<F, std::enable_if_t<std::is_pointer_v<F>>> : Parameters<F> {};
template <class F>
struct ParametersOf<F, std::void_t<decltype(&F::operator())>>
    : Parameters<decltype(&F::operator())> {};

template <class Init, class Tuple>
struct PoolStarter;
template <class Init, class... P>
struct PoolStarter<Init, std::tuple<P...>> {
  static std::unique_ptr<Process> start(std::optional<StartMethod> method, ProcessOptions options,
                                        Connection conn, int owner, CodeLocation init,
                                        const void* initargs) {
    const auto& args = *static_cast<const std::tuple<P...>*>(initargs);
    auto process = std::apply(
        [&](const auto&... a) {
          return std::make_unique<Process>(ContextTag{method}, std::move(options),
                                           PoolWorkerMain<Init, P...>{}, std::move(conn), owner,
                                           std::move(init.object), init.offset, a...);
        },
        args);
    process->start();
    return process;
  }
};

}  // namespace detail

// PoolOptions::initializer: a plain function or a capture-less lambda (not generic).
class PoolInitializer {
 public:
  PoolInitializer() noexcept = default;
  PoolInitializer(std::nullptr_t) noexcept {}
  template <class F>
    requires(!std::is_same_v<std::decay_t<F>, PoolInitializer> &&
             !std::is_same_v<std::decay_t<F>, std::nullptr_t>)
  PoolInitializer(F&& fn) {  // NOLINT: implicit, as a designated initializer needs
    using Fn = std::decay_t<F>;
    static_assert(detail::kPoolFunction<Fn>,
                  "mp::PoolOptions::initializer: a pool's initializer runs in each worker, so it "
                  "must be a plain function or a capture-less lambda");
    using Params = typename detail::ParametersOf<Fn>::type;
    if constexpr (std::is_pointer_v<Fn>) {
      const Fn function = fn;
      if (function == nullptr) return;  // a null function: no initializer
      location_ = detail::pool_code_location(reinterpret_cast<void (*)()>(function));
    }
    params_ = &typeid(Params);
    start_ = &detail::PoolStarter<Fn, Params>::start;
  }
  explicit operator bool() const noexcept { return start_ != nullptr; }

 private:
  friend class Pool;
  friend class futures::ProcessPoolExecutor;
  using Start = std::unique_ptr<Process> (*)(std::optional<detail::StartMethod>, ProcessOptions,
                                             Connection, int, detail::CodeLocation, const void*);
  Start start_ = nullptr;
  const std::type_info* params_ = nullptr;
  detail::CodeLocation location_{};
};

// PoolOptions::initargs: a std::tuple of the initializer's arguments (stored by value).
class PoolInitArgs {
 public:
  PoolInitArgs() : PoolInitArgs(std::tuple<>{}) {}
  template <class... A>
  PoolInitArgs(std::tuple<A...> args)  // NOLINT: implicit, as a designated initializer needs
      : args_(std::make_shared<std::tuple<std::decay_t<A>...>>(std::move(args))),
        type_(&typeid(std::tuple<std::decay_t<A>...>)) {}

 private:
  friend class Pool;
  std::shared_ptr<const void> args_;
  const std::type_info* type_;
};

struct PoolOptions {
  std::optional<int> processes{};          // unset: cpu_count()
  PoolInitializer initializer{};
  PoolInitArgs initargs{};
  std::optional<int> maxtasksperchild{};   // unset: workers live as long as the pool
  std::string context{};                   // "fork", "spawn", "forkserver"; empty: the default
};

namespace detail {
template <class V>
class ChunksInOrder;
template <class V>
class ChunksAsTheyFinish;
template <class V, class Chunks>
class ChunkedResults;
}  // namespace detail

class Pool {
 public:
  Pool() : Pool(PoolOptions{}) {}
  explicit Pool(int processes) : Pool(PoolOptions{.processes = processes}) {}
  explicit Pool(PoolOptions options);
  // The form Context::Pool uses.
  Pool(detail::ContextTag context, PoolOptions options);
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  ~Pool();

  template <class Fn, class... Args>
  auto apply(Fn&& fn, Args&&... args) {
    return apply_async(std::forward<Fn>(fn), std::forward<Args>(args)...).get();
  }

  template <class Fn, class... Args>
    requires(!detail::kIsCallbacks<std::decay_t<Fn>>)
  auto apply_async(Fn&& fn, Args&&... args) {
    using F = std::decay_t<Fn>;
    using R = call_result_t<F, std::decay_t<Args>...>;
    futures::Future<R> future;
    submit_call<R, F, std::decay_t<Args>...>(future, fn, std::forward<Args>(args)...);
    return AsyncResult<R>(std::move(future));
  }
  template <class R, class Fn, class... Args>
  AsyncResult<R> apply_async(Callbacks<R> callbacks, Fn&& fn, Args&&... args) {
    using F = std::decay_t<Fn>;
    static_assert(std::is_same_v<R, call_result_t<F, std::decay_t<Args>...>>,
                  "mp::Pool::apply_async: Callbacks<R> must name the task's result type");
    futures::Future<R> future;
    attach(future, std::move(callbacks));
    submit_call<R, F, std::decay_t<Args>...>(future, fn, std::forward<Args>(args)...);
    return AsyncResult<R>(std::move(future));
  }

  // map: the results in input order; chunksize 0 means Python's default.
  template <class Fn, class Range>
  auto map(Fn&& fn, Range&& inputs, std::size_t chunksize = 0) {
    return map_async(std::forward<Fn>(fn), std::forward<Range>(inputs), chunksize).get();
  }
  template <class Fn, class Range>
  auto map_async(Fn&& fn, Range&& inputs, std::size_t chunksize = 0) {
    return map_with<false>(fn, std::forward<Range>(inputs), chunksize, static_cast<std::nullptr_t*>(nullptr));
  }
  template <class Fn, class Range, class R>
  auto map_async(Fn&& fn, Range&& inputs, std::size_t chunksize, Callbacks<std::vector<R>> cb) {
    return map_with<false>(fn, std::forward<Range>(inputs), chunksize, &cb);
  }
  template <class Fn, class Range>
  auto starmap(Fn&& fn, Range&& inputs, std::size_t chunksize = 0) {
    return starmap_async(std::forward<Fn>(fn), std::forward<Range>(inputs), chunksize).get();
  }
  template <class Fn, class Range>
  auto starmap_async(Fn&& fn, Range&& inputs, std::size_t chunksize = 0) {
    return map_with<true>(fn, std::forward<Range>(inputs), chunksize, static_cast<std::nullptr_t*>(nullptr));
  }

  template <class Fn, class Range>
  auto imap(Fn&& fn, Range&& inputs, std::size_t chunksize = 1) {
    auto chunks = submit_chunks<false>(fn, std::forward<Range>(inputs), chunksize == 0 ? 1 : chunksize);
    using V = typename decltype(chunks)::value_type::value_type::value_type;
    return detail::ChunkedResults<V, detail::ChunksInOrder<V>>(std::move(chunks));
  }
  template <class Fn, class Range>
  auto imap_unordered(Fn&& fn, Range&& inputs, std::size_t chunksize = 0) {
    auto chunks = submit_chunks<false>(fn, std::forward<Range>(inputs), chunksize);
    using V = typename decltype(chunks)::value_type::value_type::value_type;
    return detail::ChunkedResults<V, detail::ChunksAsTheyFinish<V>>(std::move(chunks));
  }

  void close();
  void terminate();
  void join();

  // The number of worker processes.
  int processes() const noexcept;
  // The pids of the live workers (diagnostics, tests).
  std::vector<int> worker_pids() const;

 private:
  template <class F, class... A>
  using call_result_t = std::invoke_result_t<F&, A...>;

  template <class R, class F, class... A, class Fn, class... Args>
  void submit_call(futures::Future<R>& future, Fn& fn, Args&&... args) {
    if (detail::refuse_pool_task<R, F, A...>()) return;
    if constexpr (detail::kPoolTask<R, F, A...>) {
      detail::PoolJob job;
      job.entry = &detail::kPoolCallEntry<R, F, A...>;
      job.function = detail::pool_function<F>(fn);
      detail::encode_payload(job.payload, std::tuple<const A&...>(args...));
      job.state = state_of(future);
      job.complete = &detail::complete_pool_call<R>;
      engine().submit(std::move(job));
    }
  }

  template <class R>
  static futures::detail::StateRef state_of(const futures::Future<R>& f) {
    f.state_ptr()->add_ref();
    return futures::detail::StateRef(f.state_ptr());
  }

  template <class R>
  static void attach(futures::Future<R>& future, Callbacks<R> cb) {
    if (!cb.callback && !cb.error_callback) return;
    future.add_done_callback([cb = std::move(cb)](const futures::Future<R>& f) {
      if (std::exception_ptr e = f.exception()) {
        if (cb.error_callback) cb.error_callback(e);
      } else if (cb.callback) {
        if constexpr (std::is_void_v<R>) cb.callback();
        else cb.callback(f.result());
      }
    });
  }

  std::size_t default_chunksize(std::size_t n) const noexcept {
    const std::size_t per = static_cast<std::size_t>(processes()) * 4;
    return n == 0 ? 1 : (n + per - 1) / per;
  }

  // Submits the inputs in chunks; one future per chunk, of std::vector<PoolValue<R>>.
  template <bool Star, class Fn, class Range>
  auto submit_chunks(Fn& fn, Range&& inputs, std::size_t chunksize) {
    using F = std::decay_t<Fn>;
    using T = std::decay_t<std::ranges::range_reference_t<Range>>;
    using R = typename detail::ChunkResult<Star, F, T>::type;
    using V = PoolValue<R>;
    std::vector<futures::Future<std::vector<V>>> chunks;
    if (detail::refuse_pool_chunk<Star, R, F, T>()) return chunks;
    if constexpr (detail::kPoolTask<R, F, T>) {
    std::vector<detail::PoolJob> jobs;
    auto add_chunk = [&](auto first, std::size_t count) {
      detail::PoolJob job;
      job.entry = &detail::kPoolChunkEntry<R, F, T, Star>;
      job.function = detail::pool_function<F>(fn);
      detail::encode_payload(job.payload, detail::ChunkSlice<T, decltype(first)>{first, count});
      chunks.emplace_back();
      job.state = state_of(chunks.back());
      job.complete = &detail::complete_pool_chunk<R>;
      jobs.push_back(std::move(job));
    };
    auto add_all = [&](auto& range, std::size_t n) {
      if (chunksize == 0) chunksize = default_chunksize(n);
      jobs.reserve((n + chunksize - 1) / chunksize);
      chunks.reserve(jobs.capacity());
      auto it = std::ranges::begin(range);
      for (std::size_t begin = 0; begin < n; begin += chunksize) {
        const std::size_t count = std::min(n - begin, chunksize);
        add_chunk(it, count);
        std::ranges::advance(it, static_cast<std::ranges::range_difference_t<decltype(range)>>(count));
      }
    };
    if constexpr (std::ranges::forward_range<Range> && std::ranges::sized_range<Range> &&
                  !std::is_same_v<T, bool>) {
      // Each chunk is encoded straight from the input (as a std::vector<T> would be).
      add_all(inputs, static_cast<std::size_t>(std::ranges::size(inputs)));
    } else {
      std::vector<T> all;  // a single-pass or unsized input is read once, here
      for (auto&& x : inputs) all.emplace_back(std::forward<decltype(x)>(x));
      add_all(all, all.size());
    }
    engine().submit(jobs);
    }
    return chunks;
  }

  template <bool Star, class Fn, class Range, class CB>
  auto map_with(Fn& fn, Range&& inputs, std::size_t chunksize, CB* callbacks) {
    auto chunks = submit_chunks<Star>(fn, std::forward<Range>(inputs), chunksize);
    using V = typename decltype(chunks)::value_type::value_type::value_type;
    futures::Future<std::vector<V>> total;
    if constexpr (!std::is_same_v<CB, std::nullptr_t>) attach(total, std::move(*callbacks));
    gather(chunks, total);
    return AsyncResult<std::vector<V>>(std::move(total));
  }

  // Completes `total` with the chunks' results in order, or with the first failure.
  template <class V>
  static void gather(std::vector<futures::Future<std::vector<V>>>& chunks,
                     futures::Future<std::vector<V>>& total) {
    if (chunks.empty()) {
      total.set_running_or_notify_cancel();
      total.set_result(std::vector<V>{});
      return;
    }
    total.set_running_or_notify_cancel();
    struct Gather {
      std::vector<futures::Future<std::vector<V>>> chunks;
      futures::Future<std::vector<V>> total;
      std::atomic<std::size_t> remaining{0};
    };
    auto g = std::make_shared<Gather>();
    g->chunks = chunks;
    g->total = total;
    g->remaining.store(chunks.size(), std::memory_order_relaxed);
    for (auto& c : chunks) {
      c.add_done_callback([g](const futures::Future<std::vector<V>>& f) {
        auto* state = static_cast<futures::detail::State<std::vector<V>>*>(g->total.state_ptr());
        if (std::exception_ptr e = f.exception()) {
          state->try_set_exception(e);
          return;
        }
        if (g->remaining.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
        try {
          std::vector<V> all;
          std::size_t n = 0;
          for (auto& part : g->chunks) n += part.result().size();
          all.reserve(n);
          for (auto& part : g->chunks) {
            auto& v = static_cast<futures::detail::State<std::vector<V>>*>(part.state_ptr())->value();
            std::move(v.begin(), v.end(), std::back_inserter(all));
          }
          g->chunks.clear();
          state->try_set_value(std::move(all));
        } catch (...) {
          state->try_set_exception(std::current_exception());
        }
      });
    }
  }

  detail::WorkerPool& engine() const;

  std::unique_ptr<detail::WorkerPool> engine_;
  std::atomic<bool> stopped_{false};  // close() or terminate() was called
};

namespace detail {

// Where an imap range takes its chunks from: in input order (imap)...
template <class V>
class ChunksInOrder {
 public:
  explicit ChunksInOrder(std::vector<futures::Future<std::vector<V>>> chunks)
      : chunks_(chunks.begin(), chunks.end()) {}
  // The next chunk's results (nullopt at the end); TimeoutError when not ready in time.
  std::optional<std::vector<V>> take(const Deadline& deadline) {
    if (chunks_.empty()) return std::nullopt;
    if (!chunks_.front().wait_until(deadline)) throw TimeoutError();
    std::vector<V> values = std::move(chunks_.front()).result();
    chunks_.pop_front();
    return values;
  }

 private:
  std::deque<futures::Future<std::vector<V>>> chunks_;
};

// ... or as the chunks finish (imap_unordered). Must not move once taken from (the iteration of
// AsCompleted points at it).
template <class V>
class ChunksAsTheyFinish {
 public:
  explicit ChunksAsTheyFinish(std::vector<futures::Future<std::vector<V>>> chunks)
      : order_(futures::as_completed(chunks)) {}
  std::optional<std::vector<V>> take(const Deadline&) {
    if (!started_) {
      it_ = order_.begin();
      started_ = true;
    } else {
      ++it_;
    }
    if (it_ == order_.end()) return std::nullopt;
    return (*it_).result();
  }

 private:
  futures::AsCompleted<std::vector<V>> order_;
  typename futures::AsCompleted<std::vector<V>>::iterator it_{};
  bool started_ = false;
};

// The results of imap / imap_unordered, one chunk's worth at a time: a single-pass input range.
template <class V, class Chunks>
class ChunkedResults {
 public:
  using value_type = V;
  explicit ChunkedResults(std::vector<futures::Future<std::vector<V>>> chunks)
      : chunks_(std::move(chunks)) {}

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = V;
    using difference_type = std::ptrdiff_t;
    using reference = V;
    using pointer = void;
    iterator() = default;
    explicit iterator(ChunkedResults* r) : r_(r) { r_->settle(Deadline::never()); }
    V operator*() const { return std::move(r_->current_[r_->index_]); }
    iterator& operator++() {
      ++r_->index_;
      r_->settle(Deadline::never());
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& a, const iterator& b) { return a.end() == b.end(); }
    friend bool operator==(const iterator& a, std::default_sentinel_t) { return a.end(); }

   private:
    bool end() const { return r_ == nullptr || r_->done_; }
    ChunkedResults* r_ = nullptr;
  };
  iterator begin() { return iterator(this); }
  iterator end() const noexcept { return iterator(); }

  // imap only: the next result, waiting at most `timeout` (Python's IMapIterator.next(timeout)):
  // nullopt at the end; TimeoutError when it is not ready in time.
  template <class Rep, class Period>
    requires std::is_same_v<Chunks, ChunksInOrder<V>>
  std::optional<V> next(std::chrono::duration<Rep, Period> timeout) {
    settle(Deadline::after(timeout));
    if (done_) return std::nullopt;
    return std::move(current_[index_++]);
  }

 private:
  // Moves to the next result available, waiting for its chunk.
  void settle(const Deadline& deadline) {
    while (!done_ && index_ >= current_.size()) {
      std::optional<std::vector<V>> values = chunks_.take(deadline);
      if (!values) {
        done_ = true;
        return;
      }
      current_ = std::move(*values);
      index_ = 0;
    }
  }

  Chunks chunks_;
  std::vector<V> current_;
  std::size_t index_ = 0;
  bool done_ = false;
};

}  // namespace detail

// pool.imap(...): the results in input order, each chunk waited for when reached.
template <class V>
using ImapRange = detail::ChunkedResults<V, detail::ChunksInOrder<V>>;
// pool.imap_unordered(...): the results as their chunks finish.
template <class V>
using ImapUnorderedRange = detail::ChunkedResults<V, detail::ChunksAsTheyFinish<V>>;

}  // namespace concur::multiprocessing
