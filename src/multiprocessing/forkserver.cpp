// The forkserver start method: the server (a single-threaded copy of this program, started on
// first use by spawning /proc/self/exe; main_guard runs run_forkserver in it) and its client.
//
// Protocol. The client holds one end of a socketpair, the server the other (the control socket;
// the server exits when it reads the end of the stream). Per child the client makes another
// socketpair (P, C) and sends a Request with C (SCM_RIGHTS) over the control socket. The server
// forks: the child reads its bootstrap from C (as a spawn child reads it: bootstrap.cpp); the
// server writes the child's pid (int64, or -errno when fork failed) into C and keeps C; when it
// reaps the child (a signalfd for SIGCHLD: no polling) it writes the raw wait status (int32)
// and closes C. The client writes the bootstrap into P, reads the pid, and keeps P as the
// child's status socket (join, is_alive, exitcode).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "concur/detail/at_fork.hpp"
#include "concur/detail/text.hpp"
#include "concur/errors.hpp"
#include "multiprocessing/process_state.hpp"

namespace concur::multiprocessing::detail {

namespace {

constexpr std::uint32_t kRequestMagic = 0x666b7372;  // "fksr"
constexpr std::uint32_t kDaemonFlag = 1;

struct Request {
  std::uint32_t magic;
  std::uint32_t flags;
};

// --- the client --------------------------------------------------------------------------------

struct Client {
  Mutex mutex;  // guards the members; held while the server starts and while a request is sent
  int control = -1;
  pid_t server = 0;
};

Client& client() {
  static Client* c = new Client();
  return *c;
}

void stop_server_locked(Client& c) noexcept {
  if (c.control >= 0) ::close(c.control);
  c.control = -1;
  if (c.server > 0) {
    // It ends on the end of its control stream; reap it if it has.
    ::waitpid(c.server, nullptr, WNOHANG);
    c.server = 0;
  }
}

void start_server_locked(Client& c) {
  stop_server_locked(c);
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    concur::detail::throw_os_error(errno, "socketpair");
  pid_t pid;
  try {
    pid = spawn_self(kForkServerVar, sv[1]);
  } catch (...) {
    ::close(sv[0]);
    ::close(sv[1]);
    throw;
  }
  ::close(sv[1]);
  c.control = sv[0];
  c.server = pid;
}

bool read_exactly(int fd, void* data, std::size_t size) {
  auto* p = static_cast<char*>(data);
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::recv(fd, p + done, size - done, 0);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) return false;
    concur::detail::throw_os_error(errno, "recv from the forkserver");
  }
  return true;
}

