// mp::Process, ProcessRef, the children registry, waiting, the exit rules and the fork start
// method (include/concur/multiprocessing/process.hpp).
#include "concur/multiprocessing/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio_ext.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <thread>
#include <typeinfo>

#include "concur/detail/at_fork.hpp"
#include "concur/detail/text.hpp"
#include "concur/detail/wait_site.hpp"
#include "concur/multiprocessing/queues.hpp"
#include "concur/threading/detail/shutdown.hpp"
#include "multiprocessing/process_state.hpp"

namespace concur::multiprocessing {

namespace detail {

using concur::detail::ForkRegistry;

namespace {

// The C library functions that only a forked child calls. Called by name, each would be bound
// lazily (programs are not linked with -z now) in every child anew, since the parent never
// called it: seven ld.so symbol lookups per fork start, about a sixth of its page faults. Their
// addresses, taken here, are bound when the program loads; `volatile` keeps the compiler from
// turning the calls through them back into direct (lazily bound) ones.
void (*volatile const child_fpurge)(FILE*) = &::__fpurge;
pid_t (*volatile const child_getppid)() = &::getppid;
int (*volatile const child_open)(const char*, int, ...) = &::open;
int (*volatile const child_dup2)(int, int) = &::dup2;
void (*volatile const child_clearerr)(FILE*) = &::clearerr;
int (*volatile const child_on_exit)(void (*)(int, void*), void*) = &::on_exit;
void (*volatile const child_exit)(int) = &::_exit;

// A thread joining a process shows in dump_threads() as blocked in "join" on it.
inline constexpr concur::detail::WaitKind kProcessJoinWait{"join", "Process", false, false};

bool on_main_thread() noexcept { return ::syscall(SYS_gettid) == ::getpid(); }

void close_fd(int& fd) noexcept {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

// --- ProcessState ------------------------------------------------------------------------------

ProcessState::ProcessState(Kind k) : kind(k) { ForkRegistry<ProcessState>::instance().add(this); }

ProcessState::~ProcessState() {
  ForkRegistry<ProcessState>::instance().remove(this);
  close_fd(pidfd);
  close_fd(status_fd);
}

int pidfd_open(int pid) noexcept {
#ifdef SYS_pidfd_open
  const long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) return -1;
  ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);  // pidfds are close-on-exec already
  return static_cast<int>(fd);
#else
  (void)pid;
  return -1;
#endif
}

std::uint64_t process_start_time(int pid) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[1024];
  ssize_t n;
  do {
    n = ::read(fd, buf, sizeof buf - 1);
  } while (n < 0 && errno == EINTR);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  // "pid (comm) state ppid ... starttime": comm may hold spaces and parentheses; fields after
  // the last ')' are plain. starttime is field 22, the 20th after the ')'.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return 0;
  ++p;
  for (int field = 3; field < 22; ++field) {
    p = std::strchr(p + 1, ' ');
    if (p == nullptr) return 0;
  }
  return std::strtoull(p + 1, nullptr, 10);
}

// --- waiting -----------------------------------------------------------------------------------

int exitcode_of(int status) noexcept {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return status;
}

namespace {

// Under st.mutex: the child's code once it ended.
std::optional<int> poll_locked(ProcessState& st) {
  if (st.returncode || st.kind != ProcessState::Kind::child ||
      !st.started.load(std::memory_order_acquire))
    return st.returncode;
  if (st.method == StartMethod::forkserver) {
    if (st.status_fd < 0) return st.returncode;
    while (st.status_have < 4) {
      const ssize_t n = ::recv(st.status_fd, st.status_bytes + st.status_have,
                               static_cast<std::size_t>(4 - st.status_have), MSG_DONTWAIT);
      if (n > 0) {
        st.status_have += static_cast<int>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return std::nullopt;
      // The server ended without a report for this child (CPython's forkserver says 255).
      st.returncode = 255;
      return st.returncode;
    }
    std::int32_t status = 0;
    std::memcpy(&status, st.status_bytes, sizeof status);
    st.returncode = exitcode_of(status);
    return st.returncode;
  }
  const int pid = st.pid.load(std::memory_order_relaxed);
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      st.returncode = exitcode_of(status);
      break;
    }
    if (r == 0) break;
    if (errno == EINTR) continue;
    // ECHILD: someone else reaped it (SIGCHLD ignored, a waitpid(-1) of the program's own): it
    // ended, its status is lost.
    st.returncode = 255;
    break;
  }
  return st.returncode;
}

}  // namespace

