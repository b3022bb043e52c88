// concur/multiprocessing/detail/pool_call.hpp — what a process pool sends its workers, and the
// engine both pools share (mp::Pool, pool.hpp; cf::ProcessPoolExecutor,
// process_pool_executor.hpp).
//
// A job is one call (apply, submit) or one chunk of calls (map, starmap) of a plain function of
// this program. It crosses to a long-lived worker as
//   - a PoolEntry: a constant instantiated per (kind, R, F, Args...) whose address is sent as
//     (loaded object, offset) and resolved in the worker (the same binary under every start
//     method, so the same offsets: see process_target.hpp, which does the same for a Process's
//     target); its run() decodes the payload, calls the function and encodes the result;
//   - the function itself when it is a function pointer (a capture-less lambda is built anew);
//   - the payload: the serialized arguments (a chunk: a std::vector of them, so that a chunk of
//     ints crosses as one block of raw bytes).
// The worker sends back the result's bytes or the exception's; the parent decodes them into the
// job's future (futures/detail/future_state.hpp) with the job's complete().
//
// WorkerPool (src/multiprocessing/pool_engine.cpp) owns the worker processes and one thread in
// the parent that sends jobs, reads results and watches each worker's pidfd. Each worker has a
// socket of its own, so the parent knows exactly which jobs a worker held when it died.
//
// Thread-safety: WorkerPool's members may be called from any thread, except that join() must not
// be called from the pool's own thread (a callback): RuntimeError.
#pragma once

#include <elf.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "concur/errors.hpp"
#include "concur/futures/detail/future_state.hpp"
#include "concur/multiprocessing/connection.hpp"
#include "concur/multiprocessing/detail/byte_buffer.hpp"
#include "concur/multiprocessing/detail/process_target.hpp"
#include "concur/multiprocessing/serialization.hpp"

namespace concur::multiprocessing {
class Process;
}

