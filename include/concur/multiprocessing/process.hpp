// concur/multiprocessing/process.hpp — Python's multiprocessing.Process and the module's process
// functions (API.md §6.1).
//
//   namespace mp = concur::multiprocessing;
//   int main(int argc, char** argv) { mp::main_guard(argc, argv); ... }   // needed by spawn/forkserver
//   mp::Process p(action, std::string("job"), urls);     // target + arguments, stored by value
//   mp::Process p(mp::ProcessOptions{.name = "w", .daemon = true}, action, args...);
//   p.start();  p.join();  bool done = p.join(1s);  p.is_alive();
//   p.pid();  p.exitcode();  p.terminate();  p.kill();  p.close();
//   p.name();  p.set_name("x");  p.daemon();  p.set_daemon(true);
//   struct MyProcess : mp::Process { void run() override; };   // subclassing: fork only
//   mp::current_process().name();  mp::parent_process();  mp::active_children();
//   mp::cpu_count();  mp::getpid();  mp::getppid();  pid_t pid = mp::fork();
// Start methods and contexts: context.hpp.
//
// Contract (CPython's Lib/multiprocessing/process.py and popen_*.py)
// - The target and its arguments are decay-copied into the Process. start() (RuntimeError on a
//   second call) starts the child with the start method of the Process's context, or else the
//   one set_start_method() chose ("fork" by default), and then drops the parent's copy of the
//   target and arguments. A start() that throws has started nothing.
//   * fork: the child is a copy of the parent and calls run() (the target, or a subclass's
//     override) on its copy of this object. Any callable, any copyable arguments.
//   * spawn: /proc/self/exe runs anew with the argv main_guard() recorded; its main_guard()
//     receives the arguments over an inherited socket and calls the target. forkserver: a
//     single-threaded server process (started on first use, the same way) forks the child,
//     which receives its arguments the same way. Under both, the target must be a plain
//     function or a capture-less lambda of this program (found in the child with no
//     registration: see detail/process_target.hpp) and every argument serializable
//     (serialization.hpp; a Connection crosses with its descriptor). Otherwise — a capturing
//     lambda, a std::function, an argument with no serialization, a subclass of Process —
//     start() throws ValueError naming the type and why, before any process starts. start()
//     throws RuntimeError when main_guard() was never called in this program (the child would
//     run main() again). A forkserver child's stdout and stderr are the parent's at start().
// - In the child (every method): current_process() is this process ("Process-1", ... or the
//   name given; a child's children are named "Process-1:1", ...), parent_process() the parent,
//   active_children() starts empty, stdin reads /dev/null (as Python's). When the target
//   returns, the child joins its non-daemon concur threads, ends its own children as the exit
//   rules below say, flushes stdout and stderr (C stdio and std::cout/cerr/clog) and leaves
//   with _exit(0): the parent's atexit handlers and static destructors do not run in it (as
//   Python's os._exit). A target that throws prints "Process <name>:" and, as Python's last
//   traceback line, "<type>: <what()>" to stderr: exitcode 1. std::exit(n) in the target:
//   exitcode n, after the same exit handling (an on_exit handler of the child's).
// - exitcode(): nullopt before start and while running; the child's exit status; -N when a
//   signal N ended it. A forkserver child whose server died before reporting it: 255.
// - join() waits for the end of the child (RuntimeError if never started; forever), join(timeout)
//   at most timeout (any duration; zero or negative: a poll) and returns whether it ended. Waits
//   sleep in poll() on a pidfd (fork, spawn) or on the child's status socket (forkserver): no
//   polling loop (a kernel without pidfd_open: waitpid with a back-off up to 10 ms). Any number
//   of threads may join, poll or signal the same Process at once.
// - terminate() sends SIGTERM, kill() SIGKILL (nothing once the child has ended; a pidfd makes
//   it immune to pid reuse); RuntimeError before start.
// - close() releases the child's descriptors: ValueError while it runs; afterwards start(),
//   join(), is_alive(), pid(), exitcode(), terminate() and kill() throw ValueError ("process
//   object is closed"); name and daemon stay readable. close() must not race other calls on the
//   same Process.
// - Methods used in a process that did not create this Process (the child of a fork): join,
//   is_alive, exitcode, terminate, kill and start throw RuntimeError, as Python's assertions —
//   except on the child's own Process object, which is its current_process() (is_alive() true,
//   pid() its own).
// - Destroying a Process never blocks and never kills: a started child stays registered, so
//   active_children() lists it and the exit rules below still apply to it.
// - Exit rules (Python's util._exit_function): when a process exits normally (returns from
//   main or calls exit(); concur registers one atexit handler at its first start(), and the
//   registry it reads is never destroyed, so the handler works during static destruction), it
//   first joins its non-daemon concur threads (CPython's order), then sends SIGTERM to its
//   daemon children, then joins every child (non-daemon children: without bound, as Python).
//   A daemon child also dies with an abrupt end of its parent through PR_SET_PDEATHSIG(SIGKILL),
//   set only when the parent's fork (or posix_spawn) runs on the parent's main thread: Linux
//   sends that signal when the *thread* that forked ends, and only the main thread lives as long
//   as the process. (forkserver: the server, single-threaded, sets it for daemon children and
//   exits when its parent's control socket closes.) A daemon process may not start children
//   (RuntimeError, as Python).
// - Names: "Process-N", N counted per process from 1 at construction (subclasses too);
//   set_name() changes it. daemon() comes from ProcessOptions (unset: the current process's
//   flag); set_daemon() throws RuntimeError once started.
// - Process is neither copyable nor movable (Context::Process returns one by guaranteed copy
//   elision). start(), close() and destruction must not race other calls on the same object;
//   every other member may be called from any thread.
// - Happens-before: what the parent did before start() happens before the target runs (fork:
//   memory is copied; spawn/forkserver: what crosses is the arguments). The child's end happens
//   before join() returns true and before is_alive() returns false.
// Throws: RuntimeError, ValueError as above; concur::OSError when a system call fails (fork,
// socketpair, posix_spawn); std::bad_alloc.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "concur/deadline.hpp"
#include "concur/errors.hpp"
#include "concur/multiprocessing/connection.hpp"
#include "concur/multiprocessing/detail/process_target.hpp"
#include "concur/multiprocessing/serialization.hpp"

