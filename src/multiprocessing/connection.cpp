// Connection and Pipe (concur/multiprocessing/connection.hpp): frames over a descriptor.
#include "concur/multiprocessing/connection.hpp"

#include "concur/detail/tuning.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <limits>
#include <optional>
#include <string>

namespace concur::multiprocessing {

namespace detail {

namespace {
// Per-thread buffers keep up to this much memory between messages.
constexpr std::size_t kKeepBytes = std::size_t{4} << 20;
}  // namespace

ByteBuffer& send_buffer() noexcept {
  thread_local ByteBuffer buffer;
  return buffer;
}
ByteBuffer& recv_buffer() noexcept {
  thread_local ByteBuffer buffer;
  return buffer;
}
void trim_buffer(ByteBuffer& buffer) noexcept { buffer.trim(kKeepBytes); }

}  // namespace detail

namespace {

// Frames up to this size get their whole buffer at once; longer ones grow as bytes arrive.
constexpr std::size_t kEagerBytes = std::size_t{16} << 20;
constexpr std::uint32_t kLongFrame = 0xFFFFFFFFu;  // -1 as Python's "!i": an 8-byte length follows

[[noreturn]] void throw_closed() { throw OSError("handle is closed", {EBADF, std::generic_category()}); }

[[noreturn]] void throw_broken(const std::string& why) {
  throw OSError(why, {EBADMSG, std::generic_category()});
}

// A frame's payload cut short by the end of the stream: `have` of its `total` bytes arrived.
[[noreturn]] void throw_cut_short(std::size_t have, std::size_t total) {
  throw_broken("got end of file during message (" + std::to_string(have) + " of " +
               std::to_string(total) + " bytes)");
}

void put_be32(std::byte* at, std::uint32_t v) noexcept {
  for (int i = 3; i >= 0; --i) {
    at[i] = static_cast<std::byte>(v & 0xFF);
    v >>= 8;
  }
}
void put_be64(std::byte* at, std::uint64_t v) noexcept {
  for (int i = 7; i >= 0; --i) {
    at[i] = static_cast<std::byte>(v & 0xFF);
    v >>= 8;
  }
}
std::uint64_t get_be(const std::byte* at, int n) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<std::uint64_t>(at[i]);
  return v;
}

// Writes the header of a frame of `size` bytes so that it ends at `end`; returns its length.
std::size_t write_header(std::byte* end, std::uint64_t size) noexcept {
  if (size < 0x80000000u) {
    put_be32(end - 4, static_cast<std::uint32_t>(size));
    return 4;
  }
  put_be32(end - 12, kLongFrame);
  put_be64(end - 8, size);
  return 12;
}

// Waits until fd is ready for `events` (a descriptor in non-blocking mode: no spinning).
void wait_ready(int fd, short events) {
  pollfd p{fd, events, 0};
  while (::poll(&p, 1, -1) < 0) {
    if (errno != EINTR) concur::detail::throw_os_error(errno, "poll");
  }
}

// Blocks SIGPIPE in this thread while a pipe is written, and discards the SIGPIPE the write
// raised, if it raised one that was not already pending: the write then fails with EPIPE alone.
class SigpipeGuard {
 public:
  SigpipeGuard() noexcept {
    sigemptyset(&pipe_set_);
    sigaddset(&pipe_set_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    ::sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    ::pthread_sigmask(SIG_BLOCK, &pipe_set_, &old_);
  }
  ~SigpipeGuard() {
    if (raised_ && !was_pending_) {
      const timespec zero{0, 0};
      while (::sigtimedwait(&pipe_set_, nullptr, &zero) < 0 && errno == EINTR) {
      }
    }
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  void note_epipe() noexcept { raised_ = true; }

 private:
  sigset_t pipe_set_;
  sigset_t old_;
  bool was_pending_ = false;
  bool raised_ = false;
};

// Writes every byte of the iovecs (modified as they are consumed).
void write_all(int fd, bool socket, iovec* iov, int count) {
  std::optional<SigpipeGuard> guard;
  if (!socket) guard.emplace();
  while (count > 0) {
    ssize_t n;
    if (socket && count == 1) {  // send() costs less than sendmsg() (no msghdr to copy in)
      n = ::send(fd, iov->iov_base, iov->iov_len, MSG_NOSIGNAL);
    } else if (socket) {
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = static_cast<std::size_t>(count);
      n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    } else {
      n = ::writev(fd, iov, count);
    }
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        wait_ready(fd, POLLOUT);
        continue;
      }
      if (err == EPIPE && guard) guard->note_epipe();
      concur::detail::throw_os_error(err, "send");
    }
    auto left = static_cast<std::size_t>(n);
    while (count > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --count;
    }
    if (count > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
}

// Reads once, at most `room` bytes: whatever has arrived, waiting for the first byte; 0 at the
// end of the stream.
std::size_t read_some(int fd, std::byte* at, std::size_t room) {
  for (;;) {
    const ssize_t n = ::read(fd, at, room);
    if (n >= 0) return static_cast<std::size_t>(n);
    const int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      wait_ready(fd, POLLIN);
      continue;
    }
    concur::detail::throw_os_error(err, "recv");
  }
}

// Reads up to `size` bytes, as many as arrive before the end of the stream; returns how many.
std::size_t read_exact(int fd, std::byte* at, std::size_t size) {
  std::size_t got = 0;
  while (got < size) {
    const std::size_t n = read_some(fd, at + got, size - got);
    if (n == 0) break;
    got += n;
  }
  return got;
}

}  // namespace

struct Connection::Channel {
  Channel(int f, bool r, bool w, bool s) noexcept : fd(f), readable(r), writable(w), socket(s) {}
  ~Channel() {
    const int f = fd.exchange(-1);
    if (f >= 0) ::close(f);
  }

