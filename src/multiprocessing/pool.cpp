// mp::Pool (include/concur/multiprocessing/pool.hpp) and cf::ProcessPoolExecutor
// (include/concur/multiprocessing/process_pool_executor.hpp): options, workers and lifecycle
// over the engine of pool_engine.cpp.
#include "concur/multiprocessing/pool.hpp"

#include <memory>
#include <string>
#include <utility>

#include "concur/detail/text.hpp"
#include "concur/multiprocessing/process_pool_executor.hpp"
#include "multiprocessing/process_state.hpp"

namespace concur::multiprocessing {

namespace {

// "ForkPoolWorker-", "SpawnProcess-", ...: CPython's names for pool workers.
std::string worker_prefix(std::optional<detail::StartMethod> method, const char* kind) {
  const detail::StartMethod m = method.value_or(detail::default_start_method());
  switch (m) {
    case detail::StartMethod::fork: return std::string("Fork") + kind + "-";
    case detail::StartMethod::spawn: return std::string("Spawn") + kind + "-";
    case detail::StartMethod::forkserver: return std::string("ForkServer") + kind + "-";
  }
  return std::string(kind) + "-";
}

std::optional<detail::StartMethod> method_named(const std::string& name,
                                                std::optional<detail::StartMethod> otherwise) {
  if (name.empty()) return otherwise;
  return get_context(name).method();
}

const std::tuple<> kNoArguments{};

}  // namespace

Pool::Pool(PoolOptions options) : Pool(detail::ContextTag{}, std::move(options)) {}

Pool::Pool(detail::ContextTag context, PoolOptions options) {
  const std::optional<detail::StartMethod> method = method_named(options.context, context.method);
  const int processes = options.processes.value_or(cpu_count());
  if (processes < 1) throw ValueError("Number of processes must be at least 1");
  if (options.maxtasksperchild && *options.maxtasksperchild < 1)
    throw ValueError("maxtasksperchild must be a positive int or None");
  PoolInitializer init = std::move(options.initializer);
  PoolInitArgs args = std::move(options.initargs);
  if (init && *init.params_ != *args.type_) {
    throw ValueError("mp::Pool: initargs (" + concur::detail::type_name(*args.type_) +
                     ") do not match the initializer's parameters (" +
                     concur::detail::type_name(*init.params_) + ")");
  }
  detail::PoolSettings settings;
  settings.processes = processes;
  settings.maxtasksperchild = options.maxtasksperchild.value_or(0);
  settings.break_on_death = false;
  settings.start_worker = [method, init = std::move(init), args = std::move(args),
                           prefix = worker_prefix(method, "PoolWorker"),
                           counter = 0](Connection conn, int owner) mutable {
    ProcessOptions opts{.name = prefix + std::to_string(++counter), .daemon = true};
    if (init)
      return init.start_(method, std::move(opts), std::move(conn), owner, init.location_,
                         args.args_.get());
    return detail::PoolStarter<std::nullptr_t, std::tuple<>>::start(
        method, std::move(opts), std::move(conn), owner, {}, &kNoArguments);
  };
  engine_ = std::make_unique<detail::WorkerPool>(std::move(settings));
}

Pool::~Pool() = default;  // the engine's destructor terminates and joins

detail::WorkerPool& Pool::engine() const { return *engine_; }

void Pool::close() {
  stopped_ = true;
  engine_->close();
}

void Pool::terminate() {
  stopped_ = true;
  engine_->terminate();
  engine_->join();
}

void Pool::join() {
  if (!stopped_) throw ValueError("Pool is still running");
  engine_->join();
}

int Pool::processes() const noexcept { return engine_->processes(); }
std::vector<int> Pool::worker_pids() const { return engine_->worker_pids(); }

Pool Context::Pool() const {
  return multiprocessing::Pool(detail::ContextTag{method_}, PoolOptions{});
}
Pool Context::Pool(int processes) const {
  return multiprocessing::Pool(detail::ContextTag{method_}, PoolOptions{.processes = processes});
}
Pool Context::Pool(PoolOptions options) const {
  return multiprocessing::Pool(detail::ContextTag{method_}, std::move(options));
}

}  // namespace concur::multiprocessing