std::optional<int> poll_child(ProcessState& st) {
  MutexGuard g(st.mutex);
  return poll_locked(st);
}

bool wait_child(ProcessState& st, const Deadline& deadline) {
  auto backoff = std::chrono::microseconds(100);
  std::string name;  // for thread dumps: `join on Process "Process-1"`
  std::optional<concur::detail::WaitSite> site;
  std::optional<concur::detail::BlockedScope> blocked;
  for (;;) {
    int fd;
    {
      MutexGuard g(st.mutex);
      if (poll_locked(st)) return true;
      fd = st.method == StartMethod::forkserver ? st.status_fd : st.pidfd;
      if (st.method == StartMethod::forkserver && fd < 0) return false;  // closed: not reached
    }
    if (deadline.expired()) return false;
    if (!blocked) {
      {
        MutexGuard g(st.mutex);
        name = st.name;
      }
      site.emplace(concur::detail::WaitSite{&kProcessJoinWait, &st, name, nullptr, nullptr,
                                            !deadline.is_never()});
      blocked.emplace(&*site);
    }
    int timeout_ms = -1;
    if (!deadline.is_never()) {
      const auto left = deadline.time_point() - Deadline::Clock::now();
      const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
      timeout_ms = static_cast<int>(std::clamp<long long>(ms, 0, INT_MAX));
    }
    if (fd >= 0) {
      // A pidfd becomes readable when the process ends; the status socket when the server
      // reports (or ends). Several threads may sleep here at once.
      pollfd p{fd, POLLIN, 0};
      ::poll(&p, 1, timeout_ms);  // EINTR, timeout, readiness: look again
    } else {
      // No pidfd (a kernel before 5.3): waitpid with a back-off.
      auto nap = backoff;
      if (timeout_ms >= 0) nap = std::min<std::chrono::microseconds>(
                                   nap, std::chrono::milliseconds(timeout_ms) +
                                            std::chrono::microseconds(1));
      std::this_thread::sleep_for(nap);
      backoff = std::min<std::chrono::microseconds>(backoff * 2, std::chrono::milliseconds(10));
    }
  }
}

void signal_child(ProcessState& st, int sig) {
  // Under the mutex: the child cannot be reaped (its pid freed) between the look and the signal.
  MutexGuard g(st.mutex);
  if (poll_locked(st)) return;
  const int pid = st.pid.load(std::memory_order_relaxed);
  if (st.pidfd >= 0) {
#ifdef SYS_pidfd_send_signal
    if (::syscall(SYS_pidfd_send_signal, st.pidfd, sig, nullptr, 0) == 0) return;
    if (errno == ESRCH) return;
    if (errno != ENOSYS) concur::detail::throw_os_error(errno, "pidfd_send_signal");
#endif
  }
  if (::kill(pid, sig) != 0 && errno != ESRCH) concur::detail::throw_os_error(errno, "kill");
}

void release_child(ProcessState& st) noexcept {
  MutexGuard g(st.mutex);
  close_fd(st.pidfd);
  close_fd(st.status_fd);
}

// --- the registry ------------------------------------------------------------------------------

Registry& registry() {
  static Registry* r = [] {
    auto* reg = new Registry();
    reg->self = std::make_shared<ProcessState>(ProcessState::Kind::self);
    reg->self->name = "MainProcess";
    reg->self->started.store(true);
    return reg;
  }();
  return *r;
}

namespace {
// Made during static initialisation (on the main thread, before any fork).
[[maybe_unused]] const bool registry_ready = (registry(), true);

void main_exit_handler() {
  // CPython's finalisation: threading._shutdown, then the atexit handlers (_exit_function).
  try {
    concur::detail::join_non_daemon_threads();
  } catch (...) {
  }
  exit_function();
}
}  // namespace

void remember_child(std::shared_ptr<ProcessState> st) {
  Registry& r = registry();
  MutexGuard g(r.mutex);
  r.children.push_back(std::move(st));
}

