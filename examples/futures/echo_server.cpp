// Port of seed 001, "创建一个线程池" (In [15], In [16]), the concurrent.futures way. The seed
// imports ThreadPoolExecutor for its echo server but then builds the pool by hand from a Queue
// and worker Threads; that version is ported as examples/queue/echo_pool.cpp. This is the
// ThreadPoolExecutor version the import stands for (the seed's source, the Python Cookbook
// §12.7, shows it first): the accept loop hands each connection to
// pool.submit(echo_client, client_sock, client_addr), and the pool bounds the number of threads
// (应注意限制最大线程数: ThreadPoolExecutor(128)). The pool starts its threads lazily: three
// clients connected at the same time are served by three pool threads, named
// ThreadPoolExecutor-0_0, _1 and _2.
//
// Differences from the seed:
// - The seed's server runs forever on port 15000 in a daemon thread. Here it listens on
//   127.0.0.1 at a port the system picks (sent back to the main thread through a Queue), and the
//   main thread, after playing three clients, stops it: a StopPipe (common/net.hpp) wakes the
//   accept loop, which ends, and pool.shutdown() joins the pool's threads. Each client closes
//   its sending side and waits for the server to close the connection, so every line comes out
//   in the same order in every run.
// - Each line says which pool thread served the connection. The client ports printed in
//   "Got connection from" change from run to run; the order of the lines does not.
#include <concur/futures.hpp>
#include <concur/queue.hpp>
#include <concur/threading.hpp>

#include <unistd.h>

#include <chrono>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "net.hpp"
#include "print.hpp"

namespace cf = concur::futures;
namespace cq = concur::queue;
namespace th = concur::threading;

void echo_client(int sock, const std::string& client_addr) {
  print("Got connection from", client_addr, "in", th::current_thread().name());
  char msg[65536];
  while (true) {
    std::size_t n = net::recv_some(sock, msg, sizeof msg);
    if (n == 0) break;  // if not msg: break
    net::sendall(sock, msg, n);
  }
  print("Client closed connection");
  ::close(sock);
}

void echo_server(cq::Queue<int>& port_out, const net::StopPipe& stop) {
  cf::ThreadPoolExecutor pool(128);
  int port = 0;
  int sock = net::listen_loopback(5, &port);  // the seed: sock.bind(('', 15000)); sock.listen(5)
  port_out.put(port);
  int connections = 0;
  while (stop.wait_for_client(sock)) {  // the seed: while True
    sockaddr_in peer{};
    int client_sock = net::accept_client(sock, &peer);
    pool.submit(echo_client, client_sock, net::python_addr(peer));
    ++connections;
  }
  ::close(sock);
  print("server: stopped after", connections, "connections");
  pool.shutdown();  // wait=True: joins the pool's threads (as the end of a `with` block would)
  print("server: pool shut down");
}

int main() {
  cq::Queue<int> port_q;
  net::StopPipe stop;
  th::Thread t(echo_server, std::ref(port_q), std::cref(stop));
  t.start();
  const int port = port_q.get(std::chrono::seconds(5));  // cq::Empty rather than a hang

  std::vector<int> clients;
  for (int i = 1; i <= 3; ++i) {  // each client stays connected while the next one talks
    int s = net::connect_to("127.0.0.1", port);
    clients.push_back(s);
    std::string msg = "hello from client " + std::to_string(i);
    net::sendall(s, msg);
    print("client", i, "got back:", net::recv_exactly(s, msg.size()));
  }
  for (std::size_t i = 0; i < clients.size(); ++i) {
    // Close our sending side, then wait for the server to close its side (recv() returns the end
    // of the stream): echo_client() has printed "Client closed connection" by then.
    ::shutdown(clients[i], SHUT_WR);
    net::recv_all(clients[i]);
    ::close(clients[i]);
    print("client", i + 1, "done");
  }
  print("stopping the server");
  stop.signal();
  t.join();
}