namespace concur::multiprocessing {

namespace detail {
struct ProcessState;  // src/multiprocessing/process_state.hpp

// Built by Context::Process: the start method of that context (nullopt: the default context,
// which follows set_start_method()).
struct ContextTag {
  std::optional<StartMethod> method;
};
}  // namespace detail

// Python's main guard, `if __name__ == "__main__":`. Call it first in main(). In a child started
// by "spawn" or "forkserver" (and in the forkserver itself) it receives the target, runs it and
// exits, never returning; otherwise it records argv (for spawn) and returns at once, leaving
// argc and argv alone. A child whose bootstrap cannot be read (bad bytes, a parent gone) prints
// what went wrong to stderr and exits with status 1.
void main_guard(int argc, char** argv);

struct ProcessOptions {
  std::string name{};            // empty: "Process-N"
  std::optional<bool> daemon{};  // unset: the current process's daemon flag
};

// A copyable handle on a process: current_process(), parent_process(), an active_children()
// entry, Process::ref(). Safe from any thread. A child's handle stays valid after the child ends
// and works after its Process object was destroyed. As CPython's active_children() gives Process
// objects, a child's handle can also be joined and signalled (`for (auto& c :
// mp::active_children()) c.join();`); those calls throw RuntimeError on the current process or
// on a child this process did not start (the parent can be joined, not signalled).
class ProcessRef {
 public:
  std::string name() const;
  std::optional<int> pid() const;  // always set
  // The current process: true. The parent: until it ends. A child: until it ends (reaps it).
  bool is_alive() const;
  bool daemon() const;
  // A child's exit code (nullopt while it runs); nullopt for the current and parent processes.
  std::optional<int> exitcode() const;

  // A child's: as Process::join, join(timeout), terminate(), kill(). The parent's join waits
  // for the parent to end (CPython's parent_process().join(timeout)).
  void join() { join_until(Deadline::never()); }
  template <class Rep, class Period>
  bool join(std::chrono::duration<Rep, Period> timeout) {
    return join_until(Deadline::after(timeout));
  }
  bool join_until(const Deadline& deadline);
  void terminate();
  void kill();

  friend bool operator==(const ProcessRef& a, const ProcessRef& b) noexcept {
    return a.st_ == b.st_;
  }

  explicit ProcessRef(std::shared_ptr<detail::ProcessState> st) noexcept : st_(std::move(st)) {}

 private:
  std::shared_ptr<detail::ProcessState> st_;
};

class Process {
 public:
  // No target: for subclasses that override run() (run() does nothing otherwise).
  Process();
  explicit Process(ProcessOptions options);