void forget_child(const ProcessState* st) {
  std::shared_ptr<ProcessState> dropped;  // destroyed after the lock is released
  Registry& r = registry();
  MutexGuard g(r.mutex);
  auto it = std::find_if(r.children.begin(), r.children.end(),
                         [&](const auto& p) { return p.get() == st; });
  if (it == r.children.end()) return;
  dropped = std::move(*it);
  r.children.erase(it);
}

void ensure_exit_handler() {
  Registry& r = registry();
  if (!r.exit_handler_registered.exchange(true)) std::atexit(main_exit_handler);
}

namespace {
// Python's process._cleanup(): drops the children that ended; returns the others.
std::vector<std::shared_ptr<ProcessState>> live_children() {
  std::vector<std::shared_ptr<ProcessState>> live, ended;
  Registry& r = registry();
  {
    MutexGuard g(r.mutex);
    for (auto& c : r.children) (poll_child(*c) ? ended : live).push_back(c);
    r.children = live;
  }
  return live;
}
}  // namespace

void exit_function() noexcept {
  Registry& r = registry();
  if (r.exiting.exchange(true)) return;
  try {
    for (auto& c : live_children())
      if (c->daemon.load()) {
        try {
          signal_child(*c, SIGTERM);
        } catch (...) {
        }
      }
    for (auto& c : live_children()) {
      wait_child(*c, Deadline::never());
      forget_child(c.get());
    }
  } catch (...) {
  }
  // CPython's last _run_finalizers(): the queues' feeders write out what this process put
  // (queues.hpp: a put is never lost).
  flush_queues_before_exit();
}

void become_child(std::shared_ptr<ProcessState> self, std::shared_ptr<ProcessState> parent) {
  std::vector<std::shared_ptr<ProcessState>> old;
  std::shared_ptr<ProcessState> old_self, old_parent;
  Registry& r = registry();
  MutexGuard g(r.mutex);
  old.swap(r.children);
  r.counter = 0;
  old_self = std::exchange(r.self, std::move(self));
  old_parent = std::exchange(r.parent, std::move(parent));
  r.exiting.store(false);
}

std::shared_ptr<ProcessState> make_parent_state(std::string name, int pid, int pidfd, bool dead) {
  auto st = std::make_shared<ProcessState>(ProcessState::Kind::parent);
  st->name = std::move(name);
  st->pid.store(pid);
  st->pidfd = pidfd;
  st->started.store(true);
  if (dead) st->returncode = 0;
  return st;
}

std::shared_ptr<ProcessState> make_own_parent_state(std::string name, int pid) {
  int pidfd = pidfd_open(pid);
  const bool dead = child_getppid() != pid;  // reparented: the parent had already ended
  if (dead && pidfd >= 0) close_fd(pidfd);
  return make_parent_state(std::move(name), pid, pidfd, dead);
}

namespace {
bool parent_alive(ProcessState& st) {
  MutexGuard g(st.mutex);
  if (st.returncode) return false;
  if (st.pidfd >= 0) {
    pollfd p{st.pidfd, POLLIN, 0};
    int r;
    do {
      r = ::poll(&p, 1, 0);
    } while (r < 0 && errno == EINTR);
    if (r > 0) st.returncode = 0;  // it ended
    return r <= 0;
  }
  // This process's OS parent: once it ends, this process is reparented.
  if (::getppid() != st.pid.load()) st.returncode = 0;
  return !st.returncode;
}
// Waits until the parent ended (CPython's parent_process().join(timeout)).
bool wait_parent(ProcessState& st, const Deadline& deadline) {
  auto backoff = std::chrono::microseconds(100);
  for (;;) {
    if (!parent_alive(st)) return true;
    if (deadline.expired()) return false;
    int fd;
    {
      MutexGuard g(st.mutex);
      fd = st.pidfd;
    }
    int timeout_ms = -1;
    if (!deadline.is_never()) {
      const auto left = deadline.time_point() - Deadline::Clock::now();
      timeout_ms = static_cast<int>(std::clamp<long long>(
          std::chrono::ceil<std::chrono::milliseconds>(left).count(), 0, INT_MAX));
    }
    if (fd >= 0) {
      pollfd p{fd, POLLIN, 0};
      ::poll(&p, 1, timeout_ms);
    } else {
      std::this_thread::sleep_for(backoff);  // no pidfd: watch getppid() with a back-off
      backoff = std::min<std::chrono::microseconds>(backoff * 2, std::chrono::milliseconds(10));
    }
  }
}
}  // namespace

