// Minimal blocking POSIX-socket helpers for the examples (not part of concur):
// a listening socket on 127.0.0.1 at a port the system picks, connect, sendall, recv, Python-style
// peer addresses, and a StopPipe that wakes an accept loop so a server thread can be stopped
// without timeouts or polling loops. Errors throw std::system_error.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <system_error>

namespace net {

[[noreturn]] inline void fail(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// A socket bound to 127.0.0.1 at an ephemeral port, listening. Returns the fd; *port gets the port.
inline int listen_loopback(int backlog, int* port) {
  int sock = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) fail("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;  // the system picks a free port
  if (::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) fail("bind");
  if (::listen(sock, backlog) < 0) fail("listen");
  socklen_t len = sizeof addr;
  if (::getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &len) < 0) fail("getsockname");
  *port = ntohs(addr.sin_port);
  return sock;
}

// A receive timeout, so that a client never hangs on a server that stopped answering.
inline void set_recv_timeout(int sock, int seconds) {
  timeval tv{};
  tv.tv_sec = seconds;
  if (::setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) fail("setsockopt");
}

// A blocking TCP connection to host:port (host: a dotted IPv4 address).
inline int connect_to(const std::string& host, int port) {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) fail("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    ::close(s);
    errno = EINVAL;
    fail("inet_pton");
  }
  while (::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    if (errno == EINTR) continue;
    int e = errno;
    ::close(s);
    errno = e;
    fail("connect");
  }
  set_recv_timeout(s, 10);
  return s;
}

inline void sendall(int sock, const char* data, std::size_t len) {
  while (len > 0) {
    ssize_t n = ::send(sock, data, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("send");
    }
    data += n;
    len -= static_cast<std::size_t>(n);
  }
}
inline void sendall(int sock, const std::string& data) { sendall(sock, data.data(), data.size()); }

// recv() that retries on EINTR: >0 bytes read, 0 on end of stream; throws on errors and timeouts.
inline std::size_t recv_some(int sock, char* buf, std::size_t len) {
  while (true) {
    ssize_t n = ::recv(sock, buf, len, 0);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) fail("recv");
  }
}

inline std::string recv_exactly(int sock, std::size_t n) {
  std::string data(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    std::size_t r = recv_some(sock, data.data() + got, n - got);
    if (r == 0) {
      errno = ECONNRESET;
      fail("recv: connection closed early");
    }
    got += r;
  }
  return data;
}

// Everything until the peer closes its side.
inline std::string recv_all(int sock) {
  std::string data;
  char buf[8192];
  while (std::size_t n = recv_some(sock, buf, sizeof buf)) data.append(buf, n);
  return data;
}

// A client address as Python prints the tuple sock.accept() returns: ('127.0.0.1', 54321).
inline std::string python_addr(const sockaddr_in& peer) {
  char ip[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
  return "('" + std::string(ip) + "', " + std::to_string(ntohs(peer.sin_port)) + ")";
}

// accept() that retries on EINTR and on connections aborted before they were accepted.
inline int accept_client(int listen_sock, sockaddr_in* peer) {
  while (true) {
    socklen_t plen = sizeof *peer;
    int s = ::accept4(listen_sock, reinterpret_cast<sockaddr*>(peer), &plen, SOCK_CLOEXEC);
    if (s >= 0) return s;
    if (errno != EINTR && errno != ECONNABORTED) fail("accept");
  }
}

// The "stop" button of an accept loop: a pipe that the loop poll()s together with its listening
// socket. signal() makes wait_for_client() return false; it may be called from any thread.
class StopPipe {
 public:
  StopPipe() {
    if (::pipe2(fds_, O_CLOEXEC) < 0) fail("pipe");
  }
  StopPipe(const StopPipe&) = delete;
  StopPipe& operator=(const StopPipe&) = delete;
  ~StopPipe() {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  void signal() {
    char c = 1;
    while (::write(fds_[1], &c, 1) < 0 && errno == EINTR) {
    }
  }
  // Blocks until a client is waiting on listen_sock (true) or signal() was called (false).
  bool wait_for_client(int listen_sock) const {
    pollfd p[2] = {{listen_sock, POLLIN, 0}, {fds_[0], POLLIN, 0}};
    while (true) {
      if (::poll(p, 2, -1) < 0) {
        if (errno == EINTR) continue;
        fail("poll");
      }
      if (p[1].revents != 0) return false;
      if (p[0].revents != 0) return true;
    }
  }

 private:
  int fds_[2];
};

}  // namespace net
