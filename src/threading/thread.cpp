// Thread, ThreadRef, the registry of live threads and the except hook.
#include "concur/threading/thread.hpp"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <typeinfo>

#include "concur/detail/at_fork.hpp"
#include "concur/detail/text.hpp"
#include "concur/threading/detail/shutdown.hpp"
#include "concur/threading/detail/wait_kinds.hpp"
#include "concur/threading/local.hpp"
#include "threading/thread_record.hpp"

namespace concur::detail {

void ThreadRecord::set_phase(std::uint32_t p) noexcept {
  phase.store(p, std::memory_order_release);
  phase_changed.notify_all();
}

bool ThreadRecord::wait_phase_change(std::uint32_t from, const Deadline& deadline) noexcept {
  return phase_changed.wait_until(
      [&] { return phase.load(std::memory_order_acquire) != from; }, deadline);
}

bool ThreadRecord::wait_finished(const Deadline& deadline) noexcept {
  for (;;) {
    const std::uint32_t p = phase.load(std::memory_order_acquire);
    if (p == kFinished) return true;
    if (!wait_phase_change(p, deadline)) return false;
  }
}

}  // namespace concur::detail

namespace concur::threading {

using detail::MutexGuard;
using detail::ThreadRecord;

namespace {

std::uint64_t os_thread_id() noexcept { return static_cast<std::uint64_t>(::syscall(SYS_gettid)); }
std::uint64_t pthread_ident() noexcept {
  return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(
      reinterpret_cast<void*>(::pthread_self())));
}
bool on_main_thread() noexcept { return os_thread_id() == static_cast<std::uint64_t>(::getpid()); }

// get_native_id()'s cache (0: not read yet); the child of a fork resets it.
thread_local std::uint64_t tls_native_id = 0;

// The threads that are alive: main, every started concur thread until its body ends, and every
// foreign thread seen through current_thread() until it exits. Never destroyed, so that daemon
// threads still running during static destruction can use it.
class Registry {
 public:
  static Registry& get() {
    static Registry* registry = new Registry();
    return *registry;
  }

  void add(std::shared_ptr<ThreadRecord> st) {
    MutexGuard g(mutex_);
    live_.push_back(std::move(st));
  }
  void remove(const ThreadRecord* st) {
    MutexGuard g(mutex_);
    erase_from(live_, st) || erase_from(unlisted_, st);
  }
  // A foreign thread that blocks in a concur wait before anyone asked for its current_thread():
  // recorded for dumps and deadlock detection, but not listed by enumerate() (as in CPython,
  // threading does not know it yet).
  void add_unlisted(std::shared_ptr<ThreadRecord> st) {
    MutexGuard g(mutex_);
    unlisted_.push_back(std::move(st));
  }
  // That thread asks for current_thread() after all: list it from now on.
  void list(const std::shared_ptr<ThreadRecord>& st) {
    MutexGuard g(mutex_);
    if (erase_from(unlisted_, st.get())) live_.push_back(st);
  }
  // Every record, listed or not (dumps, deadlock detection).
  std::vector<std::shared_ptr<ThreadRecord>> snapshot_all() {
    std::vector<std::shared_ptr<ThreadRecord>> all = snapshot();
    MutexGuard g(mutex_);
    all.insert(all.end(), unlisted_.begin(), unlisted_.end());
    return all;
  }
  std::vector<std::shared_ptr<ThreadRecord>> snapshot() {
    MutexGuard g(mutex_);
    std::vector<std::shared_ptr<ThreadRecord>> all;
    all.reserve(live_.size() + 1);
    all.push_back(main_);
    all.insert(all.end(), live_.begin(), live_.end());
    return all;
  }
  std::size_t count() {
    MutexGuard g(mutex_);
    return live_.size() + 1;
  }

  const std::shared_ptr<ThreadRecord>& main_state() const { return main_; }
  std::string next_thread_name() { return "Thread-" + std::to_string(++thread_counter_); }
  std::string next_dummy_name() { return "Dummy-" + std::to_string(++dummy_counter_); }

