// The process pools' engine (include/concur/multiprocessing/detail/pool_call.hpp): the parent's
// pool thread, the worker's loop, and the wire between them.
//
// Wire (a socketpair per worker; every frame is a u32 length in host order, then its body, at
// most kMaxFrame bytes; both ends are this program):
//   parent -> worker, one frame per batch of jobs; each job:
//     u64 id | str entry object | u64 entry offset | str function object | u64 function offset
//     | u8 has function | u32 size | payload            (str: u16 size, then the bytes)
//   worker -> parent, one frame per batch of results; each result:
//     u64 id | u8 status | u32 microseconds the job took | u32 size | payload
//   status: 0 the result's bytes; 1 the exception's; 2 the initializer failed (id 0).
// A worker runs its jobs in the order sent and sends each result before it starts the next job,
// so its results come back in that order and, when it dies, the first job it had not answered
// is the one it was running: mp::Pool fails that one and gives the rest to other workers.
// The parent's socket end is non-blocking: its one thread never waits on a worker that does not
// read. A worker's end blocks, with the owner's pidfd polled beside it, so a worker whose parent
// died exits even when siblings forked later keep the parent's end of its socket open.
// After the last job a retiring worker (maxtasksperchild) may take, and when the pool closes,
// the parent shuts down its sending side: the worker finishes what it holds and exits at EOF.
#include "concur/multiprocessing/detail/pool_call.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <typeindex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "concur/detail/mutex.hpp"
#include "concur/detail/text.hpp"
#include "concur/futures/errors.hpp"
#include "concur/multiprocessing/errors.hpp"
#include "concur/multiprocessing/process.hpp"
#include "concur/multiprocessing/process_pool_executor.hpp"
#include "concur/threading/thread.hpp"
#include "multiprocessing/process_state.hpp"

namespace concur::multiprocessing::detail {

namespace {

constexpr std::uint32_t kMaxFrame = 1u << 30;
constexpr std::uint8_t kResultValue = 0;
constexpr std::uint8_t kResultError = 1;
constexpr std::uint8_t kInitializerFailed = 2;
// How many jobs a worker may hold: about kHeldMicros of work by its recent pace, within
// [1, kMaxHeld]. One for long jobs (a death takes one down, and a job never waits behind a long
// one while another worker is free); many for tiny ones (the round trip is shared by a batch).
// A new worker's pace is taken to be kHeldMicros: one job at a time until its results say more.
constexpr double kHeldMicros = 2000;
constexpr std::size_t kMinHeld = 1;
constexpr std::size_t kMaxHeld = 64;
constexpr double kStuckMicros = 1000;
// After terminate() sends SIGTERM, a worker gets this long before SIGKILL.
constexpr auto kTerminateGrace = std::chrono::seconds(2);

long micros_now() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

// --- encoding ----------------------------------------------------------------------------------

void put_u8(ByteBuffer& b, std::uint8_t v) { b.append(&v, 1); }
void put_u16(ByteBuffer& b, std::uint16_t v) { b.append(&v, 2); }
void put_u32(ByteBuffer& b, std::uint32_t v) { b.append(&v, 4); }
void put_u64(ByteBuffer& b, std::uint64_t v) { b.append(&v, 8); }
void put_str(ByteBuffer& b, const std::string& s) {
  put_u16(b, static_cast<std::uint16_t>(s.size()));
  b.append(s.data(), s.size());
}

// Reads a frame body; every short read is a broken frame.
class BodyReader {
 public:
  explicit BodyReader(std::span<const std::byte> s) : s_(s) {}
  bool done() const noexcept { return at_ == s_.size(); }
  template <class T>
  T get() {
    T v;
    std::memcpy(&v, take(sizeof v).data(), sizeof v);
    return v;
  }
  std::string str() {
    const auto n = get<std::uint16_t>();
    auto b = take(n);
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
  }
  std::span<const std::byte> take(std::size_t n) {
    if (n > s_.size() - at_) throw OSError("a process pool's message is cut short");
    auto b = s_.subspan(at_, n);
    at_ += n;
    return b;
  }

