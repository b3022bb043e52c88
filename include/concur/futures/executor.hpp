// concur/futures/executor.hpp — Executor: Python's concurrent.futures.Executor, the interface
// every executor shares (the thread pool now; process pools and cluster executors later).
//
//   cf::Future<R> f = ex.submit(fn, args...);   // R = fn's result (void too)
//   for (R r : ex.map(fn, inputs)) {}            // every call submitted at once, results in
//   for (R r : ex.map(fn, inputs, 2s)) {}        // input order, lazily; an exception is
//   for (auto r : ex.map(fn2, xs, ys)) {}        // rethrown when its result is reached; the
//   ex.map(fn, inputs, cf::MapOptions{.timeout = 2s, .buffersize = 64})  // timeout counts
//                                                // from the map() call; several ranges zip,
//                                                // the shortest wins
//   ex.shutdown(wait = true, cancel_futures = false)
//
// submit() copies (or moves) fn and args into one allocation that is both the task and the
// future's shared state, and hands it to the executor's enqueue(). The Future machinery
// (future_state.hpp) knows nothing of threads: an executor only calls
// set_running_or_notify_cancel() and stores the outcome, through TaskState::run().
//
// map() with MapOptions::buffersize submits at most that many calls ahead of the consumer (as
// Python 3.14), so a huge or endless input range does not fill memory; the input is then read
// lazily, and must outlive the iteration if passed as an lvalue (an rvalue range is kept by the
// map object). Leaving a map iteration early (destroying the range after begin()) cancels the
// calls that have not started; a map result that is never iterated lets every call run, as in
// Python. A function that returns nothing yields std::monostate values (Python yields None).
//
// Happens-before: what a thread did before submit() (or before map() submitted a call) happens
// before the call runs; what the call did happens before its Future's result()/exception()
// returns, and before a map iteration yields its result.
//
// Thread-safety: submit() and map() may be called concurrently; a map range is iterated by one
// thread. A map range may outlive its executor: it then yields what was submitted and stops.
// Errors: submit() after shutdown() throws RuntimeError; a broken executor throws
// BrokenExecutor. A submit() that throws (those, std::bad_alloc, RuntimeError "can't start new
// thread") has submitted nothing: its call never runs. A map() that throws cancels the calls it
// had submitted; only a call a worker had already started still runs.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <tuple>
#include <typeinfo>
#include <type_traits>
#include <utility>
#include <variant>

#include "concur/detail/block_cache.hpp"
#include "concur/detail/block_flag.hpp"
#include "concur/deadline.hpp"
#include "concur/errors.hpp"
#include "concur/futures/future.hpp"

namespace concur::futures {

// Options of Executor::map (Python's timeout=, chunksize=, buffersize=).
struct MapOptions {
  std::optional<std::chrono::duration<double>> timeout{};  // from the map() call; unset: none
  int chunksize = 1;  // reaches the executor (enqueue_map_call); a thread pool ignores it
  std::optional<long> buffersize{};     // unset: submit everything at once; else >= 1
};

namespace detail {

// Calls `fn` on `args` and stores the outcome in `state`; what every worker does with a task.
template <class R, class Fn, class Tuple>
void run_call(Fn& fn, Tuple&& args, State<R>& state) noexcept {
  if (!state.set_running_or_notify_cancel()) {  // cancelled while queued
    StateBase::task_finishing();
    return;
  }
  try {
    if constexpr (std::is_void_v<R>) {
      std::apply(fn, std::forward<Tuple>(args));
      StateBase::task_finishing();
      state.try_set_value();
    } else {
      R value = std::apply(fn, std::forward<Tuple>(args));
      StateBase::task_finishing();
      state.try_set_value(std::move(value));
    }
  } catch (...) {
    // The call threw, or storing its value did; either way the future, if nobody completed it
    // meanwhile, fails with that exception (never a throw out of this noexcept function).
    StateBase::task_finishing();
    state.try_set_exception(std::current_exception());
  }
}

// A function type with a call form (call_form.hpp): a plain function pointer, or a capture-less
// lambda (empty and default-constructible: another process can make its own).
template <class Fn>
inline constexpr bool has_call_form_v =
    (std::is_pointer_v<Fn> && std::is_function_v<std::remove_pointer_t<Fn>>) ||
    (std::is_empty_v<Fn> && std::is_default_constructible_v<Fn>);

// The task and the future's state in one allocation: fn and its arguments, stored by value.
template <class R, class Fn, class... Args>
class TaskState final : public State<R> {
 public:
  template <class F, class... A>
  explicit TaskState(F&& fn, A&&... args)
      : fn_(std::forward<F>(fn)), args_(std::forward<A>(args)...) {}