  // Python's threading._shutdown: at exit(), wait for the non-daemon threads still running.
  void wait_for_non_daemon_at_exit() {
    bool expected = false;
    if (atexit_registered_.compare_exchange_strong(expected, true))
      std::atexit([] { Registry::get().join_non_daemon(); });
  }

  // fork(): see "--- fork" below.
  template <class Fn>
  void for_each_record(Fn fn) {  // under mutex_
    fn(*main_);
    for (auto& r : live_) fn(*r);
    for (auto& r : unlisted_) fn(*r);
  }
  void before_fork() noexcept;
  void after_fork_in_parent() noexcept;
  void after_fork_in_child() noexcept;

  // Python's threading._shutdown (for multiprocessing's exit handling).
  void shutdown() { join_non_daemon(); }

 private:
  Registry() : main_(std::make_shared<ThreadRecord>(ThreadRecord::Kind::main, "MainThread", false)) {
    main_->native_id.store(static_cast<std::uint64_t>(::getpid()));
    if (on_main_thread()) {
      main_->ident.store(pthread_ident());
      main_->key.store(detail::this_thread_key());
    }
    main_->phase.store(ThreadRecord::kRunning);
  }

  void join_non_daemon() {
    for (auto& st : snapshot()) {
      if (st->kind != ThreadRecord::Kind::started || st->daemon.load()) continue;
      if (st->native_id.load() == os_thread_id()) continue;
      // A thread that does not exist (the child of a fork) was marked finished: skipped here.
      st->wait_finished(Deadline::never());
    }
  }

  static bool erase_from(std::vector<std::shared_ptr<ThreadRecord>>& v, const ThreadRecord* st) {
    auto it = std::find_if(v.begin(), v.end(), [&](auto& p) { return p.get() == st; });
    if (it == v.end()) return false;
    std::swap(*it, v.back());
    v.pop_back();
    return true;
  }