namespace concur::multiprocessing::detail {

inline constexpr std::uint64_t kPoolEntryMagic = 0x3c6d702d706f6f6cull;  // "<mp-pool"

struct PoolEntry {
  std::uint64_t magic;
  // In the worker: decodes `payload`, calls the function and appends the result's bytes to
  // `out`. Throws what the call (or decoding, or encoding the result) throws.
  void (*run)(std::span<const std::byte> payload, void (*function)(), ByteBuffer& out);
};

template <class F>
F make_function(void (*function)()) {
  if constexpr (std::is_pointer_v<F>) {
    if (function == nullptr) throw ValueError("the task is a null function pointer");
    return reinterpret_cast<F>(function);
  } else {
    return F{};
  }
}

// One call: the payload is std::tuple<Args...>; the result R (nothing for void).
template <class R, class F, class... Args>
void run_pool_call(std::span<const std::byte> payload, void (*function)(), ByteBuffer& out) {
  std::tuple<Args...> args;
  deserialize_into(payload, args);
  F fn = make_function<F>(function);
  if constexpr (std::is_void_v<R>) {
    std::apply([&](auto&... a) { std::invoke(fn, std::move(a)...); }, args);
  } else {
    const R result = std::apply([&](auto&... a) -> R { return std::invoke(fn, std::move(a)...); },
                                args);
    serialize_into(out, result);
  }
}

// A chunk of calls: the payload is std::vector<T>, each element one argument (Star: a tuple of
// arguments, starmap); the result std::vector<R>, or the count of calls for void.
template <class R, class F, class T, bool Star>
void run_pool_chunk(std::span<const std::byte> payload, void (*function)(), ByteBuffer& out) {
  std::vector<T> inputs;
  deserialize_into(payload, inputs);
  F fn = make_function<F>(function);
  auto call = [&](T& x) -> decltype(auto) {
    if constexpr (Star)
      return std::apply([&](auto&... a) -> R { return std::invoke(fn, std::move(a)...); }, x);
    else
      return static_cast<R>(std::invoke(fn, std::move(x)));
  };
  if constexpr (std::is_void_v<R>) {
    for (T& x : inputs) call(x);
    serialize_into(out, static_cast<std::uint64_t>(inputs.size()));
  } else {
    std::vector<R> results;
    results.reserve(inputs.size());
    for (T& x : inputs) results.push_back(call(x));
    serialize_into(out, results);
  }
}

template <class R, class F, class... Args>
inline constexpr PoolEntry kPoolCallEntry{kPoolEntryMagic, &run_pool_call<R, F, Args...>};
template <class R, class F, class T, bool Star>
inline constexpr PoolEntry kPoolChunkEntry{kPoolEntryMagic, &run_pool_chunk<R, F, T, Star>};

// --- the parent's side of a job ----------------------------------------------------------------

// Stores a call's result, decoded from the worker's bytes, in `state` (a State<R>).
template <class R>
void complete_pool_call(futures::detail::StateBase& state, std::span<const std::byte> payload) {
  if constexpr (std::is_void_v<R>) {
    (void)payload;
    static_cast<futures::detail::State<void>&>(state).try_set_value();
  } else {
    R value{};
    deserialize_into(payload, value);
    static_cast<futures::detail::State<R>&>(state).try_set_value(std::move(value));
  }
}

// A chunk's results: a State<std::vector<R>> (std::monostate for void).
template <class R>
void complete_pool_chunk(futures::detail::StateBase& state, std::span<const std::byte> payload) {
  if constexpr (std::is_void_v<R>) {
    std::uint64_t n = 0;
    deserialize_into(payload, n);
    static_cast<futures::detail::State<std::vector<std::monostate>>&>(state).try_set_value(
        static_cast<std::size_t>(n));
  } else {
    std::vector<R> values;
    deserialize_into(payload, values);
    static_cast<futures::detail::State<std::vector<R>>&>(state).try_set_value(std::move(values));
  }
}

// A job's payload: small ones (a call's few arguments) inline, so that a submit allocates
// nothing here that the pool's thread would free (a free from another thread takes the
// allocator's arena lock, which a busy submitter holds).
class JobBytes {
 public:
  JobBytes() noexcept = default;
  JobBytes(JobBytes&& o) noexcept : heap_(std::move(o.heap_)), size_(std::exchange(o.size_, 0)) {
    if (!heap_) std::memcpy(inline_, o.inline_, size_);
  }
  JobBytes& operator=(JobBytes&& o) noexcept {
    heap_ = std::move(o.heap_);
    size_ = std::exchange(o.size_, 0);
    if (!heap_) std::memcpy(inline_, o.inline_, size_);
    return *this;
  }
  void assign(std::span<const std::byte> bytes) {
    if (bytes.size() <= kInline) {
      heap_.reset();
      if (!bytes.empty()) std::memcpy(inline_, bytes.data(), bytes.size());
    } else {
      heap_.reset(new std::byte[bytes.size()]);
      std::memcpy(heap_.get(), bytes.data(), bytes.size());
    }
    size_ = bytes.size();
  }
  const std::byte* data() const noexcept { return heap_ ? heap_.get() : inline_; }
  std::size_t size() const noexcept { return size_; }

