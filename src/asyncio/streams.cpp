// aio streams (include/concur/asyncio/streams.hpp): the socket transport of Python's
// selector_events.py and the StreamReader/StreamWriter/Server of streams.py, in one connection
// object per socket.
//
// Ownership. A StreamConn is reference-counted: each handle (StreamReader, StreamWriter) and
// each running operation holds a reference, and the loop one while the connection is open (from
// creation to connection_lost()). The loop's callbacks (add_reader/add_writer) hold a raw pointer:
// they are registered only while the connection is open, so the loop's reference covers them.
// When the last *handle* is gone the connection is closed as close() does. A StreamListener (the
// state of a Server) is counted the same way.
//
// Loop teardown. A loop may be destroyed with connections still open (a peer that never reads
// holds a close() in its flush). Each loop that has streams registers a teardown hook
// (EventLoop::at_teardown) that closes every socket still open on that loop
// (LoopStreams::loop_gone) without touching the loop.
#include "concur/asyncio/streams.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "concur/asyncio/bridges.hpp"
#include "concur/asyncio/event_loop.hpp"
#include "concur/asyncio/tasks.hpp"
#include "concur/detail/text.hpp"

namespace concur::asyncio {
namespace detail {
namespace {

constexpr std::size_t kHighWater = 64 * 1024;      // Python's default write high-water mark
constexpr std::size_t kLowWater = kHighWater / 4;  // and its low-water mark
constexpr std::size_t kReadSize = 64 * 1024;       // room made in the buffer for one recv()
constexpr std::size_t kKeepCapacity = 1 << 20;     // an emptied buffer bigger than this is freed
constexpr int kBacklog = 100;

std::exception_ptr os_error(int err, std::string_view context = {}) {
  try {
    concur::detail::throw_os_error(err, context);
  } catch (...) {
    return std::current_exception();
  }
}

void set_nodelay(int fd) noexcept {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

bool would_block(int err) noexcept { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

}  // namespace

// A byte buffer with a consumed prefix: appending at the back, consuming at the front, without
// moving bytes on each consume.
class StreamBuffer {
 public:
  StreamBuffer() = default;
  StreamBuffer(const StreamBuffer&) = delete;
  StreamBuffer& operator=(const StreamBuffer&) = delete;
  ~StreamBuffer() { std::free(data_); }

  std::size_t size() const noexcept { return end_ - begin_; }
  bool empty() const noexcept { return end_ == begin_; }
  const char* data() const noexcept { return data_ + begin_; }
  std::size_t room() const noexcept { return cap_ - end_; }
  // At least n writable bytes at the back.
  char* prepare(std::size_t n) {
    if (cap_ - end_ < n) {
      const std::size_t used = size();
      if (begin_ >= used && cap_ - used >= n) {
        std::memmove(data_, data_ + begin_, used);  // at least half of it was dead space
      } else {
        const std::size_t cap = std::max(cap_ * 2, used + n);
        char* p = static_cast<char*>(std::malloc(cap));
        if (p == nullptr) throw std::bad_alloc();
        if (used != 0) std::memcpy(p, data_ + begin_, used);
        std::free(data_);
        data_ = p;
        cap_ = cap;
      }
      begin_ = 0;
      end_ = used;
    }
    return data_ + end_;
  }
  void commit(std::size_t n) noexcept { end_ += n; }
  void append(const void* p, std::size_t n) {
    std::memcpy(prepare(n), p, n);
    end_ += n;
  }
  void consume(std::size_t n) noexcept {
    begin_ += n;
    if (begin_ == end_) clear();
  }
  std::string take(std::size_t n) {
    std::string s(data(), n);
    consume(n);
    return s;
  }
  std::string take_all() { return take(size()); }
  void clear() noexcept {
    begin_ = end_ = 0;
    if (cap_ > kKeepCapacity) {
      std::free(data_);
      data_ = nullptr;
      cap_ = 0;
    }
  }
  std::size_t find(std::string_view sep, std::size_t from) const noexcept {
    return std::string_view(data(), size()).find(sep, from);
  }

 private:
  char* data_ = nullptr;
  std::size_t cap_ = 0, begin_ = 0, end_ = 0;
};

// An intrusive reference.
template <class T>
class StreamRef {
 public:
  StreamRef() noexcept = default;
  explicit StreamRef(T* p) noexcept : p_(p) {
    if (p_) p_->ref();
  }
  StreamRef(const StreamRef& o) noexcept : StreamRef(o.p_) {}
  StreamRef(StreamRef&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  StreamRef& operator=(StreamRef o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~StreamRef() {
    if (p_) p_->unref();
  }
  T* operator->() const noexcept { return p_; }
  T& operator*() const noexcept { return *p_; }
  T* get() const noexcept { return p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }

 private:
  T* p_ = nullptr;
};

// A task waiting in a WaitList (read, drain, close and serve_forever waits).
class StreamListWait {
 public:
  explicit StreamListWait(WaitList& list) noexcept : list_(list) {}
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) { return entry_.suspend_in(list_, h); }
  void await_resume() { entry_.resume(); }

 private:
  WaitList& list_;
  WaitEntry entry_;
};

// ---- the loop's registry of open sockets ------------------------------------------------------

class LoopStreams;

class LoopResource {
 public:
  virtual void loop_gone() noexcept = 0;  // the loop is being destroyed: close, touch nothing
  LoopResource* res_prev = nullptr;
  LoopResource* res_next = nullptr;
  LoopStreams* registry = nullptr;

 protected:
  ~LoopResource() = default;
};

class LoopStreams {
 public:
  static LoopStreams& of(EventLoop& loop);
  void add(LoopResource* r) noexcept {
    r->res_prev = nullptr;
    r->res_next = head_;
    if (head_) head_->res_prev = r;
    head_ = r;
    r->registry = this;
  }
  void remove(LoopResource* r) noexcept {
    if (r->registry != this) return;
    if (r->res_prev) r->res_prev->res_next = r->res_next;
    else head_ = r->res_next;
    if (r->res_next) r->res_next->res_prev = r->res_prev;
    r->res_prev = r->res_next = nullptr;
    r->registry = nullptr;
  }
  void loop_gone() noexcept;

 private:
  explicit LoopStreams(EventLoop* loop) noexcept : loop_(loop) {}
  EventLoop* loop_;
  LoopResource* head_ = nullptr;
  static thread_local std::vector<LoopStreams*> all_;
};

thread_local std::vector<LoopStreams*> LoopStreams::all_;

LoopStreams& LoopStreams::of(EventLoop& loop) {
  for (LoopStreams* s : all_)
    if (s->loop_ == &loop) return *s;
  auto s = std::unique_ptr<LoopStreams>(new LoopStreams(&loop));
  all_.reserve(all_.size() + 1);
  loop.at_teardown([p = s.get()] { p->loop_gone(); });
  all_.push_back(s.get());
  return *s.release();
}

void LoopStreams::loop_gone() noexcept {
  while (LoopResource* r = head_) {
    remove(r);
    r->loop_gone();
  }
  all_.erase(std::find(all_.begin(), all_.end(), this));
  delete this;
}

// ---- a server ---------------------------------------------------------------------------------

class StreamListener final : public LoopResource {
 public:
  static StreamRef<StreamListener> create(EventLoop& loop, ClientConnected handler,
                                          std::size_t limit, std::vector<int> fds,
                                          std::vector<SocketAddress> names) {
    auto* l = new StreamListener(loop, std::move(handler), limit, std::move(fds), std::move(names));
    return StreamRef<StreamListener>(l);  // the loop's hold + this one
  }
  void ref() noexcept { ++refs_; }
  void unref() noexcept {
    if (--refs_ == 0) delete this;
  }
  void add_user() noexcept {
    ++users_;
    ref();
  }
  void drop_user() noexcept {
    if (--users_ == 0) close();
    unref();
  }

  void start_serving() {
    if (serving_ || closed_) return;
    serving_ = true;
    resume_accepting();
  }
  void close() noexcept {
    if (closed_) return;
    closed_ = true;
    serving_ = false;
    backoff_.cancel();
    backoff_ = TimerHandle();
    stop_accepting();
    for (int fd : fds_) ::close(fd);
    fds_.clear();
    forever_waiters_.wake_all();
    if (active_ == 0) close_waiters_.wake_all();
    if (registry) registry->remove(this);
    if (held_) {
      held_ = false;
      unref();  // the caller holds a reference: not the last
    }
  }
  void attach() noexcept { ++active_; }
  void detach() noexcept {
    if (--active_ == 0 && closed_) close_waiters_.wake_all();
  }
  bool wait_closed_done() const noexcept { return closed_ && active_ == 0; }

  void loop_gone() noexcept override {
    closed_ = true;
    serving_ = false;
    accepting_ = false;
    backoff_ = TimerHandle();  // the loop's heap holds the callback: not cancelled, just dropped
    for (int fd : fds_) ::close(fd);
    fds_.clear();
    loop_ = nullptr;
    if (held_) {
      held_ = false;
      unref();
    }
  }

  EventLoop* loop_;
  ClientConnected handler_;
  const std::size_t limit_;
  std::vector<int> fds_;
  std::vector<SocketAddress> names_;
  int port_ = 0;
  WaitList close_waiters_, forever_waiters_;
  int active_ = 0;
  bool serving_ = false, closed_ = false, serving_forever_ = false;

 private:
  StreamListener(EventLoop& loop, ClientConnected handler, std::size_t limit,
                 std::vector<int> fds, std::vector<SocketAddress> names)
      : loop_(&loop),
        handler_(std::move(handler)),
        limit_(limit),
        fds_(std::move(fds)),
        names_(std::move(names)) {
    port_ = names_.empty() ? 0 : names_.front().port;
    LoopStreams::of(loop).add(this);
  }
  ~StreamListener() = default;

  void resume_accepting() {
    if (!serving_ || accepting_ || paused_) return;
    for (int fd : fds_) loop_->add_reader(fd, [this, fd] { on_accept(fd); });
    accepting_ = true;
  }
  void stop_accepting() noexcept {
    if (!accepting_) return;
    accepting_ = false;
    for (int fd : fds_) loop_->remove_reader(fd);
  }
  void on_accept(int listen_fd);
  void accept_client(int fd);

  TimerHandle backoff_;  // out of descriptors: accepting resumes after a second
  std::uint32_t refs_ = 1;
  std::uint32_t users_ = 0;
  bool held_ = true;
  bool accepting_ = false;
  bool paused_ = false;
};

// ---- a connection -----------------------------------------------------------------------------

class StreamConn final : public LoopResource {
 public:
  // Takes fd (closes it on failure). Reading starts at once.
  static StreamRef<StreamConn> create(EventLoop& loop, int fd, std::size_t limit,
                                StreamListener* server);

  void ref() noexcept { ++refs_; }
  void unref() noexcept {
    if (--refs_ == 0) delete this;
  }
  void add_user() noexcept {
    ++users_;
    ref();
  }
  void drop_user() noexcept {
    if (--users_ == 0 && !closing_) {
      try {
        close();
      } catch (...) {
      }
    }
    unref();
  }

  // ---- reading -----------------------------------------------------------------------------
  class DataWait;
  // co_await c.wait_data(...): until data, EOF or an error arrives. `want`: how many buffered
  // bytes the reader needs (reading does not pause below that).
  DataWait wait_data(const char* what, std::size_t want);
  void maybe_resume_reading() {
    if (read_paused_ && in_.size() <= limit_) resume_reading();
  }
  void check_error() const {
    if (error_) std::rethrow_exception(error_);
  }

  // ---- writing -----------------------------------------------------------------------------
  void write(const void* data, std::size_t n);
  void write_eof() {
    if (closing_ || eof_written_) return;
    eof_written_ = true;
    if (!writing_) ::shutdown(fd_, SHUT_WR);
  }
  void close() {
    if (closing_) return;
    closing_ = true;
    stop_reading();
    read_paused_ = false;
    if (!writing_) connection_lost(nullptr);
  }
  void abort() { force_close(nullptr); }

  void loop_gone() noexcept override;

  EventLoop* loop_;
  int fd_;
  const std::size_t limit_;
  StreamBuffer in_, out_;
  std::exception_ptr error_;  // what closed the connection, if an error did
  std::size_t want_ = 0;
  WaitList read_waiters_, drain_waiters_, close_waiters_;
  bool eof_ = false;          // no more data will arrive (EOF received, or closed)
  bool reading_ = false;      // registered with the loop for reading
  bool read_paused_ = false;  // flow control: more than 2 x limit buffered
  bool writing_ = false;      // registered for writing (out_ not empty)
  bool write_paused_ = false; // over the high-water mark
  bool closing_ = false;      // close() called, or lost
  bool eof_written_ = false;  // write_eof() called
  bool lost_ = false;         // the socket is closed

 private:
  StreamConn(EventLoop& loop, int fd, std::size_t limit, StreamListener* server);
  ~StreamConn() = default;

  void start_reading() {
    loop_->add_reader(fd_, [this] { on_readable(); });
    reading_ = true;
  }
  void stop_reading() {
    if (reading_) {
      reading_ = false;
      loop_->remove_reader(fd_);
    }
  }
  void resume_reading() {
    read_paused_ = false;
    if (!closing_ && !eof_) start_reading();
  }
  void on_readable();
  void on_writable();
  void fatal_error(int err) { force_close(os_error(err)); }
  void force_close(std::exception_ptr error) {
    if (lost_) return;
    out_.clear();
    closing_ = true;
    connection_lost(std::move(error));
  }
  void connection_lost(std::exception_ptr error);
  void release_server() noexcept;

  StreamRef<StreamListener> server_;
  std::uint32_t refs_ = 1;  // the loop's while open
  std::uint32_t users_ = 0;
  bool held_ = true;
};

class StreamConn::DataWait {
 public:
  DataWait(StreamConn& c, std::size_t want) noexcept : c_(c) { c_.want_ = want; }
  DataWait(const DataWait&) = delete;
  ~DataWait() { c_.want_ = 0; }
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) { return entry_.suspend_in(c_.read_waiters_, h); }
  void await_resume() { entry_.resume(); }

 private:
  StreamConn& c_;
  WaitEntry entry_;
};

StreamConn::DataWait StreamConn::wait_data(const char* what, std::size_t want) {
  if (!read_waiters_.empty())
    throw RuntimeError(std::string(what) +
                       "() called while another coroutine is already waiting for incoming data");
  // Waiting while paused would never end (readexactly(n) with n > 2 x limit, read(-1)).
  if (read_paused_) resume_reading();
  return DataWait(*this, want);
}

// ---- StreamConn: the transport ----------------------------------------------------------------

StreamConn::StreamConn(EventLoop& loop, int fd, std::size_t limit, StreamListener* server)
    : loop_(&loop), fd_(fd), limit_(limit), server_(server) {
  if (server) server->attach();
}

StreamRef<StreamConn> StreamConn::create(EventLoop& loop, int fd, std::size_t limit,
                                   StreamListener* server) {
  LoopStreams* registry;
  StreamConn* conn;
  try {
    registry = &LoopStreams::of(loop);
    conn = new StreamConn(loop, fd, limit, server);
  } catch (...) {  // nothing owns fd yet: the peer sees the connection closed, not silence
    ::close(fd);
    throw;
  }
  StreamRef<StreamConn> c(conn);  // the loop's hold + c
  registry->add(c.get());
  try {
    c->start_reading();
  } catch (...) {
    c->force_close(nullptr);
    throw;
  }
  return c;
}

void StreamConn::on_readable() {
  StreamRef<StreamConn> self(this);  // connection_lost() may drop the loop's reference
  char* p = in_.prepare(kReadSize);
  const ssize_t n = ::recv(fd_, p, in_.room(), 0);
  if (n > 0) {
    in_.commit(static_cast<std::size_t>(n));
    read_waiters_.wake_all();
    if (!read_paused_ && in_.size() > 2 * limit_ && in_.size() >= want_) {
      stop_reading();  // flow control: the peer is held back until a read takes the buffer down
      read_paused_ = true;
    }
    return;
  }
  if (n == 0) {  // EOF: the write side stays open (StreamReaderProtocol.eof_received)
    eof_ = true;
    stop_reading();
    read_waiters_.wake_all();
    return;
  }
  const int err = errno;
  if (!would_block(err)) fatal_error(err);
}

void StreamConn::write(const void* data, std::size_t n) {
  if (eof_written_) throw RuntimeError("Cannot call write() after write_eof()");
  if (closing_) {
    if (error_) std::rethrow_exception(error_);
    return;  // after close(): ignored, as Python's transport does
  }
  if (n == 0) return;
  const char* p = static_cast<const char*>(data);
  if (!writing_) {  // nothing buffered: send directly
    ssize_t sent = ::send(fd_, p, n, MSG_NOSIGNAL);
    if (sent < 0) {
      const int err = errno;
      if (!would_block(err)) {
        fatal_error(err);
        std::rethrow_exception(error_);
      }
      sent = 0;
    }
    p += sent;
    n -= static_cast<std::size_t>(sent);
    if (n == 0) return;
    loop_->add_writer(fd_, [this] { on_writable(); });
    writing_ = true;
  }
  out_.append(p, n);
  if (out_.size() > kHighWater) write_paused_ = true;
}

void StreamConn::on_writable() {
  StreamRef<StreamConn> self(this);
  const ssize_t sent = ::send(fd_, out_.data(), out_.size(), MSG_NOSIGNAL);
  if (sent < 0) {
    const int err = errno;
    if (!would_block(err)) fatal_error(err);
    return;
  }
  out_.consume(static_cast<std::size_t>(sent));
  if (write_paused_ && out_.size() <= kLowWater) {
    write_paused_ = false;
    drain_waiters_.wake_all();
  }
  if (out_.empty()) {
    writing_ = false;
    loop_->remove_writer(fd_);
    if (closing_) connection_lost(nullptr);
    else if (eof_written_) ::shutdown(fd_, SHUT_WR);
  }
}

void StreamConn::connection_lost(std::exception_ptr error) {
  lost_ = closing_ = true;
  if (reading_) stop_reading();
  if (writing_) {
    writing_ = false;
    loop_->remove_writer(fd_);
  }
  ::close(fd_);
  fd_ = -1;
  if (error) error_ = std::move(error);
  eof_ = true;
  read_paused_ = false;
  read_waiters_.wake_all();
  drain_waiters_.wake_all();
  close_waiters_.wake_all();
  if (registry) registry->remove(this);
  release_server();
  if (held_) {
    held_ = false;
    unref();  // callers hold a reference: this is not the last
  }
}

void StreamConn::release_server() noexcept {
  if (server_) {
    server_->detach();
    server_ = StreamRef<StreamListener>();
  }
}

void StreamConn::loop_gone() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  lost_ = closing_ = eof_ = true;
  reading_ = writing_ = read_paused_ = false;
  out_.clear();
  loop_ = nullptr;
  release_server();
  if (held_) {
    held_ = false;
    unref();  // may be the last: nothing after this
  }
}

// ---- StreamListener: accepting ----------------------------------------------------------------

void StreamListener::on_accept(int listen_fd) {
  StreamRef<StreamListener> self(this);
  for (int i = 0; i < kBacklog && accepting_; ++i) {
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
      // Out of descriptors or memory (or anything else): a level-triggered socket would spin,
      // so accepting pauses for a second (Python's ACCEPT_RETRY_DELAY).
      concur::detail::write_stderr("asyncio server: socket.accept() failed: " +
                                   std::string(std::strerror(err)) +
                                   "; accepting pauses for 1 second\n");
      stop_accepting();
      paused_ = true;
      backoff_ = loop_->call_later(std::chrono::seconds(1), [this] {
        paused_ = false;
        resume_accepting();
      });
      return;
    }
    set_nodelay(fd);
    accept_client(fd);
  }
}

namespace {
// One connection's task: handle_client, and Python 3.12's done-callback (an error is reported and
// closes the transport; so does a cancellation).
Task<void> run_client(StreamRef<StreamListener> server, StreamRef<StreamConn> conn,
                      Task<void> handler) {
  std::exception_ptr error;
  bool cancelled = false;
  try {
    co_await std::move(handler);
  } catch (const CancelledError&) {
    cancelled = true;
    error = std::current_exception();
  } catch (...) {
    error = std::current_exception();
  }
  (void)server;  // held so that handle_client (stored in it) outlives its coroutine
  if (error) {
    if (!cancelled)
      concur::detail::write_stderr("Unhandled exception in client_connected_cb: " +
                                   concur::detail::describe_exception(error) + "\n");
    conn->close();
    if (cancelled) std::rethrow_exception(error);
  }
}
}  // namespace

void StreamListener::accept_client(int fd) {
  StreamRef<StreamConn> conn = StreamConn::create(*loop_, fd, limit_, this);
  Task<void> handler;
  try {
    handler = handler_(StreamReader(conn.get()), StreamWriter(conn.get()));
  } catch (...) {
    concur::detail::write_stderr("Unhandled exception in client_connected_cb: " +
                                 concur::detail::describe_exception(std::current_exception()) +
                                 "\n");
    conn->close();
    return;
  }
  try {
    Task<void> task = run_client(StreamRef<StreamListener>(this), conn, std::move(handler));
    task.core()->schedule_on(*loop_);
  } catch (...) {  // no memory for the connection's task: close it rather than leave it mute
    conn->close();
    throw;
  }
}

// ---- resolving and connecting -----------------------------------------------------------------

namespace {

struct Address {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = 0;
};

struct Resolved {
  int rc = 0;
  int err = 0;
  std::vector<Address> addrs;
};

Resolved getaddrinfo_now(std::string host, std::string service, int flags) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = flags;
  addrinfo* res = nullptr;
  Resolved out;
  out.rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
  if (out.rc == EAI_SYSTEM) out.err = errno;
  // Freed however this ends (the copy below may throw std::bad_alloc).
  const std::unique_ptr<addrinfo, void (*)(addrinfo*)> owned(res, [](addrinfo* r) {
    if (r != nullptr) ::freeaddrinfo(r);
  });
  for (addrinfo* p = res; p != nullptr; p = p->ai_next) {
    if (p->ai_family != AF_INET && p->ai_family != AF_INET6) continue;
    Address a;
    std::memcpy(&a.addr, p->ai_addr, p->ai_addrlen);
    a.len = p->ai_addrlen;
    a.family = p->ai_family;
    const bool dup = std::any_of(out.addrs.begin(), out.addrs.end(), [&](const Address& b) {
      return b.len == a.len && std::memcmp(&b.addr, &a.addr, a.len) == 0;
    });
    if (!dup) out.addrs.push_back(a);
  }
  return out;
}

SocketAddress to_socket_address(const sockaddr* sa) {
  char text[INET6_ADDRSTRLEN] = {};
  SocketAddress out;
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    out.port = ntohs(in->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    out.port = ntohs(in6->sin6_port);
  }
  out.host = text;
  return out;
}

std::string describe(const Address& a) {
  SocketAddress s = to_socket_address(reinterpret_cast<const sockaddr*>(&a.addr));
  return "('" + s.host + "', " + std::to_string(s.port) + ")";
}

void set_port(Address& a, int port) {
  if (a.family == AF_INET) reinterpret_cast<sockaddr_in*>(&a.addr)->sin_port = htons(port);
  else reinterpret_cast<sockaddr_in6*>(&a.addr)->sin6_port = htons(port);
}

// Numeric hosts are resolved at once; names on the loop's default executor (Python's
// loop.getaddrinfo runs in the executor too).
Task<std::vector<Address>> resolve(std::string host, int port, bool passive) {
  const std::string service = std::to_string(port);
  const int flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  Resolved r = getaddrinfo_now(host, service, flags | AI_NUMERICHOST);
  if (r.rc == EAI_NONAME && !host.empty()) {
    r = co_await to_thread(getaddrinfo_now, host, service, flags);
  }
  if (r.rc != 0) {
    if (r.rc == EAI_SYSTEM) concur::detail::throw_os_error(r.err, "getaddrinfo");
    throw OSError("[Errno " + std::to_string(r.rc) + "] " + ::gai_strerror(r.rc) + ": '" + host +
                  "'");
  }
  if (r.addrs.empty()) throw OSError("getaddrinfo() returned empty list");
  co_return std::move(r.addrs);
}

struct FdGuard {
  explicit FdGuard(int fd) noexcept : fd(fd) {}
  FdGuard(FdGuard&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  FdGuard& operator=(FdGuard&&) = delete;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
  int release() noexcept { return std::exchange(fd, -1); }
  int fd;
};

// co_await WritableWait(loop, fd): until fd is writable (a connect() finished); gives SO_ERROR.
class WritableWait final : public Waiter {
 public:
  WritableWait(EventLoop& loop, int fd) noexcept : loop_(loop), fd_(fd) {}
  WritableWait(const WritableWait&) = delete;
  ~WritableWait() {
    if (registered_) loop_.remove_writer(fd_);
  }
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    task_ = &TaskCore::require_running("aio::open_connection()");
    if (!task_->begin_suspend()) return false;
    loop_.add_writer(fd_, [this] { fire(); });
    registered_ = true;
    task_->suspend(h, this);
    return true;
  }
  int await_resume() {
    if (!woken_) task_->throw_cancelled();
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    return err;
  }
  CancelResult cancel() noexcept override {
    if (!registered_) return CancelResult::kTooLate;
    registered_ = false;
    loop_.remove_writer(fd_);
    return CancelResult::kDetached;
  }