 private:
  std::span<const std::byte> s_;
  std::size_t at_ = 0;
};

// Starts a frame in `b`; finish_frame() writes its length.
std::size_t begin_frame(ByteBuffer& b) {
  const std::size_t at = b.size();
  put_u32(b, 0);
  return at;
}
void finish_frame(ByteBuffer& b, std::size_t at) {
  const auto n = static_cast<std::uint32_t>(b.size() - at - 4);
  std::memcpy(b.data() + at, &n, 4);
}

std::string describe_exit(int pid, std::optional<int> code) {
  std::string s = "pid " + std::to_string(pid) + ", exit code ";
  if (!code) return s + "unknown";
  s += std::to_string(*code);
  if (*code < 0) {
    const char* name = sigabbrev_np(-*code);
    if (name) s += std::string(": killed by SIG") + name;
  }
  return s;
}

}  // namespace

// --- the worker's side ---------------------------------------------------------------------------

namespace {

// Blocks until `fd` is ready for `events` or the owner ended (false).
bool wait_fd(int fd, short events, int owner_fd) {
  pollfd fds[2] = {{fd, events, 0}, {owner_fd, POLLIN, 0}};
  for (;;) {
    const int n = ::poll(fds, owner_fd >= 0 ? 2 : 1, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (fds[0].revents != 0) return true;
    if (owner_fd >= 0 && fds[1].revents != 0) return false;
  }
}

// Reads exactly n bytes; false at EOF before the first byte or when the owner ended; OSError for
// EOF in the middle.
bool read_exact(int fd, std::byte* at, std::size_t n, int owner_fd) {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::recv(fd, at + got, n - got, MSG_DONTWAIT);
    if (r > 0) {
      got += static_cast<std::size_t>(r);
      continue;
    }
    if (r == 0) {
      if (got == 0) return false;
      throw OSError("a process pool's message is cut short");
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      if (got == 0) return false;
      concur::detail::throw_os_error(errno, "reading a pool job");
    }
    if (!wait_fd(fd, POLLIN, owner_fd)) return false;
  }
  return true;
}

bool write_all(int fd, const std::byte* at, std::size_t n, int owner_fd) {
  std::size_t sent = 0;
  while (sent < n) {
    const ssize_t r = ::send(fd, at + sent, n - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r > 0) {
      sent += static_cast<std::size_t>(r);
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_fd(fd, POLLOUT, owner_fd)) return false;
      continue;
    }
    return false;  // the parent is gone
  }
  return true;
}

// The worker's unsent results: written out by an exit() inside a job too (std::exit in a task
// ends the worker, but the jobs it finished before are not lost).
struct WorkerOutput {
  ByteBuffer out;
  std::size_t frame = 0;
  bool open = false;
  int fd = -1;
  int owner_fd = -1;

  void add(std::uint64_t id, std::uint8_t status, long micros, const ByteBuffer& payload) {
    if (!open) {
      frame = begin_frame(out);
      open = true;
    }
    put_u64(out, id);
    put_u8(out, status);
    put_u32(out, static_cast<std::uint32_t>(std::min<long>(micros, UINT32_MAX)));
    put_u32(out, static_cast<std::uint32_t>(payload.size()));
    out.append(payload.data(), payload.size());
  }
  bool flush() {
    if (!open) return true;
    finish_frame(out, frame);
    open = false;
    const bool ok = write_all(fd, out.data(), out.size(), owner_fd);
    out.clear();
    out.trim(1 << 20);
    return ok;
  }
};
WorkerOutput* g_worker_output = nullptr;

struct ResolvedCode {
  std::string object;
  std::uint64_t offset;
  void* address;
};

void* resolve_cached(std::vector<ResolvedCode>& cache, const std::string& object,
                     std::uint64_t offset, std::size_t size, unsigned flags) {
  for (const ResolvedCode& c : cache)
    if (c.offset == offset && c.object == object) return c.address;
  void* at = resolve_code(CodeLocation{object, offset}, size, flags);
  if (at == nullptr) return nullptr;
  cache.push_back(ResolvedCode{object, offset, at});
  return at;
}

}  // namespace

