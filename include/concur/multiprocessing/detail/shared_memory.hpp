// concur/multiprocessing/detail/shared_memory.hpp — the memory that multiprocessing's shared
// objects (synchronize.hpp, sharedctypes.hpp) live in, and how it crosses to another process.
//
// One segment per object. Each mp::Lock, Event, Value, Array, ... owns one memfd (memfd_create,
// close-on-exec, sealed against shrinking and growing) mapped MAP_SHARED; every handle to the
// object in one process shares that mapping through a shared_ptr<Segment>; the mapping and the
// descriptor go when the last handle in this process goes. Why not an arena of many objects
// (CPython's heap.py): the kernel then keeps every object alive exactly as long as some process
// maps it, with no allocator shared between processes, no free list to corrupt, and no slot
// that a parent reuses while a child still uses the old object. What it costs: one descriptor
// and one page (4 KiB) per object and three system calls to make one (a few microseconds): a
// program with thousands of shared locks should raise its descriptor limit, or share fewer.
//
// Layout: a 64-byte header (magic, kind, type tag, payload size), then the payload, zero-filled
// by the kernel. Crossing (save_segment / load_segment): the descriptor goes into the archive's
// FdTable (fd_table.hpp) and the kind, type tag and payload size into the bytes; the receiving
// side maps the descriptor only after checking that it is a sealed memfd of exactly the size
// those imply and that its header says the same (anything else is a ValueError, and the
// descriptor is closed: a forged or mismatched descriptor never crashes the receiver, and the
// seals mean no process can truncate the memory under another's mapping (which would SIGBUS)).
// Under the fork start method nothing crosses: the child inherits the mapping itself.
//
// Thread-safety: a Segment is immutable after creation; any thread may use it. Throws: OSError
// when the system refuses memory or descriptors; ValueError as above.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "concur/multiprocessing/serialization.hpp"

namespace concur::multiprocessing::detail {

enum class SharedKind : std::uint32_t {
  lock = 1,
  rlock,
  semaphore,
  event,
  condition,
  barrier,
  value,
  array,
};

inline constexpr std::size_t kSegmentHeader = 64;

class Segment {
 public:
  // A new zero-filled segment with `payload_size` bytes of payload.
  static std::shared_ptr<Segment> create(SharedKind kind, std::uint64_t type_tag,
                                         std::size_t payload_size);
  // Maps a descriptor that arrived from another process; takes ownership of `fd` (closed on
  // failure, or when the Segment goes). ValueError unless it is one of ours, as described above.
  static std::shared_ptr<Segment> adopt(int fd, SharedKind kind, std::uint64_t type_tag,
                                        std::size_t payload_size, std::string_view what);

  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  ~Segment();

  void* payload() const noexcept { return static_cast<std::byte*>(base_) + kSegmentHeader; }
  std::size_t payload_size() const noexcept { return payload_size_; }
  int fd() const noexcept { return fd_; }

 private:
  Segment(int fd, void* base, std::size_t mapped, std::size_t payload_size) noexcept
      : fd_(fd), base_(base), mapped_(mapped), payload_size_(payload_size) {}
  int fd_;
  void* base_;
  std::size_t mapped_;
  std::size_t payload_size_;
};

// The crossing of one segment (see the header comment). `what` names the handle in errors
// ("an mp::Lock"). save_segment throws ValueError when the archive carries no descriptors
// (Connection::send, mp::serialize): shared objects cross only as Process or Pool arguments.
void save_segment(OutputArchive& ar, const Segment& s, std::string_view what);
// load_segment accepts any of `kinds` (the kind that arrived is in *kind_out if given) and,
// unless `type_tag` is null, only that type tag.
std::shared_ptr<Segment> load_segment(InputArchive& ar, std::span<const SharedKind> kinds,
                                      const std::uint64_t* type_tag, std::string_view what,
                                      SharedKind* kind_out = nullptr);
inline std::shared_ptr<Segment> load_segment(InputArchive& ar, SharedKind kind,
                                             std::uint64_t type_tag, std::string_view what) {
  return load_segment(ar, std::span<const SharedKind>(&kind, 1), &type_tag, what);
}

// A tag that tells one trivially copyable T from another across processes running the same
// program (its size, alignment and mangled name).
std::uint64_t type_tag(std::size_t size, std::size_t align, const char* mangled) noexcept;

}  // namespace concur::multiprocessing::detail
