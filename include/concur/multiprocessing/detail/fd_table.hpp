// concur/multiprocessing/detail/fd_table.hpp — the file descriptors that travel beside a
// serialized value when it crosses to another process as a Process (or Pool initializer)
// argument: a Connection's socket, a shared object's memory, a queue's channel.
//
// A handle type that holds a descriptor serializes it as an index into the archive's FdTable
// (OutputArchive::fds(), InputArchive::fds() in serialization.hpp). The start method moves the
// table's descriptors to the child with the bytes (SCM_RIGHTS over the bootstrap socket, under
// spawn and forkserver; fork needs no table: the child inherits everything). An archive with no
// table (Connection::send, mp::serialize) cannot carry descriptors: a handle refuses to cross
// there with ValueError naming itself.
//
//   save:  std::uint32_t i = ar.fds()->add(fd);  ar(i);          // fd stays the handle's
//   load:  std::uint32_t i; ar(i);  int fd = ar.fds()->take(i);    // the caller owns fd
//
// Thread-safety: none (one archive's table, one thread). Throws: ValueError from take() for an
// index that was not sent or was already taken, and from add() beyond kMaxFds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace concur::multiprocessing::detail {

// The most descriptors one crossing carries: one SCM_RIGHTS message (the kernel's SCM_MAX_FD
// is 253).
inline constexpr std::size_t kMaxFds = 250;

class FdTable {
 public:
  FdTable() = default;
  FdTable(const FdTable&) = delete;
  FdTable& operator=(const FdTable&) = delete;
  // Closes every received descriptor no handle took.
  ~FdTable();

  // --- the sending side: descriptors borrowed from live handles, sent as they are ---
  // Returns the index the receiving side passes to take(). `fd` must stay open until the
  // table's descriptors were sent.
  std::uint32_t add(int fd);
  const std::vector<int>& sending() const noexcept { return fds_; }

  // --- the receiving side: descriptors that arrived, owned by the table until taken ---
  // Adopts the received descriptors (closed by the destructor unless taken).
  void adopt_received(std::vector<int> fds) noexcept;
  // Hands descriptor `index` to the caller, once.
  int take(std::uint32_t index);

 private:
  std::vector<int> fds_;
  bool owned_ = false;
};

}  // namespace concur::multiprocessing::detail

namespace concur::multiprocessing::detail {

// One message over a connected Unix socket with descriptors beside it (SCM_RIGHTS): `bytes`
// (at least one byte) and `fds` (at most kMaxFds). Blocks until all of `bytes` is written
// (the descriptors travel with the first byte). OSError when the socket fails.
void send_with_fds(int socket, std::span<const std::byte> bytes, std::span<const int> fds);

// Reads exactly bytes.size() bytes from `socket`, and the descriptors that came with them
// (appended to `fds`, close-on-exec, owned by the caller). EOFError when the stream ends before
// the first byte; OSError when it ends within them, or when descriptors were cut off (more
// were sent than fit: they are closed, never leaked).
void recv_with_fds(int socket, std::span<std::byte> bytes, std::vector<int>& fds);

}  // namespace concur::multiprocessing::detail