  bool call_form(CallForm& form) noexcept override {
    if constexpr (has_call_form_v<Fn>) {
      form.invoke = &invoke_elsewhere;
      if constexpr (std::is_pointer_v<Fn>) form.target = reinterpret_cast<void (*)()>(fn_);
      form.arguments = &args_;
      form.arguments_type = &typeid(std::tuple<Args...>);
      form.function_type = &typeid(Fn);
      return true;
    } else {
      return false;
    }
  }

  // One task per submit(): from the per-thread block cache, not a fresh malloc each time; an
  // over-aligned function or argument (alignas(128)) needs the aligned operator new instead.
  static constexpr bool kOverAligned = alignof(TaskState) > __STDCPP_DEFAULT_NEW_ALIGNMENT__;
  static void* operator new(std::size_t size) {
    if constexpr (kOverAligned) return ::operator new(size, std::align_val_t{alignof(TaskState)});
    else return concur::detail::BlockCache::allocate(size);
  }
  static void operator delete(void* p, std::size_t size) noexcept {
    if constexpr (kOverAligned) concur::detail::free_sized(p, size, std::align_val_t{alignof(TaskState)});
    else concur::detail::BlockCache::deallocate(p, size);
  }

  void run() noexcept override { run_call(fn_, std::move(args_), *this); }

 private:
  // CallForm::invoke for this call's types: what a worker in another process runs, on the
  // arguments it received and a state of its own.
  static void invoke_elsewhere(void (*target)(), void* arguments, StateBase& state) noexcept {
    (void)target;  // null for a capture-less lambda
    Fn fn = [&] {
      if constexpr (std::is_pointer_v<Fn>) return reinterpret_cast<Fn>(target);
      else return Fn{};
    }();
    run_call(fn, std::move(*static_cast<std::tuple<Args...>*>(arguments)),
             static_cast<State<R>&>(state));
  }

  Fn fn_;
  std::tuple<Args...> args_;
};

// The result type fn declares, when it has exactly one signature (a function, a lambda that is
// not generic), else void: what a rejected submit() or map() returns, so that the caller's use
// of the result adds no error to the one that says what is wrong.
template <class Fn, class = void>
struct DeclaredResult {
  using type = void;
};
template <class Fn>
struct DeclaredResult<Fn, std::void_t<decltype(std::function{std::declval<Fn>()})>> {
  using type = typename decltype(std::function{std::declval<Fn>()})::result_type;
};

// How map() holds one input range: an lvalue by reference, an rvalue by value.
template <class Range>
using HeldRange =
    std::conditional_t<std::is_lvalue_reference_v<Range>, Range, std::remove_cvref_t<Range>>;

template <class T>
inline constexpr bool is_duration_v = false;
template <class Rep, class Period>
inline constexpr bool is_duration_v<std::chrono::duration<Rep, Period>> = true;

}  // namespace detail

template <class R>
class MapRange;

class Executor {
 public:
  Executor() = default;
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;
  // A buffered map() range that outlives its executor stops submitting (as CPython's, which
  // holds the executor by weak reference) instead of calling into a destroyed object.
  virtual ~Executor() { *alive_ = nullptr; }

