// What a spawn or forkserver child receives and how it becomes the child: main_guard, the
// bootstrap message, finding the target's code in the new program, and running /proc/self/exe.
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "concur/detail/text.hpp"
#include "concur/multiprocessing/process.hpp"
#include "multiprocessing/process_state.hpp"

extern char** environ;

namespace concur::multiprocessing {

namespace detail {

namespace {

// --- argv --------------------------------------------------------------------------------------

std::vector<std::string>* g_argv = nullptr;  // written once, by main_guard, before any start()
std::atomic<bool> g_guard_called{false};

std::vector<std::string> read_cmdline() {
  std::vector<std::string> args;
  const int fd = ::open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return args;
  std::string all;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    all.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  std::size_t at = 0;
  while (at < all.size()) {
    const std::size_t end = all.find('\0', at);
    if (end == std::string::npos) {
      args.push_back(all.substr(at));
      break;
    }
    args.push_back(all.substr(at, end - at));
    at = end + 1;
  }
  return args;
}

// --- the bootstrap message ---------------------------------------------------------------------

constexpr char kMagic[8] = {'c', 'o', 'n', 'c', 'u', 'r', 'm', 'p'};
constexpr std::uint32_t kVersion = 1;
constexpr std::uint64_t kMaxPart = std::uint64_t{1} << 30;

struct WireHeader {
  char magic[8];
  std::uint32_t version;
  std::uint32_t fd_count;
  std::uint64_t info_size;
  std::uint64_t args_size;
};

struct BootInfo {
  std::string name;
  std::vector<std::uint64_t> identity;
  bool daemon = false;
  std::string parent_name;
  std::int32_t parent_pid = 0;
  std::uint64_t parent_start_time = 0;
  std::int32_t start_method_setting = -1;
  std::int32_t context_method = -1;
  bool pdeathsig = false;
  std::string cwd;
  std::int32_t stdout_index = -1;
  std::int32_t stderr_index = -1;
  std::string entry_object;
  std::uint64_t entry_offset = 0;
  std::string entry_type;
  bool has_function = false;
  std::string function_object;
  std::uint64_t function_offset = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, identity, daemon, parent_name, parent_pid, parent_start_time, start_method_setting,
       context_method, pdeathsig, cwd, stdout_index, stderr_index, entry_object, entry_offset,
       entry_type, has_function, function_object, function_offset);
  }
};

[[noreturn]] void bootstrap_failed(bool forkserver, const std::string& why) noexcept {
  concur::detail::write_stderr(
      std::string("concur.multiprocessing: a process started by '") +
      (forkserver ? "forkserver" : "spawn") +
      "' could not read what its parent sent it: " + why + "\n");
  ::_exit(1);
}

}  // namespace

// --- where code is -----------------------------------------------------------------------------

// The loaded object whose segments hold `address`, and the offset from its load address.
std::optional<CodeLocation> locate_code(const void* address) {
  struct Search {
    std::uintptr_t address;
    std::optional<CodeLocation> found;
  } search{reinterpret_cast<std::uintptr_t>(address), std::nullopt};
  ::dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) -> int {
        auto* s = static_cast<Search*>(data);
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_LOAD) continue;
          const std::uintptr_t start = info->dlpi_addr + ph.p_vaddr;
          if (s->address >= start && s->address - start < ph.p_memsz) {
            s->found = CodeLocation{info->dlpi_name ? info->dlpi_name : "",
                                    s->address - info->dlpi_addr};
            return 1;
          }
        }
        return 0;
      },
      &search);
  return search.found;
}