void flush_std_streams() noexcept {
  try {
    std::cout.flush();
    std::cerr.flush();
    std::clog.flush();
  } catch (...) {
  }
  std::fflush(nullptr);
}

void close_stdin() noexcept {
  const int fd = child_open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  if (fd != 0) {
    child_dup2(fd, 0);  // the new descriptor 0 is not close-on-exec
    ::close(fd);
  } else {
    ::fcntl(0, F_SETFD, 0);
  }
  child_clearerr(stdin);
}

void report_child_exception(const std::string& name) noexcept {
  try {
    concur::detail::write_stderr("Process " + name + ":\n" +
                                 concur::detail::describe_exception(std::current_exception()) +
                                 "\n");
  } catch (...) {
    concur::detail::write_stderr("Process: an exception escaped the target\n");
  }
}

[[noreturn]] void finish_child(int code) noexcept {
  // CPython's Process._bootstrap: util._exit_function(), threading._shutdown(), flush, and the
  // caller's os._exit(code).
  exit_function();
  try {
    concur::detail::join_non_daemon_threads();
  } catch (...) {
  }
  flush_std_streams();
  child_exit(code);
  __builtin_unreachable();
}

namespace {
int g_exit_hook_pid = 0;
}

void install_child_exit_hook() {
  g_exit_hook_pid = ::getpid();
  // on_exit's handlers get exit()'s status; registered last, it runs first, before any handler
  // or static destructor inherited from the parent (which it skips, as os._exit does).
  child_on_exit(
      [](int status, void*) {
        if (::getpid() != g_exit_hook_pid) return;  // a forked grandchild: its own exit
        finish_child(status);
      },
      nullptr);
}

// --- fork handlers -----------------------------------------------------------------------------

namespace {

void before_fork() noexcept {
  registry().mutex.lock();
  ForkRegistry<ProcessState>::instance().lock_all([](ProcessState& s) noexcept { s.mutex.lock(); });
}

void after_fork_in_parent() noexcept {
  ForkRegistry<ProcessState>::instance().unlock_all(
      [](ProcessState& s) noexcept { s.mutex.unlock(); });
  registry().mutex.unlock();
}

void after_fork_in_child() noexcept {
  // The parent's children are not this process's: their descriptors are closed, their
  // Process objects refuse to wait for them (creator_pid), and the list starts empty.
  ForkRegistry<ProcessState>::instance().unlock_all([](ProcessState& s) noexcept {
    s.mutex.unlock();
    if (s.kind == ProcessState::Kind::child) {
      close_fd(s.pidfd);
      close_fd(s.status_fd);
    }
  });
  Registry& r = registry();
  std::vector<std::shared_ptr<ProcessState>> old;
  old.swap(r.children);
  r.exiting.store(false);
  r.mutex.unlock();
  // `old` is destroyed here, after the registries' locks are free (a state's destructor takes
  // the ForkRegistry's).
}

[[maybe_unused]] const bool fork_handlers_registered = concur::detail::register_at_fork(
    concur::detail::AtForkLayer::multiprocessing,
    {before_fork, after_fork_in_parent, after_fork_in_child});

}  // namespace

// --- errors of the crossing start methods ------------------------------------------------------

std::string_view start_method_name(StartMethod method) noexcept {
  switch (method) {
    case StartMethod::fork:
      return "fork";
    case StartMethod::spawn:
      return "spawn";
    case StartMethod::forkserver:
      return "forkserver";
  }
  return "fork";
}

void throw_target_cannot_cross(const std::type_info& target, StartMethod method) {
  throw ValueError("cannot start a process with the '" + std::string(start_method_name(method)) +
                   "' start method: its target (" + concur::detail::type_name(target) +
                   ") is not a plain function or a capture-less lambda — a capturing lambda, a "
                   "std::function or a callable object with state cannot be found in a new "
                   "program; pass the state as arguments, or use the 'fork' start method");
}