void serve_pool(Connection& conn, int owner_pid) {
  // A worker keeps the memory its jobs free for the next job: without this, glibc maps each
  // large buffer afresh (a 200 KB chunk of a map: page faults) and trims the heap after it.
  ::mallopt(M_MMAP_THRESHOLD, 16 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 64 << 20);
  const int fd = conn.fileno();
  const int owner_fd = pidfd_open(owner_pid);
  if (owner_fd < 0 && errno == ESRCH) return;
  WorkerOutput output;
  output.fd = fd;
  output.owner_fd = owner_fd;
  g_worker_output = &output;
  static bool exit_hook = false;
  if (!exit_hook) {
    exit_hook = true;
    std::atexit([] {
      if (g_worker_output != nullptr) g_worker_output->flush();
    });
  }
  std::vector<ResolvedCode> entries, functions;
  ByteBuffer body, payload;
  for (;;) {
    std::uint32_t size = 0;
    if (!read_exact(fd, reinterpret_cast<std::byte*>(&size), 4, owner_fd)) break;
    if (size > kMaxFrame) throw OSError("a process pool's message is too long");
    body.resize(size);
    if (!read_exact(fd, body.data(), size, owner_fd)) break;
    BodyReader in(body.view());
    while (!in.done()) {
      const auto id = in.get<std::uint64_t>();
      const std::string entry_object = in.str();
      const auto entry_offset = in.get<std::uint64_t>();
      const std::string function_object = in.str();
      const auto function_offset = in.get<std::uint64_t>();
      const auto has_function = in.get<std::uint8_t>();
      const auto n = in.get<std::uint32_t>();
      const std::span<const std::byte> args = in.take(n);

      const long start = micros_now();
      std::uint8_t status = kResultValue;
      payload.clear();
      try {
        auto* entry = static_cast<const PoolEntry*>(
            resolve_cached(entries, entry_object, entry_offset, sizeof(PoolEntry), PF_R));
        if (entry == nullptr || entry->magic != kPoolEntryMagic)
          throw ValueError("the pool's task was not found in the worker (not the same program?)");
        void (*function)() = nullptr;
        if (has_function != 0) {
          function = reinterpret_cast<void (*)()>(
              resolve_cached(functions, function_object, function_offset, 1, PF_X));
          if (function == nullptr)
            throw ValueError("the pool's task function was not found in the worker");
        }
        entry->run(args, function, payload);
      } catch (...) {
        status = kResultError;
        payload.clear();
        try {
          serialize_into(payload, std::current_exception());
        } catch (...) {
          payload.clear();
          serialize_into(payload, std::make_exception_ptr(
                                      ValueError("the task's exception could not be encoded")));
        }
      }
      const long end = micros_now();
      output.add(id, status, end - start, payload);
      payload.trim(1 << 20);
      // Each result leaves before the next job starts: it never waits behind a long job, and
      // when a worker dies, the jobs it held but had not answered are exactly the one it was
      // running and those it had not started (which the parent can give to another worker).
      if (!output.flush()) return;
    }
    body.trim(1 << 20);
  }
  g_worker_output = nullptr;
  if (owner_fd >= 0) ::close(owner_fd);
}

void report_pool_initializer_failure(Connection& conn, std::exception_ptr error) noexcept {
  try {
    WorkerOutput output;
    output.fd = conn.fileno();
    ByteBuffer payload;
    serialize_into(payload, error);
    output.add(0, kInitializerFailed, 0, payload);
    output.flush();
  } catch (...) {
  }
}

ByteBuffer& job_scratch() noexcept {
  thread_local ByteBuffer scratch;
  return scratch;
}

CodeLocation pool_code_location(void (*function)()) {
  std::optional<CodeLocation> at = locate_code(reinterpret_cast<const void*>(function));
  if (!at) throw ValueError("the pool's initializer is not code of this program");
  return std::move(*at);
}

[[noreturn]] void throw_pool_task_refused(const char* what, const std::type_info& type) {
  throw ValueError(std::string("a process pool cannot run this task: ") + what + " (" +
                   concur::detail::type_name(type) +
                   "); a task runs in another process, so it must be a plain function or a "
                   "capture-less lambda with serializable arguments and result");
}

// --- call codecs (ProcessPoolExecutor) ------------------------------------------------------------

namespace {
struct CodecTable {
  concur::detail::Mutex mutex;
  std::map<std::pair<std::type_index, std::type_index>, CallCodec> codecs;
};
CodecTable& codec_table() {
  static CodecTable* table = new CodecTable;  // never destroyed: used during exit too
  return *table;
}
}  // namespace

const CallCodec* register_call_codec(const std::type_info& function,
                                     const std::type_info& arguments, const CallCodec& codec) {
  CodecTable& t = codec_table();
  concur::detail::MutexGuard g(t.mutex);
  return &t.codecs
              .emplace(std::make_pair(std::type_index(function), std::type_index(arguments)), codec)
              .first->second;  // std::map: stable addresses
}

const CallCodec* find_call_codec(const std::type_info& function, const std::type_info& arguments) {
  CodecTable& t = codec_table();
  concur::detail::MutexGuard g(t.mutex);
  auto it = t.codecs.find(std::make_pair(std::type_index(function), std::type_index(arguments)));
  return it == t.codecs.end() ? nullptr : &it->second;  // std::map: stable addresses
}

// --- the parent's side -----------------------------------------------------------------------------