// The address of `location` in this process: `size` bytes there must lie within one loaded
// segment of that object with the permissions `flags` (PF_R, PF_X). nullptr when not.
void* resolve_code(const CodeLocation& location, std::size_t size, unsigned flags) {
  struct Search {
    const CodeLocation* location;
    std::size_t size;
    unsigned flags;
    void* found;
  } search{&location, size, flags, nullptr};
  ::dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) -> int {
        auto* s = static_cast<Search*>(data);
        const char* name = info->dlpi_name ? info->dlpi_name : "";
        if (s->location->object != name) return 0;
        const std::uint64_t off = s->location->offset;
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_LOAD || (ph.p_flags & s->flags) != s->flags) continue;
          if (off >= ph.p_vaddr && off - ph.p_vaddr < ph.p_memsz &&
              s->size <= ph.p_memsz - (off - ph.p_vaddr)) {
            s->found = reinterpret_cast<void*>(info->dlpi_addr + off);
            return 1;
          }
        }
        return 1;  // the object, but not a place in it: stop looking
      },
      &search);
  return search.found;
}

const std::vector<std::string>& recorded_argv() {
  static const std::vector<std::string> empty;
  return g_argv ? *g_argv : empty;
}

bool main_guard_called() noexcept { return g_guard_called.load(std::memory_order_acquire); }