void throw_argument_cannot_cross(std::size_t index, const std::type_info& type,
                                 StartMethod method) {
  throw ValueError("cannot start a process with the '" + std::string(start_method_name(method)) +
                   "' start method: argument " + std::to_string(index + 1) + " (" +
                   concur::detail::type_name(type) +
                   ") is not serializable — give it a cereal serialize(Archive&) function "
                   "(concur/multiprocessing/serialization.hpp lists what crosses), or use the "
                   "'fork' start method");
}

namespace {
void no_target() {}
}  // namespace

}  // namespace detail

// --- ProcessRef --------------------------------------------------------------------------------

using detail::MutexGuard;
using detail::ProcessState;

std::string ProcessRef::name() const {
  MutexGuard g(st_->mutex);
  return st_->name;
}

std::optional<int> ProcessRef::pid() const {
  if (st_->kind == ProcessState::Kind::self) return ::getpid();
  return st_->pid.load();
}

bool ProcessRef::is_alive() const {
  switch (st_->kind) {
    case ProcessState::Kind::self:
      return true;
    case ProcessState::Kind::parent:
      return detail::parent_alive(*st_);
    case ProcessState::Kind::child:
      break;
  }
  if (st_->creator_pid != ::getpid()) return false;  // another process's child
  if (!detail::poll_child(*st_)) return true;
  detail::forget_child(st_.get());
  return false;
}

bool ProcessRef::daemon() const { return st_->daemon.load(); }

std::optional<int> ProcessRef::exitcode() const {
  if (st_->kind != ProcessState::Kind::child || st_->creator_pid != ::getpid())
    return std::nullopt;
  return detail::poll_child(*st_);
}

namespace {
void check_own_child(const ProcessState& st, const char* what) {
  if (st.kind != ProcessState::Kind::child || st.creator_pid != ::getpid() ||
      !st.started.load(std::memory_order_acquire))
    throw RuntimeError(what);
}
}  // namespace

bool ProcessRef::join_until(const Deadline& deadline) {
  if (st_->kind == ProcessState::Kind::parent) return detail::wait_parent(*st_, deadline);
  check_own_child(*st_, "can only join a child process");
  if (!detail::wait_child(*st_, deadline)) return false;
  detail::forget_child(st_.get());
  return true;
}

void ProcessRef::terminate() {
  check_own_child(*st_, "can only terminate a child process");
  detail::signal_child(*st_, SIGTERM);
}

void ProcessRef::kill() {
  check_own_child(*st_, "can only kill a child process");
  detail::signal_child(*st_, SIGKILL);
}

// --- Process -----------------------------------------------------------------------------------

Process::Process() : Process(ProcessOptions{}) {}

Process::Process(ProcessOptions options)
    : state_(std::make_shared<ProcessState>(ProcessState::Kind::child)) {
  state_->creator_pid = ::getpid();
  detail::Registry& r = detail::registry();
  bool inherited_daemon;
  {
    MutexGuard g(r.mutex);
    state_->identity = r.self->identity;
    state_->identity.push_back(++r.counter);
    inherited_daemon = r.self->daemon.load();
  }
  if (options.name.empty()) {
    std::string name = "Process-";
    for (std::size_t i = 0; i < state_->identity.size(); ++i) {
      if (i != 0) name += ':';
      name += std::to_string(state_->identity[i]);
    }
    state_->name = std::move(name);
  } else {
    state_->name = std::move(options.name);
  }
  state_->daemon.store(options.daemon.value_or(inherited_daemon));
}

Process::Process(detail::ContextTag context, ProcessOptions options)
    : Process(std::move(options)) {
  method_ = context.method;
}

Process::~Process() = default;

void Process::check_closed() const {
  if (closed_) throw ValueError("process object is closed");
}

void Process::check_creator(const char* what) const {
  if (state_->creator_pid != ::getpid()) throw RuntimeError(what);
}