  // --- the read-ahead: bytes read from fd that the frames received so far did not use ---
  // Read and written by the receiving calls (recv*), one thread at a time as the handle's
  // contract says. `waiting` mirrors their count for poll() and detach(), which another thread
  // may call meanwhile.
  std::size_t buffered() const noexcept { return ahead_end - ahead_begin; }
  const std::byte* front() const noexcept { return ahead.get() + ahead_begin; }
  void consume(std::size_t n) noexcept {
    ahead_begin += n;
    if (ahead_begin == ahead_end) ahead_begin = ahead_end = 0;
    waiting.store(buffered(), std::memory_order_relaxed);
  }
  // Reads until at least `need` (<= kReadAhead) bytes are buffered, each read taking whatever
  // has arrived; false if the stream ends first.
  bool fill(int f, std::size_t need) {
    if (!ahead) ahead.reset(new std::byte[kReadAhead]);
    while (buffered() < need) {
      if (kReadAhead - ahead_begin < need) {  // too near the end: move the bytes to the front
        std::memmove(ahead.get(), front(), buffered());
        ahead_end = buffered();
        ahead_begin = 0;
      }
      const std::size_t n = read_some(f, ahead.get() + ahead_end, kReadAhead - ahead_end);
      if (n == 0) return false;
      ahead_end += n;
      waiting.store(buffered(), std::memory_order_relaxed);
    }
    return true;
  }
  // Buffers `bytes` (<= kReadAhead) as read ahead: those a Connection brought from another
  // process.
  void preload(const std::string& bytes) {
    ahead.reset(new std::byte[kReadAhead]);
    std::memcpy(ahead.get(), bytes.data(), bytes.size());
    ahead_begin = 0;
    ahead_end = bytes.size();
    waiting.store(buffered(), std::memory_order_relaxed);
  }
  // Moves up to `size` buffered bytes to `to`; returns how many.
  std::size_t take(std::byte* to, std::size_t size) noexcept {
    const std::size_t n = std::min(size, buffered());
    if (n != 0) std::memcpy(to, front(), n);
    consume(n);
    return n;
  }