 private:
  void fire() {
    registered_ = false;
    loop_.remove_writer(fd_);
    woken_ = true;
    task_->wake();
  }
  EventLoop& loop_;
  int fd_;
  TaskCore* task_ = nullptr;
  bool registered_ = false;
  bool woken_ = false;
};

// ---- the operations (coroutines holding a reference to their connection) ----------------------

// Where `sep` ends in c's buffer, looking from `offset` (updated: where the next look starts);
// npos when more data is needed. LimitOverrunError as Python's readuntil.
std::size_t find_separator(StreamConn& c, std::string_view sep, std::size_t& offset) {
  const std::size_t buflen = c.in_.size();
  if (buflen - offset >= sep.size()) {
    const std::size_t isep = c.in_.find(sep, offset);
    if (isep != std::string_view::npos) {
      if (isep > c.limit_)
        throw LimitOverrunError("Separator is found, but chunk is longer than limit", isep);
      return isep;
    }
    offset = buflen + 1 - sep.size();
    if (offset > c.limit_)
      throw LimitOverrunError("Separator is not found, and chunk exceed the limit", offset);
  }
  return std::string_view::npos;
}

Task<std::string> readuntil_task(StreamRef<StreamConn> c, std::string sep) {
  if (sep.empty()) throw ValueError("Separator should be at least one-byte string");
  std::size_t offset = 0;
  for (;;) {
    c->check_error();
    const std::size_t isep = find_separator(*c, sep, offset);
    if (isep != std::string_view::npos) {
      std::string out = c->in_.take(isep + sep.size());
      c->maybe_resume_reading();
      co_return out;
    }
    if (c->eof_) {
      std::string partial = c->in_.take_all();
      c->maybe_resume_reading();
      throw IncompleteReadError(std::move(partial), IncompleteReadError::kUnknown);
    }
    co_await c->wait_data("readuntil", 0);
  }
}

Task<std::string> readline_task(StreamRef<StreamConn> c) {
  std::size_t offset = 0;
  for (;;) {
    c->check_error();
    std::size_t isep;
    try {
      isep = find_separator(*c, "\n", offset);
    } catch (const LimitOverrunError& e) {
      // Python's readline: drop the overlong line with its newline, or, if its end has not
      // arrived, what is buffered of it; the stream goes on after it.
      const std::size_t consumed = e.consumed();
      if (c->in_.size() > consumed && c->in_.data()[consumed] == '\n') c->in_.consume(consumed + 1);
      else c->in_.clear();
      c->maybe_resume_reading();
      throw;
    }
    if (isep != std::string_view::npos) {
      std::string line = c->in_.take(isep + 1);
      c->maybe_resume_reading();
      co_return line;
    }
    if (c->eof_) {
      std::string rest = c->in_.take_all();
      c->maybe_resume_reading();
      co_return rest;
    }
    co_await c->wait_data("readline", 0);
  }
}

Task<std::string> read_task(StreamRef<StreamConn> c, std::ptrdiff_t n) {
  c->check_error();
  if (n == 0) co_return std::string();
  if (n < 0) {
    // Everything up to EOF, kept in the buffer until then (a cancelled read(-1) loses nothing).
    while (!c->eof_) {
      co_await c->wait_data("read", static_cast<std::size_t>(-1));
      c->check_error();
    }
    c->check_error();
    co_return c->in_.take_all();
  }
  if (c->in_.empty() && !c->eof_) {
    co_await c->wait_data("read", 0);
    c->check_error();
  }
  std::string out = c->in_.take(std::min(c->in_.size(), static_cast<std::size_t>(n)));
  c->maybe_resume_reading();
  co_return out;
}

Task<std::string> readexactly_task(StreamRef<StreamConn> c, std::ptrdiff_t n) {
  if (n < 0) throw ValueError("readexactly size can not be less than zero");
  c->check_error();
  const auto want = static_cast<std::size_t>(n);
  while (c->in_.size() < want) {
    if (c->eof_) {
      std::string partial = c->in_.take_all();
      c->maybe_resume_reading();
      throw IncompleteReadError(std::move(partial), want);
    }
    co_await c->wait_data("readexactly", want);
    c->check_error();
  }
  std::string out = c->in_.take(want);
  c->maybe_resume_reading();
  co_return out;
}

Task<void> drain_task(StreamRef<StreamConn> c) {
  c->check_error();
  if (c->lost_) throw ConnectionResetError("Connection lost");
  if (!c->write_paused_) co_return;
  {
    StreamListWait w(c->drain_waiters_);
    co_await w;
  }
  c->check_error();
}

Task<void> conn_wait_closed_task(StreamRef<StreamConn> c) {
  if (!c->lost_) {
    StreamListWait w(c->close_waiters_);
    co_await w;
  }
  c->check_error();
}

Task<void> server_wait_closed_task(StreamRef<StreamListener> l) {
  if (!l->wait_closed_done()) {
    StreamListWait w(l->close_waiters_);
    co_await w;
  }
}

Task<void> serve_forever_task(StreamRef<StreamListener> l) {
  if (l->serving_forever_)
    throw RuntimeError("server is already being awaited on serve_forever()");
  if (l->closed_) throw RuntimeError("Server is closed");
  l->start_serving();
  l->serving_forever_ = true;
  std::exception_ptr cancelled;
  try {
    StreamListWait w(l->forever_waiters_);
    co_await w;
  } catch (const CancelledError&) {
    cancelled = std::current_exception();
  } catch (...) {
    l->serving_forever_ = false;
    throw;
  }
  l->serving_forever_ = false;
  if (cancelled) {
    l->close();
    co_await server_wait_closed_task(l);
    std::rethrow_exception(cancelled);
  }
}

StreamConn* checked(StreamConn* c) {
  if (c == nullptr) throw RuntimeError("use of an empty stream handle");
  return c;
}
StreamListener* checked(StreamListener* l) {
  if (l == nullptr) throw RuntimeError("use of an empty Server handle");
  return l;
}

}  // namespace

void stream_add_user(StreamConn* c) noexcept { c->add_user(); }
void stream_drop_user(StreamConn* c) noexcept { c->drop_user(); }
void listener_add_user(StreamListener* l) noexcept { l->add_user(); }
void listener_drop_user(StreamListener* l) noexcept { l->drop_user(); }

Task<Server> start_server_impl(ClientConnected handle_client, std::string host, int port,
                               std::size_t limit) {
  if (limit == 0) throw ValueError("Limit cannot be <= 0");
  EventLoop& loop = get_running_loop();
  std::vector<Address> addrs = co_await resolve(host, port, true);
  std::vector<FdGuard> socks;
  std::vector<SocketAddress> names;
  int bound_port = 0;
  for (Address a : addrs) {
    FdGuard s(::socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
    if (s.fd < 0) concur::detail::throw_os_error(errno, "socket");
    int one = 1;
    ::setsockopt(s.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (a.family == AF_INET6) ::setsockopt(s.fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    // Port 0 on several addresses: the others take the port the first got, when it is free.
    if (port == 0 && bound_port != 0) set_port(a, bound_port);
    int rc = ::bind(s.fd, reinterpret_cast<const sockaddr*>(&a.addr), a.len);
    if (rc < 0 && errno == EADDRINUSE && port == 0 && bound_port != 0) {
      set_port(a, 0);
      rc = ::bind(s.fd, reinterpret_cast<const sockaddr*>(&a.addr), a.len);
    }
    if (rc < 0)
      concur::detail::throw_os_error(errno,
                                     "error while attempting to bind on address " + describe(a));
    if (::listen(s.fd, kBacklog) < 0) concur::detail::throw_os_error(errno, "listen");
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(s.fd, reinterpret_cast<sockaddr*>(&ss), &len);
    names.push_back(to_socket_address(reinterpret_cast<const sockaddr*>(&ss)));
    if (bound_port == 0) bound_port = names.back().port;
    socks.push_back(std::move(s));
  }
  std::vector<int> fds;
  for (FdGuard& s : socks) fds.push_back(s.release());
  StreamRef<StreamListener> l = StreamListener::create(loop, std::move(handle_client), limit,
                                                       std::move(fds), std::move(names));
  Server server(l.get());
  l->start_serving();
  co_return server;
}

}  // namespace detail

// ---- the public handles -----------------------------------------------------------------------

using detail::checked;
using detail::StreamRef;
using detail::StreamConn;
using detail::StreamListener;

Task<std::pair<StreamReader, StreamWriter>> open_connection(std::string host, int port,
                                                            std::size_t limit) {
  if (limit == 0) throw ValueError("Limit cannot be <= 0");
  EventLoop& loop = get_running_loop();
  std::vector<detail::Address> addrs = co_await detail::resolve(host, port, false);
  int fd = -1;
  std::vector<std::pair<int, std::string>> failures;  // errno, address
  for (const detail::Address& a : addrs) {
    detail::FdGuard s(::socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
    int err = 0;
    if (s.fd < 0) {
      err = errno;
    } else {
      if (::connect(s.fd, reinterpret_cast<const sockaddr*>(&a.addr), a.len) < 0) err = errno;
      while (err == EINPROGRESS || err == EINTR) {
        err = co_await detail::WritableWait(loop, s.fd);
      }
    }
    if (err == 0) {
      fd = s.release();
      break;
    }
    failures.emplace_back(err, detail::describe(a));
  }
  if (fd < 0) {
    const bool same = std::all_of(failures.begin(), failures.end(),
                                  [&](const auto& f) { return f.first == failures[0].first; });
    if (same)
      concur::detail::throw_os_error(failures[0].first,
                                     "Connect call failed " + failures[0].second);
    std::string text = "Multiple exceptions: ";
    for (std::size_t i = 0; i < failures.size(); ++i) {
      if (i) text += ", ";
      text += "Connect call failed " + failures[i].second + ": [Errno " +
              std::to_string(failures[i].first) + "] " + std::strerror(failures[i].first);
    }
    throw OSError(text);
  }
  detail::set_nodelay(fd);
  StreamRef<StreamConn> c = StreamConn::create(loop, fd, limit, nullptr);
  co_return std::pair<StreamReader, StreamWriter>(StreamReader(c.get()), StreamWriter(c.get()));
}

Task<std::string> StreamReader::readline() {
  return detail::readline_task(StreamRef<StreamConn>(checked(c_)));
}
Task<std::string> StreamReader::read(std::ptrdiff_t n) {
  return detail::read_task(StreamRef<StreamConn>(checked(c_)), n);
}
Task<std::string> StreamReader::readexactly(std::ptrdiff_t n) {
  return detail::readexactly_task(StreamRef<StreamConn>(checked(c_)), n);
}
Task<std::string> StreamReader::readuntil(std::string separator) {
  return detail::readuntil_task(StreamRef<StreamConn>(checked(c_)), std::move(separator));
}
bool StreamReader::at_eof() const noexcept { return c_ && c_->eof_ && c_->in_.empty(); }
std::size_t StreamReader::limit() const noexcept { return c_ ? c_->limit_ : kStreamLimit; }
std::exception_ptr StreamReader::exception() const noexcept { return c_ ? c_->error_ : nullptr; }

void StreamWriter::write_bytes(const void* data, std::size_t size) {
  checked(c_)->write(data, size);
}
Task<void> StreamWriter::drain() { return detail::drain_task(StreamRef<StreamConn>(checked(c_))); }
void StreamWriter::write_eof() { checked(c_)->write_eof(); }
void StreamWriter::close() { checked(c_)->close(); }
void StreamWriter::abort() { checked(c_)->abort(); }
bool StreamWriter::is_closing() const noexcept { return c_ == nullptr || c_->closing_; }
Task<void> StreamWriter::wait_closed() {
  return detail::conn_wait_closed_task(StreamRef<StreamConn>(checked(c_)));
}
std::size_t StreamWriter::get_write_buffer_size() const noexcept {
  return c_ ? c_->out_.size() : 0;
}
std::optional<SocketAddress> StreamWriter::get_extra_info(std::string_view name) const {
  if (c_ == nullptr || c_->fd_ < 0) return std::nullopt;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int rc;
  if (name == "peername") rc = ::getpeername(c_->fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  else if (name == "sockname") rc = ::getsockname(c_->fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  else return std::nullopt;
  if (rc < 0) return std::nullopt;
  return detail::to_socket_address(reinterpret_cast<const sockaddr*>(&ss));
}

int Server::port() const noexcept { return l_ ? l_->port_ : 0; }
std::vector<SocketAddress> Server::sockets() const {
  if (l_ == nullptr || l_->closed_) return {};
  return l_->names_;
}
void Server::close() { checked(l_)->close(); }
Task<void> Server::wait_closed() {
  return detail::server_wait_closed_task(StreamRef<StreamListener>(checked(l_)));
}
Task<void> Server::serve_forever() {
  return detail::serve_forever_task(StreamRef<StreamListener>(checked(l_)));
}
void Server::start_serving() { checked(l_)->start_serving(); }
bool Server::is_serving() const noexcept { return l_ && l_->serving_; }

}  // namespace concur::asyncio