namespace {

struct HeldJob {
  std::uint64_t id;
  long sent_at;  // micros_now() when dispatched
  PoolJob job;
};

struct Worker {
  std::unique_ptr<multiprocessing::Process> process;
  int pid = 0;
  int fd = -1;      // this end of the worker's socket (non-blocking); owned by `conn`
  Connection conn;
  int pidfd = -1;
  std::deque<HeldJob> held;
  ByteBuffer out;   // frames not yet written
  std::size_t out_sent = 0;
  ByteBuffer in;    // bytes read, not yet parsed
  std::size_t frame_at = SIZE_MAX;  // the frame being built this round
  int sent = 0;     // jobs sent, for maxtasksperchild
  bool retiring = false;  // took its last job: its sending side is shut once written
  bool shut = false;      // its sending side is shut down
  double pace = kHeldMicros;  // microseconds per job, recent average

  std::size_t capacity() const noexcept {
    const double n = kHeldMicros / (pace + 1);
    return std::clamp(static_cast<std::size_t>(n), kMinHeld, kMaxHeld);
  }
  ~Worker() {
    if (pidfd >= 0) ::close(pidfd);
  }
};

}  // namespace

struct WorkerPool::Shared {
  PoolSettings settings;
  int owner_pid = 0;

  concur::detail::Mutex mutex;  // guards the members up to `pids`
  std::vector<PoolJob> queue;  // swapped with `incoming` whole: its memory stays in use
  enum class Phase { running, closing, terminating } phase = Phase::running;
  bool terminate_kill = false;
  bool terminate_cancel = false;
  bool cancel_ready = false;  // cancel_queued(): the jobs the thread took but did not send
  std::exception_ptr terminate_error;
  std::exception_ptr broken;  // set once: the error every later submit throws
  bool thread_done = false;
  std::vector<int> pids;

  int wake_fd = -1;
  // The pool thread is in (or entering) poll() with a worker free to take a job: see
  // wake_if_idle().
  std::atomic<bool> idle{false};
  std::unique_ptr<threading::Thread> thread;
  concur::detail::Mutex join_mutex;
  std::atomic<bool> joined{false};

  // The pool thread's own:
  std::vector<std::unique_ptr<Worker>> workers;
  std::deque<PoolJob> ready;
  std::vector<PoolJob> incoming;
  std::uint64_t next_id = 1;
  std::exception_ptr pending_break;  // an initializer failed: break_pool() after the reading
  int started = 0;  // workers started so far

  ~Shared() {
    if (wake_fd >= 0) ::close(wake_fd);
  }

  void wake() noexcept {
    const std::uint64_t one = 1;
    (void)!::write(wake_fd, &one, sizeof one);
  }
  // A submit wakes the thread only when it sleeps (or is about to). The thread sets `idle`
  // before it looks at the queue for the last time under the mutex, and a submitter reads it
  // after its push under the mutex: either the thread sees the job, or the submitter sees
  // `idle` (seq_cst on both sides, ordered through the mutex) and writes the eventfd.
  void wake_if_idle() noexcept {
    if (idle.load(std::memory_order_seq_cst) && idle.exchange(false, std::memory_order_seq_cst))
      wake();
  }

  // --- the pool thread ---

  void run() noexcept;
  void start_worker();
  void dispatch();
  void flush(Worker& w);
  void read_results(Worker& w);
  void complete(Worker& w, BodyReader& in);
  void worker_ended(std::size_t index);
  void break_pool(std::exception_ptr error);
  void fail_all(std::exception_ptr error, bool cancel_queued);
  void end_workers(bool kill);
  void shut_sending(Worker& w);
  void update_pids();
  std::exception_ptr death_error(int pid, std::optional<int> code);
};

void WorkerPool::Shared::update_pids() {
  std::vector<int> now;
  for (auto& w : workers) now.push_back(w->pid);
  concur::detail::MutexGuard g(mutex);
  pids = std::move(now);
}

void WorkerPool::Shared::start_worker() {
  auto [mine, theirs] = multiprocessing::Pipe(true);
  auto w = std::make_unique<Worker>();
  w->process = settings.start_worker(std::move(theirs), owner_pid);
  theirs = Connection();
  w->pid = w->process->pid().value_or(0);
  w->pidfd = pidfd_open(w->pid);
  w->conn = std::move(mine);
  w->fd = w->conn.fileno();
  const int flags = ::fcntl(w->fd, F_GETFL);
  ::fcntl(w->fd, F_SETFL, flags | O_NONBLOCK);
  ++started;
  workers.push_back(std::move(w));
}