  static constexpr std::size_t kReadAhead = concur::detail::tuning::kConnectionReadAheadBytes;

  std::atomic<int> fd;
  std::atomic<bool> readable;
  std::atomic<bool> writable;
  const bool socket;
  std::atomic<std::size_t> max_message{kDefaultMaxMessageSize};
  std::unique_ptr<std::byte[]> ahead;
  std::size_t ahead_begin = 0;
  std::size_t ahead_end = 0;
  std::atomic<std::size_t> waiting{0};
};

Connection::Connection(int fd, bool readable, bool writable) {
  if (fd < 0) throw ValueError("invalid file descriptor " + std::to_string(fd));
  if (!readable && !writable) throw ValueError("at least one of readable and writable must be true");
  struct stat st {};
  const bool socket = ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
  channel_ = std::make_shared<Channel>(fd, readable, writable, socket);
}

std::pair<Connection, Connection> Pipe(bool duplex) {
  int fds[2];
  if (duplex) {
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
      concur::detail::throw_os_error(errno, "socketpair");
  } else {
    if (::pipe2(fds, O_CLOEXEC) < 0) concur::detail::throw_os_error(errno, "pipe");
  }
  // The constructor throws (bad_alloc) only before it owns its descriptor.
  Connection first;
  Connection second;
  try {
    first = Connection(fds[0], true, duplex);
  } catch (...) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw;
  }
  try {
    second = Connection(fds[1], duplex, true);
  } catch (...) {
    ::close(fds[1]);
    throw;
  }
  return {std::move(first), std::move(second)};
}

// --- the handle ---

void Connection::close() noexcept {
  if (!channel_) return;
  const int f = channel_->fd.exchange(-1);
  if (f >= 0) ::close(f);
}

bool Connection::closed() const noexcept { return !channel_ || channel_->fd.load() < 0; }

bool Connection::readable() const noexcept {
  return !closed() && channel_->readable.load(std::memory_order_relaxed);
}

bool Connection::writable() const noexcept {
  return !closed() && channel_->writable.load(std::memory_order_relaxed);
}

int Connection::fileno() const {
  if (closed()) throw_closed();
  return channel_->fd.load();
}

int Connection::detach() {
  if (closed()) throw_closed();
  if (channel_->waiting.load(std::memory_order_relaxed) != 0)
    throw OSError("detach: a message already read from the descriptor is waiting here and would "
                  "be lost; receive it first", {EBUSY, std::generic_category()});
  const int f = channel_->fd.exchange(-1);
  if (f < 0) throw_closed();
  return f;
}

std::size_t Connection::max_message_size() const noexcept {
  return channel_ ? channel_->max_message.load(std::memory_order_relaxed)
                  : kDefaultMaxMessageSize;
}

void Connection::set_max_message_size(std::size_t bytes) {
  if (closed()) throw_closed();
  channel_->max_message.store(bytes, std::memory_order_relaxed);
}

// --- sending ---

void Connection::check_writable() const {
  if (closed()) throw_closed();
  if (!channel_->writable.load(std::memory_order_relaxed))
    throw OSError("connection is read-only", {EBADF, std::generic_category()});
}

std::span<const std::byte> Connection::slice(std::span<const std::byte> all, std::size_t offset) {
  if (offset > all.size()) throw ValueError("buffer length < offset");
  return all.subspan(offset);
}

std::span<const std::byte> Connection::slice(std::span<const std::byte> all, std::size_t offset,
                                             std::size_t size) {
  if (offset > all.size()) throw ValueError("buffer length < offset");
  if (size > all.size() - offset) throw ValueError("buffer length < offset + size");
  return all.subspan(offset, size);
}

void Connection::send_frame(std::span<const std::byte> payload) {
  check_writable();
  std::byte header[12];
  const std::size_t header_size = write_header(header + 12, payload.size());
  iovec iov[2];
  iov[0].iov_base = header + 12 - header_size;
  iov[0].iov_len = header_size;
  iov[1].iov_base = const_cast<std::byte*>(payload.data());
  iov[1].iov_len = payload.size();
  write_all(channel_->fd.load(), channel_->socket, iov, payload.empty() ? 1 : 2);
}