pid_t spawn_self(const char* var, int fd) {
  std::vector<std::string> fallback;
  const std::vector<std::string>* argv = &recorded_argv();
  if (argv->empty()) {
    fallback = read_cmdline();
    if (fallback.empty()) fallback.push_back("/proc/self/exe");
    argv = &fallback;
  }
  std::vector<char*> args;
  args.reserve(argv->size() + 1);
  for (const std::string& a : *argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  // The child keeps stdin, stdout, stderr and its socket, moved to descriptor 3; every other
  // descriptor is closed in it, as CPython's spawn does (spawnv_passfds): a child must not hold
  // open a pipe whose other end someone waits on for the end of the stream. What a target needs
  // (a Connection, a queue) travels over the socket.
  constexpr int kChildFd = 3;
  std::string setting = std::string(var) + "=" + std::to_string(kChildFd);
  const std::string_view ours[] = {std::string_view(kBootstrapVar) , std::string_view(kForkServerVar)};
  std::vector<char*> env;
  for (char** e = environ; e && *e; ++e) {
    const std::string_view entry(*e);
    bool skip = false;
    for (std::string_view v : ours)
      if (entry.size() > v.size() && entry.substr(0, v.size()) == v && entry[v.size()] == '=')
        skip = true;
    if (!skip) env.push_back(*e);
  }
  env.push_back(setting.data());
  env.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawnattr_init(&attr);
  // dup2(fd, fd) clears close-on-exec in the child only (glibc >= 2.29, POSIX 2024).
  int rc = ::posix_spawn_file_actions_adddup2(&actions, fd, kChildFd);
  if (rc == 0) rc = ::posix_spawn_file_actions_addclosefrom_np(&actions, kChildFd + 1);
  sigset_t none;
  sigemptyset(&none);
  if (rc == 0) rc = ::posix_spawnattr_setsigmask(&attr, &none);
  if (rc == 0) rc = ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  if (rc == 0) rc = ::posix_spawn(&pid, "/proc/self/exe", &actions, &attr, args.data(), env.data());
  ::posix_spawn_file_actions_destroy(&actions);
  ::posix_spawnattr_destroy(&attr);
  if (rc != 0) concur::detail::throw_os_error(rc, "posix_spawn /proc/self/exe");
  return pid;
}

void build_bootstrap(ByteBuffer& out, FdTable& fds, const BootstrapRequest& request,
                     std::span<const std::byte> args) {
  const ProcessState& st = *request.state;
  BootInfo info;
  {
    MutexGuard g(st.mutex);
    info.name = st.name;
  }
  info.identity = st.identity;
  info.daemon = st.daemon.load();
  {
    Registry& r = registry();
    MutexGuard g(r.mutex);
    MutexGuard g2(r.self->mutex);
    info.parent_name = r.self->name;
  }
  info.parent_pid = ::getpid();
  info.parent_start_time = process_start_time(::getpid());
  info.start_method_setting = start_method_setting();
  info.context_method = request.context_method ? static_cast<int>(*request.context_method) : -1;
  info.pdeathsig = request.pdeathsig;
  {
    std::vector<char> buf(PATH_MAX);
    if (::getcwd(buf.data(), buf.size()) != nullptr) info.cwd = buf.data();
  }
  if (request.send_stdio) {
    info.stdout_index = static_cast<std::int32_t>(fds.add(1));
    info.stderr_index = static_cast<std::int32_t>(fds.add(2));
  }
  const std::optional<CodeLocation> entry = locate_code(request.call.entry);
  if (!entry) throw ValueError("the target's trampoline is in no loaded object");
  info.entry_object = entry->object;
  info.entry_offset = entry->offset;
  info.entry_type = request.call.entry->type_name();
  if (request.call.function != nullptr) {
    const std::optional<CodeLocation> fn =
        locate_code(reinterpret_cast<const void*>(request.call.function));
    if (!fn) throw ValueError("the target function is in no loaded object");
    info.has_function = true;
    info.function_object = fn->object;
    info.function_offset = fn->offset;
  }

  out.clear();
  out.extend(sizeof(WireHeader));
  serialize_into(out, info);
  const std::size_t info_size = out.size() - sizeof(WireHeader);
  out.append(args.data(), args.size());
  WireHeader header{};
  std::memcpy(header.magic, kMagic, sizeof kMagic);
  header.version = kVersion;
  header.fd_count = static_cast<std::uint32_t>(fds.sending().size());
  header.info_size = info_size;
  header.args_size = args.size();
  std::memcpy(out.data(), &header, sizeof header);
}

void run_bootstrapped_child(int fd, bool forkserver) noexcept {
  ByteBuffer body;
  FdTable table;
  BootInfo info;
  const SpawnEntry* entry = nullptr;
  void (*function)() = nullptr;
  std::span<const std::byte> args;
  try {
    WireHeader header{};
    std::vector<int> fds;
    recv_with_fds(fd, std::as_writable_bytes(std::span(&header, 1)), fds);
    table.adopt_received(std::move(fds));
    if (std::memcmp(header.magic, kMagic, sizeof kMagic) != 0 || header.version != kVersion)
      throw ValueError("not a concur bootstrap (bad magic number or version)");
    if (header.fd_count != table.sending().size())
      throw ValueError(std::to_string(header.fd_count) + " descriptors announced, " +
                       std::to_string(table.sending().size()) + " arrived");
    if (header.info_size > kMaxPart || header.args_size > kMaxPart)
      throw ValueError("a bootstrap of more than 1 GiB");
    body.resize(static_cast<std::size_t>(header.info_size + header.args_size));
    if (body.size() != 0) {
      std::vector<int> extra;
      recv_with_fds(fd, std::span(body.data(), body.size()), extra);
      if (!extra.empty()) {
        for (int e : extra) ::close(e);
        throw ValueError("descriptors arrived after the header");
      }
    }
    ::close(fd);
    fd = -1;
    const std::span<const std::byte> all = body.view();
    deserialize_into(all.first(static_cast<std::size_t>(header.info_size)), info);
    args = all.subspan(static_cast<std::size_t>(header.info_size));

    const CodeLocation entry_at{info.entry_object, info.entry_offset};
    void* e = resolve_code(entry_at, sizeof(SpawnEntry), PF_R);
    if (e == nullptr || reinterpret_cast<std::uintptr_t>(e) % alignof(SpawnEntry) != 0)
      throw ValueError("the target's trampoline is not in this program (object \"" +
                       info.entry_object + "\", offset " + std::to_string(info.entry_offset) +
                       ")");
    entry = static_cast<const SpawnEntry*>(e);
    if (entry->magic != kSpawnEntryMagic || std::strcmp(entry->type_name(), info.entry_type.c_str()) != 0)
      throw ValueError("the target's trampoline does not match (another program?)");
    if (info.has_function) {
      void* f = resolve_code(CodeLocation{info.function_object, info.function_offset}, 1, PF_X);
      if (f == nullptr) throw ValueError("the target function is not in this program");
      function = reinterpret_cast<void (*)()>(f);
    }

    // Become the child.
    if (forkserver) {
      if (!info.cwd.empty() && ::chdir(info.cwd.c_str()) != 0) {
        // The parent's directory is gone: stay in the server's (CPython would fail).
      }
      if (info.stdout_index >= 0) {
        const int out = table.take(static_cast<std::uint32_t>(info.stdout_index));
        ::dup2(out, 1);
        ::close(out);
      }
      if (info.stderr_index >= 0) {
        const int err = table.take(static_cast<std::uint32_t>(info.stderr_index));
        ::dup2(err, 2);
        ::close(err);
      }
    }
    if (info.pdeathsig) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != info.parent_pid) ::_exit(1);  // the parent is already gone
    }
    std::shared_ptr<ProcessState> parent;
    if (forkserver) {
      // The parent is not this process's OS parent (the server is): a pidfd, checked against
      // the parent's start time so that a reused pid is not mistaken for it.
      int pidfd = pidfd_open(info.parent_pid);
      bool dead = pidfd < 0;
      if (pidfd >= 0 && info.parent_start_time != 0 &&
          process_start_time(info.parent_pid) != info.parent_start_time) {
        ::close(pidfd);
        pidfd = -1;
        dead = true;
      }
      parent = make_parent_state(info.parent_name, info.parent_pid, pidfd, dead);
    } else {
      parent = make_own_parent_state(info.parent_name, info.parent_pid);
    }
    auto self = std::make_shared<ProcessState>(ProcessState::Kind::self);
    self->name = info.name;
    self->identity = info.identity;
    self->daemon.store(info.daemon);
    self->pid.store(::getpid());
    self->started.store(true);
    self->method = forkserver ? StartMethod::forkserver : StartMethod::spawn;
    become_child(std::move(self), std::move(parent));
    force_start_method(info.start_method_setting);
    if (info.context_method >= 0) force_start_method(info.context_method);
    close_stdin();
  } catch (const std::exception& e) {
    bootstrap_failed(forkserver, e.what());
  } catch (...) {
    bootstrap_failed(forkserver, "an unknown exception");
  }

  install_child_exit_hook();
  int code = 0;
  try {
    entry->run(args, table, function);
  } catch (...) {
    report_child_exception(info.name);
    code = 1;
  }
  finish_child(code);
}

}  // namespace detail

