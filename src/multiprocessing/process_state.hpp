// The private side of mp::Process (include/concur/multiprocessing/process.hpp): the state a
// Process, its ProcessRefs and the children registry share, how a child is waited for, and the
// pieces the start methods share (process.cpp, bootstrap.cpp, forkserver.cpp, context.cpp).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "concur/deadline.hpp"
#include "concur/detail/fork_registry.hpp"
#include "concur/detail/mutex.hpp"
#include "concur/multiprocessing/detail/byte_buffer.hpp"
#include "concur/multiprocessing/detail/fd_table.hpp"
#include "concur/multiprocessing/detail/process_target.hpp"

namespace concur::multiprocessing::detail {

using concur::detail::Mutex;
using concur::detail::MutexGuard;

// One process as this process sees it: a child it started, itself, or its parent.
struct ProcessState {
  enum class Kind : std::uint8_t { child, self, parent };

  explicit ProcessState(Kind k);
  ~ProcessState();
  ProcessState(const ProcessState&) = delete;
  ProcessState& operator=(const ProcessState&) = delete;

  // Fixed once the state is shared (set before start() publishes it, or in a child while it is
  // the only thread):
  Kind kind;
  int creator_pid = 0;                  // the process that made it (Process objects)
  std::vector<std::uint64_t> identity;  // Python's _identity: (1,), (1, 2), ...
  StartMethod method = StartMethod::fork;
  std::atomic<bool> started{false};
  std::atomic<int> pid{0};              // a child: its pid once started; the parent: its pid
  std::atomic<bool> daemon{false};

  mutable Mutex mutex;  // guards everything below; a leaf lock (the at-fork prepare takes it)
  std::string name;
  std::optional<int> returncode;
  int pidfd = -1;         // a child (fork, spawn; forkserver when it could open one); the parent
                          // of a forkserver child
  int status_fd = -1;     // forkserver: this end of the child's socket (the server's reports)
  unsigned char status_bytes[4]{};
  int status_have = 0;

  concur::detail::ForkLink<ProcessState> fork_link_;  // ForkRegistry<ProcessState>
};

// --- waiting -----------------------------------------------------------------------------------

// Python's waitstatus_to_exitcode.
int exitcode_of(int wait_status) noexcept;
// A non-blocking look: the child's exit code once it has ended (reaping it), else nullopt.
std::optional<int> poll_child(ProcessState& st);
// Waits until the child ended or the deadline passed; true when it ended.
bool wait_child(ProcessState& st, const Deadline& deadline);
// Sends `sig` unless the child has ended.
void signal_child(ProcessState& st, int sig);
// Closes the child's descriptors (close(); the child of a fork).
void release_child(ProcessState& st) noexcept;

// --- the registry of this process --------------------------------------------------------------

struct Registry {
  Mutex mutex;  // guards the members below; taken before any state's mutex
  std::vector<std::shared_ptr<ProcessState>> children;
  std::uint64_t counter = 0;
  std::shared_ptr<ProcessState> self;
  std::shared_ptr<ProcessState> parent;
  std::atomic<bool> exit_handler_registered{false};
  std::atomic<bool> exiting{false};
};
// Made at first use, never destroyed.
Registry& registry();

void remember_child(std::shared_ptr<ProcessState> st);
void forget_child(const ProcessState* st);
// Registers the atexit handler once per process image.
void ensure_exit_handler();
// Python's util._exit_function: SIGTERM to the daemon children, then join every child.
void exit_function() noexcept;

// Becoming a child: a fresh counter and children list, `self` as the current process and
// `parent` as its parent (as Process._bootstrap does).
void become_child(std::shared_ptr<ProcessState> self, std::shared_ptr<ProcessState> parent);
// The state of a parent known by its pid. `pidfd` (or -1) refers to it; when -1, is_alive()
// compares getppid() with pid (the parent is this process's OS parent).
std::shared_ptr<ProcessState> make_parent_state(std::string name, int pid, int pidfd,
                                                bool dead);
// The same for this process's OS parent (fork, spawn): a pidfd opened while getppid() still
// names it, so that it refers to that parent and not to a process that reused its pid.
std::shared_ptr<ProcessState> make_own_parent_state(std::string name, int pid);

// In a child, after the target: exit rules, non-daemon threads, flushed streams, _exit(code).
[[noreturn]] void finish_child(int code) noexcept;
// Installs an on_exit handler so that exit(n) in the target ends like finish_child(n).
void install_child_exit_hook();
// Prints "Process <name>:\n<type>: <what>\n" to stderr for the exception being handled.
void report_child_exception(const std::string& name) noexcept;
// stdin reads /dev/null (Python's util._close_stdin).
void close_stdin() noexcept;
// Flushes C stdio and std::cout/cerr/clog.
void flush_std_streams() noexcept;

// --- start methods -----------------------------------------------------------------------------

// The default start method (context.cpp): set_start_method's choice, else fork.
StartMethod default_start_method() noexcept;
// -1 when never set, else the StartMethod.
int start_method_setting() noexcept;
void force_start_method(int setting) noexcept;

// main_guard's record of argv; empty when main_guard was never called.
const std::vector<std::string>& recorded_argv();
bool main_guard_called() noexcept;

// The environment variables that make main_guard a child or a forkserver.
inline constexpr const char* kBootstrapVar = "CONCUR_MP_BOOTSTRAP";
inline constexpr const char* kForkServerVar = "CONCUR_MP_FORKSERVER";

// Runs /proc/self/exe with the recorded argv and the environment plus var=3: the child inherits
// stdin, stdout, stderr and `fd` as its descriptor 3, nothing else (as CPython's spawn). Returns
// the child's pid; OSError on failure.
pid_t spawn_self(const char* var, int fd);

// What a spawn or forkserver child needs besides its arguments (bootstrap.cpp builds it).
struct BootstrapRequest {
  const ProcessState* state;
  SpawnCall call;
  std::optional<StartMethod> context_method;
  bool pdeathsig = false;   // spawn: the child sets PR_SET_PDEATHSIG itself
  bool send_stdio = false;  // forkserver: the parent's stdout and stderr travel along
};
// Header, process data and arguments in one buffer, with the descriptors to send in `fds`
// (the arguments' descriptors, then the stdio ones when asked).
void build_bootstrap(ByteBuffer& out, FdTable& fds, const BootstrapRequest& request,
                     std::span<const std::byte> args);
// In a child (spawn: from main_guard; forkserver: in the forked child): reads the bootstrap from
// `fd`, becomes the child and runs the target; never returns.
[[noreturn]] void run_bootstrapped_child(int fd, bool forkserver) noexcept;

// forkserver.cpp
// Starts a child through the forkserver (starting the server first if needed); fills st.pid,
// st.status_fd, st.pidfd.
void forkserver_start(ProcessState& st, std::span<const std::byte> bootstrap,
                      std::span<const int> fds, bool daemon);
// main_guard in the server process: serves until the control socket closes; never returns.
[[noreturn]] void run_forkserver(int control) noexcept;

// /proc/<pid>/stat's start time (clock ticks after boot), 0 if unknown.
std::uint64_t process_start_time(int pid) noexcept;
int pidfd_open(int pid) noexcept;

}  // namespace concur::multiprocessing::detail