void Connection::send_serialized(detail::ByteBuffer& buffer) {
  const std::size_t payload = buffer.size() - detail::kHeaderRoom;
  std::byte* start = buffer.data() + detail::kHeaderRoom;
  const std::size_t header_size = write_header(start, payload);
  iovec iov{start - header_size, header_size + payload};
  try {
    write_all(channel_->fd.load(), channel_->socket, &iov, 1);
  } catch (...) {
    detail::trim_buffer(buffer);
    throw;
  }
  detail::trim_buffer(buffer);
}

// --- receiving ---

std::pair<std::size_t, std::size_t> Connection::peek_header(std::size_t maxlength) {
  if (closed()) throw_closed();
  if (!channel_->readable.load(std::memory_order_relaxed))
    throw OSError("connection is write-only", {EBADF, std::generic_category()});
  Channel& ch = *channel_;
  const int fd = ch.fd.load();
  if (!ch.fill(fd, 4)) {
    if (ch.buffered() == 0) throw EOFError();
    ch.consume(ch.buffered());
    throw_broken("got end of file during message (a frame header cut short)");
  }
  std::uint64_t size = get_be(ch.front(), 4);
  std::size_t header_size = 4;
  if (size == kLongFrame) {
    if (!ch.fill(fd, 12)) {
      ch.consume(ch.buffered());
      throw_broken("got end of file during message (a frame header cut short)");
    }
    size = get_be(ch.front() + 4, 8);
    header_size = 12;
  } else if (size >= 0x80000000u) {
    ch.consume(header_size);
    throw_broken("broken frame: a negative message length");
  }
  const std::size_t limit = std::min(maxlength, max_message_size());
  if (size > limit) {
    ch.consume(header_size);
    // As Python: the stream can no longer be trusted to be in step, so this end stops reading.
    if (ch.writable.load(std::memory_order_relaxed))
      ch.readable.store(false, std::memory_order_relaxed);
    else
      close();
    throw OSError("bad message length: a message of " + std::to_string(size) +
                      " bytes is longer than the limit of " + std::to_string(limit),
                  {EMSGSIZE, std::generic_category()});
  }
  return {static_cast<std::size_t>(size), header_size};
}

void Connection::recv_frame(detail::ByteBuffer& out, std::size_t maxlength) {
  out.clear();
  // The header is consumed only once the frame's first buffer is allocated: a bad_alloc leaves
  // the stream where it was.
  const auto [total, header_size] = peek_header(maxlength);
  Channel& ch = *channel_;
  const int fd = ch.fd.load();

  // Allocate as the bytes arrive: at most kEagerBytes ahead of them. The read-ahead's bytes come
  // first; the rest is read straight into `out`, never past the frame's end.
  std::size_t target = std::min(total, kEagerBytes);
  out.resize(target);
  ch.consume(header_size);
  std::size_t have = ch.take(out.data(), target);
  for (;;) {
    have += read_exact(fd, out.data() + have, target - have);
    if (have < target) {
      out.resize(have);
      throw_cut_short(have, total);
    }
    if (have == total) break;
    target = std::min(total, have * 2);
    out.resize(target);
  }
}

std::vector<std::byte> Connection::recv_bytes() {
  return recv_bytes(std::numeric_limits<std::size_t>::max());
}

std::vector<std::byte> Connection::recv_bytes(std::size_t maxlength) {
  detail::ByteBuffer& buffer = detail::recv_buffer();
  try {
    recv_frame(buffer, maxlength);
  } catch (...) {
    detail::trim_buffer(buffer);
    throw;
  }
  std::vector<std::byte> out(buffer.data(), buffer.data() + buffer.size());
  detail::trim_buffer(buffer);
  return out;
}