void WorkerPool::Shared::shut_sending(Worker& w) {
  if (w.shut) return;
  w.shut = true;
  ::shutdown(w.fd, SHUT_WR);
}

void WorkerPool::Shared::dispatch() {
  const int maxtasks = settings.maxtasksperchild;
  const long now = micros_now();
  while (!ready.empty()) {
    Worker* best = nullptr;
    for (auto& w : workers) {
      if (w->retiring || w->shut || w->held.size() >= w->capacity()) continue;
      // A worker whose oldest job is taking far longer than its pace is on a long job: what
      // would queue behind it waits here for a worker that is free.
      if (!w->held.empty() && now - w->held.front().sent_at > std::max(4 * w->pace, kStuckMicros))
        continue;
      if (best == nullptr || w->held.size() < best->held.size()) best = w.get();
    }
    if (best == nullptr) return;
    PoolJob job = std::move(ready.front());
    ready.pop_front();
    if (!job.sent) {  // a job given back by a dead worker is running already
      bool run = false;
      try {
        run = job.state->set_running_or_notify_cancel();
      } catch (...) {
        run = false;  // completed by hand meanwhile
      }
      if (!run) continue;
      job.sent = true;
    }
    Worker& w = *best;
    const std::uint64_t id = next_id++;
    try {
      static thread_local std::unordered_map<const void*, CodeLocation> locations;
      auto where = [&](const void* at) -> const CodeLocation& {
        auto it = locations.find(at);
        if (it != locations.end()) return it->second;
        std::optional<CodeLocation> l = locate_code(at);
        if (!l) throw ValueError("a pool task's code is not in any loaded object");
        return locations.emplace(at, std::move(*l)).first->second;
      };
      const CodeLocation& entry = where(job.entry);
      static const CodeLocation none{};
      const CodeLocation& function =
          job.function ? where(reinterpret_cast<const void*>(job.function)) : none;
      if (job.payload.size() > kMaxFrame / 2)
        throw ValueError("a pool task's arguments are too large to send (over 512 MiB)");
      if (w.frame_at == SIZE_MAX) w.frame_at = begin_frame(w.out);
      put_u64(w.out, id);
      put_str(w.out, entry.object);
      put_u64(w.out, entry.offset);
      put_str(w.out, function.object);
      put_u64(w.out, function.offset);
      put_u8(w.out, job.function ? 1 : 0);
      put_u32(w.out, static_cast<std::uint32_t>(job.payload.size()));
      w.out.append(job.payload.data(), job.payload.size());
    } catch (...) {
      job.state->try_set_exception(std::current_exception());
      continue;
    }
    w.held.push_back(HeldJob{id, now, std::move(job)});
    if (w.out.size() - w.frame_at > (1u << 20)) {  // keep frames moderate
      finish_frame(w.out, w.frame_at);
      w.frame_at = SIZE_MAX;
    }
    if (maxtasks > 0 && ++w.sent >= maxtasks) w.retiring = true;
  }
}

