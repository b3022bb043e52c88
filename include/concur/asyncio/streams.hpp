// concur/asyncio/streams.hpp — TCP streams: Python's asyncio.open_connection(), start_server(),
// StreamReader, StreamWriter and Server (Lib/asyncio/streams.py over selector_events.py's socket
// transport).
//
//   auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);  // [, limit]
//   writer.write("GET / HTTP/1.0\r\n\r\n");  co_await writer.drain();
//   std::string line = co_await reader.readline();     // "" at EOF
//   std::string some = co_await reader.read(100);      // read() / read(-1): up to EOF
//   std::string four = co_await reader.readexactly(4); // aio::IncompleteReadError
//   std::string head = co_await reader.readuntil("\r\n\r\n");   // separator included
//   writer.write_eof();  writer.close();  co_await writer.wait_closed();
//
//   aio::Task<void> handle_client(aio::StreamReader r, aio::StreamWriter w) { ... }
//   aio::Server server = co_await aio::start_server(handle_client, "127.0.0.1", 0);
//   int port = server.port();
//   co_await server.serve_forever();          // cancelling it closes the server
//   server.close();  co_await server.wait_closed();   // waits for open connections
//
// Contract (Python 3.12's)
// - Readers and writers are handles on one connection, shared by every copy; the loop owns the
//   connection while it is open. When the last handle (reader, writer, or an operation still
//   running) is gone, the connection is closed as close() does: what is buffered is still sent.
// - Reading: the socket is registered with the loop once; whatever arrives is read at once into
//   the reader's buffer, until the buffer holds more than 2 x limit bytes: reading then pauses
//   (the peer is held back by TCP) until a read takes the buffer down to the limit.
//   readline()/readuntil() throw aio::LimitOverrunError when the line (without its separator)
//   exceeds `limit` (64 KiB by default) — readuntil() leaves the bytes in the buffer, readline()
//   drops that line (or, if its end has not arrived, what is buffered of it), as Python's does.
//   readline() at EOF gives what is left ("" when nothing is); readuntil() and readexactly()
//   throw aio::IncompleteReadError (partial(): the bytes read, which leave the buffer). read(n)
//   gives at most n bytes as soon as any are there ("" at EOF); read(-1) everything up to EOF.
//   One coroutine may wait for data at a time (RuntimeError otherwise, as Python).
// - Writing: write() sends at once what the socket takes and buffers the rest (sent as the
//   socket becomes writable). drain() suspends while more than 64 KiB are buffered, until the
//   buffer is down to 16 KiB (Python's high/low water marks): a peer that stops reading holds
//   the writer in drain() (bound it with aio::wait_for), never an unbounded buffer — as long as
//   the writer drains. write_eof() shuts the sending side down once the buffer is sent.
// - Errors: a reset, a write to a closed peer, or any other socket error closes the connection;
//   the error (concur::ConnectionResetError, BrokenPipeError, other OSErrors) is then thrown by
//   every read, by drain(), by write() and by wait_closed(). Refused connections throw
//   concur::ConnectionRefusedError. drain() after the connection was closed without an error
//   throws ConnectionResetError("Connection lost"); write() after close() is ignored (as Python).
// - What suspends: open_connection (connecting; name resolution of a host name that is not a
//   numeric address runs getaddrinfo on the loop's default executor, aio::to_thread), start_server
//   (the same), read*, drain (only while over the high-water mark), wait_closed, Server's
//   wait_closed and serve_forever. A task cancelled there loses nothing: the bytes stay in the
//   buffer for the next read, buffered writes are still sent, the stream stays usable.
// - Servers: SO_REUSEADDR, backlog 100; every address of the host (an empty host: every
//   interface, IPv4 and IPv6) gets a socket (IPv6 ones IPV6_V6ONLY); with port 0 they share the
//   port the first got. Each connection runs handle_client(reader, writer) as a task of its own
//   (an exception escaping it is reported on stderr and the connection closed, as Python).
//   close() stops accepting, open connections go on; wait_closed() returns once the server is
//   closed and every connection it accepted is closed (Python 3.12.1+). serve_forever():
//   cancelling it closes the server and waits for wait_closed(), then the CancelledError goes on;
//   close() called elsewhere makes it return (Python cancels it). Dropping the last Server handle
//   closes the server. Every TCP socket gets TCP_NODELAY, as asyncio sets it.
// - An event loop destroyed with connections or servers still open closes their sockets; the
//   handles left then act as closed.
// Thread-safety: loop-thread only. Every handle belongs to the loop that made it.
#pragma once