  detail::Mutex mutex_;
  std::vector<std::shared_ptr<ThreadRecord>> live_;  // everything alive but main
  std::vector<std::shared_ptr<ThreadRecord>> unlisted_;  // foreign threads seen only in waits
  std::shared_ptr<ThreadRecord> main_;
  std::atomic<std::uint64_t> thread_counter_{0};
  std::atomic<std::uint64_t> dummy_counter_{0};
  std::atomic<bool> atexit_registered_{false};
};

// Build the registry (and so record the main thread's ident) during static initialisation, which
// runs on the main thread.
[[maybe_unused]] const bool registry_ready = (Registry::get(), true);

// The calling thread's state, once known. One thread-local object owns it, so that its teardown
// at thread exit happens in a fixed order: first the thread's threading.local values (their
// destructors may still ask current_thread()), then, for a foreign thread, its Dummy state is
// marked finished and leaves the registry. (Separate thread_locals in separate files would be
// destroyed in an order nobody chose.)
struct CurrentThread {
  std::shared_ptr<ThreadRecord> state;
  ~CurrentThread();
};
thread_local CurrentThread tls_current;
// Trivially destructible, so still readable after ~CurrentThread: a destructor of some other
// thread_local that runs later and asks current_thread() gets a throwaway Dummy instead of UB.
thread_local bool tls_current_gone = false;

std::shared_ptr<ThreadRecord> make_dummy_state() {
  auto st = std::make_shared<ThreadRecord>(ThreadRecord::Kind::dummy,
                                          Registry::get().next_dummy_name(), true);
  st->ident.store(pthread_ident());
  st->native_id.store(os_thread_id());
  st->key.store(detail::this_thread_key());
  st->phase.store(ThreadRecord::kRunning);
  return st;
}

// The calling thread's record, created and listed if need be (current_thread() and friends).
thread_local bool tls_listed = false;  // this thread's record is listed (see Registry::list)
std::shared_ptr<ThreadRecord> current_state() {
  if (tls_current_gone) return make_dummy_state();
  if (tls_current.state) {
    if (!tls_listed) {
      Registry::get().list(tls_current.state);
      tls_listed = true;
    }
    return tls_current.state;
  }
  tls_listed = true;
  Registry& reg = Registry::get();
  if (on_main_thread()) {
    tls_current.state = reg.main_state();
    std::uint64_t unset = 0;
    tls_current.state->ident.compare_exchange_strong(unset, pthread_ident());
    unset = 0;
    tls_current.state->key.compare_exchange_strong(unset, detail::this_thread_key());
    return tls_current.state;
  }
  tls_current.state = make_dummy_state();
  reg.add(tls_current.state);
  return tls_current.state;
}

CurrentThread::~CurrentThread() {
  detail::local_thread_exit();
  if (state && state->kind == ThreadRecord::Kind::dummy) {
    Registry::get().remove(state.get());
    state->set_phase(ThreadRecord::kFinished);
  }
  tls_current_gone = true;
}

// --- what the thread waits for (wait_site.hpp) ----------------------------------------------

// The calling thread's record for a wait: a foreign thread not yet seen gets an unlisted one.
ThreadRecord* record_or_null() noexcept {
  if (tls_current_gone) return nullptr;
  if (tls_current.state) return tls_current.state.get();
  try {
    if (on_main_thread()) return current_state().get();
    auto st = make_dummy_state();
    Registry::get().add_unlisted(st);
    tls_current.state = std::move(st);
    return tls_current.state.get();
  } catch (...) {
    return nullptr;  // out of memory for a foreign thread's record: the wait goes unrecorded
  }
}

// --- the except hook ---------------------------------------------------------------------------

detail::Mutex hook_mutex;
std::function<void(const ExceptHookArgs&)>* hook = nullptr;  // null: the default

// As Python's: the thread's name, then the exception's type and message ("ValueError: boom").
void default_excepthook(const ExceptHookArgs& args) {
  detail::write_stderr("Exception in thread " + args.thread_name + ":\n" +
                       detail::describe_exception(args.exception) + "\n");
}

void call_excepthook(const ExceptHookArgs& args) noexcept {
  try {
    std::function<void(const ExceptHookArgs&)> user;
    {
      MutexGuard g(hook_mutex);
      if (hook) user = *hook;
    }
    if (!user) return default_excepthook(args);
    try {
      user(args);
    } catch (...) {
      detail::write_stderr("Exception in threading excepthook:\n");
      default_excepthook(ExceptHookArgs{std::current_exception(), args.thread_name, args.thread});
    }
  } catch (...) {
    // Out of memory while reporting: nothing sensible is left to do.
  }
}

void report_exception(const std::shared_ptr<ThreadRecord>& st, std::exception_ptr e) noexcept {
  try {
    call_excepthook(ExceptHookArgs{e, st->get_name(), ThreadRef(st)});
  } catch (...) {
    // Out of memory while building the arguments: nothing sensible is left to do.
  }
}

// --- the thread's life -------------------------------------------------------------------------

void set_os_thread_name(const std::string& name) noexcept {
  // The kernel keeps 15 bytes; cut at a UTF-8 character boundary.
  std::size_t n = std::min<std::size_t>(name.size(), 15);
  while (n > 0 && n < name.size() && (static_cast<unsigned char>(name[n]) & 0xC0) == 0x80) --n;
  ::pthread_setname_np(::pthread_self(), name.substr(0, n).c_str());
}

void thread_main(std::shared_ptr<ThreadRecord> st) {
  // start() left the body in the record; the thread's creation orders that write before this.
  detail::UniqueFunction<void(std::stop_token)> body = std::move(st->body);
  tls_current.state = st;
  tls_listed = true;
  st->ident.store(pthread_ident(), std::memory_order_relaxed);  // start() stores it too
  st->native_id.store(os_thread_id(), std::memory_order_relaxed);
  st->key.store(detail::this_thread_key(), std::memory_order_relaxed);
  set_os_thread_name(st->get_name());
  st->set_phase(ThreadRecord::kRunning);  // publishes native_id (native_id() waits for it)

  try {
    // The token is real only if something asked for one by now (a stop_token target always has);
    // a run() override that wants one later calls stop_token().
    std::stop_token token;
    {
      MutexGuard g(st->stop_mutex);
      token = st->stop.get_token();
    }
    body(std::move(token));
  } catch (...) {
    report_exception(st, std::current_exception());
  }
  // Everything the thread owns dies in the thread and before join() returns: the target with its
  // bound arguments, then the thread's threading.local values.
  body = {};
  detail::local_thread_exit();
  Registry::get().remove(st.get());
  st->set_phase(ThreadRecord::kFinished);
}

// --- fork (detail/at_fork.hpp; CPython's threading._after_fork) ------------------------------
//
// Which internal lock is taken before the fork and which is re-initialised in the child:
//  - the registry's mutex, and every listed record's name_mutex and diag_mutex, are taken in
//    prepare: they are leaves (their critical sections copy or append and take no other lock),
//    and holding them across the fork hands the child consistent thread lists, names and held-
//    lock lists (a vector half-grown by a vanished thread would be corrupt, not just locked);
//  - a record's stop_mutex (request_stop() runs stop callbacks under it: user code) and
//    handle_mutex (held across join(), for as long as the joined thread runs) cannot be waited
//    for, and hook_mutex (its holder copies a user's std::function) neither: re-initialised in
//    the child. Only vanished threads can have held them, and the state they guard (the stop
//    source, the handle, the hook pointer) is never left half-written in a way the child reads.

void Registry::before_fork() noexcept {
  mutex_.lock();
  for_each_record([](ThreadRecord& r) {
    r.name_mutex.lock();
    r.diag_mutex.lock();
  });
}

void Registry::after_fork_in_parent() noexcept {
  for_each_record([](ThreadRecord& r) {
    r.diag_mutex.unlock();
    r.name_mutex.unlock();
  });
  mutex_.unlock();
}

void Registry::after_fork_in_child() noexcept {
  // The forking thread lives on; it becomes the main thread and keeps its name (as CPython).
  // A thread concur never saw gets a fresh main record.
  std::shared_ptr<ThreadRecord> self = tls_current_gone ? nullptr : tls_current.state;
  if (!self) {
    try {
      self = std::make_shared<ThreadRecord>(ThreadRecord::Kind::main, "MainThread", false);
      self->key.store(detail::this_thread_key());
      self->phase.store(ThreadRecord::kRunning);
      if (!tls_current_gone) {
        tls_current.state = self;
        tls_listed = true;
      }
    } catch (...) {
      std::abort();  // out of memory in a child that has not started yet: nothing to keep
    }
  }
  // Every other thread is gone: TERMINATED (is_alive() false, join() returns at once), out of
  // enumerate() and of the at-exit join. Its std::thread names a thread that does not exist:
  // neither joinable nor detachable, so it is forgotten, not destroyed (a joinable std::thread's
  // destructor would call std::terminate), and a default one is built over it.
  for_each_record([&](ThreadRecord& r) {
    r.diag_mutex.unlock();
    r.name_mutex.unlock();
    if (&r == self.get()) return;
    ::new (static_cast<void*>(&r.handle)) std::thread();
    detail::reinit_in_child(r.handle_mutex);
    detail::reinit_in_child(r.stop_mutex);
    detail::reinit_in_child(r.phase_changed);  // vanished threads may be linked in it
    r.phase.store(ThreadRecord::kFinished, std::memory_order_release);
  });
  // Clearing drops references only: a record lives on while a Thread or ThreadRef holds it.
  live_.clear();
  unlisted_.clear();
  detail::reinit_in_child(self->handle_mutex);
  detail::reinit_in_child(self->stop_mutex);
  self->ident.store(pthread_ident());
  self->native_id.store(os_thread_id());  // the child's pid
  main_ = std::move(self);
  tls_native_id = 0;  // get_native_id()'s cache held the parent's id
  mutex_.unlock();
}

[[maybe_unused]] const bool fork_handlers_registered = detail::register_at_fork(
    detail::AtForkLayer::threading,
    {[]() noexcept { Registry::get().before_fork(); },
     []() noexcept { Registry::get().after_fork_in_parent(); },
     []() noexcept {
       Registry::get().after_fork_in_child();
       detail::reinit_in_child(hook_mutex);
     }});

}  // namespace

