// concur/multiprocessing/connection.hpp — Python's multiprocessing.Pipe and Connection
// (API.md §6.2): messages between threads or processes over a socketpair or a pipe.
//
//   auto [a, b] = mp::Pipe();              // duplex: both ends send and receive (socketpair)
//   auto [r, w] = mp::Pipe(false);         // r only receives, w only sends (pipe())
//   a.send(value);  T v = b.recv<T>();     // any mp::Serializable value (serialization.hpp);
//   a.send("text");  b.recv<std::string>();   // a literal, C string or string_view: a std::string
//   a.send_bytes(bytes);  a.send_bytes(bytes, offset);  a.send_bytes(bytes, offset, size);
//   std::vector<std::byte> m = b.recv_bytes();  b.recv_bytes(maxlength);
//   std::size_t n = b.recv_bytes_into(buffer);  b.recv_bytes_into(buffer, offset);
//   bool ready = b.poll();  b.poll(100ms);  b.poll(std::nullopt);   // at once / bounded / forever
//   a.close();  a.closed();  a.readable();  a.writable();  a.fileno();
//   mp::Connection c(fd);  mp::Connection c(fd, /*readable=*/true, /*writable=*/false);  // adopts fd
//
// Frames. Every message is one frame: a 4-byte big-endian length, then that many bytes (a length
// of 2^31 or more is written as -1 and an 8-byte big-endian length), which is CPython's own
// framing, so send_bytes/recv_bytes interoperate with a Python Connection on the same socket.
// send(v) sends serialize(v); recv<T>() decodes one frame as a T.
//
// Semantics (CPython 3.13's Lib/multiprocessing/connection.py):
// - poll() never blocks; poll(timeout) waits at most timeout (zero or negative: not at all);
//   poll(std::nullopt) waits until a message or the end of the stream. True when a recv would
//   not block: a message is there, or the peer has closed (recv then throws EOFError).
// - recv blocks until a whole message arrived. EOFError once the peer closed its end (every copy
//   in every process) and every message was read.
// - recv_bytes(maxlength): a message longer than maxlength throws OSError ("bad message length")
//   and, as in Python, leaves this end unreadable (closed, if it was not writable either).
// - recv_bytes_into(buffer, offset): copies the message into buffer at byte `offset` and returns
//   its size; a message that does not fit throws mp::BufferTooShort holding the whole message
//   (the end stays usable); an offset beyond the buffer: ValueError.
// - send_bytes(data, offset, size) sends bytes [offset, offset + size) of any contiguous range of
//   trivially copyable elements, counted in bytes; outside the range: ValueError.
// - Sending when the peer is closed: BrokenPipeError (never SIGPIPE: sockets send with
//   MSG_NOSIGNAL, and a pipe write blocks SIGPIPE for that thread and discards the one it
//   raised). Send on a read-only end: OSError "connection is read-only"; recv or poll on a
//   write-only end: OSError "connection is write-only"; anything on a closed end: OSError
//   "handle is closed". close() is idempotent.
// Untrusted bytes (a peer that is not concur, a corrupted stream): a frame whose length is over
// max_message_size() (1 GiB unless set) or over recv_bytes' maxlength throws OSError before
// anything is allocated for it; a frame cut short by the end of the stream, or a length of an
// unknown form, throws OSError; bytes that do not decode as the T asked for throw ValueError
// (the frame is consumed and the connection stays usable). A frame's buffer is allocated as its
// bytes arrive (at most 16 MiB ahead of them), never from the length field alone.
// Read-ahead: a recv reads up to 16 KiB at once (tuning::kConnectionReadAheadBytes), and the
// bytes beyond its frame wait in this end for the next recv, so a small message costs one read
// system call. poll() sees them; readiness of fileno() (select, epoll) does not, so a program
// that mixes recv with waiting on fileno() calls poll() before it sleeps on the descriptor.
// detach() while such bytes wait throws OSError (they would be lost); a Connection passed to
// another process takes them along.
// Blocking: send (while the peer's buffer is full), recv and recv_bytes* (until a whole message
// arrived) and poll with a timeout. System calls interrupted by a signal (EINTR) are resumed;
// partial writes continue; a non-blocking descriptor is waited on with poll() rather than spun on.
//
// Handles. A Connection is a copyable handle: copies (and the copy a forked child inherits)
// refer to the same descriptor; the last copy in a process closes it, and close() closes it for
// every copy in this process. A default-constructed Connection is closed.
// Thread-safety (as Python's): one thread may send while another receives on the same end, and
// each end may be used by different threads at different times; two threads sending at once on
// the same end (or receiving at once) may interleave their frames, so a channel shared by many
// senders needs a lock of its own (mp::Queue adds it). close() must not run while another thread
// is inside a call on that end.
// Happens-before: everything the sending thread did before send() happens before what the
// receiving thread does after the recv() that returns that message (the kernel's pipe or socket
// orders them, in one process or across processes).
// Throws: as above; concur::OSError (or its subclass for the errno) when a system call fails;
// std::bad_alloc; ValueError when serializing or decoding fails.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "concur/deadline.hpp"
#include "concur/errors.hpp"
#include "concur/multiprocessing/detail/byte_buffer.hpp"
#include "concur/multiprocessing/errors.hpp"
#include "concur/multiprocessing/serialization.hpp"