#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <ranges>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "concur/asyncio/errors.hpp"
#include "concur/asyncio/task.hpp"
#include "concur/detail/unique_function.hpp"
#include "concur/errors.hpp"

namespace concur::asyncio {

// Python's asyncio.streams._DEFAULT_LIMIT.
inline constexpr std::size_t kStreamLimit = 64 * 1024;

// A socket address as Python's get_extra_info("peername") gives it: (host, port).
struct SocketAddress {
  std::string host;
  int port = 0;
};

namespace detail {
class StreamConn;
class StreamListener;
// Handle reference counting (streams.cpp).
void stream_add_user(StreamConn* c) noexcept;
void stream_drop_user(StreamConn* c) noexcept;
void listener_add_user(StreamListener* l) noexcept;
void listener_drop_user(StreamListener* l) noexcept;

template <class T>
inline constexpr bool kIsByte = std::is_same_v<T, char> || std::is_same_v<T, unsigned char> ||
                                std::is_same_v<T, signed char> || std::is_same_v<T, std::byte>;
// What write() takes as a range: a contiguous, sized range of bytes (std::string,
// std::string_view, std::vector<char>, std::span<const std::byte>, std::array, ...). A C array
// of characters is not one: it decays to const char* and is a C string (a literal's NUL is not
// sent); a std::byte array is a range.
template <class R>
concept ByteRange =
    std::ranges::contiguous_range<const R&> && std::ranges::sized_range<const R&> &&
    kIsByte<std::remove_cv_t<std::ranges::range_value_t<const R&>>> &&
    !(std::is_array_v<std::remove_cvref_t<R>> &&
      !std::is_same_v<std::remove_cv_t<std::remove_all_extents_t<std::remove_cvref_t<R>>>,
                      std::byte>);
}  // namespace detail

// The reading half of a connection (Python's StreamReader).
class StreamReader {
 public:
  StreamReader() noexcept = default;
  explicit StreamReader(detail::StreamConn* c) noexcept : c_(c) {
    if (c_) detail::stream_add_user(c_);
  }
  StreamReader(const StreamReader& o) noexcept : StreamReader(o.c_) {}
  StreamReader(StreamReader&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  StreamReader& operator=(StreamReader o) noexcept {
    std::swap(c_, o.c_);
    return *this;
  }
  ~StreamReader() {
    if (c_) detail::stream_drop_user(c_);
  }
  bool valid() const noexcept { return c_ != nullptr; }

  Task<std::string> readline();
  Task<std::string> read(std::ptrdiff_t n = -1);
  Task<std::string> readexactly(std::ptrdiff_t n);  // ValueError if n < 0
  Task<std::string> readuntil(std::string separator = "\n");  // ValueError if empty
  // EOF was received (or the connection closed) and the buffer is empty.
  bool at_eof() const noexcept;
  std::size_t limit() const noexcept;
  // The error that closed the connection, if one did (Python's exception()).
  std::exception_ptr exception() const noexcept;

 private:
  detail::StreamConn* c_ = nullptr;
};

// The writing half of a connection (Python's StreamWriter).
class StreamWriter {
 public:
  StreamWriter() noexcept = default;
  explicit StreamWriter(detail::StreamConn* c) noexcept : c_(c) {
    if (c_) detail::stream_add_user(c_);
  }
  StreamWriter(const StreamWriter& o) noexcept : StreamWriter(o.c_) {}
  StreamWriter(StreamWriter&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  StreamWriter& operator=(StreamWriter o) noexcept {
    std::swap(c_, o.c_);
    return *this;
  }
  ~StreamWriter() {
    if (c_) detail::stream_drop_user(c_);
  }
  bool valid() const noexcept { return c_ != nullptr; }

  // Any contiguous range of char/unsigned char/std::byte, or a C string.
  template <class R>
    requires detail::ByteRange<R>
  void write(const R& data) {
    write_bytes(std::ranges::data(data), std::ranges::size(data) *
                                             sizeof(std::ranges::range_value_t<const R&>));
  }
  void write(const char* text) { write_bytes(text, std::strlen(text)); }
  // Each element written in turn (Python joins them first: the same bytes).
  template <class Lines>
  void writelines(const Lines& lines) {
    for (const auto& line : lines) write(line);
  }
  void writelines(std::initializer_list<std::string_view> lines) {
    for (std::string_view line : lines) write(line);
  }
  Task<void> drain();
  void write_eof();
  bool can_write_eof() const noexcept { return true; }
  void close();
  bool is_closing() const noexcept;
  Task<void> wait_closed();
  // "peername" or "sockname": the address; anything else (or a closed socket): nullopt.
  std::optional<SocketAddress> get_extra_info(std::string_view name) const;
  // Bytes buffered, not yet taken by the socket (the transport's get_write_buffer_size()).
  std::size_t get_write_buffer_size() const noexcept;
  // Closes at once, dropping what is buffered (the transport's abort()).
  void abort();

 private:
  void write_bytes(const void* data, std::size_t size);
  detail::StreamConn* c_ = nullptr;
};

// A listening server (Python's asyncio.Server). Copies share the server; when the last one is
// gone, the server is closed (its connections go on).
class Server {
 public:
  Server() noexcept = default;
  explicit Server(detail::StreamListener* l) noexcept : l_(l) {
    if (l_) detail::listener_add_user(l_);
  }
  Server(const Server& o) noexcept : Server(o.l_) {}
  Server(Server&& o) noexcept : l_(std::exchange(o.l_, nullptr)) {}
  Server& operator=(Server o) noexcept {
    std::swap(l_, o.l_);
    return *this;
  }
  ~Server() {
    if (l_) detail::listener_drop_user(l_);
  }
  bool valid() const noexcept { return l_ != nullptr; }