// --- ThreadRef ---------------------------------------------------------------------------------

std::string ThreadRef::name() const { return st_->get_name(); }
void ThreadRef::set_name(std::string name) { st_->set_name(std::move(name)); }
std::optional<std::uint64_t> ThreadRef::ident() const {
  const auto v = st_->ident.load(std::memory_order_relaxed);
  return v ? std::optional<std::uint64_t>(v) : std::nullopt;
}
std::optional<std::uint64_t> ThreadRef::native_id() const {
  // A thread just started may not have published its id yet: wait for it (microseconds).
  if (st_->phase.load(std::memory_order_acquire) == ThreadRecord::kStarting)
    st_->wait_phase_change(ThreadRecord::kStarting, Deadline::never());
  const auto v = st_->native_id.load(std::memory_order_relaxed);
  return v ? std::optional<std::uint64_t>(v) : std::nullopt;
}
bool ThreadRef::daemon() const { return st_->daemon.load(); }
bool ThreadRef::is_alive() const { return st_->alive(); }

// --- Thread ------------------------------------------------------------------------------------

Thread::Thread() : Thread(ThreadOptions{}) {}

Thread::Thread(ThreadOptions options) {
  Registry& reg = Registry::get();
  const bool daemonic = options.daemon ? *options.daemon : current_state()->daemon.load();
  st_ = std::make_shared<ThreadRecord>(
      ThreadRecord::Kind::started,
      options.name.empty() ? reg.next_thread_name() : std::move(options.name), daemonic);
}