 private:
  static constexpr std::size_t kInline = 48;
  std::byte inline_[kInline];
  std::unique_ptr<std::byte[]> heap_;
  std::size_t size_ = 0;
};

// The per-thread buffer a job's payload is encoded in before JobBytes takes it.
ByteBuffer& job_scratch() noexcept;

// Encodes `value` as a job's payload.
template <class T>
void encode_payload(JobBytes& payload, const T& value) {
  ByteBuffer& scratch = job_scratch();
  scratch.clear();
  serialize_into(scratch, value);
  payload.assign(scratch.view());
  scratch.trim(1 << 20);
}

struct PoolJob {
  const PoolEntry* entry = nullptr;
  void (*function)() = nullptr;  // the user's function pointer; null for a capture-less lambda
  JobBytes payload;
  futures::detail::StateRef state;  // the future the outcome completes
  void (*complete)(futures::detail::StateBase& state, std::span<const std::byte> payload) = nullptr;
  bool sent = false;  // the future is RUNNING: sent to a worker (kept to resend it elsewhere)
};

// Compile-time checks shared by both pools: a task is a plain function or a capture-less lambda
// whose arguments and result cross between processes.
template <class F>
inline constexpr bool kPoolFunction = kCrossableTarget<F>;
template <class R>
inline constexpr bool kPoolResult =
    std::is_void_v<R> || (Serializable<R> && std::is_default_constructible_v<R>);

// The user's function pointer as the job sends it (null for a capture-less lambda); ValueError
// for a null pointer.
template <class F>
void (*pool_function(const F& fn))() {
  if constexpr (std::is_pointer_v<F>) {
    if (fn == nullptr) throw ValueError("the task is a null function pointer");
    return reinterpret_cast<void (*)()>(fn);
  } else {
    (void)fn;
    return nullptr;
  }
}

// --- the engine --------------------------------------------------------------------------------

struct PoolSettings {
  int processes = 1;
  int maxtasksperchild = 0;  // 0: workers live as long as the pool
  // ProcessPoolExecutor: a dead worker (or a failed initializer) breaks the pool, failing every
  // job with BrokenProcessPool. mp::Pool: the dead worker's jobs fail with ProcessError and the
  // worker is replaced.
  bool break_on_death = false;
  // Starts a worker on `child_end` (the worker's end of its socket): a started Process whose
  // target calls serve_pool(). Built by the pool's template layer, which knows the initializer.
  std::function<std::unique_ptr<multiprocessing::Process>(Connection child_end, int owner_pid)>
      start_worker;
};

class WorkerPool {
 public:
  // Starts `processes` workers (ValueError when processes < 1; what starting throws).
  explicit WorkerPool(PoolSettings settings);
  ~WorkerPool();  // terminate() and join()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues jobs (all or none). ValueError("Pool not running") after close() or terminate();
  // the breaking error once broken.
  void submit(PoolJob job);
  void submit(std::vector<PoolJob>& jobs);

  // No more jobs; the workers exit once every queued job is done.
  void close();
  // Ends every worker now (SIGTERM, or SIGKILL when `kill`); the jobs not done fail with
  // `error` (queued ones that are futures of an executor are cancelled when `cancel_queued`).
  void terminate(bool kill = false, std::exception_ptr error = nullptr, bool cancel_queued = false);
  // Cancels the queued jobs that have not been sent to a worker.
  void cancel_queued();
  // Waits until the pool's thread has ended (after close() or terminate()).
  void join();
  bool running() const;
  int processes() const noexcept { return processes_; }
  // The pids of the live workers (tests and diagnostics).
  std::vector<int> worker_pids() const;

  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
  int processes_;
};

// The worker's loop (in the worker process): runs the jobs read from `conn` until the parent
// closes it, the parent (owner_pid) dies, or maxtasksperchild jobs are done.
void serve_pool(Connection& conn, int owner_pid);

// Reports a failed initializer to the parent over `conn` (the worker then exits).
void report_pool_initializer_failure(Connection& conn, std::exception_ptr error) noexcept;

// A Pool worker's Process target: runs the initializer (a function pointer found in the worker
// by its CodeLocation, or a capture-less lambda type) on `initargs`, then serve_pool().
template <class Init, class... InitArgs>
struct PoolWorkerMain {
  void operator()(Connection conn, int owner_pid, std::string init_object,
                  std::uint64_t init_offset, InitArgs... initargs) const {
    if constexpr (!std::is_same_v<Init, std::nullptr_t>) {
      try {
        Init init = [&] {
          if constexpr (std::is_pointer_v<Init>) {
            void* at = resolve_code(CodeLocation{init_object, init_offset}, 1, PF_X);
            if (at == nullptr) throw ValueError("the pool's initializer was not found in the worker");
            return reinterpret_cast<Init>(at);
          } else {
            return Init{};
          }
        }();
        std::invoke(init, std::move(initargs)...);
      } catch (...) {
        report_pool_initializer_failure(conn, std::current_exception());
        return;
      }
    } else {
      (void)init_object;
      (void)init_offset;
    }
    serve_pool(conn, owner_pid);
  }
};

// The location of a function pointer (an initializer), for PoolWorkerMain's arguments.
CodeLocation pool_code_location(void (*function)());

}  // namespace concur::multiprocessing::detail