std::size_t Connection::recv_into(std::span<std::byte> target, std::size_t offset) {
  if (offset > target.size()) throw ValueError("offset out of bounds");
  const auto [size, header_size] = peek_header(std::numeric_limits<std::size_t>::max());
  if (size <= target.size() - offset) {
    // It fits: straight into the caller's buffer, no copy through ours.
    Channel& ch = *channel_;
    ch.consume(header_size);
    std::byte* at = target.data() + offset;
    std::size_t have = ch.take(at, size);
    have += read_exact(ch.fd.load(), at + have, size - have);
    if (have < size)
      throw_cut_short(have, size);
    return size;
  }
  // Too long: the whole message goes into BufferTooShort.
  detail::ByteBuffer& buffer = detail::recv_buffer();
  try {
    recv_frame(buffer, std::numeric_limits<std::size_t>::max());
  } catch (...) {
    detail::trim_buffer(buffer);
    throw;
  }
  std::vector<std::byte> message(buffer.data(), buffer.data() + buffer.size());
  detail::trim_buffer(buffer);
  throw BufferTooShort(std::move(message));
}

// --- waiting ---

bool Connection::poll_until(const Deadline& deadline) {
  if (closed()) throw_closed();
  if (!channel_->readable.load(std::memory_order_relaxed))
    throw OSError("connection is write-only", {EBADF, std::generic_category()});
  if (channel_->waiting.load(std::memory_order_relaxed) != 0) return true;  // read ahead
  pollfd p{channel_->fd.load(), POLLIN, 0};
  for (;;) {
    timespec ts{0, 0};
    const timespec* timeout = nullptr;
    if (!deadline.is_never()) {
      if (!deadline.is_immediate()) {
        const auto left = deadline.time_point() - Deadline::Clock::now();
        if (left > std::chrono::nanoseconds::zero()) {
          const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
          ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
          ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
        }
      }
      timeout = &ts;
    }
    const int r = ::ppoll(&p, 1, timeout, nullptr);
    if (r > 0) return true;  // data, the end of the stream, or an error that recv will report
    if (r == 0) return false;
    if (errno != EINTR) concur::detail::throw_os_error(errno, "poll");
  }
}

}  // namespace concur::multiprocessing

namespace concur::multiprocessing {

void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const Connection& c) {
  if (ar.fds() == nullptr)
    throw ValueError("a Connection crosses to another process only as a Process or Pool "
                     "argument; it cannot be sent as a value");
  const bool open = !c.closed();
  ar(open);
  if (!open) return;
  const std::uint32_t index = ar.fds()->add(c.fileno());
  const std::uint64_t max_message = c.max_message_size();
  ar(index, c.readable(), c.writable(), max_message);
  // Bytes this end read ahead belong to the stream: they travel with the descriptor.
  const Connection::Channel& ch = *c.channel_;
  const std::string ahead(reinterpret_cast<const char*>(ch.front()), ch.buffered());
  ar(ahead);
}

void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, Connection& c) {
  if (ar.fds() == nullptr) ar.fail("a Connection arrived without its descriptor");
  bool open = false;
  ar(open);
  if (!open) {
    c = Connection();
    return;
  }
  std::uint32_t index = 0;
  bool readable = false, writable = false;
  std::uint64_t max_message = 0;
  ar(index, readable, writable, max_message);
  std::string ahead;
  ar(ahead);
  if (ahead.size() > Connection::Channel::kReadAhead)
    ar.fail("a Connection arrived with more bytes read ahead than a Connection buffers");
  const int fd = ar.fds()->take(index);
  Connection adopted;
  try {
    adopted = Connection(fd, readable, writable);
  } catch (...) {
    ::close(fd);
    throw;
  }
  adopted.set_max_message_size(static_cast<std::size_t>(max_message));
  if (!ahead.empty()) adopted.channel_->preload(ahead);  // a bad_alloc closes fd with `adopted`
  c = std::move(adopted);
}

}  // namespace concur::multiprocessing