namespace concur::multiprocessing {

// The longest frame a Connection accepts unless told otherwise (set_max_message_size).
inline constexpr std::size_t kDefaultMaxMessageSize = std::size_t{1} << 30;

namespace detail {

// Any contiguous range of trivially copyable elements, seen as bytes (a std::vector<std::byte>,
// std::string, std::array, a C array, a std::span...). Character arrays are left to the
// string_view overloads, so that a literal's terminating NUL is not sent.
template <class R>
concept ByteRange =
    requires(const R& r) {
      std::data(r);
      std::size(r);
    } &&
    std::is_trivially_copyable_v<std::remove_cv_t<std::remove_pointer_t<decltype(std::data(
        std::declval<const R&>()))>>> &&
    !(std::is_array_v<std::remove_cvref_t<R>> &&
      std::is_same_v<std::remove_cv_t<std::remove_extent_t<std::remove_cvref_t<R>>>, char>);

template <class R>
concept WritableByteRange =
    requires(R& r) {
      std::data(r);
      std::size(r);
    } &&
    !std::is_const_v<std::remove_pointer_t<decltype(std::data(std::declval<R&>()))>> &&
    std::is_trivially_copyable_v<std::remove_pointer_t<decltype(std::data(std::declval<R&>()))>>;

template <class R>
std::span<const std::byte> bytes_of(const R& r) noexcept {
  using E = std::remove_pointer_t<decltype(std::data(r))>;
  return {reinterpret_cast<const std::byte*>(std::data(r)), std::size(r) * sizeof(E)};
}
template <class R>
std::span<std::byte> writable_bytes_of(R& r) noexcept {
  using E = std::remove_pointer_t<decltype(std::data(r))>;
  return {reinterpret_cast<std::byte*>(std::data(r)), std::size(r) * sizeof(E)};
}

// The room send() leaves in front of a serialized value for the frame's header.
inline constexpr std::size_t kHeaderRoom = 12;

// Per-thread buffers for send() and recv<T>() (src/multiprocessing/connection.cpp).
ByteBuffer& send_buffer() noexcept;
ByteBuffer& recv_buffer() noexcept;
void trim_buffer(ByteBuffer& buffer) noexcept;

}  // namespace detail

class Connection {
 public:
  // A closed handle.
  Connection() noexcept = default;
  // Adopts `fd` (closed with the last copy of this handle); ValueError when fd < 0 or the end
  // is neither readable nor writable.
  explicit Connection(int fd, bool readable = true, bool writable = true);

  // --- objects ---
  template <class T>
  void send(const T& obj) {
    static_assert(detail::kIsCText<T> ||
                      cereal::traits::is_output_serializable<T, OutputArchive>::value,
                  "Connection::send: this type cannot cross between processes; give it a cereal "
                  "serialize(Archive&) member or free function");
    check_writable();
    detail::ByteBuffer& buffer = detail::send_buffer();
    buffer.clear();
    buffer.extend(detail::kHeaderRoom);
    serialize_into(buffer, obj);
    send_serialized(buffer);
  }