Thread::Thread(TargetOnly, detail::UniqueFunction<void(std::stop_token)> body) : Thread() {
  target_ = std::move(body);
  target_only_ = true;
}

Thread::Thread(Thread&& other) noexcept
    : st_(std::move(other.st_)),
      target_(std::move(other.target_)),
      target_only_(other.target_only_),
      runs_override_(other.runs_override_) {}

Thread& Thread::operator=(Thread&& other) noexcept {
  if (this != &other) {
    end_of_life();
    st_ = std::move(other.st_);
    target_ = std::move(other.target_);
    target_only_ = other.target_only_;
    runs_override_ = other.runs_override_;
  }
  return *this;
}

Thread::~Thread() { end_of_life(); }

void Thread::end_of_life() noexcept {
  if (!st_) return;
  const std::uint32_t phase = st_->phase.load(std::memory_order_acquire);
  if (phase == ThreadRecord::kNew) return;
  MutexGuard g(st_->handle_mutex);
  if (!st_->handle.joinable()) return;
  const bool is_self = st_->handle.get_id() == std::this_thread::get_id();
  const bool leave_running = st_->daemon.load() && !runs_override_;
  if (is_self || (leave_running && phase != ThreadRecord::kFinished))
    st_->handle.detach();
  else
    st_->handle.join();
}