void WorkerPool::Shared::flush(Worker& w) {
  if (w.frame_at != SIZE_MAX) {
    finish_frame(w.out, w.frame_at);
    w.frame_at = SIZE_MAX;
  }
  while (w.out_sent < w.out.size()) {
    const ssize_t r = ::send(w.fd, w.out.data() + w.out_sent, w.out.size() - w.out_sent,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r > 0) {
      w.out_sent += static_cast<std::size_t>(r);
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    // The worker is gone (its pidfd will say so): what it did not receive is failed then.
    w.out.clear();
    w.out_sent = 0;
    return;
  }
  w.out.clear();
  w.out.trim(1 << 20);
  w.out_sent = 0;
  if (w.retiring) shut_sending(w);
}

void WorkerPool::Shared::read_results(Worker& w) {
  for (;;) {
    const std::size_t have = w.in.size();
    w.in.extend(64 * 1024);
    const ssize_t r = ::recv(w.fd, w.in.data() + have, 64 * 1024, MSG_DONTWAIT);
    if (r <= 0) {
      w.in.resize(have);
      break;
    }
    w.in.resize(have + static_cast<std::size_t>(r));
    if (static_cast<std::size_t>(r) < 64 * 1024) break;
  }
  std::size_t at = 0;
  while (w.in.size() - at >= 4) {
    std::uint32_t n = 0;
    std::memcpy(&n, w.in.data() + at, 4);
    if (n > kMaxFrame) throw OSError("a pool worker sent a message that is too long");
    if (w.in.size() - at - 4 < n) break;
    BodyReader in(std::span<const std::byte>(w.in.data() + at + 4, n));
    while (!in.done()) complete(w, in);
    at += 4 + n;
  }
  if (at > 0) {
    const std::size_t rest = w.in.size() - at;
    std::memmove(w.in.data(), w.in.data() + at, rest);
    w.in.resize(rest);
    if (rest == 0) w.in.trim(1 << 20);
  }
}

void WorkerPool::Shared::complete(Worker& w, BodyReader& in) {
  const auto id = in.get<std::uint64_t>();
  const auto status = in.get<std::uint8_t>();
  const auto micros = in.get<std::uint32_t>();
  const auto n = in.get<std::uint32_t>();
  const std::span<const std::byte> payload = in.take(n);
  if (status == kInitializerFailed) {
    std::exception_ptr cause;
    try {
      deserialize_into(payload, cause);
    } catch (...) {
      cause = std::current_exception();
    }
    std::string what = "?";
    try {
      std::rethrow_exception(cause);
    } catch (const std::exception& e) {
      what = concur::detail::type_name(typeid(e)) + ": " + e.what();
    } catch (...) {
    }
    const std::string message = "the initializer of a pool worker (pid " + std::to_string(w.pid) +
                                ") failed: " + what;
    // Broken once this round of reading is over (breaking ends the workers, this one included).
    if (!pending_break) {
      pending_break =
          settings.break_on_death
              ? std::make_exception_ptr(futures::BrokenProcessPool(
                    "A process in the initializer failed: " + what + " (pid " +
                    std::to_string(w.pid) + ")"))
              : std::make_exception_ptr(ProcessError(message));
    }
    return;
  }
  if (w.held.empty() || w.held.front().id != id)
    throw OSError("a pool worker answered a job it was not given");
  HeldJob h = std::move(w.held.front());
  w.held.pop_front();
  w.pace = w.pace * 0.75 + static_cast<double>(micros) * 0.25;
  futures::detail::StateBase& state = *h.job.state.get();
  if (status == kResultValue) {
    try {
      h.job.complete(state, payload);
    } catch (...) {
      state.try_set_exception(std::current_exception());
    }
  } else {
    std::exception_ptr error;
    try {
      deserialize_into(payload, error);
    } catch (...) {
      error = std::current_exception();
    }
    state.try_set_exception(error);
  }
}

std::exception_ptr WorkerPool::Shared::death_error(int pid, std::optional<int> code) {
  if (settings.break_on_death) {
    return std::make_exception_ptr(futures::BrokenProcessPool(
        "A process in the process pool was terminated abruptly while the future was running or "
        "pending (" + describe_exit(pid, code) + ")"));
  }
  return std::make_exception_ptr(
      ProcessError("a pool worker died while running this task (" + describe_exit(pid, code) + ")"));
}

void WorkerPool::Shared::worker_ended(std::size_t index) {
  Worker& w = *workers[index];
  try {
    read_results(w);  // what it wrote before it ended
  } catch (...) {
  }
  w.process->join(std::chrono::seconds(5));
  const std::optional<int> code = w.process->exitcode();
  const bool clean = code == 0 && w.held.empty() && (w.retiring || w.shut);
  if (!clean) {
    std::exception_ptr error = death_error(w.pid, code);
    if (settings.break_on_death) {
      break_pool(error);
      return;  // break_pool ended every worker
    }
    // The first job it had not answered is the one it was running (see the wire above); it
    // had not started the others, which go back to the front of the queue, in order.
    if (!w.held.empty()) {
      w.held.front().job.state->try_set_exception(error);
      w.held.pop_front();
    }
    while (!w.held.empty()) {
      PoolJob job = std::move(w.held.back().job);
      w.held.pop_back();
      ready.push_front(std::move(job));
    }
  }
  try {
    w.process->close();
  } catch (...) {
  }
  workers.erase(workers.begin() + static_cast<std::ptrdiff_t>(index));
  update_pids();
}

void WorkerPool::Shared::fail_all(std::exception_ptr error, bool cancel_queued) {
  for (auto& w : workers) {
    for (HeldJob& h : w->held) h.job.state->try_set_exception(error);
    w->held.clear();
  }
  std::vector<PoolJob> rest;
  {
    concur::detail::MutexGuard g(mutex);
    rest.swap(queue);
  }
  auto finish = [&](auto& jobs) {
    for (PoolJob& j : jobs) {
      if (cancel_queued) j.state->cancel();
      j.state->try_set_exception(error);
    }
    jobs.clear();
  };
  finish(ready);
  finish(rest);
}

void WorkerPool::Shared::end_workers(bool kill) {
  for (auto& w : workers) {
    try {
      if (kill) w->process->kill();
      else w->process->terminate();
    } catch (...) {
    }
  }
  for (auto& w : workers) {
    try {
      if (!w->process->join(kTerminateGrace)) {
        w->process->kill();
        w->process->join(kTerminateGrace);
      }
      w->process->close();
    } catch (...) {
    }
  }
  workers.clear();
  update_pids();
}

void WorkerPool::Shared::break_pool(std::exception_ptr error) {
  {
    concur::detail::MutexGuard g(mutex);
    if (!broken) broken = error;
  }
  fail_all(error, false);
  end_workers(false);
}

void WorkerPool::Shared::run() noexcept {
  std::vector<pollfd> fds;
  for (;;) {
    Phase now;
    std::exception_ptr broken_by;
    {
      concur::detail::MutexGuard g(mutex);
      incoming.swap(queue);
      now = phase;
      broken_by = broken;
      if (cancel_ready) {
        cancel_ready = false;
        for (PoolJob& j : ready) j.state->cancel();
        for (PoolJob& j : incoming) j.state->cancel();
      }
    }
    for (PoolJob& j : incoming) ready.push_back(std::move(j));
    incoming.clear();
    if (now == Phase::terminating) {
      std::exception_ptr error;
      bool kill, cancel;
      {
        concur::detail::MutexGuard g(mutex);
        error = terminate_error;
        kill = terminate_kill;
        cancel = terminate_cancel;
      }
      if (!error) error = std::make_exception_ptr(ProcessError("the pool was terminated"));
      fail_all(error, cancel);
      end_workers(kill);
      break;
    }
    const bool is_broken = broken_by != nullptr;
    if (is_broken) {
      // break_pool() ended the workers; what arrived since fails the same way. The thread then
      // waits for close() or terminate().
      fail_all(broken_by, false);
      if (workers.empty() && now == Phase::closing) break;
    }
    bool busy = !ready.empty();
    for (auto& w : workers) busy = busy || !w->held.empty();
    if (!is_broken && (now == Phase::running || busy)) {
      int live = 0;
      for (auto& w : workers) live += (w->retiring || w->shut) ? 0 : 1;
      try {
        while (live < settings.processes) {
          start_worker();
          ++live;
        }
        update_pids();
      } catch (...) {
        break_pool(std::current_exception());
        continue;
      }
    }
    dispatch();
    for (auto& w : workers) flush(*w);
    if (now == Phase::closing && !busy) {
      for (auto& w : workers) shut_sending(*w);
      if (workers.empty()) break;
    }

    fds.clear();
    fds.push_back(pollfd{wake_fd, POLLIN, 0});
    for (auto& w : workers) {
      short events = POLLIN;
      if (w->out_sent < w->out.size()) events |= POLLOUT;
      fds.push_back(pollfd{w->fd, events, 0});
      fds.push_back(pollfd{w->pidfd, POLLIN, 0});
    }
    // A new job wakes the thread only when a worker could take it; otherwise a result (or a
    // death) wakes it first, and it finds the job then.
    bool spare = false;
    for (auto& w : workers)
      spare = spare || (!w->retiring && !w->shut && w->held.size() < w->capacity());
    idle.store(spare, std::memory_order_seq_cst);
    {
      concur::detail::MutexGuard g(mutex);
      if ((spare && !queue.empty()) || phase != now || cancel_ready || broken != broken_by) {
        idle.store(false, std::memory_order_relaxed);
        continue;
      }
    }
    const int n = ::poll(fds.data(), fds.size(), -1);
    idle.store(false, std::memory_order_relaxed);
    if (n < 0) continue;  // EINTR
    if (fds[0].revents & POLLIN) {
      std::uint64_t count;
      (void)!::read(wake_fd, &count, sizeof count);
    }
    // Results first, then deaths (a dead worker's last results are read before it is failed).
    const std::size_t count = workers.size();
    std::vector<std::size_t> ended;
    for (std::size_t i = 0; i < count; ++i) {
      const pollfd& s = fds[1 + 2 * i];
      const pollfd& p = fds[2 + 2 * i];
      if (s.revents & (POLLIN | POLLHUP | POLLERR)) {
        try {
          read_results(*workers[i]);
        } catch (...) {
          // A broken frame from a worker: it is not to be trusted any more.
          try {
            workers[i]->process->kill();
          } catch (...) {
          }
        }
      }
      if (p.revents & POLLIN || (workers[i]->pidfd < 0 && !workers[i]->process->is_alive()))
        ended.push_back(i);
    }
    if (pending_break) {
      break_pool(std::exchange(pending_break, nullptr));
      continue;
    }
    for (auto it = ended.rbegin(); it != ended.rend(); ++it) {
      if (*it < workers.size()) worker_ended(*it);
      {
        concur::detail::MutexGuard g(mutex);
        if (broken) break;
      }
    }
  }
  concur::detail::MutexGuard g(mutex);
  thread_done = true;
}

// --- WorkerPool ------------------------------------------------------------------------------------

WorkerPool::WorkerPool(PoolSettings settings) : processes_(settings.processes) {
  if (settings.processes < 1) throw ValueError("Number of processes must be at least 1");
  if (settings.maxtasksperchild < 0)
    throw ValueError("maxtasksperchild must be a positive int or None");
  shared_ = std::make_shared<Shared>();
  shared_->settings = std::move(settings);
  shared_->owner_pid = ::getpid();
  shared_->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (shared_->wake_fd < 0) concur::detail::throw_os_error(errno, "eventfd");
  // The first workers start here, in the constructing thread (a "fork" pool forks from it), so
  // that a worker that cannot start is the constructor's error.
  try {
    for (int i = 0; i < shared_->settings.processes; ++i) shared_->start_worker();
  } catch (...) {
    shared_->end_workers(true);
    throw;
  }
  shared_->update_pids();
  auto shared = shared_;
  shared_->thread = std::make_unique<threading::Thread>(
      threading::ThreadOptions{.name = "PoolThread", .daemon = true}, [shared] { shared->run(); });
  try {
    shared_->thread->start();
  } catch (...) {
    shared_->end_workers(true);
    shared_->thread.reset();
    throw;
  }
}

WorkerPool::~WorkerPool() {
  if (::getpid() != shared_->owner_pid) {
    // A forked copy: the pool thread and the workers are the parent's.
    (void)shared_->thread.release();
    return;
  }
  terminate();
  join();
}

void WorkerPool::submit(PoolJob job) {
  std::vector<PoolJob> one;
  one.push_back(std::move(job));
  submit(one);
}

void WorkerPool::submit(std::vector<PoolJob>& jobs) {
  Shared& s = *shared_;
  {
    concur::detail::MutexGuard g(s.mutex);
    if (s.broken) std::rethrow_exception(s.broken);
    if (s.phase != Shared::Phase::running) throw ValueError("Pool not running");
    for (PoolJob& j : jobs) s.queue.push_back(std::move(j));
  }
  jobs.clear();
  s.wake_if_idle();
}

void WorkerPool::close() {
  Shared& s = *shared_;
  {
    concur::detail::MutexGuard g(s.mutex);
    if (s.phase == Shared::Phase::running) s.phase = Shared::Phase::closing;
  }
  s.wake();
}

void WorkerPool::terminate(bool kill, std::exception_ptr error, bool cancel_queued) {
  Shared& s = *shared_;
  {
    concur::detail::MutexGuard g(s.mutex);
    if (s.phase != Shared::Phase::terminating) {
      s.phase = Shared::Phase::terminating;
      s.terminate_kill = kill;
      s.terminate_error = error;
      s.terminate_cancel = cancel_queued;
    }
  }
  s.wake();
}

void WorkerPool::cancel_queued() {
  Shared& s = *shared_;
  std::vector<PoolJob> jobs;
  {
    concur::detail::MutexGuard g(s.mutex);
    jobs.swap(s.queue);
  }
  // These never reach the pool thread; the ones it already took it cancels itself (and a
  // cancelled future is skipped when dispatched).
  for (PoolJob& j : jobs) j.state->cancel();
  concur::detail::MutexGuard g(s.mutex);
  s.cancel_ready = true;
  s.wake();
}

void WorkerPool::join() {
  Shared& s = *shared_;
  if (s.thread && s.thread->ident() == threading::get_ident())
    throw RuntimeError("cannot join a pool from its own thread (a callback)");
  concur::detail::MutexGuard g(s.join_mutex);
  if (s.thread && !s.joined.load()) {
    s.thread->join();
    s.joined.store(true);
  }
}

bool WorkerPool::running() const {
  concur::detail::MutexGuard g(shared_->mutex);
  return shared_->phase == Shared::Phase::running && !shared_->broken;
}

std::vector<int> WorkerPool::worker_pids() const {
  concur::detail::MutexGuard g(shared_->mutex);
  return shared_->pids;
}

}  // namespace concur::multiprocessing::detail