  template <class T>
  T recv() {
    static_assert(cereal::traits::is_input_serializable<T, InputArchive>::value,
                  "Connection::recv<T>: this type cannot cross between processes; give it a "
                  "cereal serialize(Archive&) member or free function");
    static_assert(std::is_default_constructible_v<T>,
                  "Connection::recv<T>: T must be default-constructible (the decoder fills one in)");
    detail::ByteBuffer& buffer = detail::recv_buffer();
    recv_frame(buffer, max_message_size());
    T value{};
    try {
      deserialize_into(buffer.view(), value);
    } catch (...) {
      detail::trim_buffer(buffer);
      throw;
    }
    detail::trim_buffer(buffer);
    return value;
  }

  // --- bytes ---
  void send_bytes(std::string_view data) { send_frame(detail::bytes_of(data)); }
  void send_bytes(std::string_view data, std::size_t offset) {
    send_frame(slice(detail::bytes_of(data), offset));
  }
  void send_bytes(std::string_view data, std::size_t offset, std::size_t size) {
    send_frame(slice(detail::bytes_of(data), offset, size));
  }
  template <class R>
    requires detail::ByteRange<R>
  void send_bytes(const R& data) {
    send_frame(detail::bytes_of(data));
  }
  template <class R>
    requires detail::ByteRange<R>
  void send_bytes(const R& data, std::size_t offset) {
    send_frame(slice(detail::bytes_of(data), offset));
  }
  template <class R>
    requires detail::ByteRange<R>
  void send_bytes(const R& data, std::size_t offset, std::size_t size) {
    send_frame(slice(detail::bytes_of(data), offset, size));
  }

  std::vector<std::byte> recv_bytes();
  std::vector<std::byte> recv_bytes(std::size_t maxlength);

  template <class R>
    requires detail::WritableByteRange<R>
  std::size_t recv_bytes_into(R&& buffer, std::size_t offset = 0) {
    return recv_into(detail::writable_bytes_of(buffer), offset);
  }

  // --- waiting ---
  bool poll() { return poll_until(Deadline::immediate()); }
  template <class Rep, class Period>
  bool poll(std::chrono::duration<Rep, Period> timeout) {
    return poll_until(Deadline::after(timeout));
  }
  bool poll(std::nullopt_t) { return poll_until(Deadline::never()); }
  bool poll_until(const Deadline& deadline);

  // --- the handle ---
  void close() noexcept;
  bool closed() const noexcept;
  bool readable() const noexcept;
  bool writable() const noexcept;
  int fileno() const;  // OSError when closed
  // Gives up the descriptor: every copy of this handle is closed, the caller owns the fd.
  // OSError when bytes read ahead from it wait here (see Read-ahead above).
  int detach();

  std::size_t max_message_size() const noexcept;
  void set_max_message_size(std::size_t bytes);  // for this end and its copies

  // The lower layer, for the queues and start methods built on Connections: one frame whose
  // payload is `payload`; one frame read into `out` (its bytes replace out's contents).
  void send_frame(std::span<const std::byte> payload);
  void recv_frame(detail::ByteBuffer& out, std::size_t maxlength);

 private:
  struct Channel;

  static std::span<const std::byte> slice(std::span<const std::byte> all, std::size_t offset);
  static std::span<const std::byte> slice(std::span<const std::byte> all, std::size_t offset,
                                          std::size_t size);
  void check_writable() const;
  // Sends buffer[kHeaderRoom, size()) as one frame, writing its header into the room.
  void send_serialized(detail::ByteBuffer& buffer);
  std::size_t recv_into(std::span<std::byte> buffer, std::size_t offset);
  // The next frame's payload size and header length, its header left unconsumed (checked against
  // the limits: a broken or too long header throws, consumed).
  std::pair<std::size_t, std::size_t> peek_header(std::size_t maxlength);

  std::shared_ptr<Channel> channel_;

  friend void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const Connection& c);
  friend void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, Connection& c);
};

// A Connection crosses to another process as a Process (or Pool initializer) argument under
// every start method: its descriptor travels beside the bytes (detail/fd_table.hpp) and the
// child's handle refers to the same channel. Sending a Connection over a Connection (an archive
// with no descriptor table) throws ValueError.
void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const Connection& c);
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, Connection& c);

// Python's multiprocessing.Pipe(duplex=True): two connected ends. Duplex: a socketpair, both
// ends read and write. Not duplex: a pipe, the first end only receives and the second only
// sends. Both descriptors are close-on-exec. OSError when the system is out of descriptors.
std::pair<Connection, Connection> Pipe(bool duplex = true);

}  // namespace concur::multiprocessing
