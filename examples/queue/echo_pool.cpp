// Port of seed 001, "创建一个线程池" (In [15], In [16]): a thread pool built by hand from a Queue.
// The echo server starts nworkers threads that all wait in q.get(); the accept loop puts each
// new connection on the queue, and whichever worker is free takes it and echoes what the client
// sends until the client closes. A connection that arrives while every worker is busy waits in
// the queue — the pool bounds the number of threads (the seed: 应注意限制最大线程数).
//
// Differences from the seed:
// - The seed's echo_client() handles one connection and returns, so its pool of 128 can serve
//   128 connections in all; here each worker loops, taking the next connection after one ends,
//   and calls task_done() for each, so that the server can join() the queue.
// - The seed's server runs forever on port 15000 in a daemon thread. Here it listens on
//   127.0.0.1 at a port the system picks (sent back to the main thread through a Queue), accepts
//   4 connections, then waits with q.join() until they have all been handled, and closes the queue
//   with shutdown(): the idle workers' get() raises queue.ShutDown and they end.
// - The main thread plays the clients. The pool has 3 workers: clients 1-3 connect and stay
//   connected, so client 4's connection waits in the queue until client 1 closes and its worker
//   becomes free.
// The client ports printed in "Got connection from" change from run to run; the order of the
// lines does not.
#include <concur/queue.hpp>
#include <concur/threading.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "print.hpp"

namespace cq = concur::queue;
namespace th = concur::threading;

[[noreturn]] void fail(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// A client socket and its address, as Python's sock.accept() returns them.
struct Connection {
  int sock = -1;
  std::string client_addr;  // printed like Python's ('127.0.0.1', 54321)
};

void sendall(int sock, const char* data, std::size_t len) {
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

void echo_client(cq::Queue<Connection>& q) {
  while (true) {
    Connection c;
    try {
      c = q.get();
    } catch (const cq::ShutDown&) {
      return;  // the server has closed the pool
    }
    print("Got connection from", c.client_addr);
    std::vector<char> msg(65536);
    while (true) {
      ssize_t n = ::recv(c.sock, msg.data(), msg.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // if not msg: break
      sendall(c.sock, msg.data(), static_cast<std::size_t>(n));
    }
    print("Client closed connection");
    ::close(c.sock);
    q.task_done();
  }
}

void echo_server(cq::Queue<int>& port_out, int nworkers, int max_connections) {
  cq::Queue<Connection> q;
  std::vector<th::Thread> workers;
  for (int n = 0; n < nworkers; ++n) {
    workers.emplace_back(echo_client, std::ref(q));
    workers.back().start();
  }

  int sock = ::socket(AF_INET, SOCK_STREAM, 0);
  if (sock < 0) fail("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;  // the seed: ('', 15000)
  if (::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) fail("bind");
  if (::listen(sock, 5) < 0) fail("listen");
  socklen_t len = sizeof addr;
  if (::getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &len) < 0) fail("getsockname");
  port_out.put(ntohs(addr.sin_port));

  for (int i = 0; i < max_connections; ++i) {  // the seed: while True
    sockaddr_in peer{};
    socklen_t plen = sizeof peer;
    int client_sock = ::accept(sock, reinterpret_cast<sockaddr*>(&peer), &plen);
    if (client_sock < 0) {
      if (errno == EINTR) {
        --i;
        continue;
      }
      fail("accept");
    }
    char ip[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
    q.put(Connection{client_sock,
                     "('" + std::string(ip) + "', " + std::to_string(ntohs(peer.sin_port)) + ")"});
  }
  ::close(sock);

  q.join();  // every accepted connection has been served to its end
  print("server: q.join() returned, all", max_connections,
        "connections handled; shutting the pool down");
  q.shutdown();  // the idle workers' get() raises queue.ShutDown
  for (auto& t : workers) t.join();
}

// ----- the clients (not in the seed) -----
int connect_to(int port) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) fail("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) fail("connect");
  return s;
}

std::string recv_exactly(int s, std::size_t n) {
  std::string data(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = ::recv(s, data.data() + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) fail("recv");
    got += static_cast<std::size_t>(r);
  }
  return data;
}

void send_msg(int s, const std::string& msg) { sendall(s, msg.data(), msg.size()); }

int main() {
  constexpr int nworkers = 3;
  cq::Queue<int> port_q;
  // 应注意限制最大线程数 (the seed: 128 workers)
  th::Thread t(echo_server, std::ref(port_q), nworkers, 4);
  t.start();
  const int port =
      port_q.get(std::chrono::seconds(5));  // cq::Empty rather than a hang if the server failed

  std::vector<int> clients;
  for (int i = 1; i <= 3; ++i) {
    int s = connect_to(port);
    clients.push_back(s);
    std::string msg = "hello from client " + std::to_string(i);
    send_msg(s, msg);
    print("client", i, "got back:", recv_exactly(s, msg.size()));
  }

  int s4 = connect_to(port);
  clients.push_back(s4);
  std::string msg4 = "hello from client 4";
  send_msg(s4, msg4);
  print("client 4 sent its message; all", nworkers,
        "workers are busy, so its connection waits in the queue");
  print("client 1 closes");
  ::close(clients[0]);
  print("client 4 got back:", recv_exactly(s4, msg4.size()));

  for (std::size_t i = 1; i < clients.size(); ++i) ::close(clients[i]);
  t.join();
}