void Process::start() {
  check_closed();
  if (state_->started.load()) throw RuntimeError("cannot start a process twice");
  check_creator("can only start a process object created by current process");
  {
    detail::Registry& r = detail::registry();
    MutexGuard g(r.mutex);
    if (r.self->daemon.load())
      throw RuntimeError("daemonic processes are not allowed to have children");
  }
  (void)active_children();  // Python's _cleanup(): reap the children that ended
  detail::ensure_exit_handler();
  const detail::StartMethod method = method_.value_or(detail::default_start_method());
  if (method == detail::StartMethod::fork)
    start_fork();
  else
    start_crossing(method);
  target_.reset();  // as CPython: the parent no longer needs them
  detail::remember_child(state_);
}

void Process::start_fork() {
  detail::flush_std_streams();  // or the child would write the parent's buffered output again
  const int parent_pid = ::getpid();
  const bool pdeathsig = state_->daemon.load() && detail::on_main_thread();
  state_->method = detail::StartMethod::fork;
  const pid_t pid = ::fork();
  if (pid < 0) concur::detail::throw_os_error(errno, "fork");
  if (pid == 0) run_forked_child(parent_pid, pdeathsig);
  const int pidfd = detail::pidfd_open(pid);
  {
    MutexGuard g(state_->mutex);
    state_->pidfd = pidfd;
  }
  state_->pid.store(pid);
  state_->started.store(true, std::memory_order_release);
}

void Process::run_forked_child(int parent_pid, bool pdeathsig) {
  // Whatever another thread wrote into the stdio buffers since the flush above is the parent's
  // to print, not the child's.
  detail::child_fpurge(stdout);
  detail::child_fpurge(stderr);
  if (pdeathsig) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (detail::child_getppid() != parent_pid) detail::child_exit(1);  // the parent is gone
  }
  std::string parent_name;
  {
    detail::Registry& r = detail::registry();
    MutexGuard g(r.mutex);
    parent_name = r.self->name;
  }
  state_->kind = ProcessState::Kind::self;
  state_->pid.store(::getpid());
  state_->started.store(true);
  detail::become_child(state_, detail::make_own_parent_state(std::move(parent_name), parent_pid));
  if (method_) detail::force_start_method(static_cast<int>(*method_));
  detail::close_stdin();
  detail::install_child_exit_hook();
  int code = 0;
  try {
    run();
  } catch (...) {
    detail::report_child_exception(name());
    code = 1;
  }
  detail::finish_child(code);
}

void Process::start_crossing(detail::StartMethod method) {
  const std::string method_name(detail::start_method_name(method));
  if (typeid(*this) != typeid(Process))
    throw ValueError("cannot start a " + concur::detail::type_name(typeid(*this)) +
                     " with the '" + method_name +
                     "' start method: subclassing Process works with the 'fork' start method "
                     "only (a new program cannot rebuild the object); give a Process a target "
                     "instead");
  if (!detail::main_guard_called())
    throw RuntimeError("the '" + method_name +
                       "' start method needs concur::multiprocessing::main_guard(argc, argv) at "
                       "the top of main(): without it the new program would run main() again");
  detail::ByteBuffer args;
  detail::FdTable fds;
  detail::SpawnCall call;
  if (target_) {
    call = target_->prepare_spawn(args, fds, method);
  } else {
    detail::Target<void (*)()> nothing(&detail::no_target);
    call = nothing.prepare_spawn(args, fds, method);
  }
  detail::BootstrapRequest request;
  request.state = state_.get();
  request.call = call;
  request.context_method = method_;
  request.pdeathsig = method == detail::StartMethod::spawn && state_->daemon.load() &&
                      detail::on_main_thread();
  request.send_stdio = method == detail::StartMethod::forkserver;
  detail::ByteBuffer bootstrap;
  detail::build_bootstrap(bootstrap, fds, request, args.view());
  state_->method = method;
  if (method == detail::StartMethod::forkserver) {
    detail::forkserver_start(*state_, bootstrap.view(), fds.sending(), state_->daemon.load());
    state_->started.store(true, std::memory_order_release);
    return;
  }
  // spawn
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    concur::detail::throw_os_error(errno, "socketpair");
  pid_t pid;
  try {
    pid = detail::spawn_self(detail::kBootstrapVar, sv[1]);
  } catch (...) {
    ::close(sv[0]);
    ::close(sv[1]);
    throw;
  }
  ::close(sv[1]);
  try {
    detail::send_with_fds(sv[0], bootstrap.view(), fds.sending());
  } catch (const BrokenPipeError&) {
    // The child ended before reading it; its exit code says why.
  } catch (const ConnectionResetError&) {
  } catch (...) {
    ::close(sv[0]);
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    throw;
  }
  ::close(sv[0]);
  const int pidfd = detail::pidfd_open(pid);
  {
    MutexGuard g(state_->mutex);
    state_->pidfd = pidfd;
  }
  state_->pid.store(pid);
  state_->started.store(true, std::memory_order_release);
}

