// Port of seed 003, §1 "启动与停止线程", the IOTask: "阻塞操作应当小心，使用超时循环小心操作线程".
// A thread blocked in a socket recv() cannot see a terminate() flag, so the seed gives the socket
// a timeout (sock.settimeout(5)) and loops: each recv() that times out (socket.timeout) goes back
// to the top of the loop, where the flag is checked, and tries again.
//
//   class IOTask:
//       def terminate(self):
//           self._running = False      # the seed's text has True here, a slip: False stops it
//       def run(self, sock):
//           sock.settimeout(5)
//           while self._running:
//               try:
//                   data = sock.recv(8192)
//                   break
//               except socket.timeout:
//                   continue
//           ...
//
// The socket's peer is a server this program starts on 127.0.0.1 (the main thread plays it), and
// the timeout is 0.3 s instead of 5 s. Two runs:
//   1. the server stays silent through two timeouts, then sends: the task's third recv() gets it;
//   2. the server never sends: the main thread calls terminate() and the task ends after its
//      current recv() times out — within one timeout, never stuck.
// For the tour, run() also releases a Semaphore as it begins each recv(), so that the main thread
// acts at a known recv() and the output is the same every time.
#include <concur/threading.hpp>

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>

#include "net.hpp"
#include "print.hpp"
#include "timing.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;

constexpr auto kTimeout = 300ms;

// socket.timeout
struct SocketTimeout : std::runtime_error {
  SocketTimeout() : std::runtime_error("timed out") {}
};

// sock.settimeout(seconds): every later recv() waits at most that long (SO_RCVTIMEO).
void settimeout(int sock, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000);
  if (::setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) net::fail("setsockopt");
}

// sock.recv(n): raises SocketTimeout when the timeout passes with nothing received.
std::string recv(int sock, std::size_t n) {
  std::string data(n, '\0');
  while (true) {
    ssize_t got = ::recv(sock, data.data(), n, 0);
    if (got >= 0) {
      data.resize(static_cast<std::size_t>(got));
      return data;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) throw SocketTimeout();
    if (errno != EINTR) net::fail("recv");
  }
}

class IOTask {
 public:
  void terminate() { running_ = false; }

  void run(int sock) {
    // sock is a socket
    settimeout(sock, kTimeout);  // set timeout period
    std::string data;
    while (running_) {
      recv_started.release();  // for the tour: the main thread may act now
      // perform a blocking I/O operation w/timeout
      try {
        data = recv(sock, 8192);
        break;
      } catch (const SocketTimeout&) {
        print("IOTask: recv() timed out (socket.timeout); _running is",
              running_ ? "True: try again" : "False");
        continue;
      }
    }
    if (!running_) {
      print("IOTask: terminated");  // terminated
      return;
    }
    // continued processing
    print("IOTask: received", std::to_string(data.size()), "bytes: " + data);
  }

  th::Semaphore recv_started{0};  // released as each recv() begins

 private:
  std::atomic<bool> running_{true};
};

int main() {
  int port = 0;
  const int server = net::listen_loopback(4, &port);
  print("server listening on 127.0.0.1 (at a port the system picks); the IOTask's socket timeout:",
        std::chrono::duration<double>(kTimeout).count(), "s");

  // One connection served by an IOTask thread: the task's socket and the server's end of it.
  struct Session {
    explicit Session(int server, int port)
        : sock(net::connect_to("127.0.0.1", port)), conn(accept(server)), t(&IOTask::run, &c, sock) {
      t.start();
    }
    ~Session() {
      ::close(conn);
      ::close(sock);
    }
    static int accept(int server) {
      sockaddr_in peer{};
      return net::accept_client(server, &peer);
    }
    void wait_for_recv(int n) {  // until the n-th recv() has begun
      for (int i = 0; i < n; ++i) c.recv_started.acquire();
    }
    const int sock, conn;
    IOTask c;
    th::Thread t;
  };

  print("--- 1. the server answers after two timeouts");
  {
    Session s(server, port);
    s.wait_for_recv(3);
    print("server: sends b'hello'");
    net::sendall(s.conn, "hello");
    s.t.join();
  }

  print("--- 2. the server stays silent; the main thread calls terminate()");
  {
    Session s(server, port);
    s.wait_for_recv(2);
    print("main: c.terminate()");
    const auto asked = std::chrono::steady_clock::now();
    s.c.terminate();  // signal termination
    s.t.join();       // wait for actual termination
    const double waited = timing::seconds_since(asked);
    print("main: t.join() returned:", waited <= 2 * std::chrono::duration<double>(kTimeout).count()
                                          ? "the task stopped within one timeout"
                                          : "the task took longer than one timeout");
  }
  ::close(server);
}