void Thread::start() {
  if (!st_) throw RuntimeError("cannot start a moved-from Thread");
  std::uint32_t expected = ThreadRecord::kNew;
  if (!st_->phase.compare_exchange_strong(expected, ThreadRecord::kStarting))
    throw RuntimeError("threads can only be started once");

  // From here on, any exception (std::bad_alloc from the body, the registry or std::thread's own
  // state; std::system_error from pthread_create) leaves this Thread as start() found it: not
  // listed, not alive, its target in place, startable again (CPython removes the thread from
  // _limbo on any failure). A phantom record left listed would keep the at-exit join of
  // non-daemon threads waiting for a thread that never ran.
  bool took_target = false;
  bool listed = false;
  try {
    // A subclass (other than concur's own target-only ones) runs through its run() override; a
    // plain Thread runs its target directly and never touches this object again. The body waits
    // in the record, not in std::thread's state, so that a failed start can take it back.
    runs_override_ = !target_only_ && typeid(*this) != typeid(Thread);
    if (runs_override_) {
      st_->body = [this](std::stop_token) { run(); };
    } else {
      st_->body = std::move(target_);
      took_target = true;
    }
    if (!st_->body) st_->body = [](std::stop_token) {};

    Registry& reg = Registry::get();
    if (!st_->daemon.load()) reg.wait_for_non_daemon_at_exit();
    // Everything start() promises is settled here, in the caller, so that start() need not wait
    // for the new thread to be scheduled (a sleep and a wake-up saved per thread): the thread is
    // alive and listed by enumerate() from now on, and its ident is known. Only native_id() —
    // which only the thread itself can read — may wait, briefly, for the thread to publish it.
    reg.add(st_);
    listed = true;
    MutexGuard g(st_->handle_mutex);
    st_->handle = std::thread(thread_main, st_);
    st_->ident.store(static_cast<std::uint64_t>(st_->handle.native_handle()),
                     std::memory_order_relaxed);
  } catch (...) {
    // No thread was made, so nothing else reads the body: take it back.
    if (listed) Registry::get().remove(st_.get());
    if (took_target) target_ = std::move(st_->body);
    st_->body = {};
    st_->set_phase(ThreadRecord::kNew);
    try {
      throw;
    } catch (const std::system_error& e) {
      throw RuntimeError(std::string("can't start new thread: ") + e.what());
    }
  }
}

bool Thread::join_until(const Deadline& deadline) {
  if (!st_ || st_->phase.load(std::memory_order_acquire) == ThreadRecord::kNew)
    throw RuntimeError("cannot join thread before it is started");
  if (!tls_current_gone && st_ == tls_current.state)
    throw RuntimeError("cannot join current thread");
  // Seen as blocked in join (dumps), with an edge to the joined thread (deadlock detection).
  const detail::WaitSite site{&detail::kJoinWait, st_.get(), {}, &st_->key, nullptr,
                              !deadline.is_never()};
  const detail::BlockedScope blocked(
      st_->phase.load(std::memory_order_acquire) == ThreadRecord::kFinished ? nullptr : &site);
  // Without a deadline, reaping the OS thread is the wait (one sleep, not two); with one, wait
  // for the end of the body first, then reap (the thread is past its body by then).
  if (!deadline.is_never() && !st_->wait_finished(deadline)) return false;
  MutexGuard g(st_->handle_mutex);
  if (st_->handle.joinable()) st_->handle.join();
  return true;
}

bool Thread::is_alive() const { return st_ && st_->alive(); }
std::string Thread::name() const { return st_ ? st_->get_name() : std::string(); }
void Thread::set_name(std::string name) {
  if (st_) st_->set_name(std::move(name));
}
bool Thread::daemon() const { return st_ && st_->daemon.load(); }
void Thread::set_daemon(bool daemonic) {
  if (!st_ || st_->phase.load() != ThreadRecord::kNew)
    throw RuntimeError("cannot set daemon status of active thread");
  st_->daemon.store(daemonic);
}
std::optional<std::uint64_t> Thread::ident() const {
  return st_ ? ThreadRef(st_).ident() : std::nullopt;
}
std::optional<std::uint64_t> Thread::native_id() const {
  return st_ ? ThreadRef(st_).native_id() : std::nullopt;
}
bool Thread::request_stop() noexcept { return st_ && st_->request_stop(); }
bool Thread::stop_requested() const noexcept { return st_ && st_->stop_requested(); }
std::stop_token Thread::stop_token() const noexcept {
  return st_ ? st_->stop_token() : std::stop_token();
}
void Thread::enable_stop_token() { st_->stop_token(); }
ThreadRef Thread::ref() const {
  if (!st_) throw RuntimeError("a moved-from Thread has no thread");
  return ThreadRef(st_);
}
void Thread::run() {
  if (target_) target_(stop_token());
}