void write_all(int fd, const void* data, std::size_t size) noexcept {
  const auto* p = static_cast<const char*>(data);
  while (size != 0) {
    const ssize_t n = ::send(fd, p, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

// --- fork handlers: a forked child has no server of its own until it starts one --------------

[[maybe_unused]] const bool fork_handlers_registered = concur::detail::register_at_fork(
    concur::detail::AtForkLayer::multiprocessing,
    {[]() noexcept { client().mutex.lock(); }, []() noexcept { client().mutex.unlock(); },
     []() noexcept {
       Client& c = client();
       // The parent's server is the parent's: closing our copy of the control socket keeps its
       // end-of-stream tied to the parent alone.
       if (c.control >= 0) ::close(c.control);
       c.control = -1;
       c.server = 0;
       c.mutex.unlock();
     }});

}  // namespace

void forkserver_start(ProcessState& st, std::span<const std::byte> bootstrap,
                      std::span<const int> fds, bool daemon) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    concur::detail::throw_os_error(errno, "socketpair");
  const int parent_end = sv[0];
  const int child_end = sv[1];
  const Request request{kRequestMagic, daemon ? kDaemonFlag : 0u};
  try {
    Client& c = client();
    MutexGuard g(c.mutex);
    for (int attempt = 0;; ++attempt) {
      if (c.control < 0) start_server_locked(c);
      try {
        const int passed[] = {child_end};
        send_with_fds(c.control, std::as_bytes(std::span(&request, 1)), passed);
        break;
      } catch (const OSError&) {
        // The server is gone (EPIPE, ECONNRESET): start another, once.
        stop_server_locked(c);
        if (attempt == 1) throw;
      }
    }
  } catch (...) {
    ::close(parent_end);
    ::close(child_end);
    throw;
  }
  ::close(child_end);

  try {
    send_with_fds(parent_end, bootstrap, fds);
  } catch (const BrokenPipeError&) {
    // No child read it (the fork failed, or the child ended): the reply says which.
  } catch (const ConnectionResetError&) {
  } catch (...) {
    ::close(parent_end);
    throw;
  }
  std::int64_t reply = 0;
  bool replied;
  try {
    replied = read_exactly(parent_end, &reply, sizeof reply);
  } catch (...) {
    ::close(parent_end);
    throw;
  }
  if (!replied) {
    ::close(parent_end);
    throw OSError("the forkserver ended before it started the process",
                  {ECHILD, std::generic_category()});
  }
  if (reply <= 0) {
    ::close(parent_end);
    concur::detail::throw_os_error(reply < 0 ? static_cast<int>(-reply) : EINVAL,
                                   "fork (in the forkserver)");
  }
  const int pid = static_cast<int>(reply);
  // A pidfd for terminate() and kill(), valid only if the child has not been reaped (and its pid
  // possibly reused) before it was opened: no status has arrived after it was opened.
  int pidfd = pidfd_open(pid);
  if (pidfd >= 0) {
    pollfd p{parent_end, POLLIN, 0};
    if (::poll(&p, 1, 0) != 0) {
      ::close(pidfd);
      pidfd = -1;
    }
  }
  MutexGuard g(st.mutex);
  st.status_fd = parent_end;
  st.pidfd = pidfd;
  st.pid.store(pid);
}

// --- the server --------------------------------------------------------------------------------

void run_forkserver(int control) noexcept {
  // As CPython's forkserver: a Ctrl-C meant for the parent does not end the server.
  ::signal(SIGINT, SIG_IGN);
  sigset_t chld, old;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &chld, &old);
  const int sfd = ::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) {
    concur::detail::write_stderr("concur.multiprocessing: the forkserver cannot make a signalfd: " +
                                 std::string(std::strerror(errno)) + "\n");
    ::_exit(1);
  }
  const pid_t self = ::getpid();
  std::map<pid_t, int> children;  // pid -> the server's end of that child's socket
  for (;;) {
    pollfd p[2] = {{control, POLLIN, 0}, {sfd, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[1].revents != 0) {
      signalfd_siginfo info;
      while (::read(sfd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      }
      for (;;) {
        int status = 0;
        const pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid <= 0) break;
        auto it = children.find(pid);
        if (it == children.end()) continue;
        const std::int32_t raw = status;
        write_all(it->second, &raw, sizeof raw);
        ::close(it->second);
        children.erase(it);
      }
    }
    if (p[0].revents == 0) continue;
    Request request{};
    std::vector<int> fds;
    try {
      recv_with_fds(control, std::as_writable_bytes(std::span(&request, 1)), fds);
    } catch (...) {
      break;  // the end of the stream: the parent closed it (or ended)
    }
    if (request.magic != kRequestMagic || fds.size() != 1) {
      for (int fd : fds) ::close(fd);
      break;  // not our client
    }
    const int child_socket = fds[0];
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(control);
      ::close(sfd);
      for (auto& [other, fd] : children) ::close(fd);
      ::signal(SIGINT, SIG_DFL);
      ::sigprocmask(SIG_SETMASK, &old, nullptr);
      if ((request.flags & kDaemonFlag) != 0) {
        // The server is single-threaded: its only thread lives as long as it does, and it ends
        // with its parent's control socket.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != self) ::_exit(1);
      }
      run_bootstrapped_child(child_socket, true);
    }
    const std::int64_t reply = pid < 0 ? -static_cast<std::int64_t>(errno) : pid;
    write_all(child_socket, &reply, sizeof reply);
    if (pid < 0)
      ::close(child_socket);
    else
      children.emplace(pid, child_socket);
  }
  ::_exit(0);
}

}  // namespace concur::multiprocessing::detail
