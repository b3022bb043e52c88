// Shared segments (concur/multiprocessing/detail/shared_memory.hpp).
#include "concur/multiprocessing/detail/shared_memory.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "concur/errors.hpp"
#include "concur/multiprocessing/detail/robust_mutex.hpp"

namespace concur::multiprocessing::detail {
namespace {

constexpr std::uint64_t kMagic = 0x6d68732d72756363ull;  // "ccur-shm"
constexpr std::uint32_t kVersion = 1;

struct Header {
  std::uint64_t magic;
  std::uint32_t kind;
  std::uint32_t version;
  std::uint64_t type_tag;
  std::uint64_t payload_size;
};
static_assert(sizeof(Header) <= kSegmentHeader);

std::size_t mapped_size(std::size_t payload_size) {
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t total = kSegmentHeader + payload_size;
  return (total + page - 1) / page * page;
}

constexpr unsigned kSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

}  // namespace

std::uint64_t type_tag(std::size_t size, std::size_t align, const char* mangled) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (const char* p = mangled; *p != '\0'; ++p) h = (h ^ static_cast<unsigned char>(*p)) * 0x100000001b3ull;
  return h ^ (std::uint64_t{size} << 8) ^ align;
}

std::shared_ptr<Segment> Segment::create(SharedKind kind, std::uint64_t tag,
                                         std::size_t payload_size) {
  if (payload_size > (std::size_t{1} << 46)) throw ValueError("shared object too large");
  const std::size_t size = mapped_size(payload_size);
  const int fd = ::memfd_create("concur-shared", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) concur::detail::throw_os_error(errno, "memfd_create");
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0 || ::fcntl(fd, F_ADD_SEALS, kSeals) != 0) {
    const int err = errno;
    ::close(fd);
    concur::detail::throw_os_error(err, "a shared object's memory");
  }
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    const int err = errno;
    ::close(fd);
    concur::detail::throw_os_error(err, "mmap");
  }
  auto* h = static_cast<Header*>(base);
  h->magic = kMagic;
  h->kind = static_cast<std::uint32_t>(kind);
  h->version = kVersion;
  h->type_tag = tag;
  h->payload_size = payload_size;
  return std::shared_ptr<Segment>(new Segment(fd, base, size, payload_size));
}

std::shared_ptr<Segment> Segment::adopt(int fd, SharedKind kind, std::uint64_t tag,
                                        std::size_t payload_size, std::string_view what) {
  auto refuse = [&](const std::string& why) -> std::shared_ptr<Segment> {
    ::close(fd);
    throw ValueError(std::string(what) + " arrived with a descriptor that " + why);
  };
  if (payload_size > (std::size_t{1} << 46)) return refuse("claims an impossible size");
  const std::size_t size = mapped_size(payload_size);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    return refuse("is not shared memory");
  // A memfd answers F_GET_SEALS; a regular file or a pipe does not (EINVAL).
  const int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0 || (static_cast<unsigned>(seals) & kSeals) != kSeals)
    return refuse("is not a sealed shared-memory object of concur's");
  if (static_cast<std::uint64_t>(st.st_size) != size)
    return refuse("has the wrong size (" + std::to_string(st.st_size) + " bytes, not " +
                  std::to_string(size) + ")");
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    const int err = errno;
    ::close(fd);
    concur::detail::throw_os_error(err, "mmap");
  }
  const auto* h = static_cast<const Header*>(base);
  if (h->magic != kMagic || h->version != kVersion ||
      h->kind != static_cast<std::uint32_t>(kind) || h->type_tag != tag ||
      h->payload_size != payload_size) {
    ::munmap(base, size);
    return refuse("holds a different kind of shared object");
  }
  return std::shared_ptr<Segment>(new Segment(fd, base, size, payload_size));
}

Segment::~Segment() {
  // Kinds whose payload starts with a lock word (synchronize.hpp, sharedctypes.hpp).
  const auto kind = static_cast<const Header*>(base_)->kind;
  const bool has_lock = kind != static_cast<std::uint32_t>(SharedKind::semaphore) &&
                        kind != static_cast<std::uint32_t>(SharedKind::event);
  if (!has_lock || may_unmap(*static_cast<RobustWord*>(payload()))) ::munmap(base_, mapped_);
  ::close(fd_);
}

void save_segment(OutputArchive& ar, const Segment& s, std::string_view what) {
  if (ar.fds() == nullptr)
    throw ValueError(std::string(what) +
                     " crosses to another process only as a Process or Pool argument; it cannot "
                     "be sent as a value");
  const std::uint32_t index = ar.fds()->add(s.fd());
  const auto* h = static_cast<const Header*>(static_cast<const void*>(
      static_cast<const std::byte*>(s.payload()) - kSegmentHeader));
  const std::uint32_t kind = h->kind;
  const std::uint64_t tag = h->type_tag;
  const std::uint64_t size = s.payload_size();
  ar(index, kind, tag, size);
}

std::shared_ptr<Segment> load_segment(InputArchive& ar, std::span<const SharedKind> kinds,
                                      const std::uint64_t* tag, std::string_view what,
                                      SharedKind* kind_out) {
  if (ar.fds() == nullptr) ar.fail(std::string(what) + " arrived without its descriptor");
  std::uint32_t index = 0, got_kind = 0;
  std::uint64_t got_tag = 0, size = 0;
  ar(index, got_kind, got_tag, size);
  bool known = false;
  for (SharedKind k : kinds) known = known || static_cast<std::uint32_t>(k) == got_kind;
  if (!known || (tag != nullptr && got_tag != *tag))
    ar.fail(std::string(what) + " was expected, but another kind of shared object arrived");
  const int fd = ar.fds()->take(index);
  if (kind_out != nullptr) *kind_out = static_cast<SharedKind>(got_kind);
  return Segment::adopt(fd, static_cast<SharedKind>(got_kind), got_tag,
                        static_cast<std::size_t>(size), what);
}

}  // namespace concur::multiprocessing::detail