namespace concur::futures {

namespace mpd = multiprocessing::detail;

ProcessPoolExecutor::ProcessPoolExecutor(ProcessPoolOptions options) {
  const std::optional<mpd::StartMethod> method =
      multiprocessing::method_named(options.mp_context, std::nullopt);
  const int workers = options.max_workers.value_or(multiprocessing::cpu_count());
  if (workers < 1) throw ValueError("max_workers must be greater than 0");
  if (options.max_tasks_per_child && *options.max_tasks_per_child < 1)
    throw ValueError("max_tasks_per_child must be >= 1");
  mpd::PoolSettings settings;
  settings.processes = workers;
  settings.maxtasksperchild = options.max_tasks_per_child.value_or(0);
  settings.break_on_death = true;
  std::optional<mpd::CodeLocation> init;
  if (options.initializer) init = mpd::pool_code_location(options.initializer);
  settings.start_worker = [method, init, prefix = multiprocessing::worker_prefix(method, "Process"),
                           counter = 0](multiprocessing::Connection conn, int owner) mutable {
    multiprocessing::ProcessOptions opts{.name = prefix + std::to_string(++counter), .daemon = true};
    if (init)
      return mpd::PoolStarter<void (*)(), std::tuple<>>::start(
          method, std::move(opts), std::move(conn), owner, *init, &multiprocessing::kNoArguments);
    return mpd::PoolStarter<std::nullptr_t, std::tuple<>>::start(
        method, std::move(opts), std::move(conn), owner, {}, &multiprocessing::kNoArguments);
  };
  engine_ = std::make_unique<mpd::WorkerPool>(std::move(settings));
}

ProcessPoolExecutor::~ProcessPoolExecutor() {
  try {
    shutdown(true);
  } catch (...) {
    // From the pool's own thread: the engine's destructor ends it instead.
  }
}

void ProcessPoolExecutor::enqueue(detail::StateRef task) {
  if (shutdown_.load(std::memory_order_acquire))
    throw RuntimeError("cannot schedule new futures after shutdown");
  detail::CallForm form;
  if (!task->call_form(form)) {
    mpd::throw_pool_task_refused("the task is not a plain function or a capture-less lambda",
                                 typeid(void));
  }
  const mpd::CallCodec* codec = mpd::find_call_codec(*form.function_type, *form.arguments_type);
  if (codec == nullptr) {
    throw ValueError("ProcessPoolExecutor: this kind of call (" +
                     concur::detail::type_name(*form.function_type) + " on " +
                     concur::detail::type_name(*form.arguments_type) +
                     ") was never submitted through the ProcessPoolExecutor type itself, so its "
                     "serializers were not made; call submit() or map() on the "
                     "ProcessPoolExecutor once");
  }
  mpd::PoolJob job;
  job.entry = codec->entry;
  job.function = form.target;
  codec->encode(form.arguments, job.payload);
  job.complete = codec->complete;
  job.state = std::move(task);
  try {
    engine_->submit(std::move(job));
  } catch (const ValueError&) {
    throw RuntimeError("cannot schedule new futures after shutdown");
  }
}

void ProcessPoolExecutor::shutdown(bool wait, bool cancel_futures) {
  shutdown_.store(true, std::memory_order_release);
  if (cancel_futures) engine_->cancel_queued();
  engine_->close();
  if (wait) engine_->join();
}

void ProcessPoolExecutor::force_shutdown(bool kill) {
  shutdown_.store(true, std::memory_order_release);
  engine_->terminate(kill,
                     std::make_exception_ptr(BrokenProcessPool(
                         std::string("the worker running this future was ended by ") +
                         (kill ? "kill_workers()" : "terminate_workers()"))),
                     /*cancel_queued=*/true);
  engine_->join();
}

void ProcessPoolExecutor::terminate_workers() { force_shutdown(false); }
void ProcessPoolExecutor::kill_workers() { force_shutdown(true); }

int ProcessPoolExecutor::max_workers() const noexcept { return engine_->processes(); }
std::vector<int> ProcessPoolExecutor::worker_pids() const { return engine_->worker_pids(); }

}  // namespace concur::futures