  // Copies (or moves) fn and each argument into the task, as std::thread does: a function that
  // takes a reference gets one to the task's copy, unless the argument is std::ref(x).
  template <class Fn, class... Args>
  auto submit(Fn&& fn, Args&&... args) {
    if constexpr (std::is_invocable_v<std::decay_t<Fn>&, std::decay_t<Args>...>) {
      return submit_with(0, std::forward<Fn>(fn), std::forward<Args>(args)...);
    } else {
      // One message at the caller's line instead of a substitution failure deep in here.
      static_assert(!std::is_invocable_v<std::decay_t<Fn>&, std::decay_t<Args>&...>,
                    "submit(fn, args...): fn takes a non-const reference, but submit copies its "
                    "arguments; pass std::ref(x) (or std::cref(x)) to share x itself");
      static_assert(std::is_invocable_v<std::decay_t<Fn>&, std::decay_t<Args>&...>,
                    "submit(fn, args...): fn cannot be called with these arguments (check their "
                    "number and types against fn's parameters)");
      return Future<typename detail::DeclaredResult<std::decay_t<Fn>>::type>{};
    }
  }

  // map(fn, ranges...), map(fn, ranges..., timeout), map(fn, ranges..., MapOptions)
  template <class Fn, class... Args>
  auto map(Fn&& fn, Args&&... args);

  // Python's shutdown(wait=True, *, cancel_futures=False).
  virtual void shutdown(bool wait = true, bool cancel_futures = false) = 0;

 protected:
  // Takes one reference to a task whose run() the executor must call exactly once (or cancel
  // it). Throws RuntimeError after shutdown, BrokenExecutor when broken. An executor that runs
  // tasks in other processes takes the call's form instead (task->call_form(), call_form.hpp).
  virtual void enqueue(detail::StateRef task) = 0;

  // The calls of one map(): MapOptions::chunksize (>= 1) reaches the executor here. A thread
  // pool ignores it (as Python's); a process pool may send `chunksize` consecutive calls as one
  // message, and must send what it holds back when flush_map_calls() is called: map() calls it
  // whenever its consumer is about to wait for a result, and when its input ends.
  virtual void enqueue_map_call(detail::StateRef task, int chunksize) {
    (void)chunksize;
    enqueue(std::move(task));
  }
  virtual void flush_map_calls() {}

 private:
  // submit(), or one call of a map() when chunksize >= 1.
  template <class Fn, class... Args>
  auto submit_with(int chunksize, Fn&& fn, Args&&... args)
      -> Future<std::invoke_result_t<std::decay_t<Fn>&, std::decay_t<Args>...>> {
    using R = std::invoke_result_t<std::decay_t<Fn>&, std::decay_t<Args>...>;
    auto* task = new detail::TaskState<R, std::decay_t<Fn>, std::decay_t<Args>...>(
        std::forward<Fn>(fn), std::forward<Args>(args)...);
    task->add_ref();  // one reference for the Future, one for the queue
    Future<R> future{detail::StateRef(task)};
    // On a throw, the StateRef gives its reference back.
    if (chunksize > 0)
      enqueue_map_call(detail::StateRef(task), chunksize);
    else
      enqueue(detail::StateRef(task));
    return future;
  }

  template <class Fn, class... Ranges>
  auto map_with(const MapOptions& options, Fn&& fn, Ranges&&... ranges);

  std::shared_ptr<Executor*> alive_ = std::make_shared<Executor*>(this);
};

// The results of Executor::map: an input range of R (std::monostate for a void function), in
// input order. See executor.hpp.
template <class R>
class MapRange {
 public:
  using value_type = std::conditional_t<std::is_void_v<R>, std::monostate, R>;

