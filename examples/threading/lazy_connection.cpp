// Port of seed 001 "保存线程的状态信息" (also seed 000 §12.6): LazyConnection keeps its socket in
// a threading.local, so every thread that enters `with conn as s:` gets a connection of its own,
// though all threads share the one LazyConnection object. Entering twice in the same thread is
// an error ("Already connected").
// There is no internet here: instead of www.python.org:80, a tiny server thread on 127.0.0.1
// answers each request with a fixed 392-byte response (the size the seed's run received).
#include <concur/threading.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "print.hpp"

namespace th = concur::threading;

[[noreturn]] void fail(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

// A connected TCP socket that closes itself (Python's socket object).
class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Socket& operator=(Socket&&) = delete;
  ~Socket() { close(); }

  static Socket connect(const sockaddr_in& address) {
    Socket s(::socket(AF_INET, SOCK_STREAM, 0));
    if (s.fd_ < 0) fail("socket");
    if (::connect(s.fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) < 0)
      fail("connect");
    return s;
  }
  void send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0) fail("send");
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  std::string recv(std::size_t bufsize) {  // "" once the peer has closed
    std::string buf(bufsize, '\0');
    const ssize_t n = ::recv(fd_, buf.data(), bufsize, 0);
    if (n < 0) fail("recv");
    buf.resize(static_cast<std::size_t>(n));
    return buf;
  }
  void close() noexcept {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }

 private:
  int fd_;
};

class LazyConnection {
 public:
  explicit LazyConnection(sockaddr_in address) : address_(address) {}

  // 每个线程会创建自己专属的 socket 连接，线程之间互不影响
  Socket& enter() {  // __enter__
    if (local_.has_value()) throw concur::RuntimeError("Already connected");
    return local_.set(Socket::connect(address_));
  }
  void exit() noexcept { local_.reset(); }  // __exit__: sock.close(); del self.local.sock

  // `with conn as s:` — constructing the guard enters, destroying it exits, however the block
  // is left (also by an exception).
  class With {
   public:
    explicit With(LazyConnection& conn) : conn_(conn), sock_(conn.enter()) {}
    ~With() { conn_.exit(); }
    With(const With&) = delete;
    With& operator=(const With&) = delete;
    Socket* operator->() { return &sock_; }

   private:
    LazyConnection& conn_;
    Socket& sock_;
  };

 private:
  sockaddr_in address_;
  th::local<Socket> local_;  // self.local.sock: one socket per thread, or none
};

void test(LazyConnection& conn) {
  std::string resp;
  {
    LazyConnection::With s(conn);  // with conn as s:
    s->send("GET /index.html HTTP/1.0\r\n");
    s->send("Host: www.python.org\r\n");
    s->send("\r\n");
    // b''.join(iter(partial(s.recv, 8192), b'')): read until the server closes
    for (std::string chunk = s->recv(8192); !chunk.empty(); chunk = s->recv(8192)) resp += chunk;
  }
  print("Got " + std::to_string(resp.size()) + " bytes");
}

// ----- the stand-in for www.python.org -----

// A 301 redirect padded to exactly 392 bytes, headers included.
std::string make_response() {
  const std::string head =
      "HTTP/1.1 301 Moved Permanently\r\nServer: concur-example\r\nConnection: close\r\n"
      "Location: https://www.python.org/index.html\r\nContent-Type: text/html\r\n";
  const std::string html = "<html><head><title>301 Moved Permanently</title></head>"
                           "<body><h1>Moved Permanently</h1></body></html>\n";
  for (std::size_t body = html.size(); body < 392; ++body) {
    const std::string headers = head + "Content-Length: " + std::to_string(body) + "\r\n\r\n";
    if (headers.size() + body == 392) return headers + html + std::string(body - html.size(), ' ');
  }
  throw std::logic_error("the response does not fit in 392 bytes");
}

// Answers `connections` clients one after the other, then returns.
void serve(int listen_fd, int connections) {
  const std::string response = make_response();
  for (int i = 0; i < connections; ++i) {
    const int fd = ::accept(listen_fd, nullptr, nullptr);
    if (fd < 0) fail("accept");
    Socket client(fd);
    std::string request;
    // Read the request up to its blank line; a client that closes early gets nothing.
    while (request.find("\r\n\r\n") == std::string::npos) {
      const std::string chunk = client.recv(1024);
      if (chunk.empty()) break;
      request += chunk;
    }
    if (request.find("\r\n\r\n") != std::string::npos) client.send(response);
  }  // each `client` closes as it goes out of scope: the reader sees the end of the data
}

int main() {
  // Listen on an ephemeral port of 127.0.0.1 before any client tries to connect.
  const int listen_fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (listen_fd < 0) fail("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t len = sizeof address;
  if (::bind(listen_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) < 0) fail("bind");
  if (::listen(listen_fd, 8) < 0) fail("listen");
  if (::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&address), &len) < 0) fail("getsockname");
  th::Thread server(th::ThreadOptions{.name = "server"}, serve, listen_fd, 3);
  server.start();

  LazyConnection conn(address);  // the seed: LazyConnection(('www.python.org', 80))

  th::Thread t1(test, std::ref(conn));
  th::Thread t2(test, std::ref(conn));
  t1.start();
  t2.start();
  t1.join();
  t2.join();

  // One thread, one connection: entering again while connected raises.
  {
    LazyConnection::With s(conn);
    try {
      LazyConnection::With again(conn);
    } catch (const concur::RuntimeError& e) {
      print("RuntimeError:", e.what());
    }
  }  // leaving closes the main thread's socket: the server's third reader sees it closed

  server.join();
  ::close(listen_fd);
}