  int port() const noexcept;                    // the port of the first socket
  std::vector<SocketAddress> sockets() const;   // the listening addresses (empty once closed)
  void close();
  Task<void> wait_closed();
  Task<void> serve_forever();
  void start_serving();
  bool is_serving() const noexcept;

 private:
  detail::StreamListener* l_ = nullptr;
};

// What start_server stores: handle_client.
using ClientConnected = concur::detail::UniqueFunction<Task<void>(StreamReader, StreamWriter)>;

// host: a numeric address or a name; "" for every interface (server) or the loopback (client).
Task<std::pair<StreamReader, StreamWriter>> open_connection(std::string host, int port,
                                                            std::size_t limit = kStreamLimit);

namespace detail {
Task<Server> start_server_impl(ClientConnected handle_client, std::string host, int port,
                               std::size_t limit);
}

// handle_client: any callable taking (aio::StreamReader, aio::StreamWriter) and returning
// aio::Task<void> — a plain function, or a non-capturing lambda (a capturing lambda's captures
// live as long as the server's state, but a coroutine lambda must not capture: task.hpp).
template <class F>
  requires std::is_invocable_r_v<Task<void>, std::decay_t<F>&, StreamReader, StreamWriter>
Task<Server> start_server(F&& handle_client, std::string host, int port,
                          std::size_t limit = kStreamLimit) {
  return detail::start_server_impl(ClientConnected(std::forward<F>(handle_client)),
                                   std::move(host), port, limit);
}

}  // namespace concur::asyncio