bool Process::join_until(const Deadline& deadline) {
  check_closed();
  check_creator("can only join a child process");
  if (!state_->started.load(std::memory_order_acquire))
    throw RuntimeError("can only join a started process");
  if (state_->kind != ProcessState::Kind::child) throw RuntimeError("can only join a child process");
  if (!detail::wait_child(*state_, deadline)) return false;
  detail::forget_child(state_.get());
  return true;
}

bool Process::is_alive() const {
  check_closed();
  if (state_->kind == ProcessState::Kind::self) return true;
  check_creator("can only test a child process");
  if (!state_->started.load(std::memory_order_acquire)) return false;
  if (!detail::poll_child(*state_)) return true;
  detail::forget_child(state_.get());
  return false;
}

std::optional<int> Process::pid() const {
  check_closed();
  if (state_->kind == ProcessState::Kind::self) return ::getpid();
  if (!state_->started.load(std::memory_order_acquire)) return std::nullopt;
  return state_->pid.load();
}

std::optional<int> Process::exitcode() const {
  check_closed();
  if (!state_->started.load(std::memory_order_acquire) ||
      state_->kind != ProcessState::Kind::child || state_->creator_pid != ::getpid())
    return std::nullopt;
  return detail::poll_child(*state_);
}

void Process::terminate() {
  check_closed();
  check_creator("can only terminate a child process");
  if (!state_->started.load(std::memory_order_acquire) ||
      state_->kind != ProcessState::Kind::child)
    throw RuntimeError("can only terminate a started process");
  detail::signal_child(*state_, SIGTERM);
}

void Process::kill() {
  check_closed();
  check_creator("can only kill a child process");
  if (!state_->started.load(std::memory_order_acquire) ||
      state_->kind != ProcessState::Kind::child)
    throw RuntimeError("can only kill a started process");
  detail::signal_child(*state_, SIGKILL);
}

void Process::close() {
  if (state_->kind == ProcessState::Kind::child && state_->started.load() &&
      state_->creator_pid == ::getpid()) {
    if (!detail::poll_child(*state_))
      throw ValueError(
          "Cannot close a process while it is still running. You should first call join() or "
          "terminate().");
    detail::release_child(*state_);
    detail::forget_child(state_.get());
  }
  target_.reset();
  closed_ = true;
}

std::string Process::name() const {
  MutexGuard g(state_->mutex);
  return state_->name;
}

void Process::set_name(std::string name) {
  MutexGuard g(state_->mutex);
  state_->name = std::move(name);
}

bool Process::daemon() const { return state_->daemon.load(); }

void Process::set_daemon(bool daemonic) {
  if (state_->started.load()) throw RuntimeError("process has already started");
  state_->daemon.store(daemonic);
}

ProcessRef Process::ref() const { return ProcessRef(state_); }

void Process::run() {
  if (target_) target_->run();
}

// --- module functions --------------------------------------------------------------------------

ProcessRef current_process() {
  detail::Registry& r = detail::registry();
  MutexGuard g(r.mutex);
  return ProcessRef(r.self);
}

std::optional<ProcessRef> parent_process() {
  detail::Registry& r = detail::registry();
  MutexGuard g(r.mutex);
  if (!r.parent) return std::nullopt;
  return ProcessRef(r.parent);
}

std::vector<ProcessRef> active_children() {
  std::vector<ProcessRef> refs;
  for (auto& c : detail::live_children()) refs.emplace_back(std::move(c));
  return refs;
}

int cpu_count() {
  const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

int getpid() noexcept { return ::getpid(); }
int getppid() noexcept { return ::getppid(); }

pid_t fork() {
  const pid_t pid = ::fork();
  if (pid < 0) concur::detail::throw_os_error(errno, "fork");
  return pid;
}

}  // namespace concur::multiprocessing