  // Submits the next call, or returns nullopt when the input is exhausted.
  using Source = std::function<std::optional<Future<R>>()>;
  // Sends the calls submitted so far (Executor::flush_map_calls).
  using Flush = std::function<void()>;

  MapRange(Source source, Flush flush, const MapOptions& options)
      : source_(std::move(source)), flush_(std::move(flush)) {
    if (options.timeout) deadline_ = Deadline::after(*options.timeout);
    if (options.buffersize && *options.buffersize < 1)
      throw ValueError("buffersize must be None or >= 1");
    if (options.buffersize) ahead_ = static_cast<std::size_t>(*options.buffersize);
    try {
      fill();
    } catch (...) {
      // A map() that throws has submitted nothing: the calls it did submit are cancelled (all of
      // them that have not started yet; no destructor runs for a constructor that threw).
      for (auto& f : pending_) f.cancel();
      throw;
    }
  }
  MapRange(MapRange&&) = default;
  MapRange& operator=(MapRange&&) = default;
  // Leaving an iteration early cancels what has not started (Python's result_iterator does the
  // same); a result never iterated leaves its calls to run.
  ~MapRange() {
    if (started_)
      for (auto& f : pending_) f.cancel();
  }

  // A single-pass input iterator; end() is a default-constructed one, so that the range is a
  // common range: std::vector<R> v(r.begin(), r.end()) is Python's list(executor.map(...)).
  // Each *it waits for the next result (and rethrows its exception); it may be read once.
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = MapRange::value_type;
    using difference_type = std::ptrdiff_t;
    using reference = value_type;
    using pointer = void;
    iterator() = default;
    explicit iterator(MapRange* m) : m_(m) {}
    value_type operator*() const { return m_->current(); }
    iterator& operator++() {
      m_->advance();
      return *this;
    }
    void operator++(int) { ++*this; }
    // Iterators are equal when both are at the end, or both not at the end (one pass only).
    friend bool operator==(const iterator& a, const iterator& b) {
      return a.at_end() == b.at_end();
    }
    friend bool operator==(const iterator& it, std::default_sentinel_t) { return it.at_end(); }

   private:
    bool at_end() const { return !m_ || m_->pending_.empty(); }
    MapRange* m_ = nullptr;
  };

  iterator begin() {
    started_ = true;
    return iterator(this);
  }
  iterator end() const noexcept { return iterator(); }

 private:
  // Keeps `ahead_` calls submitted (all of them when there is no buffersize).
  void fill() {
    bool submitted = false;
    while (source_ && (ahead_ == 0 || pending_.size() < ahead_)) {
      std::optional<Future<R>> f = source_();
      if (!f) {
        source_ = nullptr;
        break;
      }
      try {
        pending_.push_back(std::move(*f));
      } catch (...) {  // no memory to keep it: the call must not run unseen
        f->cancel();
        throw;
      }
      submitted = true;
    }
    if (submitted && flush_) flush_();  // the consumer may wait for any of them next
  }
  value_type current() {
    Future<R>& f = pending_.front();
    if (!f.wait_until(deadline_)) throw TimeoutError();
    if constexpr (std::is_void_v<R>) {
      f.result();
      return {};
    } else {
      return std::move(f).result();
    }
  }
  void advance() {
    pending_.pop_front();
    fill();
  }

  Source source_;
  Flush flush_;
  std::deque<Future<R>> pending_;
  Deadline deadline_ = Deadline::never();
  std::size_t ahead_ = 0;
  bool started_ = false;
};

