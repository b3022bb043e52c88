// A tiny HTTP/1.0 server and client for the concurrent.futures and multiprocessing examples (not
// part of concur). The seeds download real web sites (www.python.org, c.biancheng.net); the ports
// must run offline, deterministically and in a few seconds, so each starts one of these servers on
// 127.0.0.1 instead.
//
// Server: a concur Thread accepts connections on 127.0.0.1 at a port the system picks, and starts
// one concur Thread per connection. That thread reads the GET, waits the page's simulated network
// latency (th::sleep), sends the page and closes the connection (HTTP/1.0). Because every
// connection has its own thread, requests are served concurrently, as a real site serves them:
// three requests at once take about as long as one. The server records the largest number of
// requests it was serving at the same time (take_max_in_flight()). The destructor stops the
// accept loop through a StopPipe (no timeouts, no polling) and waits for the connections still
// being served.
//
// Client: http_get("http://127.0.0.1:<port>/path"), a blocking HTTP/1.0 GET that returns the body
// (urllib.request.urlopen(url).read(), requests.get(url).content); it throws on errors, and a
// receive timeout means it never hangs.
#pragma once

#include <concur/threading.hpp>

#include <unistd.h>

#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "net.hpp"

namespace http_fixture {

namespace th = concur::threading;

struct Page {
  std::string body;
  std::chrono::milliseconds latency;  // how long the server takes before it answers
};

// An HTML page of exactly `size` bytes (at least the size of its head and tail) titled `title`.
inline std::string html_page(const std::string& title, std::size_t size) {
  std::string page = "<!doctype html>\n<html>\n<head>\n<title>" + title + "</title>\n</head>\n<body>\n";
  const std::string tail = "</body>\n</html>\n";
  const std::string para = "<p>" + title + ": a paragraph of the page, repeated to give it its size.</p>\n";
  while (page.size() + para.size() + tail.size() <= size) page += para;
  if (page.size() + tail.size() < size) page.append(size - page.size() - tail.size(), '\n');
  return page + tail;
}

class Server {
 public:
  // pages: path ("/", "/c", ...) -> Page. Starts serving at once.
  explicit Server(std::map<std::string, Page> pages)
      : pages_(std::move(pages)),
        listen_sock_(net::listen_loopback(64, &port_)),
        thread_(th::ThreadOptions{.name = "http-server"}, [this] { serve(); }) {
    thread_.start();
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  ~Server() {
    stop_.signal();
    thread_.join();
    ::close(listen_sock_);
  }

  int port() const { return port_; }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  // The largest number of requests served at the same time since the last call.
  int take_max_in_flight() {
    std::lock_guard g(stats_lock_);
    return std::exchange(max_in_flight_, in_flight_);
  }

 private:
  void serve() {
    std::vector<th::Thread> connections;  // one thread per connection, joined when stopping
    while (stop_.wait_for_client(listen_sock_)) {
      sockaddr_in peer{};
      int sock = net::accept_client(listen_sock_, &peer);
      connections.emplace_back([this, sock] { handle(sock); });
      connections.back().start();
    }
    for (auto& t : connections) t.join();
  }

  void handle(int sock) {
    try {
      net::set_recv_timeout(sock, 10);
      std::string request;
      char buf[1024];
      while (request.find("\r\n\r\n") == std::string::npos) {
        std::size_t n = net::recv_some(sock, buf, sizeof buf);
        if (n == 0) break;
        request.append(buf, n);
      }
      std::istringstream request_line(request.substr(0, request.find("\r\n")));
      std::string method, path;
      request_line >> method >> path;  // "GET /path HTTP/1.0"

      std::string status = "200 OK";
      std::string body;
      auto page = pages_.find(path);
      if (method != "GET") {
        status = "405 Method Not Allowed";
      } else if (page == pages_.end()) {
        status = "404 Not Found";
      } else {
        begin_request();
        th::sleep(page->second.latency);  // the simulated network and server time
        body = page->second.body;
        end_request();
      }
      net::sendall(sock, "HTTP/1.0 " + status + "\r\nContent-Type: text/html\r\nContent-Length: " +
                             std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
    } catch (const std::exception& e) {
      std::cerr << "http_fixture::Server: " << e.what() << '\n';
    }
    ::close(sock);
  }

  void begin_request() {
    std::lock_guard g(stats_lock_);
    if (++in_flight_ > max_in_flight_) max_in_flight_ = in_flight_;
  }
  void end_request() {
    std::lock_guard g(stats_lock_);
    --in_flight_;
  }

  const std::map<std::string, Page> pages_;
  int port_ = 0;  // set by listen_loopback() while listen_sock_ is initialized
  int listen_sock_;
  net::StopPipe stop_;
  th::Lock stats_lock_;
  int in_flight_ = 0;
  int max_in_flight_ = 0;
  th::Thread thread_;  // last: starts after everything it uses exists
};

// GET url ("http://<IPv4>:<port>/path") over HTTP/1.0 and return the body; throws
// std::runtime_error unless the server answers 200 OK.
inline std::string http_get(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) throw std::invalid_argument("http_get: not an http:// URL: " + url);
  const std::size_t host_end = url.find('/', scheme.size());
  const std::string hostport = url.substr(scheme.size(), host_end - scheme.size());
  const std::string path = host_end == std::string::npos ? "/" : url.substr(host_end);
  const std::size_t colon = hostport.find(':');
  const std::string host = hostport.substr(0, colon);
  const int port = colon == std::string::npos ? 80 : std::stoi(hostport.substr(colon + 1));

  const int sock = net::connect_to(host, port);
  std::string response;
  try {
    net::sendall(sock, "GET " + path + " HTTP/1.0\r\nHost: " + hostport + "\r\n\r\n");
    response = net::recv_all(sock);
  } catch (...) {
    ::close(sock);
    throw;
  }
  ::close(sock);

  const std::size_t header_end = response.find("\r\n\r\n");
  const std::string status_line = response.substr(0, response.find("\r\n"));
  if (header_end == std::string::npos || status_line.find(" 200 ") == std::string::npos)
    throw std::runtime_error("http_get " + url + ": " +
                             (status_line.empty() ? "no response" : status_line));
  return response.substr(header_end + 4);
}

}  // namespace http_fixture