  // A process that runs fn(args...) in the child.
  template <class F, class... Args>
    requires(!std::is_same_v<std::remove_cvref_t<F>, ProcessOptions> &&
             !std::is_same_v<std::remove_cvref_t<F>, detail::ContextTag> &&
             !std::is_base_of_v<Process, std::remove_cvref_t<F>>)
  explicit Process(F&& fn, Args&&... args) : Process(ProcessOptions{}) {
    target_ = make_target(std::forward<F>(fn), std::forward<Args>(args)...);
  }
  template <class F, class... Args>
  Process(ProcessOptions options, F&& fn, Args&&... args) : Process(std::move(options)) {
    target_ = make_target(std::forward<F>(fn), std::forward<Args>(args)...);
  }

  // The forms Context::Process uses: the same, started with the context's method.
  explicit Process(detail::ContextTag context, ProcessOptions options = {});
  template <class F, class... Args>
    requires(!std::is_same_v<std::remove_cvref_t<F>, ProcessOptions>)
  Process(detail::ContextTag context, F&& fn, Args&&... args)
      : Process(context, ProcessOptions{}) {
    target_ = make_target(std::forward<F>(fn), std::forward<Args>(args)...);
  }
  template <class F, class... Args>
  Process(detail::ContextTag context, ProcessOptions options, F&& fn, Args&&... args)
      : Process(context, std::move(options)) {
    target_ = make_target(std::forward<F>(fn), std::forward<Args>(args)...);
  }

  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  virtual ~Process();

  void start();
  void join() { join_until(Deadline::never()); }
  template <class Rep, class Period>
  bool join(std::chrono::duration<Rep, Period> timeout) {
    return join_until(Deadline::after(timeout));
  }
  bool join_until(const Deadline& deadline);

  bool is_alive() const;
  std::optional<int> pid() const;       // nullopt before start
  std::optional<int> ident() const { return pid(); }
  std::optional<int> exitcode() const;  // nullopt before start and while running
  void terminate();                                   // SIGTERM
  void kill();                                        // SIGKILL
  void close();

  std::string name() const;
  void set_name(std::string name);
  bool daemon() const;
  void set_daemon(bool daemonic);  // RuntimeError once started

  // A handle on this process (for comparing with active_children(), current_process()).
  ProcessRef ref() const;

  // What the child runs. The default calls the target given at construction, if any.
  virtual void run();

 private:
  template <class F, class... Args>
  static std::unique_ptr<detail::TargetBase> make_target(F&& fn, Args&&... args) {
    using Fn = std::decay_t<F>;
    if constexpr (!std::is_invocable_v<Fn, std::decay_t<Args>...>) {
      // One message at the caller's line, and no cascade from building the call.
      static_assert(!std::is_invocable_v<Fn&, std::decay_t<Args>&...>,
                    "concur::multiprocessing::Process: the target takes a non-const reference, "
                    "but a Process copies its arguments (a child is another process: it cannot "
                    "write into the parent's variables); take the parameter by value");
      static_assert(std::is_invocable_v<Fn&, std::decay_t<Args>&...>,
                    "concur::multiprocessing::Process: the target cannot be called with these "
                    "arguments (check their number and types against the target's parameters)");
      return nullptr;
    } else {
      return std::make_unique<detail::Target<Fn, std::decay_t<Args>...>>(
          std::forward<F>(fn), std::forward<Args>(args)...);
    }
  }

  void check_closed() const;
  void check_creator(const char* what) const;
  void start_fork();
  void start_crossing(detail::StartMethod method);
  [[noreturn]] void run_forked_child(int parent_pid, bool pdeathsig);

  std::shared_ptr<detail::ProcessState> state_;
  std::unique_ptr<detail::TargetBase> target_;
  std::optional<detail::StartMethod> method_;  // the context's; nullopt: the default's
  bool closed_ = false;
};

// This process: "MainProcess" in the main process, the child's Process otherwise.
ProcessRef current_process();
// The process that started this one; nullopt in the main process.
std::optional<ProcessRef> parent_process();
// The children of this process still running (finished ones are reaped and dropped).
std::vector<ProcessRef> active_children();
// The number of CPUs online (os.cpu_count()); at least 1.
int cpu_count();
int getpid() noexcept;
int getppid() noexcept;
// os.fork(): 0 in the child, the child's pid in the parent; OSError when fork() fails. concur's
// own state is made fork-safe by its at-fork handlers; the child's active_children() is empty.
pid_t fork();

}  // namespace concur::multiprocessing