template <class Fn, class... Args>
auto Executor::map(Fn&& fn, Args&&... args) {
  static_assert(sizeof...(Args) >= 1, "map() needs at least one input range");
  using Last = std::remove_cvref_t<std::tuple_element_t<sizeof...(Args) - 1, std::tuple<Args...>>>;
  if constexpr (std::is_same_v<Last, MapOptions> || detail::is_duration_v<Last>) {
    auto all = std::forward_as_tuple(std::forward<Args>(args)...);
    MapOptions options;
    if constexpr (std::is_same_v<Last, MapOptions>)
      options = std::get<sizeof...(Args) - 1>(all);
    else
      options.timeout = std::chrono::duration<double>(std::get<sizeof...(Args) - 1>(all));
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return map_with(options, std::forward<Fn>(fn),
                      std::forward<std::tuple_element_t<I, std::tuple<Args&&...>>>(
                          std::get<I>(all))...);
    }(std::make_index_sequence<sizeof...(Args) - 1>{});
  } else {
    return map_with(MapOptions{}, std::forward<Fn>(fn), std::forward<Args>(args)...);
  }
}

template <class Fn, class... Ranges>
auto Executor::map_with(const MapOptions& options, Fn&& fn, Ranges&&... ranges) {
  // Misuse gets one message at the caller's line, not a cascade from the code below.
  if constexpr (!(std::ranges::input_range<Ranges> && ...)) {
    static_assert(concur::detail::kRejected<Fn>,
                  "map(fn, ranges...): each input must be a range (a container or a view); a "
                  "timeout goes last, as a std::chrono duration or a MapOptions");
    return MapRange<typename detail::DeclaredResult<std::decay_t<Fn>>::type>(nullptr, nullptr,
                                                                               options);
  } else if constexpr (!std::is_invocable_v<std::decay_t<Fn>&,
                                            std::decay_t<std::ranges::range_reference_t<Ranges>>...>) {
    // Each call gets copies of its elements, as submit() does.
    static_assert(concur::detail::kRejected<Fn>,
                  "map(fn, ranges...): fn cannot be called with (a copy of) one element of each "
                  "range");
    return MapRange<typename detail::DeclaredResult<std::decay_t<Fn>>::type>(nullptr, nullptr,
                                                                               options);
  } else {
    using F = std::decay_t<Fn>;
    using R = std::invoke_result_t<F&, std::decay_t<std::ranges::range_reference_t<Ranges>>...>;

    // The inputs, held as std::views::all would hold them (a reference to an lvalue, an rvalue
    // moved in; clang 14 cannot instantiate libstdc++ 12's ref_view/owning_view, so no views),
    // and their iterators, advanced in step.
    struct Inputs {
      F fn;
      std::tuple<detail::HeldRange<Ranges>...> views;
      std::tuple<std::ranges::iterator_t<std::remove_reference_t<detail::HeldRange<Ranges>>&>...> its;
      bool started = false;
    };
    auto inputs = std::make_shared<Inputs>(
        Inputs{std::forward<Fn>(fn), {std::forward<Ranges>(ranges)...}, {}});
    const int chunksize = options.chunksize < 1 ? 1 : options.chunksize;
    typename MapRange<R>::Source source = [inputs, chunksize,
                                           executor = alive_]() -> std::optional<Future<R>> {
      Executor* self = *executor;
      if (!self) return std::nullopt;  // the executor is gone: nothing more is submitted
      Inputs& in = *inputs;
      return [&]<std::size_t... I>(std::index_sequence<I...>) -> std::optional<Future<R>> {
        if (!in.started) {
          ((std::get<I>(in.its) = std::ranges::begin(std::get<I>(in.views))), ...);
          in.started = true;
        } else {
          (++std::get<I>(in.its), ...);
        }
        const bool exhausted =  // the shortest input ends the calls
            (... || (std::get<I>(in.its) == std::ranges::end(std::get<I>(in.views))));
        if (exhausted) return std::nullopt;
        return self->submit_with(chunksize, in.fn, *std::get<I>(in.its)...);
      }(std::index_sequence_for<Ranges...>{});
    };
    typename MapRange<R>::Flush flush = [executor = alive_] {
      if (Executor* self = *executor) self->flush_map_calls();
    };
    return MapRange<R>(std::move(source), std::move(flush), options);
  }
}

}  // namespace concur::futures