// --- module functions --------------------------------------------------------------------------

void set_excepthook(std::function<void(const ExceptHookArgs&)> new_hook) {
  auto* fresh = new_hook ? new std::function<void(const ExceptHookArgs&)>(std::move(new_hook))
                         : nullptr;
  std::function<void(const ExceptHookArgs&)>* old;
  {
    MutexGuard g(hook_mutex);
    old = hook;
    hook = fresh;
  }
  delete old;
}

void excepthook(const ExceptHookArgs& args) noexcept { call_excepthook(args); }

}  // namespace concur::threading

void concur::detail::join_non_daemon_threads() { concur::threading::Registry::get().shutdown(); }

namespace concur::threading {

ThreadRef current_thread() { return ThreadRef(current_state()); }
ThreadRef main_thread() { return ThreadRef(Registry::get().main_state()); }
std::vector<ThreadRef> enumerate() {
  current_state();  // a foreign caller appears in its own answer, as in Python
  std::vector<ThreadRef> refs;
  for (auto& st : Registry::get().snapshot()) refs.emplace_back(std::move(st));
  return refs;
}
std::size_t active_count() {
  current_state();
  return Registry::get().count();
}
std::uint64_t get_ident() noexcept { return pthread_ident(); }
std::uint64_t get_native_id() noexcept {
  std::uint64_t id = tls_native_id;
  if (id == 0) id = tls_native_id = os_thread_id();
  return id;
}

void sleep_until(const Deadline& deadline) {
  if (deadline.is_immediate()) return;
  const detail::WaitSite site{&detail::kSleepWait, nullptr, {}, nullptr, nullptr};
  const detail::BlockedScope blocked(&site);
  if (deadline.is_never()) {
    for (;;) ::pause();
  }
  const auto ns = deadline.time_point().time_since_epoch().count();
  timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

}  // namespace concur::threading

namespace concur::detail {

using threading::record_or_null;

ThreadRecord* current_record() noexcept { return record_or_null(); }

std::vector<std::shared_ptr<ThreadRecord>> all_thread_records() {
  return threading::Registry::get().snapshot_all();
}

// --- the wait observer (wait_site.hpp): a blocked thread's record says what it waits for ----

namespace {

void* begin_wait(const WaitSite& site) noexcept {
  ThreadRecord* rec = record_or_null();
  if (!rec) return nullptr;
  MutexGuard g(rec->diag_mutex);
  rec->waiting = site;
  ++rec->wait_seq;
  // A victim mark is made for one wait (the watchdog checks wait_seq under this lock); one left
  // over from a wait that ended otherwise must not fail this one.
  rec->deadlock_victim.store(false, std::memory_order_relaxed);
  return rec;
}

void end_wait(void* record) noexcept {
  auto* rec = static_cast<ThreadRecord*>(record);
  MutexGuard g(rec->diag_mutex);
  rec->waiting = WaitSite{};
}

bool victim_flag(void* record) noexcept {
  return static_cast<ThreadRecord*>(record)->deadlock_victim.load(std::memory_order_acquire);
}

bool take_victim_mark() noexcept {
  // Only a thread that has blocked has a record worth looking at; never create one here.
  if (threading::tls_current_gone || !threading::tls_current.state) return false;
  return threading::tls_current.state->deadlock_victim.exchange(false, std::memory_order_acq_rel);
}

constexpr WaitObserver kRecordWaits{begin_wait, end_wait, victim_flag, take_victim_mark};

// Installed during static initialisation, on the main thread, before main() can block.
[[maybe_unused]] const bool record_waits_installed = (install_wait_observer(&kRecordWaits), true);

}  // namespace

}  // namespace concur::detail
