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

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "net.hpp"
#include "print.hpp"

namespace cq = concur::queue;
namespace th = concur::threading;

// A client socket and its address, as Python's sock.accept() returns them.
struct Connection {
  int sock = -1;
  std::string client_addr;  // printed like Python's ('127.0.0.1', 54321)
};

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
      net::sendall(c.sock, msg.data(), static_cast<std::size_t>(n));
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

  int port = 0;
  int sock = net::listen_loopback(5, &port);  // the seed: ('', 15000)
  port_out.put(port);

  for (int i = 0; i < max_connections; ++i) {  // the seed: while True
    sockaddr_in peer{};
    int client_sock = net::accept_client(sock, &peer);
    q.put(Connection{client_sock, net::python_addr(peer)});
  }
  ::close(sock);

  q.join();  // every accepted connection has been served to its end
  print("server: q.join() returned, all", max_connections,
        "connections handled; shutting the pool down");
  q.shutdown();  // the idle workers' get() raises queue.ShutDown
  for (auto& t : workers) t.join();
}

// ----- the clients (not in the seed) -----
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
    int s = net::connect_to("127.0.0.1", port);
    clients.push_back(s);
    std::string msg = "hello from client " + std::to_string(i);
    net::sendall(s, msg);
    print("client", i, "got back:", net::recv_exactly(s, msg.size()));
  }

  int s4 = net::connect_to("127.0.0.1", port);
  clients.push_back(s4);
  std::string msg4 = "hello from client 4";
  net::sendall(s4, msg4);
  print("client 4 sent its message; all", nworkers,
        "workers are busy, so its connection waits in the queue");
  print("client 1 closes");
  ::close(clients[0]);
  print("client 4 got back:", net::recv_exactly(s4, msg4.size()));

  for (std::size_t i = 1; i < clients.size(); ++i) ::close(clients[i]);
  t.join();
}