void main_guard(int argc, char** argv) {
  if (!detail::g_guard_called.load(std::memory_order_relaxed)) {
    auto* recorded = new std::vector<std::string>();
    if (argc > 0 && argv != nullptr) {
      for (int i = 0; i < argc && argv[i] != nullptr; ++i) recorded->emplace_back(argv[i]);
    } else {
      *recorded = detail::read_cmdline();
    }
    detail::g_argv = recorded;
    detail::g_guard_called.store(true, std::memory_order_release);
  }
  const auto descriptor = [](const char* var) -> int {
    const char* value = std::getenv(var);
    if (value == nullptr) return -1;
    char* end = nullptr;
    errno = 0;
    const long fd = std::strtol(value, &end, 10);
    struct stat sb{};
    if (errno != 0 || end == value || *end != '\0' || fd < 0 || fd > INT_MAX ||
        ::fstat(static_cast<int>(fd), &sb) != 0 || !S_ISSOCK(sb.st_mode)) {
      concur::detail::write_stderr(std::string("concur.multiprocessing: ") + var + "=" + value +
                                   " does not name an inherited socket\n");
      ::_exit(1);
    }
    ::unsetenv(var);
    ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
    return static_cast<int>(fd);
  };
  if (const int server = descriptor(detail::kForkServerVar); server >= 0)
    detail::run_forkserver(server);
  if (const int child = descriptor(detail::kBootstrapVar); child >= 0)
    detail::run_bootstrapped_child(child, false);
}

}  // namespace concur::multiprocessing
